//! Compiled modules.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use alloc::collections::{BTreeMap, VecDeque};

use anywasm_core::{Error, ErrorKind, ExportType, ExternType, ImportType, Result};

use crate::convert::extern_type;
use crate::error::engine_error;
use crate::start::{self, START_EXPORT};

/// A module compiled by wasmi: validated, its functions translated on first
/// call (eagerly when fuel or timeouts are on, see [`Engine`](crate::Engine)).
///
/// Cheap to clone; usable from any store of the [`Engine`](crate::Engine)
/// that compiled it.
#[derive(Clone)]
pub struct Module {
    raw: wasmi::Module,
    imports: Arc<[ImportType]>,
    exports: Arc<[ExportType]>,
    /// The start function was moved to the export [`START_EXPORT`].
    hoisted_start: bool,
    /// When the (hoisted) start function is an import: its position among
    /// the module's imports.
    start_import: Option<usize>,
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
    /// Compile `wasm`; with `gas` it is instrumented first (`anywasm-gas`);
    /// a start function is moved to an export (see [`crate::start`]).
    pub(crate) fn compile(engine: &wasmi::Engine, wasm: &[u8], gas: bool) -> Result<Self> {
        let metered = if gas {
            // The original must be a module wasmi accepts as it is: the
            // pass re-encodes, which could otherwise turn a malformed
            // encoding into a canonical, valid one.
            wasmi::Module::validate(engine, wasm)
                .map_err(|e| Error::new(ErrorKind::Compile, engine_error(e).message()))?;
            Some(anywasm_gas::instrument(wasm)?)
        } else {
            None
        };
        let wasm = metered.as_deref().unwrap_or(wasm);
        let order = DeclarationOrder::read(wasm);
        let hoisted = if !order.exports_name(START_EXPORT) {
            start::hoist(wasm)
        } else {
            None
        };
        let (hoisted, start) = match hoisted {
            Some((bytes, start)) => (Some(bytes), Some(start)),
            None => (None, None),
        };
        if hoisted.is_some() && !gas {
            // The new export declares the start function, which could make
            // a `ref.func` of it valid that the original does not allow:
            // the original must pass validation as it is (the gas path
            // checked it above already).
            wasmi::Module::validate(engine, wasm)
                .map_err(|e| Error::new(ErrorKind::Compile, engine_error(e).message()))?;
        }
        let raw = wasmi::Module::new(engine, hoisted.as_deref().unwrap_or(wasm)).map_err(|e| {
            let mut err = engine_error(e);
            if !matches!(err.kind(), ErrorKind::Compile) {
                // Everything `Module::new` rejects is an invalid module.
                err = Error::new(ErrorKind::Compile, err.message());
            }
            err
        })?;
        let hoisted_start = hoisted.is_some();
        if hoisted_start {
            let nullary = matches!(
                raw.get_export(START_EXPORT),
                Some(wasmi::ExternType::Func(ty)) if ty.params().is_empty() && ty.results().is_empty()
            );
            if !nullary {
                return Err(Error::new(
                    ErrorKind::Compile,
                    "the start function must take no parameters and return no results",
                ));
            }
        }
        let imports = order
            .imports(
                raw.imports()
                    .map(|i| ImportType {
                        module: i.module().into(),
                        name: i.name().into(),
                        ty: extern_type(i.ty()),
                    })
                    .collect(),
            )
            .into_iter()
            // The gas counter is the store's business, not the user's.
            .filter(|i| !anywasm_gas::is_counter(&i.module, &i.name))
            .collect();
        let exports = order
            .exports(
                raw.exports()
                    .filter(|e| !(hoisted_start && e.name() == START_EXPORT))
                    .map(|e| ExportType {
                        name: e.name().into(),
                        ty: extern_type(e.ty()),
                    })
                    .collect(),
            )
            .into();
        // The position among the imports of an imported start function.
        let start_import = start.and_then(|index| {
            raw.imports()
                .enumerate()
                .filter(|(_, i)| matches!(i.ty(), wasmi::ExternType::Func(_)))
                .nth(index as usize)
                .map(|(position, _)| position)
        });
        Ok(Self {
            raw,
            imports,
            exports,
            hoisted_start,
            start_import,
        })
    }

    /// The wasmi module underneath.
    pub fn raw(&self) -> &wasmi::Module {
        &self.raw
    }

    pub(crate) fn import_count(&self) -> usize {
        self.imports.len()
    }

    /// Whether instantiation must call [`START_EXPORT`] itself.
    pub(crate) fn hoisted_start(&self) -> bool {
        self.hoisted_start
    }

    /// The position among the imports of an imported start function.
    pub(crate) fn start_import(&self) -> Option<usize> {
        self.start_import
    }
}

/// Index of an import kind in [`declaration_order`]'s queues.
fn kind_index(ty: &ExternType) -> usize {
    match ty {
        ExternType::Func(_) => 0,
        ExternType::Table(_) => 1,
        ExternType::Memory(_) => 2,
        ExternType::Global(_) => 3,
    }
}

/// The order of imports and exports as declared in the binary.
///
/// wasmi lists imports grouped by kind (functions, tables, memories,
/// globals; each group in declaration order) and exports by name. anywasm
/// promises declaration order, so the import and export sections are read
/// again (framing only, with the parser wasmi itself uses). Whatever cannot
/// be matched up (never the case for a module wasmi accepted) keeps wasmi's
/// order.
#[derive(Default)]
struct DeclarationOrder<'a> {
    import_kinds: Option<Vec<usize>>,
    export_names: Option<Vec<&'a str>>,
}

impl<'a> DeclarationOrder<'a> {
    fn read(wasm: &'a [u8]) -> Self {
        use wasmparser::{Payload, TypeRef};
        let mut order = Self {
            import_kinds: Some(Vec::new()),
            export_names: Some(Vec::new()),
        };
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            match payload {
                Ok(Payload::ImportSection(reader)) => {
                    order.import_kinds = reader
                        .into_iter()
                        .map(|import| {
                            Some(match import.ok()?.ty {
                                TypeRef::Func(_) => 0,
                                TypeRef::Table(_) => 1,
                                TypeRef::Memory(_) => 2,
                                TypeRef::Global(_) => 3,
                                TypeRef::Tag(_) => return None,
                            })
                        })
                        .collect();
                }
                Ok(Payload::ExportSection(reader)) => {
                    order.export_names = reader
                        .into_iter()
                        .map(|export| export.ok().map(|e| e.name))
                        .collect();
                    // Nothing after the export section matters here.
                    break;
                }
                Ok(
                    Payload::Version { .. }
                    | Payload::TypeSection(_)
                    | Payload::CustomSection(_)
                    | Payload::FunctionSection(_)
                    | Payload::TableSection(_)
                    | Payload::MemorySection(_)
                    | Payload::TagSection(_)
                    | Payload::GlobalSection(_),
                ) => {}
                Ok(_) => break,
                Err(_) => return Self::default(),
            }
        }
        order
    }

    fn exports_name(&self, name: &str) -> bool {
        self.export_names
            .as_ref()
            .is_some_and(|names| names.contains(&name))
    }

    fn imports(&self, grouped: Vec<ImportType>) -> Vec<ImportType> {
        let Some(kinds) = &self.import_kinds else {
            return grouped;
        };
        let count = |k: usize| kinds.iter().filter(|&&x| x == k).count();
        let grouped_count = |k: usize| grouped.iter().filter(|i| kind_index(&i.ty) == k).count();
        if (0..4).any(|k| count(k) != grouped_count(k)) {
            return grouped;
        }
        let mut queues: [VecDeque<ImportType>; 4] = Default::default();
        for import in grouped {
            queues[kind_index(&import.ty)].push_back(import);
        }
        // Counts match per kind, so every pop succeeds.
        kinds
            .iter()
            .filter_map(|&kind| queues[kind].pop_front())
            .collect()
    }

    fn exports(&self, by_name: Vec<ExportType>) -> Vec<ExportType> {
        let Some(names) = &self.export_names else {
            return by_name;
        };
        let mut map: BTreeMap<&str, &ExportType> =
            by_name.iter().map(|e| (e.name.as_str(), e)).collect();
        let ordered: Vec<ExportType> = names
            .iter()
            .filter_map(|name| map.remove(name).cloned())
            .collect();
        if ordered.len() == by_name.len() {
            ordered
        } else {
            by_name
        }
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
