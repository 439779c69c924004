//! Host functions defined once, called from guests on every backend.

use anywasm::{
    Caller, Config, DynStore, ErrorKind, ExternRef, FuncRef, FuncType, HostError, InstanceId,
    Limits, Linker, TrapCode, Val, ValType,
};

use super::{HOST, check};
use crate::harness::{expect_call, expect_eq, expect_kind, expect_trap, expecting_panic, ok, wasm};
use crate::{Check, Ctx, Host};

/// What `env.panic` panics with, on purpose.
const PANIC_MESSAGE: &str = "host function exploded";

/// The host side of `host.wat`.
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
        panic!("{PANIC_MESSAGE}")
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
                .map_err(|e| {
                    // Mark where the nesting bound struck (the outer levels
                    // see this level's host error, not the overflow).
                    if e.kind() == ErrorKind::Trap(TrapCode::StackOverflow) {
                        caller.data_mut().counter = -1;
                    }
                    HostError::new(e.to_string())
                })?;
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
    l
}

fn sandbox(cx: &Ctx) -> Result<anywasm::Sandbox<Host>, String> {
    ok(
        "instantiate host.wat",
        cx.sandbox(HOST, &Config::new(), &linker(), &Limits::new()),
    )
}

pub(crate) fn checks() -> Vec<Check> {
    let mut all = vec![
        check!(
            "host/args_results",
            "the guest calls a host function with arguments and gets its result",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                expect_call(
                    &mut sb,
                    "call_add",
                    &[Val::I32(40), Val::I32(2)],
                    &[Val::I32(42)],
                )?;
                expect_call(
                    &mut sb,
                    "call_add",
                    &[Val::I32(i32::MAX), Val::I32(1)],
                    &[Val::I32(i32::MIN)],
                )
            }
        ),
        check!(
            "host/float_bits",
            "floats cross the host boundary bit-exactly, NaN payloads included",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                expect_call(
                    &mut sb,
                    "call_floats",
                    &[Val::F32(0x7fa0_0001), Val::F64(0xfff0_0000_0000_0001)],
                    &[Val::F64(0xfff0_0000_0000_0001), Val::F32(0x7fa0_0001)],
                )
            }
        ),
        check!(
            "host/memory_access",
            "a host function reads and writes the caller's memory",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                expect_call(
                    &mut sb,
                    "call_upper",
                    &[Val::I32(16), Val::I32(13)],
                    &[Val::I32(13)],
                )?;
                let inst = sb.instance();
                let mut buf = [0u8; 13];
                ok(
                    "read",
                    sb.store_mut().memory_read(inst, "memory", 16, &mut buf),
                )?;
                expect_eq("upper-cased", &buf, b"HELLO ANYWASM")
            }
        ),
        check!(
            "host/memory_bounds",
            "a host read past the caller's memory is an error, not a crash",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                expect_trap(
                    "upper past end",
                    sb.call("call_upper", &[Val::I32(65530), Val::I32(100)]),
                    TrapCode::HostError,
                )?;
                expect_trap(
                    "upper at u32::MAX",
                    sb.call("call_upper", &[Val::I32(-1), Val::I32(2)]),
                    TrapCode::HostError,
                )?;
                expect_call(
                    &mut sb,
                    "call_add",
                    &[Val::I32(1), Val::I32(1)],
                    &[Val::I32(2)],
                )
            }
        ),
        check!(
            "host/state",
            "host functions share the store's host state",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                for i in 1..=3 {
                    expect_call(&mut sb, "call_bump", &[], &[Val::I64(i)])?;
                }
                expect_eq("counter", sb.data().counter, 3)?;
                sb.data_mut().counter = 100;
                expect_call(&mut sb, "call_bump", &[], &[Val::I64(101)])
            }
        ),
        check!(
            "host/error",
            "a host error comes back typed, with its message",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                let e = match sb.call("call_fail", &[]) {
                    Err(e) => e,
                    Ok(v) => return Err(format!("expected an error, got {v:?}")),
                };
                expect_eq("kind", e.kind(), ErrorKind::Trap(TrapCode::HostError))?;
                expect_eq("backend", e.backend(), Some(cx.backend()))?;
                let host = e
                    .host_error()
                    .ok_or("the HostError is not recoverable from the error")?;
                expect_eq("message", host.message(), "denied by host")?;
                expect_eq("panic", host.is_panic(), false)?;
                expect_call(
                    &mut sb,
                    "call_add",
                    &[Val::I32(1), Val::I32(2)],
                    &[Val::I32(3)],
                )
            }
        ),
        check!(
            "host/panic",
            "a host panic becomes a typed error; the store keeps working",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                // Three times: a caught panic leaves nothing behind that
                // breaks the next one.
                for _ in 0..3 {
                    let e = match expecting_panic(PANIC_MESSAGE, || sb.call("call_panic", &[])) {
                        Err(e) => e,
                        Ok(v) => return Err(format!("expected an error, got {v:?}")),
                    };
                    expect_eq("kind", e.kind(), ErrorKind::Trap(TrapCode::HostError))?;
                    let host = e
                        .host_error()
                        .ok_or("the HostError is not recoverable from the error")?;
                    expect_eq("panic", host.is_panic(), true)?;
                    expect_eq("message", host.message(), PANIC_MESSAGE)?;
                }
                expect_call(
                    &mut sb,
                    "call_add",
                    &[Val::I32(1), Val::I32(2)],
                    &[Val::I32(3)],
                )
            }
        ),
        check!(
            "host/bad_result_type",
            "a host function writing a result of the wrong type is a HostError",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                expect_trap(
                    "bad result",
                    sb.call("call_bad_result", &[]),
                    TrapCode::HostError,
                )
            }
        ),
        check!(
            "host/reentry_depth",
            "MAX_REENTRY_DEPTH re-entrant calls nest; one more is Trap(StackOverflow) before entering the guest; the store stays usable",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                let max = anywasm::MAX_REENTRY_DEPTH as i32;
                expect_call(&mut sb, "down", &[Val::I32(max)], &[Val::I32(max)])?;
                expect_eq("marked before the bound", sb.data().counter, 0)?;
                let deeper = sb.call("down", &[Val::I32(max + 1)]);
                // The bound's own message (Error::reentry_too_deep) reaches the top.
                if !deeper
                    .as_ref()
                    .err()
                    .and_then(|e| e.host_error())
                    .is_some_and(|h| h.message().contains("re-entered the guest more than"))
                {
                    return Err(format!("one deeper: not the re-entry bound: {deeper:?}"));
                }
                expect_trap("one deeper", deeper, TrapCode::HostError)?;
                expect_eq("the innermost call overflowed", sb.data().counter, -1)?;
                expect_call(&mut sb, "down", &[Val::I32(3)], &[Val::I32(3)])
            }
        ),
        check!(
            "host/reentrant",
            "host -> guest -> host -> guest ... nests and unwinds correctly",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                expect_call(&mut sb, "down", &[Val::I32(0)], &[Val::I32(0)])?;
                expect_call(&mut sb, "down", &[Val::I32(5)], &[Val::I32(5)])?;
                expect_call(&mut sb, "down", &[Val::I32(20)], &[Val::I32(20)])
            }
        ),
    ];
    all.extend(caller_checks());
    all
}

/// A store of a `config` engine with `limits`, and one instance of `wat`
/// linked against `linker`.
fn instance_with(
    cx: &Ctx,
    wat: &str,
    config: &Config,
    limits: &Limits,
    linker: &Linker<Host>,
) -> Result<(Box<dyn DynStore<Host>>, InstanceId), String> {
    let engine = ok("engine", cx.engine(config))?;
    let module = ok("compile", engine.compile(&wasm(wat)))?;
    let mut store = ok("store", engine.store(Host::default(), limits))?;
    let inst = ok("instantiate", store.instantiate(&module, linker))?;
    Ok((store, inst))
}

/// Inside a host function: a failed expectation becomes the call's error,
/// so the check sees it with its message.
/// `env::peek`: the first byte of the calling instance's memory.
fn define_peek(l: &mut Linker<Host>) {
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
}

fn in_host(r: Result<(), String>) -> Result<(), HostError> {
    r.map_err(HostError::new)
}

/// Call `name` on `inst` and expect `want`.
fn expect_export(
    store: &mut dyn DynStore<Host>,
    inst: InstanceId,
    name: &str,
    args: &[Val],
    want: &[Val],
) -> Result<(), String> {
    let got = ok(name, store.call_export(inst, name, args))?;
    expect_eq(name, got.as_slice(), want)
}

fn caller_checks() -> Vec<Check> {
    vec![
        check!(
            "host/every_numeric_type",
            "a host function takes and returns i32, i64, f32 and f64 together, and its Caller names the backend",
            |cx: &Ctx| {
                use ValType::*;
                let backend = cx.backend();
                let mut l = Linker::new();
                l.func(
                    "env",
                    "mix",
                    FuncType::new([I32, I64, F32, F64], [I64, F64]),
                    move |caller: &mut dyn Caller<Host>, args, results| {
                        in_host(expect_eq("Caller::backend", caller.backend(), backend))?;
                        caller.data_mut().counter += 1;
                        let sum = i64::from(args[0].as_i32().unwrap_or(0))
                            + args[1].as_i64().unwrap_or(0);
                        results[0] = Val::I64(sum);
                        results[1] = Val::from(
                            f64::from(args[2].as_f32().unwrap_or(0.0))
                                + args[3].as_f64().unwrap_or(0.0),
                        );
                        Ok(())
                    },
                );
                let (mut store, inst) = instance_with(
                    cx,
                    r#"(module
                      (import "env" "mix" (func $mix (param i32 i64 f32 f64) (result i64 f64)))
                      (func (export "run") (result i64 f64)
                        (call $mix (i32.const 1) (i64.const 2) (f32.const 3.5) (f64.const 4.25))))"#,
                    &Config::new(),
                    &Limits::new(),
                    &l,
                )?;
                expect_eq("store backend", store.backend(), cx.backend())?;
                expect_export(
                    &mut *store,
                    inst,
                    "run",
                    &[],
                    &[Val::I64(3), Val::from(7.75f64)],
                )?;
                expect_eq("host calls", store.data().counter, 1)
            }
        ),
        check!(
            "host/wide_signature",
            "host functions with a dozen parameters and ten results get and return every value",
            |cx: &Ctx| {
                use ValType::*;
                let mut l = Linker::new();
                l.func(
                    "env",
                    "sum",
                    FuncType::new(vec![I64; 12], [I64]),
                    |_, args, results| {
                        results[0] = Val::I64(args.iter().map(|a| a.as_i64().unwrap_or(0)).sum());
                        Ok(())
                    },
                );
                let wide = [I32, I64, F32, F64, I32, I32, I32, I32, I32, I32];
                l.func(
                    "env",
                    "wide",
                    FuncType::new(wide, wide),
                    |_, args, results| {
                        results.copy_from_slice(args);
                        Ok(())
                    },
                );
                let wat = format!(
                    r#"(module
                      (import "env" "sum" (func $sum (param {p}) (result i64)))
                      (import "env" "wide" (func $w (param i32 i64 f32 f64 i32 i32 i32 i32 i32 i32)
                                                    (result i32 i64 f32 f64 i32 i32 i32 i32 i32 i32)))
                      (func (export "sum") (result i64) (call $sum {args}))
                      (func (export "wide") (result i32 i64 f32 f64 i32 i32 i32 i32 i32 i32)
                        (call $w (i32.const 1) (i64.const 2) (f32.const 3) (f64.const 4)
                                 (i32.const 5) (i32.const 6) (i32.const 7) (i32.const 8)
                                 (i32.const 9) (i32.const 10))))"#,
                    p = "i64 ".repeat(12),
                    args = (1..=12)
                        .map(|i| format!("(i64.const {i})"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                let (mut store, inst) =
                    instance_with(cx, &wat, &Config::new(), &Limits::new(), &l)?;
                expect_export(&mut *store, inst, "sum", &[], &[Val::I64(78)])?;
                expect_export(
                    &mut *store,
                    inst,
                    "wide",
                    &[],
                    &[
                        Val::I32(1),
                        Val::I64(2),
                        Val::from(3.0f32),
                        Val::from(4.0f64),
                        Val::I32(5),
                        Val::I32(6),
                        Val::I32(7),
                        Val::I32(8),
                        Val::I32(9),
                        Val::I32(10),
                    ],
                )
            }
        ),
        check!(
            "host/caller_memory_errors",
            "Caller reads and writes past the memory's end or at u64::MAX are OutOfBounds and write nothing",
            |cx: &Ctx| {
                let mut l = Linker::new();
                l.func(
                    "env",
                    "probe",
                    FuncType::new([], []),
                    |caller: &mut dyn Caller<Host>, _, _| {
                        let size = caller.memory_size().unwrap_or(0);
                        in_host(expect_eq("memory_size", size, 65536))?;
                        let mut two = [0u8; 2];
                        in_host(expect_kind(
                            "read across the end",
                            caller.read_memory(size - 1, &mut two),
                            ErrorKind::OutOfBounds,
                        ))?;
                        in_host(expect_kind(
                            "read at u64::MAX",
                            caller.read_memory(u64::MAX, &mut two[..1]),
                            ErrorKind::OutOfBounds,
                        ))?;
                        in_host(expect_kind(
                            "write across the end",
                            caller.write_memory(size - 1, b"xy"),
                            ErrorKind::OutOfBounds,
                        ))?;
                        in_host(expect_kind(
                            "write at u64::MAX",
                            caller.write_memory(u64::MAX, b"x"),
                            ErrorKind::OutOfBounds,
                        ))?;
                        // Reading the last byte, and nothing, are in bounds.
                        in_host(ok("last byte", caller.read_memory(size - 1, &mut two[..1])))?;
                        in_host(ok(
                            "empty read at the end",
                            caller.read_memory(size, &mut []),
                        ))?;
                        Ok(())
                    },
                );
                let (mut store, inst) = instance_with(
                    cx,
                    r#"(module
                      (import "env" "probe" (func $p))
                      (memory (export "memory") 1)
                      (data (i32.const 65535) "\07")
                      (func (export "run") (call $p)))"#,
                    &Config::new(),
                    &Limits::new(),
                    &l,
                )?;
                expect_export(&mut *store, inst, "run", &[], &[])?;
                let mut last = [0u8];
                ok("read", store.memory_read(inst, "memory", 65535, &mut last))?;
                expect_eq("last byte after the refused write", last, [7])
            }
        ),
        check!(
            "host/caller_sees_growth",
            "a host function sees memory the guest or the host grew, and can write its new last bytes",
            |cx: &Ctx| {
                let mut l = Linker::new();
                l.func(
                    "env",
                    "size",
                    FuncType::new([], [ValType::I32]),
                    |caller: &mut dyn Caller<Host>, _, results| {
                        let size = caller.memory_size().unwrap_or(0);
                        caller
                            .write_memory(size - 4, &[1, 2, 3, 4])
                            .map_err(|e| HostError::new(e.to_string()))?;
                        results[0] = Val::I32((size / 65536) as i32);
                        Ok(())
                    },
                );
                let (mut store, inst) = instance_with(
                    cx,
                    r#"(module
                      (import "env" "size" (func $s (result i32)))
                      (memory (export "memory") 1)
                      (func (export "grow_then_size") (result i32)
                        (drop (memory.grow (i32.const 2))) (call $s))
                      (func (export "size") (result i32) (call $s)))"#,
                    &Config::new(),
                    &Limits::new(),
                    &l,
                )?;
                expect_export(&mut *store, inst, "size", &[], &[Val::I32(1)])?;
                expect_export(&mut *store, inst, "grow_then_size", &[], &[Val::I32(3)])?;
                let mut end = [0u8; 4];
                ok(
                    "read",
                    store.memory_read(inst, "memory", 3 * 65536 - 4, &mut end),
                )?;
                expect_eq("written by the host", end, [1, 2, 3, 4])?;
                ok("host grow", store.memory_grow(inst, "memory", 1))?;
                expect_export(&mut *store, inst, "size", &[], &[Val::I32(4)])
            }
        ),
        check!(
            "host/caller_without_memory",
            "a caller exporting no memory named `memory` has no memory_size, and reads and writes are ExportNotFound",
            |cx: &Ctx| {
                let mut l = Linker::new();
                l.func(
                    "env",
                    "probe",
                    FuncType::new([], []),
                    |caller: &mut dyn Caller<Host>, _, _| {
                        in_host(expect_eq("memory_size", caller.memory_size(), None))?;
                        in_host(expect_kind(
                            "read",
                            caller.read_memory(0, &mut [0]),
                            ErrorKind::ExportNotFound,
                        ))?;
                        in_host(expect_kind(
                            "write",
                            caller.write_memory(0, &[0]),
                            ErrorKind::ExportNotFound,
                        ))?;
                        caller.data_mut().counter += 1;
                        Ok(())
                    },
                );
                for (what, wat) in [
                    (
                        "unexported memory",
                        r#"(module (import "env" "probe" (func $p)) (memory 1)
                             (func (export "run") (call $p)))"#,
                    ),
                    (
                        "memory exported under another name",
                        r#"(module (import "env" "probe" (func $p)) (memory (export "mem") 1)
                             (func (export "run") (call $p)))"#,
                    ),
                    (
                        "no memory",
                        r#"(module (import "env" "probe" (func $p))
                             (func (export "run") (call $p)))"#,
                    ),
                ] {
                    let (mut store, inst) =
                        instance_with(cx, wat, &Config::new(), &Limits::new(), &l)?;
                    ok(what, store.call_export(inst, "run", &[]))?;
                    expect_eq(what, store.data().counter, 1)?;
                }
                Ok(())
            }
        ),
        check!(
            "host/caller_is_the_calling_instance",
            "with two instances of one module in a store, a host function sees the memory of the one that called it",
            |cx: &Ctx| {
                let mut l = Linker::new();
                define_peek(&mut l);
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let module = ok(
                    "compile",
                    engine.compile(&wasm(
                        r#"(module (import "env" "peek" (func $p (result i32)))
                             (memory (export "memory") 1)
                             (func (export "f") (result i32) call $p))"#,
                    )),
                )?;
                let mut store = ok("store", engine.store(Host::default(), &Limits::new()))?;
                let a = ok("instantiate", store.instantiate(&module, &l))?;
                let b = ok("instantiate", store.instantiate(&module, &l))?;
                ok("write", store.memory_write(a, "memory", 0, &[11]))?;
                ok("write", store.memory_write(b, "memory", 0, &[22]))?;
                expect_export(&mut *store, a, "f", &[], &[Val::I32(11)])?;
                expect_export(&mut *store, b, "f", &[], &[Val::I32(22)])?;
                expect_export(&mut *store, a, "f", &[], &[Val::I32(11)])
            }
        ),
        check!(
            "host/caller_call_reaches_the_calling_instance",
            "Caller::call runs the export of the instance that called, with that module's signature, when several instances of two modules share a store and call alternately",
            |cx: &Ctx| {
                let mut l = Linker::new();
                // `down(n)` of the caller: i32 if its signature takes one,
                // else i64; the result widened to i64.
                l.func(
                    "env",
                    "relay_down",
                    FuncType::new([ValType::I32], [ValType::I64]),
                    |caller: &mut dyn Caller<Host>, args, results| {
                        let n = args[0].as_i32().unwrap_or(0);
                        let mut r32 = [Val::I32(0)];
                        results[0] = match caller.call("down", &[Val::I32(n)], &mut r32) {
                            Ok(()) => Val::I64(i64::from(r32[0].as_i32().unwrap_or(0))),
                            Err(e) if e.kind() == ErrorKind::TypeMismatch => {
                                let mut r64 = [Val::I64(0)];
                                caller
                                    .call("down", &[Val::I64(i64::from(n))], &mut r64)
                                    .map_err(|e| HostError::new(e.to_string()))?;
                                r64[0]
                            }
                            Err(e) => return Err(HostError::new(e.to_string())),
                        };
                        Ok(())
                    },
                );
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let narrow = ok(
                    "compile",
                    engine.compile(&wasm(
                        r#"(module (import "env" "relay_down" (func $r (param i32) (result i64)))
                             (global (export "base") (mut i32) (i32.const 100))
                             (func (export "down") (param i32) (result i32)
                               (i32.add (global.get 0) (local.get 0)))
                             (func (export "go") (param i32) (result i64)
                               (call $r (local.get 0))))"#,
                    )),
                )?;
                let wide = ok(
                    "compile",
                    engine.compile(&wasm(
                        r#"(module (import "env" "relay_down" (func $r (param i32) (result i64)))
                             (func (export "down") (param i64) (result i64)
                               (i64.add (i64.const 1000) (local.get 0)))
                             (func (export "go") (param i32) (result i64)
                               (call $r (local.get 0))))"#,
                    )),
                )?;
                let mut store = ok("store", engine.store(Host::default(), &Limits::new()))?;
                let a = ok("instantiate", store.instantiate(&narrow, &l))?;
                let w = ok("instantiate", store.instantiate(&wide, &l))?;
                let b = ok("instantiate", store.instantiate(&narrow, &l))?;
                ok("set base", store.global_set(b, "base", Val::I32(300)))?;
                for n in 1..=3 {
                    let n64 = i64::from(n);
                    expect_export(&mut *store, a, "go", &[Val::I32(n)], &[Val::I64(100 + n64)])?;
                    expect_export(
                        &mut *store,
                        w,
                        "go",
                        &[Val::I32(n)],
                        &[Val::I64(1000 + n64)],
                    )?;
                    expect_export(&mut *store, b, "go", &[Val::I32(n)], &[Val::I64(300 + n64)])?;
                }
                Ok(())
            }
        ),
        check!(
            "host/caller_call_errors",
            "Caller::call reports a trapping export, a missing or non-function export and wrong arguments by kind; the store stays usable",
            |cx: &Ctx| {
                let mut l = Linker::new();
                l.func(
                    "env",
                    "probe",
                    FuncType::new([], []),
                    |caller: &mut dyn Caller<Host>, _, _| {
                        in_host(expect_kind(
                            "trapping export",
                            caller.call("boom", &[], &mut []),
                            ErrorKind::Trap(TrapCode::Unreachable),
                        ))?;
                        in_host(expect_kind(
                            "missing export",
                            caller.call("missing", &[], &mut []),
                            ErrorKind::ExportNotFound,
                        ))?;
                        in_host(expect_kind(
                            "memory export",
                            caller.call("memory", &[], &mut []),
                            ErrorKind::ExportNotFound,
                        ))?;
                        in_host(expect_kind(
                            "wrong argument type",
                            caller.call("id", &[Val::I64(1)], &mut [Val::I32(0)]),
                            ErrorKind::TypeMismatch,
                        ))?;
                        let mut r = [Val::I32(0)];
                        in_host(ok("id", caller.call("id", &[Val::I32(9)], &mut r)))?;
                        in_host(expect_eq("id", r, [Val::I32(9)]))?;
                        caller.data_mut().counter += 1;
                        Ok(())
                    },
                );
                l.func(
                    "env",
                    "relay",
                    FuncType::new([], []),
                    |caller: &mut dyn Caller<Host>, _, _| {
                        let e = match caller.call("boom", &[], &mut []) {
                            Err(e) => e,
                            Ok(()) => return Ok(()),
                        };
                        Err(HostError::new(format!("inner: {e}")))
                    },
                );
                let (mut store, inst) = instance_with(
                    cx,
                    r#"(module
                      (import "env" "probe" (func $p))
                      (import "env" "relay" (func $r))
                      (memory (export "memory") 1)
                      (func (export "boom") unreachable)
                      (func (export "id") (param i32) (result i32) local.get 0)
                      (func (export "run") (call $p))
                      (func (export "relay") (call $r)))"#,
                    &Config::new(),
                    &Limits::new(),
                    &l,
                )?;
                expect_export(&mut *store, inst, "run", &[], &[])?;
                expect_eq("probe ran", store.data().counter, 1)?;
                let e = match store.call_export(inst, "relay", &[]) {
                    Err(e) => e,
                    Ok(v) => return Err(format!("relay: expected an error, got {v:?}")),
                };
                expect_eq("relay kind", e.kind(), ErrorKind::Trap(TrapCode::HostError))?;
                let message = e.host_error().map(|h| h.message().to_owned());
                if !message
                    .as_deref()
                    .is_some_and(|m| m.contains("unreachable"))
                {
                    return Err(format!("relay: the inner trap is not in {message:?}"));
                }
                expect_export(&mut *store, inst, "id", &[Val::I32(4)], &[Val::I32(4)])
            }
        ),
        check!(
            "host/start_function",
            "a host function run by the start function, or imported as the start function, sees its instance: memory, exports to call, host state (plain, fuel, timeouts)",
            |cx: &Ctx| {
                let mut l = Linker::new();
                l.func(
                    "env",
                    "init",
                    FuncType::new([], []),
                    |caller: &mut dyn Caller<Host>, _, _| {
                        in_host(expect_eq(
                            "memory_size",
                            caller.memory_size(),
                            Some(2 * 65536),
                        ))?;
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
                let guest_start = r#"(module
                  (import "env" "init" (func $init))
                  (memory (export "memory") 2)
                  (func (export "seven") (result i32) i32.const 7)
                  (func $start call $init)
                  (start $start))"#;
                let host_start = r#"(module
                  (import "env" "init" (func $init))
                  (memory (export "memory") 2)
                  (func (export "seven") (result i32) i32.const 7)
                  (start $init))"#;
                let configs = [
                    ("plain", Config::new(), Limits::new()),
                    (
                        "fuel",
                        Config::new().consume_fuel(true),
                        Limits::new().fuel(1_000_000),
                    ),
                    (
                        "timeouts",
                        Config::new().timeouts(true),
                        Limits::new().timeout(std::time::Duration::from_secs(60)),
                    ),
                ];
                for (form, wat) in [("guest start", guest_start), ("host start", host_start)] {
                    for (mode, config, limits) in &configs {
                        let (mut store, inst) = instance_with(cx, wat, config, limits, &l)
                            .map_err(|e| format!("{form}, {mode}: {e}"))?;
                        expect_eq(
                            &format!("{form}, {mode}: start called seven"),
                            store.data().counter,
                            7,
                        )?;
                        let mut buf = [0u8; 4];
                        ok("read", store.memory_read(inst, "memory", 0, &mut buf))?;
                        expect_eq(&format!("{form}, {mode}: written in start"), &buf, b"init")?;
                    }
                }
                Ok(())
            }
        ),
        check!(
            "host/start_function_error",
            "a host function's error in the start function fails instantiation as Trap(HostError) with its message",
            |cx: &Ctx| {
                let mut l = Linker::new();
                l.func("env", "refuse", FuncType::new([], []), |_, _, _| {
                    Err(HostError::new("no init"))
                });
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let module = ok(
                    "compile",
                    engine.compile(&wasm(
                        r#"(module (import "env" "refuse" (func $r)) (start $r))"#,
                    )),
                )?;
                let mut store = ok("store", engine.store(Host::default(), &Limits::new()))?;
                let e = match store.instantiate(&module, &l) {
                    Err(e) => e,
                    Ok(_) => return Err("a failing start function instantiated".into()),
                };
                expect_eq(
                    "message",
                    e.host_error().map(|h| h.message().to_owned()),
                    Some("no init".to_owned()),
                )?;
                expect_kind(
                    "failing start",
                    Err::<(), _>(e),
                    ErrorKind::Trap(TrapCode::HostError),
                )
            }
        ),
        check!(
            "host/reentrant_metered",
            "re-entrant host -> guest calls work under fuel and timeouts and draw fuel from the store",
            |cx: &Ctx| {
                let config = Config::new().consume_fuel(true).timeouts(true);
                let limits = Limits::new()
                    .fuel(10_000_000)
                    .timeout(std::time::Duration::from_secs(60));
                let mut sb = ok(
                    "instantiate host.wat",
                    cx.sandbox(HOST, &config, &linker(), &limits),
                )?;
                expect_call(&mut sb, "down", &[Val::I32(20)], &[Val::I32(20)])?;
                let left = ok("fuel", sb.store_mut().fuel())?;
                // Twenty nested calls of a few instructions each: far less
                // than a tenth of the budget, whatever the engine's slicing.
                if left <= 9_000_000 || left >= 10_000_000 {
                    return Err(format!("fuel left after down(20): {left}"));
                }
                Ok(())
            }
        ),
        check!(
            "host/references",
            "externref and funcref cross host functions both ways; a funcref the store never made is a HostError",
            |cx: &Ctx| {
                let mut l = Linker::new();
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
                            Val::ExternRef(Some(ExternRef(n))) => {
                                Val::ExternRef(Some(ExternRef(n + 1)))
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
                        results[0] = Val::FuncRef(Some(FuncRef(9999)));
                        Ok(())
                    },
                );
                let (mut store, inst) = instance_with(
                    cx,
                    r#"(module
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
                      (func (export "g") (result funcref) call $bogus))"#,
                    &Config::new(),
                    &Limits::new(),
                    &l,
                )?;
                expect_export(
                    &mut *store,
                    inst,
                    "f",
                    &[Val::ExternRef(Some(ExternRef(41)))],
                    &[Val::ExternRef(Some(ExternRef(42))), Val::I32(5)],
                )?;
                expect_export(
                    &mut *store,
                    inst,
                    "f",
                    &[Val::ExternRef(None)],
                    &[Val::ExternRef(None), Val::I32(5)],
                )?;
                expect_trap(
                    "unknown funcref",
                    store.call_export(inst, "g", &[]),
                    TrapCode::HostError,
                )?;
                Ok(())
            }
        ),
        check!(
            "host/reexported",
            "a host function re-exported by an instance is callable directly, through a registered import and through a table, and keeps its caller",
            |cx: &Ctx| {
                let mut l = Linker::new();
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
                define_peek(&mut l);
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let lib = ok(
                    "compile lib",
                    engine.compile(&wasm(
                        r#"(module
                          (import "env" "bump" (func $b (result i64)))
                          (import "env" "peek" (func $peek (result i32)))
                          (export "bump" (func $b))
                          (memory (export "memory") 1)
                          (data (i32.const 0) "\2a")
                          (table (export "t") 1 funcref)
                          (elem (i32.const 0) $b)
                          (func (export "via_table") (result i64) i32.const 0 call_indirect (result i64))
                          (func (export "go") (result i32) (call $peek)))"#,
                    )),
                )?;
                let user = ok(
                    "compile user",
                    engine.compile(&wasm(
                        r#"(module
                          (import "lib" "bump" (func $b (result i64)))
                          (import "lib" "go" (func $go (result i32)))
                          (memory (export "memory") 1)
                          (data (i32.const 0) "\01")
                          (func (export "f") (result i64) call $b)
                          (func (export "go") (result i32) call $go))"#,
                    )),
                )?;
                let mut store = ok("store", engine.store(Host::default(), &Limits::new()))?;
                let a = ok("instantiate lib", store.instantiate(&lib, &l))?;
                ok("register", store.register("lib", a))?;
                let b = ok("instantiate user", store.instantiate(&user, &Linker::new()))?;
                expect_export(&mut *store, a, "bump", &[], &[Val::I64(1)])?;
                expect_export(&mut *store, b, "f", &[], &[Val::I64(2)])?;
                expect_export(&mut *store, a, "via_table", &[], &[Val::I64(3)])?;
                expect_eq("host state", store.data().counter, 3)?;
                let slot = ok("table_get", store.table_get(a, "t", 0))?;
                if !matches!(slot, Val::FuncRef(Some(_))) {
                    return Err(format!("table slot 0: {slot:?}"));
                }
                let bump = ok("get_func", store.get_func(a, "bump"))?;
                expect_eq(
                    "func_type",
                    ok("func_type", store.func_type(bump))?,
                    FuncType::new([], [ValType::I64]),
                )?;
                // lib's `go` calls `peek`: the caller is lib, whose memory holds 42,
                // even when user calls `go` through its import.
                expect_export(&mut *store, a, "go", &[], &[Val::I32(42)])?;
                expect_export(&mut *store, b, "go", &[], &[Val::I32(42)])
            }
        ),
        check!(
            "host/only_named_imports",
            "a linker may offer many more functions, of any signature, than a module imports",
            |cx: &Ctx| {
                let mut l = linker();
                for i in 0..50 {
                    l.func(
                        "env",
                        &format!("f{i}"),
                        FuncType::new([ValType::I64], [ValType::F32]),
                        |_, _, _| Err(HostError::new("never called")),
                    );
                }
                let (mut store, inst) = instance_with(
                    cx,
                    r#"(module (import "env" "bump" (func $b (result i64)))
                         (func (export "f") (result i64) call $b))"#,
                    &Config::new(),
                    &Limits::new(),
                    &l,
                )?;
                expect_export(&mut *store, inst, "f", &[], &[Val::I64(1)])
            }
        ),
    ]
}
