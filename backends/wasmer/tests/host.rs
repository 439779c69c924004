//! Host functions: values, memory, state, errors, panics, re-entrancy.

mod common;

use anywasm_core::{
    Caller, Config, ErrorKind, FuncType, HostError, Limits, Linker, Runtime, Store as _, StoreExt,
    TrapCode, Val, ValType,
};
use anywasm_wasmer::Engine;
use common::{assert_kind, assert_trap, setup_with, wasm};

#[derive(Debug, Default)]
struct Host {
    counter: i64,
    seen_memory: Option<u64>,
}

const HOST: &str = r#"
(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (import "env" "fail" (func $fail))
  (import "env" "panic" (func $panic))
  (import "env" "bad_result" (func $bad_result (result i32)))
  (import "env" "upper" (func $upper (param i32 i32) (result i32)))
  (import "env" "bump" (func $bump (result i64)))
  (import "env" "reenter" (func $reenter (param i32) (result i32)))
  (import "env" "floats" (func $floats (param f32 f64) (result f64 f32)))
  (import "env" "call_missing" (func $call_missing))
  (import "env" "reenter_trap" (func $reenter_trap))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello anywasm")
  (func (export "call_add") (param i32 i32) (result i32) local.get 0 local.get 1 call $add)
  (func (export "call_fail") call $fail)
  (func (export "call_panic") call $panic)
  (func (export "call_bad_result") (result i32) call $bad_result)
  (func (export "call_upper") (param i32 i32) (result i32) local.get 0 local.get 1 call $upper)
  (func (export "call_bump") (result i64) call $bump)
  (func (export "call_floats") (param f32 f64) (result f64 f32) local.get 0 local.get 1 call $floats)
  (func (export "call_missing") call $call_missing)
  (func (export "call_reenter_trap") call $reenter_trap)
  (func (export "boom") unreachable)
  (func (export "down") (param i32) (result i32)
    local.get 0 i32.eqz
    if (result i32) i32.const 0 else local.get 0 call $reenter end)
)"#;

fn linker() -> Linker<Host> {
    use ValType::*;
    let mut l = Linker::new();
    l.func(
        "env",
        "add",
        FuncType::new([I32, I32], [I32]),
        |_, args, results| {
            let (a, b) = (args[0].as_i32().unwrap_or(0), args[1].as_i32().unwrap_or(0));
            results[0] = Val::I32(a.wrapping_add(b));
            Ok(())
        },
    );
    l.func("env", "fail", FuncType::new([], []), |_, _, _| {
        Err(HostError::new("denied by host"))
    });
    l.func("env", "panic", FuncType::new([], []), |_, _, _| {
        panic!("host function exploded")
    });
    l.func(
        "env",
        "bad_result",
        FuncType::new([], [I32]),
        |_, _, results| {
            results[0] = Val::I64(1);
            Ok(())
        },
    );
    l.func(
        "env",
        "upper",
        FuncType::new([I32, I32], [I32]),
        |caller: &mut dyn Caller<Host>, args, results| {
            let ptr = args[0].as_i32().unwrap_or(0) as u32 as u64;
            let len = args[1].as_i32().unwrap_or(0) as u32 as usize;
            caller.data_mut().seen_memory = caller.memory_size();
            let mut buf = vec![0u8; len.min(1 << 16)];
            caller
                .read_memory(ptr, &mut buf)
                .map_err(|e| HostError::new(e.to_string()))?;
            buf.make_ascii_uppercase();
            caller
                .write_memory(ptr, &buf)
                .map_err(|e| HostError::new(e.to_string()))?;
            results[0] = Val::I32(buf.len() as i32);
            Ok(())
        },
    );
    l.func(
        "env",
        "bump",
        FuncType::new([], [I64]),
        |caller: &mut dyn Caller<Host>, _, results| {
            assert_eq!(caller.backend(), anywasm_core::BackendKind::Wasmer);
            caller.data_mut().counter += 1;
            results[0] = Val::I64(caller.data().counter);
            Ok(())
        },
    );
    l.func(
        "env",
        "reenter",
        FuncType::new([I32], [I32]),
        |caller: &mut dyn Caller<Host>, args, results| {
            let n = args[0].as_i32().unwrap_or(0);
            let mut inner = [Val::I32(0)];
            caller
                .call("down", &[Val::I32(n - 1)], &mut inner)
                .map_err(|e| HostError::new(e.to_string()))?;
            results[0] = Val::I32(inner[0].as_i32().unwrap_or(0) + 1);
            Ok(())
        },
    );
    l.func(
        "env",
        "floats",
        FuncType::new([F32, F64], [F64, F32]),
        |_, args, results| {
            results[0] = args[1];
            results[1] = args[0];
            Ok(())
        },
    );
    l.func(
        "env",
        "call_missing",
        FuncType::new([], []),
        |caller: &mut dyn Caller<Host>, _, _| {
            let e = caller.call("nope", &[], &mut []).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ExportNotFound);
            let e = caller.call("memory", &[], &mut []).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ExportNotFound);
            let e = caller
                .call("down", &[Val::I64(1)], &mut [Val::I32(0)])
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TypeMismatch);
            let e = caller.read_memory(u64::MAX, &mut [0]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::OutOfBounds);
            Ok(())
        },
    );
    l.func(
        "env",
        "reenter_trap",
        FuncType::new([], []),
        |caller: &mut dyn Caller<Host>, _, _| {
            let e = caller.call("boom", &[], &mut []).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Trap(TrapCode::Unreachable));
            Err(HostError::new(format!("inner: {e}")))
        },
    );
    l
}

fn sandbox() -> (
    Engine,
    anywasm_wasmer::Store<Host>,
    anywasm_wasmer::Instance,
) {
    setup_with(
        HOST,
        &Config::new(),
        &Limits::new(),
        &linker(),
        Host::default(),
    )
}

#[test]
fn args_and_results() {
    let (_e, mut store, inst) = sandbox();
    assert_eq!(
        store
            .call_export(&inst, "call_add", &[Val::I32(40), Val::I32(2)])
            .unwrap(),
        [Val::I32(42)]
    );
    assert_eq!(
        store
            .call_export(&inst, "call_add", &[Val::I32(i32::MAX), Val::I32(1)])
            .unwrap(),
        [Val::I32(i32::MIN)]
    );
}

#[test]
fn float_bits_cross_the_host_boundary() {
    let (_e, mut store, inst) = sandbox();
    let (f, d) = (0x7fa0_0001u32, 0xfff0_0000_0000_0001u64);
    assert_eq!(
        store
            .call_export(&inst, "call_floats", &[Val::F32(f), Val::F64(d)])
            .unwrap(),
        [Val::F64(d), Val::F32(f)]
    );
}

#[test]
fn memory_access_and_bounds() {
    let (_e, mut store, inst) = sandbox();
    assert_eq!(
        store
            .call_export(&inst, "call_upper", &[Val::I32(16), Val::I32(13)])
            .unwrap(),
        [Val::I32(13)]
    );
    assert_eq!(
        store.memory_read_vec(&inst, "memory", 16, 13).unwrap(),
        b"HELLO ANYWASM"
    );
    assert_eq!(store.data().seen_memory, Some(65536));
    assert_trap(
        store.call_export(&inst, "call_upper", &[Val::I32(65530), Val::I32(100)]),
        TrapCode::HostError,
    );
    assert_trap(
        store.call_export(&inst, "call_upper", &[Val::I32(-1), Val::I32(2)]),
        TrapCode::HostError,
    );
    // Growth is seen by the host through a fresh lookup.
    store.memory_grow(&inst, "memory", 1).unwrap();
    store
        .call_export(&inst, "call_upper", &[Val::I32(65530), Val::I32(100)])
        .unwrap();
    assert_eq!(store.data().seen_memory, Some(2 * 65536));
}

#[test]
fn host_state_is_shared() {
    let (_e, mut store, inst) = sandbox();
    for i in 1..=3 {
        assert_eq!(
            store.call_export(&inst, "call_bump", &[]).unwrap(),
            [Val::I64(i)]
        );
    }
    assert_eq!(store.data().counter, 3);
    store.data_mut().counter = 100;
    assert_eq!(
        store.call_export(&inst, "call_bump", &[]).unwrap(),
        [Val::I64(101)]
    );
}

#[test]
fn host_error_is_recoverable() {
    let (_e, mut store, inst) = sandbox();
    let e = store.call_export(&inst, "call_fail", &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Trap(TrapCode::HostError));
    assert_eq!(e.backend(), Some(anywasm_core::BackendKind::Wasmer));
    let host = e.host_error().expect("host error");
    assert_eq!(host.message(), "denied by host");
    assert!(!host.is_panic());
}

#[test]
fn host_panic_is_caught() {
    let (_e, mut store, inst) = sandbox();
    for _ in 0..3 {
        let e = store.call_export(&inst, "call_panic", &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Trap(TrapCode::HostError));
        let host = e.host_error().expect("host error");
        assert!(host.is_panic());
        assert_eq!(host.message(), "host function exploded");
    }
    assert_eq!(
        store
            .call_export(&inst, "call_add", &[Val::I32(1), Val::I32(2)])
            .unwrap(),
        [Val::I32(3)]
    );
}

#[test]
fn bad_result_type_is_a_host_error() {
    let (_e, mut store, inst) = sandbox();
    assert_trap(
        store.call_export(&inst, "call_bad_result", &[]),
        TrapCode::HostError,
    );
}

#[test]
fn reentrant_call_errors() {
    let (_e, mut store, inst) = sandbox();
    store.call_export(&inst, "call_missing", &[]).unwrap();
    let e = store
        .call_export(&inst, "call_reenter_trap", &[])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Trap(TrapCode::HostError));
    assert!(e.host_error().unwrap().message().contains("unreachable"));
    assert_eq!(
        store.call_export(&inst, "down", &[Val::I32(3)]).unwrap(),
        [Val::I32(3)]
    );
}

#[test]
fn reentrant_calls_with_fuel_and_timeouts() {
    let config = Config::new().consume_fuel(true).timeouts(true);
    let limits = Limits::new()
        .fuel(1_000_000)
        .timeout(std::time::Duration::from_secs(60));
    let (_e, mut store, inst) = setup_with(HOST, &config, &limits, &linker(), Host::default());
    assert_eq!(
        store.call_export(&inst, "down", &[Val::I32(20)]).unwrap(),
        [Val::I32(20)]
    );
    let left = store.fuel().unwrap();
    assert!(left < 1_000_000 && left > 0, "fuel left: {left}");
}

#[test]
fn missing_and_mistyped_imports_are_unlinkable() {
    let engine = Engine::new(&Config::new()).unwrap();
    let module = engine.compile(&wasm(HOST)).unwrap();
    let mut store = engine.store(Host::default(), &Limits::new()).unwrap();
    let e = store.instantiate(&module, &Linker::new()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unlinkable);
    assert!(e.message().contains("env::add"), "{e}");

    let mut l = Linker::<Host>::new();
    l.func("env", "f", FuncType::new([ValType::I64], []), |_, _, _| {
        Ok(())
    });
    let module = engine
        .compile(&wasm(r#"(module (import "env" "f" (func (param i32))))"#))
        .unwrap();
    let e = store.instantiate(&module, &l).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unlinkable);
    assert!(e.message().contains("env::f"), "{e}");

    // A memory import cannot come from the linker.
    let module = engine
        .compile(&wasm(r#"(module (import "env" "mem" (memory 1)))"#))
        .unwrap();
    assert_kind(store.instantiate(&module, &l), ErrorKind::Unlinkable);
}

#[test]
fn only_named_imports_are_created() {
    // The linker has many functions; a module importing one of them works.
    let (_e, mut store, inst) = setup_with(
        r#"(module (import "env" "bump" (func $b (result i64)))
             (func (export "f") (result i64) call $b))"#,
        &Config::new(),
        &Limits::new(),
        &linker(),
        Host::default(),
    );
    assert_eq!(store.call_export(&inst, "f", &[]).unwrap(), [Val::I64(1)]);
}

#[test]
fn host_function_in_start_sees_its_instance() {
    let mut l = Linker::<Host>::new();
    l.func(
        "env",
        "init",
        FuncType::new([], []),
        |caller: &mut dyn Caller<Host>, _, _| {
            caller.data_mut().seen_memory = caller.memory_size();
            caller
                .write_memory(0, b"init")
                .map_err(|e| HostError::new(e.to_string()))?;
            let mut out = [Val::I32(0)];
            caller
                .call("seven", &[], &mut out)
                .map_err(|e| HostError::new(e.to_string()))?;
            caller.data_mut().counter = i64::from(out[0].as_i32().unwrap_or(0));
            Ok(())
        },
    );
    let wat = r#"(module
      (import "env" "init" (func $init))
      (memory (export "memory") 2)
      (func (export "seven") (result i32) i32.const 7)
      (start $init))"#;
    let (_e, mut store, inst) =
        setup_with(wat, &Config::new(), &Limits::new(), &l, Host::default());
    assert_eq!(store.data().seen_memory, Some(2 * 65536));
    assert_eq!(store.data().counter, 7);
    assert_eq!(
        store.memory_read_vec(&inst, "memory", 0, 4).unwrap(),
        b"init"
    );
}

#[test]
fn caller_without_memory() {
    let mut l = Linker::<Host>::new();
    l.func(
        "env",
        "probe",
        FuncType::new([], []),
        |caller: &mut dyn Caller<Host>, _, _| {
            assert_eq!(caller.memory_size(), None);
            let e = caller.read_memory(0, &mut [0]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ExportNotFound);
            let e = caller.write_memory(0, &[0]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ExportNotFound);
            caller.data_mut().counter = -1;
            Ok(())
        },
    );
    let wat = r#"(module (import "env" "probe" (func $p))
      (memory 1) ;; not exported
      (func (export "f") call $p))"#;
    let (_e, mut store, inst) =
        setup_with(wat, &Config::new(), &Limits::new(), &l, Host::default());
    store.call_export(&inst, "f", &[]).unwrap();
    assert_eq!(store.data().counter, -1);
}

#[test]
fn host_function_sees_its_own_instance() {
    // Two instances of one module: each host call sees its caller's memory.
    let mut l = Linker::<Host>::new();
    l.func(
        "env",
        "peek",
        FuncType::new([], [ValType::I32]),
        |caller: &mut dyn Caller<Host>, _, results| {
            let mut b = [0u8];
            caller
                .read_memory(0, &mut b)
                .map_err(|e| HostError::new(e.to_string()))?;
            results[0] = Val::I32(i32::from(b[0]));
            Ok(())
        },
    );
    let engine = Engine::new(&Config::new()).unwrap();
    let module = engine
        .compile(&wasm(
            r#"(module (import "env" "peek" (func $p (result i32)))
                 (memory (export "memory") 1)
                 (func (export "f") (result i32) call $p))"#,
        ))
        .unwrap();
    let mut store = engine.store(Host::default(), &Limits::new()).unwrap();
    let a = store.instantiate(&module, &l).unwrap();
    let b = store.instantiate(&module, &l).unwrap();
    store.memory_write(&a, "memory", 0, &[11]).unwrap();
    store.memory_write(&b, "memory", 0, &[22]).unwrap();
    assert_eq!(store.call_export(&a, "f", &[]).unwrap(), [Val::I32(11)]);
    assert_eq!(store.call_export(&b, "f", &[]).unwrap(), [Val::I32(22)]);
}

#[test]
fn host_functions_pass_references() {
    let mut l = Linker::<Host>::new();
    l.func(
        "env",
        "swap",
        FuncType::new(
            [ValType::ExternRef, ValType::FuncRef],
            [ValType::FuncRef, ValType::ExternRef],
        ),
        |_, args, results| {
            results[0] = args[1];
            results[1] = match args[0] {
                Val::ExternRef(Some(anywasm_core::ExternRef(n))) => {
                    Val::ExternRef(Some(anywasm_core::ExternRef(n + 1)))
                }
                other => other,
            };
            Ok(())
        },
    );
    l.func(
        "env",
        "bogus",
        FuncType::new([], [ValType::FuncRef]),
        |_, _, results| {
            results[0] = Val::FuncRef(Some(anywasm_core::FuncRef(9999)));
            Ok(())
        },
    );
    let wat = r#"(module
      (import "env" "swap" (func $swap (param externref funcref) (result funcref externref)))
      (import "env" "bogus" (func $bogus (result funcref)))
      (func $t (result i32) i32.const 5)
      (elem declare func $t)
      (table $tab 1 funcref)
      (func (export "f") (param externref) (result externref i32)
        (local $fr funcref) (local $er externref)
        local.get 0 ref.func $t call $swap
        local.set $er local.set $fr
        local.get $er
        ;; call the funcref the host handed back
        i32.const 0 local.get $fr table.set $tab
        i32.const 0 call_indirect (result i32))
      (func (export "g") (result funcref) call $bogus))"#;
    let (_e, mut store, inst) =
        setup_with(wat, &Config::new(), &Limits::new(), &l, Host::default());
    let r = Val::ExternRef(Some(anywasm_core::ExternRef(41)));
    assert_eq!(
        store.call_export(&inst, "f", &[r]).unwrap(),
        [
            Val::ExternRef(Some(anywasm_core::ExternRef(42))),
            Val::I32(5)
        ]
    );
    assert_trap(store.call_export(&inst, "g", &[]), TrapCode::HostError);
}

#[test]
fn runaway_reentrancy_is_a_stack_overflow_not_a_crash() {
    // On a thread with a small stack, guest-driven host -> guest -> host
    // recursion must end in an error, never overflow the thread stack.
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let (_e, mut store, inst) = sandbox();
            let e = store
                .call_export(&inst, "down", &[Val::I32(1_000_000)])
                .unwrap_err();
            // The host function turns the inner StackOverflow into its own error.
            assert_eq!(e.kind(), ErrorKind::Trap(TrapCode::HostError));
            assert!(e.to_string().contains("call stack exhausted"), "{e}");
            assert_eq!(
                store.call_export(&inst, "down", &[Val::I32(10)]).unwrap(),
                [Val::I32(10)]
            );
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn reexported_host_function() {
    // A host function re-exported by one instance, called directly, through
    // a registered import, and through a table.
    let mut l = Linker::<Host>::new();
    l.func(
        "env",
        "bump",
        FuncType::new([], [ValType::I64]),
        |caller: &mut dyn Caller<Host>, _, r| {
            caller.data_mut().counter += 1;
            r[0] = Val::I64(caller.data().counter);
            Ok(())
        },
    );
    let engine = Engine::new(&Config::new()).unwrap();
    let lib = engine
        .compile(&wasm(
            r#"(module (import "env" "bump" (func $b (result i64)))
                 (export "bump" (func $b))
                 (table (export "t") 1 funcref)
                 (elem (i32.const 0) $b)
                 (func (export "via_table") (result i64) i32.const 0 call_indirect (result i64)))"#,
        ))
        .unwrap();
    let user = engine
        .compile(&wasm(
            r#"(module (import "lib" "bump" (func $b (result i64)))
                 (func (export "f") (result i64) call $b))"#,
        ))
        .unwrap();
    let mut store = engine.store(Host::default(), &Limits::new()).unwrap();
    let a = store.instantiate(&lib, &l).unwrap();
    store.register("lib", &a).unwrap();
    let b = store.instantiate(&user, &Linker::new()).unwrap();
    assert_eq!(store.call_export(&a, "bump", &[]).unwrap(), [Val::I64(1)]);
    assert_eq!(store.call_export(&b, "f", &[]).unwrap(), [Val::I64(2)]);
    assert_eq!(
        store.call_export(&a, "via_table", &[]).unwrap(),
        [Val::I64(3)]
    );
    let f = store.table_get(&a, "t", 0).unwrap();
    assert!(matches!(f, Val::FuncRef(Some(_))));
    let bump = store.get_func(&a, "bump").unwrap();
    assert_eq!(store.func_type(&bump), FuncType::new([], [ValType::I64]));
}
