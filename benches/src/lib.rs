//! Shared setup for the anywasm benches (`cargo bench -p anywasm-benches`).
//!
//! Group names are `<group>/<workload>/<engine>`, so criterion's reports
//! line the engines up per workload.

use anywasm::{BackendKind, Caller, Capabilities, Config, Limits, Linker, Plugin, abi};

/// The ABI guest loaded on `backend`, with its `anywasm::add` host function.
pub fn abi_plugin(backend: BackendKind) -> Plugin<()> {
    let engine = anywasm::engine::<()>(backend, &Config::new()).expect("engine");
    let mut linker = Linker::new();
    linker.abi_func(
        "add",
        "math",
        abi::DEFAULT_MESSAGE_CAP,
        |_: &mut dyn Caller<()>, (a, b): (i32, i32)| Ok(a.wrapping_add(b)),
    );
    let caps = Capabilities::none().grant("math");
    Plugin::load(
        &*engine,
        anywasm_conformance::guests::ABI_GUEST,
        &linker,
        &caps,
        (),
        &Limits::new(),
    )
    .expect("load abi-guest")
}
