//! Every backend's `Engine` has the same inherent surface: one snippet,
//! written without the `Runtime` trait in scope, compiles and runs against
//! each. Engine-specific extras (artifacts on the JIT engines, wasmi's
//! `with_clock`) are outside it.

use anywasm::{BackendKind, Config, Limits, Linker, Store as _, StoreExt as _, Val};

macro_rules! same_surface {
    ($test:ident, $feature:literal, $engine:ty, $kind:expr) => {
        #[cfg(feature = $feature)]
        #[test]
        fn $test() {
            let wasm = wat::parse_str(
                r#"(module (func (export "add") (param i32 i32) (result i32)
                    local.get 0 local.get 1 i32.add))"#,
            )
            .unwrap();
            let kind: BackendKind = <$engine>::BACKEND;
            assert_eq!(kind, $kind);
            let engine = <$engine>::new(&Config::new().consume_fuel(true)).unwrap();
            assert!(engine.config().get_consume_fuel());
            let _raw = engine.raw();
            let module = engine.compile(&wasm).unwrap();
            let mut store = engine.store(7u32, &Limits::new().fuel(1_000_000)).unwrap();
            let instance = store.instantiate(&module, &Linker::new()).unwrap();
            let out = store
                .call_export(&instance, "add", &[Val::I32(40), Val::I32(2)])
                .unwrap();
            assert_eq!(out, [Val::I32(42)]);
            assert_eq!(*store.data(), 7);
            let err = engine.compile(b"\0asm garbage").unwrap_err();
            assert_eq!(err.kind(), anywasm::ErrorKind::Compile);
            assert_eq!(err.backend(), Some($kind));
        }
    };
}

same_surface!(
    wasmtime,
    "wasmtime",
    anywasm::wasmtime::Engine,
    BackendKind::Wasmtime
);
same_surface!(
    wasmer,
    "wasmer",
    anywasm::wasmer::Engine,
    BackendKind::Wasmer
);
same_surface!(wasmi, "wasmi", anywasm::wasmi::Engine, BackendKind::Wasmi);
