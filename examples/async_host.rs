//! A Rust plugin calling an async host service: the host's `anywasm::add`
//! awaits a tokio timer (standing in for a database query) before it
//! answers. The plugin is unchanged: to a guest a host function is a host
//! function. Many calls run at once on a two-worker runtime.
//!
//! ```text
//! cargo run -p anywasm-conformance --example async_host -- wasmi
//! ```
//! (The plugin is conformance/guests/abi-guest, built for wasm32 by the
//! conformance crate's build script.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anywasm::{Capabilities, Config, HostError, Limits, Linker, Plugin};

const PLUGINS: usize = 50;
const QUERY: Duration = Duration::from_millis(20);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let backend = std::env::args().nth(1).unwrap_or_else(|| "wasmtime".into());
    let wasm = include_bytes!(env!("ANYWASM_GUEST_ABI"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    // `anywasm::add` answers after a 20 ms "query"; the guest's
    // `add_via_host` calls it.
    let queries = Arc::new(AtomicUsize::new(0));
    let counted = queries.clone();
    let mut linker = Linker::<()>::new();
    linker
        .abi_func_async("add", move |_, (a, b): (i32, i32)| {
            counted.fetch_add(1, Ordering::Relaxed);
            async move {
                tokio::time::sleep(QUERY).await;
                a.checked_add(b).ok_or_else(|| HostError::new("overflow"))
            }
        })
        .capability("math");
    let granted = Capabilities::none().grant("math");

    let engine = anywasm::engine_by_name(&backend, &Config::new().timeouts(true))?;
    let limits = Limits::new().timeout(Duration::from_secs(5));
    let mut plugins = Vec::with_capacity(PLUGINS);
    for _ in 0..PLUGINS {
        plugins.push(Plugin::load(
            &*engine,
            wasm,
            &linker,
            &granted,
            (),
            &limits,
        )?);
    }

    let started = Instant::now();
    let sums = runtime.block_on(async {
        let tasks: Vec<_> = plugins
            .into_iter()
            .enumerate()
            .map(|(i, mut plugin)| {
                tokio::spawn(async move {
                    plugin
                        .call_async::<_, i32>("add_via_host", &(i as i32, 1))
                        .await
                })
            })
            .collect();
        let mut sums = Vec::with_capacity(tasks.len());
        for t in tasks {
            sums.push(t.await?);
        }
        Ok::<_, tokio::task::JoinError>(sums)
    })?;
    let elapsed = started.elapsed();
    for (i, sum) in sums.into_iter().enumerate() {
        assert_eq!(sum?, i as i32 + 1);
    }
    println!(
        "[{backend}] {PLUGINS} plugin calls, each awaiting a {} ms host query, took {:.0} ms on 2 workers ({} queries)",
        QUERY.as_millis(),
        elapsed.as_secs_f64() * 1e3,
        queries.load(Ordering::Relaxed)
    );
    Ok(())
}
