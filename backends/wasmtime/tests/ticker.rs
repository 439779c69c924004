//! The epoch ticker thread is joined when the last engine/store handle
//! drops (own test binary: it counts this process's threads).

mod common;

use std::time::Duration;

use anywasm_core::{Config, Limits, Linker, Store as _, TrapCode};
use anywasm_wasmtime::Engine;
use common::*;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn ticker_threads_do_not_leak() {
    if threads() == 0 {
        return; // not Linux
    }
    let module_src = "(module (func (export \"spin\") (loop br 0)))";
    // Warm up wasmtime's own lazily created threads, if any.
    {
        let engine = Engine::new(&Config::new().timeouts(true)).unwrap();
        let m = compile(&engine, module_src);
        let mut s = engine
            .store((), &Limits::new().timeout(Duration::from_millis(5)))
            .unwrap();
        let i = s.instantiate(&m, &Linker::new()).unwrap();
        assert_trap(call(&mut s, &i, "spin", &[]), TrapCode::Timeout);
    }
    let before = threads();
    for _ in 0..20 {
        let engine = Engine::new(&Config::new().timeouts(true)).unwrap();
        let m = compile(&engine, module_src);
        let mut s = engine
            .store((), &Limits::new().timeout(Duration::from_millis(5)))
            .unwrap();
        let e2 = engine.clone();
        drop(engine);
        let i = s.instantiate(&m, &Linker::new()).unwrap();
        assert_trap(call(&mut s, &i, "spin", &[]), TrapCode::Timeout);
        drop(s);
        drop(m);
        drop(e2);
    }
    let after = threads();
    assert!(after <= before, "threads leaked: {before} -> {after}");
}
