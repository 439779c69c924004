//! [`PluginManager`]: loading, calling, reloading and unloading plugins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anywasm::{BackendKind, ErrorKind};
use semver::Version as SemVer;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{PluginError, Result};
use crate::integrity::{self};
use crate::services::Message;
use crate::{PluginManagerBuilder, deps};

use crate::registry::{Entry, Inner, retire};
use crate::report::{LoadReport, Loaded, PluginInfo, Status};

/// Export called with the plugin's configuration when an instance is made.
pub const INIT_EXPORT: &str = "init";
/// Export called once when a version is unloaded or replaced.
pub const SHUTDOWN_EXPORT: &str = "shutdown";
/// Export called by [`PluginManager::health`].
pub const HEALTH_EXPORT: &str = "health";
/// Export receiving pub/sub messages, `(String topic, Vec<u8> payload)`.
pub const MESSAGE_EXPORT: &str = "on_message";

/// Loads a directory of plugins and calls them. Cheap to clone (all clones
/// share one manager).
#[derive(Clone)]
pub struct PluginManager {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for PluginManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginManager")
            .field("backend", &self.inner.engine.backend())
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

/// Run blocking work (compiling, instantiating, guest code) from async code
/// without stalling the runtime: `block_in_place` on a multi-threaded
/// runtime, inline otherwise.
pub(crate) fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

pub(crate) fn kind_label(e: &anywasm::Error) -> String {
    match e.kind() {
        ErrorKind::Trap(code) => format!("trap: {code}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

impl PluginManager {
    /// Start configuring a manager.
    pub fn builder() -> PluginManagerBuilder {
        PluginManagerBuilder::default()
    }

    /// The engine running the plugins.
    pub fn backend(&self) -> BackendKind {
        self.inner.engine.backend()
    }

    /// How many modules have been compiled (unchanged modules come from the
    /// in-memory cache keyed by SHA-256, or from the disk cache, and do not
    /// count).
    pub fn compile_count(&self) -> u64 {
        self.inner.compiles.load(Ordering::Relaxed)
    }

    /// Load every `.wasm` in the plugin directory that is not loaded yet,
    /// dependencies first. One bad file never stops the others.
    pub async fn discover(&self) -> Result<LoadReport> {
        let dir = self
            .inner
            .dir
            .clone()
            .ok_or_else(|| PluginError::Setup("no plugin directory configured".into()))?;
        let entries = std::fs::read_dir(&dir).map_err(|source| PluginError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file())
            .collect();
        files.sort();
        let _ops = self.inner.ops.lock().await;
        let loaded_paths: Vec<PathBuf> = self
            .entries()
            .iter()
            .filter_map(|e| e.current().path.clone())
            .collect();
        files.retain(|f| !loaded_paths.contains(f));
        let mut report = LoadReport::default();
        let mut candidates = Vec::new();
        for path in files {
            match self.inner.read_candidate(&path) {
                Ok(c) => candidates.push(c),
                Err(e) => report.failed.push((path, e)),
            }
        }
        let loaded: BTreeMap<String, SemVer> = self
            .entries_named()
            .into_iter()
            .map(|(n, e)| (n, e.current().manifest.version.clone()))
            .collect();
        let (order, failures) = deps::order(candidates, &loaded);
        report.failed.extend(failures);
        let mut failed_names: Vec<String> = Vec::new();
        for candidate in order {
            let name = candidate.manifest.name.clone();
            let path = candidate.path.clone();
            if let Some(dep) = candidate
                .manifest
                .dependencies
                .keys()
                .find(|d| failed_names.contains(d))
            {
                report.failed.push((
                    path,
                    PluginError::Dependency {
                        plugin: name.clone(),
                        message: format!("dependency `{dep}` failed to load"),
                    },
                ));
                failed_names.push(name);
                continue;
            }
            let version = candidate.manifest.version.clone();
            match blocking(|| self.inner.install(candidate)) {
                Ok(()) => report.loaded.push(Loaded {
                    name,
                    version,
                    path,
                }),
                Err(e) => {
                    failed_names.push(name);
                    report.failed.push((path, e));
                }
            }
        }
        for (path, e) in &report.failed {
            tracing::warn!(path = %path.display(), "plugin not loaded: {e}");
        }
        Ok(report)
    }

    /// Load (or replace) the plugin in `path`; returns its name. A plugin
    /// already loaded under that name is replaced only if the new one loads
    /// completely.
    pub async fn load(&self, path: impl AsRef<Path>) -> Result<String> {
        let _ops = self.inner.ops.lock().await;
        blocking(|| self.inner.load_path(path.as_ref(), true))
    }

    /// Re-read the file `plugin` was loaded from and replace it if the new
    /// contents load completely (else the error is kept in its status).
    pub async fn reload(&self, plugin: &str) -> Result<()> {
        let path = self
            .inner
            .entry(plugin)?
            .current()
            .path
            .clone()
            .ok_or_else(|| PluginError::NotFound {
                plugin: plugin.into(),
            })?;
        self.load(path).await.map(drop)
    }

    /// Unload `plugin`: new calls fail with [`PluginError::NotFound`], calls
    /// in flight finish, then its `shutdown` export (if any) runs.
    pub async fn unload(&self, plugin: &str) -> Result<()> {
        let _ops = self.inner.ops.lock().await;
        let entry = self
            .inner
            .plugins
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(plugin)
            .ok_or_else(|| PluginError::NotFound {
                plugin: plugin.into(),
            })?;
        retire(self.inner.clone(), entry.current()).await;
        Ok(())
    }

    /// Call `function` of `plugin` with a typed request.
    ///
    /// The call runs on one pooled instance of the plugin's current version,
    /// with no manager lock held; if the plugin is replaced meanwhile, the
    /// call finishes on the version it started on.
    pub async fn call<Req, Resp>(&self, plugin: &str, function: &str, request: &Req) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let entry = self.inner.entry(plugin)?;
        let version = entry.current();
        version.check_entry_point(function)?;
        self.inner.call_on(&entry, version, function, request).await
    }

    /// Ask `plugin` whether it is healthy: its `health` export if it has one
    /// (`() -> ()`; an error means unhealthy), else whether it is loaded.
    pub async fn health(&self, plugin: &str) -> Result<()> {
        let entry = self.inner.entry(plugin)?;
        let version = entry.current();
        if !version.has_health {
            return Ok(());
        }
        self.inner
            .call_on::<(), ()>(&entry, version, HEALTH_EXPORT, &())
            .await
    }

    /// Publish `payload` to `topic` from the host; subscribers receive it
    /// asynchronously through their `on_message` export.
    pub fn publish(&self, topic: &str, payload: Vec<u8>) {
        let Some(bus) = &self.inner.services.bus else {
            return;
        };
        let _ = bus.send(Message {
            from: String::new(),
            topic: topic.into(),
            payload,
        });
    }

    /// Every loaded plugin: name, version, status, checksum, metrics and
    /// last error, sorted by name.
    pub fn list_plugins(&self) -> Vec<PluginInfo> {
        self.entries_named()
            .into_iter()
            .map(|(name, entry)| {
                let v = entry.current();
                let last_error = entry
                    .last_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                PluginInfo {
                    name,
                    version: v.manifest.version.clone(),
                    description: v.manifest.description.clone(),
                    status: if last_error.is_some() {
                        Status::UpdateFailed
                    } else {
                        Status::Running
                    },
                    sha256: integrity::hex(&v.checksum),
                    signed: v.signed,
                    code: v.code,
                    capabilities: v.manifest.capabilities.clone(),
                    granted: v.granted.iter().map(str::to_string).collect(),
                    limits: v.limits.clone(),
                    path: v.path.clone(),
                    instances: v.pool.size,
                    initial_memory_bytes: v.initial_memory_bytes,
                    metrics: entry.metrics.snapshot(),
                    last_error,
                    reloads: entry.reloads.load(Ordering::Relaxed),
                    reload_attempts: entry.attempts.load(Ordering::Relaxed),
                }
            })
            .collect()
    }

    /// The entry for one plugin, as [`list_plugins`](Self::list_plugins) would show it.
    pub fn plugin_info(&self, plugin: &str) -> Option<PluginInfo> {
        self.list_plugins().into_iter().find(|p| p.name == plugin)
    }

    pub(crate) fn entries(&self) -> Vec<Arc<Entry>> {
        self.entries_named().into_iter().map(|(_, e)| e).collect()
    }

    pub(crate) fn entries_named(&self) -> Vec<(String, Arc<Entry>)> {
        self.inner
            .plugins
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(n, e)| (n.clone(), e.clone()))
            .collect()
    }
}
