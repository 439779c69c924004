//! Host functions: linking, state, caller memory, errors, panics,
//! re-entrancy.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use anywasm_core::{
    ErrorKind, FuncType, HostError, Limits, Linker, Store as _, TrapCode, Val, ValType,
};
use common::*;

fn i32_to_i32() -> FuncType {
    FuncType::new([ValType::I32], [ValType::I32])
}

#[test]
fn host_function_sees_args_state_and_returns_results() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module
          (import "env" "add" (func $add (param i32 i64 f32 f64) (result i64 f64)))
          (func (export "run") (result i64 f64)
            (call $add (i32.const 1) (i64.const 2) (f32.const 3.5) (f64.const 4.25))))"#,
    );
    let mut linker = Linker::<Vec<String>>::new();
    linker.func(
        "env",
        "add",
        FuncType::new(
            [ValType::I32, ValType::I64, ValType::F32, ValType::F64],
            [ValType::I64, ValType::F64],
        ),
        |caller, args, results| {
            caller.data_mut().push(format!("{args:?}"));
            assert_eq!(caller.backend(), anywasm_core::BackendKind::Wasmtime);
            let sum = args[0].as_i32().unwrap() as i64 + args[1].as_i64().unwrap();
            results[0] = Val::I64(sum);
            results[1] = Val::from(args[2].as_f32().unwrap() as f64 + args[3].as_f64().unwrap());
            Ok(())
        },
    );
    let mut store = engine.store(Vec::new(), &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    let out = call(&mut store, &inst, "run", &[]).unwrap();
    assert_eq!(out, [Val::I64(3), Val::from(7.75f64)]);
    assert_eq!(store.data().len(), 1);
    store.data_mut().clear();
    assert!(store.data().is_empty());
}

#[test]
fn host_error_is_recoverable_and_store_stays_usable() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module
          (import "env" "fail" (func $fail (param i32) (result i32)))
          (func (export "run") (param i32) (result i32) (call $fail (local.get 0))))"#,
    );
    let mut linker = Linker::<()>::new();
    linker.func("env", "fail", i32_to_i32(), |_, args, results| {
        match args[0].as_i32().unwrap() {
            0 => Err(HostError::new("denied by host")),
            1 => panic!("host blew up"),
            n => {
                results[0] = Val::I32(n * 10);
                Ok(())
            }
        }
    });
    let mut store = engine.store((), &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();

    let e = assert_trap(
        call(&mut store, &inst, "run", &[Val::I32(0)]),
        TrapCode::HostError,
    );
    let h = e.host_error().expect("host error kept");
    assert_eq!(h.message(), "denied by host");
    assert!(!h.is_panic());

    let e = assert_trap(
        call(&mut store, &inst, "run", &[Val::I32(1)]),
        TrapCode::HostError,
    );
    let h = e.host_error().expect("host error kept");
    assert!(h.is_panic());
    assert_eq!(h.message(), "host blew up");

    assert_eq!(
        call(&mut store, &inst, "run", &[Val::I32(4)]).unwrap(),
        [Val::I32(40)]
    );
}

#[test]
fn host_writing_wrong_result_type_is_a_host_error() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module (import "env" "f" (func $f (result i32))) (func (export "run") (result i32) (call $f)))"#,
    );
    let mut linker = Linker::<()>::new();
    linker.func(
        "env",
        "f",
        FuncType::new([], [ValType::I32]),
        |_, _, results| {
            results[0] = Val::I64(1);
            Ok(())
        },
    );
    let mut store = engine.store((), &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    assert_trap(call(&mut store, &inst, "run", &[]), TrapCode::HostError);
}

#[test]
fn caller_memory_access_is_bounds_checked_and_fresh() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module
          (import "env" "upper" (func $upper (param i32 i32) (result i32)))
          (import "env" "size" (func $size (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 16) "hello")
          (func (export "run") (result i32) (call $upper (i32.const 16) (i32.const 5)))
          (func (export "oob") (result i32) (call $upper (i32.const 65534) (i32.const 5)))
          (func (export "grow_then_size") (result i32)
            (drop (memory.grow (i32.const 2)))
            (call $size)))"#,
    );
    let mut linker = Linker::<()>::new();
    linker.func(
        "env",
        "upper",
        FuncType::new([ValType::I32, ValType::I32], [ValType::I32]),
        |caller, args, results| {
            let ptr = args[0].as_i32().unwrap() as u32 as u64;
            let len = args[1].as_i32().unwrap() as usize;
            let mut buf = vec![0; len];
            if let Err(e) = caller.read_memory(ptr, &mut buf) {
                assert_eq!(e.kind(), ErrorKind::OutOfBounds);
                results[0] = Val::I32(-1);
                return Ok(());
            }
            buf.make_ascii_uppercase();
            caller
                .write_memory(ptr, &buf)
                .map_err(|e| HostError::new(e.to_string()))?;
            // Writes past the end are rejected without partial effects.
            let size = caller.memory_size().unwrap();
            assert_eq!(
                caller.write_memory(size - 1, b"xy").unwrap_err().kind(),
                ErrorKind::OutOfBounds
            );
            assert_eq!(
                caller.write_memory(u64::MAX, b"x").unwrap_err().kind(),
                ErrorKind::OutOfBounds
            );
            results[0] = Val::I32(len as i32);
            Ok(())
        },
    );
    linker.func(
        "env",
        "size",
        FuncType::new([], [ValType::I32]),
        |caller, _, results| {
            results[0] = Val::I32(caller.memory_size().unwrap() as i32);
            Ok(())
        },
    );
    let mut store = engine.store((), &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    assert_eq!(call(&mut store, &inst, "run", &[]).unwrap(), [Val::I32(5)]);
    let mut buf = [0u8; 5];
    store.memory_read(&inst, "memory", 16, &mut buf).unwrap();
    assert_eq!(&buf, b"HELLO");
    assert_eq!(call(&mut store, &inst, "oob", &[]).unwrap(), [Val::I32(-1)]);
    assert_eq!(
        call(&mut store, &inst, "grow_then_size", &[]).unwrap(),
        [Val::I32(3 * 65536)]
    );
}

#[test]
fn caller_without_memory_export() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module
          (import "env" "probe" (func $p))
          (memory 1)
          (func (export "run") (call $p)))"#,
    );
    let mut linker = Linker::<()>::new();
    linker.func("env", "probe", FuncType::new([], []), |caller, _, _| {
        assert_eq!(caller.memory_size(), None);
        let mut b = [0u8; 1];
        assert_eq!(
            caller.read_memory(0, &mut b).unwrap_err().kind(),
            ErrorKind::ExportNotFound
        );
        assert_eq!(
            caller.write_memory(0, &b).unwrap_err().kind(),
            ErrorKind::ExportNotFound
        );
        Ok(())
    });
    let mut store = engine.store((), &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    call(&mut store, &inst, "run", &[]).unwrap();
}

/// host -> guest -> host -> guest ... to depth `n`, through `Caller::call`.
#[test]
fn reentrant_calls_to_depth_five() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module
          (import "env" "down" (func $down (param i32) (result i32)))
          (func (export "f") (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0))
              (then (i32.const 100))
              (else (i32.add (call $down (local.get 0)) (i32.const 1))))))"#,
    );
    let depth = Arc::new(AtomicU32::new(0));
    let max = Arc::clone(&depth);
    let mut linker = Linker::<()>::new();
    linker.func("env", "down", i32_to_i32(), move |caller, args, results| {
        let n = args[0].as_i32().unwrap();
        max.fetch_max(n as u32, Ordering::SeqCst);
        let mut r = [Val::I32(0)];
        caller
            .call("f", &[Val::I32(n - 1)], &mut r)
            .map_err(|e| HostError::new(e.to_string()))?;
        results[0] = r[0];
        Ok(())
    });
    let mut store = engine.store((), &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    assert_eq!(
        call(&mut store, &inst, "f", &[Val::I32(5)]).unwrap(),
        [Val::I32(105)]
    );
    assert_eq!(depth.load(Ordering::SeqCst), 5);
}

#[test]
fn reentrant_call_errors() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module
          (import "env" "probe" (func $p))
          (func (export "boom") unreachable)
          (func (export "id") (param i32) (result i32) local.get 0)
          (func (export "run") (call $p)))"#,
    );
    let mut linker = Linker::<()>::new();
    linker.func("env", "probe", FuncType::new([], []), |caller, _, _| {
        let e = caller.call("boom", &[], &mut []).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Trap(TrapCode::Unreachable));
        let e = caller.call("missing", &[], &mut []).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ExportNotFound);
        let e = caller
            .call("id", &[Val::I64(1)], &mut [Val::I32(0)])
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TypeMismatch);
        let mut r = [Val::I32(0)];
        caller.call("id", &[Val::I32(9)], &mut r).unwrap();
        assert_eq!(r, [Val::I32(9)]);
        Ok(())
    });
    let mut store = engine.store((), &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    call(&mut store, &inst, "run", &[]).unwrap();
}

#[test]
fn import_resolution_errors_are_unlinkable() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module (import "env" "f" (func (param i32) (result i32))))"#,
    );
    let mut store = engine.store((), &Limits::new()).unwrap();

    let e = assert_kind(
        store.instantiate(&module, &Linker::new()),
        ErrorKind::Unlinkable,
    );
    assert!(e.message().contains("env::f"), "{e}");

    let mut wrong = Linker::<()>::new();
    wrong.func(
        "env",
        "f",
        FuncType::new([ValType::I64], [ValType::I32]),
        |_, _, _| Ok(()),
    );
    let e = assert_kind(store.instantiate(&module, &wrong), ErrorKind::Unlinkable);
    assert!(e.message().contains("env::f"), "{e}");

    let mem = compile(&engine, r#"(module (import "env" "memory" (memory 1)))"#);
    let e = assert_kind(
        store.instantiate(&mem, &Linker::new()),
        ErrorKind::Unlinkable,
    );
    assert!(e.message().contains("env::memory"), "{e}");

    // Only the imports the module names are needed: extra linker entries are fine.
    let mut right = Linker::<()>::new();
    right.func("env", "f", i32_to_i32(), |_, a, r| {
        r[0] = a[0];
        Ok(())
    });
    right.func("env", "unused", FuncType::new([], []), |_, _, _| Ok(()));
    store.instantiate(&module, &right).unwrap();
}

#[test]
fn host_function_in_start_function_can_fail_instantiation() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module (import "env" "init" (func $i)) (start $i))"#,
    );
    let mut linker = Linker::<()>::new();
    linker.func("env", "init", FuncType::new([], []), |_, _, _| {
        Err(HostError::new("no init"))
    });
    let mut store = engine.store((), &Limits::new()).unwrap();
    let e = assert_trap(store.instantiate(&module, &linker), TrapCode::HostError);
    assert_eq!(e.host_error().unwrap().message(), "no init");
}

#[test]
fn many_arguments_use_the_heap_path() {
    let engine = engine();
    let params: Vec<ValType> = vec![ValType::I64; 12];
    let module = compile(
        &engine,
        &format!(
            r#"(module
              (import "env" "sum" (func $s (param {p}) (result i64)))
              (func (export "run") (result i64)
                (call $s {args})))"#,
            p = "i64 ".repeat(12),
            args = (1..=12)
                .map(|i| format!("(i64.const {i})"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    );
    let mut linker = Linker::<()>::new();
    linker.func(
        "env",
        "sum",
        FuncType::new(params, [ValType::I64]),
        |_, args, r| {
            r[0] = Val::I64(args.iter().map(|a| a.as_i64().unwrap()).sum());
            Ok(())
        },
    );
    let mut store = engine.store((), &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    assert_eq!(call(&mut store, &inst, "run", &[]).unwrap(), [Val::I64(78)]);
}
