//! One error type for every backend.
//!
//! [`Error`] is a single pointer wide (the details live behind a `Box`), so
//! `Result<Val, Error>` stays small on hot paths. Match on [`Error::kind`]; the
//! engine's own message is kept for humans, never for matching.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use core::fmt;

use crate::BackendKind;

/// Why a guest stopped: the same fault gives the same code on every backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrapCode {
    /// `unreachable` was executed.
    Unreachable,
    /// A load, store or bulk memory operation outside linear memory.
    MemoryOutOfBounds,
    /// A table access outside the table (including `call_indirect` past its end).
    TableOutOfBounds,
    /// `call_indirect` through a null table slot.
    IndirectCallToNull,
    /// `call_indirect` whose callee has a different signature.
    BadSignature,
    /// Signed integer division overflow (`i32.div_s` of `MIN / -1`), or a
    /// trapping float-to-int conversion of an out-of-range value.
    IntegerOverflow,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero,
    /// A trapping float-to-int conversion of NaN. (An out-of-range value is
    /// [`IntegerOverflow`](Self::IntegerOverflow), as the spec words it.)
    BadConversionToInteger,
    /// The guest exhausted its call stack (runaway recursion).
    StackOverflow,
    /// The guest used up its fuel budget ([`Limits::fuel`](crate::Limits::fuel)).
    OutOfFuel,
    /// The call ran past its wall-clock deadline ([`Limits::timeout`](crate::Limits::timeout)).
    Timeout,
    /// A host function returned an error or panicked.
    HostError,
    /// Dereferencing a null reference (`call_ref`, `struct.get`, ...).
    NullReference,
    /// A trap this version of anywasm does not classify (the message says which).
    Other,
}

impl TrapCode {
    /// Every code, for tables and exhaustive checks.
    pub const ALL: [TrapCode; 14] = [
        TrapCode::Unreachable,
        TrapCode::MemoryOutOfBounds,
        TrapCode::TableOutOfBounds,
        TrapCode::IndirectCallToNull,
        TrapCode::BadSignature,
        TrapCode::IntegerOverflow,
        TrapCode::IntegerDivisionByZero,
        TrapCode::BadConversionToInteger,
        TrapCode::StackOverflow,
        TrapCode::OutOfFuel,
        TrapCode::Timeout,
        TrapCode::HostError,
        TrapCode::NullReference,
        TrapCode::Other,
    ];

    /// A short description, stable across backends.
    pub fn description(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable executed",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::TableOutOfBounds => "out of bounds table access",
            TrapCode::IndirectCallToNull => "indirect call to null",
            TrapCode::BadSignature => "indirect call type mismatch",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::IntegerDivisionByZero => "integer divide by zero",
            TrapCode::BadConversionToInteger => "invalid conversion to integer",
            TrapCode::StackOverflow => "call stack exhausted",
            TrapCode::OutOfFuel => "all fuel consumed",
            TrapCode::Timeout => "wall-clock deadline exceeded",
            TrapCode::HostError => "host function failed",
            TrapCode::NullReference => "null reference",
            TrapCode::Other => "unclassified trap",
        }
    }
}

impl fmt::Display for TrapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A resource whose limit can be exceeded (see [`Limits`](crate::Limits)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// Bytes of one linear memory.
    Memory,
    /// Elements of one table.
    Table,
    /// Instances in one store.
    Instances,
    /// Initial bytes of one linear memory, checked when a module is loaded
    /// ([`Limits::initial_memory_bytes`](crate::Limits::initial_memory_bytes)).
    InitialMemory,
    /// Bytes of a module, checked before compiling
    /// ([`Config::max_module_bytes`](crate::Config::max_module_bytes)).
    ModuleBytes,
    /// Functions a module defines, checked before compiling
    /// ([`Config::max_functions`](crate::Config::max_functions)).
    Functions,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resource::Memory => "memory",
            Resource::Table => "table elements",
            Resource::Instances => "instances",
            Resource::InitialMemory => "initial memory",
            Resource::ModuleBytes => "module size",
            Resource::Functions => "functions",
        })
    }
}

/// What went wrong, in a form to match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes are not a valid module (malformed or failing validation).
    Compile,
    /// An import could not be satisfied (missing, or of the wrong type).
    Unlinkable,
    /// The guest trapped, during a call or while instantiating.
    Trap(TrapCode),
    /// A resource limit was exceeded outside of guest execution, e.g. a
    /// module whose initial memory is larger than the limit.
    LimitExceeded(Resource),
    /// No export of that name (or not of the requested kind).
    ExportNotFound,
    /// Arguments, results or a set value do not match the expected types.
    TypeMismatch,
    /// A host-side memory or table access outside the guest's bounds.
    OutOfBounds,
    /// The feature or limit is not available on this backend or configuration.
    Unsupported,
    /// The backend is one anywasm knows but is not compiled into this build
    /// (the message names the Cargo feature that adds it).
    BackendUnavailable,
    /// A handle used with a store it does not belong to: a module compiled
    /// by another engine (another engine instance, or another backend), an
    /// instance or function of another store.
    ForeignHandle,
    /// The name given for a backend names none anywasm knows (`wasmtime`,
    /// `wasmer`, `wasmi`): a typo, not a missing feature.
    UnknownBackend,
    /// The guest broke the plugin ABI (docs/abi.md): missing or mistyped
    /// allocator exports, wrong ABI version, an out-of-bounds or oversized
    /// buffer, a message that does not decode.
    Abi,
    /// The guest returned an error through the ABI (`Err(GuestError)`).
    Guest,
    /// The module imports a host function whose capability was not granted.
    CapabilityDenied,
    /// An engine failure anywasm does not classify (the message says which).
    Engine,
    /// The guest asked to end with this exit status (WASI `proc_exit`): a
    /// normal outcome, not a fault. [`Error::exit_code`] returns it.
    Exit(u32),
}

/// A host function's failure, carried through the guest back to the caller.
///
/// Returned from host functions; after the guest call unwinds the caller sees
/// an [`Error`] with kind `Trap(HostError)` and can get this back with
/// [`Error::host_error`].
///
/// [`HostError::exit`] is the exception: it ends the guest with an exit
/// status (WASI `proc_exit`), and the caller sees [`ErrorKind::Exit`].
///
/// One pointer wide (the details are boxed), so a host function's
/// `Result<(), HostError>` or `Result<i64, HostError>` comes back in
/// registers on every call that succeeds.
#[derive(Clone, PartialEq, Eq)]
pub struct HostError(Box<HostErrorInner>);

#[derive(Clone, PartialEq, Eq)]
struct HostErrorInner {
    message: String,
    panicked: bool,
    exit: Option<u32>,
    trap: Option<TrapCode>,
}

impl HostError {
    fn with(message: String, panicked: bool, exit: Option<u32>, trap: Option<TrapCode>) -> Self {
        Self(Box::new(HostErrorInner {
            message,
            panicked,
            exit,
            trap,
        }))
    }

    /// A host error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self::with(message.into(), false, None, None)
    }

    /// End the call with the trap `code` (for example
    /// [`TrapCode::Timeout`] when a host function finds the call's deadline
    /// passed): the caller sees [`ErrorKind::Trap`]`(code)`.
    pub fn trap(code: TrapCode, message: impl Into<String>) -> Self {
        Self::with(message.into(), false, None, Some(code))
    }

    /// A host error recording that the host function panicked.
    pub fn panicked(message: impl Into<String>) -> Self {
        Self::with(message.into(), true, None, None)
    }

    /// End the guest with exit status `code`: the call unwinds like a trap,
    /// and the caller sees [`ErrorKind::Exit`]`(code)` rather than a trap.
    pub fn exit(code: u32) -> Self {
        Self::with(
            alloc::format!("the guest exited with status {code}"),
            false,
            Some(code),
            None,
        )
    }

    /// The exit status, if this is [`HostError::exit`].
    pub fn exit_code(&self) -> Option<u32> {
        self.0.exit
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Whether the host function panicked (rather than returning an error).
    pub fn is_panic(&self) -> bool {
        self.0.panicked
    }
}

impl fmt::Debug for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostError")
            .field("message", &self.0.message)
            .field("panicked", &self.0.panicked)
            .field("exit", &self.0.exit)
            .field("trap", &self.0.trap)
            .finish()
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.panicked {
            write!(f, "host function panicked: {}", self.0.message)
        } else {
            f.write_str(&self.0.message)
        }
    }
}

impl core::error::Error for HostError {}

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    backend: Option<BackendKind>,
    message: String,
    host: Option<HostError>,
}

/// The error of every anywasm operation, whatever the backend.
pub struct Error(Box<Inner>);

/// `Result` with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a human-readable message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            backend: None,
            message: message.into(),
            host: None,
        }))
    }

    /// [`ErrorKind::ForeignHandle`]: the `what` handle (module, instance,
    /// function, ...) was made by another engine or store. The one message
    /// every backend gives; backends add their tag with
    /// [`with_backend`](Self::with_backend).
    pub fn foreign_handle(what: &str) -> Self {
        Self::new(
            ErrorKind::ForeignHandle,
            alloc::format!("the {what} handle belongs to another engine or store"),
        )
    }

    /// The [`Trap(StackOverflow)`](TrapCode::StackOverflow) every backend
    /// gives a [`Caller::call`](crate::Caller::call) nested deeper than
    /// [`MAX_REENTRY_DEPTH`](crate::MAX_REENTRY_DEPTH).
    pub fn reentry_too_deep() -> Self {
        Self::trap(
            TrapCode::StackOverflow,
            alloc::format!(
                "host functions re-entered the guest more than {} levels deep",
                crate::MAX_REENTRY_DEPTH
            ),
        )
    }

    /// [`LimitExceeded(Instances)`](Resource::Instances): the store already
    /// holds `max` instances ([`Limits::instances`](crate::Limits::instances)).
    pub fn instance_limit(max: usize) -> Self {
        Self::new(
            ErrorKind::LimitExceeded(Resource::Instances),
            alloc::format!("the store already holds its limit of {max} instances"),
        )
    }

    /// A trap.
    pub fn trap(code: TrapCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Trap(code), message)
    }

    /// A host function's failure surfacing as a trap, or as
    /// [`ErrorKind::Exit`] for [`HostError::exit`].
    pub fn from_host(err: HostError) -> Self {
        let kind = match (err.0.exit, err.0.trap) {
            (Some(code), _) => ErrorKind::Exit(code),
            (None, Some(code)) => ErrorKind::Trap(code),
            (None, None) => ErrorKind::Trap(TrapCode::HostError),
        };
        let mut e = Self::new(kind, err.to_string());
        e.0.host = Some(err);
        e
    }

    /// The same error, tagged with the backend it came from.
    pub fn with_backend(mut self, backend: BackendKind) -> Self {
        self.0.backend = Some(backend);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The trap code, if this error is a trap.
    pub fn trap_code(&self) -> Option<TrapCode> {
        match self.0.kind {
            ErrorKind::Trap(code) => Some(code),
            _ => None,
        }
    }

    /// The guest's exit status, if it ended by exiting ([`ErrorKind::Exit`]).
    pub fn exit_code(&self) -> Option<u32> {
        match self.0.kind {
            ErrorKind::Exit(code) => Some(code),
            _ => None,
        }
    }

    /// The backend that failed, if known.
    pub fn backend(&self) -> Option<BackendKind> {
        self.0.backend
    }

    /// The message (the engine's own wording where there is one).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The host function's error, if a host function failed.
    pub fn host_error(&self) -> Option<&HostError> {
        self.0.host.as_ref()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("backend", &self.0.backend)
            .field("message", &self.0.message)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(b) = self.0.backend {
            write!(f, "[{b}] ")?;
        }
        match self.0.kind {
            ErrorKind::Trap(code) => write!(f, "trap: {code}")?,
            ErrorKind::Compile => f.write_str("invalid module")?,
            ErrorKind::Unlinkable => f.write_str("unlinkable")?,
            ErrorKind::LimitExceeded(r) => write!(f, "{r} limit exceeded")?,
            ErrorKind::ExportNotFound => f.write_str("export not found")?,
            ErrorKind::TypeMismatch => f.write_str("type mismatch")?,
            ErrorKind::OutOfBounds => f.write_str("out of bounds")?,
            ErrorKind::Unsupported => f.write_str("unsupported")?,
            ErrorKind::BackendUnavailable => f.write_str("backend not compiled in")?,
            ErrorKind::UnknownBackend => f.write_str("unknown backend")?,
            ErrorKind::ForeignHandle => f.write_str("foreign handle")?,
            ErrorKind::Abi => f.write_str("plugin ABI violation")?,
            ErrorKind::Guest => f.write_str("guest error")?,
            ErrorKind::CapabilityDenied => f.write_str("capability not granted")?,
            ErrorKind::Engine => f.write_str("engine error")?,
            ErrorKind::Exit(code) => write!(f, "exit status {code}")?,
        }
        if !self.0.message.is_empty() {
            write!(f, ": {}", self.0.message)?;
        }
        Ok(())
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        self.0.host.as_ref().map(|h| h as _)
    }
}

impl From<HostError> for Error {
    fn from(err: HostError) -> Self {
        Error::from_host(err)
    }
}

impl From<crate::backend::UnknownBackend> for Error {
    fn from(err: crate::backend::UnknownBackend) -> Self {
        Error::new(ErrorKind::UnknownBackend, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_one_pointer() {
        assert_eq!(core::mem::size_of::<Error>(), core::mem::size_of::<usize>());
        assert_eq!(
            core::mem::size_of::<Result<()>>(),
            core::mem::size_of::<usize>()
        );
    }

    #[test]
    fn display_names_backend_and_kind() {
        let e = Error::trap(TrapCode::Unreachable, "wasm trap").with_backend(BackendKind::Wasmi);
        assert_eq!(
            e.to_string(),
            "[wasmi] trap: unreachable executed: wasm trap"
        );
        assert_eq!(e.trap_code(), Some(TrapCode::Unreachable));
    }

    #[test]
    fn host_error_is_recoverable() {
        let e = Error::from_host(HostError::panicked("boom"));
        assert_eq!(e.trap_code(), Some(TrapCode::HostError));
        assert!(e.host_error().unwrap().is_panic());
    }

    #[test]
    fn exit_is_an_outcome_not_a_trap() {
        let e = Error::from_host(HostError::exit(3));
        assert_eq!(e.kind(), ErrorKind::Exit(3));
        assert_eq!(e.exit_code(), Some(3));
        assert_eq!(e.trap_code(), None);
        assert_eq!(e.host_error().and_then(HostError::exit_code), Some(3));
        assert_eq!(Error::from_host(HostError::new("x")).exit_code(), None);
    }
}
