//! Calls per second through the manager and reload latency, per backend.
//! A measurement, not a test: ignored by default, it asserts nothing about
//! time. Run it with
//! `cargo test --release -p anywasm-plugin --test throughput -- --ignored --nocapture`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement; run explicitly"]
async fn throughput_and_reload_latency() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.wasm"), value_plugin("p", "1.0.0", "", 1)).unwrap();
        let manager = builder(dir.path(), kind)
            .pool_size(8)
            .hot_reload(true)
            .build()
            .unwrap();
        manager.discover().await.unwrap();
        for callers in [1usize, 8] {
            let window = Duration::from_secs(1);
            let start = Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..callers {
                let m = manager.clone();
                tasks.push(tokio::spawn(async move {
                    let mut n = 0u64;
                    while start.elapsed() < window {
                        let _: (u8, u8) = m.call("p", "value", &()).await.unwrap();
                        n += 1;
                    }
                    n
                }));
            }
            let mut total = 0;
            for t in tasks {
                total += t.await.unwrap();
            }
            let rate = total as f64 / start.elapsed().as_secs_f64();
            println!("{kind}: {callers} caller(s): {rate:.0} calls/s");
        }
        let manager = Arc::new(manager);
        let mut explicit = Vec::new();
        let mut watched = Vec::new();
        for i in 0..10u8 {
            std::fs::write(
                dir.path().join("p.wasm"),
                value_plugin("p", &format!("1.1.{i}"), "", i),
            )
            .unwrap();
            let t = Instant::now();
            manager.reload("p").await.unwrap();
            explicit.push(t.elapsed());
            let version = format!("1.2.{i}");
            let t = Instant::now();
            write_atomic(
                dir.path(),
                "p.wasm",
                &value_plugin("p", &version, "", i + 50),
            );
            eventually("reload", || {
                manager.plugin_info("p").unwrap().version.to_string() == version
            })
            .await;
            watched.push(t.elapsed());
        }
        explicit.sort();
        watched.sort();
        println!(
            "{kind}: reload() median {:?}; file write -> serving median {:?} (debounce 30 ms)",
            explicit[5], watched[5]
        );
    }
}
