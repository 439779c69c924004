//! Turning wasmer errors into [`anywasm_core::Error`]s, and the backend tag.
//!
//! A guest fault reaches us as a [`RuntimeError`] carrying a wasmer trap
//! code; a failing host function as the [`HostError`] our trampoline wrapped
//! into it, recovered by downcasting. The metering middleware and the
//! watchdog stop a call with an ordinary trap, so what anywasm knows about
//! why the call stopped ([`Stopped`]) decides first. Anything unclassified
//! is [`ErrorKind::Engine`] with wasmer's message.

use anywasm_core::{BackendKind, Error, ErrorKind, HostError, TrapCode};
use wasmer::{CompileError, InstantiationError, LinkError, RuntimeError};

/// The backend tag every error carries.
pub(crate) const BACKEND: BackendKind = BackendKind::Wasmer;

/// An error of `kind`, tagged with this backend.
pub(crate) fn err(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::new(kind, message).with_backend(BACKEND)
}

/// Tag an error from `anywasm_core` helpers with this backend.
pub(crate) fn tag(e: Error) -> Error {
    e.with_backend(BACKEND)
}

/// wasmer trap code -> anywasm.
pub(crate) fn trap_code(code: wasmer::sys::vm::TrapCode) -> TrapCode {
    use wasmer::sys::vm::TrapCode as W;
    match code {
        W::StackOverflow => TrapCode::StackOverflow,
        W::HeapAccessOutOfBounds => TrapCode::MemoryOutOfBounds,
        W::TableAccessOutOfBounds => TrapCode::TableOutOfBounds,
        W::IndirectCallToNull => TrapCode::IndirectCallToNull,
        W::BadSignature => TrapCode::BadSignature,
        W::IntegerOverflow => TrapCode::IntegerOverflow,
        W::IntegerDivisionByZero => TrapCode::IntegerDivisionByZero,
        W::BadConversionToInteger => TrapCode::BadConversionToInteger,
        W::UnreachableCodeReached => TrapCode::Unreachable,
        W::HostInterrupt => TrapCode::Timeout,
        _ => TrapCode::Other,
    }
}

/// A runtime error from a call (or start function) -> anywasm.
///
/// A host function's [`HostError`] is recovered first; then, if the metering
/// middleware flagged exhaustion (`out_of_fuel`), the trap it raised (an
/// `unreachable`) is reported as `OutOfFuel`; otherwise the trap code maps.
pub(crate) fn runtime_error(e: RuntimeError, stopped: Stopped) -> Error {
    if let Some(host) = e.downcast_ref::<HostError>() {
        return Error::from_host(host.clone()).with_backend(BACKEND);
    }
    let message = e.message();
    if stopped.out_of_fuel {
        return err(ErrorKind::Trap(TrapCode::OutOfFuel), message);
    }
    match e.to_trap() {
        // wasmer may name the trap after the instruction the interrupt landed
        // on (see `DeadlineGuard::finish`); the deadline is what stopped it.
        Some(_) if stopped.interrupted => err(ErrorKind::Trap(TrapCode::Timeout), message),
        Some(code) => err(ErrorKind::Trap(trap_code(code)), message),
        None => err(ErrorKind::Engine, message),
    }
}

/// What anywasm knows, besides the error, about why a call stopped.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stopped {
    /// The fuel budget ran out (the metering middleware's trap).
    pub(crate) out_of_fuel: bool,
    /// The watchdog signalled the call after its deadline.
    pub(crate) interrupted: bool,
}

/// A compilation error -> `Compile` (wasmer validates while compiling).
pub(crate) fn compile_error(e: CompileError) -> Error {
    err(ErrorKind::Compile, e.to_string())
}

/// An instantiation error -> anywasm. `denied` is the resource whose cap an
/// initial memory/table size exceeded (recorded by the tunables).
pub(crate) fn instantiation_error(
    e: InstantiationError,
    denied: Option<anywasm_core::Resource>,
) -> Error {
    match e {
        InstantiationError::Link(LinkError::Import(module, name, why)) => err(
            ErrorKind::Unlinkable,
            format!("import {module}::{name}: {why}"),
        ),
        InstantiationError::Link(LinkError::Resource(msg)) => match denied {
            Some(resource) => err(ErrorKind::LimitExceeded(resource), msg),
            None => err(ErrorKind::Engine, msg),
        },
        // No guest code runs inside `Instance::new` (the start function is
        // hooked), so these are segment initialisation traps.
        InstantiationError::Link(LinkError::Trap(e)) | InstantiationError::Start(e) => {
            runtime_error(e, Stopped::default())
        }
        other => err(ErrorKind::Engine, other.to_string()),
    }
}
