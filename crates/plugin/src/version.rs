//! One loaded version of a plugin: its checked manifest, compiled module,
//! effective limits and granted capabilities, and its instance pool.
//!
//! The pool holds up to `size` instances, each an [`anywasm::Plugin`] with
//! its own store (so calls to one plugin run in parallel, and a guest's
//! memory is never shared between concurrent calls). A call takes a permit,
//! checks an idle instance out (or makes one), calls it with no lock held,
//! and puts it back, unless it trapped: then it is dropped and the next
//! call makes a fresh one. A version that is replaced or unloaded is retired
//! by taking every permit (so in-flight calls finish first), then closing
//! the pool; a call that loses that race retries on the current version.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anywasm::{Capabilities, DynModule, Limits, Plugin};
use tokio::sync::Semaphore;

use crate::Manifest;
use crate::call::refill;
use crate::candidate::Candidate;
use crate::error::{PluginError, Result};
use crate::integrity::Checksum;
use crate::manager::{HEALTH_EXPORT, INIT_EXPORT, SHUTDOWN_EXPORT};
use crate::registry::Inner;
use crate::services::HostCtx;
use anywasm::ExternType;
use std::time::Duration;

pub(crate) struct Version {
    pub(crate) manifest: Manifest,
    pub(crate) checksum: Checksum,
    pub(crate) signed: bool,
    pub(crate) path: Option<PathBuf>,
    pub(crate) module: DynModule,
    pub(crate) code: crate::CodeSource,
    pub(crate) granted: Capabilities,
    /// The WASI grant each new instance's context is built from.
    pub(crate) wasi: crate::wasi::WasiGrant,
    pub(crate) limits: Limits,
    /// The largest initial size among the module's memories, bytes.
    pub(crate) initial_memory_bytes: u64,
    /// Fuel given to each call (refilled before it), if metered.
    pub(crate) fuel_per_call: Option<u64>,
    pub(crate) has_init: bool,
    pub(crate) has_shutdown: bool,
    pub(crate) has_health: bool,
    pub(crate) pool: Pool,
}

impl std::fmt::Debug for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Version")
            .field("name", &self.manifest.name)
            .field("version", &self.manifest.version)
            .finish_non_exhaustive()
    }
}

impl Version {
    /// [`PluginError::NoEntryPoint`] unless the manifest lists `function`
    /// among its entry points (or lists none, admitting every export).
    pub(crate) fn check_entry_point(&self, function: &str) -> Result<()> {
        let entries = &self.manifest.entry_points;
        if entries.is_empty() || entries.iter().any(|e| e == function) {
            return Ok(());
        }
        Err(PluginError::NoEntryPoint {
            plugin: self.manifest.name.clone(),
            function: function.into(),
        })
    }
}

pub(crate) struct Pool {
    pub(crate) idle: Mutex<Vec<Plugin<HostCtx>>>,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) size: usize,
}

impl Pool {
    /// An empty pool of at most `size` instances.
    pub(crate) fn new(size: usize) -> Self {
        Self {
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Arc::new(Semaphore::new(size)),
            size,
        }
    }

    pub(crate) fn take(&self) -> Option<Plugin<HostCtx>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    pub(crate) fn put(&self, plugin: Plugin<HostCtx>) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(plugin);
    }
}

impl Inner {
    /// Compile, instantiate and init one version (not yet visible to callers).
    pub(crate) fn prepare(&self, candidate: Candidate) -> Result<Version> {
        let m = &candidate.manifest;
        let name = m.name.clone();
        if let (Some(want), Some(have)) = (
            m.limits.stack_bytes,
            self.engine.config().get_max_stack_bytes(),
        ) && want > have
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
            && self.limits.get_memory_bytes().is_none_or(|host| mem < host)
        {
            limits = limits.memory_bytes(mem);
        }
        if let Some(fuel) = m.limits.fuel
            && self.limits.get_fuel().is_none_or(|host| fuel < host)
        {
            limits = limits.fuel(fuel);
        }
        if let Some(ms) = m.limits.timeout_ms {
            let asked = Duration::from_millis(ms);
            if self.limits.get_timeout().is_none_or(|host| asked < host) {
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
        let version = Version {
            manifest: candidate.manifest,
            checksum: candidate.checksum,
            signed: candidate.signed,
            path: Some(candidate.path),
            module,
            code,
            granted,
            wasi,
            fuel_per_call: limits.get_fuel(),
            limits,
            initial_memory_bytes,
            has_init,
            has_shutdown,
            has_health,
            pool: Pool::new(size),
        };
        // One instance up front: a version that cannot instantiate or init
        // is refused here, before any caller sees it.
        let first = self.instantiate(&version)?;
        version.pool.put(first);
        Ok(version)
    }

    /// A new pooled instance of `version`, its `init` run.
    pub(crate) fn instantiate(&self, version: &Version) -> Result<Plugin<HostCtx>> {
        let name = &version.manifest.name;
        let wasi = version.wasi.context(name).map_err(|e| PluginError::Load {
            plugin: name.clone(),
            source: anywasm::Error::new(
                anywasm::ErrorKind::Unsupported,
                format!("a granted WASI directory cannot be opened: {e}"),
            ),
        })?;
        let ctx = HostCtx::new(name, self.services.clone())
            .with_wasi(wasi)
            .with_capabilities(version.granted.clone());
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
}
