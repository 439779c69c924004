//! One test per (backend, check), named `<backend>/<check>`:
//! `cargo test -p anywasm-conformance --test conformance -- wasmi/trap/`.

use anywasm_conformance::{Outcome, backends, checks, run};
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let checks = checks();
    let mut trials = Vec::new();
    for backend in backends() {
        for check in &checks {
            let name = format!("{}/{}", backend.kind, check.name);
            let (backend, check) = (backend.clone(), *check);
            let trial = Trial::test(name, move || match run(&backend, &check) {
                Outcome::Pass | Outcome::NotSupported(_) => Ok(()),
                Outcome::Fail(msg) => Err(Failed::from(msg)),
            });
            // A declared gap runs too: `run` reports it NotSupported while it
            // fails and a failure once it passes, so a stale declaration
            // fails here as it does in `anywasm conformance`.
            trials.push(trial);
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
