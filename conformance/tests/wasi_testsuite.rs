//! The official WASI test suite through anywasm's WASI: one test per
//! (engine, suite, test), named `<engine>/<suite>/<test>`:
//! `cargo test -p anywasm-conformance --test wasi_testsuite -- wasmi/rust/`.
//!
//! The suite is read from `ANYWASM_WASI_TESTSUITE`, else from
//! `../shared/wasi-testsuite` beside the repository (see
//! `conformance/src/wasi/suite.rs`). A test listed in
//! `conformance/src/wasi/expected.rs` passes only while it fails.

use anywasm_conformance::wasi::expected::verdict;
use anywasm_conformance::wasi::suite::{Location, SUITES, check_listing, locate, run};
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let location = locate();
    let (dir, skip, error) = match location {
        Location::Found(dir) => (Some(dir), None, None),
        Location::Absent(why) => (None, Some(why), None),
        Location::Missing(why) => (None, None, Some(why)),
    };
    if let Some(why) = &skip {
        println!("{why}");
    }
    let mut trials = Vec::new();
    if let Some(dir) = &dir {
        let problems = check_listing(dir);
        trials.push(Trial::test("listing", move || {
            if problems.is_empty() {
                Ok(())
            } else {
                Err(Failed::from(problems.join("\n")))
            }
        }));
    }
    for backend in anywasm::compiled_backends().iter().copied() {
        for (suite, tests) in SUITES {
            for test in *tests {
                let name = format!("{backend}/{suite}/{test}");
                let (dir, error) = (dir.clone(), error.clone());
                let trial = Trial::test(name, move || {
                    if let Some(e) = error {
                        return Err(Failed::from(e));
                    }
                    let Some(dir) = dir else { return Ok(()) };
                    let outcome = run(&dir, backend, suite, test);
                    verdict(backend, &format!("{suite}/{test}"), outcome).map_err(Failed::from)
                });
                trials.push(trial.with_ignored_flag(skip.is_some()));
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
