//! `Store::instantiate`: import resolution, caps, the instance limit and the
//! (hooked) start function.

use anywasm_core::{Error, ErrorKind, Linker};
use wasmer::{Extern, ExternType, ImportType};

use crate::convert::func_type;
use crate::error::{err, instantiation_error};
use crate::fuel::FuelGlobals;
use crate::host::host_function;
use crate::limits::CapsGuard;
use crate::middleware::{FUEL_EXHAUSTED, FUEL_REMAINING, START_EXPORT};
use crate::module::Module;
use crate::store::{Instance, InstanceEntry, Store};

fn kind(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Function(_) => "function",
        ExternType::Global(_) => "global",
        ExternType::Memory(_) => "memory",
        ExternType::Table(_) => "table",
        ExternType::Tag(_) => "tag",
    }
}

/// Resolve one import: a registered instance's export first, then the linker.
fn resolve<T: Send + 'static>(
    store: &mut Store<T>,
    import: &ImportType,
    linker: &Linker<T>,
    slot: usize,
    made_host: &mut bool,
) -> Result<Extern, Error> {
    let (module, name, ty) = (import.module(), import.name(), import.ty());
    let data = store.state();
    // The gas counter comes from the store, never from a registered instance
    // (instrumentation refuses modules importing it themselves).
    if anywasm_gas::is_counter(module, name)
        && let Some(counter) = &data.gas
    {
        return Ok(Extern::Global(counter.clone()));
    }
    if let Some(ext) = data
        .registered
        .get(module)
        .and_then(|&owner| data.export(owner, name))
    {
        let usable = match (ext, ty) {
            (Extern::Function(f), ExternType::Function(want)) => f.ty(&store.store) == *want,
            // wasmer checks global types and memory/table limits itself
            // (a mismatch is a link error, reported as Unlinkable).
            (Extern::Global(_), ExternType::Global(_))
            | (Extern::Memory(_), ExternType::Memory(_))
            | (Extern::Table(_), ExternType::Table(_)) => true,
            _ => false,
        };
        if usable {
            return Ok(ext.clone());
        }
    }
    if let ExternType::Function(want) = ty
        && let Some(host) = linker.get(module, name)
    {
        if func_type(want).as_ref() == Some(host.ty()) {
            *made_host = true;
            let f = host_function(&mut store.store, &store.env, host, slot);
            return Ok(Extern::Function(f));
        }
        return Err(err(
            ErrorKind::Unlinkable,
            format!(
                "import {module}::{name}: host function has type {}, the module expects {want}",
                host.ty()
            ),
        ));
    }
    Err(err(
        ErrorKind::Unlinkable,
        format!("unknown import {module}::{name} ({} {ty:?})", kind(ty)),
    ))
}

pub(crate) fn instantiate<T: Send + 'static>(
    store: &mut Store<T>,
    module: &Module,
    linker: &Linker<T>,
) -> Result<Instance, Error> {
    if module.engine != store.engine.id() {
        return Err(crate::error::tag(Error::foreign_handle("module")));
    }
    let data = store.state();
    if let Some(max) = data.limits.get_instances()
        && data.live_instances >= max
    {
        return Err(crate::error::tag(Error::instance_limit(max)));
    }
    let slot = data.instances.len();
    let limits = data.limits.clone();
    let metered = data.metered;

    let mut made_host = false;
    let mut externs = Vec::new();
    for import in module.inner.imports() {
        externs.push(resolve(store, &import, linker, slot, &mut made_host)?);
    }

    let (result, denied) = {
        let caps = CapsGuard::new(&limits);
        let r = wasmer::Instance::new_by_index(&mut store.store, &module.inner, &externs);
        (r, caps.denied())
    };
    let instance = match result {
        Ok(instance) => instance,
        Err(e) => {
            if made_host {
                // Keep the slot: host functions created for it may already
                // sit in a shared table (elem segments applied before a failure).
                store.state_mut().instances.push(None);
            }
            let e = instantiation_error(e, denied);
            // It ran (segment initialisation) and trapped: its memories and
            // tables stay in the store, so it takes a slot, as on every engine.
            if matches!(e.kind(), ErrorKind::Trap(_)) {
                store.state_mut().live_instances += 1;
            }
            return Err(e);
        }
    };

    let fuel = if metered {
        let global = |name: &str| {
            instance
                .exports
                .get_global(name)
                .cloned()
                .map_err(|e| err(ErrorKind::Engine, format!("metering global missing: {e}")))
        };
        Some(FuelGlobals {
            remaining: global(FUEL_REMAINING)?,
            exhausted: global(FUEL_EXHAUSTED)?,
        })
    } else {
        None
    };
    let start = instance.exports.get_function(START_EXPORT).ok().cloned();

    let data = store.state_mut();
    debug_assert_eq!(data.instances.len(), slot);
    data.instances.push(Some(InstanceEntry {
        instance,
        fuel,
        reentry: Vec::new(),
    }));
    data.live_instances += 1;
    let handle = Instance {
        store: store.id,
        slot,
    };
    if let Some(start) = start {
        store.invoke(&start, &[])?;
    }
    Ok(handle)
}
