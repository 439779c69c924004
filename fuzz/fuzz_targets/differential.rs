//! `cargo fuzz run differential`: wasm-smith modules from libFuzzer's bytes,
//! run on every backend through the anywasm contract; a divergence in
//! results, trap kinds, globals or memory aborts with both traces.
//! Reproduce a crash with `cargo fuzz run differential <artifact>`; pin it as
//! a named test in conformance/tests/differential.rs.

#![no_main]

use anywasm_conformance::spec::differential::{Oracle, generate};
use libfuzzer_sys::fuzz_target;

thread_local! {
    static ORACLE: Oracle = Oracle::new().expect("every compiled-in engine starts");
}

fuzz_target!(|data: &[u8]| {
    let Some(wasm) = generate(data) else {
        return;
    };
    ORACLE.with(|oracle| {
        if let Err(divergence) = oracle.check(&wasm) {
            panic!("backends diverge: {divergence}");
        }
    });
});
