//! [`PluginManager`]: loading, calling, reloading and unloading plugins.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use anywasm::{
    BackendKind, DynModule, DynRuntime, ErrorKind, ExternType, Limits, Linker, Plugin, abi,
};
use ed25519_dalek::VerifyingKey;
use semver::Version as SemVer;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{PluginError, Result};
use crate::integrity::{self, Checksum};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::services::{HostCtx, HostServices, Message};
use crate::version::{Pool, Version};
use crate::{CapabilityPolicy, Manifest, PluginManagerBuilder, deps};

/// Export called with the plugin's configuration when an instance is made.
pub const INIT_EXPORT: &str = "init";
/// Export called once when a version is unloaded or replaced.
pub const SHUTDOWN_EXPORT: &str = "shutdown";
/// Export called by [`PluginManager::health`].
pub const HEALTH_EXPORT: &str = "health";
/// Export receiving pub/sub messages, `(String topic, Vec<u8> payload)`.
pub const MESSAGE_EXPORT: &str = "on_message";

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
    current: RwLock<Arc<Version>>,
    metrics: Metrics,
    last_error: Mutex<Option<String>>,
    reloads: AtomicU64,
    attempts: AtomicU64,
}

impl Entry {
    fn current(&self) -> Arc<Version> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_error(&self, error: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = error;
    }
}

/// A plugin file read, verified and its manifest checked; not yet compiled.
pub(crate) struct Candidate {
    pub(crate) path: PathBuf,
    pub(crate) wasm: Vec<u8>,
    pub(crate) manifest: Manifest,
    pub(crate) checksum: Checksum,
    pub(crate) signed: bool,
}

/// Whether a plugin is serving its newest file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Loaded and serving.
    Running,
    /// Serving, but the last attempt to replace it failed (see
    /// [`PluginInfo::last_error`]); the working version stays.
    UpdateFailed,
}

/// Where a plugin version's compiled code came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeSource {
    /// Compiled from its wasm bytes.
    Compiled,
    /// The manager had compiled the same module (same SHA-256) before.
    Memory,
    /// Loaded from the disk cache
    /// ([`module_cache`](crate::PluginManagerBuilder::module_cache)).
    Disk,
}

/// What [`PluginManager::list_plugins`] reports per plugin.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PluginInfo {
    /// The plugin's name.
    pub name: String,
    /// The version serving calls.
    pub version: SemVer,
    /// Its manifest's description.
    pub description: Option<String>,
    /// Running, or running with a failed update.
    pub status: Status,
    /// SHA-256 of the serving module, hex.
    pub sha256: String,
    /// Whether its signature verified against a trusted key.
    pub signed: bool,
    /// Where its compiled code came from.
    pub code: CodeSource,
    /// The capabilities its manifest asks for.
    pub capabilities: Vec<String>,
    /// Those the host's policy granted (the rest are denied: importing
    /// their host functions fails the load).
    pub granted: Vec<String>,
    /// The limits each of its stores runs under: the manifest's `[limits]`
    /// capped by the host's; a fuel budget is per call.
    pub limits: Limits,
    /// The file it was loaded from, if any.
    pub path: Option<PathBuf>,
    /// Instance pool size.
    pub instances: usize,
    /// The linear memory the module asks for before it runs (the largest
    /// initial size among its memories), bytes; each pooled instance
    /// allocates at least this much. Capped by
    /// [`Limits::initial_memory_bytes`](anywasm::Limits::initial_memory_bytes).
    pub initial_memory_bytes: u64,
    /// Call metrics (kept across versions).
    pub metrics: MetricsSnapshot,
    /// The last load, reload or init error, if the last attempt failed.
    pub last_error: Option<String>,
    /// Successful reloads.
    pub reloads: u64,
    /// Reload attempts, successful or not.
    pub reload_attempts: u64,
}

/// One plugin a [`LoadReport`] says loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: SemVer,
    /// Its file.
    pub path: PathBuf,
}

/// What [`PluginManager::discover`] did: plugins loaded (in load order,
/// dependencies first) and, per file that did not load, why.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Loaded, in dependency order.
    pub loaded: Vec<Loaded>,
    /// Files that did not load, with the typed reason.
    pub failed: Vec<(PathBuf, PluginError)>,
}

impl LoadReport {
    /// The error for the file named `file_name`, if it failed.
    pub fn failure(&self, file_name: &str) -> Option<&PluginError> {
        self.failed
            .iter()
            .find(|(p, _)| p.file_name().is_some_and(|n| n == file_name))
            .map(|(_, e)| e)
    }
}

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
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

fn kind_label(e: &anywasm::Error) -> String {
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
        let entries = &version.manifest.entry_points;
        if !entries.is_empty() && !entries.iter().any(|e| e == function) {
            return Err(PluginError::NoEntryPoint {
                plugin: plugin.into(),
                function: function.into(),
            });
        }
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

    fn entries(&self) -> Vec<Arc<Entry>> {
        self.entries_named().into_iter().map(|(_, e)| e).collect()
    }

    fn entries_named(&self) -> Vec<(String, Arc<Entry>)> {
        self.inner
            .plugins
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(n, e)| (n.clone(), e.clone()))
            .collect()
    }
}

impl Inner {
    fn entry(&self, plugin: &str) -> Result<Arc<Entry>> {
        self.plugins
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(plugin)
            .cloned()
            .ok_or_else(|| PluginError::NotFound {
                plugin: plugin.into(),
            })
    }

    fn plugin_for_path(&self, path: &Path) -> Option<(String, Arc<Entry>)> {
        self.plugins
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(_, e)| e.current().path.as_deref() == Some(path))
            .map(|(n, e)| (n.clone(), e.clone()))
    }

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
    fn compile(&self, candidate: &Candidate) -> Result<(DynModule, CodeSource)> {
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

    /// Compile, instantiate and init one version (not yet visible to callers).
    fn prepare(&self, candidate: Candidate) -> Result<Version> {
        let m = &candidate.manifest;
        let name = m.name.clone();
        if let (Some(want), Some(have)) = (m.limits.stack_bytes, self.engine.config().stack_limit())
            && want > have
        {
            return Err(PluginError::Manifest {
                plugin: name,
                field: "limits.stack_bytes".into(),
                message: format!("asks for {want} bytes, the engine's bound is {have}"),
            });
        }
        // The host's limits, tightened (never loosened) by the manifest's
        // `[limits]`: whatever the host set, unlimited included, stays as it
        // is unless the plugin asks for less.
        let mut limits = self.limits.clone();
        if let Some(mem) = m.limits.memory_bytes
            && self.limits.max_memory_bytes().is_none_or(|host| mem < host)
        {
            limits = limits.memory_bytes(mem);
        }
        if let Some(fuel) = m.limits.fuel
            && self.limits.fuel_budget().is_none_or(|host| fuel < host)
        {
            limits = limits.fuel(fuel);
        }
        if let Some(ms) = m.limits.timeout_ms {
            let asked = Duration::from_millis(ms);
            if self.limits.call_timeout().is_none_or(|host| asked < host) {
                limits = limits.timeout(asked);
            }
        }
        let load_err = |source: anywasm::Error| PluginError::Load {
            plugin: name.clone(),
            source: source.with_backend(self.engine.backend()),
        };
        limits
            .check_against(self.engine.config())
            .map_err(load_err)?;
        // The host's cap on initial memory, before any compiling.
        self.limits
            .check_initial_memory(&candidate.wasm)
            .map_err(load_err)?;
        let initial_memory_bytes = anywasm::initial_memory_bytes(&candidate.wasm)
            .map_err(load_err)?
            .unwrap_or(0);
        let (module, code) = self.compile(&candidate)?;
        let export = |n: &str| {
            module
                .exports()
                .iter()
                .any(|e| e.name == n && matches!(e.ty, ExternType::Func(_)))
        };
        let (has_init, has_shutdown, has_health) = (
            export(INIT_EXPORT),
            export(SHUTDOWN_EXPORT),
            export(HEALTH_EXPORT),
        );
        let size = m
            .limits
            .instances
            .map_or(self.pool_size, |n| n.min(self.pool_size));
        let wasi = crate::wasi::WasiGrant::new(&self.policy, &m.name, &m.wasi);
        let granted = wasi.capabilities(self.policy.granted(m));
        let mut version = Version {
            manifest: candidate.manifest,
            checksum: candidate.checksum,
            signed: candidate.signed,
            path: Some(candidate.path),
            module,
            code,
            granted,
            wasi,
            fuel_per_call: limits.fuel_budget(),
            limits,
            initial_memory_bytes,
            has_init,
            has_shutdown,
            has_health,
            pool: Pool {
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(tokio::sync::Semaphore::new(size)),
                size,
            },
        };
        let first = self.instantiate(&version)?;
        version.pool = Pool::new(size, first);
        Ok(version)
    }

    /// A new pooled instance of `version`, its `init` run.
    fn instantiate(&self, version: &Version) -> Result<Plugin<HostCtx>> {
        let name = &version.manifest.name;
        let wasi = version.wasi.context(name).map_err(|e| PluginError::Load {
            plugin: name.clone(),
            source: anywasm::Error::new(
                anywasm::ErrorKind::Unsupported,
                format!("a granted WASI directory cannot be opened: {e}"),
            ),
        })?;
        let ctx = HostCtx::new(name, self.services.clone()).with_wasi(wasi);
        let mut plugin = Plugin::from_module(
            &*self.engine,
            &version.module,
            None,
            &self.linker,
            &version.granted,
            ctx,
            &version.limits,
        )
        .map_err(|source| PluginError::Load {
            plugin: name.clone(),
            source,
        })?;
        if version.has_init {
            let mut config = version.manifest.config.clone();
            if let Some(host) = self.plugin_config.get(name) {
                config.extend(host.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            refill(version, &mut plugin);
            plugin
                .call::<_, ()>(INIT_EXPORT, &config)
                .map_err(|source| PluginError::Init {
                    plugin: name.clone(),
                    source,
                })?;
        }
        Ok(plugin)
    }

    /// Prepare `candidate` and make it the plugin's current version.
    fn install(self: &Arc<Self>, candidate: Candidate) -> Result<()> {
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

    async fn call_on<Req, Resp>(
        &self,
        entry: &Entry,
        mut version: Arc<Version>,
        function: &str,
        request: &Req,
    ) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let name = version.manifest.name.clone();
        let permit = loop {
            match version.pool.permits.clone().acquire_owned().await {
                Ok(p) => break p,
                // Retired while we waited: the replacement serves the call.
                Err(_) => {
                    let current = entry.current();
                    if Arc::ptr_eq(&current, &version) {
                        return Err(PluginError::NotFound { plugin: name });
                    }
                    version = current;
                }
            }
        };
        let start = Instant::now();
        let mut instance = match version.pool.take() {
            Some(i) => i,
            None => match blocking(|| self.instantiate(&version)) {
                Ok(i) => i,
                Err(e) => {
                    entry
                        .metrics
                        .record(start.elapsed(), Some("instantiate".into()), 0, None);
                    return Err(e);
                }
            },
        };
        if let Some(g) = version.limits.gas_budget() {
            let _ = instance.store_mut().set_gas(g);
        }
        let before = match version.fuel_per_call {
            Some(f) => instance.store_mut().set_fuel(f).ok().map(|()| f),
            None => instance.store_mut().fuel().ok(),
        };
        let result = instance.call_async::<Req, Resp>(function, request).await;
        let after = instance.store_mut().fuel().ok();
        let fuel = match (before, after) {
            (Some(b), Some(a)) => b.saturating_sub(a),
            _ => 0,
        };
        let memory = {
            let id = instance.instance();
            instance
                .store_mut()
                .memory_size(id, abi::MEMORY_EXPORT)
                .ok()
        };
        let trapped = result
            .as_ref()
            .is_err_and(|e| matches!(e.kind(), ErrorKind::Trap(_)));
        entry.metrics.record(
            start.elapsed(),
            result.as_ref().err().map(kind_label),
            fuel,
            memory,
        );
        if !trapped {
            version.pool.put(instance);
        }
        drop(permit);
        result.map_err(|source| PluginError::Call {
            plugin: name,
            function: function.into(),
            source,
        })
    }
}

/// Give `plugin` its per-call budgets again: fuel and gas are per call in a
/// manager (the host's `Limits::gas` with `Config::gas`).
fn refill(version: &Version, plugin: &mut Plugin<HostCtx>) {
    if let Some(f) = version.fuel_per_call {
        let _ = plugin.store_mut().set_fuel(f);
    }
    if let Some(g) = version.limits.gas_budget() {
        let _ = plugin.store_mut().set_gas(g);
    }
}

/// Wait for every call on `version` to finish, close its pool and run its
/// `shutdown` export.
async fn retire(inner: Arc<Inner>, version: Arc<Version>) {
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

/// Deliver published messages to subscribers' `on_message` exports.
pub(crate) async fn dispatch(
    inner: Weak<Inner>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Message>,
) {
    while let Some(message) = rx.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        let manager = PluginManager { inner };
        let subscribers: Vec<String> = manager
            .entries_named()
            .into_iter()
            .filter(|(_, e)| e.current().manifest.subscribes.contains(&message.topic))
            .map(|(n, _)| n)
            .collect();
        for name in subscribers {
            let manager = manager.clone();
            let message = message.clone();
            tokio::spawn(async move {
                let entry = match manager.inner.entry(&name) {
                    Ok(e) => e,
                    Err(_) => return,
                };
                let version = entry.current();
                let request = (&message.topic, &message.payload);
                if let Err(e) = manager
                    .inner
                    .call_on::<_, ()>(&entry, version, MESSAGE_EXPORT, &request)
                    .await
                {
                    tracing::warn!(plugin = %name, from = %message.from, topic = %message.topic, "message delivery failed: {e}");
                }
            });
        }
    }
}
