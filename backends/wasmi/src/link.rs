//! Instantiation: resolving a module's imports and running its start function.
//!
//! Each import is looked up first in the instance [`register`]ed under the
//! import's module name (if it exports that name with a compatible type),
//! then in the anywasm [`Linker`] (functions only, exact signature). wasmi's
//! own `Linker` is not used: the resolution order and the error messages
//! are anywasm's.
//!
//! [`register`]: anywasm_core::Store::register

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use anywasm_core::{Error, ErrorKind, Linker, Result};
use wasmi::{AsContext, Extern, ExternType};

use crate::convert::func_type;
use crate::error::engine_error;
use crate::module::Module;
use crate::start::START_EXPORT;
use crate::store::{Instance, Store};
use crate::{call, host};

pub(crate) fn instantiate<T: Send + 'static>(
    store: &mut Store<T>,
    module: &Module,
    linker: &Linker<T>,
) -> Result<Instance> {
    if !wasmi::Engine::same(module.raw().engine(), store.raw.engine()) {
        return Err(Error::foreign_handle("module").with_backend(anywasm_core::BackendKind::Wasmi));
    }
    if let Some(max) = store.max_instances
        && store.instances_counted >= max
    {
        return Err(Error::instance_limit(max));
    }
    let mut externs = Vec::with_capacity(module.import_count());
    for (position, import) in module.raw().imports().enumerate() {
        let is_start = module.start_import() == Some(position);
        externs.push(resolve(
            store,
            is_start,
            import.module(),
            import.name(),
            import.ty(),
            linker,
        )?);
    }
    let tables = ImportedTables::snapshot(&store.raw, &externs);
    let raw = wasmi::Instance::new(&mut store.raw, module.raw(), &externs).map_err(|e| {
        let err = engine_error(e);
        match err.kind() {
            ErrorKind::LimitExceeded(resource) => {
                let limiter = &mut store.raw.data_mut().limiter;
                limiter.take_denied();
                let limit = match resource {
                    anywasm_core::Resource::Memory => limiter
                        .max_memory_bytes()
                        .map(|m| format!("{m} bytes per memory")),
                    anywasm_core::Resource::Table => limiter
                        .max_table_elements()
                        .map(|m| format!("{m} elements per table")),
                    _ => None,
                };
                match limit {
                    Some(limit) => Error::new(
                        err.kind(),
                        format!("{} (store limit: {limit})", err.message()),
                    ),
                    None => err,
                }
            }
            _ => err,
        }
    });
    if raw.is_err() {
        tables.drop_written(&mut store.raw);
    }
    // A start function can run out of gas too.
    let raw = raw.map_err(|e| crate::gas::out_of_gas(&mut store.raw, e));
    // Ran (segments, start) and trapped, or succeeded: it takes a slot, as
    // on every engine; refused before it ran: it does not.
    if raw
        .as_ref()
        .map_or_else(|e| matches!(e.kind(), ErrorKind::Trap(_)), |_| true)
    {
        store.instances_counted += 1;
    }
    let raw = raw?;
    if module.hoisted_start() {
        // The start function, moved out of the module, runs as an ordinary
        // guest call under the store's limits; a host function there finds
        // its instance in `starting`.
        if let Some(start) = raw.get_func(&store.raw, START_EXPORT) {
            store.raw.data_mut().starting = Some(raw);
            let ran = call::invoke(&mut store.raw, &start, &[], &mut []);
            store.raw.data_mut().starting = None;
            ran?;
        }
    }
    Ok(store.wrap_instance(raw))
}

/// The funcref tables a module imports, as they were before it was
/// instantiated.
///
/// wasmi writes a module's element segments into imported tables before
/// its data segments, but finishes the instance itself only after both: when
/// a later segment fails, the functions already written belong to an
/// instance wasmi never filled in, and running one that touches its
/// instance's globals, memories or tables reads entities that are not there
/// (a panic in wasmi's debug builds, undefined behaviour in release; every
/// gas-instrumented function reads the counter global). So after a failed
/// instantiation every slot of an imported table that changed is set back to
/// null: calling it traps with `IndirectCallToNull` instead of crashing the
/// host. The spec's `linking.wast` expects those calls to work; that
/// difference is listed in the spec suite's expected failures.
struct ImportedTables(Vec<(wasmi::Table, Vec<String>)>);

impl ImportedTables {
    fn snapshot<T>(store: &wasmi::Store<T>, externs: &[Extern]) -> Self {
        let tables = externs
            .iter()
            .filter_map(|e| match e {
                Extern::Table(t) if t.ty(store).element() == wasmi::RefType::Func => Some(*t),
                _ => None,
            })
            .map(|t| {
                let slots = (0..t.size(store))
                    .map(|i| format!("{:?}", t.get(store, i)))
                    .collect();
                (t, slots)
            })
            .collect();
        Self(tables)
    }

    fn drop_written<T>(self, store: &mut wasmi::Store<T>) {
        for (table, before) in self.0 {
            for (i, was) in before.iter().enumerate() {
                let i = i as u64;
                if format!("{:?}", table.get(&*store, i)) != *was {
                    // In bounds (the table did not shrink): cannot fail.
                    let _ = table.set(&mut *store, i, wasmi::Ref::Func(wasmi::Nullable::Null));
                }
            }
        }
    }
}

fn unlinkable(module: &str, name: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::Unlinkable,
        format!("import `{module}::{name}`: {why}"),
    )
}

fn kind(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "function",
        ExternType::Global(_) => "global",
        ExternType::Memory(_) => "memory",
        ExternType::Table(_) => "table",
    }
}

fn resolve<T: Send + 'static>(
    store: &mut Store<T>,
    is_start: bool,
    module: &str,
    name: &str,
    ty: &ExternType,
    linker: &Linker<T>,
) -> Result<Extern> {
    // The gas counter comes from the store, never from a registered
    // instance (instrumentation refuses modules that import it themselves).
    if anywasm_gas::is_counter(module, name)
        && let Some(counter) = store.raw.data().gas
    {
        return Ok(Extern::Global(counter));
    }
    let registered = store
        .registered
        .get(module)
        .filter(|_| name != START_EXPORT)
        .and_then(|instance| instance.get_export(&store.raw, name));
    let mismatch = registered.is_some();
    if let Some(ext) = registered
        && compatible(&store.raw, &ext, ty)
    {
        return Ok(ext);
    }
    if let ExternType::Func(fty) = ty
        && let Some(hf) = linker.get(module, name)
    {
        let want = func_type(fty);
        if *hf.ty() != want {
            return Err(unlinkable(
                module,
                name,
                &format!(
                    "the host function has signature {}, the module imports {want}",
                    hf.ty()
                ),
            ));
        }
        let func = if is_start {
            host::make_start_func(&mut store.raw, hf.clone(), fty.clone())
        } else {
            host::make_func(&mut store.raw, hf.clone(), fty.clone())
        };
        return Ok(Extern::Func(func));
    }
    Err(if mismatch {
        unlinkable(
            module,
            name,
            &format!("the registered export is not a compatible {}", kind(ty)),
        )
    } else {
        unlinkable(
            module,
            name,
            &format!("no {} of that name is defined", kind(ty)),
        )
    })
}

/// Whether `ext` satisfies an import of type `want` (the spec's import
/// subtyping, against the current sizes of memories and tables).
fn compatible(ctx: impl AsContext, ext: &Extern, want: &ExternType) -> bool {
    fn limits_ok(cur_min: u64, cur_max: Option<u64>, min: u64, max: Option<u64>) -> bool {
        cur_min >= min
            && match max {
                None => true,
                Some(max) => matches!(cur_max, Some(m) if m <= max),
            }
    }
    match (ext, want) {
        (Extern::Func(f), ExternType::Func(ty)) => f.ty(&ctx) == *ty,
        (Extern::Global(g), ExternType::Global(ty)) => {
            let have = g.ty(&ctx);
            have.content() == ty.content() && have.mutability() == ty.mutability()
        }
        (Extern::Memory(m), ExternType::Memory(ty)) => {
            let have = m.ty(&ctx);
            have.is_64() == ty.is_64()
                && limits_ok(m.size(&ctx), have.maximum(), ty.minimum(), ty.maximum())
        }
        (Extern::Table(t), ExternType::Table(ty)) => {
            let have = t.ty(&ctx);
            have.element() == ty.element()
                && have.is_64() == ty.is_64()
                && limits_ok(t.size(&ctx), have.maximum(), ty.minimum(), ty.maximum())
        }
        _ => false,
    }
}
