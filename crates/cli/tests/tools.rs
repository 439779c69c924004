//! The plugin author's tools as an author uses them: the real binary
//! scaffolds a plugin crate, builds it for wasm32, inspects, signs and
//! verifies it, and loads its directory with the plugin manager.
//!
//! The scaffold's own `cargo test` (its tests on every engine) compiles the
//! engines once more for a crate outside this workspace; CI runs it
//! (`.ci/run`, "plugin author round trip"), the test suite does not.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn anywasm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_anywasm"))
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?} failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `anywasm new demo` in `dir`, depending on this checkout, then `anywasm
/// build --release --strip`: the built plugin's path.
fn scaffold_and_build(dir: &Path) -> PathBuf {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let crate_dir = dir.join("demo");
    ok(anywasm()
        .current_dir(dir)
        .args(["new", "demo", "--anywasm-path"])
        .arg(&checkout));
    for file in [
        "Cargo.toml",
        "build.rs",
        "anywasm.toml",
        "src/lib.rs",
        "tests/plugin.rs",
        "README.md",
    ] {
        assert!(crate_dir.join(file).is_file(), "scaffold lacks {file}");
    }
    let target = dir.join("target");
    let stdout = ok(anywasm()
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "--release", "--strip"]));
    let wasm = target.join("anywasm/demo.wasm");
    assert!(wasm.is_file(), "no {}: {stdout}", wasm.display());
    assert!(stdout.contains("sha256"), "{stdout}");
    wasm
}

#[test]
fn new_build_inspect_sign_verify_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = scaffold_and_build(dir.path());

    // inspect: the manifest and the ABI, as text and as JSON.
    let shown = ok(anywasm().arg("inspect").arg(&wasm));
    assert!(shown.contains("ABI version 2"), "{shown}");
    assert!(shown.contains("name = \"demo\""), "{shown}");
    assert!(shown.contains("entry points: greet"), "{shown}");
    let json: Value = serde_json::from_str(&ok(anywasm().arg("inspect").arg(&wasm).arg("--json")))
        .expect("inspect --json prints JSON");
    assert_eq!(json["abi_version"], 2, "{json}");
    assert_eq!(json["entry_points"], serde_json::json!(["greet"]), "{json}");
    assert_eq!(json["capabilities_needed"], serde_json::json!(["log"]));
    let sections: Vec<&str> = json["custom_sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(sections.contains(&"anywasm:manifest"), "{sections:?}");
    assert!(!sections.contains(&"name"), "--strip kept {sections:?}");

    // keygen, sign, verify; a modified file no longer verifies.
    let key = dir.path().join("demo.key");
    ok(anywasm().arg("keygen").arg("--out").arg(&key));
    let public = dir.path().join("demo.key.pub");
    ok(anywasm().arg("sign").arg(&wasm).arg("--key").arg(&key));
    assert!(wasm.with_extension("wasm.sig").is_file());
    let verified = ok(anywasm()
        .arg("verify")
        .arg(&wasm)
        .arg("--pubkey")
        .arg(&public));
    assert!(verified.contains("verified"), "{verified}");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(&wasm, plugins.join("demo.wasm")).unwrap();
    let mut tampered = std::fs::read(&wasm).unwrap();
    tampered.push(0);
    std::fs::write(&wasm, tampered).unwrap();
    let out = anywasm()
        .arg("verify")
        .arg(&wasm)
        .arg("--pubkey")
        .arg(&public)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a modified file verified: {}",
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not verify"),
        "{}",
        text(&out)
    );

    // plugins: loads with the capability granted, names it when not.
    for engine in anywasm::compiled_backends() {
        let report = ok(anywasm().arg("plugins").arg(&plugins).args([
            "--engine",
            engine.name(),
            "--grant",
            "log",
        ]));
        assert!(report.contains("1 loaded, 0 failed"), "{engine}: {report}");
        assert!(report.contains("demo 0.1.0"), "{engine}: {report}");
    }
    let out = anywasm().arg("plugins").arg(&plugins).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("capability `log`"),
        "{}",
        text(&out)
    );
}

#[test]
fn inspect_refuses_what_is_not_a_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let not_wasm = dir.path().join("notes.txt");
    std::fs::write(&not_wasm, "hello").unwrap();
    let plain = dir.path().join("plain.wasm");
    std::fs::write(
        &plain,
        wat::parse_str("(module (func (export \"f\")))").unwrap(),
    )
    .unwrap();
    for (file, why) in [
        (&not_wasm, "not a WebAssembly module"),
        (&plain, "not an anywasm plugin"),
    ] {
        let out = anywasm().arg("inspect").arg(file).output().unwrap();
        assert!(!out.status.success(), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{}: {}", file.display(), text(&out));
    }
}
