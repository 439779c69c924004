//! [`Sandbox`]: one store, one instance — the common plugin case.

use alloc::boxed::Box;
use alloc::vec::Vec;

use anywasm_core::{
    Capabilities, DynRuntime, DynStore, InstanceId, Limits, Linker, Result, Val, check_capabilities,
};

/// One module instantiated in its own store, on any engine.
///
/// Giving every sandbox its own store means its memory, fuel and instance
/// count are its own, and dropping it frees everything (wasmer, for one, keeps
/// instances alive until their store is dropped).
pub struct Sandbox<T> {
    store: Box<dyn DynStore<T>>,
    instance: InstanceId,
}

impl<T> core::fmt::Debug for Sandbox<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sandbox")
            .field("backend", &self.store.backend())
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Sandbox<T> {
    /// Compile `wasm` on `engine` and instantiate it in a new store holding
    /// `data`, with `linker`'s host functions and `limits`. No capability is
    /// granted: a module importing a host function gated by one (
    /// [`FuncDef::capability`](anywasm_core::FuncDef::capability),
    /// [`Linker::func_with_capability`], every WASI function) fails with
    /// [`ErrorKind::CapabilityDenied`](anywasm_core::ErrorKind) before it is
    /// instantiated; grant them with
    /// [`SandboxBuilder::capabilities`](crate::SandboxBuilder::capabilities).
    pub fn new(
        engine: &dyn DynRuntime<T>,
        wasm: &[u8],
        linker: &Linker<T>,
        data: T,
        limits: &Limits,
    ) -> Result<Self> {
        Self::with_capabilities(engine, wasm, linker, &Capabilities::none(), data, limits)
    }

    /// [`new`](Self::new) with the capabilities `granted`.
    pub(crate) fn with_capabilities(
        engine: &dyn DynRuntime<T>,
        wasm: &[u8],
        linker: &Linker<T>,
        granted: &Capabilities,
        data: T,
        limits: &Limits,
    ) -> Result<Self> {
        let tag = |e: anywasm_core::Error| e.with_backend(engine.backend());
        limits.check_initial_memory(wasm).map_err(tag)?;
        let module = engine.compile(wasm)?;
        check_capabilities(module.imports(), linker, granted).map_err(tag)?;
        let mut store = engine.store(data, limits)?;
        let instance = store.instantiate(&module, linker)?;
        Ok(Self { store, instance })
    }

    /// Call the export `name`.
    pub fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        self.store.call_export(self.instance, name, args)
    }

    /// The instance handle, for the store's other operations.
    pub fn instance(&self) -> InstanceId {
        self.instance
    }

    /// The store.
    pub fn store(&self) -> &dyn DynStore<T> {
        &*self.store
    }

    /// The store, mutably (memory, globals, tables, fuel).
    pub fn store_mut(&mut self) -> &mut dyn DynStore<T> {
        &mut *self.store
    }

    /// The host state.
    pub fn data(&self) -> &T {
        self.store.data()
    }

    /// The host state, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        self.store.data_mut()
    }
}
