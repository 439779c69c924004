//! The engine: a wasmi engine configured from an anywasm [`Config`].

use core::fmt;
use core::time::Duration;

use anywasm_core::{BackendKind, Config, Error, ErrorKind, Limits, Result, Runtime};

use crate::error::tag;
use crate::limits::apply_stack_limit;
use crate::module::Module;
use crate::store::Store;

/// A monotonic clock: the time elapsed since some fixed point in the past.
///
/// wasmi has no threads to interrupt a guest, so timeouts are enforced by
/// running guest code in fuel slices and reading this clock between slices.
pub type Clock = fn() -> Duration;

/// The wasmi engine behind anywasm: an interpreter that also runs without `std`.
///
/// Cheap to clone (the wasmi engine is reference counted); clones share
/// compiled code.
#[derive(Clone)]
pub struct Engine {
    raw: wasmi::Engine,
    config: Config,
    clock: Option<Clock>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("backend", &BackendKind::Wasmi)
            .field("config", &self.config)
            .field("clock", &self.clock.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Engine {
    /// An engine with [`Config::default()`]: no fuel, no timeouts, wasmi's
    /// default stack bound.
    fn default() -> Self {
        Self::build(&Config::default())
    }
}

impl Engine {
    /// Which engine this is (also available as [`Runtime::BACKEND`]).
    pub const BACKEND: BackendKind = BackendKind::Wasmi;

    /// Create an engine with the given limit mechanisms compiled in.
    ///
    /// - [`Config::consume_fuel`] and [`Config::timeouts`] both turn on
    ///   wasmi's fuel metering (timeouts are fuel slices checked against the
    ///   clock). With [`Config::consume_fuel`] functions are translated
    ///   eagerly at compile time, so fuel use is deterministic (otherwise
    ///   wasmi translates lazily, on first call).
    /// - A module's start function is run after instantiation as an
    ///   ordinary call, so the store's deadline applies to it too, and a
    ///   host function that is the start function sees its instance.
    /// - [`Config::max_stack_bytes`] bounds wasmi's value stack (in bytes,
    ///   at least 4 KiB) and its call depth (one frame per 128 bytes);
    ///   without it wasmi's defaults apply (1 MB value stack, 1000 frames).
    ///
    /// - [`Config::instance_pool`] is [`ErrorKind::Unsupported`]: wasmi has
    ///   no pooling allocator.
    ///
    /// With `std` the timeout clock is `std::time::Instant`; without `std`
    /// supply one with [`Engine::with_clock`] before creating stores with a
    /// timeout.
    pub fn new(config: &Config) -> Result<Self> {
        if config.get_instance_pool().is_some() {
            return Err(tag(Error::new(
                ErrorKind::Unsupported,
                "wasmi has no pooling allocator; Config::instance_pool is unavailable (wasmi instantiation allocates little to begin with)",
            )));
        }
        Ok(Self::build(config))
    }

    fn build(config: &Config) -> Self {
        let mut raw = wasmi::Config::default();
        let metered = config.get_consume_fuel() || config.get_timeouts();
        raw.consume_fuel(metered);
        if metered {
            // wasmi charges fuel for translating a function lazily on its
            // first call. That would make a store's fuel use depend on what
            // other stores of the engine ran before, and a translation that
            // does not fit the rest of a timeout's fuel slice fails the call
            // outright (it is not a resumable pause). Translate eagerly.
            raw.compilation_mode(wasmi::CompilationMode::Eager);
        }
        if let Some(bytes) = config.get_max_stack_bytes() {
            apply_stack_limit(&mut raw, bytes);
        }
        Self {
            raw: wasmi::Engine::new(&raw),
            config: config.clone(),
            clock: default_clock(),
        }
    }

    /// Use `clock` for call timeouts instead of the default
    /// (`std::time::Instant` with `std`, none without).
    ///
    /// The clock must be monotonic; only differences between its readings
    /// matter. Without `std` and without a clock, a store whose [`Limits`]
    /// have a timeout cannot be created ([`ErrorKind::Unsupported`]).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The configuration this engine was created with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Validate and compile a binary module ([`ErrorKind::Compile`] if the
    /// bytes are malformed or invalid). Same as [`Runtime::compile`], usable
    /// without importing the trait (and unambiguous when
    /// [`DynRuntime`](anywasm_core::DynRuntime) is in scope too).
    pub fn compile(&self, wasm: &[u8]) -> Result<Module> {
        <Self as Runtime>::compile(self, wasm)
    }

    /// A new store holding `data`, enforcing `limits`. Same as
    /// [`Runtime::store`].
    pub fn store<T: Send + 'static>(&self, data: T, limits: &Limits) -> Result<Store<T>> {
        <Self as Runtime>::store(self, data, limits)
    }

    /// The wasmi engine underneath.
    pub fn raw(&self) -> &wasmi::Engine {
        &self.raw
    }

    pub(crate) fn clock(&self) -> Option<Clock> {
        self.clock
    }
}

#[cfg(feature = "std")]
fn default_clock() -> Option<Clock> {
    fn std_clock() -> Duration {
        static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        EPOCH.get_or_init(std::time::Instant::now).elapsed()
    }
    Some(std_clock)
}

#[cfg(not(feature = "std"))]
fn default_clock() -> Option<Clock> {
    None
}

impl Runtime for Engine {
    type Module = Module;
    type Store<T: Send + 'static> = Store<T>;

    const BACKEND: BackendKind = BackendKind::Wasmi;
    const SUPPORT: anywasm_core::Support = anywasm_core::Support::lacking(&[
        (
            anywasm_core::Feature::InstancePool,
            "wasmi has no pooling allocator",
        ),
        (
            anywasm_core::Feature::Artifacts,
            "wasmi compiles lazily and has no serialised modules",
        ),
    ]);

    fn new(config: &Config) -> Result<Self> {
        Engine::new(config).map_err(tag)
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn compile(&self, wasm: &[u8]) -> Result<Module> {
        anywasm_core::check_module_bounds(&self.config, wasm).map_err(tag)?;
        Module::compile(&self.raw, wasm, self.config.get_gas()).map_err(tag)
    }

    fn store<T: Send + 'static>(&self, data: T, limits: &Limits) -> Result<Store<T>> {
        limits.check_against(&self.config).map_err(tag)?;
        if limits.get_timeout().is_some() && self.clock.is_none() {
            return Err(tag(Error::new(
                ErrorKind::Unsupported,
                "wasmi enforces timeouts by reading a clock between fuel slices; \
                 without `std` there is no clock: supply one with Engine::with_clock",
            )));
        }
        Store::new(self, data, limits).map_err(tag)
    }
}
