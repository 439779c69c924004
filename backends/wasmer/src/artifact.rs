//! Serialised modules: wasmer's `Module::serialize` / `Module::deserialize`
//! behind [`Runtime::serialize_module`](anywasm_core::Runtime::serialize_module)
//! and [`Runtime::deserialize_module`](anywasm_core::Runtime::deserialize_module).
//!
//! An artifact is wasmer's rkyv archive of the compiled module: its
//! `ModuleInfo` (with the exports this crate's middlewares added: the
//! hidden start export and, with fuel, the metering globals), the machine
//! code and trampolines. wasmer checks very little before using one: a
//! magic number, its archive format revision (24 in wasmer 7.4) and that
//! the host CPU has the features the code was compiled for. wasmer 7.4's
//! public `Module::deserialize` reads the archive *without* validating it
//! (it calls `deserialize_unchecked`), so any other difference, a different
//! wasmer version with the same revision, another fuel setting (code with
//! or without metering), a flipped bit, is undefined behaviour. The
//! [`ArtifactFormat`] below therefore names all of it, and a host must
//! refuse anything else before wasmer sees it.

use anywasm_core::{ArtifactFormat, BackendKind, ErrorKind, Result};
use wasmer::sys::{Features, NativeEngineExt};

use crate::error::err;
use crate::{Engine, Module};

/// Bump when this crate's code generation changes in a way its version
/// number does not capture: the middlewares (start hook, fuel metering and
/// its cost function) or the engine's features and tunables.
const ARTIFACT_REVISION: u32 = 2;

/// The format of `engine`'s artifacts: this crate's version and revision,
/// the gas cost table's version (gas-instrumented code depends on it),
/// the anywasm configuration (fuel decides whether code is metered),
/// Cranelift's settings (`Engine::deterministic_id`), the wasm features and
/// the target with its CPU features.
pub(crate) fn format(engine: &Engine) -> ArtifactFormat {
    let raw = engine.raw();
    let fingerprint = format!(
        "anywasm-wasmer {} rev {ARTIFACT_REVISION}\ngas table {}\nconfig {:?}\ncompiler {}\nfeatures {:?}\ntarget {:?}",
        env!("CARGO_PKG_VERSION"),
        anywasm_gas::COST_TABLE_VERSION,
        engine.config(),
        raw.deterministic_id(),
        Features::default(),
        raw.target(),
    );
    ArtifactFormat::new(BackendKind::Wasmer, wasmer_types::VERSION, fingerprint)
}

/// `Module::serialize`.
pub(crate) fn serialize(module: &Module) -> Result<Vec<u8>> {
    module
        .raw()
        .serialize()
        .map(|bytes| bytes.to_vec())
        .map_err(|e| err(ErrorKind::Engine, format!("serialising the module: {e}")))
}

/// `Module::deserialize`.
///
/// # Safety
///
/// As [`Runtime::deserialize_module`](anywasm_core::Runtime::deserialize_module).
pub(crate) unsafe fn deserialize(engine: &Engine, bytes: &[u8]) -> Result<Module> {
    // SAFETY: the caller promises `bytes` are an unmodified artifact of an
    // engine with this engine's `ArtifactFormat`: the same wasmer version,
    // middlewares, features and target, which is what wasmer's
    // `Module::deserialize` requires ("a valid artifact previously built
    // with `Module::serialize`").
    let inner = unsafe { wasmer::Module::deserialize(engine.raw(), bytes) }.map_err(|e| {
        err(
            ErrorKind::Engine,
            format!("wasmer refused the serialised module: {e}"),
        )
    })?;
    Ok(Module::new(
        inner,
        engine.id(),
        engine.config().get_consume_fuel(),
    ))
}
