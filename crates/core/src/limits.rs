//! The resource-limit model: engine-wide [`Config`] and per-store [`Limits`].
//!
//! Mechanisms that must be compiled into the generated code (fuel metering,
//! interruption for timeouts, the stack bound) live in [`Config`] and are
//! chosen once per engine; the amounts (bytes, elements, fuel units, deadline)
//! live in [`Limits`] and are chosen per store, so two plugins on one engine
//! can have different budgets. Asking for a limit whose mechanism the engine
//! was not configured with is an [`ErrorKind::Unsupported`](crate::ErrorKind)
//! error at store creation, never a silently ignored limit.

use core::time::Duration;

/// Engine-wide configuration: which limit mechanisms are compiled in, and
/// the bounds a module must fit before the engine compiles it.
///
/// Defaults: no fuel metering, no timeouts, the engine's default stack bound,
/// modules of at most [`DEFAULT_MAX_MODULE_BYTES`] defining at most
/// [`DEFAULT_MAX_FUNCTIONS`] functions. Enabling a mechanism costs a little
/// on every call even when unused (the benches measure how much per engine).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    consume_fuel: bool,
    gas: bool,
    timeouts: bool,
    max_stack_bytes: Option<usize>,
    instance_pool: Option<InstancePool>,
    max_module_bytes: Option<u64>,
    max_functions: Option<u32>,
}

/// The default [`Config::max_module_bytes`]: 64 MiB, room for the largest
/// real plugins (whole language runtimes compiled to wasm are tens of MiB).
pub const DEFAULT_MAX_MODULE_BYTES: u64 = 64 << 20;

/// The default [`Config::max_functions`]: 20 000 defined functions. A Rust
/// plugin with serde and a few libraries defines a few thousand; whole
/// language runtimes compiled to wasm may need a higher bound.
pub const DEFAULT_MAX_FUNCTIONS: u32 = 20_000;

impl Default for Config {
    fn default() -> Self {
        Self {
            consume_fuel: false,
            gas: false,
            timeouts: false,
            max_stack_bytes: None,
            instance_pool: None,
            max_module_bytes: Some(DEFAULT_MAX_MODULE_BYTES),
            max_functions: Some(DEFAULT_MAX_FUNCTIONS),
        }
    }
}

/// Instance slots an engine preallocates so instantiation only claims one
/// ([`Config::instance_pool`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstancePool {
    /// Instances alive at once across every store of the engine (also the
    /// number of linear memories and of tables).
    pub instances: u32,
    /// Size no linear memory may grow past, in bytes, whatever a store's
    /// [`Limits::memory_bytes`] says.
    pub memory_bytes: u64,
}

impl InstancePool {
    /// `instances` slots whose memories may grow to `memory_bytes`.
    pub fn new(instances: u32, memory_bytes: u64) -> Self {
        Self {
            instances,
            memory_bytes,
        }
    }
}

impl Config {
    /// The default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compile fuel metering in, so stores can have a [`Limits::fuel`] budget.
    pub fn consume_fuel(mut self, enable: bool) -> Self {
        self.consume_fuel = enable;
        self
    }

    /// Meter gas, so stores can have a [`Limits::gas`] budget: the engine
    /// instruments every module it compiles so the guest counts its own gas
    /// from one cost table (`anywasm-gas`), and the same call uses exactly
    /// the same gas on every engine. Independent of fuel: either, both or
    /// neither can be on. Costs more per call than native fuel on the JIT
    /// engines (the benches measure it).
    pub fn gas(mut self, enable: bool) -> Self {
        self.gas = enable;
        self
    }

    /// Make guest calls interruptible, so stores can have a [`Limits::timeout`].
    ///
    /// wasmtime: epoch interruption with a ticker thread; wasmer: the host
    /// interrupter with a watchdog thread; wasmi: fuel slices checked against
    /// the clock (this implies fuel metering on wasmi).
    pub fn timeouts(mut self, enable: bool) -> Self {
        self.timeouts = enable;
        self
    }

    /// Bound the guest's stack. wasmtime and wasmi honour it (wasmi counts
    /// it in value-stack bytes); wasmer runs guests on its own fixed-size stack
    /// and reports the bound as approximated.
    pub fn max_stack_bytes(mut self, bytes: usize) -> Self {
        self.max_stack_bytes = Some(bytes);
        self
    }

    /// Preallocate instance slots (wasmtime's pooling allocator), the
    /// fastest way to instantiate. The pool is engine-wide: the
    /// `instances + 1`-th live instance is
    /// [`LimitExceeded(Instances)`](crate::ErrorKind::LimitExceeded) until one
    /// is dropped, memories stop growing at `memory_bytes`, and a module may
    /// have at most 4 memories and 4 tables of at most 100 000 elements.
    /// Engines without a pooling allocator (wasmer, wasmi) refuse this
    /// setting with [`ErrorKind::Unsupported`](crate::ErrorKind).
    pub fn instance_pool(mut self, pool: InstancePool) -> Self {
        self.instance_pool = Some(pool);
        self
    }

    /// Refuse to compile a module larger than `bytes` (`None`: no bound):
    /// [`LimitExceeded(ModuleBytes)`](crate::Resource::ModuleBytes), before
    /// the engine sees it. Default [`DEFAULT_MAX_MODULE_BYTES`].
    pub fn max_module_bytes(mut self, bytes: Option<u64>) -> Self {
        self.max_module_bytes = bytes;
        self
    }

    /// Refuse to compile a module defining more than `count` functions
    /// (`None`: no bound): [`LimitExceeded(Functions)`](crate::Resource::Functions),
    /// read from the section headers before the engine sees the module.
    /// Default [`DEFAULT_MAX_FUNCTIONS`].
    pub fn max_functions(mut self, count: Option<u32>) -> Self {
        self.max_functions = count;
        self
    }

    /// The module size bound, if any.
    pub fn module_bytes_limit(&self) -> Option<u64> {
        self.max_module_bytes
    }

    /// The bound on functions a module defines, if any.
    pub fn function_limit(&self) -> Option<u32> {
        self.max_functions
    }

    /// The instance pool, if set.
    pub fn pool(&self) -> Option<InstancePool> {
        self.instance_pool
    }

    /// Whether fuel metering is compiled in.
    pub fn fuel_enabled(&self) -> bool {
        self.consume_fuel
    }

    /// Whether modules are instrumented for gas.
    pub fn gas_enabled(&self) -> bool {
        self.gas
    }

    /// Whether calls can be interrupted by a deadline.
    pub fn timeouts_enabled(&self) -> bool {
        self.timeouts
    }

    /// The stack bound, if set.
    pub fn stack_limit(&self) -> Option<usize> {
        self.max_stack_bytes
    }
}

/// Per-store limits for untrusted code.
///
/// Defaults (chosen for untrusted plugins, override as needed):
///
/// | limit | default |
/// |---|---|
/// | [`memory_bytes`](Self::memory_bytes) (each linear memory) | 256 MiB |
/// | [`initial_memory_bytes`](Self::initial_memory_bytes) (each linear memory, at load) | none (`memory_bytes` applies) |
/// | [`table_elements`](Self::table_elements) (each table) | 100 000 |
/// | [`instances`](Self::instances) (per store) | 100 |
/// | [`fuel`](Self::fuel) | none (requires [`Config::consume_fuel`]) |
/// | [`gas`](Self::gas) | none (requires [`Config::gas`]) |
/// | [`timeout`](Self::timeout) per call | none (requires [`Config::timeouts`]) |
///
/// A `memory.grow`/`table.grow` past a limit returns -1 to the guest, as the
/// spec allows; a module whose *initial* size is already past the limit fails
/// to instantiate with [`ErrorKind::LimitExceeded`](crate::ErrorKind).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    memory_bytes: Option<u64>,
    initial_memory_bytes: Option<u64>,
    table_elements: Option<u64>,
    instances: Option<usize>,
    fuel: Option<u64>,
    gas: Option<u64>,
    timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: Some(256 << 20),
            initial_memory_bytes: None,
            table_elements: Some(100_000),
            instances: Some(100),
            fuel: None,
            gas: None,
            timeout: None,
        }
    }
}

impl Limits {
    /// The documented defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// No limits at all (trusted code and the spec suite).
    pub fn unlimited() -> Self {
        Self {
            memory_bytes: None,
            initial_memory_bytes: None,
            table_elements: None,
            instances: None,
            fuel: None,
            gas: None,
            timeout: None,
        }
    }

    /// Cap every linear memory at `bytes`.
    pub fn memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = Some(bytes);
        self
    }

    /// Refuse, at load, a module any of whose memories starts larger than
    /// `bytes` (its declared initial size, which every engine allocates
    /// before the guest runs; growth stays bounded by
    /// [`memory_bytes`](Self::memory_bytes)).
    ///
    /// Checked from the module's bytes by `Limits::check_initial_memory`
    /// (feature `inspect`) before compiling: `anywasm::Plugin::load`, `anywasm::Sandbox::new`
    /// and the plugin manager do; an over-large module is
    /// [`LimitExceeded(InitialMemory)`](crate::Resource::InitialMemory).
    pub fn initial_memory_bytes(mut self, bytes: u64) -> Self {
        self.initial_memory_bytes = Some(bytes);
        self
    }

    /// Cap every table at `elements`.
    pub fn table_elements(mut self, elements: u64) -> Self {
        self.table_elements = Some(elements);
        self
    }

    /// Cap the number of instances in one store.
    ///
    /// An instantiation that runs and traps (in segment initialisation or
    /// its start function) counts: every engine keeps its memories and
    /// tables alive in the store. One refused before it runs (unlinkable,
    /// a memory or table over its cap, a foreign module) does not.
    pub fn instances(mut self, count: usize) -> Self {
        self.instances = Some(count);
        self
    }

    /// Give the store a fuel budget, shared by all calls until refilled.
    pub fn fuel(mut self, units: u64) -> Self {
        self.fuel = Some(units);
        self
    }

    /// Give the store a gas budget (engine-neutral, see [`Config::gas`]),
    /// shared by all calls until refilled with `Store::set_gas`. Running out
    /// traps with [`TrapCode::OutOfFuel`](crate::TrapCode::OutOfFuel).
    pub fn gas(mut self, units: u64) -> Self {
        self.gas = Some(units);
        self
    }

    /// Give every call a wall-clock deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The memory cap in bytes.
    pub fn max_memory_bytes(&self) -> Option<u64> {
        self.memory_bytes
    }

    /// The cap on each memory's initial size in bytes.
    pub fn max_initial_memory_bytes(&self) -> Option<u64> {
        self.initial_memory_bytes
    }

    /// Check the initial size of every memory `wasm` declares against
    /// [`initial_memory_bytes`](Self::initial_memory_bytes): a larger one is
    /// [`LimitExceeded(InitialMemory)`](crate::Resource::InitialMemory), a
    /// module whose memories cannot be read is
    /// [`Compile`](crate::ErrorKind::Compile). Nothing to check without a cap.
    #[cfg(feature = "inspect")]
    pub fn check_initial_memory(&self, wasm: &[u8]) -> crate::Result<()> {
        let Some(cap) = self.initial_memory_bytes else {
            return Ok(());
        };
        match crate::initial_memory_bytes(wasm)? {
            Some(asked) if asked > cap => Err(crate::Error::new(
                crate::ErrorKind::LimitExceeded(crate::Resource::InitialMemory),
                alloc::format!(
                    "the module asks for {} KiB of initial linear memory; \
                     Limits::initial_memory_bytes allows {} KiB",
                    asked / 1024,
                    cap / 1024
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The table cap in elements.
    pub fn max_table_elements(&self) -> Option<u64> {
        self.table_elements
    }

    /// The instance cap.
    pub fn max_instances(&self) -> Option<usize> {
        self.instances
    }

    /// The fuel budget.
    pub fn fuel_budget(&self) -> Option<u64> {
        self.fuel
    }

    /// The gas budget.
    pub fn gas_budget(&self) -> Option<u64> {
        self.gas
    }

    /// The per-call deadline.
    pub fn call_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Check these limits against an engine configuration: a fuel budget
    /// needs [`Config::consume_fuel`], a gas budget [`Config::gas`], a
    /// timeout [`Config::timeouts`].
    pub fn check_against(&self, config: &Config) -> crate::Result<()> {
        if self.fuel.is_some() && !config.fuel_enabled() {
            return Err(crate::Error::new(
                crate::ErrorKind::Unsupported,
                "a fuel limit needs an engine built with Config::consume_fuel(true)",
            ));
        }
        if self.gas.is_some() && !config.gas_enabled() {
            return Err(crate::Error::new(
                crate::ErrorKind::Unsupported,
                "a gas limit needs an engine built with Config::gas(true)",
            ));
        }
        if self.timeout.is_some() && !config.timeouts_enabled() {
            return Err(crate::Error::new(
                crate::ErrorKind::Unsupported,
                "a timeout needs an engine built with Config::timeouts(true)",
            ));
        }
        Ok(())
    }
}
