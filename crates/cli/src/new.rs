//! `anywasm new NAME`: a plugin crate ready to build and test.
//!
//! The crate is the smallest complete plugin: the manifest as a file
//! (`anywasm.toml`, embedded by `plugin!`), an `init` taking its
//! configuration, one entry point using a host service, the build script
//! that keeps its memory at one page, and tests that run on every engine
//! with `anywasm-test`. Until anywasm is published, the crate depends on
//! the checkout this `anywasm` was built from (and starts from that
//! checkout's `Cargo.lock`, the versions it is tested with);
//! `--anywasm-path` names another checkout, `--anywasm-version` a
//! published version.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options of `anywasm new`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plugin's name: lowercase letters, digits, `-` and `_`, starting with a letter.
    name: String,
    /// Where to create it (default: ./NAME).
    #[arg(long)]
    path: Option<PathBuf>,
    /// Depend on the anywasm checkout at this path (default: the one this
    /// binary was built from).
    #[arg(long, conflicts_with = "anywasm_version")]
    anywasm_path: Option<PathBuf>,
    /// Depend on this published version of anywasm instead of a checkout.
    #[arg(long)]
    anywasm_version: Option<String>,
}

const CARGO_TOML: &str = include_str!("../template/Cargo.toml.tmpl");
const BUILD_RS: &str = include_str!("../template/build.rs.tmpl");
const MANIFEST: &str = include_str!("../template/anywasm.toml.tmpl");
const LIB_RS: &str = include_str!("../template/lib.rs.tmpl");
const TEST_RS: &str = include_str!("../template/plugin_test.rs.tmpl");
const README: &str = include_str!("../template/README.md.tmpl");

pub fn main(args: Args) -> ExitCode {
    match create(&args) {
        Ok(dir) => {
            println!("created plugin `{}` in {}", args.name, dir.display());
            println!(
                "next: cd {} && anywasm build --release && cargo test",
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Plugin names are manifest names (`[a-z0-9_-]+`) that are also crate
/// names (starting with a letter).
fn check_name(name: &str) -> Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a plugin name: use lowercase letters, digits, `-` and `_`, starting with a letter"
        ))
    }
}

/// The checkout this binary was built from, if it is still there.
fn own_checkout() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.parent()?;
    root.join("crates/guest/Cargo.toml")
        .is_file()
        .then(|| root.to_path_buf())
}

/// A TOML string holding `s`.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.into()).to_string()
}

fn create(args: &Args) -> Result<PathBuf, String> {
    check_name(&args.name)?;
    let dir = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists() {
        return Err(format!("{} already exists", dir.display()));
    }
    let (guest_dep, test_dep, lock) = match (&args.anywasm_version, &args.anywasm_path) {
        (Some(version), _) => (
            format!("anywasm-guest = {}", toml_string(version)),
            format!(
                "anywasm-test = {{ version = {}, default-features = false }}",
                toml_string(version)
            ),
            None,
        ),
        (None, path) => {
            let root = match path {
                Some(p) => p.clone(),
                None => own_checkout().ok_or(
                    "the anywasm checkout this binary was built from is gone; \
                     pass --anywasm-path CHECKOUT or --anywasm-version VERSION",
                )?,
            };
            let root = root
                .canonicalize()
                .map_err(|e| format!("{}: {e}", root.display()))?;
            if !root.join("crates/guest/Cargo.toml").is_file() {
                return Err(format!("{} is not an anywasm checkout", root.display()));
            }
            let path =
                |krate: &str| toml_string(&root.join("crates").join(krate).display().to_string());
            (
                format!("anywasm-guest = {{ path = {} }}", path("guest")),
                format!(
                    "anywasm-test = {{ path = {}, default-features = false }}",
                    path("test")
                ),
                Some(root.join("Cargo.lock")).filter(|l| l.is_file()),
            )
        }
    };
    let fill = |template: &str| {
        template
            .replace("{{name}}", &args.name)
            .replace("{{crate}}", &args.name.replace('-', "_"))
            .replace("{{guest_dep}}", &guest_dep)
            .replace("{{test_dep}}", &test_dep)
    };
    let files: [(&str, String); 7] = [
        ("Cargo.toml", fill(CARGO_TOML)),
        ("build.rs", fill(BUILD_RS)),
        ("anywasm.toml", fill(MANIFEST)),
        ("src/lib.rs", fill(LIB_RS)),
        ("tests/plugin.rs", fill(TEST_RS)),
        ("README.md", fill(README)),
        (".gitignore", "/target\n".into()),
    ];
    for (name, contents) in &files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(lock) = lock {
        std::fs::copy(&lock, dir.join("Cargo.lock"))
            .map_err(|e| format!("{}: {e}", lock.display()))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_manifest_and_crate_names() {
        for ok in ["demo", "my-plugin", "p2_x"] {
            check_name(ok).unwrap();
        }
        for bad in ["", "Demo", "2fast", "-x", "a b", "naïve"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates_have_no_placeholder_left() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("my-plugin");
        create(&Args {
            name: "my-plugin".into(),
            path: Some(target.clone()),
            anywasm_path: None,
            anywasm_version: Some("0.1".into()),
        })
        .unwrap();
        for file in [
            "Cargo.toml",
            "build.rs",
            "anywasm.toml",
            "src/lib.rs",
            "tests/plugin.rs",
            "README.md",
        ] {
            let text = std::fs::read_to_string(target.join(file)).unwrap();
            assert!(!text.contains("{{"), "{file}: {text}");
        }
        let test = std::fs::read_to_string(target.join("tests/plugin.rs")).unwrap();
        assert!(test.contains("built_plugin!(\"my_plugin\")"));
        let cargo = std::fs::read_to_string(target.join("Cargo.toml")).unwrap();
        assert!(cargo.contains("anywasm-guest = \"0.1\""), "{cargo}");
        assert!(cargo.contains("default = [\"wasmtime\", \"wasmer\", \"wasmi\"]"));
        assert!(
            create(&Args {
                name: "my-plugin".into(),
                path: Some(target),
                anywasm_path: None,
                anywasm_version: None,
            })
            .unwrap_err()
            .contains("already exists")
        );
    }
}
