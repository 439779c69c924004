//! A store-wide fuel budget on top of wasmer's per-instance metering points.
//!
//! The metering middleware keeps its points in a global of each instance,
//! while anywasm's budget belongs to the store. Before every top-level call
//! (including a start function) [`prepare`] sets the points of *every*
//! instance in the store to the store's remaining fuel; afterwards
//! [`settle`] adds up what each instance used and takes it off the budget.
//!
//! For a call that stays inside one instance (the common case) this is
//! exact. A call that crosses into other instances (through imported
//! functions or shared tables) draws on the same budget, but each instance
//! traps only when *its own* points run out, so such a call can overrun the
//! budget by up to a factor of the number of instances it touches before
//! it traps; the overrun is still charged, so the next call sees an empty
//! budget. Re-entrant calls from host functions run on the live points of
//! the outer call and need no bookkeeping of their own.

use anywasm_core::Error;
use wasmer::{AsStoreMut, Global, Value};

use crate::error::err;
use crate::store::StoreData;

/// The two globals the metering middleware injects into an instance.
#[derive(Clone, Debug)]
pub(crate) struct FuelGlobals {
    /// Points left, an `i64` read as `u64`.
    pub(crate) remaining: Global,
    /// Non-zero once the points ran out.
    pub(crate) exhausted: Global,
}

impl FuelGlobals {
    fn remaining(&self, store: &mut impl AsStoreMut) -> u64 {
        match self.remaining.get(store) {
            Value::I64(v) => v as u64,
            _ => 0,
        }
    }

    fn is_exhausted(&self, store: &mut impl AsStoreMut) -> bool {
        !matches!(self.exhausted.get(store), Value::I32(0))
    }
}

fn set_error(e: wasmer::RuntimeError) -> Error {
    err(
        anywasm_core::ErrorKind::Engine,
        format!("cannot set metering points: {}", e.message()),
    )
}

/// Give every instance of the store the store's remaining fuel.
pub(crate) fn prepare<T>(data: &StoreData<T>, store: &mut impl AsStoreMut) -> Result<(), Error> {
    let points = Value::I64(data.fuel as i64);
    for globals in data.fuel_globals() {
        globals
            .remaining
            .set(store, points.clone())
            .map_err(set_error)?;
        globals
            .exhausted
            .set(store, Value::I32(0))
            .map_err(set_error)?;
    }
    Ok(())
}

/// Charge what the instances used since [`prepare`]; returns whether any
/// instance ran out (the budget is then empty).
pub(crate) fn settle<T>(data: &mut StoreData<T>, store: &mut impl AsStoreMut) -> bool {
    let budget = data.fuel;
    let mut used: u64 = 0;
    let mut exhausted = false;
    for globals in data.fuel_globals() {
        if globals.is_exhausted(store) {
            exhausted = true;
        }
        used = used.saturating_add(budget.saturating_sub(globals.remaining(store)));
    }
    data.fuel = if exhausted {
        0
    } else {
        budget.saturating_sub(used)
    };
    exhausted
}

/// Whether any instance of the store has run out of points (checked after
/// a failed re-entrant call, whose points are settled by the outer call).
pub(crate) fn any_exhausted<T>(data: &StoreData<T>, store: &mut impl AsStoreMut) -> bool {
    data.fuel_globals().any(|g| g.is_exhausted(store))
}
