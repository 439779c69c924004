//! The limit model: memory, tables, instances, fuel, timeouts, stack.

use std::time::Duration;

use anywasm::{
    Config, ErrorKind, FuncType, HostError, InstancePool, Limits, Linker, Resource, TrapCode, Val,
    ValType,
};

use super::{LIMITS, check};
use crate::harness::{expect_call, expect_eq, expect_kind, expect_trap, ok, wasm};
use crate::{Capability, Check, Ctx, Host};

const PAGE: u64 = 65536;

/// A start function that never returns.
const START_SPINS: &str = "(module (func $s (loop br 0)) (start $s))";

/// `run` calls the host's `env.h`, which calls `spin` back: a guest loop
/// inside a re-entrant call.
const REENTER_SPIN: &str = r#"(module
  (import "env" "h" (func $h))
  (func (export "run") (call $h))
  (func (export "spin") (loop br 0)))"#;

/// A host `env.h` that calls the guest's `spin` and fails with the inner
/// error's kind as its message (`Ok` if the inner call returned).
fn reenter_spin_linker() -> Linker<Host> {
    let mut l = Linker::new();
    l.func(
        "env",
        "h",
        FuncType::new([], []),
        |caller, _, _| match caller.call("spin", &[], &mut []) {
            Ok(()) => Err(HostError::new("Ok")),
            Err(e) => Err(HostError::new(format!("{:?}", e.kind()))),
        },
    );
    l
}

/// Expect `Trap(HostError)` whose host error message is `message`.
fn expect_host_error<T: std::fmt::Debug>(
    what: &str,
    r: anywasm::Result<T>,
    message: &str,
) -> Result<(), String> {
    let msg = match &r {
        Err(e) => e.host_error().map(|h| h.message().to_string()),
        Ok(_) => None,
    };
    expect_trap(what, r, TrapCode::HostError)?;
    expect_eq(what, msg.as_deref(), Some(message))
}

/// The fuel left in `store`.
fn fuel(store: &mut dyn anywasm::DynStore<Host>) -> Result<u64, String> {
    ok("fuel", store.fuel())
}

fn limited(
    cx: &Ctx,
    config: &Config,
    limits: &Limits,
) -> Result<anywasm::Sandbox<crate::Host>, String> {
    ok(
        "instantiate limits.wat",
        cx.sandbox(LIMITS, config, &Linker::new(), limits),
    )
}

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "limits/memory_grow_past_cap",
            "memory.grow past the cap returns -1 without trapping; a smaller grow that fits still succeeds",
            |cx: &Ctx| {
                let mut sb = limited(cx, &Config::new(), &Limits::new().memory_bytes(4 * PAGE))?;
                expect_call(&mut sb, "grow", &[Val::I32(2)], &[Val::I32(1)])?;
                expect_call(&mut sb, "grow", &[Val::I32(2)], &[Val::I32(-1)])?;
                expect_call(&mut sb, "size", &[], &[Val::I32(3)])?;
                expect_call(&mut sb, "grow", &[Val::I32(1)], &[Val::I32(3)])?;
                expect_call(&mut sb, "grow", &[Val::I32(1)], &[Val::I32(-1)])?;
                expect_call(&mut sb, "grow", &[Val::I32(0x7fff)], &[Val::I32(-1)])?;
                expect_call(&mut sb, "size", &[], &[Val::I32(4)])
            }
        ),
        check!(
            "limits/memory_host_grow_past_cap",
            "host memory_grow past the cap (by one page or by u64::MAX) is LimitExceeded(Memory) with a message; growing by 0 at the cap works",
            |cx: &Ctx| {
                let mut sb = limited(cx, &Config::new(), &Limits::new().memory_bytes(2 * PAGE))?;
                let inst = sb.instance();
                expect_eq(
                    "grow",
                    ok("grow", sb.store_mut().memory_grow(inst, "memory", 1))?,
                    1,
                )?;
                let r = sb.store_mut().memory_grow(inst, "memory", 1);
                if let Err(e) = &r
                    && e.message().is_empty()
                {
                    return Err(format!("grow past cap: empty message: {e:?}"));
                }
                expect_kind(
                    "grow past cap",
                    r,
                    ErrorKind::LimitExceeded(Resource::Memory),
                )?;
                expect_kind(
                    "grow by u64::MAX",
                    sb.store_mut().memory_grow(inst, "memory", u64::MAX),
                    ErrorKind::LimitExceeded(Resource::Memory),
                )?;
                expect_eq(
                    "grow by 0 at the cap",
                    ok("grow 0", sb.store_mut().memory_grow(inst, "memory", 0))?,
                    2,
                )?;
                expect_eq(
                    "memory_size",
                    ok("memory_size", sb.store_mut().memory_size(inst, "memory"))?,
                    2 * PAGE,
                )?;
                expect_call(&mut sb, "size", &[], &[Val::I32(2)])
            }
        ),
        check!(
            "limits/memory_initial_over_cap",
            "a module whose initial memory exceeds the cap fails to instantiate; the store stays usable and a start function growing past the cap sees -1",
            |cx: &Ctx| {
                let r = cx.sandbox(
                    "(module (memory 100))",
                    &Config::new(),
                    &Linker::new(),
                    &Limits::new().memory_bytes(10 * PAGE),
                );
                expect_kind(
                    "instantiate",
                    r.map(|_| ()),
                    ErrorKind::LimitExceeded(Resource::Memory),
                )?;
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let five = ok("compile", engine.compile(&wasm("(module (memory 5))")))?;
                let grows_in_start = ok(
                    "compile",
                    engine.compile(&wasm(
                        r#"(module (memory 1) (global $g (export "g") (mut i32) (i32.const 0))
                          (func $s (global.set $g (memory.grow (i32.const 10)))) (start $s))"#,
                    )),
                )?;
                let one = ok("compile", engine.compile(&wasm("(module (memory 1))")))?;
                let mut store = ok(
                    "store",
                    engine.store(Host::default(), &Limits::new().memory_bytes(4 * PAGE)),
                )?;
                let r = store.instantiate(&five, &Linker::new());
                expect_kind("five pages", r, ErrorKind::LimitExceeded(Resource::Memory))?;
                let inst = ok(
                    "start grows",
                    store.instantiate(&grows_in_start, &Linker::new()),
                )?;
                expect_eq(
                    "memory.grow in start",
                    ok("g", store.global_get(inst, "g"))?,
                    Val::I32(-1),
                )?;
                ok("one page", store.instantiate(&one, &Linker::new()))?;
                // Another store on the same engine has its own cap.
                let mut big = ok(
                    "store",
                    engine.store(Host::default(), &Limits::new().memory_bytes(8 * PAGE)),
                )?;
                ok("five pages under 8", big.instantiate(&five, &Linker::new())).map(|_| ())
            }
        ),
        check!(
            "limits/memory_cap_below_a_page",
            "a memory cap below one page still admits memory-less and zero-page modules; growing one page is LimitExceeded(Memory)",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let mut store = ok(
                    "store",
                    engine.store(Host::default(), &Limits::new().memory_bytes(1000)),
                )?;
                let none = ok("compile", engine.compile(&wasm("(module)")))?;
                ok("no memory", store.instantiate(&none, &Linker::new()))?;
                let zero = ok(
                    "compile",
                    engine.compile(&wasm(r#"(module (memory (export "m") 0))"#)),
                )?;
                let inst = ok("zero pages", store.instantiate(&zero, &Linker::new()))?;
                expect_kind(
                    "grow",
                    store.memory_grow(inst, "m", 1),
                    ErrorKind::LimitExceeded(Resource::Memory),
                )?;
                expect_eq("size", ok("size", store.memory_size(inst, "m"))?, 0)
            }
        ),
        check!(
            "limits/memory_declared_max",
            "a memory's declared maximum binds under a larger cap: guest growth past it is -1, host growth LimitExceeded(Memory)",
            |cx: &Ctx| {
                let mut sb = ok(
                    "instantiate",
                    cx.sandbox(
                        r#"(module (memory (export "memory") 1 2)
                          (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))"#,
                        &Config::new(),
                        &Linker::new(),
                        &Limits::new().memory_bytes(100 * PAGE),
                    ),
                )?;
                expect_call(&mut sb, "grow", &[Val::I32(2)], &[Val::I32(-1)])?;
                let inst = sb.instance();
                expect_kind(
                    "host grow by 5",
                    sb.store_mut().memory_grow(inst, "memory", 5),
                    ErrorKind::LimitExceeded(Resource::Memory),
                )?;
                expect_call(&mut sb, "grow", &[Val::I32(1)], &[Val::I32(1)])?;
                expect_kind(
                    "host grow past the maximum",
                    sb.store_mut().memory_grow(inst, "memory", 1),
                    ErrorKind::LimitExceeded(Resource::Memory),
                )
            }
        ),
        check!(
            "limits/initial_memory_cap",
            "Limits::initial_memory_bytes refuses a module that starts larger, before compiling; growth past it stays allowed",
            |cx: &Ctx| {
                // Imported and defined memories both count, the larger decides.
                const TWO: &str = r#"(module (import "env" "m" (memory 1)) (memory 3))"#;
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let r = anywasm::Sandbox::new(
                    &*engine,
                    &wasm(TWO),
                    &Linker::new(),
                    crate::Host::default(),
                    &Limits::new().initial_memory_bytes(2 * PAGE),
                );
                let e = match r {
                    Ok(_) => return Err("a 3-page memory loaded under a 2-page cap".into()),
                    Err(e) => e,
                };
                expect_eq(
                    "kind",
                    e.kind(),
                    ErrorKind::LimitExceeded(Resource::InitialMemory),
                )?;
                expect_eq("backend", e.backend(), Some(cx.backend()))?;
                let limits = Limits::new().initial_memory_bytes(PAGE);
                let mut sb = limited(cx, &Config::new(), &limits)?;
                expect_call(&mut sb, "grow", &[Val::I32(2)], &[Val::I32(1)])?;
                expect_call(&mut sb, "size", &[], &[Val::I32(3)])
            }
        ),
        check!(
            "limits/table_grow_past_cap",
            "table.grow past the cap returns -1, host table_grow past it is LimitExceeded(Table); the size stays at the cap",
            |cx: &Ctx| {
                let mut sb = limited(cx, &Config::new(), &Limits::new().table_elements(10))?;
                expect_call(&mut sb, "table_grow", &[Val::I32(20)], &[Val::I32(-1)])?;
                expect_call(&mut sb, "table_grow", &[Val::I32(9)], &[Val::I32(1)])?;
                expect_call(&mut sb, "table_grow", &[Val::I32(1)], &[Val::I32(-1)])?;
                let inst = sb.instance();
                expect_kind(
                    "host table_grow",
                    sb.store_mut()
                        .table_grow(inst, "table", 1, Val::FuncRef(None)),
                    ErrorKind::LimitExceeded(Resource::Table),
                )?;
                expect_eq(
                    "table_size",
                    ok("table_size", sb.store_mut().table_size(inst, "table"))?,
                    10,
                )
            }
        ),
        check!(
            "limits/grow_refused_under_fuel",
            "with fuel or gas on, a table.grow or memory.grow a limit refuses returns -1; it is not charged as if it had grown",
            |cx: &Ctx| {
                // What a new user tries: a generous budget, then a huge grow.
                let limits = Limits::new().table_elements(100_000).memory_bytes(4 * PAGE);
                for (config, limits) in [
                    (
                        Config::new().consume_fuel(true),
                        limits.clone().fuel(10_000_000),
                    ),
                    (Config::new().gas(true), limits.clone().gas(10_000_000)),
                ] {
                    let mut sb = limited(cx, &config, &limits)?;
                    expect_call(
                        &mut sb,
                        "table_grow",
                        &[Val::I32(1_000_000_000)],
                        &[Val::I32(-1)],
                    )?;
                    expect_call(
                        &mut sb,
                        "table_grow",
                        &[Val::I32(0x7fff_ffff)],
                        &[Val::I32(-1)],
                    )?;
                    expect_call(&mut sb, "grow", &[Val::I32(0x7fff)], &[Val::I32(-1)])?;
                    // The refused growths left the budget for real work.
                    expect_call(&mut sb, "table_grow", &[Val::I32(10)], &[Val::I32(1)])?;
                    expect_call(&mut sb, "grow", &[Val::I32(1)], &[Val::I32(1)])?;
                }
                Ok(())
            }
        ),
        check!(
            "limits/table_initial_over_cap",
            "a module whose initial table exceeds the cap fails to instantiate",
            |cx: &Ctx| {
                let r = cx.sandbox(
                    "(module (table 1000 funcref))",
                    &Config::new(),
                    &Linker::new(),
                    &Limits::new().table_elements(100),
                );
                expect_kind(
                    "instantiate",
                    r.map(|_| ()),
                    ErrorKind::LimitExceeded(Resource::Table),
                )
            }
        ),
        check!(
            "limits/instances",
            "instantiating past the store's instance cap is LimitExceeded(Instances); the instances before it stay usable",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let module = ok("compile", engine.compile(&wasm(LIMITS)))?;
                let mut store = ok(
                    "store",
                    engine.store(Default::default(), &Limits::new().instances(3)),
                )?;
                let mut last = None;
                for i in 0..3 {
                    last = Some(ok(
                        &format!("instance {i}"),
                        store.instantiate(&module, &Linker::new()),
                    )?);
                }
                expect_kind(
                    "fourth",
                    store.instantiate(&module, &Linker::new()),
                    ErrorKind::LimitExceeded(Resource::Instances),
                )?;
                let last = last.ok_or("no instance")?;
                expect_eq(
                    "third after the refusal",
                    ok("size", store.call_export(last, "size", &[]))?,
                    vec![Val::I32(1)],
                )
            }
        ),
        check!(
            "limits/unlimited",
            "Limits::unlimited() lifts the caps: 200 instances in one store, memory and tables grow past the defaults",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let module = ok("compile", engine.compile(&wasm(LIMITS)))?;
                let mut store = ok("store", engine.store(Host::default(), &Limits::unlimited()))?;
                let mut last = None;
                for i in 0..200 {
                    last = Some(ok(
                        &format!("instance {i}"),
                        store.instantiate(&module, &Linker::new()),
                    )?);
                }
                let last = last.ok_or("no instance")?;
                expect_eq(
                    "grow 100 pages",
                    ok("grow", store.call_export(last, "grow", &[Val::I32(100)]))?,
                    vec![Val::I32(1)],
                )?;
                expect_eq(
                    "table_grow past the default 100 000",
                    ok(
                        "table_grow",
                        store.call_export(last, "table_grow", &[Val::I32(100_000)]),
                    )?,
                    vec![Val::I32(1)],
                )
            }
        ),
        check!(
            "limits/instances_after_failures",
            "an instantiation that traps (segment initialisation or start) takes its slot, one refused before it runs does not",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let compile = |wat: &str| ok("compile", engine.compile(&wasm(wat)));
                let good = compile("(module)")?;
                let start_traps = compile("(module (func $s unreachable) (start $s))")?;
                let data_oob = compile(r#"(module (memory 1) (data (i32.const 65535) "ab"))"#)?;
                let unlinkable = compile(r#"(module (import "env" "missing" (func)))"#)?;
                let too_big = compile("(module (memory 10))")?;
                let limits = Limits::new().instances(3).memory_bytes(2 * PAGE);
                let mut store = ok("store", engine.store(Default::default(), &limits))?;
                // Refused before anything runs: no slot taken.
                for _ in 0..5 {
                    expect_kind(
                        "unlinkable",
                        store.instantiate(&unlinkable, &Linker::new()),
                        ErrorKind::Unlinkable,
                    )?;
                    expect_kind(
                        "memory over the cap",
                        store.instantiate(&too_big, &Linker::new()),
                        ErrorKind::LimitExceeded(Resource::Memory),
                    )?;
                }
                // Ran and trapped: its memories and tables stay alive in the
                // store on every engine, so it takes a slot.
                expect_trap(
                    "start",
                    store.instantiate(&start_traps, &Linker::new()),
                    TrapCode::Unreachable,
                )?;
                expect_trap(
                    "data segment",
                    store.instantiate(&data_oob, &Linker::new()),
                    TrapCode::MemoryOutOfBounds,
                )?;
                ok("third", store.instantiate(&good, &Linker::new()))?;
                expect_kind(
                    "fourth",
                    store.instantiate(&good, &Linker::new()),
                    ErrorKind::LimitExceeded(Resource::Instances),
                )
            }
        ),
        check!(
            "limits/fuel_exhausts",
            "an infinite loop under a fuel budget stops with OutOfFuel",
            |cx: &Ctx| {
                let mut sb = limited(
                    cx,
                    &Config::new().consume_fuel(true),
                    &Limits::new().fuel(100_000),
                )?;
                expect_trap("spin", sb.call("spin", &[]), TrapCode::OutOfFuel)?;
                let left = ok("fuel", sb.store_mut().fuel())?;
                if left > 100 {
                    return Err(format!("{left} fuel left after exhaustion"));
                }
                Ok(())
            }
        ),
        check!(
            "limits/fuel_completes_and_reports",
            "a finite workload completes under its budget and fuel used is reported",
            |cx: &Ctx| {
                let budget = 10_000_000;
                let mut sb = limited(
                    cx,
                    &Config::new().consume_fuel(true),
                    &Limits::new().fuel(budget),
                )?;
                expect_call(&mut sb, "count", &[Val::I32(1000)], &[Val::I32(1000)])?;
                let used_small = budget - ok("fuel", sb.store_mut().fuel())?;
                expect_call(&mut sb, "count", &[Val::I32(10_000)], &[Val::I32(10_000)])?;
                let used_total = budget - ok("fuel", sb.store_mut().fuel())?;
                if used_small < 1000 {
                    return Err(format!(
                        "1000 loop iterations reported only {used_small} fuel"
                    ));
                }
                if used_total - used_small < 10_000 {
                    return Err(format!(
                        "10000 iterations reported only {} fuel",
                        used_total - used_small
                    ));
                }
                Ok(())
            }
        ),
        check!(
            "limits/fuel_bounds_bulk_memory",
            "native fuel charges memory.fill/copy by size: 1000 fills of 1 MiB do not fit in 100k fuel",
            |cx: &Ctx| {
                // Ten instructions a turn: an engine charging per operator
                // only would finish the loop on 10 000 fuel and return 1000.
                const FILLS: &str = r#"(module
                  (memory 32)
                  (func (export "fills") (param $n i32) (result i32) (local $i i32)
                    (block $done
                      (loop $l
                        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
                        (memory.fill (i32.const 0) (local.get $i) (i32.const 0x100000))
                        (memory.copy (i32.const 0x100000) (i32.const 0) (i32.const 0x100000))
                        (local.set $i (i32.add (local.get $i) (i32.const 1)))
                        (br $l)))
                    (local.get $i)))"#;
                let mut sb = ok(
                    "instantiate",
                    cx.sandbox(
                        FILLS,
                        &Config::new().consume_fuel(true),
                        &Linker::new(),
                        &Limits::new().fuel(100_000),
                    ),
                )?;
                expect_trap(
                    "1000 fills",
                    sb.call("fills", &[Val::I32(1000)]),
                    TrapCode::OutOfFuel,
                )
            }
        ),
        check!(
            "limits/fuel_refill",
            "after running out, refilling fuel lets calls run again",
            |cx: &Ctx| {
                let mut sb = limited(
                    cx,
                    &Config::new().consume_fuel(true),
                    &Limits::new().fuel(1_000),
                )?;
                expect_trap(
                    "count",
                    sb.call("count", &[Val::I32(1_000_000)]),
                    TrapCode::OutOfFuel,
                )?;
                ok("set_fuel", sb.store_mut().set_fuel(10_000_000))?;
                expect_call(&mut sb, "count", &[Val::I32(1000)], &[Val::I32(1000)])
            }
        ),
        check!(
            "limits/fuel_needs_config",
            "a fuel budget without metering compiled in is Unsupported, not ignored; so are fuel() and set_fuel()",
            |cx: &Ctx| {
                let r = cx.sandbox(
                    LIMITS,
                    &Config::new(),
                    &Linker::new(),
                    &Limits::new().fuel(10),
                );
                expect_kind("store", r.map(|_| ()), ErrorKind::Unsupported)?;
                let mut sb = limited(cx, &Config::new(), &Limits::new())?;
                expect_kind("fuel()", sb.store_mut().fuel(), ErrorKind::Unsupported)?;
                expect_kind(
                    "set_fuel()",
                    sb.store_mut().set_fuel(5),
                    ErrorKind::Unsupported,
                )?;
                // Timeouts alone do not offer fuel, whatever the engine meters inside.
                let mut sb = limited(cx, &Config::new().timeouts(true), &Limits::new())?;
                expect_kind(
                    "fuel() with timeouts only",
                    sb.store_mut().fuel(),
                    ErrorKind::Unsupported,
                )
            }
        ),
        check!(
            "limits/fuel_accounting",
            "fuel() reads the budget, falls with work in proportion to it, reads about none once exhausted (a call then traps at once), and set_fuel() reads back",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new().consume_fuel(true)))?;
                let module = ok("compile", engine.compile(&wasm(LIMITS)))?;
                let mut store = ok(
                    "store",
                    engine.store(Host::default(), &Limits::new().fuel(10_000)),
                )?;
                expect_eq("before instantiation", fuel(&mut *store)?, 10_000)?;
                let inst = ok("instantiate", store.instantiate(&module, &Linker::new()))?;
                expect_eq("after instantiation", fuel(&mut *store)?, 10_000)?;
                let count = |store: &mut dyn anywasm::DynStore<Host>, n: i32| {
                    store.call_export(inst, "count", &[Val::I32(n)])
                };
                expect_eq(
                    "count(10)",
                    ok("count(10)", count(&mut *store, 10))?,
                    vec![Val::I32(10)],
                )?;
                let left = fuel(&mut *store)?;
                if !(9_000..10_000).contains(&left) {
                    return Err(format!("count(10) left {left} of 10 000 fuel"));
                }
                ok("count(100)", count(&mut *store, 100))?;
                let (cost10, cost100) = (10_000 - left, left - fuel(&mut *store)?);
                if cost100 <= 5 * cost10 {
                    return Err(format!(
                        "count(10) cost {cost10}, count(100) cost {cost100}"
                    ));
                }
                expect_trap(
                    "spin",
                    store.call_export(inst, "spin", &[]),
                    TrapCode::OutOfFuel,
                )?;
                // wasmtime and wasmer read 0 here, wasmi 1: the contract is "about none".
                let left = fuel(&mut *store)?;
                if left > 100 {
                    return Err(format!("{left} fuel left after exhaustion"));
                }
                expect_trap(
                    "count(1) on empty",
                    count(&mut *store, 1),
                    TrapCode::OutOfFuel,
                )?;
                ok("set_fuel", store.set_fuel(1_000))?;
                expect_eq("after set_fuel", fuel(&mut *store)?, 1_000)?;
                expect_eq(
                    "count(3)",
                    ok("count(3)", count(&mut *store, 3))?,
                    vec![Val::I32(3)],
                )?;
                expect_trap(
                    "count(1 000 000)",
                    count(&mut *store, 1_000_000),
                    TrapCode::OutOfFuel,
                )?;
                ok("set_fuel", store.set_fuel(10_000_000))?;
                expect_eq(
                    "count(100 000)",
                    ok("count(100 000)", count(&mut *store, 100_000))?,
                    vec![Val::I32(100_000)],
                )
            }
        ),
        check!(
            "limits/fuel_keeps_trap_codes",
            "with fuel on, a real unreachable is still Unreachable, not OutOfFuel, and leaves fuel",
            |cx: &Ctx| {
                let mut sb = ok(
                    "instantiate",
                    cx.sandbox(
                        r#"(module (func (export "u") unreachable))"#,
                        &Config::new().consume_fuel(true),
                        &Linker::new(),
                        &Limits::new().fuel(100),
                    ),
                )?;
                expect_trap("u", sb.call("u", &[]), TrapCode::Unreachable)?;
                let left = fuel(sb.store_mut())?;
                if left == 0 {
                    return Err("unreachable used up all the fuel".into());
                }
                Ok(())
            }
        ),
        check!(
            "limits/fuel_no_budget",
            "with metering on and no budget, fuel() reads u64::MAX and the store never runs out: a million iterations run and are charged",
            |cx: &Ctx| {
                let mut sb = limited(cx, &Config::new().consume_fuel(true), &Limits::new())?;
                let before = fuel(sb.store_mut())?;
                if before != u64::MAX {
                    return Err(format!("no budget reads as {before} fuel"));
                }
                expect_call(
                    &mut sb,
                    "count",
                    &[Val::I32(1_000_000)],
                    &[Val::I32(1_000_000)],
                )?;
                let after = fuel(sb.store_mut())?;
                if after < u64::MAX / 2 || after >= before {
                    return Err(format!(
                        "{before} fuel before a million iterations, {after} after"
                    ));
                }
                Ok(())
            }
        ),
        check!(
            "limits/fuel_per_store",
            "a store's instances draw on one budget at the same cost for the same work; each store on an engine has its own budget",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new().consume_fuel(true)))?;
                let module = ok("compile", engine.compile(&wasm(LIMITS)))?;
                let mut s = ok(
                    "store",
                    engine.store(Host::default(), &Limits::new().fuel(5_000)),
                )?;
                let a = ok("a", s.instantiate(&module, &Linker::new()))?;
                let b = ok("b", s.instantiate(&module, &Linker::new()))?;
                ok("a count(200)", s.call_export(a, "count", &[Val::I32(200)]))?;
                let after_a = fuel(&mut *s)?;
                ok("b count(200)", s.call_export(b, "count", &[Val::I32(200)]))?;
                let after_b = fuel(&mut *s)?;
                expect_eq("same work, same cost", 5_000 - after_a, after_a - after_b)?;
                expect_trap(
                    "b count(10 000)",
                    s.call_export(b, "count", &[Val::I32(10_000)]),
                    TrapCode::OutOfFuel,
                )?;
                expect_trap(
                    "a after b exhausted the store",
                    s.call_export(a, "count", &[Val::I32(1)]),
                    TrapCode::OutOfFuel,
                )?;
                // Other stores: their own budgets, and the same use for the same work.
                let mut used = Vec::new();
                for _ in 0..3 {
                    let mut big = ok(
                        "store",
                        engine.store(Host::default(), &Limits::new().fuel(10_000_000)),
                    )?;
                    let i = ok("instance", big.instantiate(&module, &Linker::new()))?;
                    ok(
                        "count(100 000)",
                        big.call_export(i, "count", &[Val::I32(100_000)]),
                    )?;
                    used.push(10_000_000 - fuel(&mut *big)?);
                }
                if used.iter().any(|&u| u != used[0]) || used[0] < 100_000 {
                    return Err(format!("count(100 000) in three stores used {used:?} fuel"));
                }
                Ok(())
            }
        ),
        check!(
            "limits/fuel_start_function",
            "a start function runs on the store's fuel: a looping one ends in Trap(OutOfFuel) at instantiation, a finite one uses fuel",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new().consume_fuel(true)))?;
                let spins = ok("compile", engine.compile(&wasm(START_SPINS)))?;
                let finite = ok(
                    "compile",
                    engine.compile(&wasm(
                        "(module (func $s (local i32) i32.const 5 local.set 0) (start $s))",
                    )),
                )?;
                let mut s = ok(
                    "store",
                    engine.store(Host::default(), &Limits::new().fuel(1_000)),
                )?;
                expect_trap(
                    "looping start",
                    s.instantiate(&spins, &Linker::new()),
                    TrapCode::OutOfFuel,
                )?;
                ok("set_fuel", s.set_fuel(1_000))?;
                ok("finite start", s.instantiate(&finite, &Linker::new()))?;
                let left = fuel(&mut *s)?;
                if left >= 1_000 {
                    return Err(format!("a start function left all {left} fuel"));
                }
                Ok(())
            }
        ),
        check!(
            "limits/fuel_in_reentrant_call",
            "a guest loop inside a host -> guest re-entrant call exhausts the store's fuel: the inner call is Trap(OutOfFuel)",
            |cx: &Ctx| {
                let mut sb = ok(
                    "instantiate",
                    cx.sandbox(
                        REENTER_SPIN,
                        &Config::new().consume_fuel(true),
                        &reenter_spin_linker(),
                        &Limits::new().fuel(10_000),
                    ),
                )?;
                expect_host_error("run", sb.call("run", &[]), "Trap(OutOfFuel)")?;
                let left = fuel(sb.store_mut())?;
                if left > 100 {
                    return Err(format!(
                        "{left} fuel left after the inner call exhausted it"
                    ));
                }
                Ok(())
            }
        ),
        check!(
            "limits/fuel_with_host_calls",
            "host calls inside a metered loop keep fuel accounting: the loop completes under a budget and a longer one runs out",
            |cx: &Ctx| {
                let wat = r#"(module (import "env" "id" (func $id (param i32) (result i32)))
                  (func (export "run") (param i32) (result i32) (local i32)
                    (block $d (loop $l
                      (br_if $d (i32.eqz (local.get 0)))
                      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                      (local.set 1 (call $id (i32.add (local.get 1) (i32.const 1))))
                      (br $l)))
                    (local.get 1)))"#;
                let mut linker = Linker::new();
                linker.func(
                    "env",
                    "id",
                    FuncType::new([ValType::I32], [ValType::I32]),
                    |_, a, r| {
                        r[0] = a[0];
                        Ok(())
                    },
                );
                let mut sb = ok(
                    "instantiate",
                    cx.sandbox(
                        wat,
                        &Config::new().consume_fuel(true).timeouts(true),
                        &linker,
                        &Limits::new()
                            .fuel(2_000_000)
                            .timeout(Duration::from_secs(60)),
                    ),
                )?;
                expect_call(&mut sb, "run", &[Val::I32(50_000)], &[Val::I32(50_000)])?;
                expect_trap(
                    "run(1 000 000)",
                    sb.call("run", &[Val::I32(1_000_000)]),
                    TrapCode::OutOfFuel,
                )
            }
        ),
        check!(
            "limits/timeout",
            "an infinite loop with only a timeout stops with Timeout; the store stays usable and the next call gets a fresh deadline",
            |cx: &Ctx| {
                let mut sb = limited(
                    cx,
                    &Config::new().timeouts(true),
                    &Limits::new().timeout(Duration::from_millis(50)),
                )?;
                expect_trap("spin", sb.call("spin", &[]), TrapCode::Timeout)?;
                expect_call(&mut sb, "count", &[Val::I32(1000)], &[Val::I32(1000)])?;
                expect_trap("spin again", sb.call("spin", &[]), TrapCode::Timeout)?;
                expect_call(&mut sb, "size", &[], &[Val::I32(1)])
            }
        ),
        check!(
            "limits/timeout_is_per_call",
            "the deadline is per call: short calls for three times the timeout in all never trap",
            |cx: &Ctx| {
                let timeout = Duration::from_millis(250);
                let mut sb = limited(
                    cx,
                    &Config::new().timeouts(true),
                    &Limits::new().timeout(timeout),
                )?;
                let began = std::time::Instant::now();
                let mut calls = 0;
                while calls < 100 || began.elapsed() < 3 * timeout {
                    let n = calls % 50;
                    expect_call(&mut sb, "count", &[Val::I32(n)], &[Val::I32(n)])?;
                    calls += 1;
                }
                Ok(())
            }
        ),
        check!(
            "limits/timeout_and_fuel",
            "with both limits, whichever is hit first is reported; refilling fuel after a timeout makes fuel hit first; a timeout alone works with metering on",
            |cx: &Ctx| {
                let config = Config::new()
                    .timeouts(true)
                    .consume_fuel(true)
                    .max_stack_bytes(256 << 10);
                let mut sb = limited(
                    cx,
                    &config,
                    &Limits::new().timeout(Duration::from_secs(60)).fuel(50_000),
                )?;
                expect_trap("fuel first", sb.call("spin", &[]), TrapCode::OutOfFuel)?;
                let mut sb = limited(
                    cx,
                    &config,
                    &Limits::new()
                        .timeout(Duration::from_millis(50))
                        .fuel(u64::MAX / 2),
                )?;
                expect_trap("timeout first", sb.call("spin", &[]), TrapCode::Timeout)?;
                ok("set_fuel", sb.store_mut().set_fuel(100))?;
                expect_trap(
                    "fuel after refill",
                    sb.call("spin", &[]),
                    TrapCode::OutOfFuel,
                )?;
                let mut sb = limited(
                    cx,
                    &config,
                    &Limits::new().timeout(Duration::from_millis(50)),
                )?;
                expect_trap(
                    "timeout, no budget",
                    sb.call("spin", &[]),
                    TrapCode::Timeout,
                )?;
                expect_call(&mut sb, "count", &[Val::I32(5)], &[Val::I32(5)])
            }
        ),
        check!(
            "limits/timeout_unset",
            "with interruption compiled in, a store without a timeout, or with Duration::MAX, runs long calls to completion",
            |cx: &Ctx| {
                let config = Config::new().timeouts(true);
                let mut sb = limited(cx, &config, &Limits::new())?;
                expect_call(
                    &mut sb,
                    "count",
                    &[Val::I32(1_000_000)],
                    &[Val::I32(1_000_000)],
                )?;
                let mut sb = limited(cx, &config, &Limits::new().timeout(Duration::MAX))?;
                expect_call(&mut sb, "count", &[Val::I32(100_000)], &[Val::I32(100_000)])
            }
        ),
        check!(
            "limits/timeout_start_function",
            "a start function runs under the call deadline: one that loops forever ends in Trap(Timeout) at instantiation, and the store stays usable",
            |cx: &Ctx| {
                for config in [
                    Config::new().timeouts(true),
                    Config::new().timeouts(true).consume_fuel(true),
                ] {
                    let engine = ok("engine", cx.engine(&config))?;
                    let spins = ok("compile", engine.compile(&wasm(START_SPINS)))?;
                    let module = ok("compile", engine.compile(&wasm(LIMITS)))?;
                    let mut s = ok(
                        "store",
                        engine.store(
                            Host::default(),
                            &Limits::new().timeout(Duration::from_millis(100)),
                        ),
                    )?;
                    expect_trap(
                        &format!("looping start ({config:?})"),
                        s.instantiate(&spins, &Linker::new()),
                        TrapCode::Timeout,
                    )?;
                    let inst = ok("instantiate after", s.instantiate(&module, &Linker::new()))?;
                    expect_eq(
                        "count after",
                        ok("count", s.call_export(inst, "count", &[Val::I32(10)]))?,
                        vec![Val::I32(10)],
                    )?;
                }
                Ok(())
            }
        ),
        check!(
            "limits/timeout_in_reentrant_call",
            "a guest loop inside a host -> guest re-entrant call is stopped by the outer call's deadline: the inner call is Trap(Timeout)",
            |cx: &Ctx| {
                for config in [
                    Config::new().timeouts(true),
                    Config::new().timeouts(true).consume_fuel(true),
                ] {
                    let mut sb = ok(
                        "instantiate",
                        cx.sandbox(
                            REENTER_SPIN,
                            &config,
                            &reenter_spin_linker(),
                            &Limits::new().timeout(Duration::from_millis(100)),
                        ),
                    )?;
                    expect_host_error("run", sb.call("run", &[]), "Trap(Timeout)")?;
                }
                Ok(())
            }
        ),
        check!(
            "limits/timeout_after_host_call",
            "a deadline that passes while a host function runs stops the guest once control is back in guest code",
            |cx: &Ctx| {
                let mut linker = Linker::new();
                linker.func("env", "sleep", FuncType::new([], []), |_, _, _| {
                    std::thread::sleep(Duration::from_millis(200));
                    Ok(())
                });
                let mut sb = ok(
                    "instantiate",
                    cx.sandbox(
                        r#"(module (import "env" "sleep" (func $s))
                          (func (export "f") call $s (loop br 0)))"#,
                        &Config::new().timeouts(true),
                        &linker,
                        &Limits::new().timeout(Duration::from_millis(50)),
                    ),
                )?;
                expect_trap("f", sb.call("f", &[]), TrapCode::Timeout)
            }
        ),
        check!(
            "limits/timeout_needs_config",
            "a timeout without interruption compiled in is Unsupported",
            |cx: &Ctx| {
                let r = cx.sandbox(
                    LIMITS,
                    &Config::new(),
                    &Linker::new(),
                    &Limits::new().timeout(Duration::from_secs(1)),
                );
                expect_kind("store", r.map(|_| ()), ErrorKind::Unsupported)
            }
        ),
        check!(
            "limits/stack_recovers",
            "deep recursion traps with StackOverflow and the store can call again, with the default stack and a 256 KiB one",
            |cx: &Ctx| {
                for config in [Config::new(), Config::new().max_stack_bytes(256 << 10)] {
                    let mut sb = limited(cx, &config, &Limits::new())?;
                    expect_call(&mut sb, "recurse", &[Val::I32(100)], &[Val::I32(100)])?;
                    expect_trap(
                        "recurse",
                        sb.call("recurse", &[Val::I32(100_000_000)]),
                        TrapCode::StackOverflow,
                    )?;
                    expect_trap(
                        "recurse(-1)",
                        sb.call("recurse", &[Val::I32(-1)]),
                        TrapCode::StackOverflow,
                    )?;
                    expect_call(&mut sb, "recurse", &[Val::I32(100)], &[Val::I32(100)])?;
                }
                Ok(())
            }
        ),
        check!("limits/stack_limit", "Config::max_stack_bytes lowers the recursion depth that traps", requires Capability::ExactStackLimit, |cx: &Ctx| {
            let mut roomy = limited(cx, &Config::new().max_stack_bytes(1 << 20), &Limits::new())?;
            expect_call(&mut roomy, "recurse", &[Val::I32(5_000)], &[Val::I32(5_000)])?;
            let mut tight = limited(cx, &Config::new().max_stack_bytes(32 << 10), &Limits::new())?;
            expect_trap("tight", tight.call("recurse", &[Val::I32(5_000)]), TrapCode::StackOverflow)?;
            expect_call(&mut tight, "recurse", &[Val::I32(10)], &[Val::I32(10)])
        }),
        check!("limits/instance_pool", "an instance pool bounds live instances engine-wide and memory per slot; a freed slot is reused", requires Capability::InstancePool, |cx: &Ctx| {
            let config = Config::new().instance_pool(InstancePool::new(2, 4 * PAGE));
            let engine = ok("engine", cx.engine(&config))?;
            let module = ok("compile", engine.compile(&wasm(LIMITS)))?;
            let linker = Linker::new();
            let mut a = ok("store a", engine.store(crate::Host::default(), &Limits::new()))?;
            let ia = ok("instance a", a.instantiate(&module, &linker))?;
            let mut b = ok("store b", engine.store(crate::Host::default(), &Limits::new()))?;
            ok("instance b", b.instantiate(&module, &linker))?;
            let mut c = ok("store c", engine.store(crate::Host::default(), &Limits::new()))?;
            expect_kind("third live instance", c.instantiate(&module, &linker).map(|_| ()), ErrorKind::LimitExceeded(Resource::Instances))?;
            // The pool's slot bounds memory even though the store allows 256 MiB.
            let grow = ok("grow", a.get_func(ia, "grow"))?;
            let mut out = [Val::I32(0)];
            ok("grow to the slot", a.call(grow, &[Val::I32(3)], &mut out))?;
            expect_eq("grow to the slot", out[0], Val::I32(1))?;
            ok("grow past the slot", a.call(grow, &[Val::I32(1)], &mut out))?;
            expect_eq("grow past the slot", out[0], Val::I32(-1))?;
            expect_kind("host grow past the slot", a.memory_grow(ia, "memory", 1), ErrorKind::LimitExceeded(Resource::Memory))?;
            drop(b);
            let ic = ok("instance c after b dropped", c.instantiate(&module, &linker))?;
            let count = ok("count", c.get_func(ic, "count"))?;
            ok("call c", c.call(count, &[Val::I32(10)], &mut out))?;
            expect_eq("count", out[0], Val::I32(10))
        }),
        check!(
            "limits/instance_pool_refused",
            "an engine without a pooling allocator refuses Config::instance_pool as Unsupported; one with it accepts",
            |cx: &Ctx| {
                let config = Config::new().instance_pool(InstancePool::new(4, 16 * PAGE));
                let lacks = crate::backends()
                    .into_iter()
                    .find(|b| b.kind == cx.backend())
                    .and_then(|b| b.lacks(Capability::InstancePool));
                let r = cx.engine(&config).map(|_| ());
                match lacks {
                    Some(_) => expect_kind("engine", r, ErrorKind::Unsupported),
                    None => ok("engine", r),
                }
            }
        ),
        check!(
            "limits/engine_config",
            "an engine reports the Config it was made with",
            |cx: &Ctx| {
                for config in [
                    Config::new(),
                    Config::new()
                        .consume_fuel(true)
                        .timeouts(true)
                        .max_stack_bytes(1 << 20),
                ] {
                    let engine = ok("engine", cx.engine(&config))?;
                    expect_eq("config", engine.config(), &config)?;
                }
                Ok(())
            }
        ),
        check!(
            "limits/engine_by_name",
            "an engine name that is no backend is UnknownBackend; this backend by name works",
            |cx: &Ctx| {
                let r = anywasm::engine_by_name::<()>("v8", &Config::new());
                // No engine made this error: it names none.
                let kind = r.map(|_| ()).map_err(|e| (e.kind(), e.backend()));
                expect_eq("v8", kind, Err((ErrorKind::UnknownBackend, None)))?;
                let name = cx.backend().name().to_ascii_uppercase();
                ok(
                    "by name",
                    anywasm::engine_by_name::<()>(&name, &Config::new()).map(|_| ()),
                )
            }
        ),
    ]
}
