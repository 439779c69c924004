//! [`Engine`]: a wasmer engine (Cranelift) configured from anywasm's
//! [`Config`], implementing [`anywasm_core::Runtime`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anywasm_core::{ArtifactFormat, BackendKind, Config, Error, ErrorKind, Limits, Runtime};
use wasmer::sys::{CompilerConfig, Cranelift, EngineBuilder, Features, NativeEngineExt};

use crate::error::err;
use crate::limits::LimitTunables;
use crate::middleware::{FuelMetering, StartHook};
use crate::module::Module;
use crate::store::Store;

static NEXT_ENGINE_ID: AtomicU64 = AtomicU64::new(1);

struct Inner {
    id: u64,
    engine: wasmer::Engine,
    config: Config,
    /// Computed on first use (see `artifact.rs`).
    artifact_format: std::sync::OnceLock<ArtifactFormat>,
    /// Present when fuel metering is compiled in.
    metering: Option<Arc<FuelMetering>>,
    /// Present when timeouts are enabled.
    #[cfg(unix)]
    watchdog: Option<crate::watchdog::Watchdog>,
}

/// The wasmer engine. Cheap to clone; all clones share one compiler, one
/// set of tunables and (with timeouts) one watchdog thread.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::build(&Config::default())
    }
}

impl Engine {
    /// Which engine this is.
    pub const BACKEND: BackendKind = BackendKind::Wasmer;

    /// An engine with the limit mechanisms of `config` compiled in.
    ///
    /// Fails with [`ErrorKind::Unsupported`] if timeouts are asked for on a
    /// platform where wasmer cannot interrupt guests (non-unix), and for
    /// [`Config::instance_pool`] (wasmer has no pooling allocator).
    pub fn new(config: &Config) -> Result<Self, Error> {
        if config.get_timeouts() && !cfg!(unix) {
            return Err(err(
                ErrorKind::Unsupported,
                "wasmer can interrupt guests only on unix; Config::timeouts is unavailable",
            ));
        }
        if config.get_instance_pool().is_some() {
            return Err(err(
                ErrorKind::Unsupported,
                "wasmer has no pooling allocator; Config::instance_pool is unavailable",
            ));
        }
        Ok(Self::build(config))
    }

    fn build(config: &Config) -> Self {
        let mut compiler = Cranelift::default();
        compiler.push_middleware(Arc::new(StartHook));
        let metering = config.get_consume_fuel().then(|| {
            let metering = Arc::new(FuelMetering::default());
            compiler.push_middleware(metering.clone());
            metering
        });
        // The default feature set: no exceptions (anywasm has no exnref).
        let mut engine: wasmer::Engine = EngineBuilder::new(compiler)
            .set_features(Some(Features::default()))
            .engine()
            .into();
        engine.set_tunables(LimitTunables::new(config.get_max_stack_bytes()));
        Self {
            inner: Arc::new(Inner {
                id: NEXT_ENGINE_ID.fetch_add(1, Ordering::Relaxed),
                engine,
                config: config.clone(),
                artifact_format: std::sync::OnceLock::new(),
                metering,
                #[cfg(unix)]
                watchdog: config
                    .get_timeouts()
                    .then(crate::watchdog::Watchdog::default),
            }),
        }
    }

    /// The configuration this engine was created with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Validate and compile a binary module ([`ErrorKind::Compile`] if the
    /// bytes are malformed or invalid). Same as [`Runtime::compile`], usable
    /// without importing the trait (and unambiguous when
    /// [`DynRuntime`](anywasm_core::DynRuntime) is in scope too).
    pub fn compile(&self, wasm: &[u8]) -> Result<Module, Error> {
        <Self as Runtime>::compile(self, wasm)
    }

    /// A new store holding `data`, enforcing `limits`. Same as
    /// [`Runtime::store`].
    pub fn store<T: Send + 'static>(&self, data: T, limits: &Limits) -> Result<Store<T>, Error> {
        <Self as Runtime>::store(self, data, limits)
    }

    /// The format of this engine's serialised modules (see
    /// [`Runtime::artifact_format`]).
    pub fn artifact_format(&self) -> &ArtifactFormat {
        self.inner
            .artifact_format
            .get_or_init(|| crate::artifact::format(self))
    }

    /// Serialise `module` (wasmer's `Module::serialize`), for
    /// [`deserialize_module`](Self::deserialize_module) on an engine of the
    /// same [`artifact_format`](Self::artifact_format).
    pub fn serialize_module(&self, module: &Module) -> Result<Vec<u8>, Error> {
        crate::artifact::serialize(module)
    }

    /// Load a module [`serialize_module`](Self::serialize_module) wrote
    /// (wasmer's `Module::deserialize`).
    ///
    /// # Safety
    ///
    /// As [`Runtime::deserialize_module`]: `bytes` are exactly what
    /// `serialize_module` returned on an engine of an equal
    /// [`artifact_format`](Self::artifact_format), unmodified since.
    pub unsafe fn deserialize_module(&self, bytes: &[u8]) -> Result<Module, Error> {
        // SAFETY: the caller's promise, forwarded.
        unsafe { crate::artifact::deserialize(self, bytes) }
    }

    /// The underlying wasmer engine.
    pub fn raw(&self) -> &wasmer::Engine {
        &self.inner.engine
    }

    pub(crate) fn wasmer(&self) -> &wasmer::Engine {
        &self.inner.engine
    }

    /// Identity, to reject modules of other engines.
    pub(crate) fn id(&self) -> u64 {
        self.inner.id
    }

    /// The fuel metering middleware, when fuel metering is compiled in.
    pub(crate) fn metering(&self) -> Option<&FuelMetering> {
        self.inner.metering.as_deref()
    }

    #[cfg(unix)]
    pub(crate) fn watchdog(&self) -> Option<&crate::watchdog::Watchdog> {
        self.inner.watchdog.as_ref()
    }
}

impl Runtime for Engine {
    type Module = Module;
    type Store<T: Send + 'static> = Store<T>;

    const BACKEND: BackendKind = BackendKind::Wasmer;
    const SUPPORT: anywasm_core::Support = anywasm_core::Support::lacking(&[
        (
            anywasm_core::Feature::ExactStackLimit,
            "wasmer applies Config::max_stack_bytes as a minimum: it may reuse a larger cached guest stack",
        ),
        (
            anywasm_core::Feature::InstancePool,
            "wasmer has no pooling allocator",
        ),
        (
            anywasm_core::Feature::AsyncSuspend,
            "wasmer 7.4's async calls need a separate async store type whose futures are not Send: an async host function parks the calling thread instead",
        ),
    ]);

    fn new(config: &Config) -> Result<Self, Error> {
        Engine::new(config)
    }

    fn config(&self) -> &Config {
        &self.inner.config
    }

    fn compile(&self, wasm: &[u8]) -> Result<Module, Error> {
        Module::compile(self, wasm)
    }

    fn store<T: Send + 'static>(&self, data: T, limits: &Limits) -> Result<Store<T>, Error> {
        Store::new(self, data, limits)
    }

    fn artifact_format(&self) -> Option<ArtifactFormat> {
        Some(Engine::artifact_format(self).clone())
    }

    fn serialize_module(&self, module: &Module) -> Result<Vec<u8>, Error> {
        Engine::serialize_module(self, module)
    }

    unsafe fn deserialize_module(&self, bytes: &[u8]) -> Result<Module, Error> {
        // SAFETY: the caller's promise, forwarded.
        unsafe { Engine::deserialize_module(self, bytes) }
    }
}
