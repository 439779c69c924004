//! The epoch ticker thread is joined when the last engine/store handle
//! drops (own test binary: it counts this process's threads).

mod common;

use std::time::Duration;

use anywasm_core::{Config, Limits, Linker, Store as _, TrapCode};
use anywasm_wasmtime::Engine;
use common::*;

/// This process's epoch ticker threads (`comm` is cut to 15 bytes).
fn ticker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.starts_with("anywasm-wasmtim"))
                .count()
        })
        .unwrap_or(0)
}

/// The ticker count once it has settled at `want`: `join` returns when the
/// thread has finished, a moment before the kernel reaps its task, and a new
/// thread names itself (its `comm`) a moment after `spawn` returns, so a
/// count taken right then can be one off either way. Polls until the count
/// is `want` (or gives up after 10 s and returns what it sees).
fn settled_ticker_threads(want: usize) -> usize {
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = ticker_threads();
        if n == want || std::time::Instant::now() > give_up {
            return n;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn ticker_threads_do_not_leak() {
    if !std::path::Path::new("/proc/self/task").exists() {
        return; // not Linux
    }
    let module_src = "(module (func (export \"spin\") (loop br 0)))";
    assert_eq!(ticker_threads(), 0);
    for _ in 0..20 {
        let engine = Engine::new(&Config::new().timeouts(true)).unwrap();
        let m = compile(&engine, module_src);
        let mut s = engine
            .store((), &Limits::new().timeout(Duration::from_millis(5)))
            .unwrap();
        assert_eq!(settled_ticker_threads(1), 1);
        let e2 = engine.clone();
        drop(engine);
        let i = s.instantiate(&m, &Linker::new()).unwrap();
        assert_trap(call(&mut s, &i, "spin", &[]), TrapCode::Timeout);
        drop(s);
        drop(m);
        drop(e2);
    }
    assert_eq!(settled_ticker_threads(0), 0, "ticker threads leaked");
}
