//! Builds the guest plugins in `guests/` (a cargo workspace of its own) in
//! release, and exposes each artifact to the crate as an environment
//! variable holding its absolute path:
//!
//! - `ANYWASM_GUEST_ABI`: `abi_guest.wasm` (guests/abi-guest), wasm32-unknown-unknown.
//! - `ANYWASM_GUEST_BENCH`: `bench_guest.wasm` (guests/bench-guest), wasm32-unknown-unknown.
//! - `ANYWASM_GUEST_ECHO`: `echo_guest.wasm` (guests/echo-guest), wasm32-unknown-unknown.
//! - `ANYWASM_GUEST_WASI`: `wasi_guest.wasm` (guests/wasi-guest), wasm32-wasip1.
//! - `ANYWASM_GUEST_HELLO_WASI`: `hello_wasi.wasm` (guests/hello-wasi), a wasm32-wasip1 command.
//! - `ANYWASM_GUEST_SERVICES`: `services_guest.wasm` (guests/services-guest), wasm32-unknown-unknown.
//!
//! A missing target is added with rustup when rustup manages the compiler
//! (see `build/wasm_target.rs`), with one line saying so.
//!
//! The nested cargo gets a clean environment (no flags, wrappers or target
//! settings of the outer build leak into it) and its own target directory
//! under `OUT_DIR`; it shares the outer build's jobserver.

use std::env;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, exit};

#[path = "build/wasm_target.rs"]
mod wasm_target;

/// (target, cargo package selection, [(crate artifact, environment variable)]).
type Build = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

const BUILDS: &[Build] = &[
    (
        "wasm32-unknown-unknown",
        &[
            "--workspace",
            "--exclude",
            "wasi-guest",
            "--exclude",
            "hello-wasi",
        ],
        &[
            ("abi_guest", "ANYWASM_GUEST_ABI"),
            ("bench_guest", "ANYWASM_GUEST_BENCH"),
            ("echo_guest", "ANYWASM_GUEST_ECHO"),
            ("services_guest", "ANYWASM_GUEST_SERVICES"),
        ],
    ),
    (
        "wasm32-wasip1",
        &["-p", "wasi-guest", "-p", "hello-wasi"],
        &[
            ("wasi_guest", "ANYWASM_GUEST_WASI"),
            ("hello_wasi", "ANYWASM_GUEST_HELLO_WASI"),
        ],
    ),
];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let guests = manifest_dir.join("guests");
    let root = manifest_dir.parent().expect("conformance/ has a parent");

    for path in [
        guests.join("Cargo.toml"),
        guests.join("Cargo.lock"),
        guests.join("types"),
        guests.join("abi-guest"),
        guests.join("bench-guest"),
        guests.join("echo-guest"),
        guests.join("wasi-guest"),
        guests.join("hello-wasi"),
        guests.join("services-guest"),
        root.join("crates/guest"),
        root.join("crates/core/src"),
        root.join("crates/core/Cargo.toml"),
        manifest_dir.join("build"),
    ] {
        println!("cargo:rerun-if-changed={}", path.display());
    }

    for (target, packages, artifacts) in BUILDS {
        build(&guests, &out_dir, target, packages, artifacts);
    }
}

/// Build `packages` of the guest workspace for `target` and publish
/// `artifacts`.
fn build(
    guests: &std::path::Path,
    out_dir: &std::path::Path,
    target: &str,
    packages: &[&str],
    artifacts: &[(&str, &str)],
) {
    match wasm_target::ensure(target, &wasm_target::Toolchain::from_env()) {
        Ok(wasm_target::Outcome::Present) => {}
        Ok(wasm_target::Outcome::Installed { message, libdir }) => {
            println!("cargo:warning={message}");
            // cargo replays a build script's warnings whenever the crate is
            // rebuilt until the script runs again; the new libraries are newer
            // than this run, so the next build runs it once more, quietly.
            println!("cargo:rerun-if-changed={}", libdir.display());
        }
        Err(message) => fail(&message),
    }

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = out_dir.join("guests-target");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(guests)
        .args(["build", "--release", "--locked", "--target", target])
        .args(packages)
        .arg("--manifest-path")
        .arg(guests.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    scrub_env(&mut cmd);

    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) => fail(&format!(
            "could not run cargo to build the guest plugins: {e}"
        )),
    };
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        fail(&format!(
            "building the guest plugins in {} for {target} failed ({}); cargo's output is above",
            guests.display(),
            output.status
        ));
    }

    let release = target_dir.join(target).join("release");
    for (artifact, var) in artifacts {
        let built = release.join(format!("{artifact}.wasm"));
        let copy = out_dir.join(format!("{artifact}.wasm"));
        if let Err(e) = std::fs::copy(&built, &copy) {
            fail(&format!(
                "could not copy {} to {}: {e}",
                built.display(),
                copy.display()
            ));
        }
        println!("cargo:rustc-env={var}={}", copy.display());
    }
}

/// Remove what would leak the outer build's settings into the nested one.
/// `CARGO_MAKEFLAGS` stays: it shares the jobserver.
fn scrub_env(cmd: &mut Command) {
    const EXACT: &[&str] = &[
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_ENCODED_RUSTDOCFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "TARGET",
        "HOST",
        "OUT_DIR",
        "OPT_LEVEL",
        "PROFILE",
        "DEBUG",
        "NUM_JOBS",
        "RUSTC_LINKER",
    ];
    const PREFIXES: &[&str] = &[
        "CARGO_PROFILE_",
        "CARGO_FEATURE_",
        "CARGO_CFG_",
        "CARGO_TARGET_",
        "CARGO_BUILD_",
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
    ];
    let vars: Vec<OsString> = env::vars_os().map(|(k, _)| k).collect();
    for key in vars {
        let Some(name) = key.to_str() else { continue };
        if EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p)) {
            cmd.env_remove(&key);
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("{message}");
    exit(1);
}
