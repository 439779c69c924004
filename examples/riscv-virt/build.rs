//! Builds the plugin in `plugin/` for wasm32-unknown-unknown (release) and
//! hands its path to the firmware as `THERMO_PLUGIN_WASM`; puts `memory.x`
//! where the linker finds it.
//!
//! A missing wasm32 target is added with rustup when rustup manages the
//! compiler, as the conformance suite's build does (the same code, included
//! from `conformance/build/wasm_target.rs`).
//!
//! The nested cargo runs with a clean environment (none of this build's
//! target, flags or linker scripts leak into it) and its own target directory
//! under `OUT_DIR`; it shares this build's jobserver.

use std::env;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, exit};

#[path = "../../conformance/build/wasm_target.rs"]
mod wasm_target;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));

    copy(&dir.join("memory.x"), &out.join("memory.x"));
    println!("cargo:rustc-link-search={}", out.display());

    let root = dir.join("../..");
    for path in [
        dir.join("memory.x"),
        dir.join("plugin/Cargo.toml"),
        dir.join("plugin/build.rs"),
        dir.join("plugin/src"),
        dir.join("src/protocol.rs"),
        root.join("crates/guest"),
        root.join("crates/core/src"),
        root.join("crates/core/Cargo.toml"),
        root.join("conformance/build/wasm_target.rs"),
    ] {
        println!("cargo:rerun-if-changed={}", path.display());
    }

    match wasm_target::ensure(WASM_TARGET, &wasm_target::Toolchain::from_env()) {
        Ok(wasm_target::Outcome::Present) => {}
        Ok(wasm_target::Outcome::Installed { message, libdir }) => {
            println!("cargo:warning={message}");
            // As in conformance/build.rs: run once more, quietly, next time.
            println!("cargo:rerun-if-changed={}", libdir.display());
        }
        Err(message) => fail(&message),
    }

    let target_dir = out.join("plugin-target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir.join("plugin"))
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            WASM_TARGET,
            "--target-dir",
        ])
        .arg(&target_dir);
    scrub_env(&mut cmd);
    let output = cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("could not run cargo to build the plugin: {e}")));
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        fail(&format!(
            "building the plugin in {} for {WASM_TARGET} failed ({}); cargo's output is above",
            dir.join("plugin").display(),
            output.status
        ));
    }
    let wasm = target_dir
        .join(WASM_TARGET)
        .join("release")
        .join("thermo_plugin.wasm");
    println!("cargo:rustc-env=THERMO_PLUGIN_WASM={}", wasm.display());
}

/// Remove what this build's cargo set for the firmware (target, rustflags
/// with its linker scripts, profile, features) so the nested build is a
/// plain wasm32 build. `CARGO_MAKEFLAGS` stays: it shares the jobserver.
fn scrub_env(cmd: &mut Command) {
    const EXACT: &[&str] = &[
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "TARGET",
        "HOST",
        "OUT_DIR",
        "OPT_LEVEL",
        "PROFILE",
        "DEBUG",
        "NUM_JOBS",
        "RUSTC_LINKER",
        "CARGO_PRIMARY_PACKAGE",
    ];
    const PREFIXES: &[&str] = &[
        "CARGO_BUILD_",
        "CARGO_CFG_",
        "CARGO_FEATURE_",
        "CARGO_MANIFEST_",
        "CARGO_PKG_",
        "CARGO_PROFILE_",
        "CARGO_TARGET_",
    ];
    let keys: Vec<OsString> = env::vars_os().map(|(k, _)| k).collect();
    for key in keys {
        let Some(name) = key.to_str() else { continue };
        if EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p)) {
            cmd.env_remove(&key);
        }
    }
}

fn copy(from: &std::path::Path, to: &std::path::Path) {
    if let Err(e) = std::fs::copy(from, to) {
        fail(&format!(
            "could not copy {} to {}: {e}",
            from.display(),
            to.display()
        ));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("{message}");
    exit(1);
}
