//! [`Module`]: a compiled wasmer module with its imports and exports mapped
//! to anywasm's types once, at compile time.

use std::sync::Arc;

use anywasm_core::{Error, ExportType, ImportType};

use crate::convert::extern_type;
use crate::engine::Engine;
use crate::error::compile_error;
use crate::middleware::is_hidden;

/// A compiled module, cheap to clone, usable in any store of the engine
/// that compiled it.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: wasmer::Module,
    /// Identity of the engine that compiled it.
    pub(crate) engine: u64,
    imports: Arc<[ImportType]>,
    exports: Arc<[ExportType]>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("imports", &self.imports)
            .field("exports", &self.exports)
            .finish_non_exhaustive()
    }
}

impl Module {
    /// Validate and compile `wasm` for `engine` (instrumented for gas first
    /// when the engine has `Config::gas`).
    pub(crate) fn compile(engine: &Engine, wasm: &[u8]) -> Result<Self, Error> {
        anywasm_core::check_module_bounds(engine.config(), wasm).map_err(crate::error::tag)?;
        let metered = if engine.config().get_gas() {
            // The original must be a module wasmer accepts as it is: the
            // pass re-encodes, which could otherwise turn a malformed
            // encoding into a canonical, valid one.
            wasmer::Module::validate(engine.wasmer(), wasm).map_err(compile_error)?;
            Some(anywasm_gas::instrument(wasm).map_err(crate::error::tag)?)
        } else {
            None
        };
        let wasm = metered.as_deref().unwrap_or(wasm);
        // The metering middleware holds per-module state: one compilation at a time.
        let _compiling = engine.metering().map(|m| m.lock());
        let module = wasmer::Module::new(engine.wasmer(), wasm).map_err(compile_error)?;
        Ok(Module::new(
            module,
            engine.id(),
            engine.config().get_consume_fuel(),
        ))
    }

    pub(crate) fn new(inner: wasmer::Module, engine: u64, metered: bool) -> Self {
        // Imports and exports whose types anywasm cannot express (tags and
        // exception references; that proposal is disabled) are left out.
        let imports = inner
            .imports()
            // The gas counter is the store's business, not the user's.
            .filter(|i| !anywasm_gas::is_counter(i.module(), i.name()))
            .filter_map(|i| {
                Some(ImportType {
                    module: i.module().to_string(),
                    name: i.name().to_string(),
                    ty: extern_type(i.ty())?,
                })
            })
            .collect();
        let exports = inner
            .exports()
            .filter(|e| !is_hidden(e.name(), metered))
            .filter_map(|e| {
                Some(ExportType {
                    name: e.name().to_string(),
                    ty: extern_type(e.ty())?,
                })
            })
            .collect();
        Self {
            inner,
            engine,
            imports,
            exports,
        }
    }

    /// The underlying wasmer module.
    pub fn raw(&self) -> &wasmer::Module {
        &self.inner
    }
}

impl anywasm_core::Module for Module {
    fn imports(&self) -> Vec<ImportType> {
        self.imports.to_vec()
    }

    fn exports(&self) -> Vec<ExportType> {
        self.exports.to_vec()
    }
}
