//! Limits: memory and table caps, instance count, fuel, timeouts.

mod common;

use std::time::Duration;

use anywasm_core::{
    Config, ErrorKind, FuncType, HostError, Limits, Linker, Resource, Runtime, Store as _,
    StoreExt, TrapCode, Val,
};
use anywasm_wasmer::Engine;
use common::{assert_kind, assert_trap, setup, setup_with, wasm};

const LIMITS: &str = r#"
(module
  (memory (export "memory") 1)
  (table (export "table") 1 funcref)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func (export "size") (result i32) memory.size)
  (func (export "table_grow") (param i32) (result i32) ref.null func local.get 0 table.grow 0)
  (func (export "spin") (loop br 0))
  (func (export "count") (param i32) (result i32) (local i32)
    (block
      (loop
        local.get 1 local.get 0 i32.ge_u br_if 1
        local.get 1 i32.const 1 i32.add local.set 1
        br 0))
    local.get 1)
  (func $rec (export "recurse") (param i32) (result i32)
    local.get 0 i32.eqz
    if (result i32) i32.const 0
    else local.get 0 i32.const 1 i32.sub call $rec i32.const 1 i32.add end)
)"#;

#[test]
fn memory_cap_guest_and_host() {
    let limits = Limits::new().memory_bytes(4 * 65536);
    let (_e, mut s, i) = setup(LIMITS, &Config::new(), &limits);
    assert_eq!(
        s.call_export(&i, "grow", &[Val::I32(2)]).unwrap(),
        [Val::I32(1)]
    );
    // Past the cap: -1, no trap.
    assert_eq!(
        s.call_export(&i, "grow", &[Val::I32(2)]).unwrap(),
        [Val::I32(-1)]
    );
    assert_eq!(s.call_export(&i, "size", &[]).unwrap(), [Val::I32(3)]);
    assert_eq!(
        s.call_export(&i, "grow", &[Val::I32(1)]).unwrap(),
        [Val::I32(3)]
    );
    assert_eq!(
        s.call_export(&i, "grow", &[Val::I32(1)]).unwrap(),
        [Val::I32(-1)]
    );
    // Host growth past the cap.
    assert_kind(
        s.memory_grow(&i, "memory", 1),
        ErrorKind::LimitExceeded(Resource::Memory),
    );
    assert_kind(
        s.memory_grow(&i, "memory", u64::MAX),
        ErrorKind::LimitExceeded(Resource::Memory),
    );
    assert_eq!(s.memory_grow(&i, "memory", 0).unwrap(), 4);
    assert_eq!(s.memory_size(&i, "memory").unwrap(), 4 * 65536);
}

#[test]
fn memory_cap_respects_declared_maximum() {
    let wat = r#"(module (memory (export "memory") 1 2)
      (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))"#;
    let (_e, mut s, i) = setup(
        wat,
        &Config::new(),
        &Limits::new().memory_bytes(100 * 65536),
    );
    assert_eq!(
        s.call_export(&i, "grow", &[Val::I32(2)]).unwrap(),
        [Val::I32(-1)]
    );
    assert_eq!(
        s.call_export(&i, "grow", &[Val::I32(1)]).unwrap(),
        [Val::I32(1)]
    );
    assert_kind(
        s.memory_grow(&i, "memory", 1),
        ErrorKind::LimitExceeded(Resource::Memory),
    );
}

#[test]
fn initial_memory_over_cap_fails_instantiation() {
    let engine = Engine::new(&Config::new()).unwrap();
    let module = engine.compile(&wasm(r#"(module (memory 5))"#)).unwrap();
    let mut s = engine
        .store((), &Limits::new().memory_bytes(4 * 65536))
        .unwrap();
    assert_kind(
        s.instantiate(&module, &Linker::new()),
        ErrorKind::LimitExceeded(Resource::Memory),
    );
    // A cap below one page still allows memory-less and zero-page modules.
    let mut s = engine.store((), &Limits::new().memory_bytes(1000)).unwrap();
    let zero = engine
        .compile(&wasm(r#"(module (memory (export "m") 0))"#))
        .unwrap();
    let inst = s.instantiate(&zero, &Linker::new()).unwrap();
    assert_kind(
        s.memory_grow(&inst, "m", 1),
        ErrorKind::LimitExceeded(Resource::Memory),
    );
    // The store is still usable and another store has its own caps.
    let mut big = engine
        .store((), &Limits::new().memory_bytes(8 * 65536))
        .unwrap();
    big.instantiate(&module, &Linker::new()).unwrap();
}

#[test]
fn table_cap() {
    let limits = Limits::new().table_elements(3);
    let (_e, mut s, i) = setup(LIMITS, &Config::new(), &limits);
    assert_eq!(
        s.call_export(&i, "table_grow", &[Val::I32(2)]).unwrap(),
        [Val::I32(1)]
    );
    assert_eq!(
        s.call_export(&i, "table_grow", &[Val::I32(1)]).unwrap(),
        [Val::I32(-1)]
    );
    assert_kind(
        s.table_grow(&i, "table", 1, Val::FuncRef(None)),
        ErrorKind::LimitExceeded(Resource::Table),
    );
    assert_eq!(s.table_size(&i, "table").unwrap(), 3);

    let engine = Engine::new(&Config::new()).unwrap();
    let module = engine
        .compile(&wasm(r#"(module (table 10 funcref))"#))
        .unwrap();
    let mut s = engine.store((), &limits).unwrap();
    assert_kind(
        s.instantiate(&module, &Linker::new()),
        ErrorKind::LimitExceeded(Resource::Table),
    );
}

#[test]
fn unlimited_store() {
    let (_e, mut s, i) = setup(LIMITS, &Config::new(), &Limits::unlimited());
    assert_eq!(
        s.call_export(&i, "grow", &[Val::I32(100)]).unwrap(),
        [Val::I32(1)]
    );
    assert_eq!(
        s.call_export(&i, "table_grow", &[Val::I32(1000)]).unwrap(),
        [Val::I32(1)]
    );
}

#[test]
fn instance_limit() {
    let engine = Engine::new(&Config::new()).unwrap();
    let module = engine.compile(&wasm(LIMITS)).unwrap();
    let mut s = engine.store((), &Limits::new().instances(2)).unwrap();
    s.instantiate(&module, &Linker::new()).unwrap();
    let second = s.instantiate(&module, &Linker::new()).unwrap();
    assert_kind(
        s.instantiate(&module, &Linker::new()),
        ErrorKind::LimitExceeded(Resource::Instances),
    );
    assert_eq!(s.call_export(&second, "size", &[]).unwrap(), [Val::I32(1)]);
    // A failed instantiation does not use up the count.
    let mut s = engine.store((), &Limits::new().instances(1)).unwrap();
    let bad = engine
        .compile(&wasm(r#"(module (import "env" "f" (func)))"#))
        .unwrap();
    assert_kind(s.instantiate(&bad, &Linker::new()), ErrorKind::Unlinkable);
    s.instantiate(&module, &Linker::new()).unwrap();
}

#[test]
fn limits_need_their_mechanism() {
    let engine = Engine::new(&Config::new()).unwrap();
    assert_kind(
        engine.store((), &Limits::new().fuel(10)),
        ErrorKind::Unsupported,
    );
    assert_kind(
        engine.store((), &Limits::new().timeout(Duration::from_millis(10))),
        ErrorKind::Unsupported,
    );
    let mut s = engine.store((), &Limits::new()).unwrap();
    assert_kind(s.fuel(), ErrorKind::Unsupported);
    assert_kind(s.set_fuel(5), ErrorKind::Unsupported);
}

#[test]
fn fuel_runs_out_and_refills() {
    let config = Config::new().consume_fuel(true);
    let (_e, mut s, i) = setup(LIMITS, &config, &Limits::new().fuel(10_000));
    assert_eq!(s.fuel().unwrap(), 10_000);
    assert_eq!(
        s.call_export(&i, "count", &[Val::I32(10)]).unwrap(),
        [Val::I32(10)]
    );
    let left = s.fuel().unwrap();
    assert!(left < 10_000 && left > 9_000, "fuel left: {left}");
    // A bigger workload costs more.
    s.call_export(&i, "count", &[Val::I32(100)]).unwrap();
    let left2 = s.fuel().unwrap();
    let (cost10, cost100) = (10_000 - left, left - left2);
    assert!(
        cost100 > 5 * cost10,
        "count(10) cost {cost10}, count(100) cost {cost100}"
    );
    assert_trap(s.call_export(&i, "spin", &[]), TrapCode::OutOfFuel);
    assert_eq!(s.fuel().unwrap(), 0);
    // Empty budget: even a tiny call fails.
    assert_trap(
        s.call_export(&i, "count", &[Val::I32(1)]),
        TrapCode::OutOfFuel,
    );
    s.set_fuel(1_000).unwrap();
    assert_eq!(s.fuel().unwrap(), 1_000);
    assert_eq!(
        s.call_export(&i, "count", &[Val::I32(3)]).unwrap(),
        [Val::I32(3)]
    );
    assert_trap(
        s.call_export(&i, "count", &[Val::I32(1_000_000)]),
        TrapCode::OutOfFuel,
    );
    s.set_fuel(10_000_000).unwrap();
    assert_eq!(
        s.call_export(&i, "count", &[Val::I32(100_000)]).unwrap(),
        [Val::I32(100_000)]
    );
    // A real unreachable is still Unreachable with fuel on.
    let (_e, mut s, i) = setup(
        r#"(module (func (export "u") unreachable))"#,
        &config,
        &Limits::new().fuel(100),
    );
    assert_trap(s.call_export(&i, "u", &[]), TrapCode::Unreachable);
    assert!(s.fuel().unwrap() > 0);
}

#[test]
fn fuel_without_budget_is_unlimited() {
    let config = Config::new().consume_fuel(true);
    let (_e, mut s, i) = setup(LIMITS, &config, &Limits::new());
    assert_eq!(s.fuel().unwrap(), u64::MAX);
    s.call_export(&i, "count", &[Val::I32(1_000_000)]).unwrap();
    assert!(s.fuel().unwrap() < u64::MAX);
}

#[test]
fn fuel_is_shared_by_the_store() {
    // Two instances draw from the same budget.
    let config = Config::new().consume_fuel(true);
    let engine = Engine::new(&config).unwrap();
    let module = engine.compile(&wasm(LIMITS)).unwrap();
    let mut s = engine.store((), &Limits::new().fuel(5_000)).unwrap();
    let a = s.instantiate(&module, &Linker::new()).unwrap();
    let b = s.instantiate(&module, &Linker::new()).unwrap();
    s.call_export(&a, "count", &[Val::I32(200)]).unwrap();
    let after_a = s.fuel().unwrap();
    s.call_export(&b, "count", &[Val::I32(200)]).unwrap();
    let after_b = s.fuel().unwrap();
    assert_eq!(5_000 - after_a, after_a - after_b, "same work, same cost");
    assert_trap(
        s.call_export(&b, "count", &[Val::I32(10_000)]),
        TrapCode::OutOfFuel,
    );
    assert_trap(
        s.call_export(&a, "count", &[Val::I32(1)]),
        TrapCode::OutOfFuel,
    );
}

#[test]
fn fuel_in_start_function() {
    let config = Config::new().consume_fuel(true);
    let engine = Engine::new(&config).unwrap();
    let module = engine
        .compile(&wasm(r#"(module (func $s (loop br 0)) (start $s))"#))
        .unwrap();
    let mut s = engine.store((), &Limits::new().fuel(1_000)).unwrap();
    assert_trap(s.instantiate(&module, &Linker::new()), TrapCode::OutOfFuel);
    let finite = engine
        .compile(&wasm(
            r#"(module (func $s (local i32) i32.const 5 local.set 0) (start $s))"#,
        ))
        .unwrap();
    s.set_fuel(1_000).unwrap();
    s.instantiate(&finite, &Linker::new()).unwrap();
    assert!(s.fuel().unwrap() < 1_000);
}

#[test]
fn fuel_across_host_reentrancy() {
    let mut linker = Linker::<()>::new();
    linker.func("env", "again", FuncType::new([], []), |caller, _, _| {
        caller
            .call("spin", &[], &mut [])
            .map_err(|e| HostError::new(e.to_string()))
    });
    let wat = r#"(module (import "env" "again" (func $a))
      (func (export "spin") (loop br 0))
      (func (export "outer") call $a))"#;
    let config = Config::new().consume_fuel(true);
    let (_e, mut s, i) = setup_with(wat, &config, &Limits::new().fuel(10_000), &linker, ());
    let e = s.call_export(&i, "outer", &[]).unwrap_err();
    // The host turned the inner OutOfFuel into its own error.
    assert_eq!(e.kind(), ErrorKind::Trap(TrapCode::HostError));
    assert!(e.host_error().unwrap().message().contains("fuel"), "{e}");
    assert_eq!(s.fuel().unwrap(), 0);
}

#[test]
fn timeout_stops_an_infinite_loop() {
    let config = Config::new().timeouts(true);
    let limits = Limits::new().timeout(Duration::from_millis(100));
    let (_e, mut s, i) = setup(LIMITS, &config, &limits);
    assert_trap(s.call_export(&i, "spin", &[]), TrapCode::Timeout);
    // The store stays usable, and the next call gets a fresh deadline.
    assert_eq!(
        s.call_export(&i, "count", &[Val::I32(5)]).unwrap(),
        [Val::I32(5)]
    );
    assert_trap(s.call_export(&i, "spin", &[]), TrapCode::Timeout);
    assert_eq!(s.call_export(&i, "size", &[]).unwrap(), [Val::I32(1)]);
}

#[test]
fn timeout_with_fuel() {
    let config = Config::new().timeouts(true).consume_fuel(true);
    let limits = Limits::new().timeout(Duration::from_millis(100));
    let (_e, mut s, i) = setup(LIMITS, &config, &limits);
    assert_trap(s.call_export(&i, "spin", &[]), TrapCode::Timeout);
    assert_eq!(
        s.call_export(&i, "count", &[Val::I32(5)]).unwrap(),
        [Val::I32(5)]
    );
}

#[test]
fn timeout_in_start_function() {
    let config = Config::new().timeouts(true);
    let engine = Engine::new(&config).unwrap();
    let module = engine
        .compile(&wasm(r#"(module (func $s (loop br 0)) (start $s))"#))
        .unwrap();
    let mut s = engine
        .store((), &Limits::new().timeout(Duration::from_millis(100)))
        .unwrap();
    assert_trap(s.instantiate(&module, &Linker::new()), TrapCode::Timeout);
}

#[test]
fn timeout_after_host_call_returns() {
    // The deadline passes while a host function sleeps; the guest traps
    // as soon as control is back in guest code.
    let mut linker = Linker::<()>::new();
    linker.func("env", "sleep", FuncType::new([], []), |_, _, _| {
        std::thread::sleep(Duration::from_millis(200));
        Ok(())
    });
    let wat = r#"(module (import "env" "sleep" (func $s))
      (func (export "f") call $s (loop br 0)))"#;
    let config = Config::new().timeouts(true);
    let limits = Limits::new().timeout(Duration::from_millis(50));
    let (_e, mut s, i) = setup_with(wat, &config, &limits, &linker, ());
    assert_trap(s.call_export(&i, "f", &[]), TrapCode::Timeout);
}

#[test]
fn timeouts_on_many_threads() {
    let engine = Engine::new(&Config::new().timeouts(true)).unwrap();
    let module = engine.compile(&wasm(LIMITS)).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|n| {
            let (engine, module) = (engine.clone(), module.clone());
            std::thread::spawn(move || {
                let limits = Limits::new().timeout(Duration::from_millis(50 + 30 * n));
                let mut s = engine.store((), &limits).unwrap();
                let i = s.instantiate(&module, &Linker::new()).unwrap();
                for _ in 0..3 {
                    assert_trap(s.call_export(&i, "spin", &[]), TrapCode::Timeout);
                    assert_eq!(
                        s.call_export(&i, "count", &[Val::I32(3)]).unwrap(),
                        [Val::I32(3)]
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn quick_calls_with_a_timeout_do_not_trap() {
    let config = Config::new().timeouts(true);
    let limits = Limits::new().timeout(Duration::from_millis(500));
    let (_e, mut s, i) = setup(LIMITS, &config, &limits);
    for n in 0..2_000 {
        assert_eq!(
            s.call_export(&i, "count", &[Val::I32(n % 50)]).unwrap(),
            [Val::I32(n % 50)]
        );
    }
}

#[test]
fn timeouts_enabled_but_unused() {
    // Timeouts compiled in, but this store has no deadline.
    let (_e, mut s, i) = setup(LIMITS, &Config::new().timeouts(true), &Limits::new());
    assert_eq!(
        s.call_export(&i, "count", &[Val::I32(5)]).unwrap(),
        [Val::I32(5)]
    );
}

#[test]
fn stack_limit_with_recursion() {
    let config = Config::new().max_stack_bytes(256 << 10);
    let (_e, mut s, i) = setup(LIMITS, &config, &Limits::new());
    assert_eq!(
        s.call_export(&i, "recurse", &[Val::I32(100)]).unwrap(),
        [Val::I32(100)]
    );
    assert_trap(
        s.call_export(&i, "recurse", &[Val::I32(-1)]),
        TrapCode::StackOverflow,
    );
    assert_eq!(
        s.call_export(&i, "recurse", &[Val::I32(100)]).unwrap(),
        [Val::I32(100)]
    );
}

#[test]
fn engine_runtime_config() {
    let config = Config::new()
        .consume_fuel(true)
        .timeouts(true)
        .max_stack_bytes(1 << 20);
    let engine = Engine::new(&config).unwrap();
    assert_eq!(engine.config(), &config);
    assert_eq!(Engine::default().config(), &Config::default());
}

#[test]
fn huge_timeout_is_no_timeout() {
    let config = Config::new().timeouts(true);
    let (_e, mut s, i) = setup(LIMITS, &config, &Limits::new().timeout(Duration::MAX));
    assert_eq!(
        s.call_export(&i, "count", &[Val::I32(5)]).unwrap(),
        [Val::I32(5)]
    );
}

/// Regression: wasmer names the trap after the instruction `SIGUSR1` lands
/// on, so an interrupted loop of loads used to report `MemoryOutOfBounds`
/// now and then (seen in `abi/infinite_loop_timeout`). A loop that is almost
/// all loads makes that landing likely; every run must say `Timeout`.
#[test]
fn timeout_landing_on_a_load_is_a_timeout() {
    const LOADS: &str = r#"
    (module
      (memory 1)
      (func (export "spin") (local i32)
        (loop
          (local.set 0 (i32.add (local.get 0) (i32.load (i32.const 0))))
          (local.set 0 (i32.add (local.get 0) (i32.load (i32.const 4))))
          (local.set 0 (i32.add (local.get 0) (i32.load (i32.const 8))))
          (local.set 0 (i32.add (local.get 0) (i32.load (i32.const 12))))
          (br 0))))"#;
    let config = Config::new().timeouts(true);
    let limits = Limits::new().timeout(Duration::from_millis(2));
    let (_e, mut s, i) = setup(LOADS, &config, &limits);
    for _ in 0..50 {
        assert_trap(s.call_export(&i, "spin", &[]), TrapCode::Timeout);
    }
}
