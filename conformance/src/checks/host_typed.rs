//! Typed host functions (`Linker::func_wrap`, `Linker::abi_func`'s chain):
//! signatures derived from Rust types, values, errors and capabilities the
//! same on every backend.

use anywasm::{
    Capabilities, Config, ErrorKind, HostError, Limits, Linker, Plugin, Sandbox, TrapCode, Val,
};

use super::check;
use crate::guests::ABI_GUEST;
use crate::harness::{expect_call, expect_eq, expect_kind, expect_trap, expecting_panic, ok};
use crate::{Check, Ctx, Host};

/// What `env::panic` panics with, on purpose.
const PANIC_MESSAGE: &str = "typed host function exploded";

/// Guest side: each import's signature written out by hand, so instantiation
/// proves the derived one matches; each export forwards to one import.
const TYPED: &str = r#"(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (import "env" "mix" (func $mix (param i32 i64 f32 f64) (result f64 f32 i64 i32)))
  (import "env" "unsigned" (func $unsigned (param i32 i64) (result i64 i32)))
  (import "env" "tick" (func $tick))
  (import "env" "halve" (func $halve (param i32) (result i32)))
  (import "env" "panic" (func $panic))
  (func (export "add") (param i32 i32) (result i32)
    (call $add (local.get 0) (local.get 1)))
  (func (export "mix") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
    (call $mix (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "unsigned") (param i32 i64) (result i64 i32)
    (call $unsigned (local.get 0) (local.get 1)))
  (func (export "tick") (call $tick) (call $tick))
  (func (export "halve") (param i32) (result i32) (call $halve (local.get 0)))
  (func (export "panic") (call $panic)))"#;

/// The host side of [`TYPED`], every function typed.
fn linker() -> Linker<Host> {
    let mut l = Linker::<Host>::new();
    l.func_wrap("env", "add", |_, (a, b): (i32, i32)| Ok(a.wrapping_add(b)));
    // Every numeric type in, all of them back in reverse order.
    l.func_wrap("env", "mix", |_, (a, b, c, d): (i32, i64, f32, f64)| {
        Ok((d, c, b, a))
    });
    // u32/u64 are the same wasm values read unsigned.
    l.func_wrap("env", "unsigned", |_, (a, b): (u32, u64)| {
        Ok((b / 2, a / 2))
    });
    l.func_wrap("env", "tick", |caller, (): ()| {
        caller.data_mut().counter += 1;
        Ok(())
    });
    l.func_wrap("env", "halve", |_, x: i32| {
        if x % 2 == 0 {
            Ok(x / 2)
        } else {
            Err(HostError::new(format!("{x} is odd")))
        }
    });
    l.func_wrap("env", "panic", |_, (): ()| -> Result<(), HostError> {
        panic!("{PANIC_MESSAGE}")
    });
    l
}

fn sandbox(cx: &Ctx) -> Result<anywasm::Sandbox<Host>, String> {
    ok(
        "instantiate the typed-host module",
        cx.sandbox(TYPED, &Config::new(), &linker(), &Limits::new()),
    )
}

/// Guest side of `host_typed/native_shapes`: imports at the edges of the
/// shapes wasmtime, wasmer and wasmi pass natively (up to four `i32`/`i64`
/// parameters, no result or one `i32`/`i64`) and just past them.
const SHAPES: &str = r#"(module
  (import "env" "mix4" (func $mix4 (param i32 i64 i32 i64) (result i64)))
  (import "env" "sum5" (func $sum5 (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "store" (func $store (param i64)))
  (import "env" "load" (func $load (result i64)))
  (import "env" "reenter" (func $reenter (param i32) (result i32)))
  (func (export "mix4") (param i32 i64 i32 i64) (result i64)
    (call $mix4 (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "sum5") (param i32 i32 i32 i32 i32) (result i32)
    (call $sum5 (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
  (func (export "store_load") (param i64) (result i64)
    (call $store (local.get 0)) (call $load))
  (func (export "reenter") (param i32) (result i32) (call $reenter (local.get 0)))
  (func (export "double") (param i32) (result i32)
    (i32.add (local.get 0) (local.get 0))))"#;

/// What `env::mix4` computes: every parameter in its own bits, the
/// unsigned ones zero-extended.
fn mix4(a: u32, b: u64, c: i32, d: i64) -> u64 {
    (a as u64) ^ (b << 1) ^ ((c as u32 as u64) << 7) ^ (d as u64).rotate_left(13)
}

/// The host side of [`SHAPES`].
fn shapes_linker() -> Linker<Host> {
    let mut l = Linker::<Host>::new();
    l.func_wrap("env", "mix4", |_, (a, b, c, d): (u32, u64, i32, i64)| {
        Ok(mix4(a, b, c, d))
    });
    l.func_wrap(
        "env",
        "sum5",
        |_, (a, b, c, d, e): (i32, i32, i32, i32, i32)| {
            Ok(a.wrapping_sub(b)
                .wrapping_add(c * 3)
                .wrapping_sub(d * 5)
                .wrapping_add(e * 7))
        },
    );
    l.func_wrap("env", "store", |caller, x: i64| {
        caller.data_mut().counter = x;
        Ok(())
    });
    l.func_wrap("env", "load", |caller, (): ()| Ok(caller.data().counter));
    l.func_wrap("env", "reenter", |caller, x: i32| {
        let mut out = [Val::I32(0)];
        caller
            .call("double", &[Val::I32(x)], &mut out)
            .map_err(|e| HostError::new(e.to_string()))?;
        Ok(out[0].as_i32().unwrap_or(0) + 1)
    });
    l
}

/// Loading the ABI guest (which imports `anywasm::add`) with `linker`,
/// granting `granted`.
fn load_abi_guest(
    cx: &Ctx,
    linker: &Linker<Host>,
    granted: &Capabilities,
) -> anywasm::Result<Plugin<Host>> {
    let engine = cx.engine(&Config::new())?;
    Plugin::builder(&*engine)
        .linker(linker)
        .capabilities(granted)
        .data(Host::default())
        .build(ABI_GUEST)
}

/// `Err` unless `r` is `CapabilityDenied` naming `capability`.
fn expect_denied<T>(what: &str, r: anywasm::Result<T>, capability: &str) -> Result<(), String> {
    match r {
        Err(e)
            if e.kind() == ErrorKind::CapabilityDenied
                && e.message().contains(&format!("`{capability}`")) =>
        {
            Ok(())
        }
        Err(e) => Err(format!(
            "{what}: expected CapabilityDenied naming `{capability}`, got {e}"
        )),
        Ok(_) => Err(format!(
            "{what}: expected CapabilityDenied naming `{capability}`, it loaded"
        )),
    }
}

/// A guest that hands the typed `anywasm::add` a request range past its
/// one page of memory.
const OUT_OF_RANGE_REQUEST: &str = r#"(module
  (import "anywasm" "add" (func $add (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (func (export "anywasm_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "anywasm_free") (param i32 i32))
  (func (export "bad_request") (result i64)
    (call $add (i32.const 0xfff0) (i32.const 32))))"#;

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "host_typed/round_trip",
            "func_wrap: the derived signatures link, and i32/u32/i64/u64/f32/f64 arguments and tuple results round-trip bit-exactly",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                expect_call(
                    &mut sb,
                    "add",
                    &[Val::I32(i32::MAX), Val::I32(1)],
                    &[Val::I32(i32::MIN)],
                )?;
                expect_call(
                    &mut sb,
                    "mix",
                    &[
                        Val::I32(-7),
                        Val::I64(i64::MIN),
                        Val::F32(0x7fa0_0001),
                        Val::F64(0xfff0_0000_0000_0001),
                    ],
                    &[
                        Val::F64(0xfff0_0000_0000_0001),
                        Val::F32(0x7fa0_0001),
                        Val::I64(i64::MIN),
                        Val::I32(-7),
                    ],
                )?;
                expect_call(
                    &mut sb,
                    "unsigned",
                    &[Val::I32(-1), Val::I64(-1)],
                    &[Val::I64(i64::MAX), Val::I32(i32::MAX)],
                )?;
                expect_call(&mut sb, "tick", &[], &[])?;
                expect_eq("ticks seen by the host state", sb.data().counter, 2)
            }
        ),
        check!(
            "host_typed/error_traps",
            "func_wrap: an Err or a panic traps the guest with HostError, the message intact; the store keeps working",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                expect_call(&mut sb, "halve", &[Val::I32(84)], &[Val::I32(42)])?;
                let e = match sb.call("halve", &[Val::I32(7)]) {
                    Err(e) => e,
                    Ok(v) => return Err(format!("halve(7): expected a trap, got {v:?}")),
                };
                expect_eq("kind", e.kind(), ErrorKind::Trap(TrapCode::HostError))?;
                let host = e.host_error().ok_or("the HostError is not recoverable")?;
                expect_eq("message", host.message(), "7 is odd")?;
                let panicked = expecting_panic(PANIC_MESSAGE, || sb.call("panic", &[]));
                expect_trap("panic", panicked, TrapCode::HostError)?;
                expect_call(&mut sb, "halve", &[Val::I32(-4)], &[Val::I32(-2)])
            }
        ),
        check!(
            "host_typed/native_shapes",
            "func_wrap at the edges of the shapes engines pass natively (four i32/i64 parameters read as u32/u64, an i64 result, host state, a re-entrant call) and past them (five parameters) gives exact values",
            |cx: &Ctx| {
                let mut sb = ok(
                    "instantiate the shapes module",
                    cx.sandbox(SHAPES, &Config::new(), &shapes_linker(), &Limits::new()),
                )?;
                for (a, b, c, d) in [
                    (-1i32, -1i64, -1i32, -1i64),
                    (i32::MIN, i64::MIN, 1, i64::MAX),
                    (0x1234_5678, 0x0123_4567_89ab_cdef, -0x7654_3210, -2),
                ] {
                    let want = mix4(a as u32, b as u64, c, d) as i64;
                    expect_call(
                        &mut sb,
                        "mix4",
                        &[Val::I32(a), Val::I64(b), Val::I32(c), Val::I64(d)],
                        &[Val::I64(want)],
                    )?;
                }
                expect_call(
                    &mut sb,
                    "sum5",
                    &[1, 2, 3, 4, 5].map(Val::I32),
                    &[Val::I32(1 - 2 + 9 - 20 + 35)],
                )?;
                for x in [i64::MIN, -1, 0x7ead_beef_0000_0001] {
                    expect_call(&mut sb, "store_load", &[Val::I64(x)], &[Val::I64(x)])?;
                }
                expect_eq("host state", sb.data().counter, 0x7ead_beef_0000_0001)?;
                expect_call(&mut sb, "reenter", &[Val::I32(20)], &[Val::I32(41)])
            }
        ),
        check!(
            "host_typed/signature_mismatch",
            "func_wrap: a module importing a typed host function with another signature is Unlinkable",
            |cx: &Ctx| {
                for (what, import) in [
                    ("param types", r#"(func (param i64 i64) (result i32))"#),
                    ("param count", r#"(func (param i32) (result i32))"#),
                    ("result type", r#"(func (param i32 i32) (result i64))"#),
                    ("result count", r#"(func (param i32 i32))"#),
                ] {
                    let wat =
                        format!(r#"(module (import "env" "add" {import}) (func (export "run")))"#);
                    expect_kind(
                        what,
                        cx.sandbox(&wat, &Config::new(), &linker(), &Limits::new())
                            .map(|_| ()),
                        ErrorKind::Unlinkable,
                    )?;
                }
                Ok(())
            }
        ),
        check!(
            "host_typed/capability",
            "func_wrap(..).capability(c): a plugin importing it loads only if granted c",
            |cx: &Ctx| {
                // The ABI guest's `anywasm::add` import, as a typed raw function.
                let mut l = Linker::<Host>::new();
                l.func_wrap("anywasm", "add", |_, (_ptr, _len): (i32, i32)| Ok(0i64))
                    .capability("math");
                expect_denied(
                    "nothing granted",
                    load_abi_guest(cx, &l, &Capabilities::none()),
                    "math",
                )?;
                ok(
                    "math granted",
                    load_abi_guest(cx, &l, &Capabilities::none().grant("math")),
                )
                .map(|_| ())
            }
        ),
        check!(
            "host_typed/abi_default_capability",
            "abi_func without .capability is gated by its own name: denied until that name is granted",
            |cx: &Ctx| {
                let mut l = Linker::<Host>::new();
                l.abi_func("add", |caller, (a, b): (i32, i32)| {
                    caller.data_mut().counter += 1;
                    Ok(a + b)
                })
                .message_cap(1 << 10);
                expect_denied(
                    "nothing granted",
                    load_abi_guest(cx, &l, &Capabilities::none()),
                    "add",
                )?;
                expect_denied(
                    "another capability granted",
                    load_abi_guest(cx, &l, &Capabilities::none().grant("math")),
                    "add",
                )?;
                let mut p = ok(
                    "add granted",
                    load_abi_guest(cx, &l, &Capabilities::none().grant("add")),
                )?;
                let sum: i32 = ok("add_via_host", p.call("add_via_host", &(40, 2)))?;
                expect_eq("sum", sum, 42)?;
                expect_eq("host saw the call", p.data().counter, 1)
            }
        ),
        check!(
            "host_typed/sandbox_capability",
            "a Sandbox grants no capability unless built with it: a gated import fails before instantiation, naming it",
            |cx: &Ctx| {
                let mut l = Linker::<Host>::new();
                l.func_wrap("env", "tick", |caller, (): ()| {
                    caller.data_mut().counter += 1;
                    Ok(())
                })
                .capability("clock");
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let wasm = crate::harness::wasm(
                    r#"(module (import "env" "tick" (func $tick))
                         (start $tick)
                         (func (export "run") (call $tick)))"#,
                );
                expect_kind(
                    "Sandbox::new",
                    Sandbox::new(&*engine, &wasm, &l, Host::default(), &Limits::new()),
                    ErrorKind::CapabilityDenied,
                )?;
                expect_denied(
                    "builder, nothing granted",
                    Sandbox::builder(&*engine).linker(&l).build(&wasm),
                    "clock",
                )?;
                expect_denied(
                    "builder, another capability granted",
                    Sandbox::builder(&*engine)
                        .linker(&l)
                        .capabilities(&Capabilities::none().grant("net"))
                        .build(&wasm),
                    "clock",
                )?;
                let mut sb = ok(
                    "clock granted",
                    Sandbox::builder(&*engine)
                        .linker(&l)
                        .capabilities(&Capabilities::none().grant("clock"))
                        .build(&wasm),
                )?;
                ok("run", sb.call("run", &[]))?;
                // The start function ran once, `run` once: never before the grant.
                expect_eq("ticks", sb.data().counter, 2)
            }
        ),
        check!(
            "host_typed/abi_message_cap",
            "abi_func(..).message_cap(n): a request over n bytes traps with HostError before the closure runs",
            |cx: &Ctx| {
                let mut l = Linker::<Host>::new();
                // A bincode (i32, i32) is 2 to 10 bytes: a 1-byte cap refuses it.
                l.abi_func("add", |caller, (a, b): (i32, i32)| {
                    caller.data_mut().counter += 1;
                    Ok(a + b)
                })
                .capability("math")
                .message_cap(1);
                let mut p = ok(
                    "load",
                    load_abi_guest(cx, &l, &Capabilities::none().grant("math")),
                )?;
                let r: anywasm::Result<i32> = p.call("add_via_host", &(40, 2));
                expect_trap("over the cap", r, TrapCode::HostError)?;
                expect_eq("the closure never ran", p.data().counter, 0)
            }
        ),
        check!(
            "host_typed/abi_request_out_of_range",
            "abi_func: a request range outside guest memory traps with HostError naming the range and the memory size, before the closure runs",
            |cx: &Ctx| {
                let mut l = Linker::<Host>::new();
                l.abi_func("add", |caller, (a, b): (i32, i32)| {
                    caller.data_mut().counter += 1;
                    Ok(a + b)
                })
                .ungated();
                let mut sb = ok(
                    "instantiate",
                    cx.sandbox(OUT_OF_RANGE_REQUEST, &Config::new(), &l, &Limits::new()),
                )?;
                let r = sb.call("bad_request", &[]);
                let message = r.as_ref().err().map(|e| e.message().to_string());
                expect_trap("out-of-range request", r, TrapCode::HostError)?;
                let message = message.unwrap_or_default();
                let wanted = "(ptr 0xfff0, len 32), outside guest memory of 65536 bytes";
                if !message.contains(wanted) {
                    return Err(format!("message {message:?} does not contain {wanted:?}"));
                }
                expect_eq("the closure never ran", sb.data().counter, 0)
            }
        ),
    ]
}
