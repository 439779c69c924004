//! [`PluginBuilder`]: how one test's instance of the plugin is set up.
//!
//! Everything starts as a plugin manager would start the plugin with
//! nothing granted: the manifest's `[config]` and `[limits]`, its
//! capabilities denied until granted, the manager's own host services.
//! What differs is only what a test needs to be repeatable: the clock is
//! stopped at [`FIXED_TIME_MS`], random bytes come from a seed (0), the
//! key-value store is empty and private to the test, and log lines are
//! kept for [`TestPlugin::logs`](crate::TestPlugin::logs).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anywasm::{HostError, Limits, Linker};
use anywasm_plugin::{CapabilityPolicy, HostCtx, HostServices, MemoryKv, define_services};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::services::{CapturedLog, FIXED_TIME_MS, FixedClock, SeededEntropy};
use crate::{TestEngine, TestPlugin};

/// Memory per store when neither the test nor the manifest says: the
/// plugin manager's default.
pub const DEFAULT_MEMORY_BYTES: u64 = 64 << 20;

type Define = Box<dyn FnOnce(&mut Linker<HostCtx>)>;

/// Configures one instance of the plugin under test; [`start`](Self::start)
/// makes it.
pub struct PluginBuilder {
    engine: TestEngine,
    config: BTreeMap<String, String>,
    grants: Vec<String>,
    grant_requested: bool,
    memory_bytes: Option<u64>,
    initial_memory_bytes: Option<u64>,
    fuel: Option<u64>,
    timeout: Option<Duration>,
    host_fns: Vec<Define>,
    kv: Vec<(String, Vec<u8>)>,
    clock_ms: u64,
    seed: u64,
}

impl std::fmt::Debug for PluginBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginBuilder")
            .field("engine", &self.engine)
            .field("grants", &self.grants)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PluginBuilder {
    pub(crate) fn new(engine: TestEngine) -> Self {
        Self {
            engine,
            config: BTreeMap::new(),
            grants: Vec::new(),
            grant_requested: false,
            memory_bytes: None,
            initial_memory_bytes: None,
            fuel: None,
            timeout: None,
            host_fns: Vec::new(),
            kv: Vec::new(),
            clock_ms: FIXED_TIME_MS,
            seed: 0,
        }
    }

    /// Set `key` in the configuration `init` receives (over the
    /// manifest's `[config]`).
    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// Grant `capability`. As in the plugin manager, a capability the
    /// manifest does not ask for stays denied.
    pub fn grant(mut self, capability: &str) -> Self {
        self.grants.push(capability.into());
        self
    }

    /// Grant every capability the manifest asks for.
    pub fn grant_requested(mut self) -> Self {
        self.grant_requested = true;
        self
    }

    /// Cap each linear memory at `bytes` (default: the manifest's
    /// `limits.memory_bytes`, else [`DEFAULT_MEMORY_BYTES`]). A guest that
    /// grows past it sees `memory.grow` fail (a Rust guest then aborts: a
    /// trap); a module that starts larger fails to start with
    /// `LimitExceeded(Memory)`.
    pub fn memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = Some(bytes);
        self
    }

    /// Refuse to start if the module asks for more than `bytes` of initial
    /// memory (`LimitExceeded(InitialMemory)`), as a host with
    /// `Limits::initial_memory_bytes` would.
    pub fn initial_memory_bytes(mut self, bytes: u64) -> Self {
        self.initial_memory_bytes = Some(bytes);
        self
    }

    /// Give every call (and `init`) `fuel` units (default: the manifest's
    /// `limits.fuel`, else unmetered); running out is `Trap(OutOfFuel)`.
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = Some(fuel);
        self
    }

    /// Stop every call after `timeout` (default: the manifest's
    /// `limits.timeout_ms`, else none): `Trap(Timeout)`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Mock the host function `anywasm::<name>` of `capability`: the
    /// plugin's calls to it run `f` with the typed request. An `Err`
    /// reaches the guest as its `GuestError`.
    pub fn host_fn<Req, Resp, F>(mut self, name: &str, capability: &str, f: F) -> Self
    where
        Req: DeserializeOwned + 'static,
        Resp: Serialize + 'static,
        F: Fn(Req) -> Result<Resp, HostError> + Send + Sync + 'static,
    {
        let (name, capability) = (name.to_string(), capability.to_string());
        self.host_fns
            .push(Box::new(move |linker: &mut Linker<HostCtx>| {
                linker
                    .abi_func(&name, move |_, req: Req| f(req))
                    .capability(&capability);
            }));
        self
    }

    /// Define host functions directly (raw `Val` functions, several
    /// modules): anything a host's `Linker` can hold.
    pub fn define(mut self, define: impl FnOnce(&mut Linker<HostCtx>) + 'static) -> Self {
        self.host_fns.push(Box::new(define));
        self
    }

    /// Put `key = value` in the plugin's key-value namespace before it
    /// starts.
    pub fn kv(mut self, key: &str, value: impl Into<Vec<u8>>) -> Self {
        self.kv.push((key.into(), value.into()));
        self
    }

    /// Stop the clock at `ms` since the Unix epoch (default
    /// [`FIXED_TIME_MS`]).
    pub fn clock_ms(mut self, ms: u64) -> Self {
        self.clock_ms = ms;
        self
    }

    /// Seed the random bytes (default 0).
    pub fn random_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Instantiate the plugin and run its `init` (if it exports one) with
    /// the configuration, as the plugin manager does.
    ///
    /// Errors are the manager's: `CapabilityDenied` for an import whose
    /// capability was not granted, `Unlinkable` for a host function nobody
    /// defined, the guest's error or trap from `init`, a limit error.
    pub fn start(self) -> anywasm::Result<TestPlugin> {
        let loaded = &self.engine.loaded;
        let manifest = &loaded.manifest;
        let mut linker = Linker::new();
        define_services(&mut linker);
        for define in self.host_fns {
            define(&mut linker);
        }
        let mut policy = CapabilityPolicy::new();
        for capability in &self.grants {
            policy = policy.grant(&manifest.name, capability);
        }
        if self.grant_requested {
            for capability in &manifest.capabilities {
                policy = policy.grant(&manifest.name, capability);
            }
        }
        let granted = policy.granted(manifest);

        let asked = &manifest.limits;
        let mut limits = Limits::new().memory_bytes(
            self.memory_bytes
                .or(asked.memory_bytes)
                .unwrap_or(DEFAULT_MEMORY_BYTES),
        );
        if let Some(bytes) = self.initial_memory_bytes {
            limits = limits.initial_memory_bytes(bytes);
        }
        if let Some(timeout) = self.timeout.or(asked.timeout_ms.map(Duration::from_millis)) {
            limits = limits.timeout(timeout);
        }
        let fuel = self.fuel.or(asked.fuel);
        if let Some(fuel) = fuel {
            limits = limits.fuel(fuel);
        }

        let kv = Arc::new(MemoryKv::default());
        for (key, value) in self.kv {
            kv.insert(&manifest.name, &key, value);
        }
        let log = CapturedLog::default();
        let services = HostServices::new()
            .kv(kv.clone())
            .clock(Arc::new(FixedClock(self.clock_ms)))
            .entropy(Arc::new(SeededEntropy::new(self.seed)))
            .log(Arc::new(log.clone()));
        let mut config = manifest.config.clone();
        config.extend(self.config);
        TestPlugin::start(crate::plugin::Setup {
            engine: self.engine.clone(),
            linker,
            granted,
            limits,
            fuel,
            services: Arc::new(services),
            config,
            log,
            kv,
        })
    }
}
