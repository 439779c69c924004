//! Limits as wasmer implements them: the watchdog thread's timeouts and the
//! metering middleware's fuel. The limit contract every engine keeps is
//! tested once, in `conformance/src/checks/limits.rs`.

mod common;

use std::time::Duration;

use anywasm_core::{
    Config, ErrorKind, FuncType, HostError, Limits, Linker, Store as _, StoreExt, TrapCode, Val,
};
use anywasm_wasmer::Engine;
use common::{assert_trap, setup, setup_with, wasm};

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

/// Regression: wasmer's interrupt signal used to unwind host code running on
/// the guest stack (the epilogue of every host call takes a lock in wasmer's
/// interrupt registry and may allocate), leaving the lock or malloc's held and
/// the whole process hung, rarely (seen as a CI run that never finished). A
/// guest that does nothing but call a host function spends most of its time
/// there; with `src/signal.rs` every call must still end in `Timeout`.
#[test]
fn timeout_landing_in_host_code_on_the_guest_stack() {
    const HOST_LOOP: &str = r#"
    (module
      (import "env" "noop" (func $noop))
      (func (export "spin") (loop (call $noop) (br 0))))"#;
    let config = Config::new().timeouts(true);
    let mut linker = Linker::new();
    linker.func("env", "noop", FuncType::new([], []), |_, _, _| Ok(()));
    let engine = Engine::new(&config).unwrap();
    let module = engine.compile(&wasm(HOST_LOOP)).unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    for _ in 0..2 {
        let (engine, module, linker, done) = (
            engine.clone(),
            module.clone(),
            linker.clone(),
            done_tx.clone(),
        );
        std::thread::spawn(move || {
            let limits = Limits::new().timeout(Duration::from_millis(1));
            let mut s = engine.store((), &limits).unwrap();
            let i = s.instantiate(&module, &linker).unwrap();
            for _ in 0..300 {
                assert_trap(s.call_export(&i, "spin", &[]), TrapCode::Timeout);
            }
            done.send(()).unwrap();
        });
    }
    // A hang is the failure this test exists for: give up long after the
    // work (600 calls of about 1 ms) should have finished, and say so.
    for _ in 0..2 {
        done_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("calls under a timeout hung (or a worker panicked)");
    }
}
