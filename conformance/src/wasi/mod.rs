//! WASI preview 1 through anywasm: the official wasi-testsuite runner
//! ([`suite`]) and its expected failures ([`expected`]). The bad-input
//! checks live with the other conformance checks (`wasi/...`).

pub mod expected;
pub mod suite;
