//! [`SandboxBuilder`] and [`PluginBuilder`]: named settings instead of five to
//! seven positional arguments, each with a default.

use anywasm_core::{Capabilities, DynRuntime, Limits, Linker, Result};

use crate::{Plugin, Sandbox};

/// The host state a builder was given, or none yet.
///
/// Lets `build` take the state set with `.data(..)` or, when none was set,
/// `T::default()`, without requiring `T: Default` from hosts that set it.
pub trait HostData<T> {
    /// The state for the new store.
    fn into_data(self) -> T;
}

/// No host state set: `build` uses `T::default()`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultData;

/// The host state set with `.data(..)`.
#[derive(Clone, Copy, Debug)]
pub struct Data<T>(T);

impl<T: Default> HostData<T> for DefaultData {
    fn into_data(self) -> T {
        T::default()
    }
}

impl<T> HostData<T> for Data<T> {
    fn into_data(self) -> T {
        self.0
    }
}

/// The linker given, or a new empty one kept in `slot`.
fn linker_or_empty<'a, T>(
    given: Option<&'a Linker<T>>,
    slot: &'a mut Option<Linker<T>>,
) -> &'a Linker<T> {
    match given {
        Some(l) => l,
        None => slot.insert(Linker::new()),
    }
}

/// Builds a [`Sandbox`]; from [`Sandbox::builder`].
///
/// Defaults: no host functions, no capabilities granted, [`Limits::new`],
/// `T::default()` as the host state.
#[must_use = "a builder does nothing until `build`"]
pub struct SandboxBuilder<'a, T, D = DefaultData> {
    engine: &'a dyn DynRuntime<T>,
    linker: Option<&'a Linker<T>>,
    capabilities: Capabilities,
    limits: Limits,
    data: D,
}

impl<T: Send + 'static, D> core::fmt::Debug for SandboxBuilder<'_, T, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SandboxBuilder")
            .field("backend", &self.engine.backend())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Sandbox<T> {
    /// A builder for a sandbox on `engine`:
    ///
    /// ```
    /// use anywasm::{Config, Limits, Sandbox, Val};
    ///
    /// # fn main() -> anywasm::Result<()> {
    /// # let wasm = wat::parse_str(r#"(module (func (export "double") (param i32) (result i32)
    /// #     local.get 0 local.get 0 i32.add))"#).unwrap();
    /// let engine = anywasm::engine::<()>(anywasm::compiled_backends()[0], &Config::new())?;
    /// let mut sandbox = Sandbox::builder(&*engine)
    ///     .limits(&Limits::new().memory_bytes(1 << 20))
    ///     .build(&wasm)?;
    /// assert_eq!(sandbox.call("double", &[Val::I32(21)])?, [Val::I32(42)]);
    /// # Ok(()) }
    /// ```
    pub fn builder(engine: &dyn DynRuntime<T>) -> SandboxBuilder<'_, T> {
        SandboxBuilder {
            engine,
            linker: None,
            capabilities: Capabilities::none(),
            limits: Limits::new(),
            data: DefaultData,
        }
    }
}

impl<'a, T: Send + 'static, D> SandboxBuilder<'a, T, D> {
    /// The host functions the module may import.
    pub fn linker(mut self, linker: &'a Linker<T>) -> Self {
        self.linker = Some(linker);
        self
    }

    /// The capabilities granted (denied by default): a module importing a
    /// host function gated by a capability not granted fails the build with
    /// [`ErrorKind::CapabilityDenied`](anywasm_core::ErrorKind), before it is
    /// instantiated.
    pub fn capabilities(mut self, granted: &Capabilities) -> Self {
        self.capabilities = granted.clone();
        self
    }

    /// The store's limits.
    pub fn limits(mut self, limits: &Limits) -> Self {
        self.limits = limits.clone();
        self
    }

    /// The host state the store holds (what [`Caller::data`](anywasm_core::Caller::data)
    /// returns inside host functions).
    pub fn data(self, data: T) -> SandboxBuilder<'a, T, Data<T>> {
        SandboxBuilder {
            engine: self.engine,
            linker: self.linker,
            capabilities: self.capabilities,
            limits: self.limits,
            data: Data(data),
        }
    }

    /// Compile `wasm`, check its imports against the capabilities granted,
    /// and instantiate it: [`Sandbox::new`] with these settings (without
    /// `.data(..)`, the host state is `T::default()`).
    pub fn build(self, wasm: &[u8]) -> Result<Sandbox<T>>
    where
        D: HostData<T>,
    {
        let mut empty = None;
        let linker = linker_or_empty(self.linker, &mut empty);
        Sandbox::with_capabilities(
            self.engine,
            wasm,
            linker,
            &self.capabilities,
            self.data.into_data(),
            &self.limits,
        )
    }
}

/// Builds a [`Plugin`]; from [`Plugin::builder`].
///
/// Defaults: no host functions, no capabilities granted, [`Limits::new`],
/// `T::default()` as the host state, [`abi::DEFAULT_MESSAGE_CAP`](crate::abi::DEFAULT_MESSAGE_CAP).
#[must_use = "a builder does nothing until `build`"]
pub struct PluginBuilder<'a, T, D = DefaultData> {
    engine: &'a dyn DynRuntime<T>,
    linker: Option<&'a Linker<T>>,
    granted: Capabilities,
    limits: Limits,
    message_cap: Option<usize>,
    data: D,
}

impl<T: Send + 'static, D> core::fmt::Debug for PluginBuilder<'_, T, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PluginBuilder")
            .field("backend", &self.engine.backend())
            .field("granted", &self.granted)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Plugin<T> {
    /// A builder for a plugin on `engine`:
    ///
    /// ```no_run
    /// use anywasm::{Capabilities, Config, Limits, Linker, Plugin};
    ///
    /// # fn main() -> anywasm::Result<()> {
    /// # let wasm: Vec<u8> = Vec::new();
    /// let mut linker = Linker::<u32>::new();
    /// linker.abi_func("add", |_, (a, b): (i32, i32)| Ok(a + b)).capability("math");
    /// let engine = anywasm::engine::<u32>(anywasm::compiled_backends()[0], &Config::new())?;
    /// let mut plugin = Plugin::builder(&*engine)
    ///     .linker(&linker)
    ///     .capabilities(&Capabilities::none().grant("math"))
    ///     .limits(&Limits::new().memory_bytes(16 << 20))
    ///     .message_cap(64 << 10)
    ///     .data(7)
    ///     .build(&wasm)?;
    /// let greeting: String = plugin.call("greet", "anywasm")?;
    /// # Ok(()) }
    /// ```
    pub fn builder(engine: &dyn DynRuntime<T>) -> PluginBuilder<'_, T> {
        PluginBuilder {
            engine,
            linker: None,
            granted: Capabilities::none(),
            limits: Limits::new(),
            message_cap: None,
            data: DefaultData,
        }
    }
}

impl<'a, T: Send + 'static, D> PluginBuilder<'a, T, D> {
    /// The host functions the plugin may import.
    pub fn linker(mut self, linker: &'a Linker<T>) -> Self {
        self.linker = Some(linker);
        self
    }

    /// The capabilities granted (denied by default): an import gated by a
    /// capability not granted fails the load with
    /// [`ErrorKind::CapabilityDenied`](anywasm_core::ErrorKind::CapabilityDenied).
    pub fn capabilities(mut self, granted: &Capabilities) -> Self {
        self.granted = granted.clone();
        self
    }

    /// The store's limits.
    pub fn limits(mut self, limits: &Limits) -> Self {
        self.limits = limits.clone();
        self
    }

    /// The cap on request and response size; see [`Plugin::with_message_cap`].
    pub fn message_cap(mut self, bytes: usize) -> Self {
        self.message_cap = Some(bytes);
        self
    }

    /// The host state the store holds.
    pub fn data(self, data: T) -> PluginBuilder<'a, T, Data<T>> {
        PluginBuilder {
            engine: self.engine,
            linker: self.linker,
            granted: self.granted,
            limits: self.limits,
            message_cap: self.message_cap,
            data: Data(data),
        }
    }

    /// Check and load `wasm`: [`Plugin::load`] with these settings (without
    /// `.data(..)`, the host state is `T::default()`).
    pub fn build(self, wasm: &[u8]) -> Result<Plugin<T>>
    where
        D: HostData<T>,
    {
        let mut empty = None;
        let linker = linker_or_empty(self.linker, &mut empty);
        let plugin = Plugin::load(
            self.engine,
            wasm,
            linker,
            &self.granted,
            self.data.into_data(),
            &self.limits,
        )?;
        Ok(match self.message_cap {
            Some(cap) => plugin.with_message_cap(cap),
            None => plugin,
        })
    }
}
