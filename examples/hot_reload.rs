//! A host that loads a plugin directory with hot reload, calls a plugin in a
//! loop, and shows a reload happening when its file is replaced.
//!
//! ```sh
//! cargo run -p anywasm-plugin --all-features --example hot_reload -- wasmi
//! ```
//!
//! The plugin is a small hand-written module speaking the ABI (docs/abi.md):
//! its `version` entry point answers `Ok(n)`.

use std::time::Duration;

use anywasm_plugin::{PluginManager, Result};

fn plugin(n: u8) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
          (memory (export "memory") 1)
          (func (export "anywasm_alloc") (param i32) (result i32) (i32.const 1024))
          (func (export "anywasm_free") (param i32 i32))
          (data (i32.const 16) "\00\{n:02x}")
          (func (export "version") (param i32 i32) (result i64) (i64.const {packed}))
          (@custom "anywasm:abi" "\01\00\00\00")
          (@custom "anywasm:manifest" "name = \"counter\"\nversion = \"1.0.{n}\""))"#,
        packed = (16u64 << 32) | 2
    ))
    .expect("valid module")
}

#[tokio::main]
async fn main() -> Result<()> {
    let engine = std::env::args().nth(1).unwrap_or_else(|| "wasmtime".into());
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("counter.wasm"), plugin(1)).expect("write plugin");

    let manager = PluginManager::builder()
        .plugin_dir(dir.path())
        .engine_name(&engine)
        .hot_reload(true)
        .debounce(Duration::from_millis(50))
        .build()?;
    let report = manager.discover().await?;
    println!(
        "{engine}: loaded {:?}",
        report.loaded.iter().map(|l| &l.name).collect::<Vec<_>>()
    );

    for tick in 0..20 {
        if tick == 5 {
            // Replace the file atomically; the watcher picks it up.
            std::fs::write(dir.path().join(".counter.tmp"), plugin(2)).expect("write");
            std::fs::rename(
                dir.path().join(".counter.tmp"),
                dir.path().join("counter.wasm"),
            )
            .expect("rename");
            println!("replaced counter.wasm with version 1.0.2");
        }
        let answer: u8 = manager.call("counter", "version", &()).await?;
        println!("tick {tick}: counter answers {answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for p in manager.list_plugins() {
        println!(
            "{} {} sha256 {}.. reloads {} calls {} p50 {:?} p99 {:?}",
            p.name,
            p.version,
            &p.sha256[..12],
            p.reloads,
            p.metrics.calls,
            p.metrics.p50,
            p.metrics.p99
        );
    }
    Ok(())
}
