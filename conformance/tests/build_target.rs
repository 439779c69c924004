//! The build script's target logic (`build/wasm_target.rs`): what happens
//! when the wasm32 target the guest plugins need is missing, with and without
//! rustup. rustup itself is replaced by a small script here, because the real
//! one would change the machine's toolchains; `rustc` is the real compiler
//! where the case allows it.

#![cfg(unix)]

#[path = "../build/wasm_target.rs"]
#[allow(dead_code)]
mod wasm_target;

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use wasm_target::{Outcome, Toolchain, ensure};

const TARGET: &str = "wasm32-unknown-unknown";

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A compiler whose target libdir for every target is `libdir` (empty until
/// something puts a `libcore-*` in it), the way `rustc --print target-libdir`
/// answers for a target that is not installed.
fn rustc_without_target(dir: &Path) -> (OsString, PathBuf) {
    let libdir = dir.join("sysroot/lib/rustlib").join(TARGET).join("lib");
    fs::create_dir_all(&libdir).unwrap();
    let rustc = script(dir, "rustc", &format!("echo '{}'", libdir.display()));
    (rustc.into(), libdir)
}

#[test]
fn present_target_needs_no_rustup() {
    let dir = tempfile::tempdir().unwrap();
    // The host target is always installed for the real compiler; a rustup that
    // would fail proves it is never asked.
    let rustup = script(dir.path(), "rustup", "echo called >&2; exit 1");
    let host = host_target();
    let tc = Toolchain {
        rustc: "rustc".into(),
        rustup: Some(rustup),
        name: Some("stable".into()),
    };
    assert_eq!(ensure(&host, &tc), Ok(Outcome::Present));
}

#[test]
fn missing_target_with_rustup_is_installed_and_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let (rustc, libdir) = rustc_without_target(dir.path());
    let log = dir.path().join("rustup.log");
    let rustup = script(
        dir.path(),
        "rustup",
        &format!(
            "echo \"$@\" >> '{}'; touch '{}/libcore-0123.rlib'",
            log.display(),
            libdir.display()
        ),
    );
    let tc = Toolchain {
        rustc,
        rustup: Some(rustup),
        name: Some("stable-x86_64-unknown-linux-gnu".into()),
    };
    let Ok(Outcome::Installed {
        message: line,
        libdir: reported,
    }) = ensure(TARGET, &tc)
    else {
        panic!("expected the target to be installed");
    };
    assert_eq!(reported, libdir);
    assert!(!line.contains('\n'), "one line: {line}");
    assert!(line.contains(TARGET) && line.contains("rustup"), "{line}");
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        format!("target add --toolchain stable-x86_64-unknown-linux-gnu {TARGET}\n")
    );
    // Now present: a second build does nothing.
    assert_eq!(ensure(TARGET, &tc), Ok(Outcome::Present));
    assert_eq!(fs::read_to_string(&log).unwrap().lines().count(), 1);
}

#[test]
fn missing_target_without_rustup_says_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let (rustc, _) = rustc_without_target(dir.path());
    let tc = Toolchain {
        rustc,
        rustup: None,
        name: None,
    };
    let err = ensure(TARGET, &tc).unwrap_err();
    assert!(err.contains("is not installed"), "{err}");
    assert!(
        err.contains("rustup target add wasm32-unknown-unknown"),
        "{err}"
    );
}

#[test]
fn rustup_present_but_compiler_not_from_rustup_is_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    let (rustc, _) = rustc_without_target(dir.path());
    let rustup = script(dir.path(), "rustup", "echo called >&2; exit 1");
    let tc = Toolchain {
        rustc,
        rustup: Some(rustup),
        name: None,
    };
    let err = ensure(TARGET, &tc).unwrap_err();
    assert!(err.contains("not managed by rustup"), "{err}");
}

#[test]
fn rustup_failure_is_reported_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let (rustc, _) = rustc_without_target(dir.path());
    let rustup = script(
        dir.path(),
        "rustup",
        "echo \"error: component 'rust-std' for target '$5' is unavailable for download\" >&2; exit 1",
    );
    let tc = Toolchain {
        rustc,
        rustup: Some(rustup),
        name: Some("stable".into()),
    };
    let err = ensure(TARGET, &tc).unwrap_err();
    assert!(
        err.contains("rustup target add --toolchain stable"),
        "{err}"
    );
    assert!(err.contains("is unavailable for download"), "{err}");
}

#[test]
fn rustup_that_installs_elsewhere_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (rustc, _) = rustc_without_target(dir.path());
    let rustup = script(dir.path(), "rustup", "exit 0");
    let tc = Toolchain {
        rustc,
        rustup: Some(rustup),
        name: Some("stable".into()),
    };
    let err = ensure(TARGET, &tc).unwrap_err();
    assert!(err.contains("still has no standard library"), "{err}");
}

fn host_target() -> String {
    let out = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap()
        .to_string()
}
