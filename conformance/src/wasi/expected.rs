//! Known wasi-testsuite failures, per engine, each with a reason.
//!
//! The list is empty: every test passes on every engine. An entry would
//! name the engine, the test (`<suite>/<test>`) and why; the runner fails a
//! listed test that passes (shrink the list) as well as an unlisted test
//! that fails, so the list can only shrink.

use anywasm::BackendKind;

/// One listed failure.
#[derive(Clone, Copy, Debug)]
pub struct ExpectedFailure {
    /// Which engine.
    pub backend: BackendKind,
    /// `<suite>/<test>`.
    pub test: &'static str,
    /// Why, one sentence.
    pub why: &'static str,
}

/// The list. Keep it empty, or every entry explained.
const LIST: &[ExpectedFailure] = &[];

/// Every entry, for reports.
pub fn all() -> &'static [ExpectedFailure] {
    LIST
}

/// The listed failure for `test` on `backend`, if any.
pub fn expected_failure(backend: BackendKind, test: &str) -> Option<&'static ExpectedFailure> {
    LIST.iter().find(|x| x.backend == backend && x.test == test)
}

/// The trial's verdict: a run's outcome against the list.
pub fn verdict(
    backend: BackendKind,
    test: &str,
    outcome: Result<(), String>,
) -> Result<(), String> {
    match (expected_failure(backend, test), outcome) {
        (None, outcome) => outcome,
        (Some(_), Err(_)) => Ok(()),
        (Some(x), Ok(())) => Err(format!(
            "{test} now passes on {backend}: remove its expected failure (\"{}\") from conformance/src/wasi/expected.rs",
            x.why
        )),
    }
}
