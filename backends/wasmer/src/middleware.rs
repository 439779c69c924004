//! Compile-time rewrites applied to every module this backend compiles.
//!
//! Two module middlewares are pushed into the Cranelift compiler config:
//!
//! - [`StartHook`] (always): removes the module's start function from the
//!   module info and exports it under the hidden name [`START_EXPORT`]
//!   instead. wasmer would run the start function inside `Instance::new`,
//!   before the instance handle exists; running it ourselves right after
//!   instantiation means it is metered against the store's fuel budget, gets
//!   the per-call deadline, and host functions it calls see their calling
//!   instance (memory access, re-entrant calls) like any other call.
//! - [`FuelMetering`] (when `Config::consume_fuel`): wraps
//!   `wasmer_middlewares::Metering`. That middleware keeps the indices of the
//!   globals it injects in its own state and panics when it is asked to
//!   transform a second module, so one instance of it cannot serve an engine
//!   that compiles many modules. The wrapper creates a fresh `Metering` for
//!   every module and [`FuelMetering::lock`] serialises compilations on the
//!   engine, so the per-module state is never shared between two modules
//!   compiling at the same time.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use wasmer::sys::wasmparser::Operator;
use wasmer::sys::{FunctionMiddleware, MiddlewareError, ModuleMiddleware};
use wasmer::{ExportIndex, LocalFunctionIndex, ModuleInfo};
use wasmer_middlewares::Metering;

/// Hidden export under which [`StartHook`] re-exports the start function.
pub(crate) const START_EXPORT: &str = "\u{0}anywasm:start";
/// Global injected by `wasmer_middlewares::Metering`: points left (`i64`, read unsigned).
pub(crate) const FUEL_REMAINING: &str = "wasmer_metering_remaining_points";
/// Global injected by `wasmer_middlewares::Metering`: 1 once the points ran out.
pub(crate) const FUEL_EXHAUSTED: &str = "wasmer_metering_points_exhausted";

/// Whether `name` is an export this backend injected and hides from users.
pub(crate) fn is_hidden(name: &str, metered: bool) -> bool {
    name == START_EXPORT || (metered && (name == FUEL_REMAINING || name == FUEL_EXHAUSTED))
}

/// A function middleware that changes nothing.
#[derive(Debug)]
struct PassThrough;

impl<'a> FunctionMiddleware<'a> for PassThrough {}

/// Moves the start function out of the way; see the module docs.
#[derive(Debug)]
pub(crate) struct StartHook;

impl ModuleMiddleware for StartHook {
    fn generate_function_middleware<'a>(
        &self,
        _: LocalFunctionIndex,
    ) -> Box<dyn FunctionMiddleware<'a> + 'a> {
        Box::new(PassThrough)
    }

    fn transform_module_info(&self, info: &mut ModuleInfo) -> Result<(), MiddlewareError> {
        if let Some(start) = info.start_function.take() {
            info.exports
                .insert(START_EXPORT.to_string(), ExportIndex::Function(start));
        }
        Ok(())
    }
}

/// One fuel unit per operator.
fn cost(_: &Operator<'_>) -> u64 {
    1
}

type Meter = Metering<fn(&Operator<'_>) -> u64>;

/// Per-module `wasmer_middlewares::Metering`; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct FuelMetering {
    /// The `Metering` of the module being compiled.
    current: Mutex<Option<Arc<Meter>>>,
    /// Held for a whole compilation.
    compiling: Mutex<()>,
}

impl FuelMetering {
    /// Serialise compilations: hold the guard around `wasmer::Module::new`.
    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        self.compiling
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn current(&self) -> MutexGuard<'_, Option<Arc<Meter>>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ModuleMiddleware for FuelMetering {
    fn generate_function_middleware<'a>(
        &self,
        index: LocalFunctionIndex,
    ) -> Box<dyn FunctionMiddleware<'a> + 'a> {
        let meter = self.current().clone();
        match meter {
            Some(meter) => meter.generate_function_middleware(index),
            // Unreachable: wasmer transforms the module info before it
            // generates function middlewares. Not metering is the only
            // answer that cannot crash the host.
            None => Box::new(PassThrough),
        }
    }

    fn transform_module_info(&self, info: &mut ModuleInfo) -> Result<(), MiddlewareError> {
        // Initial points 0: every call sets the points from the store's budget first.
        let meter: Arc<Meter> = Arc::new(Metering::new(0, cost as fn(&Operator<'_>) -> u64));
        meter.transform_module_info(info)?;
        *self.current() = Some(meter);
        Ok(())
    }
}
