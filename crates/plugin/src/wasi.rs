//! WASI for plugins: what a manifest may ask for, what the policy grants,
//! and the [`WasiCtx`] each instance gets.
//!
//! The manifest forms and the grant table are in the crate docs (WASI).
//!
//! A plugin importing a WASI function whose capability it did not get fails
//! to load, naming that capability, like any other import.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anywasm::Capabilities;
use anywasm::wasi::{DirPerms, Output, WasiCtx, capability};

use crate::CapabilityPolicy;

/// The WASI entries a manifest may list.
pub const WASI_ENTRIES: [&str; 9] = [
    "args", "env", "clock", "random", "exit", "stdin", "stdout", "stderr", "fs",
];

/// What a manifest asks for under `wasi`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WasiRequest {
    /// Entries of [`WASI_ENTRIES`].
    pub capabilities: Vec<String>,
    /// Guest path -> permission asked for.
    pub dirs: BTreeMap<String, DirPerms>,
}

/// What one plugin version was granted: the import capabilities and how
/// to build each instance's context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct WasiGrant {
    entries: Vec<String>,
    env: Vec<(String, String)>,
    dirs: Vec<(PathBuf, String, DirPerms)>,
}

impl WasiGrant {
    /// The grant for `plugin` asking for `request` under `policy`.
    pub(crate) fn new(policy: &CapabilityPolicy, plugin: &str, request: &WasiRequest) -> Self {
        let entries = request
            .capabilities
            .iter()
            .filter(|e| policy.allows(plugin, &format!("wasi:{e}")))
            .cloned()
            .collect::<Vec<_>>();
        let env = if entries.iter().any(|e| e == "env") {
            policy.env_for(plugin)
        } else {
            Vec::new()
        };
        let dirs = request
            .dirs
            .iter()
            .filter_map(|(guest, asked)| {
                let (host, granted) = policy.dir_for(plugin, guest)?;
                let perms = if *asked == DirPerms::ReadWrite && granted == DirPerms::ReadWrite {
                    DirPerms::ReadWrite
                } else {
                    DirPerms::ReadOnly
                };
                Some((host, guest.clone(), perms))
            })
            .collect();
        Self { entries, env, dirs }
    }

    /// Add the import capabilities this grant unlocks to `caps`.
    pub(crate) fn capabilities(&self, mut caps: Capabilities) -> Capabilities {
        for e in &self.entries {
            caps = match e.as_str() {
                "args" => caps.grant(capability::ARGS),
                "env" => caps.grant(capability::ENV),
                "clock" => caps.grant(capability::CLOCK),
                "random" => caps.grant(capability::RANDOM),
                "exit" => caps.grant(capability::PROC),
                "fs" => caps.grant(capability::FD).grant(capability::FS),
                _ => caps.grant(capability::FD),
            };
        }
        if !self.dirs.is_empty() {
            caps = caps.grant(capability::FD).grant(capability::FS);
        }
        caps
    }

    /// A fresh context for one instance of `plugin`.
    pub(crate) fn context(&self, plugin: &str) -> std::io::Result<WasiCtx> {
        let has = |e: &str| self.entries.iter().any(|x| x == e);
        let mut b = WasiCtx::builder();
        if has("args") {
            b = b.arg(plugin);
        }
        for (k, v) in &self.env {
            b = b.env(k, v);
        }
        if has("clock") {
            b = b.clocks();
        }
        if has("random") {
            b = b.os_random();
        }
        if has("stdout") {
            b = b.stdout(Output::Tracing(plugin.to_string()));
        }
        if has("stderr") {
            b = b.stderr(Output::Tracing(plugin.to_string()));
        }
        for (host, guest, perms) in &self.dirs {
            b = b.preopen_dir(host, guest, *perms)?;
        }
        Ok(b.build())
    }
}

/// Parse a manifest's `wasi` value: an array of entries, or a table with
/// `capabilities` and `dirs`.
pub(crate) fn parse(value: &toml::Value) -> Result<WasiRequest, (String, String)> {
    let bad = |field: &str, m: String| (field.to_string(), m);
    let entries = |v: &toml::Value, field: &str| -> Result<Vec<String>, (String, String)> {
        let arr = v
            .as_array()
            .ok_or_else(|| bad(field, format!("must be an array, found {}", v.type_str())))?;
        arr.iter()
            .map(|e| match e.as_str() {
                Some(s) if WASI_ENTRIES.contains(&s) => Ok(s.to_string()),
                _ => Err(bad(
                    field,
                    format!("`{e}` is not one of {}", WASI_ENTRIES.join(", ")),
                )),
            })
            .collect()
    };
    match value {
        toml::Value::Array(_) => Ok(WasiRequest {
            capabilities: entries(value, "wasi")?,
            dirs: BTreeMap::new(),
        }),
        toml::Value::Table(t) => {
            let capabilities = match t.get("capabilities") {
                Some(v) => entries(v, "wasi.capabilities")?,
                None => Vec::new(),
            };
            let mut dirs = BTreeMap::new();
            if let Some(d) = t.get("dirs") {
                let table = d.as_table().ok_or_else(|| {
                    bad(
                        "wasi.dirs",
                        format!("must be a table, found {}", d.type_str()),
                    )
                })?;
                for (guest, perm) in table {
                    let perms = match perm.as_str() {
                        Some("read-only" | "ro") => DirPerms::ReadOnly,
                        Some("read-write" | "rw") => DirPerms::ReadWrite,
                        _ => {
                            return Err(bad(
                                &format!("wasi.dirs.{guest}"),
                                format!("`{perm}` is not \"read-only\" or \"read-write\""),
                            ));
                        }
                    };
                    dirs.insert(guest.clone(), perms);
                }
            }
            Ok(WasiRequest { capabilities, dirs })
        }
        other => Err(bad(
            "wasi",
            format!("must be an array or a table, found {}", other.type_str()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse_and_bad_entries_are_named() {
        let v: toml::Value = toml::from_str("w = [\"stdout\", \"clock\"]").unwrap();
        let r = parse(&v["w"]).unwrap();
        assert_eq!(r.capabilities, ["stdout", "clock"]);
        let v: toml::Value =
            toml::from_str("[w]\ncapabilities = [\"env\"]\n[w.dirs]\n\"/data\" = \"ro\"").unwrap();
        let r = parse(&v["w"]).unwrap();
        assert_eq!(r.dirs["/data"], DirPerms::ReadOnly);
        let v: toml::Value = toml::from_str("w = [\"sockets\"]").unwrap();
        assert_eq!(parse(&v["w"]).unwrap_err().0, "wasi");
    }

    #[test]
    fn a_grant_is_the_lesser_of_asked_and_allowed() {
        let policy = CapabilityPolicy::new().grant("p", "wasi:stdout").grant_dir(
            "p",
            "/data",
            "/tmp",
            DirPerms::ReadOnly,
        );
        let request = WasiRequest {
            capabilities: vec!["stdout".into(), "clock".into()],
            dirs: [
                ("/data".to_string(), DirPerms::ReadWrite),
                ("/other".to_string(), DirPerms::ReadOnly),
            ]
            .into_iter()
            .collect(),
        };
        let g = WasiGrant::new(&policy, "p", &request);
        assert_eq!(g.entries, ["stdout"]);
        assert_eq!(
            g.dirs,
            [(
                PathBuf::from("/tmp"),
                "/data".to_string(),
                DirPerms::ReadOnly
            )]
        );
        let caps = g.capabilities(Capabilities::none());
        assert!(caps.is_granted(capability::FD) && caps.is_granted(capability::FS));
        assert!(!caps.is_granted(capability::CLOCK));
    }
}
