//! Host functions on wasmer: the host-stack re-entry budget (the contract's
//! host checks are in conformance).

mod common;

use anywasm_core::{
    Caller, Config, ErrorKind, FuncType, HostError, Limits, Linker, StoreExt, TrapCode, Val,
    ValType,
};
use anywasm_wasmer::Engine;
use common::setup_with;

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

/// Run `f` with 1.2 MiB more of this thread's stack in use.
#[inline(never)]
fn after_spending_stack<R>(f: impl FnOnce() -> R) -> R {
    let block = std::hint::black_box([1u8; 1200 << 10]);
    let r = f();
    std::hint::black_box(&block);
    r
}

/// The host-stack budget is the thread's: a store called from inside
/// another store's host function (as the plugin manager runs a plugin
/// calling a plugin) counts its re-entries from the outer call's start, so
/// nested stores cannot each spend a full budget on one stack.
#[test]
fn a_store_called_from_another_stores_host_function_shares_its_stack_budget() {
    use std::sync::{Arc, Mutex};
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            let (_e, inner, inst) = sandbox();
            let inner = Arc::new(Mutex::new((inner, inst)));
            // `nest(pad)`: spend `pad` KiB of this thread's stack, then call
            // the inner store's `down(2)`, which re-enters it once.
            let mut outer_linker = Linker::<()>::new();
            let shared = inner.clone();
            outer_linker.func(
                "env",
                "nest",
                FuncType::new([ValType::I32], [ValType::I32]),
                move |_, args, results| {
                    let pad = args[0].as_i32().unwrap_or(0) > 0;
                    let mut guard = shared.lock().unwrap();
                    let (store, inst) = &mut *guard;
                    let mut down = || store.call_export(inst, "down", &[Val::I32(2)]);
                    let outcome = if pad {
                        after_spending_stack(down)
                    } else {
                        down()
                    };
                    let value = outcome.map_err(|e| HostError::new(e.to_string()))?;
                    results[0] = value[0];
                    Ok(())
                },
            );
            let (_e2, mut outer, outer_inst) = setup_with(
                r#"(module (import "env" "nest" (func $nest (param i32) (result i32)))
                     (func (export "run") (param i32) (result i32) (call $nest (local.get 0))))"#,
                &Config::new(),
                &Limits::new(),
                &outer_linker,
                (),
            );
            // Within budget: the inner re-entry runs.
            assert_eq!(
                outer
                    .call_export(&outer_inst, "run", &[Val::I32(0)])
                    .unwrap(),
                [Val::I32(2)]
            );
            // 1.2 MiB of the thread's stack spent above the outer call: the
            // inner store's re-entry is refused, though its own call has
            // used almost none.
            let e = outer
                .call_export(&outer_inst, "run", &[Val::I32(1)])
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Trap(TrapCode::HostError), "{e}");
            assert!(e.to_string().contains("bytes of host stack"), "{e}");
            // Both stores still work.
            assert_eq!(
                outer
                    .call_export(&outer_inst, "run", &[Val::I32(0)])
                    .unwrap(),
                [Val::I32(2)]
            );
            let (store, inst) = &mut *inner.lock().unwrap();
            assert_eq!(
                store.call_export(inst, "down", &[Val::I32(3)]).unwrap(),
                [Val::I32(3)]
            );
        })
        .unwrap()
        .join()
        .unwrap();
}
