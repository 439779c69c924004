//! Shared helpers for the wasmer backend's integration tests.
#![allow(dead_code)]

use anywasm_core::{Config, Error, ErrorKind, Limits, Linker, Store as _, TrapCode};
use anywasm_wasmer::{Engine, Instance, Store};

/// Text to binary.
pub fn wasm(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).expect("test module must parse")
}

/// An engine, a store and one instance of `wat` (no host functions).
pub fn setup(wat: &str, config: &Config, limits: &Limits) -> (Engine, Store<()>, Instance) {
    setup_with(wat, config, limits, &Linker::new(), ())
}

/// An engine, a store with `data` and one instance of `wat` linked against `linker`.
pub fn setup_with<T: Send + 'static>(
    wat: &str,
    config: &Config,
    limits: &Limits,
    linker: &Linker<T>,
    data: T,
) -> (Engine, Store<T>, Instance) {
    let engine = Engine::new(config).expect("engine");
    let module = engine.compile(&wasm(wat)).expect("compile");
    let mut store = engine.store(data, limits).expect("store");
    let instance = store.instantiate(&module, linker).expect("instantiate");
    (engine, store, instance)
}

/// Assert an error kind (and that the error is tagged with the wasmer backend).
#[track_caller]
pub fn assert_kind<T: std::fmt::Debug>(r: Result<T, Error>, kind: ErrorKind) {
    match r {
        Ok(v) => panic!("expected {kind:?}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "wrong kind: {e}");
            assert_eq!(
                e.backend(),
                Some(anywasm_core::BackendKind::Wasmer),
                "untagged: {e}"
            );
        }
    }
}

/// Assert a trap code.
#[track_caller]
pub fn assert_trap<T: std::fmt::Debug>(r: Result<T, Error>, code: TrapCode) {
    assert_kind(r, ErrorKind::Trap(code));
}
