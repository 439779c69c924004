//! Compiled code outside the engine: what a serialised module is compatible
//! with.
//!
//! The JIT engines can write a compiled module out as bytes
//! ([`Runtime::serialize_module`](crate::Runtime::serialize_module)) and
//! turn such bytes back into a module without compiling again
//! ([`Runtime::deserialize_module`](crate::Runtime::deserialize_module)),
//! which is how a host skips compilation on a cold start. Those bytes are
//! machine code plus the engine's own data structures, so loading them is
//! only sound for bytes an engine *of the same version and configuration*
//! wrote, unmodified. [`ArtifactFormat`] names that compatibility: two
//! engines whose formats are equal load each other's artifacts, and
//! nothing else may be given to `deserialize_module`.
//!
//! | engine | artifacts | why |
//! |---|---|---|
//! | wasmtime | yes | `Module::serialize` / `Module::deserialize` (an ELF image) |
//! | wasmer | yes | `Module::serialize` / `Module::deserialize` (an rkyv archive) |
//! | wasmi | no | it translates functions lazily, on first call; compiling is already cheap |

use alloc::string::String;
use alloc::vec::Vec;

use crate::{BackendKind, Error, ErrorKind};

/// What a serialised module of one engine is compatible with: the engine,
/// its exact version and a fingerprint of everything else its code depends
/// on (the anywasm backend's version, the engine configuration, the host
/// CPU's features as the compiler saw them).
///
/// Equal formats mean the artifacts are interchangeable; the fingerprint is
/// opaque bytes, meant to be compared or hashed, never parsed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArtifactFormat {
    backend: BackendKind,
    engine_version: String,
    fingerprint: Vec<u8>,
}

impl ArtifactFormat {
    /// The format of `backend` at `engine_version` (the engine crate's exact
    /// version, `"48.0.0"`), configured as `fingerprint` says.
    pub fn new(
        backend: BackendKind,
        engine_version: impl Into<String>,
        fingerprint: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            backend,
            engine_version: engine_version.into(),
            fingerprint: fingerprint.into(),
        }
    }

    /// The engine.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// The engine crate's exact version.
    pub fn engine_version(&self) -> &str {
        &self.engine_version
    }

    /// Everything else the compiled code depends on, as opaque bytes.
    pub fn fingerprint(&self) -> &[u8] {
        &self.fingerprint
    }
}

/// The error of an engine that has no artifacts (see the module docs).
pub fn artifacts_unsupported(backend: BackendKind) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        alloc::format!(
            "{backend} cannot serialise compiled modules (it compiles lazily; compile the wasm instead)"
        ),
    )
    .with_backend(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_compare_every_part() {
        let a = ArtifactFormat::new(BackendKind::Wasmtime, "48.0.0", *b"cfg");
        assert_eq!(
            a,
            ArtifactFormat::new(BackendKind::Wasmtime, "48.0.0", *b"cfg")
        );
        assert_ne!(
            a,
            ArtifactFormat::new(BackendKind::Wasmer, "48.0.0", *b"cfg")
        );
        assert_ne!(
            a,
            ArtifactFormat::new(BackendKind::Wasmtime, "48.0.1", *b"cfg")
        );
        assert_ne!(
            a,
            ArtifactFormat::new(BackendKind::Wasmtime, "48.0.0", *b"cfh")
        );
        assert_eq!(a.engine_version(), "48.0.0");
        assert_eq!(a.fingerprint(), b"cfg");
    }

    #[test]
    fn unsupported_names_the_engine() {
        let e = artifacts_unsupported(BackendKind::Wasmi);
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert_eq!(e.backend(), Some(BackendKind::Wasmi));
    }
}
