//! The contract every backend implements: [`Runtime`], [`Module`], [`Store`].
//!
//! The traits mirror what all three engines share: an engine compiles
//! modules; a store owns instances, their memories, tables and globals, the
//! host state `T` and the limits; handles (`Instance`, `Func`, `Memory`,
//! `Table`, `Global`) are only valid in the store that made them. Everything is statically dispatched through
//! associated types, so generic code compiles down to direct calls into the
//! engine. [`DynRuntime`](crate::DynRuntime) erases the engine for hosts that
//! choose it at run time.
//!
//! The required methods are the minimum a backend must provide: resolve a
//! handle once, then operate on it. Conveniences such as calling an export
//! by name or reading a memory by its export name live in [`StoreExt`],
//! implemented for every store on top of the handles.

use alloc::vec;
use alloc::vec::Vec;

use crate::{
    ArtifactFormat, BackendKind, Config, Error, ErrorKind, ExportType, ExternType, FuncType,
    ImportType, Limits, Linker, Result, Val, artifacts_unsupported,
};

/// An engine: compiles modules and creates stores.
pub trait Runtime: Clone + Send + Sync + Sized + 'static {
    /// A compiled module, cheap to clone, usable from any store of this engine.
    type Module: Module;
    /// A store with host state `T`.
    type Store<T: Send + 'static>: Store<T, Module = Self::Module>;

    /// Which engine this is.
    const BACKEND: BackendKind;

    /// The parts of the contract this engine cannot honour exactly, each
    /// with its reason (see [`Feature`](crate::Feature)); conformance and
    /// the README's engine matrix are checked against it.
    const SUPPORT: crate::Support;

    /// Create an engine with the given limit mechanisms compiled in.
    fn new(config: &Config) -> Result<Self>;

    /// The configuration this engine was created with.
    fn config(&self) -> &Config;

    /// Validate and compile a binary module. Malformed or invalid bytes give
    /// [`ErrorKind::Compile`].
    fn compile(&self, wasm: &[u8]) -> Result<Self::Module>;

    /// A new store holding `data`, enforcing `limits`.
    fn store<T: Send + 'static>(&self, data: T, limits: &Limits) -> Result<Self::Store<T>>;

    /// The format of this engine's serialised modules, or `None` if it has
    /// none (see [`ArtifactFormat`]; wasmi compiles lazily and has none).
    fn artifact_format(&self) -> Option<ArtifactFormat> {
        None
    }

    /// Serialise a module this engine compiled, to be loaded later with
    /// [`deserialize_module`](Self::deserialize_module) by an engine of the
    /// same [`ArtifactFormat`]. [`ErrorKind::Unsupported`] on engines
    /// without artifacts.
    fn serialize_module(&self, module: &Self::Module) -> Result<Vec<u8>> {
        let _ = module;
        Err(artifacts_unsupported(Self::BACKEND))
    }

    /// Load a module from bytes [`serialize_module`](Self::serialize_module)
    /// wrote, without compiling. [`ErrorKind::Unsupported`] on engines
    /// without artifacts; bytes the engine recognises as foreign give
    /// [`ErrorKind::Engine`].
    ///
    /// # Safety
    ///
    /// The bytes are machine code and engine data structures that are used
    /// as they are, so they must be exactly what `serialize_module` returned
    /// on an engine whose [`artifact_format`](Self::artifact_format) equals
    /// this engine's, unmodified since. The engines check little themselves
    /// (wasmtime its version and settings, wasmer only a magic number, its
    /// format revision and CPU features): anything else, from a flipped bit
    /// to bytes an attacker wrote, is undefined behaviour, up to running
    /// arbitrary code. Hosts that keep artifacts on disk must check their
    /// integrity and origin first (`anywasm-cache` does).
    unsafe fn deserialize_module(&self, bytes: &[u8]) -> Result<Self::Module> {
        let _ = bytes;
        Err(artifacts_unsupported(Self::BACKEND))
    }
}

/// The future of [`Store::call_async`].
pub type CallFuture<'a> =
    core::pin::Pin<alloc::boxed::Box<dyn core::future::Future<Output = Result<()>> + Send + 'a>>;

/// A compiled module.
pub trait Module: Clone + Send + Sync + 'static {
    /// What the module imports, in declaration order.
    fn imports(&self) -> Vec<ImportType>;
    /// What the module exports, in declaration order.
    fn exports(&self) -> Vec<ExportType>;
}

/// A store: instances plus their state, limits and host data `T`.
///
/// Memories, tables and globals are reached through handles resolved once
/// from an instance and an export name ([`memory`](Self::memory),
/// [`table`](Self::table), [`global`](Self::global)); like instances and
/// functions, a handle is valid only in the store that resolved it
/// ([`ErrorKind::ForeignHandle`] elsewhere). The by-name forms
/// ([`StoreExt::memory_read`] and friends) resolve and access in one call.
/// All host-side memory accesses are bounds-checked in 64-bit arithmetic
/// against the memory's size at that moment, so a guest that grew its memory
/// is never seen through a stale view (a handle names the memory, never its
/// size or base).
pub trait Store<T>: Send {
    /// The module type of this store's engine.
    type Module: Module;
    /// Handle to an instance in this store.
    type Instance: Clone + Send + Sync + 'static;
    /// Handle to a function in this store.
    type Func: Clone + Send + Sync + 'static;
    /// Handle to an exported memory in this store.
    type Memory: Clone + Send + Sync + 'static;
    /// Handle to an exported table in this store.
    type Table: Clone + Send + Sync + 'static;
    /// Handle to an exported global in this store.
    type Global: Clone + Send + Sync + 'static;

    /// The engine behind this store.
    fn backend(&self) -> BackendKind;

    /// Instantiate `module`, resolving imports first from instances
    /// [`register`](Self::register)ed under the import's module name, then
    /// from `linker`. Missing or mistyped imports give
    /// [`ErrorKind::Unlinkable`]; a trap in the start function or while
    /// initialising segments gives [`ErrorKind::Trap`].
    fn instantiate(&mut self, module: &Self::Module, linker: &Linker<T>) -> Result<Self::Instance>;

    /// Make `instance`'s exports importable by later instantiations under
    /// the module name `name`.
    fn register(&mut self, name: &str, instance: &Self::Instance) -> Result<()>;

    /// The exported function `name` of `instance`.
    fn get_func(&mut self, instance: &Self::Instance, name: &str) -> Result<Self::Func>;

    /// The signature of `func`.
    fn func_type(&self, func: &Self::Func) -> FuncType;

    /// Call `func`. `args` and `results` must match its signature
    /// ([`ErrorKind::TypeMismatch`] otherwise). Limits apply: fuel is drawn
    /// from the store's budget and the per-call deadline starts now.
    fn call(&mut self, func: &Self::Func, args: &[Val], results: &mut [Val]) -> Result<()>;

    /// [`call`](Self::call) as a future: while an async host function
    /// ([`Linker::func_async`]) awaits, the guest call is suspended and the
    /// thread is free, on engines with [`Feature::AsyncSuspend`](crate::Feature::AsyncSuspend)
    /// (wasmtime on a fiber, wasmi by pausing a resumable call); the others
    /// run the whole call when first polled, parking the thread while a host
    /// future is pending. Limits apply as for `call`, and time spent awaiting
    /// counts against the timeout.
    ///
    /// Dropping the future before it is done abandons the guest call: the
    /// instances it ran in may be left mid-call and should be dropped with
    /// the store (the plugin layer discards them).
    fn call_async<'a>(
        &'a mut self,
        func: &'a Self::Func,
        args: &'a [Val],
        results: &'a mut [Val],
    ) -> CallFuture<'a> {
        alloc::boxed::Box::pin(async move { self.call(func, args, results) })
    }

    /// The exported memory `name` of `instance`, resolved once: keep the
    /// handle and access the memory through it ([`memory_len`](Self::memory_len),
    /// [`read`](Self::read), [`write`](Self::write), [`grow`](Self::grow)).
    /// No memory export of that name is [`ErrorKind::ExportNotFound`]; an
    /// instance of another store is [`ErrorKind::ForeignHandle`].
    fn memory(&mut self, instance: &Self::Instance, name: &str) -> Result<Self::Memory>;

    /// The exported table `name` of `instance`, resolved once (errors as
    /// for [`memory`](Self::memory)).
    fn table(&mut self, instance: &Self::Instance, name: &str) -> Result<Self::Table>;

    /// The exported global `name` of `instance`, resolved once (errors as
    /// for [`memory`](Self::memory)).
    fn global(&mut self, instance: &Self::Instance, name: &str) -> Result<Self::Global>;

    /// Size in bytes of `memory`, read now (a memory the guest grew shows
    /// its new size through the same handle).
    fn memory_len(&mut self, memory: &Self::Memory) -> Result<u64>;

    /// Copy from `memory` at `offset` into `buf`. A range past the end is
    /// [`ErrorKind::OutOfBounds`] and copies nothing.
    fn read(&mut self, memory: &Self::Memory, offset: u64, buf: &mut [u8]) -> Result<()>;

    /// Copy `data` into `memory` at `offset`. A range past the end is
    /// [`ErrorKind::OutOfBounds`] and writes nothing.
    fn write(&mut self, memory: &Self::Memory, offset: u64, data: &[u8]) -> Result<()>;

    /// Grow `memory` by `pages`, returning the old size in pages. Growing
    /// past the store's limit or the memory's declared maximum is
    /// [`ErrorKind::LimitExceeded`].
    fn grow(&mut self, memory: &Self::Memory, pages: u64) -> Result<u64>;

    /// Value of `global`.
    fn get(&mut self, global: &Self::Global) -> Result<Val>;

    /// Set the mutable `global` to `value`. An immutable global or a value
    /// of another type is [`ErrorKind::TypeMismatch`].
    fn set(&mut self, global: &Self::Global, value: Val) -> Result<()>;

    /// Number of elements of `table`.
    fn table_len(&mut self, table: &Self::Table) -> Result<u64>;

    /// Element `index` of `table` ([`ErrorKind::OutOfBounds`] past its end).
    fn table_read(&mut self, table: &Self::Table, index: u64) -> Result<Val>;

    /// Set element `index` of `table` ([`ErrorKind::OutOfBounds`] past its
    /// end, [`ErrorKind::TypeMismatch`] for a value of another type).
    fn table_write(&mut self, table: &Self::Table, index: u64, value: Val) -> Result<()>;

    /// Grow `table` by `delta` elements filled with `init`, returning the
    /// old size. Growing past the store's limit or the table's declared
    /// maximum is [`ErrorKind::LimitExceeded`].
    fn table_extend(&mut self, table: &Self::Table, delta: u64, init: Val) -> Result<u64>;

    /// The host state.
    fn data(&self) -> &T;

    /// The host state, mutably.
    fn data_mut(&mut self) -> &mut T;

    /// Fuel left in the store's budget ([`ErrorKind::Unsupported`] without
    /// [`Config::consume_fuel`]).
    fn fuel(&mut self) -> Result<u64>;

    /// Replace the store's remaining fuel.
    fn set_fuel(&mut self, fuel: u64) -> Result<()>;

    /// Gas left in the store's budget: the engine-neutral count every
    /// engine agrees on ([`ErrorKind::Unsupported`] without [`Config::gas`]).
    /// A store without [`Limits::gas`] starts with the largest budget
    /// (`i64::MAX`), so what calls used can still be read.
    ///
    /// [`Limits::gas`]: crate::Limits::gas
    fn gas(&mut self) -> Result<u64>;

    /// Replace the store's remaining gas (clamped to `i64::MAX`).
    fn set_gas(&mut self, gas: u64) -> Result<()>;

    /// The reply area of the ABI guest running in this store
    /// ([`abi::V2_REPLIES_EXPORT`](crate::abi::V2_REPLIES_EXPORT)): from now
    /// on, ABI host functions ([`Linker::abi_func`](crate::Linker::abi_func))
    /// called from this store write a response that fits there instead of
    /// allocating it in the guest ([`Caller::reply_area`](crate::Caller::reply_area)).
    /// [`Scratch::NONE`](crate::abi::Scratch::NONE) turns it off.
    ///
    /// The area is the store's, not an instance's: set it only on a store
    /// whose ABI host functions are called by the one instance that
    /// returned it, as a `Plugin`'s are. The default keeps no area (every
    /// response is allocated); every anywasm backend keeps it.
    fn set_reply_area(&mut self, area: crate::abi::Scratch) {
        let _ = area;
    }
}

/// Conveniences over [`Store`], implemented for every store: calling an
/// export by name, and memory, table and global access by export name
/// (each resolves the handle, then uses it; hold the handle instead when
/// touching the same export repeatedly).
pub trait StoreExt<T>: Store<T> {
    /// Call the export `name` of `instance`, returning its results.
    fn call_export(
        &mut self,
        instance: &Self::Instance,
        name: &str,
        args: &[Val],
    ) -> Result<Vec<Val>> {
        let func = self.get_func(instance, name)?;
        let ty = self.func_type(&func);
        let mut results: Vec<Val> = ty.results().iter().map(|t| t.default_value()).collect();
        self.call(&func, args, &mut results)?;
        Ok(results)
    }

    /// Size in bytes of the exported memory `memory` (see [`Store::memory_len`]).
    fn memory_size(&mut self, instance: &Self::Instance, memory: &str) -> Result<u64> {
        let m = self.memory(instance, memory)?;
        self.memory_len(&m)
    }

    /// Copy from the exported memory `memory` at `offset` into `buf` (see
    /// [`Store::read`]).
    fn memory_read(
        &mut self,
        instance: &Self::Instance,
        memory: &str,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<()> {
        let m = self.memory(instance, memory)?;
        self.read(&m, offset, buf)
    }

    /// Copy `data` into the exported memory `memory` at `offset` (see
    /// [`Store::write`]).
    fn memory_write(
        &mut self,
        instance: &Self::Instance,
        memory: &str,
        offset: u64,
        data: &[u8],
    ) -> Result<()> {
        let m = self.memory(instance, memory)?;
        self.write(&m, offset, data)
    }

    /// Grow the exported memory `memory` by `pages`, returning the old size
    /// in pages (see [`Store::grow`]).
    fn memory_grow(&mut self, instance: &Self::Instance, memory: &str, pages: u64) -> Result<u64> {
        let m = self.memory(instance, memory)?;
        self.grow(&m, pages)
    }

    /// Read `len` bytes of the memory export `memory` into a new vector.
    fn memory_read_vec(
        &mut self,
        instance: &Self::Instance,
        memory: &str,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>> {
        let m = self.memory(instance, memory)?;
        let size = self.memory_len(&m)?;
        crate::check_range(offset, len, size).map_err(|e| e.with_backend(self.backend()))?;
        let mut buf = vec![0; len];
        self.read(&m, offset, &mut buf)?;
        Ok(buf)
    }

    /// Value of the exported global `name` (see [`Store::get`]).
    fn global_get(&mut self, instance: &Self::Instance, name: &str) -> Result<Val> {
        let g = self.global(instance, name)?;
        self.get(&g)
    }

    /// Set the exported mutable global `name` (see [`Store::set`]).
    fn global_set(&mut self, instance: &Self::Instance, name: &str, value: Val) -> Result<()> {
        let g = self.global(instance, name)?;
        self.set(&g, value)
    }

    /// Number of elements of the exported table `name` (see
    /// [`Store::table_len`]).
    fn table_size(&mut self, instance: &Self::Instance, name: &str) -> Result<u64> {
        let t = self.table(instance, name)?;
        self.table_len(&t)
    }

    /// Element `index` of the exported table `name` (see
    /// [`Store::table_read`]).
    fn table_get(&mut self, instance: &Self::Instance, name: &str, index: u64) -> Result<Val> {
        let t = self.table(instance, name)?;
        self.table_read(&t, index)
    }

    /// Set element `index` of the exported table `name` (see
    /// [`Store::table_write`]).
    fn table_set(
        &mut self,
        instance: &Self::Instance,
        name: &str,
        index: u64,
        value: Val,
    ) -> Result<()> {
        let t = self.table(instance, name)?;
        self.table_write(&t, index, value)
    }

    /// Grow the exported table `name` by `delta` elements filled with
    /// `init`, returning the old size (see [`Store::table_extend`]).
    fn table_grow(
        &mut self,
        instance: &Self::Instance,
        name: &str,
        delta: u64,
        init: Val,
    ) -> Result<u64> {
        let t = self.table(instance, name)?;
        self.table_extend(&t, delta, init)
    }
}

impl<T, S: Store<T> + ?Sized> StoreExt<T> for S {}

/// The error for a missing export, shared by backends so wording is uniform.
pub fn export_not_found(name: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::ExportNotFound,
        alloc::format!("no {what} export named `{name}`"),
    )
}

/// Find the export `name` in a module's export list.
pub fn find_export<'a>(exports: &'a [ExportType], name: &str) -> Option<&'a ExternType> {
    exports.iter().find(|e| e.name == name).map(|e| &e.ty)
}
