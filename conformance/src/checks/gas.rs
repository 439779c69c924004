//! Engine-neutral gas (`Config::gas`, `Limits::gas`): exact use from the
//! documented cost table, exhaustion, size-dependent charges, a trap paying
//! for its segment, and the same count on every engine for a real plugin.

use anywasm::{BackendKind, Config, ErrorKind, Limits, Linker, Plugin, TrapCode, Val};
use anywasm_test_types::sample_records;

use super::check;
use crate::harness::{expect_call, expect_eq, expect_kind, expect_trap, ok, wasm};
use crate::{Check, Ctx, Host};

const GAS: &str = include_str!("../../fixtures/gas.wat");

fn metered(cx: &Ctx, budget: u64) -> Result<anywasm::Sandbox<Host>, String> {
    ok(
        "instantiate gas.wat",
        cx.sandbox(
            GAS,
            &Config::new().gas(true),
            &Linker::new(),
            &Limits::new().gas(budget),
        ),
    )
}

/// Gas one call used, checking it returned `want`.
fn used(
    sb: &mut anywasm::Sandbox<Host>,
    name: &str,
    args: &[Val],
    want: &[Val],
) -> Result<u64, String> {
    let before = ok("gas", sb.store_mut().gas())?;
    expect_call(sb, name, args, want)?;
    let after = ok("gas", sb.store_mut().gas())?;
    Ok(before - after)
}

/// The gas the ABI guest's `echo_records` of the sample records uses on
/// `kind`.
fn plugin_gas(kind: BackendKind) -> anywasm::Result<u64> {
    let engine = anywasm::engine::<Host>(kind, &Config::new().gas(true))?;
    let (linker, math) = crate::abi_linker(|h: &mut Host| h.counter += 1);
    let mut p = Plugin::load(
        &*engine,
        crate::guests::ABI_GUEST,
        &linker,
        &math,
        Host::default(),
        &Limits::new().gas(1 << 40),
    )?;
    let records = sample_records(20);
    let before = p.store_mut().gas()?;
    let back: Vec<anywasm_test_types::Record> = p.call("echo_records", &records)?;
    let sum: i32 = p.call("add_via_host", &(40, 2))?;
    if back != records || sum != 42 {
        return Err(anywasm::Error::new(
            ErrorKind::Engine,
            "the plugin answered wrongly",
        ));
    }
    Ok(before - p.store_mut().gas()?)
}

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "gas/exact_use",
            "a loop uses exactly the gas the cost table gives (9n + 5), call after call",
            |cx: &Ctx| {
                let mut sb = metered(cx, 1_000_000)?;
                for n in [0, 1, 10, 1000] {
                    let got = used(&mut sb, "count", &[Val::I32(n)], &[Val::I32(n)])?;
                    expect_eq(&format!("count({n})"), got, 9 * n as u64 + 5)?;
                }
                expect_eq(
                    "two calls through call",
                    used(&mut sb, "twice", &[], &[Val::I32(1)])?,
                    41,
                )
            }
        ),
        check!(
            "gas/exhaustion",
            "running out of gas is Trap(OutOfFuel) with 0 left; a refill lets calls run again",
            |cx: &Ctx| {
                let mut sb = metered(cx, 500)?;
                expect_trap(
                    "count(100)",
                    sb.call("count", &[Val::I32(100)]),
                    TrapCode::OutOfFuel,
                )?;
                expect_eq("left", ok("gas", sb.store_mut().gas())?, 0)?;
                expect_trap(
                    "empty store",
                    sb.call("count", &[Val::I32(0)]),
                    TrapCode::OutOfFuel,
                )?;
                ok("set_gas", sb.store_mut().set_gas(1_000))?;
                expect_eq(
                    "after refill",
                    used(&mut sb, "count", &[Val::I32(3)], &[Val::I32(3)])?,
                    32,
                )?;
                expect_trap("spin", sb.call("spin", &[]), TrapCode::OutOfFuel)
            }
        ),
        check!(
            "gas/exhaustion_point",
            "a budget runs out at the same charge on every engine: just enough completes, one less does not",
            |cx: &Ctx| {
                let mut sb = metered(cx, 9 * 50 + 5)?;
                expect_call(&mut sb, "count", &[Val::I32(50)], &[Val::I32(50)])?;
                expect_eq("left", ok("gas", sb.store_mut().gas())?, 0)?;
                ok("set_gas", sb.store_mut().set_gas(9 * 50 + 4))?;
                expect_trap(
                    "one short",
                    sb.call("count", &[Val::I32(50)]),
                    TrapCode::OutOfFuel,
                )
            }
        ),
        check!(
            "gas/size_dependent",
            "memory.fill pays per 64 bytes, memory.grow per page it grew; a refused grow pays its flat cost only",
            |cx: &Ctx| {
                let mut sb = metered(cx, 100_000_000)?;
                expect_eq("fill(0)", used(&mut sb, "fill", &[Val::I32(0)], &[])?, 8)?;
                expect_eq("fill(1)", used(&mut sb, "fill", &[Val::I32(1)], &[])?, 9)?;
                expect_eq(
                    "fill(65536)",
                    used(&mut sb, "fill", &[Val::I32(65536)], &[])?,
                    8 + 1024,
                )?;
                expect_eq(
                    "grow(2)",
                    used(&mut sb, "grow", &[Val::I32(2)], &[Val::I32(1)])?,
                    101 + 2 * 1024,
                )?;
                // 65536 pages is more than any memory may have: refused (-1),
                // charged the flat cost alone (a refused grow must return -1
                // on every engine, not run a budget out).
                expect_eq(
                    "grow(65536)",
                    used(&mut sb, "grow", &[Val::I32(65536)], &[Val::I32(-1)])?,
                    101,
                )
            }
        ),
        check!(
            "gas/bulk_memory_is_bounded",
            "a loop of 64 KiB memory.fill runs out of a small budget instead of running on",
            |cx: &Ctx| {
                let mut sb = metered(cx, 100_000)?;
                let mut calls = 0;
                loop {
                    match sb.call("fill", &[Val::I32(65536)]) {
                        Ok(_) => calls += 1,
                        Err(e) if e.kind() == ErrorKind::Trap(TrapCode::OutOfFuel) => break,
                        Err(e) => return Err(format!("fill: unexpected error: {e}")),
                    }
                    if calls > 1000 {
                        return Err("100k gas paid for more than 1000 fills of 64 KiB".into());
                    }
                }
                // 1032 gas a fill: 96 fit in 100 000.
                expect_eq("fills", calls, 96)
            }
        ),
        check!(
            "gas/trap_pays_its_segment",
            "a trapping call is charged for its whole segment, before the trap",
            |cx: &Ctx| {
                let mut sb = metered(cx, 1_000)?;
                expect_trap("trap", sb.call("trap", &[]), TrapCode::Unreachable)?;
                expect_eq("left", ok("gas", sb.store_mut().gas())?, 1_000 - 3)
            }
        ),
        check!(
            "gas/start_function",
            "a start function is metered: one that never ends fails instantiation with OutOfFuel",
            |cx: &Ctx| {
                let r = cx.sandbox(
                    "(module (func $s (loop $l (br $l))) (start $s))",
                    &Config::new().gas(true),
                    &Linker::new(),
                    &Limits::new().gas(10_000),
                );
                expect_kind(
                    "instantiate",
                    r.map(|_| ()),
                    ErrorKind::Trap(TrapCode::OutOfFuel),
                )
            }
        ),
        check!(
            "gas/counter_unreachable",
            "the counter is invisible: not in the module's imports or exports, and a module importing it is refused",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new().gas(true)))?;
                let module = ok("compile", engine.compile(&wasm(GAS)))?;
                expect_eq("imports", module.imports().len(), 0)?;
                expect_eq(
                    "exports",
                    module
                        .exports()
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>(),
                    vec!["memory", "count", "fill", "grow", "trap", "twice", "spin"],
                )?;
                let thief = r#"(module
                  (import "anywasm:gas" "remaining" (global $g (mut i64)))
                  (func (export "steal") (global.set $g (i64.const 0x7fffffffffffffff))))"#;
                expect_kind(
                    "compile a module importing the counter",
                    engine.compile(&wasm(thief)).map(|_| ()),
                    ErrorKind::Unlinkable,
                )
            }
        ),
        check!(
            "gas/needs_config",
            "a gas budget on an engine without Config::gas is Unsupported, as is reading gas",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                expect_kind(
                    "store",
                    engine
                        .store(Host::default(), &Limits::new().gas(10))
                        .map(|_| ()),
                    ErrorKind::Unsupported,
                )?;
                let mut store = ok("store", engine.store(Host::default(), &Limits::new()))?;
                expect_kind("gas", store.gas(), ErrorKind::Unsupported)
            }
        ),
        check!(
            "gas/same_on_every_engine",
            "a Rust plugin's calls use exactly the same gas on every compiled-in engine",
            |cx: &Ctx| {
                let here = ok("plugin on this engine", plugin_gas(cx.backend()))?;
                if here == 0 {
                    return Err("the calls used no gas".into());
                }
                for &other in anywasm::compiled_backends() {
                    let there = ok(&format!("plugin on {other}"), plugin_gas(other))?;
                    expect_eq(&format!("gas here vs on {other}"), here, there)?;
                }
                Ok(())
            }
        ),
        check!(
            "gas/plugin_exhaustion",
            "a plugin call that runs out of gas is Trap(OutOfFuel); the next call gets a fresh instance",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new().gas(true)))?;
                let (linker, math) = crate::abi_linker(|h: &mut Host| h.counter += 1);
                let mut p = ok(
                    "load",
                    Plugin::load(
                        &*engine,
                        crate::guests::ABI_GUEST,
                        &linker,
                        &math,
                        Host::default(),
                        &Limits::new().gas(5_000_000),
                    ),
                )?;
                expect_kind(
                    "spin",
                    p.call::<_, ()>("spin", &()),
                    ErrorKind::Trap(TrapCode::OutOfFuel),
                )?;
                ok("refill", p.store_mut().set_gas(5_000_000))?;
                ok("noop", p.call::<_, ()>("noop", &()))
            }
        ),
    ]
}
