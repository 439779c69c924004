//! [`Engine`]: a wasmtime engine configured from an anywasm [`Config`].

use std::fmt;
use std::sync::Arc;

use anywasm_core::{ArtifactFormat, BackendKind, Config, ErrorKind, Limits, Result, Runtime};

use crate::error::{chain_message, err};
use crate::ticker::Ticker;
use crate::{Module, Store};

/// Table slot size under [`Config::instance_pool`] (the default
/// [`Limits::table_elements`]).
const POOL_TABLE_ELEMENTS: usize = 100_000;

/// The wasmtime engine: compiles modules and creates stores.
///
/// Cheap to clone (one reference count). With
/// [`Config::timeouts`](anywasm_core::Config::timeouts) an epoch ticker thread
/// lives as long as the engine or any of its stores.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    engine: wasmtime::Engine,
    config: Config,
    /// Computed on first use (see `artifact.rs`).
    artifact_format: std::sync::OnceLock<ArtifactFormat>,
    // Declared last: dropped after `engine` is no longer needed by us.
    ticker: Option<Ticker>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("backend", &BackendKind::Wasmtime)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Default for Engine {
    /// An engine with [`Config::default()`].
    ///
    /// # Panics
    ///
    /// If wasmtime cannot create an engine for the host (unsupported
    /// platform); [`Engine::new`] reports that as an error instead.
    fn default() -> Self {
        match Self::new(&Config::default()) {
            Ok(e) => e,
            Err(e) => panic!("cannot create the default wasmtime engine: {e}"),
        }
    }
}

impl Engine {
    /// Which engine this is (also [`Runtime::BACKEND`]).
    pub const BACKEND: BackendKind = BackendKind::Wasmtime;

    /// Create an engine with the limit mechanisms of `config` compiled in.
    ///
    /// - fuel: `wasmtime::Config::consume_fuel`, with wasmtime's operator
    ///   costs except `table.grow`'s per-element charge (0: a grow a limit
    ///   refuses returns -1, as on every engine);
    /// - timeouts: `wasmtime::Config::epoch_interruption` plus a ticker thread;
    /// - stack: `wasmtime::Config::max_wasm_stack` (default 512 KiB). The bound
    ///   counts wasm frames only and must fit in the stack of the threads that
    ///   call into guests, or exhausting it aborts the process.
    ///
    /// - instance pool: wasmtime's pooling allocator, `instances` slots each
    ///   for core instances, memories, tables and GC heaps, memories capped
    ///   at `memory_bytes`, tables at 100 000 elements, at most 4 memories
    ///   and 4 tables per module. Every slot reserves address space up
    ///   front (wasmtime's default reservation per memory); exhausting the
    ///   pool is `LimitExceeded(Instances)`.
    ///
    /// All other settings are wasmtime's defaults (its on-by-default wasm
    /// proposals, no NaN canonicalisation, signal-based traps).
    pub fn new(config: &Config) -> Result<Self> {
        let mut c = wasmtime::Config::new();
        c.consume_fuel(config.get_consume_fuel());
        if config.get_consume_fuel() {
            // wasmtime charges a `table.grow`'s elements before it asks the
            // resource limiter, so a grow the table cap refuses could run the
            // budget out instead of returning -1. The rule on every engine
            // is -1: growth itself costs only the operator's flat fuel (as
            // `memory.grow` does by default); filling and copying still pay
            // per element.
            let mut cost = wasmtime::OperatorCost::new();
            cost.variable.table_grow_per_element = 0;
            c.operator_cost(cost);
        }
        c.epoch_interruption(config.get_timeouts());
        if let Some(bytes) = config.get_max_stack_bytes() {
            c.max_wasm_stack(bytes);
        }
        if let Some(pool) = config.get_instance_pool() {
            let n = pool.instances;
            let mut p = wasmtime::PoolingAllocationConfig::default();
            p.total_core_instances(n)
                .total_memories(n)
                .total_tables(n)
                .total_gc_heaps(n)
                .max_memories_per_module(4)
                .max_tables_per_module(4)
                .table_elements(POOL_TABLE_ELEMENTS)
                .max_memory_size(usize::try_from(pool.memory_bytes).unwrap_or(usize::MAX));
            c.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(p));
        }
        let engine = wasmtime::Engine::new(&c).map_err(|e| {
            err(
                ErrorKind::Engine,
                format!("wasmtime rejected the configuration: {}", chain_message(&e)),
            )
        })?;
        let ticker = if config.get_timeouts() {
            Some(Ticker::start(engine.clone()).map_err(|e| {
                err(
                    ErrorKind::Engine,
                    format!("cannot start the epoch ticker thread: {e}"),
                )
            })?)
        } else {
            None
        };
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                config: config.clone(),
                artifact_format: std::sync::OnceLock::new(),
                ticker,
            }),
        })
    }

    /// The configuration this engine was created with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Validate and compile a binary module ([`ErrorKind::Compile`] if the
    /// bytes are malformed or invalid). Same as [`Runtime::compile`], usable
    /// without importing the trait (and unambiguous when
    /// [`DynRuntime`](anywasm_core::DynRuntime) is in scope too).
    pub fn compile(&self, wasm: &[u8]) -> Result<Module> {
        Module::compile(self, wasm)
    }

    /// A new store holding `data`, enforcing `limits`. Same as
    /// [`Runtime::store`].
    pub fn store<T: Send + 'static>(&self, data: T, limits: &Limits) -> Result<Store<T>> {
        Store::create(self, data, limits)
    }

    /// The format of this engine's serialised modules (see
    /// [`Runtime::artifact_format`]).
    pub fn artifact_format(&self) -> &ArtifactFormat {
        self.inner
            .artifact_format
            .get_or_init(|| crate::artifact::format(self))
    }

    /// Serialise `module` (wasmtime's `Module::serialize`), for
    /// [`deserialize_module`](Self::deserialize_module) on an engine of the
    /// same [`artifact_format`](Self::artifact_format).
    pub fn serialize_module(&self, module: &Module) -> Result<Vec<u8>> {
        crate::artifact::serialize(module)
    }

    /// Load a module [`serialize_module`](Self::serialize_module) wrote
    /// (wasmtime's `Module::deserialize`).
    ///
    /// # Safety
    ///
    /// As [`Runtime::deserialize_module`]: `bytes` are exactly what
    /// `serialize_module` returned on an engine of an equal
    /// [`artifact_format`](Self::artifact_format), unmodified since.
    pub unsafe fn deserialize_module(&self, bytes: &[u8]) -> Result<Module> {
        // SAFETY: the caller's promise, forwarded.
        unsafe { crate::artifact::deserialize(self, bytes) }
    }

    /// The wasmtime engine underneath.
    pub fn raw(&self) -> &wasmtime::Engine {
        &self.inner.engine
    }

    pub(crate) fn ticker(&self) -> Option<&Ticker> {
        self.inner.ticker.as_ref()
    }
}

impl Runtime for Engine {
    type Module = Module;
    type Store<T: Send + 'static> = Store<T>;

    const BACKEND: BackendKind = BackendKind::Wasmtime;
    const SUPPORT: anywasm_core::Support = anywasm_core::Support::FULL;

    fn new(config: &Config) -> Result<Self> {
        Engine::new(config)
    }

    fn config(&self) -> &Config {
        Engine::config(self)
    }

    fn compile(&self, wasm: &[u8]) -> Result<Module> {
        Engine::compile(self, wasm)
    }

    fn store<T: Send + 'static>(&self, data: T, limits: &Limits) -> Result<Store<T>> {
        Engine::store(self, data, limits)
    }

    fn artifact_format(&self) -> Option<ArtifactFormat> {
        Some(Engine::artifact_format(self).clone())
    }

    fn serialize_module(&self, module: &Module) -> Result<Vec<u8>> {
        Engine::serialize_module(self, module)
    }

    unsafe fn deserialize_module(&self, bytes: &[u8]) -> Result<Module> {
        // SAFETY: the caller's promise, forwarded.
        unsafe { Engine::deserialize_module(self, bytes) }
    }
}
