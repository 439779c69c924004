//! Host functions defined once, called from guests on every backend.

use anywasm::{
    Caller, Config, ErrorKind, FuncType, HostError, Limits, Linker, TrapCode, Val, ValType,
};

use super::{HOST, check};
use crate::harness::{expect_call, expect_eq, expect_trap, expecting_panic, ok};
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
    vec![
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
                expect_eq("panic", host.is_panic(), false)
            }
        ),
        check!(
            "host/panic",
            "a host panic becomes a typed error; the store keeps working",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
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
                expect_trap(
                    "one deeper",
                    sb.call("down", &[Val::I32(max + 1)]),
                    TrapCode::HostError,
                )?;
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
    ]
}
