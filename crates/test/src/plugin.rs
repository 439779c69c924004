//! [`TestPlugin`]: the plugin under test, instantiated, called with typed
//! values, its host-side effects readable.

use std::collections::BTreeMap;
use std::sync::Arc;

use anywasm::{
    BackendKind, Capabilities, Error, ErrorKind, ExternType, Limits, Linker, Plugin, abi,
};
use anywasm_plugin::{HostCtx, HostServices, INIT_EXPORT, MemoryKv};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::TestEngine;
use crate::services::CapturedLog;

/// What [`PluginBuilder::start`](crate::PluginBuilder::start) decided.
pub(crate) struct Setup {
    pub(crate) engine: TestEngine,
    pub(crate) linker: Linker<HostCtx>,
    pub(crate) granted: Capabilities,
    pub(crate) limits: Limits,
    pub(crate) fuel: Option<u64>,
    pub(crate) services: Arc<HostServices>,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) log: CapturedLog,
    pub(crate) kv: Arc<MemoryKv>,
}

/// One instance of the plugin under test, as the plugin manager would run
/// it: each call gets the fuel budget afresh, and after a trap the
/// instance is thrown away and the next call gets a new one (its `init`
/// run again), while the key-value store and the log carry over.
pub struct TestPlugin {
    setup: Setup,
    plugin: Plugin<HostCtx>,
    /// The last call trapped: replace the instance before the next.
    trapped: bool,
    last_fuel: Option<u64>,
}

impl std::fmt::Debug for TestPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPlugin")
            .field("backend", &self.backend())
            .field("plugin", &self.setup.engine.manifest().name)
            .finish_non_exhaustive()
    }
}

impl TestPlugin {
    pub(crate) fn start(setup: Setup) -> anywasm::Result<Self> {
        let plugin = instantiate(&setup)?;
        Ok(Self {
            setup,
            plugin,
            trapped: false,
            last_fuel: None,
        })
    }

    /// The engine it runs on.
    pub fn backend(&self) -> BackendKind {
        self.setup.engine.backend()
    }

    /// Call the entry point `name` with a typed request.
    ///
    /// The errors a host sees: [`ErrorKind::Guest`] for the plugin's own
    /// `Err`, `Trap(..)` for a fault or a fuel/time limit, `Abi`,
    /// `ExportNotFound` for a name that is not among the manifest's
    /// `entry_points` (when it lists them) or not exported.
    pub fn call<Req, Resp>(&mut self, name: &str, request: &Req) -> anywasm::Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let entries = &self.setup.engine.manifest().entry_points;
        if !entries.is_empty() && !entries.iter().any(|e| e == name) {
            return Err(Error::new(
                ErrorKind::ExportNotFound,
                format!("`{name}` is not one of the manifest's entry_points {entries:?}"),
            )
            .with_backend(self.backend()));
        }
        if self.trapped {
            self.plugin = instantiate(&self.setup)?;
            self.trapped = false;
        }
        if let Some(fuel) = self.setup.fuel {
            self.plugin.store_mut().set_fuel(fuel)?;
        }
        let result = self.plugin.call(name, request);
        self.last_fuel = self.setup.fuel.and_then(|budget| {
            let left = self.plugin.store_mut().fuel().ok()?;
            Some(budget.saturating_sub(left))
        });
        if result
            .as_ref()
            .is_err_and(|e| matches!(e.kind(), ErrorKind::Trap(_)))
        {
            self.trapped = true;
        }
        result
    }

    /// Every line the plugin logged (capability `log`), oldest first.
    pub fn logs(&self) -> Vec<String> {
        self.setup.log.lines()
    }

    /// The value of `key` in the plugin's key-value namespace.
    pub fn kv_get(&self, key: &str) -> Option<Vec<u8>> {
        self.setup.kv.value(&self.setup.engine.manifest().name, key)
    }

    /// Fuel the last call used, when calls have a fuel budget.
    pub fn fuel_used(&self) -> Option<u64> {
        self.last_fuel
    }

    /// Size of the current instance's memory, bytes (after a trap: of the
    /// instance that trapped, until the next call replaces it).
    pub fn memory_bytes(&mut self) -> anywasm::Result<u64> {
        let instance = self.plugin.instance();
        self.plugin
            .store_mut()
            .memory_size(instance, abi::MEMORY_EXPORT)
    }

    /// The limits the plugin runs under.
    pub fn limits(&self) -> &Limits {
        &self.setup.limits
    }

    /// The capabilities it was granted.
    pub fn granted(&self) -> &Capabilities {
        &self.setup.granted
    }

    /// The `anywasm::Plugin` underneath (its store, fuel, host state).
    pub fn inner(&mut self) -> &mut Plugin<HostCtx> {
        &mut self.plugin
    }
}

/// A new instance, `init` run: what the manager does for each pooled one.
fn instantiate(setup: &Setup) -> anywasm::Result<Plugin<HostCtx>> {
    let loaded = &setup.engine.loaded;
    let backend = loaded.engine.backend();
    setup
        .limits
        .check_initial_memory(&loaded.wasm)
        .map_err(|e| e.with_backend(backend))?;
    let ctx = HostCtx::new(&loaded.manifest.name, setup.services.clone());
    let mut plugin = Plugin::from_module(
        &*loaded.engine,
        &loaded.module,
        Some(loaded.manifest_text.clone()),
        &setup.linker,
        &setup.granted,
        ctx,
        &setup.limits,
    )?;
    let has_init = loaded
        .module
        .exports()
        .iter()
        .any(|e| e.name == INIT_EXPORT && matches!(e.ty, ExternType::Func(_)));
    if has_init {
        if let Some(fuel) = setup.fuel {
            plugin.store_mut().set_fuel(fuel)?;
        }
        plugin.call::<_, ()>(INIT_EXPORT, &setup.config)?;
    }
    Ok(plugin)
}
