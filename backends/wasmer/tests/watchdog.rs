//! The timeout watchdog: one thread per engine, started on first use and
//! stopped when the engine's last clone (stores included) is dropped.
//! Its own test binary, so no other test's engine is alive meanwhile.

mod common;

use std::time::Duration;

use anywasm_core::{Config, Limits, Linker, Store as _, StoreExt, TrapCode};
use anywasm_wasmer::Engine;
use common::{assert_trap, wasm};

fn watchdog_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(|t| {
                let t = t.ok()?;
                std::fs::read_to_string(t.path().join("comm")).ok()
            })
            .filter(|name| name.starts_with("anywasm-wasmer"))
            .count()
        })
        .unwrap_or(0)
}

/// The watchdog count once it has settled at `want`: `join` returns when the
/// thread has finished, a moment before the kernel reaps its task, and a new
/// thread names itself (its `comm`) a moment after `spawn` returns, so a
/// count taken right then can be one off either way. Polls until the count
/// is `want` (or gives up after 10 s and returns what it sees).
fn settled_watchdog_threads(want: usize) -> usize {
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = watchdog_threads();
        if n == want || std::time::Instant::now() > give_up {
            return n;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn one_thread_per_engine_stopped_with_the_last_clone() {
    if !std::path::Path::new("/proc/self/task").exists() {
        return;
    }
    assert_eq!(watchdog_threads(), 0);
    let engine = Engine::new(&Config::new().timeouts(true)).unwrap();
    // Not started until a call has a deadline.
    assert_eq!(watchdog_threads(), 0);
    let module = engine
        .compile(&wasm(r#"(module (func (export "spin") (loop br 0)))"#))
        .unwrap();
    let limits = Limits::new().timeout(Duration::from_millis(50));
    let mut a = engine.store((), &limits).unwrap();
    let mut b = engine.clone().store((), &limits).unwrap();
    let ia = a.instantiate(&module, &Linker::new()).unwrap();
    let ib = b.instantiate(&module, &Linker::new()).unwrap();
    for _ in 0..3 {
        assert_trap(a.call_export(&ia, "spin", &[]), TrapCode::Timeout);
        assert_trap(b.call_export(&ib, "spin", &[]), TrapCode::Timeout);
    }
    assert_eq!(settled_watchdog_threads(1), 1);
    drop(engine);
    drop(module);
    drop(a);
    // `b` still holds the engine.
    assert_eq!(settled_watchdog_threads(1), 1);
    assert_trap(b.call_export(&ib, "spin", &[]), TrapCode::Timeout);
    drop(b);
    // Joined on drop.
    assert_eq!(settled_watchdog_threads(0), 0);
}
