//! Turning wasmtime errors into [`anywasm_core::Error`]s.
//!
//! A guest fault reaches us as a `wasmtime::Error` whose chain contains a
//! [`wasmtime::Trap`]; a failing host function reaches us as the
//! [`HostError`] our trampoline wrapped into a `wasmtime::Error`. Both are
//! recovered by downcasting; anything else is [`ErrorKind::Engine`] with
//! wasmtime's full message.

use anywasm_core::{BackendKind, Error, ErrorKind, HostError, Resource, TrapCode};
use wasmtime::Trap;

/// The backend tag put on every error this crate returns.
pub(crate) const BACKEND: BackendKind = BackendKind::Wasmtime;

/// Tag an error with this backend (for `map_err`).
pub(crate) fn tag(err: Error) -> Error {
    err.with_backend(BACKEND)
}

/// An error of `kind`, tagged.
pub(crate) fn err(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::new(kind, message).with_backend(BACKEND)
}

/// The `TrapCode` for a wasmtime trap.
///
/// The codes the wasm 3.0 core spec defines map one to one; wasmtime-only
/// codes (component model, GC casts, array bounds, unaligned atomics, ...)
/// have no anywasm equivalent and become [`TrapCode::Other`].
pub(crate) fn trap_code(trap: Trap) -> TrapCode {
    match trap {
        Trap::UnreachableCodeReached => TrapCode::Unreachable,
        Trap::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds,
        Trap::TableOutOfBounds => TrapCode::TableOutOfBounds,
        Trap::IndirectCallToNull => TrapCode::IndirectCallToNull,
        Trap::BadSignature => TrapCode::BadSignature,
        Trap::IntegerOverflow => TrapCode::IntegerOverflow,
        Trap::IntegerDivisionByZero => TrapCode::IntegerDivisionByZero,
        Trap::BadConversionToInteger => TrapCode::BadConversionToInteger,
        Trap::StackOverflow => TrapCode::StackOverflow,
        Trap::OutOfFuel => TrapCode::OutOfFuel,
        Trap::Interrupt => TrapCode::Timeout,
        Trap::NullReference => TrapCode::NullReference,
        _ => TrapCode::Other,
    }
}

/// wasmtime's message with its whole context chain, outermost first.
pub(crate) fn chain_message(error: &wasmtime::Error) -> String {
    let mut out = String::new();
    for (i, cause) in error.chain().enumerate() {
        if i > 0 {
            out.push_str(": ");
        }
        out.push_str(&cause.to_string());
    }
    out
}

/// The error for a host function failure or a trap, if `error` is one.
fn host_or_trap(error: &wasmtime::Error) -> Option<Error> {
    if let Some(host) = error.downcast_ref::<HostError>() {
        return Some(tag(Error::from_host(host.clone())));
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        return Some(err(ErrorKind::Trap(trap_code(*trap)), trap.to_string()));
    }
    None
}

/// Map an error from running guest code (`Func::call`).
pub(crate) fn call_error(error: wasmtime::Error) -> Error {
    host_or_trap(&error).unwrap_or_else(|| err(ErrorKind::Engine, chain_message(&error)))
}

/// Map an error from `Instance::new`. `denied` is the resource the limiter
/// refused during the attempt, if any.
pub(crate) fn instantiate_error(error: wasmtime::Error, denied: Option<Resource>) -> Error {
    if let Some(e) = host_or_trap(&error) {
        return e;
    }
    let message = chain_message(&error);
    if let Some(resource) = denied {
        return err(ErrorKind::LimitExceeded(resource), message);
    }
    if error
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        return err(
            ErrorKind::LimitExceeded(Resource::Instances),
            format!("the engine's instance pool is full: {message}"),
        );
    }
    // Registered exports are only offered when their kind matches; limits
    // and global/table/memory subtyping are checked by wasmtime, which
    // reports it with this context.
    if message.contains("incompatible import type") {
        return err(ErrorKind::Unlinkable, message);
    }
    err(ErrorKind::Engine, message)
}

/// Wrap an anywasm error as a host failure so it can cross guest frames.
pub(crate) fn into_host(error: Error) -> wasmtime::Error {
    match error.host_error() {
        Some(h) => wasmtime::Error::new(h.clone()),
        None => wasmtime::Error::new(HostError::new(error.to_string())),
    }
}
