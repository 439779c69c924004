//! Naming the engines.

use core::fmt;
use core::str::FromStr;

/// Which engine a backend wraps.
///
/// Parsing accepts the lowercase names (`"wasmtime"`, `"wasmer"`, `"wasmi"`);
/// whether that engine is compiled into this build is the facade's question
/// (`anywasm::engine_by_name`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum BackendKind {
    /// wasmtime: Cranelift JIT.
    Wasmtime,
    /// wasmer: Cranelift compiler with wasmer's runtime.
    Wasmer,
    /// wasmi: interpreter, `no_std` capable.
    Wasmi,
}

impl BackendKind {
    /// Every backend anywasm knows about, compiled in or not.
    pub const ALL: [BackendKind; 3] = [
        BackendKind::Wasmtime,
        BackendKind::Wasmer,
        BackendKind::Wasmi,
    ];

    /// Lowercase name, as accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Wasmtime => "wasmtime",
            BackendKind::Wasmer => "wasmer",
            BackendKind::Wasmi => "wasmi",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error from parsing a [`BackendKind`] name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown backend `{0}` (expected one of: wasmtime, wasmer, wasmi)")]
pub struct UnknownBackend(pub alloc::string::String);

impl FromStr for BackendKind {
    type Err = UnknownBackend;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BackendKind::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownBackend(s.into()))
    }
}
