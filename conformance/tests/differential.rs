//! Differential run: a few thousand wasm-smith modules, seeded, on every
//! compiled-in backend through the contract; any divergence fails with the
//! seed that reproduces it (`ANYWASM_DIFF_SEED=<seed> ANYWASM_DIFF_MODULES=1`).
//!
//! Divergences found so far are pinned as named tests below and explained in
//! docs/divergences.md.

use std::time::Instant;

use anywasm_conformance::spec::differential::{Oracle, Verdict, generate, seed_bytes};

/// Modules per run; `ANYWASM_DIFF_MODULES` overrides (the longer fuzz runs).
const MODULES: u64 = 3_000;
const BASE_SEED: u64 = 0x616e_7977_6173_6d00;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn bounded_differential_run_agrees_on_every_backend() {
    let modules = env_u64("ANYWASM_DIFF_MODULES").unwrap_or(MODULES);
    let base = env_u64("ANYWASM_DIFF_SEED").unwrap_or(BASE_SEED);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let start = Instant::now();
    let results: Vec<(u64, u64, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let oracle = Oracle::new().expect("engines");
                    let (mut agree, mut inconclusive, mut diverged) = (0, 0, Vec::new());
                    for i in (t..modules).step_by(threads as usize) {
                        let seed = base.wrapping_add(i);
                        let Some(wasm) = generate(&seed_bytes(seed)) else {
                            continue;
                        };
                        match oracle.check(&wasm) {
                            Ok(Verdict::Agree) => agree += 1,
                            Ok(Verdict::Inconclusive) => inconclusive += 1,
                            Err(e) => diverged.push(format!("seed {seed}: {e}")),
                        }
                    }
                    (agree, inconclusive, diverged)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .collect()
    });
    let agree: u64 = results.iter().map(|r| r.0).sum();
    let inconclusive: u64 = results.iter().map(|r| r.1).sum();
    let diverged: Vec<String> = results.into_iter().flat_map(|r| r.2).collect();
    eprintln!(
        "differential: {modules} seeds, {agree} agreed, {inconclusive} inconclusive (stack overflow), \
         {} diverged, {:.1?}",
        diverged.len(),
        start.elapsed()
    );
    assert!(diverged.is_empty(), "divergences:\n{}", diverged.join("\n"));
    assert!(agree > modules / 2, "too few modules generated: {agree}");
}

/// Seed 7020682422760205677: the start function recurses through the
/// wasm-smith fuel counter; wasmtime runs until the counter traps
/// (`unreachable`), wasmi's smaller default stack overflows first. Stack depth
/// is an engine property, so the oracle calls this inconclusive rather than a
/// divergence (docs/divergences.md, "stack depth").
#[test]
fn stack_depth_difference_is_inconclusive_not_a_divergence() {
    if !anywasm::compiled_backends().contains(&anywasm::BackendKind::Wasmi) {
        return;
    }
    let oracle = Oracle::new().expect("engines");
    let wasm = generate(&seed_bytes(7_020_682_422_760_205_677)).expect("module");
    assert_eq!(oracle.check(&wasm), Ok(Verdict::Inconclusive));
}
