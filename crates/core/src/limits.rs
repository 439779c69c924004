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
/// Every setting has a setter named after it, taking and returning `self`
/// ([`consume_fuel(true)`](Self::consume_fuel)), and a getter named
/// `get_` followed by the setter's name
/// ([`get_consume_fuel()`](Self::get_consume_fuel)) returning
/// what was set, `Option` for a setting that may be absent. [`Limits`]
/// follows the same rule. The setters own the bare names, so the getters
/// cannot have them; `std::process::Command` solves the same clash the same
/// way (`arg` / `get_args`), and one mechanical rule lets a reader find any
/// getter without learning a vocabulary of `max_`, `_budget`, `_limit` and
/// `_enabled` names (the older such names remain, deprecated).
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

    /// What [`consume_fuel`](Self::consume_fuel) set: whether fuel metering
    /// is compiled in.
    pub fn get_consume_fuel(&self) -> bool {
        self.consume_fuel
    }

    /// What [`gas`](Self::gas) set: whether modules are instrumented for gas.
    pub fn get_gas(&self) -> bool {
        self.gas
    }

    /// What [`timeouts`](Self::timeouts) set: whether calls can be
    /// interrupted by a deadline.
    pub fn get_timeouts(&self) -> bool {
        self.timeouts
    }

    /// What [`max_stack_bytes`](Self::max_stack_bytes) set, if anything.
    pub fn get_max_stack_bytes(&self) -> Option<usize> {
        self.max_stack_bytes
    }

    /// What [`instance_pool`](Self::instance_pool) set, if anything.
    pub fn get_instance_pool(&self) -> Option<InstancePool> {
        self.instance_pool
    }

    /// What [`max_module_bytes`](Self::max_module_bytes) set: the module size
    /// bound, if any.
    pub fn get_max_module_bytes(&self) -> Option<u64> {
        self.max_module_bytes
    }

    /// What [`max_functions`](Self::max_functions) set: the bound on
    /// functions a module defines, if any.
    pub fn get_max_functions(&self) -> Option<u32> {
        self.max_functions
    }

    /// The module size bound, if any.
    #[deprecated(
        since = "0.1.0",
        note = "renamed `get_max_module_bytes` (a getter is `get_` + its setter's name)"
    )]
    pub fn module_bytes_limit(&self) -> Option<u64> {
        self.get_max_module_bytes()
    }

    /// The bound on functions a module defines, if any.
    #[deprecated(
        since = "0.1.0",
        note = "renamed `get_max_functions` (a getter is `get_` + its setter's name)"
    )]
    pub fn function_limit(&self) -> Option<u32> {
        self.get_max_functions()
    }

    /// The instance pool, if set.
    #[deprecated(
        since = "0.1.0",
        note = "renamed `get_instance_pool` (a getter is `get_` + its setter's name)"
    )]
    pub fn pool(&self) -> Option<InstancePool> {
        self.get_instance_pool()
    }

    /// Whether fuel metering is compiled in.
    #[deprecated(
        since = "0.1.0",
        note = "renamed `get_consume_fuel` (a getter is `get_` + its setter's name)"
    )]
    pub fn fuel_enabled(&self) -> bool {
        self.get_consume_fuel()
    }

    /// Whether modules are instrumented for gas.
    #[deprecated(
        since = "0.1.0",
        note = "renamed `get_gas` (a getter is `get_` + its setter's name)"
    )]
    pub fn gas_enabled(&self) -> bool {
        self.get_gas()
    }

    /// Whether calls can be interrupted by a deadline.
    #[deprecated(
        since = "0.1.0",
        note = "renamed `get_timeouts` (a getter is `get_` + its setter's name)"
    )]
    pub fn timeouts_enabled(&self) -> bool {
        self.get_timeouts()
    }

    /// The stack bound, if set.
    #[deprecated(
        since = "0.1.0",
        note = "renamed `get_max_stack_bytes` (a getter is `get_` + its setter's name)"
    )]
    pub fn stack_limit(&self) -> Option<usize> {
        self.get_max_stack_bytes()
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
/// Getters are named `get_` followed by the setter's name and return what it set
/// (`Limits::new().fuel(10).get_fuel() == Some(10)`), as on [`Config`].
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

    /// What [`memory_bytes`](Self::memory_bytes) set: the memory cap in bytes, if any.
    pub fn get_memory_bytes(&self) -> Option<u64> {
        self.memory_bytes
    }

    /// The memory cap in bytes, if any.
    #[deprecated(
        since = "0.1.0",
        note = "renamed `get_memory_bytes` (a getter is `get_` + its setter's name)"
    )]
    pub fn max_memory_bytes(&self) -> Option<u64> {
        self.get_memory_bytes()
    }

    /// What [`initial_memory_bytes`](Self::initial_memory_bytes) set: the cap on each memory's initial size in bytes, if any.
    pub fn get_initial_memory_bytes(&self) -> Option<u64> {
        self.initial_memory_bytes
    }

    /// The cap on each memory's initial size in bytes, if any.
    #[deprecated(
        since = "0.1.0",
        note = "renamed `get_initial_memory_bytes` (a getter is `get_` + its setter's name)"
    )]
    pub fn max_initial_memory_bytes(&self) -> Option<u64> {
        self.get_initial_memory_bytes()
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

    /// What [`table_elements`](Self::table_elements) set: the table cap in elements, if any.
    pub fn get_table_elements(&self) -> Option<u64> {
        self.table_elements
    }

    /// The table cap in elements, if any.
    #[deprecated(
        since = "0.1.0",
        note = "renamed `get_table_elements` (a getter is `get_` + its setter's name)"
    )]
    pub fn max_table_elements(&self) -> Option<u64> {
        self.get_table_elements()
    }

    /// What [`instances`](Self::instances) set: the instance cap, if any.
    pub fn get_instances(&self) -> Option<usize> {
        self.instances
    }

    /// The instance cap, if any.
    #[deprecated(
        since = "0.1.0",
        note = "renamed `get_instances` (a getter is `get_` + its setter's name)"
    )]
    pub fn max_instances(&self) -> Option<usize> {
        self.get_instances()
    }

    /// What [`fuel`](Self::fuel) set: the fuel budget, if any.
    pub fn get_fuel(&self) -> Option<u64> {
        self.fuel
    }

    /// The fuel budget, if any.
    #[deprecated(
        since = "0.1.0",
        note = "renamed `get_fuel` (a getter is `get_` + its setter's name)"
    )]
    pub fn fuel_budget(&self) -> Option<u64> {
        self.get_fuel()
    }

    /// What [`gas`](Self::gas) set: the gas budget, if any.
    pub fn get_gas(&self) -> Option<u64> {
        self.gas
    }

    /// The gas budget, if any.
    #[deprecated(
        since = "0.1.0",
        note = "renamed `get_gas` (a getter is `get_` + its setter's name)"
    )]
    pub fn gas_budget(&self) -> Option<u64> {
        self.get_gas()
    }

    /// What [`timeout`](Self::timeout) set: the per-call deadline, if any.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The per-call deadline, if any.
    #[deprecated(
        since = "0.1.0",
        note = "renamed `get_timeout` (a getter is `get_` + its setter's name)"
    )]
    pub fn call_timeout(&self) -> Option<Duration> {
        self.get_timeout()
    }

    /// Check these limits against an engine configuration: a fuel budget
    /// needs [`Config::consume_fuel`], a gas budget [`Config::gas`], a
    /// timeout [`Config::timeouts`].
    pub fn check_against(&self, config: &Config) -> crate::Result<()> {
        if self.fuel.is_some() && !config.get_consume_fuel() {
            return Err(crate::Error::new(
                crate::ErrorKind::Unsupported,
                "a fuel limit needs an engine built with Config::consume_fuel(true)",
            ));
        }
        if self.gas.is_some() && !config.get_gas() {
            return Err(crate::Error::new(
                crate::ErrorKind::Unsupported,
                "a gas limit needs an engine built with Config::gas(true)",
            ));
        }
        if self.timeout.is_some() && !config.get_timeouts() {
            return Err(crate::Error::new(
                crate::ErrorKind::Unsupported,
                "a timeout needs an engine built with Config::timeouts(true)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_config_getter_returns_what_its_setter_set() {
        let pool = InstancePool::new(3, 1 << 20);
        let c = Config::new()
            .consume_fuel(true)
            .gas(true)
            .timeouts(true)
            .max_stack_bytes(4096)
            .instance_pool(pool)
            .max_module_bytes(Some(77))
            .max_functions(None);
        assert!(c.get_consume_fuel() && c.get_gas() && c.get_timeouts());
        assert_eq!(c.get_max_stack_bytes(), Some(4096));
        assert_eq!(c.get_instance_pool(), Some(pool));
        assert_eq!(c.get_max_module_bytes(), Some(77));
        assert_eq!(c.get_max_functions(), None);
        let d = Config::new();
        assert!(!d.get_consume_fuel() && !d.get_gas() && !d.get_timeouts());
        assert_eq!(d.get_max_module_bytes(), Some(DEFAULT_MAX_MODULE_BYTES));
        assert_eq!(d.get_max_functions(), Some(DEFAULT_MAX_FUNCTIONS));
    }

    #[test]
    fn each_limits_getter_returns_what_its_setter_set() {
        let l = Limits::new()
            .memory_bytes(1)
            .initial_memory_bytes(2)
            .table_elements(3)
            .instances(4)
            .fuel(5)
            .gas(6)
            .timeout(Duration::from_millis(7));
        assert_eq!(
            (
                l.get_memory_bytes(),
                l.get_initial_memory_bytes(),
                l.get_table_elements(),
                l.get_instances(),
                l.get_fuel(),
                l.get_gas(),
                l.get_timeout()
            ),
            (
                Some(1),
                Some(2),
                Some(3),
                Some(4),
                Some(5),
                Some(6),
                Some(Duration::from_millis(7))
            )
        );
        assert_eq!(Limits::unlimited().get_memory_bytes(), None);
    }

    /// The pre-rule names still build and still answer the same.
    #[test]
    #[allow(deprecated)]
    fn the_deprecated_getters_are_aliases() {
        let c = Config::new()
            .consume_fuel(true)
            .max_stack_bytes(9)
            .instance_pool(InstancePool::new(1, 2));
        assert_eq!(
            (c.fuel_enabled(), c.gas_enabled(), c.timeouts_enabled()),
            (true, false, false)
        );
        assert_eq!(c.stack_limit(), Some(9));
        assert_eq!(c.pool(), c.get_instance_pool());
        assert_eq!(c.module_bytes_limit(), c.get_max_module_bytes());
        assert_eq!(c.function_limit(), c.get_max_functions());
        let l = Limits::new().fuel(5).gas(6).timeout(Duration::from_secs(1));
        assert_eq!(l.max_memory_bytes(), l.get_memory_bytes());
        assert_eq!(l.max_initial_memory_bytes(), None);
        assert_eq!(l.max_table_elements(), Some(100_000));
        assert_eq!(l.max_instances(), Some(100));
        assert_eq!((l.fuel_budget(), l.gas_budget()), (Some(5), Some(6)));
        assert_eq!(l.call_timeout(), Some(Duration::from_secs(1)));
    }
}
