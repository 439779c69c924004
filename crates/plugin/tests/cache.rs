//! The manager with an on-disk module cache, and with its host services'
//! sources replaced, on every backend.

mod common;

use std::sync::{Arc, Mutex};

use anywasm::{BackendKind, HostError};
use anywasm_cache::ModuleCache;
use anywasm_plugin::{CapabilityPolicy, Clock, CodeSource, Entropy, LogSink, PluginError};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_manager_loads_compiled_code_from_the_cache() {
    for &kind in backends() {
        let plugins = tempfile::tempdir().unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        std::fs::write(
            plugins.path().join("value.wasm"),
            value_plugin("value", "1.0.0", "", 9),
        )
        .unwrap();
        let cache = Arc::new(ModuleCache::open(cache_dir.path().join("modules")).unwrap());
        let start = || async {
            let manager = builder(plugins.path(), kind)
                .module_cache(cache.clone())
                .build()
                .unwrap();
            assert_eq!(manager.discover().await.unwrap().loaded.len(), 1);
            let answer: (u8, u8) = manager.call("value", "value", &()).await.unwrap();
            assert_eq!(answer, (9, 9), "{kind}");
            manager
        };
        let first = start().await;
        assert_eq!(first.compile_count(), 1);
        assert_eq!(
            first.plugin_info("value").unwrap().code,
            CodeSource::Compiled
        );
        // As a new process would: a new manager, engine and in-memory cache.
        let second = start().await;
        let (code, compiles) = (
            second.plugin_info("value").unwrap().code,
            second.compile_count(),
        );
        if kind == BackendKind::Wasmi {
            assert_eq!((code, compiles), (CodeSource::Compiled, 1), "{kind}");
        } else {
            assert_eq!((code, compiles), (CodeSource::Disk, 0), "{kind}");
            assert_eq!(cache.stats().hits, 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_is_never_in_the_plugin_directory() {
    let plugins = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    for cache_dir in [
        plugins.path().to_path_buf(),
        plugins.path().join("cache"),
        plugins.path().join("sub").join("..").join("cache2"),
    ] {
        let cache = Arc::new(ModuleCache::open(&cache_dir).unwrap());
        let e = builder(plugins.path(), BackendKind::Wasmtime)
            .module_cache(cache)
            .build()
            .unwrap_err();
        assert!(
            matches!(&e, PluginError::Setup(m) if m.contains("overlaps the plugin directory")),
            "{}: {e}",
            cache_dir.display()
        );
    }
    // Nor the plugin directory inside the cache.
    let cache = Arc::new(ModuleCache::open(elsewhere.path().join("c")).unwrap());
    let e = builder(
        &elsewhere.path().join("c").join("plugins"),
        BackendKind::Wasmtime,
    )
    .module_cache(cache)
    .build()
    .unwrap_err();
    assert!(matches!(e, PluginError::Setup(_)), "{e}");
    // Side by side is fine.
    let cache = Arc::new(ModuleCache::open(elsewhere.path().join("modules")).unwrap());
    builder(plugins.path(), BackendKind::Wasmtime)
        .module_cache(cache)
        .build()
        .unwrap();
}

struct Fixed(u64);

impl Clock for Fixed {
    fn now_ms(&self) -> Result<u64, HostError> {
        Ok(self.0)
    }
}

struct Sevens;

impl Entropy for Sevens {
    fn fill(&self, buf: &mut [u8]) -> Result<(), HostError> {
        buf.fill(7);
        Ok(())
    }
}

#[derive(Default)]
struct Lines(Mutex<Vec<(String, String)>>);

impl LogSink for Lines {
    fn log(&self, plugin: &str, line: &str) {
        self.0.lock().unwrap().push((plugin.into(), line.into()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_random_and_log_come_from_the_host_s_sources() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        let body = format!(
            "{}{}{}",
            forward("now", "clock"),
            forward("roll", "random"),
            forward("say", "log")
        );
        let wasm = module(
            &manifest(
                "sources",
                "1.0.0",
                "capabilities = [\"clock\", \"random\", \"log\"]",
            ),
            &["clock", "random", "log"],
            &body,
        );
        std::fs::write(dir.path().join("sources.wasm"), wasm).unwrap();
        let lines = Arc::new(Lines::default());
        let manager = builder(dir.path(), kind)
            .capabilities(
                CapabilityPolicy::new()
                    .grant_all("clock")
                    .grant_all("random")
                    .grant_all("log"),
            )
            .clock(Arc::new(Fixed(1_700_000_000_000)))
            .entropy(Arc::new(Sevens))
            .log_sink(lines.clone())
            .build()
            .unwrap();
        assert_eq!(manager.discover().await.unwrap().loaded.len(), 1);
        let now: u64 = manager.call("sources", "now", &()).await.unwrap();
        assert_eq!(now, 1_700_000_000_000, "{kind}");
        let bytes: Vec<u8> = manager.call("sources", "roll", &4u32).await.unwrap();
        assert_eq!(bytes, [7; 4], "{kind}");
        let () = manager.call("sources", "say", "hello").await.unwrap();
        assert_eq!(
            lines.0.lock().unwrap().as_slice(),
            [("sources".to_string(), "hello".to_string())],
            "{kind}"
        );
        let info = manager.plugin_info("sources").unwrap();
        assert_eq!(info.capabilities, ["clock", "random", "log"]);
        assert_eq!(info.granted, ["clock", "log", "random"]);
    }
}
