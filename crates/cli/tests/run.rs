//! `anywasm run` as a user runs it: the real binary, a `wasm32-wasip1`
//! hello-world command, on every engine.

use std::process::Command;

use anywasm_conformance::guests::HELLO_WASI;

fn anywasm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_anywasm"))
}

#[test]
fn hello_world_prints_and_exits_with_its_status_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("hello.wasm");
    std::fs::write(&wasm, HELLO_WASI).unwrap();
    for engine in anywasm::compiled_backends() {
        let out = anywasm()
            .args(["run", "--engine", engine.name()])
            .arg(&wasm)
            .args(["plain", "-x", "--dir", "a b"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout,
            "hello, world\nplain\n-x\n--dir\na b\n",
            "{engine}: stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(4), "{engine}");
    }
}

#[test]
fn version_names_the_binary() {
    let out = anywasm().arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("anywasm {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn invoke_calls_one_export() {
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("add.wat");
    std::fs::write(
        &wat,
        r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#,
    )
    .unwrap();
    let out = anywasm()
        .args([
            "run",
            "--invoke",
            "add",
            "-e",
            anywasm::compiled_backends()[0].name(),
        ])
        .arg(&wat)
        .args(["40", "-2"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "38\n");
    assert!(out.status.success());
}
