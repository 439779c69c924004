//! A `wasm32-wasip1` plugin (std Rust with the guest SDK) in the manager,
//! on every backend: what its manifest asks for and the policy grants is
//! what it gets, and an ungranted WASI import fails the load naming it.

mod common;

use anywasm::ErrorKind;
use anywasm::wasi::DirPerms;
use anywasm_conformance::guests::WASI_GUEST;
use anywasm_plugin::{CapabilityPolicy, PluginError};
use common::*;

const FULL: &str = r#"
name = "full"
version = "0.1.0"
[wasi]
capabilities = ["stdout", "stderr", "env", "clock", "random", "exit"]
[wasi.dirs]
"/data" = "read-write"
"#;

const STDOUT_ONLY: &str = r#"
name = "stingy"
version = "0.1.0"
wasi = ["stdout", "stderr"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasi_plugin_gets_what_is_granted() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        std::fs::write(data.path().join("in.txt"), "from the host").unwrap();
        for (name, manifest) in [("full", FULL), ("stingy", STDOUT_ONLY)] {
            std::fs::write(dir.path().join(format!("{name}.wasm")), WASI_GUEST).unwrap();
            std::fs::write(dir.path().join(format!("{name}.toml")), manifest).unwrap();
        }
        // Its embedded manifest (`plugin! { wasi: [...] }`), no sidecar.
        std::fs::write(dir.path().join("embedded.wasm"), WASI_GUEST).unwrap();
        let policy = CapabilityPolicy::new()
            .grant_all("wasi:stdout")
            .grant_all("wasi:stderr")
            .grant("full", "wasi:env")
            .grant("full", "wasi:clock")
            .grant("full", "wasi:random")
            .grant("full", "wasi:exit")
            .grant_env("full", "GREETING", "hej")
            // Asked read-write, granted read-only: it gets read-only.
            .grant_dir("full", "/data", data.path(), DirPerms::ReadOnly)
            .grant("wasi-guest", "wasi:env")
            .grant("wasi-guest", "wasi:clock")
            .grant("wasi-guest", "wasi:random")
            .grant("wasi-guest", "wasi:exit")
            .grant("wasi-guest", "wasi:fs");
        let manager = builder(dir.path(), kind)
            .capabilities(policy)
            .build()
            .unwrap();
        let report = manager.discover().await.unwrap();
        assert_eq!(report.loaded.len(), 2, "{kind}: {report:?}");
        let hi: String = manager
            .call("wasi-guest", "hello", "embedded")
            .await
            .unwrap();
        assert_eq!(hi, "hi embedded", "{kind}");
        // `fs` without directories: the calls link, and reach nothing.
        let e = manager
            .call::<_, String>("wasi-guest", "read_file", "/data/in.txt")
            .await
            .unwrap_err();
        assert_eq!(
            e.engine_error().map(|e| e.kind()),
            Some(ErrorKind::Guest),
            "{kind}: {e}"
        );

        // The one that asked for less than its imports need is refused.
        let e = report.failure("stingy.wasm").unwrap();
        assert!(matches!(e, PluginError::Load { .. }), "{kind}: {e}");
        let source = e.engine_error().unwrap();
        assert_eq!(
            source.kind(),
            ErrorKind::CapabilityDenied,
            "{kind}: {source}"
        );
        assert!(source.message().contains("`wasi:"), "{kind}: {source}");

        let hi: String = manager.call("full", "hello", "manager").await.unwrap();
        assert_eq!(hi, "hi manager", "{kind}");
        let v: Option<String> = manager.call("full", "env_var", "GREETING").await.unwrap();
        assert_eq!(v.as_deref(), Some("hej"), "{kind}");
        let (wall, _): (u64, u64) = manager.call("full", "clock", &()).await.unwrap();
        assert!(wall > 1_600_000_000, "{kind}: {wall}");
        let text: String = manager
            .call("full", "read_file", "/data/in.txt")
            .await
            .unwrap();
        assert_eq!(text, "from the host", "{kind}");
        let denied = manager
            .call::<_, ()>("full", "write_file", &("/data/out.txt", "x"))
            .await
            .unwrap_err();
        let source = denied.engine_error().unwrap();
        assert_eq!(source.kind(), ErrorKind::Guest, "{kind}: {denied}");
        assert!(
            source.message().contains("not permitted"),
            "{kind}: {denied}"
        );
        assert!(!data.path().join("out.txt").exists(), "{kind}");
    }
}
