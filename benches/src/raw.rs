//! The same work, hand-written against each engine's own API.
//!
//! Each module has an [`AbiHost`](crate::AbiHost) (typed functions resolved
//! once, the same codec and copies as anywasm) and registers its call-level
//! benches (`-raw*` ids) next to anywasm's.

pub mod wasmer;
pub mod wasmi;
pub mod wasmtime;
