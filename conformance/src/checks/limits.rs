//! The limit model: memory, tables, instances, fuel, timeouts, stack.

use std::time::Duration;

use anywasm::{Config, ErrorKind, InstancePool, Limits, Linker, Resource, TrapCode, Val};

use super::{LIMITS, check};
use crate::harness::{expect_call, expect_eq, expect_kind, expect_trap, ok, wasm};
use crate::{Capability, Check, Ctx};

const PAGE: u64 = 65536;

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
            "memory.grow past the cap returns -1; memory stays usable",
            |cx: &Ctx| {
                let mut sb = limited(cx, &Config::new(), &Limits::new().memory_bytes(3 * PAGE))?;
                expect_call(&mut sb, "grow", &[Val::I32(2)], &[Val::I32(1)])?;
                expect_call(&mut sb, "grow", &[Val::I32(1)], &[Val::I32(-1)])?;
                expect_call(&mut sb, "grow", &[Val::I32(0x7fff)], &[Val::I32(-1)])?;
                expect_call(&mut sb, "size", &[], &[Val::I32(3)])
            }
        ),
        check!(
            "limits/memory_host_grow_past_cap",
            "host memory_grow past the cap is LimitExceeded(Memory)",
            |cx: &Ctx| {
                let mut sb = limited(cx, &Config::new(), &Limits::new().memory_bytes(2 * PAGE))?;
                let inst = sb.instance();
                expect_eq(
                    "grow",
                    ok("grow", sb.store_mut().memory_grow(inst, "memory", 1))?,
                    1,
                )?;
                expect_kind(
                    "grow past cap",
                    sb.store_mut().memory_grow(inst, "memory", 1),
                    ErrorKind::LimitExceeded(Resource::Memory),
                )?;
                expect_call(&mut sb, "size", &[], &[Val::I32(2)])
            }
        ),
        check!(
            "limits/memory_initial_over_cap",
            "a module whose initial memory exceeds the cap fails to instantiate",
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
            "table.grow past the cap returns -1",
            |cx: &Ctx| {
                let mut sb = limited(cx, &Config::new(), &Limits::new().table_elements(10))?;
                expect_call(&mut sb, "table_grow", &[Val::I32(9)], &[Val::I32(1)])?;
                expect_call(&mut sb, "table_grow", &[Val::I32(1)], &[Val::I32(-1)])
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
            "instantiating past the store's instance cap is LimitExceeded(Instances)",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let module = ok("compile", engine.compile(&wasm("(module)")))?;
                let mut store = ok(
                    "store",
                    engine.store(Default::default(), &Limits::new().instances(3)),
                )?;
                for i in 0..3 {
                    ok(
                        &format!("instance {i}"),
                        store.instantiate(&module, &Linker::new()),
                    )?;
                }
                expect_kind(
                    "fourth",
                    store.instantiate(&module, &Linker::new()),
                    ErrorKind::LimitExceeded(Resource::Instances),
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
            "a fuel budget without metering compiled in is Unsupported, not ignored",
            |cx: &Ctx| {
                let r = cx.sandbox(
                    LIMITS,
                    &Config::new(),
                    &Linker::new(),
                    &Limits::new().fuel(10),
                );
                expect_kind("store", r.map(|_| ()), ErrorKind::Unsupported)?;
                let mut sb = limited(cx, &Config::new(), &Limits::new())?;
                expect_kind("fuel()", sb.store_mut().fuel(), ErrorKind::Unsupported)
            }
        ),
        check!(
            "limits/timeout",
            "an infinite loop with only a timeout stops with Timeout",
            |cx: &Ctx| {
                let mut sb = limited(
                    cx,
                    &Config::new().timeouts(true),
                    &Limits::new().timeout(Duration::from_millis(50)),
                )?;
                expect_trap("spin", sb.call("spin", &[]), TrapCode::Timeout)?;
                expect_trap("spin again", sb.call("spin", &[]), TrapCode::Timeout)
            }
        ),
        check!(
            "limits/timeout_is_per_call",
            "calls that finish in time are unaffected by the deadline",
            |cx: &Ctx| {
                let mut sb = limited(
                    cx,
                    &Config::new().timeouts(true),
                    &Limits::new().timeout(Duration::from_secs(30)),
                )?;
                for _ in 0..100 {
                    expect_call(&mut sb, "count", &[Val::I32(1000)], &[Val::I32(1000)])?;
                }
                Ok(())
            }
        ),
        check!(
            "limits/timeout_and_fuel",
            "with both limits, whichever is hit first is reported",
            |cx: &Ctx| {
                let config = Config::new().timeouts(true).consume_fuel(true);
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
                expect_trap("timeout first", sb.call("spin", &[]), TrapCode::Timeout)
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
            "deep recursion traps with StackOverflow and the store can call again",
            |cx: &Ctx| {
                let mut sb = limited(cx, &Config::new(), &Limits::new())?;
                expect_call(&mut sb, "recurse", &[Val::I32(500)], &[Val::I32(500)])?;
                expect_trap(
                    "recurse",
                    sb.call("recurse", &[Val::I32(100_000_000)]),
                    TrapCode::StackOverflow,
                )?;
                expect_call(&mut sb, "recurse", &[Val::I32(500)], &[Val::I32(500)])
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
