//! Limits: memory, tables, instances, fuel, timeouts.

mod common;

use std::time::Duration;

use anywasm_core::{
    Config, ErrorKind, FuncType, HostError, Limits, Linker, Resource, Store as _, TrapCode, Val,
};
use anywasm_wasmtime::Engine;
use common::*;

const GROW: &str = r#"(module
  (memory (export "memory") 1)
  (table (export "table") 1 funcref)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "tgrow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0)))
  (func (export "size") (result i32) (memory.size)))"#;

#[test]
fn guest_memory_grow_past_cap_returns_minus_one() {
    let engine = engine();
    let module = compile(&engine, GROW);
    let mut store = engine
        .store((), &Limits::new().memory_bytes(4 * 65536))
        .unwrap();
    let inst = store.instantiate(&module, &Linker::new()).unwrap();
    assert_eq!(
        call(&mut store, &inst, "grow", &[Val::I32(3)]).unwrap(),
        [Val::I32(1)]
    );
    assert_eq!(
        call(&mut store, &inst, "grow", &[Val::I32(1)]).unwrap(),
        [Val::I32(-1)]
    );
    assert_eq!(call(&mut store, &inst, "size", &[]).unwrap(), [Val::I32(4)]);
    // Host-side growth past the cap is an error, not -1.
    let e = assert_kind(
        store.memory_grow(&inst, "memory", 1),
        ErrorKind::LimitExceeded(Resource::Memory),
    );
    assert!(!e.message().is_empty());
    assert_eq!(store.memory_grow(&inst, "memory", 0).unwrap(), 4);
    assert_eq!(store.memory_size(&inst, "memory").unwrap(), 4 * 65536);
}

#[test]
fn host_memory_grow_within_cap_and_past_declared_max() {
    let engine = engine();
    let module = compile(&engine, r#"(module (memory (export "m") 1 2))"#);
    let mut store = engine.store((), &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &Linker::new()).unwrap();
    assert_eq!(store.memory_grow(&inst, "m", 1).unwrap(), 1);
    assert_kind(
        store.memory_grow(&inst, "m", 1),
        ErrorKind::LimitExceeded(Resource::Memory),
    );
}

#[test]
fn initial_memory_past_cap_fails_instantiation() {
    let engine = engine();
    let module = compile(&engine, "(module (memory 5))");
    let mut store = engine
        .store((), &Limits::new().memory_bytes(4 * 65536))
        .unwrap();
    assert_kind(
        store.instantiate(&module, &Linker::new()),
        ErrorKind::LimitExceeded(Resource::Memory),
    );
    // A start function that grows past the cap just sees -1.
    let module = compile(
        &engine,
        r#"(module (memory 1) (global $g (export "g") (mut i32) (i32.const 0))
          (func $s (global.set $g (memory.grow (i32.const 10)))) (start $s))"#,
    );
    let inst = store.instantiate(&module, &Linker::new()).unwrap();
    assert_eq!(store.global_get(&inst, "g").unwrap(), Val::I32(-1));
}

#[test]
fn tables_are_capped() {
    let engine = engine();
    let module = compile(&engine, GROW);
    let mut store = engine.store((), &Limits::new().table_elements(3)).unwrap();
    let inst = store.instantiate(&module, &Linker::new()).unwrap();
    assert_eq!(
        call(&mut store, &inst, "tgrow", &[Val::I32(2)]).unwrap(),
        [Val::I32(1)]
    );
    assert_eq!(
        call(&mut store, &inst, "tgrow", &[Val::I32(1)]).unwrap(),
        [Val::I32(-1)]
    );
    assert_kind(
        store.table_grow(&inst, "table", 1, Val::FuncRef(None)),
        ErrorKind::LimitExceeded(Resource::Table),
    );
    assert_eq!(store.table_size(&inst, "table").unwrap(), 3);

    let big = compile(&engine, "(module (table 10 funcref))");
    assert_kind(
        store.instantiate(&big, &Linker::new()),
        ErrorKind::LimitExceeded(Resource::Table),
    );
}

#[test]
fn instance_count_is_capped() {
    let engine = engine();
    let module = compile(&engine, "(module)");
    let mut store = engine.store((), &Limits::new().instances(2)).unwrap();
    store.instantiate(&module, &Linker::new()).unwrap();
    store.instantiate(&module, &Linker::new()).unwrap();
    assert_kind(
        store.instantiate(&module, &Linker::new()),
        ErrorKind::LimitExceeded(Resource::Instances),
    );
}

#[test]
fn unlimited_store_allows_many_instances() {
    let engine = engine();
    let module = compile(&engine, "(module (func (export \"f\")))");
    let mut store = engine.store((), &Limits::unlimited()).unwrap();
    for _ in 0..200 {
        store.instantiate(&module, &Linker::new()).unwrap();
    }
}

const SPIN: &str = r#"(module
  (func (export "spin") (loop br 0))
  (func (export "count") (param i32) (result i32)
    (local i32)
    (loop
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (br_if 0 (i32.lt_u (local.get 1) (local.get 0))))
    (local.get 1)))"#;

#[test]
fn fuel_runs_out_and_can_be_refilled() {
    let engine = Engine::new(&Config::new().consume_fuel(true)).unwrap();
    let module = compile(&engine, SPIN);
    let mut store = engine.store((), &Limits::new().fuel(10_000)).unwrap();
    assert_eq!(store.fuel().unwrap(), 10_000);
    let inst = store.instantiate(&module, &Linker::new()).unwrap();
    assert_eq!(
        call(&mut store, &inst, "count", &[Val::I32(10)]).unwrap(),
        [Val::I32(10)]
    );
    let left = store.fuel().unwrap();
    assert!(left < 10_000, "fuel was consumed: {left}");
    assert_trap(call(&mut store, &inst, "spin", &[]), TrapCode::OutOfFuel);
    assert_eq!(store.fuel().unwrap(), 0);
    assert_trap(
        call(&mut store, &inst, "count", &[Val::I32(10)]),
        TrapCode::OutOfFuel,
    );
    store.set_fuel(1_000_000).unwrap();
    assert_eq!(store.fuel().unwrap(), 1_000_000);
    assert_eq!(
        call(&mut store, &inst, "count", &[Val::I32(100)]).unwrap(),
        [Val::I32(100)]
    );
}

#[test]
fn fuel_without_budget_is_effectively_unlimited() {
    let engine = Engine::new(&Config::new().consume_fuel(true)).unwrap();
    let module = compile(&engine, SPIN);
    let mut store = engine.store((), &Limits::new()).unwrap();
    assert!(store.fuel().unwrap() >= u64::MAX / 2);
    let inst = store.instantiate(&module, &Linker::new()).unwrap();
    assert_eq!(
        call(&mut store, &inst, "count", &[Val::I32(100_000)]).unwrap(),
        [Val::I32(100_000)]
    );
}

#[test]
fn fuel_unsupported_without_metering() {
    let engine = engine();
    let mut store = engine.store((), &Limits::new()).unwrap();
    assert_kind(store.fuel(), ErrorKind::Unsupported);
    assert_kind(store.set_fuel(5), ErrorKind::Unsupported);
    assert_kind(
        engine.store((), &Limits::new().fuel(5)),
        ErrorKind::Unsupported,
    );
    assert_kind(
        engine.store((), &Limits::new().timeout(Duration::from_millis(5))),
        ErrorKind::Unsupported,
    );
}

#[test]
fn fuel_in_start_function() {
    let engine = Engine::new(&Config::new().consume_fuel(true)).unwrap();
    let module = compile(&engine, "(module (func $s (loop br 0)) (start $s))");
    let mut store = engine.store((), &Limits::new().fuel(1000)).unwrap();
    assert_trap(
        store.instantiate(&module, &Linker::new()),
        TrapCode::OutOfFuel,
    );
}

#[test]
fn timeout_stops_an_infinite_loop_and_store_stays_usable() {
    let engine = Engine::new(&Config::new().timeouts(true)).unwrap();
    let module = compile(&engine, SPIN);
    let mut store = engine
        .store((), &Limits::new().timeout(Duration::from_millis(100)))
        .unwrap();
    let inst = store.instantiate(&module, &Linker::new()).unwrap();
    assert_trap(call(&mut store, &inst, "spin", &[]), TrapCode::Timeout);
    // The next call gets a fresh deadline.
    assert_eq!(
        call(&mut store, &inst, "count", &[Val::I32(1000)]).unwrap(),
        [Val::I32(1000)]
    );
    assert_trap(call(&mut store, &inst, "spin", &[]), TrapCode::Timeout);
}

#[test]
fn timeouts_enabled_but_store_without_timeout_runs_normally() {
    let engine = Engine::new(&Config::new().timeouts(true)).unwrap();
    let module = compile(&engine, SPIN);
    let mut store = engine.store((), &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &Linker::new()).unwrap();
    assert_eq!(
        call(&mut store, &inst, "count", &[Val::I32(1_000_000)]).unwrap(),
        [Val::I32(1_000_000)]
    );
}

#[test]
fn timeout_bounds_start_function_and_host_reentry() {
    let engine = Engine::new(&Config::new().timeouts(true).consume_fuel(true)).unwrap();
    let limits = Limits::new().timeout(Duration::from_millis(100));
    let mut store = engine.store((), &limits).unwrap();
    let start = compile(&engine, "(module (func $s (loop br 0)) (start $s))");
    assert_trap(store.instantiate(&start, &Linker::new()), TrapCode::Timeout);

    // A guest spinning inside a re-entrant call is stopped by the outer
    // call's deadline; the host sees the trap and reports it.
    let module = compile(
        &engine,
        r#"(module
          (import "env" "reenter" (func $r))
          (func (export "spin") (loop br 0))
          (func (export "run") (call $r)))"#,
    );
    let mut linker = Linker::<()>::new();
    linker.func("env", "reenter", FuncType::new([], []), |caller, _, _| {
        let e = caller.call("spin", &[], &mut []).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Trap(TrapCode::Timeout));
        Err(HostError::new("inner call timed out"))
    });
    let inst = store.instantiate(&module, &linker).unwrap();
    let e = assert_trap(call(&mut store, &inst, "run", &[]), TrapCode::HostError);
    assert_eq!(e.host_error().unwrap().message(), "inner call timed out");
}

#[test]
fn timeouts_on_several_threads_share_one_engine() {
    let engine = Engine::new(&Config::new().timeouts(true)).unwrap();
    let module = compile(&engine, SPIN);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let engine = engine.clone();
            let module = module.clone();
            std::thread::spawn(move || {
                let mut store = engine
                    .store((), &Limits::new().timeout(Duration::from_millis(50)))
                    .unwrap();
                let inst = store.instantiate(&module, &Linker::new()).unwrap();
                call(&mut store, &inst, "spin", &[]).unwrap_err().kind()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), ErrorKind::Trap(TrapCode::Timeout));
    }
}

#[test]
fn engines_and_their_tickers_are_dropped() {
    // Creating and dropping many timeout-enabled engines must not leak
    // threads (each engine's ticker thread is joined on drop).
    for _ in 0..50 {
        let engine = Engine::new(&Config::new().timeouts(true)).unwrap();
        let module = compile(&engine, SPIN);
        let mut store = engine
            .store((), &Limits::new().timeout(Duration::from_millis(1)))
            .unwrap();
        drop(engine);
        // The store keeps the ticker alive after the engine handle is gone.
        let inst = store.instantiate(&module, &Linker::new()).unwrap();
        assert_trap(call(&mut store, &inst, "spin", &[]), TrapCode::Timeout);
    }
}

#[test]
fn everything_at_once() {
    let engine = Engine::new(
        &Config::new()
            .consume_fuel(true)
            .timeouts(true)
            .max_stack_bytes(256 * 1024),
    )
    .unwrap();
    let module = compile(&engine, SPIN);
    let mut store = engine
        .store(
            (),
            &Limits::new()
                .fuel(1_000_000_000_000)
                .timeout(Duration::from_millis(100)),
        )
        .unwrap();
    let inst = store.instantiate(&module, &Linker::new()).unwrap();
    assert_trap(call(&mut store, &inst, "spin", &[]), TrapCode::Timeout);
    store.set_fuel(100).unwrap();
    assert_trap(call(&mut store, &inst, "spin", &[]), TrapCode::OutOfFuel);
}
