//! The manager's shared state: the plugins by name, each with every
//! version it has had, and how versions are installed, replaced and
//! retired.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use anywasm::{DynModule, DynRuntime, Limits, Linker};
use ed25519_dalek::VerifyingKey;
use semver::Version as SemVer;

use crate::error::{PluginError, Result};
use crate::integrity::Checksum;
use crate::metrics::Metrics;
use crate::services::{HostCtx, HostServices};
use crate::version::Version;
use crate::{CapabilityPolicy, deps};

use crate::call::refill;
use crate::candidate::Candidate;
use crate::manager::{SHUTDOWN_EXPORT, blocking};

pub(crate) struct Inner {
    pub(crate) engine: Box<dyn DynRuntime<HostCtx>>,
    pub(crate) linker: Linker<HostCtx>,
    pub(crate) services: Arc<HostServices>,
    pub(crate) dir: Option<PathBuf>,
    pub(crate) limits: Limits,
    pub(crate) max_plugins: usize,
    pub(crate) pool_size: usize,
    pub(crate) policy: CapabilityPolicy,
    pub(crate) trusted: Vec<VerifyingKey>,
    pub(crate) require_signatures: bool,
    pub(crate) host_version: SemVer,
    pub(crate) plugin_config: BTreeMap<String, BTreeMap<String, String>>,
    pub(crate) plugins: RwLock<BTreeMap<String, Arc<Entry>>>,
    /// Compiled modules by SHA-256, in memory.
    pub(crate) cache: Mutex<HashMap<Checksum, DynModule>>,
    /// Compiled modules on disk, across processes.
    pub(crate) module_cache: Option<Arc<anywasm_cache::ModuleCache>>,
    pub(crate) compiles: AtomicU64,
    /// Serialises load, reload and unload (never held by calls).
    pub(crate) ops: tokio::sync::Mutex<()>,
    pub(crate) watcher: Mutex<Option<notify::RecommendedWatcher>>,
}

/// A plugin name and every version it has had.
pub(crate) struct Entry {
    pub(crate) current: RwLock<Arc<Version>>,
    pub(crate) metrics: Metrics,
    pub(crate) last_error: Mutex<Option<String>>,
    pub(crate) reloads: AtomicU64,
    pub(crate) attempts: AtomicU64,
}

impl Entry {
    pub(crate) fn current(&self) -> Arc<Version> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set_error(&self, error: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = error;
    }
}

impl Inner {
    pub(crate) fn entry(&self, plugin: &str) -> Result<Arc<Entry>> {
        self.plugins
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(plugin)
            .cloned()
            .ok_or_else(|| PluginError::NotFound {
                plugin: plugin.into(),
            })
    }

    pub(crate) fn plugin_for_path(&self, path: &Path) -> Option<(String, Arc<Entry>)> {
        self.plugins
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(_, e)| e.current().path.as_deref() == Some(path))
            .map(|(n, e)| (n.clone(), e.clone()))
    }

    /// Prepare `candidate` and make it the plugin's current version.
    pub(crate) fn install(self: &Arc<Self>, candidate: Candidate) -> Result<()> {
        let name = candidate.manifest.name.clone();
        let path = candidate.path.clone();
        {
            let plugins = self.plugins.read().unwrap_or_else(|p| p.into_inner());
            if let Some(existing) = plugins.get(&name) {
                let old = existing.current();
                if old.path.as_deref() != Some(&path) {
                    return Err(PluginError::Duplicate {
                        plugin: name,
                        first: old.path.clone().unwrap_or_default(),
                        second: path,
                    });
                }
            } else if plugins.len() >= self.max_plugins {
                return Err(PluginError::TooManyPlugins {
                    plugin: name,
                    max: self.max_plugins,
                });
            }
        }
        let version = Arc::new(self.prepare(candidate)?);
        let mut plugins = self.plugins.write().unwrap_or_else(|p| p.into_inner());
        match plugins.get(&name) {
            Some(entry) => {
                let old = std::mem::replace(
                    &mut *entry.current.write().unwrap_or_else(|p| p.into_inner()),
                    version,
                );
                entry.reloads.fetch_add(1, Ordering::Relaxed);
                entry.set_error(None);
                drop(plugins);
                tracing::info!(plugin = %name, "plugin reloaded");
                tokio::spawn(retire(self.clone(), old));
            }
            None => {
                plugins.insert(
                    name.clone(),
                    Arc::new(Entry {
                        current: RwLock::new(version),
                        metrics: Metrics::default(),
                        last_error: Mutex::new(None),
                        reloads: AtomicU64::new(0),
                        attempts: AtomicU64::new(0),
                    }),
                );
                tracing::info!(plugin = %name, "plugin loaded");
            }
        }
        Ok(())
    }

    /// Load or replace the plugin in `path`, checking its dependencies
    /// against the loaded plugins. A failure replacing a loaded plugin is
    /// kept in that plugin's status.
    ///
    /// Unless `force`, a file identical to the running version (same module
    /// checksum and manifest) is left alone: file watchers report one change
    /// several times.
    pub(crate) fn load_path(self: &Arc<Self>, path: &Path, force: bool) -> Result<String> {
        let existing = self.plugin_for_path(path);
        if let Some((_, entry)) = &existing {
            entry.attempts.fetch_add(1, Ordering::Relaxed);
        }
        let result = self.read_candidate(path).and_then(|c| {
            let name = c.manifest.name.clone();
            if let Some((_, entry)) = existing.as_ref().filter(|_| !force) {
                let current = entry.current();
                if current.checksum == c.checksum && current.manifest == c.manifest {
                    entry.set_error(None);
                    return Ok(name);
                }
            }
            let loaded: BTreeMap<String, SemVer> = self
                .plugins
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|(n, e)| (n.clone(), e.current().manifest.version.clone()))
                .collect();
            deps::check_loaded(&c.manifest, &loaded)?;
            self.install(c)?;
            Ok(name)
        });
        if let (Err(e), Some((name, entry))) = (&result, &existing) {
            tracing::warn!(plugin = %name, "reload failed, keeping the working version: {e}");
            entry.set_error(Some(e.to_string()));
        }
        result
    }

    /// Unload the plugin loaded from `path` (its file was deleted).
    pub(crate) async fn unload_path(self: &Arc<Self>, path: &Path) {
        let Some((name, _)) = self.plugin_for_path(path) else {
            return;
        };
        let entry = self
            .plugins
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&name);
        if let Some(entry) = entry {
            tracing::info!(plugin = %name, "plugin file removed; unloading");
            retire(self.clone(), entry.current()).await;
        }
    }

    pub(crate) async fn ops(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.ops.lock().await
    }
}

/// Wait for every call on `version` to finish, close its pool and run its
/// `shutdown` export.
pub(crate) async fn retire(inner: Arc<Inner>, version: Arc<Version>) {
    let permits = version.pool.permits.clone();
    let Ok(all) = permits.acquire_many(version.pool.size as u32).await else {
        return;
    };
    permits.close();
    drop(all);
    if version.has_shutdown {
        let instance = match version.pool.take() {
            Some(i) => Some(i),
            None => blocking(|| inner.instantiate(&version)).ok(),
        };
        if let Some(mut instance) = instance {
            refill(&version, &mut instance);
            if let Err(e) = blocking(|| instance.call::<(), ()>(SHUTDOWN_EXPORT, &())) {
                tracing::warn!(plugin = %version.manifest.name, "shutdown failed: {e}");
            }
        }
    }
    version
        .pool
        .idle
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
}
