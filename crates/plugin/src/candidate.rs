//! A plugin file read, verified and its manifest checked, then compiled
//! (from memory, the disk cache or the bytes).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anywasm::{DynModule, abi};

use crate::Manifest;
use crate::error::{PluginError, Result};
use crate::integrity::{self, Checksum};

use crate::registry::Inner;
use crate::report::CodeSource;

/// A plugin file read, verified and its manifest checked; not yet compiled.
pub(crate) struct Candidate {
    pub(crate) path: PathBuf,
    pub(crate) wasm: Vec<u8>,
    pub(crate) manifest: Manifest,
    pub(crate) checksum: Checksum,
    pub(crate) signed: bool,
}

impl Inner {
    /// Read a file completely, check its signature, ABI version and manifest.
    pub(crate) fn read_candidate(&self, path: &Path) -> Result<Candidate> {
        let io = |source| PluginError::Io {
            path: path.to_path_buf(),
            source,
        };
        let wasm = std::fs::read(path).map_err(io)?;
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let checksum = integrity::sha256(&wasm);
        let sig_path = path.with_extension("wasm.sig");
        let sig = match std::fs::read(&sig_path) {
            Ok(s) => Some(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(e)),
        };
        let signed = integrity::verify(
            path,
            &wasm,
            sig.as_deref(),
            &self.trusted,
            self.require_signatures,
        )?;
        let load_err = |source: anywasm::Error| PluginError::Load {
            plugin: file.clone(),
            source: source.with_backend(self.engine.backend()),
        };
        abi::check_abi_version(&wasm).map_err(load_err)?;
        let sidecar = path.with_extension("toml");
        let text = match std::fs::read_to_string(&sidecar) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => abi::manifest_text(&wasm)
                .map_err(load_err)?
                .ok_or_else(|| PluginError::Manifest {
                    plugin: file.clone(),
                    field: "manifest".into(),
                    message: "no `anywasm:manifest` section and no sidecar .toml".into(),
                })?
                .to_string(),
            Err(e) => {
                return Err(PluginError::Io {
                    path: sidecar,
                    source: e,
                });
            }
        };
        let manifest = Manifest::parse(&text, &file)?;
        if let Some(required) = &manifest.min_host_version
            && *required > self.host_version
        {
            return Err(PluginError::HostVersion {
                plugin: manifest.name.clone(),
                required: required.clone(),
                host: self.host_version.clone(),
            });
        }
        Ok(Candidate {
            path: path.to_path_buf(),
            wasm,
            manifest,
            checksum,
            signed,
        })
    }

    /// The compiled module of `candidate`: from memory (same SHA-256 seen
    /// before), from the disk cache if there is one, or compiled.
    pub(crate) fn compile(&self, candidate: &Candidate) -> Result<(DynModule, CodeSource)> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(module) = cache.get(&candidate.checksum) {
            return Ok((module.clone(), CodeSource::Memory));
        }
        drop(cache);
        let name = &candidate.manifest.name;
        let load_err = |source| PluginError::Load {
            plugin: name.clone(),
            source,
        };
        let (module, source) = match &self.module_cache {
            Some(disk) => {
                let cached = disk
                    .load(&*self.engine, &candidate.wasm)
                    .map_err(load_err)?;
                let source = match &cached.outcome {
                    anywasm_cache::Outcome::Hit => CodeSource::Disk,
                    anywasm_cache::Outcome::Compiled { why, stored } => {
                        if let anywasm_cache::Miss::Rejected(r) = why {
                            tracing::warn!(plugin = %name, "module cache entry refused, compiled instead: {r}");
                        }
                        if let Err(e) = stored {
                            tracing::warn!(plugin = %name, "compiled module not cached: {e}");
                        }
                        CodeSource::Compiled
                    }
                    _ => CodeSource::Compiled,
                };
                (cached.module, source)
            }
            None => (
                self.engine.compile(&candidate.wasm).map_err(load_err)?,
                CodeSource::Compiled,
            ),
        };
        if source == CodeSource::Compiled {
            self.compiles.fetch_add(1, Ordering::Relaxed);
        }
        cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= 256 {
            cache.clear();
        }
        cache.insert(candidate.checksum, module.clone());
        Ok((module, source))
    }
}
