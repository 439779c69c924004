//! Engine-neutral gas (`Config::gas`): modules are instrumented by
//! `anywasm-gas` when compiled, and every store holds the counter they
//! import (a mutable `i64` global the guest charges), so the same call uses
//! the same gas here as on every other engine.

use anywasm_core::{Error, ErrorKind, Limits, Result, TrapCode};
use wasmtime::{AsContextMut, Global, GlobalType, Mutability, ValType};

use crate::error::{chain_message, err};
use crate::store::StoreData;

/// The store's counter, holding `limits`' gas budget (or the largest one).
pub(crate) fn counter<T>(
    store: &mut wasmtime::Store<StoreData<T>>,
    limits: &Limits,
) -> Result<Global> {
    let budget = anywasm_gas::counter_for(limits.get_gas().unwrap_or(anywasm_gas::MAX_GAS));
    Global::new(
        store,
        GlobalType::new(ValType::I64, Mutability::Var),
        wasmtime::Val::I64(budget),
    )
    .map_err(|e| err(ErrorKind::Engine, chain_message(&e)))
}

/// A failed call whose counter is exhausted ran out of gas (the guest trapped
/// on purpose), whatever trap it surfaced as.
pub(crate) fn classify<T: 'static>(
    mut cx: impl AsContextMut<Data = StoreData<T>>,
    e: Error,
) -> Error {
    let mut cx = cx.as_context_mut();
    let exhausted = cx
        .data()
        .gas
        .is_some_and(|g| g.get(&mut cx).i64().is_some_and(|v| v < 0));
    if exhausted && matches!(e.kind(), ErrorKind::Trap(_)) {
        err(ErrorKind::Trap(TrapCode::OutOfFuel), "all gas consumed")
    } else {
        e
    }
}
