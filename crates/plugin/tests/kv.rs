//! The `kv` service's stores and caps: `RedbKv` on its own, killed in the
//! middle of writing, and behind a plugin manager on every backend.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use anywasm::ErrorKind;
use anywasm_plugin::{
    CapabilityPolicy, KvError, KvStore, MAX_KV_KEY_BYTES, MAX_KV_VALUE_BYTES, PluginManager, RedbKv,
};
use common::*;

#[tokio::test]
async fn redb_round_trip_and_delete_reports_existence() {
    let dir = tempfile::tempdir().unwrap();
    let kv = RedbKv::open(dir.path().join("kv.redb")).unwrap();
    assert_eq!(kv.get("p", "k").await.unwrap(), None);
    kv.set("p", "k", b"one".to_vec()).await.unwrap();
    assert_eq!(
        kv.get("p", "k").await.unwrap().as_deref(),
        Some(&b"one"[..])
    );
    kv.set("p", "k", b"two".to_vec()).await.unwrap();
    assert_eq!(
        kv.get("p", "k").await.unwrap().as_deref(),
        Some(&b"two"[..])
    );
    kv.set("p", "empty", Vec::new()).await.unwrap();
    assert_eq!(kv.get("p", "empty").await.unwrap(), Some(Vec::new()));
    assert!(kv.delete("p", "k").await.unwrap());
    assert!(!kv.delete("p", "k").await.unwrap(), "deleted twice");
    assert!(!kv.delete("p", "never").await.unwrap());
    assert_eq!(kv.get("p", "k").await.unwrap(), None);
}

#[tokio::test]
async fn redb_namespaces_never_collide() {
    let dir = tempfile::tempdir().unwrap();
    let kv = RedbKv::open(dir.path().join("kv.redb")).unwrap();
    // Every way of joining these two pairs with a separator gives one string.
    let pairs = [
        ("a", "b:c"),
        ("a:b", "c"),
        ("a", "b\0c"),
        ("a\0b", "c"),
        ("", "ab"),
        ("ab", ""),
    ];
    for (i, (plugin, key)) in pairs.iter().enumerate() {
        kv.set(plugin, key, vec![i as u8]).await.unwrap();
    }
    for (i, (plugin, key)) in pairs.iter().enumerate() {
        assert_eq!(
            kv.get(plugin, key).await.unwrap(),
            Some(vec![i as u8]),
            "{plugin:?} {key:?}"
        );
    }
    assert_eq!(kv.get("b", "b:c").await.unwrap(), None);
    assert!(kv.delete("a:b", "c").await.unwrap());
    assert_eq!(
        kv.get("a", "b:c").await.unwrap(),
        Some(vec![0]),
        "the other pair went too"
    );
}

#[tokio::test]
async fn redb_keeps_data_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.redb");
    {
        let kv = RedbKv::open(&path).unwrap();
        kv.set("p", "kept", b"value".to_vec()).await.unwrap();
        kv.set("p", "gone", b"value".to_vec()).await.unwrap();
        assert!(kv.delete("p", "gone").await.unwrap());
        kv.set("q", "kept", b"other".to_vec()).await.unwrap();
    }
    let kv = RedbKv::open(&path).unwrap();
    assert_eq!(
        kv.get("p", "kept").await.unwrap().as_deref(),
        Some(&b"value"[..])
    );
    assert_eq!(kv.get("p", "gone").await.unwrap(), None);
    assert_eq!(
        kv.get("q", "kept").await.unwrap().as_deref(),
        Some(&b"other"[..])
    );
    assert_eq!(kv.path(), path);
}

#[test]
fn redb_refuses_a_second_open_of_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.redb");
    let _first = RedbKv::open(&path).unwrap();
    let e = RedbKv::open(&path).unwrap_err();
    assert!(matches!(e, KvError::Storage(_)), "{e:?}");
}

#[test]
fn redb_refuses_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.redb");
    std::fs::write(&path, b"not a redb file, just some bytes").unwrap();
    let e = RedbKv::open(&path).unwrap_err();
    assert!(matches!(e, KvError::Storage(_)), "{e:?}");
}

/// Set in the child process (the writer) to the database it writes.
const WRITER_ENV: &str = "ANYWASM_KV_TEST_WRITER_DB";
const KILLED_WRITER_TEST: &str = "killed_writer_loses_no_acknowledged_set";
const ACKS_BEFORE_KILL: u64 = 200;

fn writer_value(n: u64) -> Vec<u8> {
    format!("value {n}").into_bytes()
}

/// In the child: set keys 0.. until killed, saying `ack N` once `set` of key
/// N returned. Bounded, so an orphan cannot write forever.
async fn run_writer(path: &Path) {
    let kv = RedbKv::open(path).unwrap();
    let mut out = std::io::stdout().lock();
    // End the harness's unfinished `test NAME ... ` line: acks start lines.
    writeln!(out).unwrap();
    for n in 0..1_000_000u64 {
        kv.set("writer", &n.to_string(), writer_value(n))
            .await
            .unwrap();
        writeln!(out, "ack {n}").unwrap();
        out.flush().unwrap();
    }
}

/// Note `line` if it is the writer's next ack; the last ack so far.
fn read_ack(line: &str, acked: &mut Option<u64>) -> Option<u64> {
    if let Some(n) = line.strip_prefix("ack ") {
        let n: u64 = n.parse().unwrap();
        assert_eq!(acked.map_or(0, |a| a + 1), n, "acks out of order");
        *acked = Some(n);
    }
    *acked
}

/// Kill a writer at an arbitrary moment: every `set` it reported done is in
/// the file afterwards (redb commits with fsync before `set` returns).
#[cfg(unix)]
#[tokio::test]
async fn killed_writer_loses_no_acknowledged_set() {
    use std::os::unix::process::ExitStatusExt;

    if let Some(path) = std::env::var_os(WRITER_ENV) {
        run_writer(Path::new(&path)).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.redb");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            KILLED_WRITER_TEST,
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_ENV, &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The test harness prints its own lines too; only acks count.
    let mut acked = None;
    for line in lines.by_ref() {
        if read_ack(&line.unwrap(), &mut acked).is_some_and(|n| n + 1 >= ACKS_BEFORE_KILL) {
            break;
        }
    }
    assert_eq!(
        acked.map(|n| n + 1),
        Some(ACKS_BEFORE_KILL),
        "the writer stopped early"
    );
    child.kill().unwrap();
    let status = child.wait().unwrap();
    // Acks written before the kill and not yet read count too.
    for line in lines {
        read_ack(&line.unwrap(), &mut acked);
    }
    assert_eq!(
        status.signal(),
        Some(9),
        "the writer was not killed while writing: {status}"
    );

    let last = acked.unwrap();
    let kv = RedbKv::open(&path).unwrap();
    for n in 0..=last {
        assert_eq!(
            kv.get("writer", &n.to_string()).await.unwrap(),
            Some(writer_value(n)),
            "key {n} of {last} acknowledged was lost"
        );
    }
}

/// Exports `set`, `get`, `delete`, each forwarding to its `kv_*` import.
fn kv_plugin(name: &str) -> Vec<u8> {
    let body = format!(
        "{}{}{}",
        forward("set", "kv_set"),
        forward("get", "kv_get"),
        forward("delete", "kv_delete")
    );
    module(
        &manifest(name, "1.0.0", "capabilities = [\"kv\"]"),
        &["kv_set", "kv_get", "kv_delete"],
        &body,
    )
}

async fn manager_on(dir: &Path, kind: anywasm::BackendKind, kv: Arc<RedbKv>) -> PluginManager {
    let manager = builder(dir, kind)
        .capabilities(CapabilityPolicy::new().grant_all("kv"))
        .kv_store(kv)
        .build()
        .unwrap();
    assert_eq!(manager.discover().await.unwrap().loaded.len(), 1, "{kind}");
    manager
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_store_outlives_the_manager() {
    for &kind in backends() {
        let plugins = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let db = data.path().join("kv.redb");
        std::fs::write(plugins.path().join("keeper.wasm"), kv_plugin("keeper")).unwrap();

        let manager = manager_on(plugins.path(), kind, Arc::new(RedbKv::open(&db).unwrap())).await;
        let () = manager
            .call("keeper", "set", &("kept", b"across managers".to_vec()))
            .await
            .unwrap();
        let () = manager
            .call("keeper", "set", &("dropped", b"soon".to_vec()))
            .await
            .unwrap();
        let existed: bool = manager.call("keeper", "delete", "dropped").await.unwrap();
        assert!(existed, "{kind}");
        drop(manager);

        // The file is closed with the last manager; open it anew.
        let manager = manager_on(plugins.path(), kind, Arc::new(RedbKv::open(&db).unwrap())).await;
        let kept: Option<Vec<u8>> = manager.call("keeper", "get", "kept").await.unwrap();
        assert_eq!(kept.as_deref(), Some(&b"across managers"[..]), "{kind}");
        let dropped: Option<Vec<u8>> = manager.call("keeper", "get", "dropped").await.unwrap();
        assert_eq!(dropped, None, "{kind}");
        let existed: bool = manager.call("keeper", "delete", "dropped").await.unwrap();
        assert!(!existed, "{kind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_cap_key_or_value_is_refused_and_nothing_written() {
    for &kind in backends() {
        let plugins = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        std::fs::write(plugins.path().join("big.wasm"), kv_plugin("big")).unwrap();
        let kv = Arc::new(RedbKv::open(data.path().join("kv.redb")).unwrap());
        let manager = manager_on(plugins.path(), kind, kv.clone()).await;

        // At the caps: accepted, and read back whole.
        let longest_key = "k".repeat(MAX_KV_KEY_BYTES);
        let largest_value = vec![7u8; MAX_KV_VALUE_BYTES];
        let () = manager
            .call("big", "set", &(&longest_key, &largest_value))
            .await
            .unwrap();
        let got: Option<Vec<u8>> = manager.call("big", "get", &longest_key).await.unwrap();
        assert_eq!(got.as_ref(), Some(&largest_value), "{kind}");
        let () = manager
            .call("big", "set", &("small", b"before".to_vec()))
            .await
            .unwrap();

        // One byte over: the guest's call fails with the kv error.
        let too_long_key = "k".repeat(MAX_KV_KEY_BYTES + 1);
        let refusals = [
            (
                manager
                    .call::<_, ()>("big", "set", &(&too_long_key, b"v".to_vec()))
                    .await,
                "key",
            ),
            (
                manager
                    .call::<_, ()>("big", "set", &("small", vec![0u8; MAX_KV_VALUE_BYTES + 1]))
                    .await,
                "value",
            ),
            (
                manager
                    .call::<_, Option<Vec<u8>>>("big", "get", &too_long_key)
                    .await
                    .map(drop),
                "key",
            ),
            (
                manager
                    .call::<_, bool>("big", "delete", &too_long_key)
                    .await
                    .map(drop),
                "key",
            ),
        ];
        for (outcome, what) in refusals {
            let e = outcome.unwrap_err();
            let source = e.engine_error().unwrap();
            assert_eq!(source.kind(), ErrorKind::Guest, "{kind}: {e}");
            let expected = format!("kv {what} is");
            assert!(
                source.message().contains(&expected) && source.message().contains("over the cap"),
                "{kind}: {e}"
            );
        }

        // Nothing was written.
        assert_eq!(kv.get("big", &too_long_key).await.unwrap(), None, "{kind}");
        assert_eq!(
            kv.get("big", "small").await.unwrap().as_deref(),
            Some(&b"before"[..]),
            "{kind}"
        );
        assert_eq!(
            kv.get("big", &longest_key).await.unwrap(),
            Some(largest_value),
            "{kind}"
        );
    }
}
