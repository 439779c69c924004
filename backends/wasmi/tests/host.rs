//! Host functions: state, memory access, errors, panics, re-entrancy, linking.

mod common;

use anywasm_core::{
    Config, ErrorKind, FuncType, HostError, Limits, Linker, Runtime, Store as _, StoreExt,
    TrapCode, Val, ValType,
};
use common::*;

fn i32_to_i32() -> FuncType {
    FuncType::new([ValType::I32], [ValType::I32])
}

const GUEST: &str = r#"
(module
  (import "env" "host" (func $host (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello")
  (func (export "run") (param i32) (result i32) (call $host (local.get 0)))
  (func (export "add1") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "trap") unreachable)
)
"#;

fn run_with(linker: &Linker<u32>) -> (anywasm_wasmi::Store<u32>, anywasm_wasmi::Instance) {
    let engine = engine(Config::default());
    let module = compile(&engine, GUEST);
    let mut store = engine.store(0u32, &Limits::new()).unwrap();
    let inst = store.instantiate(&module, linker).unwrap();
    (store, inst)
}

#[test]
fn host_state_and_memory() {
    let mut linker = Linker::<u32>::new();
    linker.func("env", "host", i32_to_i32(), |caller, args, results| {
        assert_eq!(caller.backend(), anywasm_core::BackendKind::Wasmi);
        *caller.data_mut() += 1;
        let mut buf = [0u8; 5];
        caller
            .read_memory(16, &mut buf)
            .map_err(|e| HostError::new(e.to_string()))?;
        assert_eq!(&buf, b"hello");
        caller
            .write_memory(100, b"world")
            .map_err(|e| HostError::new(e.to_string()))?;
        assert_eq!(caller.memory_size(), Some(65536));
        // Out of range accesses are OutOfBounds errors, not panics.
        let e = caller.read_memory(65534, &mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfBounds);
        let e = caller.write_memory(u64::MAX, b"x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfBounds);
        results[0] = Val::I32(args[0].as_i32().unwrap() * 2 + *caller.data() as i32);
        Ok(())
    });
    let (mut store, inst) = run_with(&linker);
    assert_eq!(
        store.call_export(&inst, "run", &[Val::I32(10)]).unwrap(),
        vec![Val::I32(21)]
    );
    assert_eq!(*store.data(), 1);
    assert_eq!(
        store.memory_read_vec(&inst, "memory", 100, 5).unwrap(),
        b"world"
    );
}

#[test]
fn host_error_comes_back() {
    let mut linker = Linker::<u32>::new();
    linker.func("env", "host", i32_to_i32(), |_, _, _| {
        Err(HostError::new("nope"))
    });
    let (mut store, inst) = run_with(&linker);
    let e = assert_trap(
        store.call_export(&inst, "run", &[Val::I32(1)]),
        TrapCode::HostError,
    );
    let host = e.host_error().expect("host error recovered");
    assert_eq!(host.message(), "nope");
    assert!(!host.is_panic());
    assert_eq!(
        store.call_export(&inst, "add1", &[Val::I32(1)]).unwrap(),
        vec![Val::I32(2)]
    );
}

#[test]
fn host_panic_is_a_host_error() {
    let mut linker = Linker::<u32>::new();
    linker.func("env", "host", i32_to_i32(), |_, _, _| panic!("kaboom"));
    let (mut store, inst) = run_with(&linker);
    let e = assert_trap(
        store.call_export(&inst, "run", &[Val::I32(1)]),
        TrapCode::HostError,
    );
    let host = e.host_error().unwrap();
    assert!(host.is_panic());
    assert_eq!(host.message(), "kaboom");
    assert_eq!(
        store.call_export(&inst, "add1", &[Val::I32(1)]).unwrap(),
        vec![Val::I32(2)]
    );
}

#[test]
fn host_wrong_result_type_is_a_host_error() {
    let mut linker = Linker::<u32>::new();
    linker.func("env", "host", i32_to_i32(), |_, _, results| {
        results[0] = Val::I64(1);
        Ok(())
    });
    let (mut store, inst) = run_with(&linker);
    assert_trap(
        store.call_export(&inst, "run", &[Val::I32(1)]),
        TrapCode::HostError,
    );
}

#[test]
fn reentrant_calls() {
    // host -> guest "add1" and host -> guest "trap".
    let mut linker = Linker::<u32>::new();
    linker.func("env", "host", i32_to_i32(), |caller, args, results| {
        let mut out = [Val::I32(0)];
        caller
            .call("add1", args, &mut out)
            .map_err(|e| HostError::new(e.to_string()))?;
        let e = caller.call("trap", &[], &mut []).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Trap(TrapCode::Unreachable));
        let e = caller.call("missing", &[], &mut []).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ExportNotFound);
        let e = caller.call("add1", &[Val::I64(1)], &mut out).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TypeMismatch);
        results[0] = out[0];
        Ok(())
    });
    let (mut store, inst) = run_with(&linker);
    assert_eq!(
        store.call_export(&inst, "run", &[Val::I32(41)]).unwrap(),
        vec![Val::I32(42)]
    );
}

const RECURSIVE: &str = r#"
(module
  (import "env" "host" (func $host (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "run") (param i32) (result i32) (call $host (local.get 0)))
)
"#;

/// host -> guest -> host ... `n` levels deep, counting down in the host.
fn recursive_linker() -> Linker<u32> {
    let mut linker = Linker::<u32>::new();
    linker.func("env", "host", i32_to_i32(), |caller, args, results| {
        let n = args[0].as_i32().unwrap();
        *caller.data_mut() = (*caller.data()).max(n as u32);
        if n == 0 {
            results[0] = Val::I32(0);
            return Ok(());
        }
        let mut out = [Val::I32(0)];
        caller
            .call("run", &[Val::I32(n - 1)], &mut out)
            .map_err(|e| HostError::new(e.to_string()))?;
        results[0] = Val::I32(out[0].as_i32().unwrap() + 1);
        Ok(())
    });
    linker
}

#[test]
fn deep_reentrancy() {
    let engine = engine(Config::default());
    let module = compile(&engine, RECURSIVE);
    let mut store = engine.store(0u32, &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &recursive_linker()).unwrap();
    for depth in [1, 3, 10, 30] {
        assert_eq!(
            store.call_export(&inst, "run", &[Val::I32(depth)]).unwrap(),
            vec![Val::I32(depth)]
        );
    }
    // Unbounded host-mediated recursion ends in an error, not a crash.
    let e = assert_trap(
        store.call_export(&inst, "run", &[Val::I32(1_000_000)]),
        TrapCode::HostError,
    );
    assert!(e.message().contains("re-entered"), "{e}");
    assert_eq!(
        store.call_export(&inst, "run", &[Val::I32(2)]).unwrap(),
        vec![Val::I32(2)]
    );
}

#[test]
fn deep_reentrancy_with_timeout_and_fuel() {
    let engine = engine(Config::new().consume_fuel(true).timeouts(true));
    let module = compile(&engine, RECURSIVE);
    let limits = Limits::new()
        .fuel(10_000_000)
        .timeout(std::time::Duration::from_secs(60));
    let mut store = engine.store(0u32, &limits).unwrap();
    let inst = store.instantiate(&module, &recursive_linker()).unwrap();
    assert_eq!(
        store.call_export(&inst, "run", &[Val::I32(20)]).unwrap(),
        vec![Val::I32(20)]
    );
    let fuel = store.fuel().unwrap();
    assert!(fuel < 10_000_000 && fuel > 9_000_000, "{fuel}");
}

#[test]
fn caller_without_memory() {
    let wat = r#"(module (import "env" "host" (func $h (param i32) (result i32)))
                  (func (export "run") (result i32) (call $h (i32.const 0))))"#;
    let mut linker = Linker::<u32>::new();
    linker.func("env", "host", i32_to_i32(), |caller, _, results| {
        assert_eq!(caller.memory_size(), None);
        let e = caller.read_memory(0, &mut [0]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ExportNotFound);
        let e = caller.write_memory(0, &[0]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ExportNotFound);
        results[0] = Val::I32(5);
        Ok(())
    });
    let engine = engine(Config::default());
    let module = compile(&engine, wat);
    let mut store = engine.store(0u32, &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    assert_eq!(
        store.call_export(&inst, "run", &[]).unwrap(),
        vec![Val::I32(5)]
    );
}

#[test]
fn caller_sees_grown_memory() {
    let wat = r#"(module (import "env" "size" (func $s (result i32)))
                  (memory (export "memory") 1)
                  (func (export "run") (result i32)
                    (drop (memory.grow (i32.const 2))) (call $s)))"#;
    let mut linker = Linker::<()>::new();
    linker.func(
        "env",
        "size",
        FuncType::new([], [ValType::I32]),
        |caller, _, results| {
            let size = caller.memory_size().unwrap();
            caller.write_memory(size - 4, &[1, 2, 3, 4]).unwrap();
            results[0] = Val::I32((size / 65536) as i32);
            Ok(())
        },
    );
    let engine = engine(Config::default());
    let module = compile(&engine, wat);
    let mut store = engine.store((), &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    assert_eq!(
        store.call_export(&inst, "run", &[]).unwrap(),
        vec![Val::I32(3)]
    );
    assert_eq!(
        store
            .memory_read_vec(&inst, "memory", 3 * 65536 - 4, 4)
            .unwrap(),
        [1, 2, 3, 4]
    );
}

#[test]
fn unlinkable_imports() {
    let engine = engine(Config::default());
    let module = compile(&engine, GUEST);
    let mut store = engine.store(0u32, &Limits::new()).unwrap();
    // Missing.
    let e = assert_kind(
        store.instantiate(&module, &Linker::new()),
        ErrorKind::Unlinkable,
    );
    assert!(e.message().contains("env::host"), "{e}");
    // Wrong signature.
    let mut linker = Linker::<u32>::new();
    linker.func(
        "env",
        "host",
        FuncType::new([ValType::I64], [ValType::I32]),
        |_, _, _| Ok(()),
    );
    let e = assert_kind(store.instantiate(&module, &linker), ErrorKind::Unlinkable);
    assert!(e.message().contains("env::host"), "{e}");
    // Non-function imports cannot come from the linker.
    let m = compile(&engine, r#"(module (import "env" "mem" (memory 1)))"#);
    let e = assert_kind(store.instantiate(&m, &Linker::new()), ErrorKind::Unlinkable);
    assert!(e.message().contains("env::mem"), "{e}");
    let m = compile(&engine, r#"(module (import "env" "g" (global i32)))"#);
    assert_kind(store.instantiate(&m, &Linker::new()), ErrorKind::Unlinkable);
}

#[test]
fn only_named_imports_are_created() {
    // A linker with many functions; the module imports one.
    let mut linker = Linker::<u32>::new();
    for i in 0..50 {
        linker.func("env", &format!("f{i}"), i32_to_i32(), |_, _, _| Ok(()));
    }
    linker.func("env", "host", i32_to_i32(), |_, args, results| {
        results[0] = args[0];
        Ok(())
    });
    let (mut store, inst) = run_with(&linker);
    assert_eq!(
        store.call_export(&inst, "run", &[Val::I32(3)]).unwrap(),
        vec![Val::I32(3)]
    );
}

#[test]
fn many_params_and_results() {
    let wat = r#"(module
      (import "env" "wide" (func $w (param i32 i64 f32 f64 i32 i32 i32 i32 i32 i32)
                                  (result i32 i64 f32 f64 i32 i32 i32 i32 i32 i32)))
      (func (export "run") (result i32 i64 f32 f64 i32 i32 i32 i32 i32 i32)
        (call $w (i32.const 1) (i64.const 2) (f32.const 3) (f64.const 4)
                 (i32.const 5) (i32.const 6) (i32.const 7) (i32.const 8) (i32.const 9) (i32.const 10))))"#;
    let tys = [
        ValType::I32,
        ValType::I64,
        ValType::F32,
        ValType::F64,
        ValType::I32,
        ValType::I32,
        ValType::I32,
        ValType::I32,
        ValType::I32,
        ValType::I32,
    ];
    let mut linker = Linker::<()>::new();
    linker.func(
        "env",
        "wide",
        FuncType::new(tys, tys),
        |_, args, results| {
            results.copy_from_slice(args);
            Ok(())
        },
    );
    let engine = engine(Config::default());
    let module = compile(&engine, wat);
    let mut store = engine.store((), &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    let out = store.call_export(&inst, "run", &[]).unwrap();
    assert_eq!(out[0], Val::I32(1));
    assert_eq!(out[1], Val::I64(2));
    assert_eq!(out[2], Val::from(3.0f32));
    assert_eq!(out[3], Val::from(4.0f64));
    assert_eq!(out[9], Val::I32(10));
}
