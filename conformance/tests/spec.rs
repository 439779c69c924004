//! The WebAssembly spec suite through the anywasm contract: one test per
//! (backend, file), named `<backend>/<group>/<file>`, plus the same files with
//! fuel metering on as `<backend>+fuel/<group>/<file>` and instrumented for
//! gas as `<backend>+gas/<group>/<file>`:
//! `cargo test -p anywasm-conformance --test spec -- wasmi/wasm-v2/`.
//!
//! A file listed in `conformance/src/spec/expected.rs` passes only if it fails
//! exactly as listed.

use anywasm_conformance::spec::{Mode, files, run_file, verdict};
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let files = files();
    let mut trials = Vec::new();
    for mode in Mode::ALL {
        for backend in anywasm::compiled_backends().iter().copied() {
            for file in &files {
                let name = format!("{}/{}", mode.label(backend), file.path());
                let file = *file;
                trials.push(Trial::test(name, move || {
                    let report = run_file(backend, mode, &file);
                    verdict(backend, mode, &file, &report)
                        .map(|_| ())
                        .map_err(Failed::from)
                }));
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
