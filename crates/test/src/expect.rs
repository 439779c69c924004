//! Assertions for what plugins are supposed to get wrong: a capability
//! that was not granted, a limit, a trap, the plugin's own error. Each
//! returns the error for further checks and panics with both the expected
//! and the actual outcome otherwise.

use std::fmt::Debug;

use anywasm::{Error, ErrorKind, Resource, TrapCode};

/// A limit a test can set and expect a plugin to hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// The fuel budget of a call: `Trap(OutOfFuel)`.
    Fuel,
    /// The call's deadline: `Trap(Timeout)`.
    Timeout,
    /// A memory that starts (or is grown by the host) past the cap:
    /// `LimitExceeded(Memory)`. A guest growing its own memory past the
    /// cap sees `memory.grow` fail instead; a Rust guest aborts (a trap,
    /// see [`expect_trap`]) with its memory at most the cap.
    Memory,
    /// A module asking for more initial memory than allowed:
    /// `LimitExceeded(InitialMemory)`, before anything runs.
    InitialMemory,
}

impl Limit {
    fn kind(self) -> ErrorKind {
        match self {
            Limit::Fuel => ErrorKind::Trap(TrapCode::OutOfFuel),
            Limit::Timeout => ErrorKind::Trap(TrapCode::Timeout),
            Limit::Memory => ErrorKind::LimitExceeded(Resource::Memory),
            Limit::InitialMemory => ErrorKind::LimitExceeded(Resource::InitialMemory),
        }
    }
}

#[track_caller]
fn expect_kind<T: Debug>(result: anywasm::Result<T>, want: ErrorKind, what: &str) -> Error {
    match result {
        Err(e) if e.kind() == want => e,
        Err(e) => panic!("expected {what} ({want:?}), got {:?}: {e}", e.kind()),
        Ok(v) => panic!("expected {what} ({want:?}), got Ok({v:?})"),
    }
}

/// `result` failed because the plugin imports a host function of
/// `capability`, which was not granted (`ErrorKind::CapabilityDenied`).
#[track_caller]
pub fn expect_denied<T: Debug>(result: anywasm::Result<T>, capability: &str) -> Error {
    let e = expect_kind(
        result,
        ErrorKind::CapabilityDenied,
        &format!("capability `{capability}` denied"),
    );
    assert!(
        e.message().contains(&format!("`{capability}`")),
        "denied, but not for `{capability}`: {e}"
    );
    e
}

/// `result` failed on `limit`.
#[track_caller]
pub fn expect_limit<T: Debug>(result: anywasm::Result<T>, limit: Limit) -> Error {
    expect_kind(result, limit.kind(), &format!("the {limit:?} limit"))
}

/// `result` is the trap `code`.
#[track_caller]
pub fn expect_trap<T: Debug>(result: anywasm::Result<T>, code: TrapCode) -> Error {
    expect_kind(result, ErrorKind::Trap(code), "a trap")
}

/// `result` is the plugin's own error (`Err(GuestError)`), whose message
/// contains `text`.
#[track_caller]
pub fn expect_guest_error<T: Debug>(result: anywasm::Result<T>, text: &str) -> Error {
    let e = expect_kind(result, ErrorKind::Guest, "the plugin's error");
    assert!(
        e.message().contains(text),
        "the plugin's error does not mention {text:?}: {e}"
    );
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_errors_pass_through() {
        let denied = Error::new(
            ErrorKind::CapabilityDenied,
            "the module imports `anywasm::kv_get`, which needs the capability `kv`",
        );
        assert_eq!(
            expect_denied::<()>(Err(denied), "kv").kind(),
            ErrorKind::CapabilityDenied
        );
        let fuel = Error::trap(TrapCode::OutOfFuel, "");
        expect_limit::<()>(Err(fuel), Limit::Fuel);
        let guest = Error::new(ErrorKind::Guest, "no greeting");
        expect_guest_error::<()>(Err(guest), "greeting");
    }

    #[test]
    #[should_panic(expected = "got Ok(7)")]
    fn success_is_not_a_denial() {
        expect_denied(Ok(7), "kv");
    }

    #[test]
    #[should_panic(expected = "not for `kv`")]
    fn denial_of_another_capability_fails() {
        let denied = Error::new(ErrorKind::CapabilityDenied, "needs the capability `log`");
        expect_denied::<()>(Err(denied), "kv");
    }

    #[test]
    #[should_panic(expected = "Timeout")]
    fn another_limit_fails() {
        expect_limit::<()>(Err(Error::trap(TrapCode::OutOfFuel, "")), Limit::Timeout);
    }
}
