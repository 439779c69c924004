//! Shared helpers for the integration tests.
#![allow(dead_code)]

use anywasm_core::{Config, Error, ErrorKind, Limits, Linker, Store as _, TrapCode};
use anywasm_wasmi::{Engine, Instance, Module, Store};

pub fn engine(config: Config) -> Engine {
    Engine::new(&config).expect("engine")
}

pub fn compile(engine: &Engine, wat: &str) -> Module {
    let wasm = wat::parse_str(wat).expect("valid wat");
    engine.compile(&wasm).expect("module compiles")
}

/// A store with unlimited limits on a default engine, and one instance of `wat`.
pub fn instance_with(config: Config, limits: Limits, wat: &str) -> (Store<()>, Instance) {
    let engine = engine(config);
    let module = compile(&engine, wat);
    let mut store = engine.store((), &limits).expect("store");
    let inst = store
        .instantiate(&module, &Linker::new())
        .expect("instantiates");
    (store, inst)
}

#[track_caller]
pub fn assert_kind<T: core::fmt::Debug>(r: Result<T, Error>, kind: ErrorKind) -> Error {
    match r {
        Ok(v) => panic!("expected {kind:?}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "unexpected error: {e}");
            assert_eq!(e.backend(), Some(anywasm_core::BackendKind::Wasmi), "{e}");
            e
        }
    }
}

#[track_caller]
pub fn assert_trap<T: core::fmt::Debug>(r: Result<T, Error>, code: TrapCode) -> Error {
    assert_kind(r, ErrorKind::Trap(code))
}
