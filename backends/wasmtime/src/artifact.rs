//! Serialised modules: wasmtime's `Module::serialize` / `Module::deserialize`
//! behind [`Runtime::serialize_module`](anywasm_core::Runtime::serialize_module)
//! and [`Runtime::deserialize_module`](anywasm_core::Runtime::deserialize_module).
//!
//! An artifact is wasmtime's precompiled ELF image. wasmtime checks on its
//! own, before using one, that the image is an ELF file it wrote, that its
//! version string equals this wasmtime's (`48.0.0`) and that the compiler
//! settings, tunables and wasm features recorded in it match the engine's;
//! a mismatch is an error, not undefined behaviour. What it cannot check is
//! that the code and metadata in an image that passes are the bytes it
//! wrote: a corrupt or forged image is undefined behaviour. The
//! [`ArtifactFormat`] below therefore covers everything the code depends
//! on, so a host can refuse a foreign artifact before wasmtime sees it.

use std::hash::{Hash, Hasher};

use anywasm_core::{ArtifactFormat, BackendKind, ErrorKind, Result};

use crate::error::{chain_message, err};
use crate::{Engine, Module};

/// Bump when this crate changes how it configures wasmtime's code
/// generation in a way its version number does not capture.
const ARTIFACT_REVISION: u32 = 1;

/// A `Hasher` that keeps every byte it is fed: the fingerprint is the exact
/// stream wasmtime's compatibility hash writes, not a digest of it, so two
/// fingerprints are equal only if every input was.
#[derive(Default)]
struct Collect(Vec<u8>);

impl Hasher for Collect {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn finish(&self) -> u64 {
        0
    }
}

/// The format of `engine`'s artifacts: this crate's version and revision,
/// the gas cost table's version (gas-instrumented code depends on it),
/// the anywasm configuration, and wasmtime's own
/// `precompile_compatibility_hash` (target, Cranelift flags including the
/// host CPU's ISA flags, tunables such as fuel and epoch interruption,
/// wasm features, wasmtime's version).
pub(crate) fn format(engine: &Engine) -> ArtifactFormat {
    let mut fp = Collect::default();
    fp.write(concat!("anywasm-wasmtime ", env!("CARGO_PKG_VERSION")).as_bytes());
    fp.write(&ARTIFACT_REVISION.to_le_bytes());
    fp.write(&anywasm_gas::COST_TABLE_VERSION.to_le_bytes());
    fp.write(format!("{:?}", engine.config()).as_bytes());
    engine.raw().precompile_compatibility_hash().hash(&mut fp);
    ArtifactFormat::new(BackendKind::Wasmtime, wasmtime_environ::VERSION, fp.0)
}

/// `Module::serialize`.
pub(crate) fn serialize(module: &Module) -> Result<Vec<u8>> {
    module.raw().serialize().map_err(|e| {
        err(
            ErrorKind::Engine,
            format!("serialising the module: {}", chain_message(&e)),
        )
    })
}

/// `Module::deserialize`.
///
/// # Safety
///
/// As [`Runtime::deserialize_module`](anywasm_core::Runtime::deserialize_module).
pub(crate) unsafe fn deserialize(engine: &Engine, bytes: &[u8]) -> Result<Module> {
    // SAFETY: the caller promises `bytes` are an unmodified artifact of an
    // engine with this engine's `ArtifactFormat`, which is what wasmtime's
    // `Module::deserialize` requires ("the exact output of
    // `Module::serialize`").
    let inner = unsafe { wasmtime::Module::deserialize(engine.raw(), bytes) }.map_err(|e| {
        err(
            ErrorKind::Engine,
            format!(
                "wasmtime refused the serialised module: {}",
                chain_message(&e)
            ),
        )
    })?;
    Ok(Module::from_raw(inner))
}
