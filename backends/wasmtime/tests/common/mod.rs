//! Shared helpers for the integration tests.
#![allow(dead_code)]

use anywasm_core::{Config, Error, ErrorKind, Limits, Linker, Store as _, StoreExt, TrapCode, Val};
use anywasm_wasmtime::{Engine, Instance, Module, Store};

pub fn wasm(src: &str) -> Vec<u8> {
    wat::parse_str(src).expect("test module must parse")
}

pub fn engine() -> Engine {
    Engine::new(&Config::new()).expect("engine")
}

pub fn compile(engine: &Engine, src: &str) -> Module {
    engine
        .compile(&wasm(src))
        .expect("test module must compile")
}

/// A store with no limits and one instance of `src` (no imports).
pub fn instance(src: &str) -> (Store<()>, Instance) {
    let engine = engine();
    let module = compile(&engine, src);
    let mut store = engine.store((), &Limits::unlimited()).expect("store");
    let inst = store
        .instantiate(&module, &Linker::new())
        .expect("instantiate");
    (store, inst)
}

pub fn call<T: Send + 'static>(
    store: &mut Store<T>,
    inst: &Instance,
    name: &str,
    args: &[Val],
) -> Result<Vec<Val>, Error> {
    store.call_export(inst, name, args)
}

#[track_caller]
pub fn assert_kind<V: std::fmt::Debug>(r: Result<V, Error>, kind: ErrorKind) -> Error {
    match r {
        Ok(v) => panic!("expected {kind:?}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "wrong kind: {e}");
            assert_eq!(
                e.backend(),
                Some(anywasm_core::BackendKind::Wasmtime),
                "untagged error: {e}"
            );
            e
        }
    }
}

#[track_caller]
pub fn assert_trap<V: std::fmt::Debug>(r: Result<V, Error>, code: TrapCode) -> Error {
    assert_kind(r, ErrorKind::Trap(code))
}
