//! Engine-neutral gas (`anywasm-gas`): the counter global instrumented
//! modules import, one per store, and the classification of a call it
//! stopped.

use anywasm_core::{Error, ErrorKind, Limits, TrapCode};
use wasmi::{AsContext, AsContextMut};

use crate::store::StoreData;

/// A new gas counter holding the store's gas budget.
pub(crate) fn counter<T>(store: &mut wasmi::Store<T>, limits: &Limits) -> wasmi::Global {
    let budget = anywasm_gas::counter_for(limits.get_gas().unwrap_or(anywasm_gas::MAX_GAS));
    wasmi::Global::new(store, wasmi::Val::I64(budget), wasmi::Mutability::Var)
}

/// A failed call whose gas counter is exhausted ran out of gas: the guest
/// trapped on purpose (`anywasm-gas`), or something after it failed for
/// that reason.
pub(crate) fn out_of_gas<T>(ctx: &mut impl AsContextMut<Data = StoreData<T>>, e: Error) -> Error {
    let store = ctx.as_context();
    let exhausted = store
        .data()
        .gas
        .is_some_and(|g| matches!(g.get(store), wasmi::Val::I64(v) if v < 0));
    if exhausted && matches!(e.kind(), ErrorKind::Trap(_)) {
        Error::trap(TrapCode::OutOfFuel, "all gas consumed")
    } else {
        e
    }
}
