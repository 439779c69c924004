//! What is wasmi's own about values: v128 needs its `simd` feature, and the
//! engine's static properties. Values, references, globals, tables, memory and
//! type checks are conformance checks (`conformance/src/checks/values.rs`,
//! `memory.rs`, `module.rs`).

mod common;

#[cfg(not(feature = "simd"))]
use anywasm_core::ErrorKind;
use anywasm_core::{Config, Runtime};
use common::*;

#[cfg(not(feature = "simd"))]
const SIMD: &str = r#"
(module
  (func (export "v128") (param v128) (result v128) (local.get 0))
  (func (export "v128_add") (param v128 v128) (result v128) (i32x4.add (local.get 0) (local.get 1)))
  (global (export "gv") (mut v128) (v128.const i64x2 0 0))
)
"#;

#[cfg(not(feature = "simd"))]
#[test]
fn v128_needs_simd_feature() {
    let engine = engine(Config::default());
    let wasm = wat::parse_str(SIMD).unwrap();
    assert_kind(engine.compile(&wasm), ErrorKind::Compile);
}

#[test]
fn engine_basics() {
    use anywasm_core::BackendKind;
    let e = anywasm_wasmi::Engine::default();
    assert_eq!(
        <anywasm_wasmi::Engine as Runtime>::BACKEND,
        BackendKind::Wasmi
    );
    assert_eq!(anywasm_wasmi::Engine::BACKEND, BackendKind::Wasmi);
    assert_eq!(e.config(), &Config::default());
    let c = Config::new().consume_fuel(true).max_stack_bytes(1 << 16);
    assert_eq!(Runtime::config(&engine(c.clone())), &c);
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<anywasm_wasmi::Engine>();
    assert_send_sync::<anywasm_wasmi::Module>();
    assert_send_sync::<anywasm_wasmi::Instance>();
    assert_send_sync::<anywasm_wasmi::Func>();
    fn assert_send<T: Send>() {}
    assert_send::<anywasm_wasmi::Store<std::cell::Cell<u8>>>();
}
