//! Limits: memory, tables, instances, fuel, timeouts.

mod common;

use std::time::Duration;

use anywasm_core::{
    Config, ErrorKind, FuncType, HostError, Limits, Linker, Resource, Runtime, Store as _,
    StoreExt, TrapCode, Val, ValType,
};
use common::*;

const GROW: &str = r#"
(module
  (memory (export "memory") 1)
  (table (export "table") 1 funcref)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "tgrow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0)))
)
"#;

#[test]
fn memory_limit() {
    let limits = Limits::unlimited().memory_bytes(4 * 65536);
    let (mut store, inst) = instance_with(Config::default(), limits, GROW);
    // Guest grow past the limit returns -1, no trap.
    assert_eq!(
        store.call_export(&inst, "grow", &[Val::I32(10)]).unwrap(),
        vec![Val::I32(-1)]
    );
    assert_eq!(
        store.call_export(&inst, "grow", &[Val::I32(3)]).unwrap(),
        vec![Val::I32(1)]
    );
    assert_eq!(
        store.call_export(&inst, "grow", &[Val::I32(1)]).unwrap(),
        vec![Val::I32(-1)]
    );
    assert_eq!(store.memory_size(&inst, "memory").unwrap(), 4 * 65536);
    // Host grow past it is LimitExceeded(Memory).
    assert_kind(
        store.memory_grow(&inst, "memory", 1),
        ErrorKind::LimitExceeded(Resource::Memory),
    );
    assert_eq!(store.memory_grow(&inst, "memory", 0).unwrap(), 4);
}

#[test]
fn host_memory_grow_within_limits() {
    let (mut store, inst) = instance(GROW);
    assert_eq!(store.memory_grow(&inst, "memory", 2).unwrap(), 1);
    assert_eq!(store.memory_size(&inst, "memory").unwrap(), 3 * 65536);
    // Past the declared maximum.
    let (mut store, inst) = instance(r#"(module (memory (export "m") 1 2))"#);
    assert_kind(
        store.memory_grow(&inst, "m", 5),
        ErrorKind::LimitExceeded(Resource::Memory),
    );
}

#[test]
fn initial_memory_past_limit() {
    let engine = engine(Config::default());
    let module = compile(&engine, "(module (memory 10))");
    let mut store = engine
        .store((), &Limits::new().memory_bytes(65536))
        .unwrap();
    let e = assert_kind(
        store.instantiate(&module, &Linker::new()),
        ErrorKind::LimitExceeded(Resource::Memory),
    );
    assert!(e.message().contains("65536"), "{e}");
    // Store still usable.
    let ok = compile(&engine, "(module (memory 1))");
    store.instantiate(&ok, &Linker::new()).unwrap();
}

#[test]
fn table_limit() {
    let limits = Limits::unlimited().table_elements(10);
    let (mut store, inst) = instance_with(Config::default(), limits, GROW);
    assert_eq!(
        store.call_export(&inst, "tgrow", &[Val::I32(20)]).unwrap(),
        vec![Val::I32(-1)]
    );
    assert_eq!(
        store.call_export(&inst, "tgrow", &[Val::I32(9)]).unwrap(),
        vec![Val::I32(1)]
    );
    assert_kind(
        store.table_grow(&inst, "table", 1, Val::FuncRef(None)),
        ErrorKind::LimitExceeded(Resource::Table),
    );
    assert_eq!(store.table_size(&inst, "table").unwrap(), 10);

    let engine = engine(Config::default());
    let module = compile(&engine, "(module (table 11 funcref))");
    let mut store = engine.store((), &Limits::new().table_elements(10)).unwrap();
    assert_kind(
        store.instantiate(&module, &Linker::new()),
        ErrorKind::LimitExceeded(Resource::Table),
    );
}

#[test]
fn instance_limit() {
    let engine = engine(Config::default());
    let module = compile(&engine, "(module)");
    let mut store = engine.store((), &Limits::new().instances(3)).unwrap();
    for _ in 0..3 {
        store.instantiate(&module, &Linker::new()).unwrap();
    }
    assert_kind(
        store.instantiate(&module, &Linker::new()),
        ErrorKind::LimitExceeded(Resource::Instances),
    );
}

const LOOP: &str = r#"
(module
  (func (export "spin") (loop $l (br $l)))
  (func (export "count") (param i32) (result i32)
    (local i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get 0)))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br $l)))
    (local.get 1))
)
"#;

#[test]
fn fuel_budget() {
    let limits = Limits::unlimited().fuel(10_000);
    let (mut store, inst) = instance_with(Config::new().consume_fuel(true), limits, LOOP);
    assert_eq!(store.fuel().unwrap(), 10_000);
    assert_eq!(
        store.call_export(&inst, "count", &[Val::I32(10)]).unwrap(),
        vec![Val::I32(10)]
    );
    let left = store.fuel().unwrap();
    assert!(left < 10_000, "{left}");
    assert_trap(store.call_export(&inst, "spin", &[]), TrapCode::OutOfFuel);
    assert!(store.fuel().unwrap() < 100);
    // Refill and go on.
    store.set_fuel(1_000_000).unwrap();
    assert_eq!(
        store.call_export(&inst, "count", &[Val::I32(100)]).unwrap(),
        vec![Val::I32(100)]
    );
    assert!(store.fuel().unwrap() < 1_000_000);
}

#[test]
fn fuel_without_budget_is_unlimited() {
    let (mut store, inst) = instance_with(Config::new().consume_fuel(true), Limits::new(), LOOP);
    assert_eq!(
        store
            .call_export(&inst, "count", &[Val::I32(1_000_000)])
            .unwrap(),
        vec![Val::I32(1_000_000)]
    );
    assert!(store.fuel().unwrap() > u64::MAX / 2);
}

#[test]
fn fuel_unsupported_without_metering() {
    let (mut store, _) = instance(LOOP);
    assert_kind(store.fuel(), ErrorKind::Unsupported);
    assert_kind(store.set_fuel(1), ErrorKind::Unsupported);
    // Timeouts turn wasmi's metering on, but fuel is still not offered.
    let (mut store, _) = instance_with(Config::new().timeouts(true), Limits::new(), LOOP);
    assert_kind(store.fuel(), ErrorKind::Unsupported);
    // A budget or a timeout without the mechanism fails at store creation.
    let engine = engine(Config::default());
    assert_kind(
        engine.store((), &Limits::new().fuel(1)),
        ErrorKind::Unsupported,
    );
    assert_kind(
        engine.store((), &Limits::new().timeout(Duration::from_millis(1))),
        ErrorKind::Unsupported,
    );
}

#[test]
fn timeout_stops_infinite_loop() {
    let limits = Limits::new().timeout(Duration::from_millis(100));
    let (mut store, inst) = instance_with(Config::new().timeouts(true), limits, LOOP);
    assert_trap(store.call_export(&inst, "spin", &[]), TrapCode::Timeout);
    // Each call gets a fresh deadline; short calls complete.
    assert_eq!(
        store
            .call_export(&inst, "count", &[Val::I32(1000)])
            .unwrap(),
        vec![Val::I32(1000)]
    );
    assert_trap(store.call_export(&inst, "spin", &[]), TrapCode::Timeout);
}

#[test]
fn timeout_long_call_within_deadline_completes() {
    // Several fuel slices, well inside the deadline.
    let limits = Limits::new().timeout(Duration::from_secs(60));
    let (mut store, inst) = instance_with(Config::new().timeouts(true), limits, LOOP);
    assert_eq!(
        store
            .call_export(&inst, "count", &[Val::I32(2_000_000)])
            .unwrap(),
        vec![Val::I32(2_000_000)]
    );
}

#[test]
fn timeout_with_fuel_budget() {
    let config = Config::new().consume_fuel(true).timeouts(true);
    // The budget runs out long before the deadline: OutOfFuel.
    let limits = Limits::new()
        .fuel(1_000_000)
        .timeout(Duration::from_secs(60));
    let (mut store, inst) = instance_with(config.clone(), limits, LOOP);
    assert_trap(store.call_export(&inst, "spin", &[]), TrapCode::OutOfFuel);
    assert!(store.fuel().unwrap() < 100, "{}", store.fuel().unwrap());
    // Fuel reads as the real remaining budget across sliced calls.
    store.set_fuel(5_000_000).unwrap();
    assert_eq!(
        store
            .call_export(&inst, "count", &[Val::I32(300_000)])
            .unwrap(),
        vec![Val::I32(300_000)]
    );
    let left = store.fuel().unwrap();
    assert!(left < 5_000_000 - 300_000 && left > 0, "{left}");

    // Same program and budget with and without a timeout use the same fuel.
    let mut used = Vec::new();
    for limits in [
        Limits::new().fuel(5_000_000),
        Limits::new()
            .fuel(5_000_000)
            .timeout(Duration::from_secs(60)),
    ] {
        let (mut store, inst) = instance_with(config.clone(), limits, LOOP);
        store
            .call_export(&inst, "count", &[Val::I32(300_000)])
            .unwrap();
        used.push(5_000_000 - store.fuel().unwrap());
    }
    assert_eq!(used[0], used[1]);

    // The deadline comes first with a huge budget.
    let limits = Limits::new()
        .fuel(u64::MAX)
        .timeout(Duration::from_millis(100));
    let (mut store, inst) = instance_with(config, limits, LOOP);
    assert_trap(store.call_export(&inst, "spin", &[]), TrapCode::Timeout);
    assert!(store.fuel().unwrap() > u64::MAX / 2);
}

#[test]
fn timeout_inside_reentrant_call() {
    let wat = r#"(module
      (import "env" "h" (func $h))
      (func (export "run") (call $h))
      (func (export "spin") (loop $l (br $l))))"#;
    let mut linker = Linker::<()>::new();
    linker.func("env", "h", FuncType::new([], []), |caller, _, _| {
        let e = caller.call("spin", &[], &mut []).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Trap(TrapCode::Timeout));
        Err(HostError::new("inner call timed out"))
    });
    let engine = engine(Config::new().timeouts(true));
    let module = compile(&engine, wat);
    let mut store = engine
        .store((), &Limits::new().timeout(Duration::from_millis(100)))
        .unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    assert_trap(store.call_export(&inst, "run", &[]), TrapCode::HostError);
}

#[test]
fn timeout_without_clock_is_unsupported_only_without_std() {
    // With std the default clock exists, and a custom one can replace it.
    fn frozen() -> Duration {
        Duration::ZERO
    }
    let engine = anywasm_wasmi::Engine::new(&Config::new().timeouts(true))
        .unwrap()
        .with_clock(frozen);
    let module = compile(&engine, LOOP);
    let mut store = engine
        .store((), &Limits::new().timeout(Duration::from_millis(1)))
        .unwrap();
    let inst = store.instantiate(&module, &Linker::new()).unwrap();
    // The clock never advances, so a long loop finishes.
    assert_eq!(
        store
            .call_export(&inst, "count", &[Val::I32(500_000)])
            .unwrap(),
        vec![Val::I32(500_000)]
    );
}

#[test]
fn per_store_limits_on_one_engine() {
    let engine = engine(Config::new().consume_fuel(true));
    let module = compile(&engine, LOOP);
    let mut small = engine.store((), &Limits::new().fuel(1000)).unwrap();
    let mut big = engine.store((), &Limits::new().fuel(10_000_000)).unwrap();
    let a = small.instantiate(&module, &Linker::new()).unwrap();
    let b = big.instantiate(&module, &Linker::new()).unwrap();
    assert_trap(
        small.call_export(&a, "count", &[Val::I32(100_000)]),
        TrapCode::OutOfFuel,
    );
    assert_eq!(
        big.call_export(&b, "count", &[Val::I32(100_000)]).unwrap(),
        vec![Val::I32(100_000)]
    );
}

#[test]
fn host_calls_fuel_and_types() {
    // Host functions do not break fuel accounting.
    let wat = r#"(module (import "env" "id" (func $id (param i32) (result i32)))
       (func (export "run") (param i32) (result i32)
         (local i32)
         (block $d (loop $l
           (br_if $d (i32.eqz (local.get 0)))
           (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
           (local.set 1 (call $id (i32.add (local.get 1) (i32.const 1))))
           (br $l)))
         (local.get 1)))"#;
    let mut linker = Linker::<()>::new();
    linker.func(
        "env",
        "id",
        FuncType::new([ValType::I32], [ValType::I32]),
        |_, a, r| {
            r[0] = a[0];
            Ok(())
        },
    );
    let engine = engine(Config::new().consume_fuel(true).timeouts(true));
    let module = compile(&engine, wat);
    let limits = Limits::new()
        .fuel(2_000_000)
        .timeout(Duration::from_secs(60));
    let mut store = engine.store((), &limits).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    assert_eq!(
        store
            .call_export(&inst, "run", &[Val::I32(50_000)])
            .unwrap(),
        vec![Val::I32(50_000)]
    );
    assert_trap(
        store.call_export(&inst, "run", &[Val::I32(1_000_000)]),
        TrapCode::OutOfFuel,
    );
}

mod start_functions {
    use super::*;
    use anywasm_core::Module as _;

    fn timed_engine() -> anywasm_wasmi::Engine {
        engine(Config::new().timeouts(true).consume_fuel(true))
    }

    #[test]
    fn start_loop_times_out() {
        let engine = timed_engine();
        let module = compile(&engine, "(module (func $s (loop $l (br $l))) (start $s))");
        let mut store = engine
            .store((), &Limits::new().timeout(Duration::from_millis(100)))
            .unwrap();
        assert_trap(
            store.instantiate(&module, &Linker::new()),
            TrapCode::Timeout,
        );
        // With a budget instead: out of fuel.
        let mut store = engine.store((), &Limits::new().fuel(10_000)).unwrap();
        assert_trap(
            store.instantiate(&module, &Linker::new()),
            TrapCode::OutOfFuel,
        );
    }

    #[test]
    fn start_runs_once_and_is_hidden() {
        let engine = timed_engine();
        for wat in [
            // With other exports.
            r#"(module (global $g (export "g") (mut i32) (i32.const 0))
                 (func $s (global.set $g (i32.add (global.get $g) (i32.const 1))))
                 (func (export "f") (result i32) (global.get $g))
                 (start $s))"#,
            // Without an export section.
            r#"(module (global $g (mut i32) (i32.const 0)) (memory 1)
                 (func $s (i32.store (i32.const 0) (i32.const 1))) (start $s))"#,
        ] {
            let module = compile(&engine, wat);
            assert!(module.exports().iter().all(|e| !e.name.contains("anywasm")));
            let mut store = engine
                .store((), &Limits::new().timeout(Duration::from_secs(60)))
                .unwrap();
            let inst = store.instantiate(&module, &Linker::new()).unwrap();
            if module.exports().iter().any(|e| e.name == "g") {
                assert_eq!(store.global_get(&inst, "g").unwrap(), Val::I32(1));
                assert_eq!(
                    store.call_export(&inst, "f", &[]).unwrap(),
                    vec![Val::I32(1)]
                );
            }
            assert_kind(
                store.get_func(&inst, "\u{0}anywasm:start"),
                ErrorKind::ExportNotFound,
            );
        }
    }

    #[test]
    fn start_traps_and_host_start() {
        let engine = timed_engine();
        let module = compile(&engine, "(module (func $s unreachable) (start $s))");
        let mut store = engine.store((), &Limits::new()).unwrap();
        assert_trap(
            store.instantiate(&module, &Linker::new()),
            TrapCode::Unreachable,
        );
        // An imported host function as the start function.
        let module = compile(
            &engine,
            r#"(module (import "env" "init" (func $i)) (start $i))"#,
        );
        let mut linker = Linker::<u32>::new();
        linker.func("env", "init", FuncType::new([], []), |caller, _, _| {
            *caller.data_mut() += 1;
            Ok(())
        });
        let mut store = engine.store(0u32, &Limits::new()).unwrap();
        store.instantiate(&module, &linker).unwrap();
        assert_eq!(*store.data(), 1);
    }

    #[test]
    fn invalid_start_still_rejected() {
        let engine = timed_engine();
        for wat in [
            "(module (func $s (param i32)) (start $s))",
            "(module (func $s (result i32) (i32.const 0)) (start $s))",
        ] {
            let wasm = wat::parse_str(wat).unwrap();
            assert_kind(engine.compile(&wasm), ErrorKind::Compile);
        }
        // Start index out of range (hand-made binary: type, func, start 5, code).
        let wasm = [
            0, 97, 115, 109, 1, 0, 0, 0, // header
            1, 4, 1, 0x60, 0, 0, // type section: [] -> []
            3, 2, 1, 0, // function section
            8, 1, 5, // start section: function 5
            10, 4, 1, 2, 0, 0x0b, // code section
        ];
        assert_kind(engine.compile(&wasm), ErrorKind::Compile);
        // Two start sections.
        let wasm = [
            0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 8, 1, 0, 8, 1, 0, 10, 4,
            1, 2, 0, 0x0b,
        ];
        assert_kind(engine.compile(&wasm), ErrorKind::Compile);
        // The same valid module compiles.
        let wasm = [
            0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 8, 1, 0, 10, 4, 1, 2, 0,
            0x0b,
        ];
        engine.compile(&wasm).unwrap();
    }
}

#[test]
fn fuel_use_is_deterministic_across_stores() {
    let engine = engine(Config::new().consume_fuel(true));
    let module = compile(&engine, LOOP);
    let mut used = Vec::new();
    for _ in 0..3 {
        let mut store = engine.store((), &Limits::new().fuel(1_000_000)).unwrap();
        let inst = store.instantiate(&module, &Linker::new()).unwrap();
        store
            .call_export(&inst, "count", &[Val::I32(1000)])
            .unwrap();
        used.push(1_000_000 - store.fuel().unwrap());
    }
    assert!(used.iter().all(|&u| u == used[0] && u > 0), "{used:?}");
}
