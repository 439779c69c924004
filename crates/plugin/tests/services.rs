//! Capabilities, host services, lifecycle and calls, on every backend.

mod common;

use anywasm::ErrorKind;
use anywasm_plugin::{CapabilityPolicy, PluginError};
use common::*;

fn kv_plugin(name: &str) -> Vec<u8> {
    let body = format!("{}{}", forward("set", "kv_set"), forward("get", "kv_get"));
    module(
        &manifest(name, "1.0.0", "capabilities = [\"kv\"]"),
        &["kv_set", "kv_get"],
        &body,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ungranted_capability_fails_the_load_naming_it() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("greedy.wasm"), kv_plugin("greedy")).unwrap();
        std::fs::write(dir.path().join("allowed.wasm"), kv_plugin("allowed")).unwrap();
        let manager = builder(dir.path(), kind)
            .capabilities(CapabilityPolicy::new().grant("allowed", "kv"))
            .build()
            .unwrap();
        let report = manager.discover().await.unwrap();
        assert_eq!(report.loaded.len(), 1, "{kind}: {report:?}");
        let e = report.failure("greedy.wasm").unwrap();
        let source = e.engine_error().unwrap();
        assert_eq!(source.kind(), ErrorKind::CapabilityDenied, "{kind}: {e}");
        assert!(
            e.to_string().contains("`kv`") && e.to_string().contains("greedy"),
            "{e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_store_isolates_plugins() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("one.wasm"), kv_plugin("one")).unwrap();
        std::fs::write(dir.path().join("two.wasm"), kv_plugin("two")).unwrap();
        let manager = builder(dir.path(), kind)
            .capabilities(CapabilityPolicy::new().grant_all("kv"))
            .build()
            .unwrap();
        assert_eq!(manager.discover().await.unwrap().loaded.len(), 2);
        let () = manager
            .call("one", "set", &("key", b"from one".to_vec()))
            .await
            .unwrap();
        let mine: Option<Vec<u8>> = manager.call("one", "get", "key").await.unwrap();
        assert_eq!(mine.as_deref(), Some(&b"from one"[..]), "{kind}");
        let theirs: Option<Vec<u8>> = manager.call("two", "get", "key").await.unwrap();
        assert_eq!(theirs, None, "{kind}: plugin two saw plugin one's key");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_reaches_subscribers() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        let publisher = module(
            &manifest("publisher", "1.0.0", "capabilities = [\"pubsub\"]"),
            &["publish"],
            &forward("announce", "publish"),
        );
        // `on_message` gets (topic, payload) and stores it as kv (key, value).
        let subscriber = |name: &str, topic: &str| {
            let body = format!(
                "{}{}",
                forward("on_message", "kv_set"),
                forward("get", "kv_get")
            );
            module(
                &manifest(
                    name,
                    "1.0.0",
                    &format!("capabilities = [\"kv\"]\nsubscribes = [\"{topic}\"]"),
                ),
                &["kv_set", "kv_get"],
                &body,
            )
        };
        std::fs::write(dir.path().join("publisher.wasm"), publisher).unwrap();
        std::fs::write(
            dir.path().join("listener.wasm"),
            subscriber("listener", "news"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("elsewhere.wasm"),
            subscriber("elsewhere", "sport"),
        )
        .unwrap();
        let manager = builder(dir.path(), kind)
            .capabilities(
                CapabilityPolicy::new()
                    .grant("publisher", "pubsub")
                    .grant_all("kv"),
            )
            .build()
            .unwrap();
        assert_eq!(manager.discover().await.unwrap().loaded.len(), 3);
        let () = manager
            .call("publisher", "announce", &("news", b"hello".to_vec()))
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let got = loop {
            let got: Option<Vec<u8>> = manager.call("listener", "get", "news").await.unwrap();
            if got.is_some() {
                break got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{kind}: message never delivered"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        };
        assert_eq!(got.as_deref(), Some(&b"hello"[..]), "{kind}");
        let other: Option<Vec<u8>> = manager.call("elsewhere", "get", "news").await.unwrap();
        assert_eq!(other, None, "{kind}: a non-subscriber received the message");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_init_health_and_traps() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        let ok_body = format!(
            "{}{}{}{}",
            value_export(3),
            init_export(true),
            constant("health", 300, &[1, 4, b's', b'i', b'c', b'k']),
            "(func (export \"boom\") (param i32 i32) (result i64) unreachable)\n"
        );
        std::fs::write(
            dir.path().join("ok.wasm"),
            module(&manifest("ok", "1.0.0", ""), &[], &ok_body),
        )
        .unwrap();
        let bad_body = format!("{}{}", value_export(4), init_export(false));
        std::fs::write(
            dir.path().join("bad.wasm"),
            module(&manifest("bad", "1.0.0", ""), &[], &bad_body),
        )
        .unwrap();
        let limited = manifest("limited", "1.0.0", "entry_points = [\"value\"]");
        std::fs::write(
            dir.path().join("limited.wasm"),
            module(&limited, &[], &value_export(5)),
        )
        .unwrap();
        let manager = builder(dir.path(), kind).build().unwrap();
        let report = manager.discover().await.unwrap();
        assert_eq!(report.loaded.len(), 2, "{kind}: {report:?}");
        let e = report.failure("bad.wasm").unwrap();
        assert!(
            matches!(e, PluginError::Init { plugin, .. } if plugin == "bad"),
            "{kind}: {e}"
        );
        assert!(e.to_string().contains("init refused"), "{e}");
        assert!(matches!(
            manager.call::<(), (u8, u8)>("bad", "value", &()).await,
            Err(PluginError::NotFound { .. })
        ));

        let e = manager.health("ok").await.unwrap_err();
        assert!(e.to_string().contains("sick"), "{kind}: {e}");
        manager.health("limited").await.unwrap();

        // A trap discards the instance; the next call gets a fresh one.
        for _ in 0..3 {
            let e = manager.call::<(), ()>("ok", "boom", &()).await.unwrap_err();
            assert!(
                matches!(e.engine_error().map(|e| e.kind()), Some(ErrorKind::Trap(_))),
                "{kind}: {e}"
            );
            let v: (u8, u8) = manager.call("ok", "value", &()).await.unwrap();
            assert_eq!(v, (3, 3));
        }
        let e = manager
            .call::<(), ()>("limited", "ping", &())
            .await
            .unwrap_err();
        assert!(matches!(e, PluginError::NoEntryPoint { .. }), "{kind}: {e}");

        let info = manager.plugin_info("ok").unwrap();
        assert_eq!(info.metrics.calls, 7, "{kind}: {info:?}"); // 3 traps + 3 values + 1 health
        assert_eq!(
            info.metrics.errors.values().sum::<u64>(),
            4,
            "{kind}: {info:?}"
        );
        assert!(info.metrics.fuel_used > 0, "{kind}: {info:?}");
        assert!(info.metrics.peak_memory_bytes >= 65536, "{kind}: {info:?}");
        manager.unload("ok").await.unwrap();
        assert!(manager.plugin_info("ok").is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_clock_and_random_reach_the_guest() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        let body = format!(
            "{}{}{}",
            forward("say", "log"),
            forward("now", "clock"),
            forward("noise", "random")
        );
        let plugin = module(
            &manifest(
                "senses",
                "1.0.0",
                "capabilities = [\"log\", \"clock\", \"random\"]",
            ),
            &["log", "clock", "random"],
            &body,
        );
        std::fs::write(dir.path().join("senses.wasm"), plugin).unwrap();
        let manager = builder(dir.path(), kind)
            .capabilities(
                CapabilityPolicy::new()
                    .grant("senses", "log")
                    .grant("senses", "clock")
                    .grant("senses", "random"),
            )
            .build()
            .unwrap();
        assert_eq!(manager.discover().await.unwrap().loaded.len(), 1, "{kind}");
        let () = manager
            .call("senses", "say", "hello from a plugin")
            .await
            .unwrap();
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let now: u64 = manager.call("senses", "now", &()).await.unwrap();
        assert!(now >= before, "{kind}: clock went back: {now} < {before}");
        let a: Vec<u8> = manager.call("senses", "noise", &32u32).await.unwrap();
        let b: Vec<u8> = manager.call("senses", "noise", &32u32).await.unwrap();
        assert_eq!((a.len(), b.len()), (32, 32), "{kind}");
        assert_ne!(a, b, "{kind}: two draws of 32 random bytes were equal");
        let too_many = manager
            .call::<_, Vec<u8>>("senses", "noise", &(1u32 << 20))
            .await;
        assert!(
            too_many.is_err(),
            "{kind}: a 1 MiB random request was served"
        );
    }
}
