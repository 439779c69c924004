//! wasmer-specific module handling: the metering middleware's globals and
//! per-module metering (the contract's module checks are in conformance).

mod common;

use anywasm_core::{Config, ErrorKind, Limits, Linker, Store as _, StoreExt, Val};
use anywasm_wasmer::Engine;
use common::{assert_kind, wasm};

const LINK: &str = r#"(module
  (func (export "five") (result i32) i32.const 5)
  (memory (export "mem") 1)
  (global (export "glob") (mut i32) (i32.const 11))
  (table (export "tab") 2 funcref))"#;

#[test]
fn metering_globals_are_hidden() {
    let engine = Engine::new(&Config::new().consume_fuel(true)).unwrap();
    let mut store = engine.store((), &Limits::new().fuel(1000)).unwrap();
    let inst = store
        .instantiate(&engine.compile(&wasm(LINK)).unwrap(), &Linker::new())
        .unwrap();
    assert_kind(
        store.global_get(&inst, "wasmer_metering_remaining_points"),
        ErrorKind::ExportNotFound,
    );
    assert_kind(
        store.global_set(&inst, "wasmer_metering_points_exhausted", Val::I32(0)),
        ErrorKind::ExportNotFound,
    );
}

#[test]
fn many_modules_one_engine() {
    // Modules compiled in parallel on one metering engine each get their own metering.
    let engine = Engine::new(&Config::new().consume_fuel(true)).unwrap();
    let handles: Vec<_> = (0..8)
        .map(|n| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let wat = format!(
                    r#"(module (global $g (mut i32) (i32.const {n}))
                         (func (export "n") (result i32) global.get $g))"#
                );
                let module = engine.compile(&wasm(&wat)).unwrap();
                let mut store = engine.store((), &Limits::new().fuel(100)).unwrap();
                let inst = store.instantiate(&module, &Linker::new()).unwrap();
                assert_eq!(store.call_export(&inst, "n", &[]).unwrap(), [Val::I32(n)]);
                assert!(store.fuel().unwrap() < 100);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}
