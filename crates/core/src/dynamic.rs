//! The object-safe layer: choose the engine at run time.
//!
//! [`DynRuntime<T>`] is implemented for every [`Runtime`], so
//! `Box<dyn DynRuntime<T>>` can hold any engine. Handles become small
//! integers ([`InstanceId`], [`FuncId`], [`MemoryId`], [`TableId`],
//! [`GlobalId`]) into tables kept by the erased store,
//! and modules become [`DynModule`]s that remember which engine compiled them.
//! The cost over static dispatch is one virtual call and one table lookup per
//! operation.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::{
    ArtifactFormat, BackendKind, Config, Error, ErrorKind, ExportType, FuncType, ImportType,
    Limits, Linker, Module, Result, Runtime, Store, Val,
};

/// A compiled module of some engine.
#[derive(Clone)]
pub struct DynModule {
    backend: BackendKind,
    inner: Arc<dyn Any + Send + Sync>,
    imports: Arc<[ImportType]>,
    exports: Arc<[ExportType]>,
}

impl fmt::Debug for DynModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynModule")
            .field("backend", &self.backend)
            .field("imports", &self.imports)
            .field("exports", &self.exports)
            .finish()
    }
}

impl DynModule {
    /// Wrap a statically typed module.
    pub fn new<M: Module>(backend: BackendKind, module: M) -> Self {
        Self {
            backend,
            imports: module.imports().into(),
            exports: module.exports().into(),
            inner: Arc::new(module),
        }
    }

    /// The engine that compiled it.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// Imports, in declaration order.
    pub fn imports(&self) -> &[ImportType] {
        &self.imports
    }

    /// Exports, in declaration order.
    pub fn exports(&self) -> &[ExportType] {
        &self.exports
    }

    /// The statically typed module, if it was compiled by that engine.
    pub fn downcast<M: Module>(&self) -> Option<&M> {
        self.inner.downcast_ref::<M>()
    }
}

/// Handle to an instance in a [`DynStore`]. It names its store too: used
/// with another store it is [`ErrorKind::ForeignHandle`], never some other
/// instance that happens to have the same index there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId {
    store: u32,
    index: u32,
}

/// Handle to a function in a [`DynStore`]; like [`InstanceId`], it names
/// its store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FuncId {
    store: u32,
    index: u32,
}

/// Handle to an exported memory in a [`DynStore`]; like [`InstanceId`], it
/// names its store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemoryId {
    store: u32,
    index: u32,
}

/// Handle to an exported table in a [`DynStore`]; like [`InstanceId`], it
/// names its store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId {
    store: u32,
    index: u32,
}

/// Handle to an exported global in a [`DynStore`]; like [`InstanceId`], it
/// names its store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GlobalId {
    store: u32,
    index: u32,
}

/// Tags of the stores made so far (each `DynStore` takes the next, so
/// handles of different stores differ even where their indices agree).
static NEXT_STORE_TAG: AtomicU32 = AtomicU32::new(0);

/// An engine chosen at run time, for stores with host state `T`.
pub trait DynRuntime<T: Send + 'static>: Send + Sync {
    /// Which engine this is.
    fn backend(&self) -> BackendKind;
    /// Its configuration.
    fn config(&self) -> &Config;
    /// See [`Runtime::SUPPORT`].
    fn support(&self) -> crate::Support;
    /// Compile a binary module.
    fn compile(&self, wasm: &[u8]) -> Result<DynModule>;
    /// A new store.
    fn store(&self, data: T, limits: &Limits) -> Result<Box<dyn DynStore<T>>>;
    /// See [`Runtime::artifact_format`].
    fn artifact_format(&self) -> Option<ArtifactFormat>;
    /// See [`Runtime::serialize_module`]; a module another engine compiled
    /// is [`ErrorKind::ForeignHandle`].
    fn serialize_module(&self, module: &DynModule) -> Result<Vec<u8>>;
    /// See [`Runtime::deserialize_module`].
    ///
    /// # Safety
    ///
    /// As [`Runtime::deserialize_module`]: `bytes` are exactly what
    /// `serialize_module` returned on an engine of an equal
    /// [`ArtifactFormat`], unmodified since.
    unsafe fn deserialize_module(&self, bytes: &[u8]) -> Result<DynModule>;
}

impl<R: Runtime, T: Send + 'static> DynRuntime<T> for R {
    fn backend(&self) -> BackendKind {
        R::BACKEND
    }

    fn config(&self) -> &Config {
        Runtime::config(self)
    }

    fn support(&self) -> crate::Support {
        R::SUPPORT
    }

    fn compile(&self, wasm: &[u8]) -> Result<DynModule> {
        Ok(DynModule::new(R::BACKEND, Runtime::compile(self, wasm)?))
    }

    fn artifact_format(&self) -> Option<ArtifactFormat> {
        Runtime::artifact_format(self)
    }

    fn serialize_module(&self, module: &DynModule) -> Result<Vec<u8>> {
        let module = module.downcast::<R::Module>().ok_or_else(|| {
            Error::new(
                ErrorKind::ForeignHandle,
                alloc::format!(
                    "a module compiled by {} cannot be serialised by {}",
                    module.backend(),
                    R::BACKEND
                ),
            )
            .with_backend(R::BACKEND)
        })?;
        Runtime::serialize_module(self, module)
    }

    unsafe fn deserialize_module(&self, bytes: &[u8]) -> Result<DynModule> {
        // SAFETY: the caller's promise, forwarded unchanged.
        let module = unsafe { Runtime::deserialize_module(self, bytes) }?;
        Ok(DynModule::new(R::BACKEND, module))
    }

    fn store(&self, data: T, limits: &Limits) -> Result<Box<dyn DynStore<T>>> {
        let store = Runtime::store(self, data, limits)?;
        Ok(Box::new(Erased::<T, R::Store<T>> {
            store,
            tag: NEXT_STORE_TAG.fetch_add(1, Ordering::Relaxed),
            instances: Vec::new(),
            funcs: Handles::new("function"),
            memories: Handles::new("memory"),
            tables: Handles::new("table"),
            globals: Handles::new("global"),
            _t: core::marker::PhantomData,
        }))
    }
}

/// A store of an engine chosen at run time. Mirrors [`Store`] with integer handles.
pub trait DynStore<T>: Send {
    /// The engine behind this store.
    fn backend(&self) -> BackendKind;
    /// See [`Store::instantiate`].
    fn instantiate(&mut self, module: &DynModule, linker: &Linker<T>) -> Result<InstanceId>;
    /// See [`Store::register`].
    fn register(&mut self, name: &str, instance: InstanceId) -> Result<()>;
    /// See [`Store::get_func`].
    fn get_func(&mut self, instance: InstanceId, name: &str) -> Result<FuncId>;
    /// See [`Store::func_type`].
    fn func_type(&self, func: FuncId) -> Result<FuncType>;
    /// See [`Store::call`].
    fn call(&mut self, func: FuncId, args: &[Val], results: &mut [Val]) -> Result<()>;
    /// See [`Store::call_async`].
    fn call_async<'a>(
        &'a mut self,
        func: FuncId,
        args: &'a [Val],
        results: &'a mut [Val],
    ) -> crate::CallFuture<'a>;
    /// See [`Store::memory`]; resolving the same export again gives the
    /// same id.
    fn memory(&mut self, instance: InstanceId, name: &str) -> Result<MemoryId>;
    /// See [`Store::table`]; resolving the same export again gives the
    /// same id.
    fn table(&mut self, instance: InstanceId, name: &str) -> Result<TableId>;
    /// See [`Store::global`]; resolving the same export again gives the
    /// same id.
    fn global(&mut self, instance: InstanceId, name: &str) -> Result<GlobalId>;
    /// See [`Store::memory_len`].
    fn memory_len(&mut self, memory: MemoryId) -> Result<u64>;
    /// See [`Store::read`].
    fn read(&mut self, memory: MemoryId, offset: u64, buf: &mut [u8]) -> Result<()>;
    /// See [`Store::write`].
    fn write(&mut self, memory: MemoryId, offset: u64, data: &[u8]) -> Result<()>;
    /// See [`Store::grow`].
    fn grow(&mut self, memory: MemoryId, pages: u64) -> Result<u64>;
    /// See [`Store::get`].
    fn get(&mut self, global: GlobalId) -> Result<Val>;
    /// See [`Store::set`].
    fn set(&mut self, global: GlobalId, value: Val) -> Result<()>;
    /// See [`Store::table_len`].
    fn table_len(&mut self, table: TableId) -> Result<u64>;
    /// See [`Store::table_read`].
    fn table_read(&mut self, table: TableId, index: u64) -> Result<Val>;
    /// See [`Store::table_write`].
    fn table_write(&mut self, table: TableId, index: u64, value: Val) -> Result<()>;
    /// See [`Store::table_extend`].
    fn table_extend(&mut self, table: TableId, delta: u64, init: Val) -> Result<u64>;
    /// See [`Store::data`].
    fn data(&self) -> &T;
    /// See [`Store::data_mut`].
    fn data_mut(&mut self) -> &mut T;
    /// See [`Store::fuel`].
    fn fuel(&mut self) -> Result<u64>;
    /// See [`Store::set_fuel`].
    fn set_fuel(&mut self, fuel: u64) -> Result<()>;
    /// See [`Store::gas`].
    fn gas(&mut self) -> Result<u64>;
    /// See [`Store::set_gas`].
    fn set_gas(&mut self, gas: u64) -> Result<()>;
    /// See [`Store::set_reply_area`].
    fn set_reply_area(&mut self, area: crate::abi::Scratch);

    /// Call the export `name` of `instance`, returning its results.
    fn call_export(&mut self, instance: InstanceId, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        let func = self.get_func(instance, name)?;
        let ty = self.func_type(func)?;
        let mut results: Vec<Val> = ty.results().iter().map(|t| t.default_value()).collect();
        self.call(func, args, &mut results)?;
        Ok(results)
    }

    /// See [`StoreExt::memory_size`](crate::StoreExt::memory_size).
    fn memory_size(&mut self, instance: InstanceId, memory: &str) -> Result<u64> {
        let m = self.memory(instance, memory)?;
        self.memory_len(m)
    }

    /// See [`StoreExt::memory_read`](crate::StoreExt::memory_read).
    fn memory_read(
        &mut self,
        instance: InstanceId,
        memory: &str,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<()> {
        let m = self.memory(instance, memory)?;
        self.read(m, offset, buf)
    }

    /// See [`StoreExt::memory_write`](crate::StoreExt::memory_write).
    fn memory_write(
        &mut self,
        instance: InstanceId,
        memory: &str,
        offset: u64,
        data: &[u8],
    ) -> Result<()> {
        let m = self.memory(instance, memory)?;
        self.write(m, offset, data)
    }

    /// See [`StoreExt::memory_grow`](crate::StoreExt::memory_grow).
    fn memory_grow(&mut self, instance: InstanceId, memory: &str, pages: u64) -> Result<u64> {
        let m = self.memory(instance, memory)?;
        self.grow(m, pages)
    }

    /// See [`StoreExt::global_get`](crate::StoreExt::global_get).
    fn global_get(&mut self, instance: InstanceId, name: &str) -> Result<Val> {
        let g = self.global(instance, name)?;
        self.get(g)
    }

    /// See [`StoreExt::global_set`](crate::StoreExt::global_set).
    fn global_set(&mut self, instance: InstanceId, name: &str, value: Val) -> Result<()> {
        let g = self.global(instance, name)?;
        self.set(g, value)
    }

    /// See [`StoreExt::table_size`](crate::StoreExt::table_size).
    fn table_size(&mut self, instance: InstanceId, name: &str) -> Result<u64> {
        let t = self.table(instance, name)?;
        self.table_len(t)
    }

    /// See [`StoreExt::table_get`](crate::StoreExt::table_get).
    fn table_get(&mut self, instance: InstanceId, name: &str, index: u64) -> Result<Val> {
        let t = self.table(instance, name)?;
        self.table_read(t, index)
    }

    /// See [`StoreExt::table_set`](crate::StoreExt::table_set).
    fn table_set(
        &mut self,
        instance: InstanceId,
        name: &str,
        index: u64,
        value: Val,
    ) -> Result<()> {
        let t = self.table(instance, name)?;
        self.table_write(t, index, value)
    }

    /// See [`StoreExt::table_grow`](crate::StoreExt::table_grow).
    fn table_grow(
        &mut self,
        instance: InstanceId,
        name: &str,
        delta: u64,
        init: Val,
    ) -> Result<u64> {
        let t = self.table(instance, name)?;
        self.table_extend(t, delta, init)
    }
}

/// One kind of handle an erased store gives out: the engine's handles by
/// id index, and the ids already resolved from an export, by instance then
/// export name (nested so a lookup borrows the `&str` instead of allocating
/// a key). Resolving an export again returns its id, so by-name access in a
/// loop does not grow the table.
struct Handles<H> {
    /// What the handles are, for the foreign-handle error.
    what: &'static str,
    items: Vec<H>,
    by_export: BTreeMap<u32, BTreeMap<String, u32>>,
}

impl<H> Handles<H> {
    fn new(what: &'static str) -> Self {
        Self {
            what,
            items: Vec::new(),
            by_export: BTreeMap::new(),
        }
    }

    /// The handle behind id (`store`, `index`) given to the store tagged
    /// `tag`: an id of another store, or one no store gave out, is
    /// [`ErrorKind::ForeignHandle`].
    fn get(&self, tag: u32, store: u32, index: u32, backend: BackendKind) -> Result<&H> {
        (store == tag)
            .then(|| self.items.get(index as usize))
            .flatten()
            .ok_or_else(|| Error::foreign_handle(self.what).with_backend(backend))
    }

    /// The index of export `name` of `instance` (at `index` among the
    /// store's instances, already checked to be this store's), resolving it
    /// with `resolve` the first time.
    fn resolve<S: ?Sized, I>(
        &mut self,
        store: &mut S,
        instance: &I,
        index: u32,
        name: &str,
        resolve: impl FnOnce(&mut S, &I, &str) -> Result<H>,
    ) -> Result<u32> {
        if let Some(&i) = self.by_export.get(&index).and_then(|n| n.get(name)) {
            return Ok(i);
        }
        let handle = resolve(store, instance, name)?;
        let i = self.items.len() as u32;
        self.items.push(handle);
        self.by_export
            .entry(index)
            .or_default()
            .insert(String::from(name), i);
        Ok(i)
    }
}

struct Erased<T, S: Store<T>> {
    store: S,
    /// This store's tag, in every handle it gives out.
    tag: u32,
    instances: Vec<S::Instance>,
    funcs: Handles<S::Func>,
    memories: Handles<S::Memory>,
    tables: Handles<S::Table>,
    globals: Handles<S::Global>,
    _t: core::marker::PhantomData<fn(T) -> T>,
}
impl<T, S: Store<T>> Erased<T, S> {
    fn inst(&self, id: InstanceId) -> Result<&S::Instance> {
        instance_of(&self.instances, self.tag, id, self.store.backend())
    }
}

/// The instance behind `id` among `instances` of the store tagged `tag`
/// (a free function, so the caller can borrow the store's other fields
/// beside it).
fn instance_of<I>(instances: &[I], tag: u32, id: InstanceId, backend: BackendKind) -> Result<&I> {
    (id.store == tag)
        .then(|| instances.get(id.index as usize))
        .flatten()
        .ok_or_else(|| Error::foreign_handle("instance").with_backend(backend))
}

impl<T, S: Store<T>> DynStore<T> for Erased<T, S> {
    fn backend(&self) -> BackendKind {
        self.store.backend()
    }

    fn instantiate(&mut self, module: &DynModule, linker: &Linker<T>) -> Result<InstanceId> {
        let m = module.downcast::<S::Module>().ok_or_else(|| {
            Error::new(
                ErrorKind::ForeignHandle,
                alloc::format!(
                    "module was compiled by {}, this store belongs to {}",
                    module.backend(),
                    self.store.backend()
                ),
            )
            .with_backend(self.store.backend())
        })?;
        let inst = self.store.instantiate(m, linker)?;
        let id = u32::try_from(self.instances.len()).map_err(|_| {
            Error::instance_limit(u32::MAX as usize).with_backend(self.store.backend())
        })?;
        self.instances.push(inst);
        Ok(InstanceId {
            store: self.tag,
            index: id,
        })
    }

    fn register(&mut self, name: &str, instance: InstanceId) -> Result<()> {
        let inst = self.inst(instance)?.clone();
        self.store.register(name, &inst)
    }

    fn get_func(&mut self, instance: InstanceId, name: &str) -> Result<FuncId> {
        let inst = instance_of(&self.instances, self.tag, instance, self.store.backend())?;
        let index =
            self.funcs
                .resolve(&mut self.store, inst, instance.index, name, |s, i, n| {
                    s.get_func(i, n)
                })?;
        Ok(FuncId {
            store: self.tag,
            index,
        })
    }

    fn func_type(&self, func: FuncId) -> Result<FuncType> {
        let f = self
            .funcs
            .get(self.tag, func.store, func.index, self.store.backend())?;
        Ok(self.store.func_type(f))
    }

    fn call(&mut self, func: FuncId, args: &[Val], results: &mut [Val]) -> Result<()> {
        // Field by field, so the handle is borrowed beside the store.
        let f = self
            .funcs
            .get(self.tag, func.store, func.index, self.store.backend())?;
        self.store.call(f, args, results)
    }

    fn call_async<'a>(
        &'a mut self,
        func: FuncId,
        args: &'a [Val],
        results: &'a mut [Val],
    ) -> crate::CallFuture<'a> {
        let f = match self
            .funcs
            .get(self.tag, func.store, func.index, self.store.backend())
        {
            Ok(f) => f,
            Err(e) => return alloc::boxed::Box::pin(core::future::ready(Err(e))),
        };
        self.store.call_async(f, args, results)
    }

    fn memory(&mut self, instance: InstanceId, name: &str) -> Result<MemoryId> {
        let inst = instance_of(&self.instances, self.tag, instance, self.store.backend())?;
        let index =
            self.memories
                .resolve(&mut self.store, inst, instance.index, name, |s, i, n| {
                    s.memory(i, n)
                })?;
        Ok(MemoryId {
            store: self.tag,
            index,
        })
    }

    fn table(&mut self, instance: InstanceId, name: &str) -> Result<TableId> {
        let inst = instance_of(&self.instances, self.tag, instance, self.store.backend())?;
        let index =
            self.tables
                .resolve(&mut self.store, inst, instance.index, name, |s, i, n| {
                    s.table(i, n)
                })?;
        Ok(TableId {
            store: self.tag,
            index,
        })
    }

    fn global(&mut self, instance: InstanceId, name: &str) -> Result<GlobalId> {
        let inst = instance_of(&self.instances, self.tag, instance, self.store.backend())?;
        let index =
            self.globals
                .resolve(&mut self.store, inst, instance.index, name, |s, i, n| {
                    s.global(i, n)
                })?;
        Ok(GlobalId {
            store: self.tag,
            index,
        })
    }

    fn memory_len(&mut self, memory: MemoryId) -> Result<u64> {
        let m = self
            .memories
            .get(self.tag, memory.store, memory.index, self.store.backend())?;
        self.store.memory_len(m)
    }

    fn read(&mut self, memory: MemoryId, offset: u64, buf: &mut [u8]) -> Result<()> {
        let m = self
            .memories
            .get(self.tag, memory.store, memory.index, self.store.backend())?;
        self.store.read(m, offset, buf)
    }

    fn write(&mut self, memory: MemoryId, offset: u64, data: &[u8]) -> Result<()> {
        let m = self
            .memories
            .get(self.tag, memory.store, memory.index, self.store.backend())?;
        self.store.write(m, offset, data)
    }

    fn grow(&mut self, memory: MemoryId, pages: u64) -> Result<u64> {
        let m = self
            .memories
            .get(self.tag, memory.store, memory.index, self.store.backend())?;
        self.store.grow(m, pages)
    }

    fn get(&mut self, global: GlobalId) -> Result<Val> {
        let g = self
            .globals
            .get(self.tag, global.store, global.index, self.store.backend())?;
        self.store.get(g)
    }

    fn set(&mut self, global: GlobalId, value: Val) -> Result<()> {
        let g = self
            .globals
            .get(self.tag, global.store, global.index, self.store.backend())?;
        self.store.set(g, value)
    }

    fn table_len(&mut self, table: TableId) -> Result<u64> {
        let t = self
            .tables
            .get(self.tag, table.store, table.index, self.store.backend())?;
        self.store.table_len(t)
    }

    fn table_read(&mut self, table: TableId, index: u64) -> Result<Val> {
        let t = self
            .tables
            .get(self.tag, table.store, table.index, self.store.backend())?;
        self.store.table_read(t, index)
    }

    fn table_write(&mut self, table: TableId, index: u64, value: Val) -> Result<()> {
        let t = self
            .tables
            .get(self.tag, table.store, table.index, self.store.backend())?;
        self.store.table_write(t, index, value)
    }

    fn table_extend(&mut self, table: TableId, delta: u64, init: Val) -> Result<u64> {
        let t = self
            .tables
            .get(self.tag, table.store, table.index, self.store.backend())?;
        self.store.table_extend(t, delta, init)
    }

    fn data(&self) -> &T {
        self.store.data()
    }

    fn data_mut(&mut self) -> &mut T {
        self.store.data_mut()
    }

    fn fuel(&mut self) -> Result<u64> {
        self.store.fuel()
    }

    fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        self.store.set_fuel(fuel)
    }

    fn gas(&mut self) -> Result<u64> {
        self.store.gas()
    }

    fn set_gas(&mut self, gas: u64) -> Result<()> {
        self.store.set_gas(gas)
    }

    fn set_reply_area(&mut self, area: crate::abi::Scratch) {
        self.store.set_reply_area(area);
    }
}
