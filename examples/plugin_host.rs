//! An application that hosts plugins: a plugin directory loaded by the
//! plugin manager, capabilities granted per plugin, a host function of the
//! application's own, per-call limits, an on-disk cache of compiled code,
//! and hot reload.
//!
//! ```sh
//! cargo run -p anywasm-plugin --all-features --example plugin_host -- wasmi
//! ```
//!
//! The plugin is `conformance/guests/services-guest`, built with the guest
//! SDK: it greets with its configured greeting, counts in the key-value
//! store, asks the host's `lookup` function, and has a `spin` entry point
//! that never returns. Run it twice: the second run loads the compiled code
//! from the cache instead of compiling (wasmtime and wasmer).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anywasm::{HostError, Limits};
use anywasm_cache::ModuleCache;
use anywasm_conformance::guests::SERVICES_GUEST;
use anywasm_plugin::{CapabilityPolicy, PluginManager, Result};

#[tokio::main]
async fn main() -> Result<()> {
    let engine = std::env::args().nth(1).unwrap_or_else(|| "wasmtime".into());
    let plugins = tempfile::tempdir().expect("temp dir");
    std::fs::write(plugins.path().join("services.wasm"), SERVICES_GUEST).expect("write plugin");

    // Compiled code lives in a directory the host owns, never the plugin
    // directory. A real host keeps it across runs (e.g. ~/.cache/<app>).
    let cache_dir = std::env::temp_dir().join("anywasm-example-plugin-host");
    let cache = Arc::new(ModuleCache::open(&cache_dir).expect("open the module cache"));

    // Each capability the manifest asks for must be granted, or the plugin
    // does not load (and the report says which capability was missing).
    let policy = CapabilityPolicy::new()
        .grant_all("log")
        .grant_all("clock")
        .grant("services", "kv")
        .grant("services", "random")
        .grant("services", "lookup");

    let manager = PluginManager::builder()
        .plugin_dir(plugins.path())
        .engine_name(&engine)
        .capabilities(policy)
        .plugin_config("services", "greeting", "Welcome")
        .limits(
            Limits::new()
                .memory_bytes(16 << 20)
                .fuel(50_000_000)
                .timeout(Duration::from_secs(2)),
        )
        // A host function of the application's own, behind its capability.
        .host_functions(|linker| {
            // Gated by its name, `lookup`; requests of at most 1 KiB.
            linker
                .abi_func("lookup", |_caller, key: String| {
                    Ok::<_, HostError>((key == "region").then(|| "eu-west".to_string()))
                })
                .message_cap(1 << 10);
        })
        .module_cache(cache)
        .hot_reload(true)
        .build()?;

    let started = Instant::now();
    let report = manager.discover().await?;
    println!(
        "{engine}: loaded {:?} in {:?}, {} failed",
        report.loaded.iter().map(|l| &l.name).collect::<Vec<_>>(),
        started.elapsed(),
        report.failed.len()
    );

    let greeting: String = manager.call("services", "greet", "Ada").await?;
    println!("greet(\"Ada\") = {greeting:?}");
    for _ in 0..2 {
        let n: u64 = manager.call("services", "count", "visits").await?;
        println!("count(\"visits\") = {n}");
    }
    let region: Option<String> = manager.call("services", "ask", "region").await?;
    println!("ask(\"region\") = {region:?} (the host's lookup function)");

    // A plugin that never returns is stopped by its limits, with a typed
    // error; the next call runs on a fresh instance.
    let err = manager
        .call::<_, ()>("services", "spin", &())
        .await
        .unwrap_err();
    println!("spin() = {err}");
    let again: String = manager.call("services", "greet", "again").await?;
    println!("greet(\"again\") = {again:?}");

    for p in manager.list_plugins() {
        println!(
            "{} {} sha256 {}.. code {:?} calls {} errors {:?} granted {:?}",
            p.name,
            p.version,
            &p.sha256[..12],
            p.code,
            p.metrics.calls,
            p.metrics.errors,
            p.granted
        );
    }
    Ok(())
}
