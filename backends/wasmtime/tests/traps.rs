//! What is wasmtime's own about traps: it refuses a zero stack bound. Every
//! trap code, traps during instantiation, stack overflow under a configured
//! bound and the store surviving traps are conformance checks
//! (`conformance/src/checks/traps.rs`).

use anywasm_core::{Config, ErrorKind};
use anywasm_wasmtime::Engine;

#[test]
fn zero_stack_limit_is_an_engine_error() {
    let e = Engine::new(&Config::new().max_stack_bytes(0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Engine);
}
