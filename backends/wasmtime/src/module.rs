//! [`Module`]: a compiled wasmtime module.

use std::fmt;
use std::sync::Arc;

use anywasm_core::{ErrorKind, ExportType, ImportType, Linker, Result};

use crate::Engine;
use crate::convert::extern_type;
use crate::error::{chain_message, err};
use crate::prelink::{Pre, PreCache};

/// A compiled module, cheap to clone, usable in every store of its engine.
///
/// Imports and exports are listed in declaration order. Exception tags have
/// no anywasm type and are left out of both lists (a tag import can still
/// be satisfied by a [`register`](anywasm_core::Store::register)ed instance).
/// Value types anywasm cannot name (GC and exception references) are
/// listed as `externref`; functions using them cannot be called through
/// anywasm ([`ErrorKind::Unsupported`]).
#[derive(Clone)]
pub struct Module {
    inner: wasmtime::Module,
    imports: Arc<[ImportType]>,
    exports: Arc<[ExportType]>,
    /// Pre-linked per linker (see `prelink.rs`).
    prelinked: Arc<PreCache>,
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module")
            .field("imports", &self.imports)
            .field("exports", &self.exports)
            .finish_non_exhaustive()
    }
}

impl Module {
    /// Validate and compile binary wasm (the text format is not accepted).
    pub(crate) fn compile(engine: &Engine, wasm: &[u8]) -> Result<Self> {
        anywasm_core::check_module_bounds(engine.config(), wasm).map_err(crate::error::tag)?;
        let metered = if engine.config().get_gas() {
            // The original must be a module wasmtime accepts as it is: the
            // pass re-encodes, which could otherwise turn a malformed
            // encoding into a canonical, valid one.
            wasmtime::Module::validate(engine.raw(), wasm)
                .map_err(|e| err(ErrorKind::Compile, chain_message(&e)))?;
            Some(anywasm_gas::instrument(wasm).map_err(crate::error::tag)?)
        } else {
            None
        };
        let wasm = metered.as_deref().unwrap_or(wasm);
        let inner = wasmtime::Module::from_binary(engine.raw(), wasm)
            .map_err(|e| err(ErrorKind::Compile, chain_message(&e)))?;
        Ok(Self::from_raw(inner))
    }

    /// Wrap a wasmtime module (compiled or deserialised by this crate's engine).
    pub(crate) fn from_raw(inner: wasmtime::Module) -> Self {
        let imports = inner
            .imports()
            // The gas counter is the store's business, not the user's.
            .filter(|i| !anywasm_gas::is_counter(i.module(), i.name()))
            .filter_map(|i| {
                Some(ImportType {
                    module: i.module().into(),
                    name: i.name().into(),
                    ty: extern_type(&i.ty())?,
                })
            })
            .collect();
        let exports = inner
            .exports()
            .filter_map(|e| {
                Some(ExportType {
                    name: e.name().into(),
                    ty: extern_type(&e.ty())?,
                })
            })
            .collect();
        Self {
            inner,
            imports,
            exports,
            prelinked: Arc::default(),
        }
    }

    /// The wasmtime module underneath.
    pub fn raw(&self) -> &wasmtime::Module {
        &self.inner
    }

    /// This module pre-linked with `linker`, if every import is one of its
    /// functions (see `prelink.rs`).
    pub(crate) fn prelinked<T: Send + 'static>(&self, linker: &Linker<T>) -> Option<Pre<T>> {
        self.prelinked.get(&self.inner, linker)
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
