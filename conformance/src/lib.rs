//! # anywasm-conformance
//!
//! One list of checks, written once against the anywasm contract and run on
//! every compiled-in backend, so that "wasmtime, wasmer and wasmi behave the
//! same through anywasm" is a tested fact rather than a hope.
//!
//! - [`checks()`] is the list: each [`Check`] has a path-like name
//!   (`trap/unreachable`), an optional [`Capability`] it needs, and a function
//!   that gets a [`Ctx`] for one backend.
//! - [`backends()`] lists the compiled-in backends with the capabilities each
//!   declares; a check needing a capability a backend lacks is reported as
//!   "not supported" for it, with the backend's reason, never silently skipped.
//! - [`run`] runs one check on one backend; the `conformance` test target turns
//!   every (backend, check) pair into one test named `<backend>/<check>`, and
//!   `anywasm conformance` prints the case x backend table.
//!
//! ```
//! let backends = anywasm_conformance::backends();
//! let checks = anywasm_conformance::checks();
//! let check = checks.iter().find(|c| c.name == "trap/unreachable").unwrap();
//! for b in &backends {
//!     assert!(anywasm_conformance::run(b, check).is_pass());
//! }
//! ```

#![deny(missing_docs)]

mod checks;
mod harness;
pub mod spec;
pub mod wasi;

pub use harness::{Ctx, Host, abi_linker};

/// Guest plugins built for wasm32 by this crate's build script.
pub mod guests {
    /// `conformance/guests/abi-guest`: the Rust guest every ABI check and
    /// bench loads (exports listed in its source).
    pub const ABI_GUEST: &[u8] = include_bytes!(env!("ANYWASM_GUEST_ABI"));
    /// `conformance/guests/bench-guest`: the compute workloads the benches
    /// run (fibonacci, sha256, matrix multiply, prime sieve, parsing).
    pub const BENCH_GUEST: &[u8] = include_bytes!(env!("ANYWASM_GUEST_BENCH"));
    /// `conformance/guests/echo-guest`: the smallest SDK plugin (`noop`,
    /// `echo` of a `Vec<u8>`), built as the guest SDK documents.
    pub const ECHO_GUEST: &[u8] = include_bytes!(env!("ANYWASM_GUEST_ECHO"));
    /// `conformance/guests/wasi-guest`: a std Rust plugin built for
    /// `wasm32-wasip1`, whose std I/O goes through anywasm's WASI.
    pub const WASI_GUEST: &[u8] = include_bytes!(env!("ANYWASM_GUEST_WASI"));
    /// `conformance/guests/hello-wasi`: a `wasm32-wasip1` hello-world
    /// command that prints its arguments and exits with their count.
    pub const HELLO_WASI: &[u8] = include_bytes!(env!("ANYWASM_GUEST_HELLO_WASI"));
    /// `conformance/guests/services-guest`: init configuration, every host
    /// service, a host function to mock and the limits, for `anywasm-test`.
    pub const SERVICES_GUEST: &[u8] = include_bytes!(env!("ANYWASM_GUEST_SERVICES"));
}

use anywasm::BackendKind;

/// Something a backend may or may not be able to do exactly: the
/// backends declare it in [`anywasm::Runtime::SUPPORT`].
pub type Capability = anywasm::Feature;

/// A backend under test and what it declares it can do.
#[derive(Clone, Debug)]
pub struct Backend {
    /// Which engine.
    pub kind: BackendKind,
    /// What it declares it lacks ([`anywasm::Runtime::SUPPORT`]), each gap
    /// with the reason shown in reports.
    pub support: anywasm::Support,
}

impl Backend {
    /// Why this backend lacks `cap`, if it does.
    pub fn lacks(&self, cap: Capability) -> Option<&'static str> {
        self.support.lacks(cap)
    }
}

/// The compiled-in backends, in the facade's preference order.
pub fn backends() -> Vec<Backend> {
    anywasm::compiled_backends()
        .iter()
        .map(|&kind| Backend {
            kind,
            // Compiled in (it is in `compiled_backends`), so declared.
            support: anywasm::support(kind).unwrap_or(anywasm::Support::FULL),
        })
        .collect()
}

/// One conformance check.
#[derive(Clone, Copy, Debug)]
pub struct Check {
    /// Path-like name, `<area>/<case>`.
    pub name: &'static str,
    /// What the check proves, one line.
    pub about: &'static str,
    /// A capability the backend must declare for the check to apply.
    pub requires: Option<Capability>,
    /// The check itself.
    pub run: fn(&Ctx) -> Result<(), String>,
}

/// The result of one check on one backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The backend behaved as the contract says.
    Pass,
    /// The backend declares it cannot do this; the reason.
    NotSupported(&'static str),
    /// It did not; what went wrong.
    Fail(String),
}

impl Outcome {
    /// Whether this is a pass.
    pub fn is_pass(&self) -> bool {
        matches!(self, Outcome::Pass)
    }
}

/// Every check, in a stable order.
pub fn checks() -> Vec<Check> {
    checks::all()
}

/// Run `check` on `backend`. A panic inside the check (a bug in anywasm or an
/// engine) is caught and reported as a failure.
///
/// A check the backend declares it cannot pass (it lacks the capability the
/// check requires) still runs: it is `NotSupported` while it fails, and a
/// failure once it starts passing, so a declaration cannot go stale.
pub fn run(backend: &Backend, check: &Check) -> Outcome {
    let outcome = run_check(backend, check);
    match check.requires.and_then(|cap| backend.lacks(cap)) {
        None => outcome,
        Some(why) if outcome == Outcome::Pass => Outcome::Fail(format!(
            "passes, but {} declares it does not ({why}): update the declaration",
            backend.kind
        )),
        Some(why) => Outcome::NotSupported(why),
    }
}

fn run_check(backend: &Backend, check: &Check) -> Outcome {
    let ctx = Ctx::new(backend.kind);
    let _tagged = harness::expect_backend(backend.kind);
    match std::panic::catch_unwind(|| (check.run)(&ctx)) {
        Ok(Ok(())) => Outcome::Pass,
        Ok(Err(msg)) => Outcome::Fail(msg),
        Err(payload) => Outcome::Fail(format!(
            "check panicked: {}",
            payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default()
        )),
    }
}
