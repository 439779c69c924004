//! Limits as wasmtime implements them: the epoch ticker behind timeouts, and
//! its fuel. The limit contract every engine keeps is tested once, in
//! `conformance/src/checks/limits.rs`.

mod common;

use std::time::Duration;

use anywasm_core::{Config, ErrorKind, Limits, Linker, Store as _, TrapCode, Val};
use anywasm_wasmtime::Engine;
use common::*;

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
