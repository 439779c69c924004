//! Plugin manifests: the `anywasm:manifest` TOML a module embeds, or a
//! sidecar `<name>.toml` beside the `.wasm` that replaces it entirely.
//!
//! ```toml
//! name = "greeter"                  # required, [a-z0-9_-]+
//! version = "1.2.0"                 # required, semver
//! description = "Says hello"
//! entry_points = ["greet"]          # if given, only these can be called
//! capabilities = ["log", "kv"]      # asked for; the host policy decides
//! subscribes = ["orders"]           # pub/sub topics, delivered to `on_message`
//! min_host_version = "0.1.0"
//!
//! [limits]                          # each capped by the host's defaults
//! memory_bytes = 16777216
//! fuel = 10000000                   # per call
//! timeout_ms = 500                  # per call
//! stack_bytes = 1048576             # must fit the engine's stack bound
//! instances = 4                     # instance pool size
//!
//! [dependencies]
//! storage = "^1.2"
//!
//! [config]                          # passed to `init`
//! greeting = "hello"
//!
//! [wasi]                            # for wasm32-wasip1 plugins (see `wasi = [..]` below)
//! capabilities = ["stdout", "clock"]
//! [wasi.dirs]
//! "/data" = "read-only"
//! ```
//!
//! Without directories, `wasi = ["stdout", "clock"]` says the same more
//! briefly. What each WASI entry grants is in the crate docs (WASI).
//!
//! Unknown keys are ignored (docs/abi.md §1.2).

use std::collections::BTreeMap;

use semver::{Version, VersionReq};
use serde::Deserialize;

use crate::error::{PluginError, Result};

/// A checked plugin manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// `[a-z0-9_-]+`.
    pub name: String,
    /// The plugin's version.
    pub version: Version,
    /// For humans.
    pub description: Option<String>,
    /// Callable entry points; empty means "any export".
    pub entry_points: Vec<String>,
    /// Capabilities the plugin asks for.
    pub capabilities: Vec<String>,
    /// Pub/sub topics delivered to the plugin's `on_message` export.
    pub subscribes: Vec<String>,
    /// Requested limits.
    pub limits: ManifestLimits,
    /// Other plugins this one needs loaded first, with version requirements.
    pub dependencies: BTreeMap<String, VersionReq>,
    /// The oldest host able to run the plugin.
    pub min_host_version: Option<Version>,
    /// Key/value configuration passed to the plugin's `init`.
    pub config: BTreeMap<String, String>,
    /// WASI access asked for (a `wasm32-wasip1` plugin).
    pub wasi: crate::WasiRequest,
}

/// Limits a manifest asks for; the manager caps each by its defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ManifestLimits {
    /// Each linear memory, bytes.
    pub memory_bytes: Option<u64>,
    /// Fuel per call.
    pub fuel: Option<u64>,
    /// Wall-clock deadline per call, milliseconds.
    pub timeout_ms: Option<u64>,
    /// Guest stack bound, bytes (checked against the engine's bound).
    pub stack_bytes: Option<usize>,
    /// Instance pool size.
    pub instances: Option<usize>,
}

#[derive(Deserialize)]
struct Raw {
    name: Option<toml::Value>,
    version: Option<toml::Value>,
    description: Option<String>,
    #[serde(default)]
    entry_points: Vec<String>,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    subscribes: Vec<String>,
    #[serde(default)]
    limits: ManifestLimits,
    #[serde(default)]
    dependencies: BTreeMap<String, String>,
    min_host_version: Option<String>,
    #[serde(default)]
    config: BTreeMap<String, String>,
    wasi: Option<toml::Value>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl Manifest {
    /// Parse and check a manifest. `origin` names the plugin in errors
    /// until the manifest's own `name` is known (usually the file name).
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let err = |plugin: &str, field: &str, message: String| PluginError::Manifest {
            plugin: plugin.to_string(),
            field: field.to_string(),
            message,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let message = e.message().to_string();
            err(origin, "manifest", message)
        })?;
        let name = match raw.name {
            Some(toml::Value::String(s)) if valid_name(&s) => s,
            Some(toml::Value::String(s)) => {
                return Err(err(
                    origin,
                    "name",
                    format!("`{s}` is not a valid name ([a-z0-9_-]+)"),
                ));
            }
            Some(other) => {
                return Err(err(
                    origin,
                    "name",
                    format!("must be a string, found {}", other.type_str()),
                ));
            }
            None => return Err(err(origin, "name", "missing".into())),
        };
        let version = match raw.version {
            Some(toml::Value::String(s)) => Version::parse(&s)
                .map_err(|e| err(&name, "version", format!("`{s}` is not semver: {e}")))?,
            Some(other) => {
                return Err(err(
                    &name,
                    "version",
                    format!("must be a string, found {}", other.type_str()),
                ));
            }
            None => return Err(err(&name, "version", "missing".into())),
        };
        let mut dependencies = BTreeMap::new();
        for (dep, req) in raw.dependencies {
            if !valid_name(&dep) {
                return Err(err(
                    &name,
                    "dependencies",
                    format!("`{dep}` is not a valid plugin name"),
                ));
            }
            if dep == name {
                return Err(err(
                    &name,
                    "dependencies",
                    format!("`{name}` depends on itself"),
                ));
            }
            let parsed = VersionReq::parse(&req).map_err(|e| {
                err(
                    &name,
                    &format!("dependencies.{dep}"),
                    format!("`{req}` is not a semver requirement: {e}"),
                )
            })?;
            dependencies.insert(dep, parsed);
        }
        let min_host_version = raw
            .min_host_version
            .map(|s| {
                Version::parse(&s).map_err(|e| {
                    err(
                        &name,
                        "min_host_version",
                        format!("`{s}` is not semver: {e}"),
                    )
                })
            })
            .transpose()?;
        for (field, value) in [
            ("limits.instances", raw.limits.instances.map(|v| v as u64)),
            ("limits.memory_bytes", raw.limits.memory_bytes),
            ("limits.timeout_ms", raw.limits.timeout_ms),
        ] {
            if value == Some(0) {
                return Err(err(&name, field, "must be greater than 0".into()));
            }
        }
        let wasi = match &raw.wasi {
            Some(v) => crate::wasi::parse(v).map_err(|(field, m)| err(&name, &field, m))?,
            None => crate::WasiRequest::default(),
        };
        Ok(Self {
            wasi,
            name,
            version,
            description: raw.description,
            entry_points: raw.entry_points,
            capabilities: raw.capabilities,
            subscribes: raw.subscribes,
            limits: raw.limits,
            dependencies,
            min_host_version,
            config: raw.config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_manifest_parses() {
        let m = Manifest::parse(
            r#"
            name = "a"
            version = "1.2.3"
            capabilities = ["kv"]
            unknown_key = 1
            [limits]
            fuel = 10
            instances = 2
            [dependencies]
            b = "^1"
            "#,
            "a.wasm",
        )
        .unwrap();
        assert_eq!(m.version, Version::new(1, 2, 3));
        assert_eq!(m.limits.instances, Some(2));
        assert!(m.dependencies["b"].matches(&Version::new(1, 9, 0)));
    }

    #[test]
    fn bad_fields_are_named() {
        let e = Manifest::parse("name = \"a\"\nversion = \"x\"", "f.wasm").unwrap_err();
        assert!(
            matches!(e, PluginError::Manifest { ref plugin, ref field, .. } if plugin == "a" && field == "version")
        );
        let e = Manifest::parse("version = \"1.0.0\"", "f.wasm").unwrap_err();
        assert!(
            matches!(e, PluginError::Manifest { ref plugin, ref field, .. } if plugin == "f.wasm" && field == "name")
        );
        let e = Manifest::parse(
            "name = \"a\"\nversion = \"1.0.0\"\n[dependencies]\nb = \"nope\"",
            "f",
        )
        .unwrap_err();
        assert!(matches!(e, PluginError::Manifest { ref field, .. } if field == "dependencies.b"));
        let e = Manifest::parse("name = \"A!\"\nversion = \"1.0.0\"", "f").unwrap_err();
        assert!(matches!(e, PluginError::Manifest { ref field, .. } if field == "name"));
    }
}
