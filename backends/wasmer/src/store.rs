//! [`Store`]: one wasmer store plus the anywasm state around it.
//!
//! Everything host functions need (the host state `T`, the instances, the
//! funcref table, the fuel budget) lives in a [`StoreData`] inside one
//! store-level `FunctionEnv`, so the engine trampolines reach it through
//! `FunctionEnvMut::data_and_store_mut` exactly like `Store`'s own methods.
//! wasmer keeps every instance (and every funcref/externref handle it hands
//! out) alive until the store is dropped; handles here are small indices.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anywasm_core::{
    BackendKind, Error, ErrorKind, FuncRef, FuncType, Limits, Linker, Val, check_args,
};
use wasmer::{AsStoreRef, Extern, FunctionEnv, StoreMut, Value};

use crate::access::{Global, Memory, Table};
use crate::call::Typed;
use crate::convert::func_type;
use crate::engine::Engine;
use crate::error::{BACKEND, err, tag};
use crate::fuel::FuelGlobals;
use crate::middleware::is_hidden;
use crate::module::Module;

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

/// One instantiated module.
pub(crate) struct InstanceEntry {
    pub(crate) instance: wasmer::Instance,
    pub(crate) fuel: Option<FuelGlobals>,
    /// The exports `Caller::call` re-entered, with their signatures, so a
    /// re-entry (every ABI host call re-enters `anywasm_alloc`) neither
    /// looks the name up nor converts the type again. At most
    /// [`MAX_REENTRY_EXPORTS`] names.
    pub(crate) reentry: Vec<(Box<str>, wasmer::Function, std::sync::Arc<FuncType>)>,
}

/// See [`InstanceEntry::reentry`]: past this many names (a host calling
/// exports it picks at run time), exports are resolved on every call.
pub(crate) const MAX_REENTRY_EXPORTS: usize = 16;

/// The state reachable from host trampolines (lives in a `FunctionEnv`).
pub(crate) struct StoreData<T> {
    pub(crate) host: T,
    pub(crate) limits: Limits,
    /// Whether the engine meters fuel.
    pub(crate) metered: bool,
    /// Remaining fuel (meaningful only when `metered`).
    pub(crate) fuel: u64,
    /// By slot; `None` for a failed instantiation whose host functions may
    /// still be reachable from a shared table.
    pub(crate) instances: Vec<Option<InstanceEntry>>,
    pub(crate) live_instances: usize,
    pub(crate) registered: HashMap<String, usize>,
    /// The funcref table: `FuncRef(n)` is `funcs[n]`.
    pub(crate) funcs: Vec<wasmer::Function>,
    /// Engine function pointer -> index in `funcs`.
    func_ids: HashMap<usize, u32>,
    /// Host stack pointer at the start of the outermost top-level call on
    /// the running call's thread (this store's or, for a store called from
    /// another's host function, that one's): the re-entry budget's origin.
    pub(crate) entry_sp: Option<usize>,
    /// `Caller::call`s nested in the running top-level call.
    pub(crate) reentry_depth: u32,
    /// The gas counter instrumented modules import (with `Config::gas`).
    pub(crate) gas: Option<wasmer::Global>,
    /// The running top-level call's deadline, if it has one.
    pub(crate) deadline: Option<std::time::Instant>,
    /// Where ABI host functions write responses that fit
    /// (`Store::set_reply_area`).
    pub(crate) reply_area: anywasm_core::abi::Scratch,
}

impl<T> StoreData<T> {
    /// The fuel globals of every live instance.
    pub(crate) fn fuel_globals(&self) -> impl Iterator<Item = &FuelGlobals> {
        self.instances
            .iter()
            .filter_map(|e| e.as_ref()?.fuel.as_ref())
    }

    /// The instance in `slot`, if it exists.
    pub(crate) fn instance(&self, slot: usize) -> Option<&wasmer::Instance> {
        Some(&self.instances.get(slot)?.as_ref()?.instance)
    }

    /// The export `name` of the instance in `slot`, hiding injected exports.
    pub(crate) fn export(&self, slot: usize, name: &str) -> Option<&Extern> {
        if is_hidden(name, self.metered) {
            return None;
        }
        self.instance(slot)?.exports.get_extern(name)
    }

    /// Enter a function reference into the funcref table.
    pub(crate) fn intern_func(
        &mut self,
        store: &impl AsStoreRef,
        f: &wasmer::Function,
    ) -> Result<FuncRef, Error> {
        let raw = Value::FuncRef(Some(f.clone())).as_raw(store);
        // SAFETY: `as_raw` of a funcref value initialises the `funcref` field.
        let key = unsafe { raw.funcref };
        if let Some(&n) = self.func_ids.get(&key) {
            return Ok(FuncRef(n));
        }
        let n = u32::try_from(self.funcs.len())
            .map_err(|_| err(ErrorKind::Engine, "too many function references"))?;
        self.funcs.push(f.clone());
        self.func_ids.insert(key, n);
        Ok(FuncRef(n))
    }
}

/// Handle to an instance in a [`Store`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instance {
    pub(crate) store: u64,
    pub(crate) slot: usize,
}

/// Handle to a function in a [`Store`].
#[derive(Clone, Debug)]
pub struct Func {
    pub(crate) store: u64,
    pub(crate) func: wasmer::Function,
    pub(crate) ty: Arc<FuncType>,
    /// The typed fast path, for the signatures it covers.
    pub(crate) typed: Option<Typed>,
}

/// A wasmer store with host state `T` and per-store [`Limits`].
pub struct Store<T> {
    pub(crate) store: wasmer::Store,
    pub(crate) env: FunctionEnv<StoreData<T>>,
    pub(crate) engine: Engine,
    pub(crate) id: u64,
    /// The per-call deadline and how to interrupt this store.
    #[cfg(unix)]
    pub(crate) timeout: Option<(std::time::Duration, wasmer::Interrupter)>,
}

// SAFETY: wasmer 7's `Store` is `!Send` only because its object arena holds
// raw pointers into VM structures it owns and type-erased boxes, and because
// of an optional `on_called` hook that is not `Send`. None of that is tied to
// a thread while the store is idle, and `&mut self` on every operation means
// it is idle whenever it can be moved: the thread-affine state (the "current
// store" context, the interrupt registration, trap handlers) exists only for
// the duration of a call and is torn down before the call returns. Every
// object in the arena is created by this crate from `Send` data: the host
// state `T: Send` (in the `FunctionEnv`), `Send + Sync` host closures,
// `u32` externref payloads, and wasmer's own instances, memories, tables and
// globals (which wasmer-vm itself marks `Send`). The wasmer store is private,
// so no user code can add anything else, and `on_called` is never set.
unsafe impl<T: Send> Send for Store<T> {}

impl<T> std::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The turns of [`MAX_BLOCKING_CALLS`](crate::MAX_BLOCKING_CALLS).
static BLOCKING_CALLS: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(crate::MAX_BLOCKING_CALLS);

pub(crate) fn foreign(what: &str) -> Error {
    crate::error::tag(Error::foreign_handle(what))
}

impl<T: Send + 'static> Store<T> {
    pub(crate) fn new(engine: &Engine, data: T, limits: &Limits) -> Result<Self, Error> {
        limits.check_against(engine.config()).map_err(tag)?;
        let mut store = wasmer::Store::new(engine.wasmer().clone());
        let metered = engine.config().get_consume_fuel();
        let state = StoreData {
            host: data,
            limits: limits.clone(),
            metered,
            fuel: limits.get_fuel().unwrap_or(u64::MAX),
            instances: Vec::new(),
            live_instances: 0,
            registered: HashMap::new(),
            funcs: Vec::new(),
            func_ids: HashMap::new(),
            entry_sp: None,
            reentry_depth: 0,
            gas: engine
                .config()
                .get_gas()
                .then(|| crate::gas::counter(&mut store, limits)),
            deadline: None,
            reply_area: anywasm_core::abi::Scratch::NONE,
        };
        let env = FunctionEnv::new(&mut store, state);
        #[cfg(unix)]
        let timeout = limits.get_timeout().map(|d| (d, store.interrupter()));
        Ok(Self {
            store,
            env,
            engine: engine.clone(),
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            #[cfg(unix)]
            timeout,
        })
    }

    /// Run `f` with the store data and the wasmer store at once.
    pub(crate) fn with_parts<R>(
        &mut self,
        f: impl FnOnce(&mut StoreData<T>, &mut StoreMut<'_>) -> R,
    ) -> R {
        let mut env = self.env.clone().into_mut(&mut self.store);
        let (data, mut store) = env.data_and_store_mut();
        f(data, &mut store)
    }

    pub(crate) fn state(&self) -> &StoreData<T> {
        self.env.as_ref(&self.store)
    }

    pub(crate) fn state_mut(&mut self) -> &mut StoreData<T> {
        self.env.as_mut(&mut self.store)
    }

    pub(crate) fn own_instance(&self, instance: &Instance) -> Result<(), Error> {
        if instance.store == self.id && self.state().instance(instance.slot).is_some() {
            Ok(())
        } else {
            Err(foreign("instance"))
        }
    }
}

impl<T: Send + 'static> anywasm_core::Store<T> for Store<T> {
    type Module = Module;
    type Instance = Instance;
    type Func = Func;
    type Memory = Memory;
    type Table = Table;
    type Global = Global;

    fn backend(&self) -> BackendKind {
        BACKEND
    }

    fn instantiate(&mut self, module: &Module, linker: &Linker<T>) -> Result<Instance, Error> {
        crate::link::instantiate(self, module, linker)
    }

    fn register(&mut self, name: &str, instance: &Instance) -> Result<(), Error> {
        self.own_instance(instance)?;
        self.state_mut()
            .registered
            .insert(name.to_string(), instance.slot);
        Ok(())
    }

    fn get_func(&mut self, instance: &Instance, name: &str) -> Result<Func, Error> {
        let func = self.export(instance, name, "function", |e| match e {
            Extern::Function(f) => Some(f.clone()),
            _ => None,
        })?;
        let ty = func_type(&func.ty(&self.store)).ok_or_else(|| {
            err(
                ErrorKind::Unsupported,
                format!("function `{name}` uses a value type anywasm does not support"),
            )
        })?;
        let typed = Typed::new(&func, &ty, &self.store);
        Ok(Func {
            store: self.id,
            func,
            ty: Arc::new(ty),
            typed,
        })
    }

    fn func_type(&self, func: &Func) -> FuncType {
        (*func.ty).clone()
    }

    fn call(&mut self, func: &Func, args: &[Val], results: &mut [Val]) -> Result<(), Error> {
        if func.store != self.id {
            return Err(foreign("function"));
        }
        check_args(&func.ty, args, results).map_err(tag)?;
        self.call_checked(func, args, results)
    }

    /// wasmer cannot suspend a guest call through this store (its async
    /// calls need a separate async store type whose futures are not `Send`),
    /// so the call runs when first polled and an async host function parks
    /// the thread until its future is done. On a multi-threaded tokio
    /// runtime that happens under `block_in_place`: the worker hands its
    /// other tasks (and the timer driver) to another thread first, so
    /// concurrent calls cost one OS thread each rather than stalling the
    /// runtime. At most [`MAX_BLOCKING_CALLS`](crate::MAX_BLOCKING_CALLS)
    /// such calls block at once in a process; the others wait (suspended)
    /// for one to finish, so the calls never take every thread of tokio's
    /// blocking pool (512 by default) and leave no thread to run the timers
    /// their host functions wait for.
    fn call_async<'a>(
        &'a mut self,
        func: &'a Func,
        args: &'a [Val],
        results: &'a mut [Val],
    ) -> anywasm_core::CallFuture<'a> {
        Box::pin(async move {
            use tokio::runtime::{Handle, RuntimeFlavor};
            match Handle::try_current().map(|h| h.runtime_flavor()) {
                Ok(RuntimeFlavor::MultiThread) => {
                    let _turn = BLOCKING_CALLS.acquire().await;
                    tokio::task::block_in_place(|| {
                        anywasm_core::Store::call(self, func, args, results)
                    })
                }
                _ => anywasm_core::Store::call(self, func, args, results),
            }
        })
    }

    fn memory(&mut self, instance: &Instance, name: &str) -> Result<Memory, Error> {
        self.resolve_memory(instance, name)
    }

    fn table(&mut self, instance: &Instance, name: &str) -> Result<Table, Error> {
        self.resolve_table(instance, name)
    }

    fn global(&mut self, instance: &Instance, name: &str) -> Result<Global, Error> {
        self.resolve_global(instance, name)
    }

    fn memory_len(&mut self, memory: &Memory) -> Result<u64, Error> {
        self.mem_size(memory)
    }

    fn read(&mut self, memory: &Memory, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.mem_read(memory, offset, buf)
    }

    fn write(&mut self, memory: &Memory, offset: u64, data: &[u8]) -> Result<(), Error> {
        self.mem_write(memory, offset, data)
    }

    fn grow(&mut self, memory: &Memory, pages: u64) -> Result<u64, Error> {
        self.mem_grow(memory, pages)
    }

    fn get(&mut self, global: &Global) -> Result<Val, Error> {
        self.glob_get(global)
    }

    fn set(&mut self, global: &Global, value: Val) -> Result<(), Error> {
        self.glob_set(global, value)
    }

    fn table_len(&mut self, table: &Table) -> Result<u64, Error> {
        self.tab_size(table)
    }

    fn table_read(&mut self, table: &Table, index: u64) -> Result<Val, Error> {
        self.tab_get(table, index)
    }

    fn table_write(&mut self, table: &Table, index: u64, value: Val) -> Result<(), Error> {
        self.tab_set(table, index, value)
    }

    fn table_extend(&mut self, table: &Table, delta: u64, init: Val) -> Result<u64, Error> {
        self.tab_grow(table, delta, init)
    }

    fn data(&self) -> &T {
        &self.state().host
    }

    fn data_mut(&mut self) -> &mut T {
        &mut self.state_mut().host
    }

    fn fuel(&mut self) -> Result<u64, Error> {
        let state = self.state();
        if state.metered {
            Ok(state.fuel)
        } else {
            Err(no_fuel())
        }
    }

    fn set_fuel(&mut self, fuel: u64) -> Result<(), Error> {
        let state = self.state_mut();
        if state.metered {
            state.fuel = fuel;
            Ok(())
        } else {
            Err(no_fuel())
        }
    }

    fn gas(&mut self) -> Result<u64, Error> {
        let counter = self.state().gas.clone().ok_or_else(no_gas)?;
        Ok(crate::gas::remaining(&mut self.store, &counter))
    }

    fn set_gas(&mut self, gas: u64) -> Result<(), Error> {
        let counter = self.state().gas.clone().ok_or_else(no_gas)?;
        counter
            .set(&mut self.store, Value::I64(anywasm_gas::counter_for(gas)))
            .map_err(|e| err(ErrorKind::Engine, format!("setting gas: {e}")))
    }

    fn set_reply_area(&mut self, area: anywasm_core::abi::Scratch) {
        self.state_mut().reply_area = area;
    }
}

fn no_gas() -> Error {
    err(
        ErrorKind::Unsupported,
        "gas needs an engine built with Config::gas(true)",
    )
}

fn no_fuel() -> Error {
    err(
        ErrorKind::Unsupported,
        "fuel needs an engine built with Config::consume_fuel(true)",
    )
}
