//! [`PluginManagerBuilder`]: everything a [`PluginManager`] is configured
//! with, checked when it is built.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anywasm::{BackendKind, Config, Limits, Linker};
use anywasm_cache::ModuleCache;
use ed25519_dalek::VerifyingKey;
use semver::Version as SemVer;

use crate::bus::dispatch;
use crate::error::{PluginError, Result};
use crate::kv::KvStore;
use crate::registry::Inner;
use crate::services::{self, Clock, Entropy, HostCtx, HostServices, LogSink};
use crate::{CapabilityPolicy, PluginManager, watch};

/// Configures and builds a [`PluginManager`].
pub struct PluginManagerBuilder {
    dir: Option<PathBuf>,
    engine: std::result::Result<BackendKind, String>,
    config: Config,
    limits: Limits,
    max_plugins: usize,
    pool_size: usize,
    policy: CapabilityPolicy,
    hot_reload: bool,
    debounce: Duration,
    trusted: Vec<VerifyingKey>,
    require_signatures: bool,
    services: HostServices,
    module_cache: Option<Arc<ModuleCache>>,
    host_version: SemVer,
    plugin_config: BTreeMap<String, BTreeMap<String, String>>,
    #[allow(clippy::type_complexity)]
    host_fns: Vec<Box<dyn FnOnce(&mut Linker<HostCtx>) + Send>>,
}

impl std::fmt::Debug for PluginManagerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginManagerBuilder")
            .field("dir", &self.dir)
            .field("engine", &self.engine)
            .field("hot_reload", &self.hot_reload)
            .finish_non_exhaustive()
    }
}

/// The per-call deadline of a default manager (see
/// [`PluginManagerBuilder::limits`]).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for PluginManagerBuilder {
    fn default() -> Self {
        Self {
            dir: None,
            engine: Ok(anywasm::compiled_backends()[0]),
            config: Config::new().consume_fuel(true).timeouts(true),
            limits: Limits::new()
                .memory_bytes(64 << 20)
                .instances(16)
                .timeout(DEFAULT_CALL_TIMEOUT),
            max_plugins: 256,
            pool_size: 4,
            policy: CapabilityPolicy::new(),
            hot_reload: false,
            debounce: Duration::from_millis(200),
            trusted: Vec::new(),
            require_signatures: false,
            services: HostServices::default(),
            module_cache: None,
            host_version: env!("CARGO_PKG_VERSION")
                .parse()
                .expect("crate version is semver"),
            plugin_config: BTreeMap::new(),
            host_fns: Vec::new(),
        }
    }
}

impl PluginManagerBuilder {
    /// The directory [`PluginManager::discover`] scans and hot reload watches.
    pub fn plugin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// The engine (default: the first of [`anywasm::compiled_backends`]).
    pub fn engine(mut self, kind: BackendKind) -> Self {
        self.engine = Ok(kind);
        self
    }

    /// The engine by name (`"wasmtime"`, `"wasmer"`, `"wasmi"`); an unknown
    /// name fails [`build`](Self::build).
    pub fn engine_name(mut self, name: &str) -> Self {
        self.engine = name.parse().map_err(|_| name.to_string());
        self
    }

    /// The engine configuration (default: fuel metering and timeouts on, so
    /// fuel budgets, the fuel metric and the default per-call deadline
    /// work). A configuration without timeouts needs limits without a
    /// timeout too.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Default limits of every plugin store (default: 64 MiB memory, 16
    /// instances per store, [`DEFAULT_CALL_TIMEOUT`] per call). Every plugin
    /// runs under exactly these, unlimited ones included, except where its
    /// manifest asks for less memory, fuel or time (never more). Fuel
    /// and gas budgets here are per call (gas needs `Config::gas(true)` in
    /// [`config`](Self::config): the same count on every engine).
    ///
    /// The default deadline is there so that no default manager runs a guest
    /// call unbounded: fuel needs a budget to bound anything, and a host
    /// function a guest calls is not metered at all.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Most plugins loaded at once (default 256).
    pub fn max_plugins(mut self, max: usize) -> Self {
        self.max_plugins = max;
        self
    }

    /// Instances per plugin (default 4); a manifest's `limits.instances`
    /// may ask for fewer.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// The capability policy (default: nothing granted).
    pub fn capabilities(mut self, policy: CapabilityPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Watch the plugin directory and reload changed files (default off).
    pub fn hot_reload(mut self, enable: bool) -> Self {
        self.hot_reload = enable;
        self
    }

    /// How long the directory must be quiet before changes are applied
    /// (default 200 ms).
    pub fn debounce(mut self, quiet: Duration) -> Self {
        self.debounce = quiet;
        self
    }

    /// Trust signatures made by `key`.
    pub fn trust_key(mut self, key: VerifyingKey) -> Self {
        self.trusted.push(key);
        self
    }

    /// Refuse modules without a valid `<name>.wasm.sig` (default off; a
    /// present but invalid signature is refused either way when keys are
    /// trusted).
    pub fn require_signatures(mut self, require: bool) -> Self {
        self.require_signatures = require;
        self
    }

    /// Storage behind the `kv` capability (default:
    /// [`MemoryKv`](crate::MemoryKv); [`RedbKv`](crate::RedbKv) persists it).
    pub fn kv_store(mut self, store: Arc<dyn KvStore>) -> Self {
        self.services = self.services.kv(store);
        self
    }

    /// Time behind the `clock` capability (default:
    /// [`SystemClock`](crate::SystemClock)).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.services = self.services.clock(clock);
        self
    }

    /// Bytes behind the `random` capability (default:
    /// [`OsEntropy`](crate::OsEntropy)).
    pub fn entropy(mut self, entropy: Arc<dyn Entropy>) -> Self {
        self.services = self.services.entropy(entropy);
        self
    }

    /// Destination of the `log` capability (default:
    /// [`TracingLog`](crate::TracingLog)).
    pub fn log_sink(mut self, sink: Arc<dyn LogSink>) -> Self {
        self.services = self.services.log(sink);
        self
    }

    /// Keep compiled modules in `cache` (see `anywasm-cache`), so a plugin
    /// unchanged since an earlier process is loaded without compiling.
    /// The cache directory must not be, contain or lie inside the plugin
    /// directory: [`build`](Self::build) refuses that, since whoever can
    /// write plugins must never be able to write compiled code.
    pub fn module_cache(mut self, cache: Arc<ModuleCache>) -> Self {
        self.module_cache = Some(cache);
        self
    }

    /// This host's version, checked against manifests' `min_host_version`
    /// (default: this crate's version).
    pub fn host_version(mut self, version: SemVer) -> Self {
        self.host_version = version;
        self
    }

    /// Configuration passed to `plugin`'s `init`, over its manifest's `[config]`.
    pub fn plugin_config(mut self, plugin: &str, key: &str, value: &str) -> Self {
        self.plugin_config
            .entry(plugin.into())
            .or_default()
            .insert(key.into(), value.into());
        self
    }

    /// Add host-defined functions (e.g. [`Linker::abi_func`] with a
    /// capability of your own, granted through the policy).
    pub fn host_functions(
        mut self,
        define: impl FnOnce(&mut Linker<HostCtx>) + Send + 'static,
    ) -> Self {
        self.host_fns.push(Box::new(define));
        self
    }

    /// Build the manager. Needs a tokio runtime (pub/sub delivery and hot
    /// reload run as tasks on it); loading nothing yet: see
    /// [`PluginManager::discover`].
    pub fn build(self) -> Result<PluginManager> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| PluginError::Setup("build() must run inside a tokio runtime".into()))?;
        let kind = self
            .engine
            .map_err(|name| PluginError::Setup(format!("unknown engine `{name}`")))?;
        self.limits
            .check_against(&self.config)
            .map_err(|e| PluginError::Setup(e.to_string()))?;
        if let (Some(cache), Some(dir)) = (&self.module_cache, &self.dir) {
            check_apart(cache.dir(), dir)?;
        }
        let engine = anywasm::engine::<HostCtx>(kind, &self.config)
            .map_err(|e| PluginError::Setup(e.to_string()))?;
        let mut linker = Linker::new();
        services::define_services(&mut linker);
        for define in self.host_fns {
            define(&mut linker);
        }
        let (bus, bus_rx) = tokio::sync::mpsc::unbounded_channel();
        let mut services = self.services;
        services.bus = Some(bus);
        let services = Arc::new(services);
        let inner = Arc::new(Inner {
            engine,
            linker,
            services,
            dir: self.dir,
            limits: self.limits,
            max_plugins: self.max_plugins,
            pool_size: self.pool_size,
            policy: self.policy,
            trusted: self.trusted,
            require_signatures: self.require_signatures,
            host_version: self.host_version,
            plugin_config: self.plugin_config,
            plugins: RwLock::new(BTreeMap::new()),
            cache: Mutex::new(HashMap::new()),
            module_cache: self.module_cache,
            compiles: AtomicU64::new(0),
            ops: tokio::sync::Mutex::new(()),
            watcher: Mutex::new(None),
        });
        let _ = inner.services.manager.set(Arc::downgrade(&inner));
        let manager = PluginManager { inner };
        handle.spawn(dispatch(Arc::downgrade(&manager.inner), bus_rx));
        if self.hot_reload {
            let dir =
                manager.inner.dir.clone().ok_or_else(|| {
                    PluginError::Setup("hot reload needs a plugin directory".into())
                })?;
            let watcher =
                watch::start(&handle, &dir, self.debounce, Arc::downgrade(&manager.inner))?;
            *manager
                .inner
                .watcher
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(watcher);
        }
        Ok(manager)
    }
}

/// The absolute, symlink-resolved form of `path` as far as it exists.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    // Resolve the longest existing prefix; keep the rest as written.
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, part| p.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// Refuse a module cache that is, contains or lies inside the plugin
/// directory.
fn check_apart(cache: &Path, plugins: &Path) -> Result<()> {
    let (c, p) = (resolved(cache), resolved(plugins));
    if c.starts_with(&p) || p.starts_with(&c) {
        return Err(PluginError::Setup(format!(
            "the module cache {} overlaps the plugin directory {}: compiled code must never \
             be read from where plugins are written; give the cache a directory of its own",
            cache.display(),
            plugins.display()
        )));
    }
    Ok(())
}
