//! Discovery, manifests, integrity and dependency order, on every backend.

mod common;

use anywasm::ErrorKind;
use anywasm_plugin::{PluginError, Status, hex, sha256};
use common::*;
use ed25519_dalek::{Signer, SigningKey};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_reports_good_corrupt_and_bad_manifest_files() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        let good = value_plugin("good", "1.2.3", "description = \"fine\"", 7);
        std::fs::write(dir.path().join("good.wasm"), &good).unwrap();
        std::fs::write(dir.path().join("corrupt.wasm"), b"\0asm\x01\0\0\0garbage").unwrap();
        std::fs::write(dir.path().join("noise.txt"), b"not a plugin").unwrap();
        // A sidecar overrides the embedded manifest; this one is broken.
        std::fs::write(
            dir.path().join("badver.wasm"),
            value_plugin("badver", "1.0.0", "", 1),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("badver.toml"),
            "name = \"badver\"\nversion = \"one\"",
        )
        .unwrap();
        // ...and this one renames and re-versions the plugin.
        std::fs::write(
            dir.path().join("side.wasm"),
            value_plugin("ignored", "0.0.1", "", 2),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("side.toml"),
            manifest("sidecar", "2.0.0", ""),
        )
        .unwrap();
        let manager = builder(dir.path(), kind).build().unwrap();
        let report = manager.discover().await.unwrap();

        let names: Vec<&str> = report.loaded.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["good", "sidecar"], "{kind}: {report:?}");
        assert_eq!(report.failed.len(), 2, "{kind}: {report:?}");
        let corrupt = report.failure("corrupt.wasm").unwrap();
        assert!(
            matches!(corrupt, PluginError::Load { source, .. } if source.kind() == ErrorKind::Abi),
            "{kind}: {corrupt}"
        );
        let badver = report.failure("badver.wasm").unwrap();
        assert!(
            matches!(badver, PluginError::Manifest { plugin, field, .. } if plugin == "badver" && field == "version"),
            "{kind}: {badver}"
        );

        let info = manager.plugin_info("good").unwrap();
        assert_eq!(info.version.to_string(), "1.2.3");
        assert_eq!(info.description.as_deref(), Some("fine"));
        assert_eq!(info.status, Status::Running);
        assert_eq!(info.sha256, hex(&sha256(&good)));
        assert!(!info.signed);
        let v: (u8, u8) = manager.call("good", "value", &()).await.unwrap();
        assert_eq!(v, (7, 7));
        assert_eq!(manager.list_plugins().len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_required_refuse_unsigned_and_forged_files() {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let other = SigningKey::from_bytes(&[9u8; 32]);
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        let signed = value_plugin("signed", "1.0.0", "", 1);
        std::fs::write(dir.path().join("signed.wasm"), &signed).unwrap();
        std::fs::write(
            dir.path().join("signed.wasm.sig"),
            key.sign(&signed).to_bytes(),
        )
        .unwrap();
        let hexsig = value_plugin("hexsig", "1.0.0", "", 1);
        std::fs::write(dir.path().join("hexsig.wasm"), &hexsig).unwrap();
        std::fs::write(
            dir.path().join("hexsig.wasm.sig"),
            hex(&key.sign(&hexsig).to_bytes()),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("unsigned.wasm"),
            value_plugin("unsigned", "1.0.0", "", 1),
        )
        .unwrap();
        let forged = value_plugin("forged", "1.0.0", "", 1);
        std::fs::write(dir.path().join("forged.wasm"), &forged).unwrap();
        std::fs::write(
            dir.path().join("forged.wasm.sig"),
            other.sign(&forged).to_bytes(),
        )
        .unwrap();
        std::fs::write(dir.path().join("corrupt.wasm"), b"\x01\x02\x03").unwrap();
        // What `anywasm sign` writes.
        let tool = value_plugin("tool", "1.0.0", "", 1);
        std::fs::write(dir.path().join("tool.wasm"), &tool).unwrap();
        std::fs::write(
            dir.path().join("tool.wasm.sig"),
            anywasm_plugin::signing::sign(&tool, &key),
        )
        .unwrap();

        let manager = builder(dir.path(), kind)
            .trust_key(key.verifying_key())
            .require_signatures(true)
            .build()
            .unwrap();
        let report = manager.discover().await.unwrap();
        let names: Vec<&str> = report.loaded.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["hexsig", "signed", "tool"], "{kind}: {report:?}");
        for file in ["unsigned.wasm", "forged.wasm", "corrupt.wasm"] {
            let e = report
                .failure(file)
                .unwrap_or_else(|| panic!("{kind}: {file} loaded"));
            assert!(
                matches!(e, PluginError::Signature { .. }),
                "{kind}: {file}: {e}"
            );
        }
        assert!(manager.plugin_info("signed").unwrap().signed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_load_in_order_and_bad_ones_are_named() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            // Named so that file order is not dependency order.
            (
                "a-top.wasm",
                "top",
                "1.0.0",
                "[dependencies]\nmiddle = \"^1.1\"",
            ),
            (
                "b-middle.wasm",
                "middle",
                "1.4.0",
                "[dependencies]\nbase = \"1\"",
            ),
            ("c-base.wasm", "base", "1.0.2", ""),
            (
                "d-missing.wasm",
                "lonely",
                "1.0.0",
                "[dependencies]\nnowhere = \"1\"",
            ),
            (
                "e-conflict.wasm",
                "picky",
                "1.0.0",
                "[dependencies]\nbase = \">=2\"",
            ),
            ("f-x.wasm", "x", "1.0.0", "[dependencies]\ny = \"1\""),
            ("g-y.wasm", "y", "1.0.0", "[dependencies]\nx = \"1\""),
            (
                "h-above.wasm",
                "above",
                "1.0.0",
                "[dependencies]\npicky = \"1\"",
            ),
            (
                "i-newhost.wasm",
                "future",
                "1.0.0",
                "min_host_version = \"99.0.0\"",
            ),
        ];
        for (file, name, version, extra) in files {
            std::fs::write(dir.path().join(file), value_plugin(name, version, extra, 1)).unwrap();
        }
        let manager = builder(dir.path(), kind).build().unwrap();
        let report = manager.discover().await.unwrap();
        let names: Vec<&str> = report.loaded.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["base", "middle", "top"], "{kind}: {report:?}");
        let message = |file: &str| match report.failure(file) {
            Some(PluginError::Dependency { plugin, message }) => format!("{plugin}: {message}"),
            other => panic!("{kind}: {file}: {other:?}"),
        };
        assert_eq!(
            message("d-missing.wasm"),
            "lonely: missing dependency `nowhere` (^1)"
        );
        assert_eq!(
            message("e-conflict.wasm"),
            "picky: version conflict: needs `base` >=2, but `base` is 1.0.2"
        );
        assert!(
            message("f-x.wasm").contains("dependency cycle: `x` -> `y` -> `x`"),
            "{}",
            message("f-x.wasm")
        );
        assert!(
            message("g-y.wasm").contains("dependency cycle"),
            "{}",
            message("g-y.wasm")
        );
        assert!(
            message("h-above.wasm").contains("`picky`"),
            "{}",
            message("h-above.wasm")
        );
        assert!(matches!(
            report.failure("i-newhost.wasm"),
            Some(PluginError::HostVersion { plugin, .. }) if plugin == "future"
        ));

        // Loading later against the running plugins checks the same way.
        let late = dir.path().join("late.wasm");
        std::fs::write(
            &late,
            value_plugin("late", "1.0.0", "[dependencies]\nmiddle = \"~1.3\"", 1),
        )
        .unwrap();
        let e = manager.load(&late).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "plugin `late`: version conflict: needs `middle` ~1.3, but `middle` is 1.4.0"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_memory_is_reported_and_capped_by_the_host() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        // `module` gives one page; this one asks for three more pages up front.
        let big = module(&manifest("big", "1.0.0", ""), &[], "(memory $more 4)");
        std::fs::write(dir.path().join("big.wasm"), &big).unwrap();
        std::fs::write(
            dir.path().join("small.wasm"),
            value_plugin("small", "1.0.0", "", 1),
        )
        .unwrap();
        let limits = anywasm::Limits::new()
            .memory_bytes(64 << 20)
            .initial_memory_bytes(2 << 16);
        let manager = builder(dir.path(), kind).limits(limits).build().unwrap();
        let report = manager.discover().await.unwrap();

        let names: Vec<&str> = report.loaded.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["small"], "{kind}: {report:?}");
        let refused = report.failure("big.wasm").unwrap();
        assert!(
            matches!(refused, PluginError::Load { plugin, source }
                if plugin == "big"
                    && source.kind() == ErrorKind::LimitExceeded(anywasm::Resource::InitialMemory)
                    && source.backend() == Some(kind)),
            "{kind}: {refused}"
        );
        assert!(refused.to_string().contains("big"), "{kind}: {refused}");
        let info = manager.plugin_info("small").unwrap();
        assert_eq!(info.initial_memory_bytes, 1 << 16, "{kind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gas_budgets_are_per_call() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        let body = format!(
            "{}(func (export \"spin\") (param i32 i32) (result i64) (loop (br 0)) (i64.const 0))",
            value_export(3)
        );
        let wasm = module(&manifest("metered", "1.0.0", ""), &[], &body);
        std::fs::write(dir.path().join("metered.wasm"), &wasm).unwrap();
        let manager = builder(dir.path(), kind)
            .config(anywasm::Config::new().gas(true))
            .limits(anywasm::Limits::new().memory_bytes(64 << 20).gas(60))
            .pool_size(1)
            .build()
            .unwrap();
        manager.discover().await.unwrap();
        // Fifty calls of at least two gas each fit in 60 only because
        // every call starts with the whole budget again.
        for _ in 0..50 {
            let v: (u8, u8) = manager.call("metered", "value", &()).await.unwrap();
            assert_eq!(v, (3, 3), "{kind}");
        }
        let err = manager
            .call::<_, ()>("metered", "spin", &())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, PluginError::Call { source, .. }
                if source.kind() == ErrorKind::Trap(anywasm::TrapCode::OutOfFuel)),
            "{kind}: {err}"
        );
        let v: (u8, u8) = manager.call("metered", "value", &()).await.unwrap();
        assert_eq!(v, (3, 3), "{kind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_limits_apply_as_set_and_manifests_only_tighten_them() {
    use anywasm::Limits;
    use std::time::Duration;
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("free.wasm"),
            value_plugin("free", "1.0.0", "", 1),
        )
        .unwrap();
        let tight = "[limits]\nmemory_bytes = 1048576\nfuel = 5000\ntimeout_ms = 1";
        std::fs::write(
            dir.path().join("tight.wasm"),
            value_plugin("tight", "1.0.0", tight, 2),
        )
        .unwrap();
        let loose = "[limits]\ntimeout_ms = 60000";
        std::fs::write(
            dir.path().join("loose.wasm"),
            value_plugin("loose", "1.0.0", loose, 3),
        )
        .unwrap();
        // Unlimited memory, tables and instances, and a deadline under a
        // millisecond: none of it may turn into a default or round to 0 ms.
        let host = Limits::unlimited().timeout(Duration::from_micros(700));
        let manager = builder(dir.path(), kind)
            .limits(host.clone())
            .build()
            .unwrap();
        let report = manager.discover().await.unwrap();
        assert_eq!(report.loaded.len(), 3, "{kind}: {report:?}");

        assert_eq!(manager.plugin_info("free").unwrap().limits, host, "{kind}");
        // A manifest asking for less gets less; its 1 ms deadline is looser
        // than the host's 700 us, so the host's stays.
        assert_eq!(
            manager.plugin_info("tight").unwrap().limits,
            host.clone().memory_bytes(1 << 20).fuel(5000),
            "{kind}"
        );
        // Asking for more time than the host allows changes nothing.
        assert_eq!(manager.plugin_info("loose").unwrap().limits, host, "{kind}");
    }
}
