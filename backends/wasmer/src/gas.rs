//! Engine-neutral gas (`Config::gas`): modules are instrumented by
//! `anywasm-gas` before wasmer compiles them, and every store holds the
//! counter they import (a mutable `i64` global the guest charges), so the
//! same call uses the same gas here as on every other engine. Unlike the
//! metering middleware behind `Limits::fuel`, the counter is one global
//! shared by every instance of the store, so it is exact across instances.

use anywasm_core::{Error, ErrorKind, Limits, TrapCode};
use wasmer::{AsStoreMut, Global, Value};

use crate::error::err;

/// A new counter holding `limits`' gas budget (or the largest one).
pub(crate) fn counter(store: &mut impl AsStoreMut, limits: &Limits) -> Global {
    let budget = anywasm_gas::counter_for(limits.get_gas().unwrap_or(anywasm_gas::MAX_GAS));
    Global::new_mut(store, Value::I64(budget))
}

/// Gas left on `counter`.
pub(crate) fn remaining(store: &mut impl AsStoreMut, counter: &Global) -> u64 {
    match counter.get(store) {
        Value::I64(v) => anywasm_gas::remaining(v),
        _ => 0,
    }
}

/// A failed call whose counter is exhausted ran out of gas (the guest trapped
/// on purpose), whatever trap it surfaced as.
pub(crate) fn classify(store: &mut impl AsStoreMut, counter: Option<&Global>, e: Error) -> Error {
    let exhausted = counter.is_some_and(|c| matches!(c.get(store), Value::I64(v) if v < 0));
    if exhausted && matches!(e.kind(), ErrorKind::Trap(_)) {
        err(ErrorKind::Trap(TrapCode::OutOfFuel), "all gas consumed")
    } else {
        e
    }
}
