//! `anywasm build [--release] [--strip]`: build the plugin crate in the
//! current directory for wasm32, check it is a plugin every host will
//! load, and put the result where its tests (`anywasm_test::built_plugin!`)
//! find it: `<cargo target dir>/anywasm/<crate>.wasm`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anywasm_plugin::{hex, sha256};
use serde_json::Value;

use crate::module_info::ModuleInfo;

#[path = "../../../conformance/build/wasm_target.rs"]
#[allow(dead_code)]
mod wasm_target;

const TARGET: &str = "wasm32-unknown-unknown";

/// Options of `anywasm build`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Build with the release profile (smaller, faster plugins).
    #[arg(long)]
    release: bool,
    /// Remove debug information and names (`.debug_*`, `name`,
    /// `producers` custom sections) from the output.
    #[arg(long)]
    strip: bool,
    /// The plugin crate's Cargo.toml (default: the one cargo finds from
    /// the current directory).
    #[arg(long)]
    manifest_path: Option<PathBuf>,
}

type Result<T> = std::result::Result<T, String>;

pub fn main(args: Args) -> ExitCode {
    match build(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn output(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo to {what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo could not {what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The crate to build: (its manifest, its library's name, the target dir).
fn locate(manifest_path: Option<&Path>) -> Result<(PathBuf, String, PathBuf)> {
    let manifest = match manifest_path {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from(
            output(
                cargo().args(["locate-project", "--message-format", "plain"]),
                "find a Cargo.toml here",
            )?
            .trim(),
        ),
    };
    let manifest = manifest
        .canonicalize()
        .map_err(|e| format!("{}: {e}", manifest.display()))?;
    let metadata: Value = serde_json::from_str(&output(
        cargo()
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--manifest-path",
            ])
            .arg(&manifest),
        "read the crate's metadata",
    )?)
    .map_err(|e| format!("cargo metadata: {e}"))?;
    let target_dir = PathBuf::from(
        metadata["target_directory"]
            .as_str()
            .ok_or("cargo metadata has no target_directory")?,
    );
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest.as_path()))
        .ok_or_else(|| format!("{} is not a package's manifest", manifest.display()))?;
    let lib = package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| {
            t["crate_types"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .ok_or_else(|| {
            format!(
                "package `{}` has no cdylib library; a plugin crate needs [lib] crate-type = [\"cdylib\"]",
                package["name"].as_str().unwrap_or("?")
            )
        })?;
    let name = lib["name"].as_str().ok_or("a target without a name")?;
    Ok((manifest, name.replace('-', "_"), target_dir))
}

fn build(args: &Args) -> Result<()> {
    let (manifest, name, target_dir) = locate(args.manifest_path.as_deref())?;
    match wasm_target::ensure(TARGET, &wasm_target::Toolchain::from_env())? {
        wasm_target::Outcome::Present => {}
        wasm_target::Outcome::Installed { message, .. } => eprintln!("{message}"),
    }
    let mut cmd = cargo();
    cmd.args(["build", "--lib", "--target", TARGET, "--manifest-path"])
        .arg(&manifest);
    if args.release {
        cmd.arg("--release");
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build failed ({status})"));
    }
    let profile = if args.release { "release" } else { "debug" };
    let built = target_dir
        .join(TARGET)
        .join(profile)
        .join(format!("{name}.wasm"));
    let mut wasm = std::fs::read(&built).map_err(|e| format!("{}: {e}", built.display()))?;
    if args.strip {
        wasm = strip(&wasm)?;
    }
    let info = ModuleInfo::read(&wasm).map_err(|why| format!("{} is {why}", built.display()))?;
    let problems = info.problems();
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("error: {p}");
        }
        return Err(format!(
            "{} is not a plugin hosts will load ({} problem{})",
            built.display(),
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        ));
    }
    let out_dir = target_dir.join("anywasm");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let out = out_dir.join(format!("{name}.wasm"));
    let tmp = out_dir.join(format!(".{name}.wasm.tmp"));
    std::fs::write(&tmp, &wasm)
        .and_then(|()| std::fs::rename(&tmp, &out))
        .map_err(|e| format!("{}: {e}", out.display()))?;

    let manifest = match &info.manifest {
        Some(Ok(m)) => m,
        _ => return Err("no valid manifest".into()),
    };
    println!(
        "built {} {} ({profile}{}): {}",
        manifest.name,
        manifest.version,
        if args.strip { ", stripped" } else { "" },
        out.display()
    );
    println!(
        "  size {} bytes, sha256 {}",
        wasm.len(),
        hex(&sha256(&wasm))
    );
    println!(
        "  ABI version {}, entry points: {}; capabilities: {}; initial memory {} KiB",
        info.abi_version,
        info.entry_points().join(", "),
        if manifest.capabilities.is_empty() {
            "none".to_string()
        } else {
            manifest.capabilities.join(", ")
        },
        info.initial_memory_bytes / 1024
    );
    Ok(())
}

/// Whether `strip` drops the custom section `name`.
fn is_debug_section(name: &str) -> bool {
    name.starts_with(".debug_")
        || matches!(
            name,
            "name" | "producers" | "sourceMappingURL" | "external_debug_info"
        )
}

/// `wasm` without its debug custom sections; every other section is
/// copied byte for byte (the `anywasm:*` sections stay).
fn strip(wasm: &[u8]) -> Result<Vec<u8>> {
    let mut out = wasm[..8.min(wasm.len())].to_vec();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| format!("malformed module: {e}"))?;
        if let wasmparser::Payload::CustomSection(c) = &payload
            && is_debug_section(c.name())
        {
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            out.push(id);
            leb128(&mut out, range.len() as u64);
            out.extend_from_slice(&wasm[range]);
        }
    }
    Ok(out)
}

fn leb128(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_keeps_everything_but_debug_sections() {
        let wasm = wat::parse_str(
            r#"(module $named
                (func $f (export "f"))
                (@custom "anywasm:abi" "\01\00\00\00")
                (@custom "producers" "x")
                (@custom ".debug_info" "yyy"))"#,
        )
        .unwrap();
        let names = |w: &[u8]| -> Vec<String> {
            wasmparser::Parser::new(0)
                .parse_all(w)
                .filter_map(|p| match p.unwrap() {
                    wasmparser::Payload::CustomSection(c) => Some(c.name().to_string()),
                    _ => None,
                })
                .collect()
        };
        assert!(names(&wasm).contains(&"name".to_string()));
        let stripped = strip(&wasm).unwrap();
        assert_eq!(names(&stripped), ["anywasm:abi"]);
        wasmparser::Validator::new()
            .validate_all(&stripped)
            .unwrap();
        // Nothing to strip: the same bytes.
        assert_eq!(strip(&stripped).unwrap(), stripped);
    }
}
