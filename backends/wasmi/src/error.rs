//! Turning wasmi errors into [`anywasm_core::Error`]s, and the backend tag.
//!
//! A guest fault reaches us as a `wasmi::Error` carrying a wasmi trap code; a
//! failing host function as the [`HostTrap`] our trampoline wrapped into it,
//! recovered by downcasting. The rest is classified by wasmi's error kind.
//! Errors are built untagged inside the crate and tagged with [`tag`] where
//! they leave its API.

use alloc::string::ToString;

use anywasm_core::{BackendKind, Error, ErrorKind, HostError, Resource, TrapCode};
use wasmi::errors::{ErrorKind as WErrorKind, InstantiationError};

/// Tag an error with this backend.
pub(crate) fn tag(err: Error) -> Error {
    err.with_backend(BackendKind::Wasmi)
}

/// A host function's [`HostError`] travelling through wasmi as a host error.
#[derive(Debug)]
pub(crate) struct HostTrap(pub(crate) HostError);

impl core::fmt::Display for HostTrap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}

impl wasmi::errors::HostError for HostTrap {}

/// Wrap a host function's failure for wasmi.
pub(crate) fn host_trap(err: HostError) -> wasmi::Error {
    wasmi::Error::host(HostTrap(err))
}

/// wasmi's trap codes onto anywasm's.
pub(crate) fn trap_code(code: wasmi::TrapCode) -> TrapCode {
    use wasmi::TrapCode as W;
    match code {
        W::UnreachableCodeReached => TrapCode::Unreachable,
        W::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds,
        W::TableOutOfBounds => TrapCode::TableOutOfBounds,
        W::IndirectCallToNull => TrapCode::IndirectCallToNull,
        W::IntegerDivisionByZero => TrapCode::IntegerDivisionByZero,
        W::IntegerOverflow => TrapCode::IntegerOverflow,
        W::BadConversionToInteger => TrapCode::BadConversionToInteger,
        W::StackOverflow => TrapCode::StackOverflow,
        W::BadSignature => TrapCode::BadSignature,
        W::OutOfFuel => TrapCode::OutOfFuel,
        W::GrowthOperationLimited | W::OutOfSystemMemory => TrapCode::Other,
    }
}

/// Classify a wasmi error (untagged; callers tag it with the backend).
pub(crate) fn engine_error(err: wasmi::Error) -> Error {
    if let Some(HostTrap(host)) = err.downcast_ref::<HostTrap>() {
        return Error::from_host(host.clone());
    }
    let message = err.to_string();
    if let Some(code) = err.as_trap_code() {
        return Error::trap(trap_code(code), message);
    }
    let kind = match err.kind() {
        WErrorKind::Instantiation(e) => match e {
            InstantiationError::TooManyInstances => ErrorKind::LimitExceeded(Resource::Instances),
            InstantiationError::TooManyMemories
            | InstantiationError::FailedToInstantiateMemory(_) => {
                ErrorKind::LimitExceeded(Resource::Memory)
            }
            InstantiationError::TooManyTables | InstantiationError::FailedToInstantiateTable(_) => {
                ErrorKind::LimitExceeded(Resource::Table)
            }
            InstantiationError::ElementSegmentDoesNotFit { .. } => {
                ErrorKind::Trap(TrapCode::TableOutOfBounds)
            }
            InstantiationError::MismatchedNumberOfImports { .. }
            | InstantiationError::ImportTypeMismatch { .. }
            | InstantiationError::GlobalTypeMismatch { .. }
            | InstantiationError::FuncTypeMismatch { .. }
            | InstantiationError::TableTypeMismatch { .. }
            | InstantiationError::MemoryTypeMismatch { .. } => ErrorKind::Unlinkable,
            InstantiationError::UnexpectedStartFn { .. } => ErrorKind::Engine,
        },
        WErrorKind::Linker(_) => ErrorKind::Unlinkable,
        WErrorKind::Read(_)
        | WErrorKind::Wasm(_)
        | WErrorKind::Translation(_)
        | WErrorKind::UserLimits(_)
        | WErrorKind::ImplementationLimits(_)
        | WErrorKind::Ir(_) => ErrorKind::Compile,
        WErrorKind::Func(_) | WErrorKind::Global(_) => ErrorKind::TypeMismatch,
        WErrorKind::Host(_) | WErrorKind::ResumableHostTrap(_) => {
            ErrorKind::Trap(TrapCode::HostError)
        }
        _ => ErrorKind::Engine,
    };
    Error::new(kind, message)
}
