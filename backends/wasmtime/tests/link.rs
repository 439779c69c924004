//! The wasmtime backend's own types: traits, defaults, the raw engine (the
//! contract's linking checks are in conformance).

use anywasm_core::Config;
use anywasm_wasmtime::Engine;

#[test]
fn engine_is_clone_send_sync_and_default() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Engine>();
    assert_traits::<anywasm_wasmtime::Module>();
    assert_traits::<anywasm_wasmtime::Instance>();
    assert_traits::<anywasm_wasmtime::Func>();
    fn assert_send<T: Send>() {}
    assert_send::<anywasm_wasmtime::Store<std::cell::Cell<u8>>>();
    let e = Engine::default();
    assert_eq!(e.config(), &Config::default());
    assert_eq!(Engine::BACKEND, anywasm_core::BackendKind::Wasmtime);
    let _: &anywasm_wasmtime::raw::Engine = e.raw();
}
