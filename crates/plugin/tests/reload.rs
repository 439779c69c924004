//! Hot reload, explicit reload/unload and the module cache, on every backend.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::*;

const CALLERS: usize = 8;
const REPLACEMENTS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hot_reload_under_load_never_serves_a_broken_version() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        // Good versions answer (g, g) for g = 1, 2, ...; broken ones are
        // either corrupt or a module (answering 100 + i) whose init fails.
        write_atomic(dir.path(), "hot.wasm", &value_plugin("hot", "1.0.1", "", 1));
        let manager = builder(dir.path(), kind).hot_reload(true).build().unwrap();
        assert_eq!(manager.discover().await.unwrap().loaded.len(), 1);

        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicU64::new(0));
        let mut callers = Vec::new();
        for _ in 0..CALLERS {
            let (manager, stop, calls) = (manager.clone(), stop.clone(), calls.clone());
            callers.push(tokio::spawn(async move {
                let mut seen = BTreeSet::new();
                while !stop.load(Ordering::Relaxed) {
                    let (a, b): (u8, u8) = manager
                        .call("hot", "value", &())
                        .await
                        .unwrap_or_else(|e| panic!("{kind}: call failed during reload: {e}"));
                    assert_eq!(a, b, "{kind}: response mixes two versions");
                    assert!(a < 100, "{kind}: a broken version served ({a})");
                    seen.insert(a);
                    calls.fetch_add(1, Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
                seen
            }));
        }

        let mut good = 1u8;
        for i in 0..REPLACEMENTS {
            let before = manager.plugin_info("hot").unwrap().reload_attempts;
            if i % 2 == 0 {
                good += 1;
                let version = format!("1.0.{good}");
                write_atomic(
                    dir.path(),
                    "hot.wasm",
                    &value_plugin("hot", &version, "", good),
                );
                eventually("the good version serves", || {
                    manager.plugin_info("hot").unwrap().version.to_string() == version
                })
                .await;
                assert!(manager.plugin_info("hot").unwrap().last_error.is_none());
            } else {
                let broken = if i % 4 == 1 {
                    b"\0asm\x01\0\0\0 truncated".to_vec()
                } else {
                    let body = format!("{}{}", value_export(100 + i as u8), init_export(false));
                    module(&manifest("hot", "9.9.9", ""), &[], &body)
                };
                write_atomic(dir.path(), "hot.wasm", &broken);
                eventually("the broken version is refused", || {
                    let info = manager.plugin_info("hot").unwrap();
                    info.reload_attempts > before && info.last_error.is_some()
                })
                .await;
                let info = manager.plugin_info("hot").unwrap();
                assert_eq!(info.version.to_string(), format!("1.0.{good}"), "{kind}");
            }
        }
        stop.store(true, Ordering::Relaxed);
        let mut seen = BTreeSet::new();
        for c in callers {
            seen.extend(c.await.unwrap());
        }
        let info = manager.plugin_info("hot").unwrap();
        assert!(calls.load(Ordering::Relaxed) > 0);
        assert!(info.metrics.errors.is_empty(), "{kind}: {info:?}");
        assert_eq!(info.reloads, (REPLACEMENTS / 2) as u64, "{kind}: {info:?}");
        assert!(
            seen.iter().all(|v| (1..=good).contains(v)),
            "{kind}: {seen:?}"
        );

        // Deleting the file unloads the plugin.
        std::fs::remove_file(dir.path().join("hot.wasm")).unwrap();
        eventually("the deleted plugin unloads", || {
            manager.plugin_info("hot").is_none()
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_reload_uses_the_module_cache() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.wasm");
        std::fs::write(&path, value_plugin("p", "1.0.0", "", 1)).unwrap();
        let manager = builder(dir.path(), kind).build().unwrap();
        manager.discover().await.unwrap();
        assert_eq!(manager.compile_count(), 1);
        manager.reload("p").await.unwrap();
        manager.reload("p").await.unwrap();
        assert_eq!(
            manager.compile_count(),
            1,
            "{kind}: an unchanged module was compiled again"
        );
        assert_eq!(manager.plugin_info("p").unwrap().reloads, 2);

        std::fs::write(&path, value_plugin("p", "1.1.0", "", 2)).unwrap();
        manager.reload("p").await.unwrap();
        assert_eq!(manager.compile_count(), 2);
        let v: (u8, u8) = manager.call("p", "value", &()).await.unwrap();
        assert_eq!(v, (2, 2));

        std::fs::write(&path, b"broken").unwrap();
        assert!(manager.reload("p").await.is_err());
        let info = manager.plugin_info("p").unwrap();
        assert_eq!(info.status, anywasm_plugin::Status::UpdateFailed);
        assert!(info.last_error.is_some());
        let v: (u8, u8) = manager.call("p", "value", &()).await.unwrap();
        assert_eq!(v, (2, 2), "{kind}: the working version must keep serving");

        manager.unload("p").await.unwrap();
        assert!(
            manager
                .call::<(), (u8, u8)>("p", "value", &())
                .await
                .is_err()
        );
    }
}
