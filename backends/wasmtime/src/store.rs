//! [`Store`], [`Instance`] and [`Func`], and the [`StoreData`] every
//! wasmtime store carries besides the user's `T`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anywasm_core::{
    BackendKind, ErrorKind, FuncType, Limits, Linker, Result, Val, check_args, export_not_found,
};
use wasmtime::AsContextMut;

use crate::access::{Global, Memory, Table};
use crate::call::{Scratch, call_func};
use crate::convert::func_type;
use crate::error::{chain_message, err, tag};
use crate::host::unrepresentable;
use crate::limits::Limiter;
use crate::ticker::{Active, NO_DEADLINE, ticks_for};
use crate::{Engine, Module};

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

/// Handle to an instance, valid in the [`Store`] that created it.
#[derive(Clone, Debug)]
pub struct Instance {
    pub(crate) inner: wasmtime::Instance,
    pub(crate) store: u64,
}

/// Handle to an exported function, valid in the [`Store`] that created it.
/// Carries its signature, so [`func_type`](anywasm_core::Store::func_type)
/// needs no lookup.
#[derive(Clone, Debug)]
pub struct Func {
    pub(crate) inner: wasmtime::Func,
    pub(crate) store: u64,
    pub(crate) info: Arc<FuncInfo>,
}

/// A function's signature in both forms, and whether it is plain.
#[derive(Debug)]
pub(crate) struct FuncInfo {
    /// anywasm's view (argument checks, result types for the raw path).
    pub(crate) ty: FuncType,
    /// wasmtime's view (for converting reference values).
    pub(crate) engine_ty: wasmtime::FuncType,
    /// No reference types: calls take the raw fast path (see
    /// [`is_plain`](crate::call::is_plain)).
    pub(crate) plain: bool,
}

impl FuncInfo {
    /// The signature of `func`, the export `name` (which words the error
    /// for a signature anywasm cannot express).
    pub(crate) fn of(
        store: impl wasmtime::AsContext,
        func: &wasmtime::Func,
        name: &str,
    ) -> Result<Self> {
        let engine_ty = func.ty(store);
        let ty = func_type(&engine_ty).ok_or_else(|| unrepresentable(name))?;
        Ok(Self {
            plain: crate::call::is_plain(&ty),
            ty,
            engine_ty,
        })
    }
}

/// A wasmtime store: instances, their memories, tables and globals, the
/// host state `T` and the [`Limits`].
///
/// Handles from another store are rejected with
/// [`ErrorKind::ForeignHandle`] (wasmtime itself would panic).
pub struct Store<T: 'static> {
    pub(crate) inner: wasmtime::Store<StoreData<T>>,
    pub(crate) engine: Engine,
    pub(crate) id: u64,
    pub(crate) registered: HashMap<String, wasmtime::Instance>,
    pub(crate) instance_count: usize,
    pub(crate) max_instances: Option<usize>,
    /// The per-call deadline, when the store has a timeout.
    pub(crate) timeout: Option<Duration>,
    /// The store holds async host functions: every entry is async (see
    /// `fiber.rs`).
    pub(crate) async_imports: bool,
    scratch: Scratch,
}

impl<T: 'static> fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &BackendKind::Wasmtime)
            .field("id", &self.id)
            .field("instances", &self.instance_count)
            .field("registered", &self.registered.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Arm the store's per-call deadline, if it has one; the returned guard
/// keeps the engine's epoch ticker running until it drops.
pub(crate) fn arm_deadline<'e, T>(
    store: &mut wasmtime::Store<StoreData<T>>,
    engine: &'e Engine,
    timeout: Option<Duration>,
) -> Option<Active<'e>> {
    let timeout = timeout?;
    let ticker = engine.ticker()?;
    let active = ticker.activate();
    store.set_epoch_deadline(ticks_for(timeout));
    store.data_mut().deadline = Instant::now().checked_add(timeout);
    Some(active)
}

pub(crate) fn foreign(what: &str) -> anywasm_core::Error {
    anywasm_core::Error::foreign_handle(what).with_backend(crate::error::BACKEND)
}

impl<T: Send + 'static> Store<T> {
    pub(crate) fn create(engine: &Engine, data: T, limits: &Limits) -> Result<Self> {
        let config = engine.config();
        limits.check_against(config).map_err(tag)?;
        // Under an instance pool no memory grows past the pool's slot: let
        // the limiter say so (a typed LimitExceeded) before the pool does.
        let pooled;
        let limits = match config.get_instance_pool() {
            Some(pool)
                if limits
                    .get_memory_bytes()
                    .is_none_or(|m| m > pool.memory_bytes) =>
            {
                pooled = limits.clone().memory_bytes(pool.memory_bytes);
                &pooled
            }
            _ => limits,
        };
        let mut inner = wasmtime::Store::new(
            engine.raw(),
            StoreData {
                user: data,
                limiter: Limiter::new(limits),
                funcs: FuncTable::default(),
                gas: None,
                deadline: None,
                reentry_depth: 0,
                fuel_yields: false,
                reentry: Default::default(),
                reply_area: anywasm_core::abi::Scratch::NONE,
            },
        );
        inner.limiter(|d| &mut d.limiter);
        if config.get_gas() {
            let counter = crate::gas::counter(&mut inner, limits)?;
            inner.data_mut().gas = Some(counter);
        }
        if config.get_consume_fuel() {
            let fuel = limits.get_fuel().unwrap_or(u64::MAX);
            inner
                .set_fuel(fuel)
                .map_err(|e| err(ErrorKind::Engine, chain_message(&e)))?;
        }
        if config.get_timeouts() {
            inner.epoch_deadline_trap();
            inner.set_epoch_deadline(NO_DEADLINE);
        }
        Ok(Self {
            inner,
            engine: engine.clone(),
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            registered: HashMap::new(),
            instance_count: 0,
            max_instances: limits.get_instances(),
            timeout: limits.get_timeout(),
            async_imports: false,
            scratch: Scratch::default(),
        })
    }

    pub(crate) fn own(&self, instance: &Instance) -> Result<wasmtime::Instance> {
        if instance.store == self.id {
            Ok(instance.inner)
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
        BackendKind::Wasmtime
    }

    fn instantiate(&mut self, module: &Module, linker: &Linker<T>) -> Result<Instance> {
        self.instantiate_module(module, linker)
    }

    fn register(&mut self, name: &str, instance: &Instance) -> Result<()> {
        let i = self.own(instance)?;
        self.registered.insert(name.into(), i);
        Ok(())
    }

    fn get_func(&mut self, instance: &Instance, name: &str) -> Result<Func> {
        let i = self.own(instance)?;
        let inner = i
            .get_func(&mut self.inner, name)
            .ok_or_else(|| tag(export_not_found(name, "function")))?;
        let info = Arc::new(FuncInfo::of(&self.inner, &inner, name)?);
        Ok(Func {
            inner,
            store: self.id,
            info,
        })
    }

    fn func_type(&self, func: &Func) -> FuncType {
        func.info.ty.clone()
    }

    fn call(&mut self, func: &Func, args: &[Val], results: &mut [Val]) -> Result<()> {
        if func.store != self.id {
            return Err(foreign("function"));
        }
        check_args(&func.info.ty, args, results).map_err(tag)?;
        if self.async_imports {
            return self.call_blocking(func, args, results);
        }
        let _deadline = arm_deadline(&mut self.inner, &self.engine, self.timeout);
        call_func(
            self.inner.as_context_mut(),
            &func.inner,
            &func.info,
            args,
            results,
            &mut self.scratch,
        )
    }

    fn call_async<'a>(
        &'a mut self,
        func: &'a Func,
        args: &'a [Val],
        results: &'a mut [Val],
    ) -> anywasm_core::CallFuture<'a> {
        Box::pin(self.call_async_impl(func, args, results))
    }

    fn memory(&mut self, instance: &Instance, name: &str) -> Result<Memory> {
        self.resolve_memory(instance, name)
    }

    fn table(&mut self, instance: &Instance, name: &str) -> Result<Table> {
        self.resolve_table(instance, name)
    }

    fn global(&mut self, instance: &Instance, name: &str) -> Result<Global> {
        self.resolve_global(instance, name)
    }

    fn memory_len(&mut self, memory: &Memory) -> Result<u64> {
        self.mem_size(memory)
    }

    fn read(&mut self, memory: &Memory, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.mem_read(memory, offset, buf)
    }

    fn write(&mut self, memory: &Memory, offset: u64, data: &[u8]) -> Result<()> {
        self.mem_write(memory, offset, data)
    }

    fn grow(&mut self, memory: &Memory, pages: u64) -> Result<u64> {
        self.mem_grow(memory, pages)
    }

    fn get(&mut self, global: &Global) -> Result<Val> {
        self.glob_get(global)
    }

    fn set(&mut self, global: &Global, value: Val) -> Result<()> {
        self.glob_set(global, value)
    }

    fn table_len(&mut self, table: &Table) -> Result<u64> {
        self.tab_size(table)
    }

    fn table_read(&mut self, table: &Table, index: u64) -> Result<Val> {
        self.tab_get(table, index)
    }

    fn table_write(&mut self, table: &Table, index: u64, value: Val) -> Result<()> {
        self.tab_set(table, index, value)
    }

    fn table_extend(&mut self, table: &Table, delta: u64, init: Val) -> Result<u64> {
        self.tab_grow(table, delta, init)
    }

    fn data(&self) -> &T {
        &self.inner.data().user
    }

    fn data_mut(&mut self) -> &mut T {
        &mut self.inner.data_mut().user
    }

    fn fuel(&mut self) -> Result<u64> {
        self.require_fuel()?;
        self.inner
            .get_fuel()
            .map_err(|e| err(ErrorKind::Engine, chain_message(&e)))
    }

    fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        self.require_fuel()?;
        self.inner
            .set_fuel(fuel)
            .map_err(|e| err(ErrorKind::Engine, chain_message(&e)))
    }

    fn gas(&mut self) -> Result<u64> {
        let counter = self.gas_counter()?;
        Ok(anywasm_gas::remaining(
            counter.get(&mut self.inner).i64().unwrap_or(0),
        ))
    }

    fn set_gas(&mut self, gas: u64) -> Result<()> {
        let counter = self.gas_counter()?;
        counter
            .set(
                &mut self.inner,
                wasmtime::Val::I64(anywasm_gas::counter_for(gas)),
            )
            .map_err(|e| err(ErrorKind::Engine, chain_message(&e)))
    }

    fn set_reply_area(&mut self, area: anywasm_core::abi::Scratch) {
        self.inner.data_mut().reply_area = area;
    }
}

impl<T: Send + 'static> Store<T> {
    fn gas_counter(&self) -> Result<wasmtime::Global> {
        self.inner.data().gas.ok_or_else(|| {
            err(
                ErrorKind::Unsupported,
                "gas needs an engine built with Config::gas(true)",
            )
        })
    }

    fn require_fuel(&self) -> Result<()> {
        if self.engine.config().get_consume_fuel() {
            Ok(())
        } else {
            Err(err(
                ErrorKind::Unsupported,
                "fuel needs an engine built with Config::consume_fuel(true)",
            ))
        }
    }
}

/// Function references handed out to the host as [`anywasm_core::FuncRef`]
/// indices. Deduplicated by the engine's `VMFuncRef` address, so reading the
/// same function reference in a loop does not grow the table.
#[derive(Debug, Default)]
pub(crate) struct FuncTable {
    funcs: Vec<wasmtime::Func>,
    by_addr: HashMap<usize, u32>,
}

impl FuncTable {
    /// The index for `func`, whose `VMFuncRef` address is `addr`.
    pub(crate) fn intern(&mut self, func: &wasmtime::Func, addr: usize) -> Option<u32> {
        if let Some(&i) = self.by_addr.get(&addr) {
            return Some(i);
        }
        let i = u32::try_from(self.funcs.len()).ok()?;
        self.funcs.push(*func);
        self.by_addr.insert(addr, i);
        Some(i)
    }

    /// The function behind index `i`.
    pub(crate) fn get(&self, i: u32) -> Option<wasmtime::Func> {
        self.funcs.get(i as usize).copied()
    }
}

/// What every wasmtime store of this backend holds.
#[derive(Debug)]
pub(crate) struct StoreData<T> {
    /// The user's host state.
    pub(crate) user: T,
    /// Memory and table caps.
    pub(crate) limiter: Limiter,
    /// Funcref handles given out by this store.
    pub(crate) funcs: FuncTable,
    /// The gas counter instrumented modules import (with `Config::gas`).
    pub(crate) gas: Option<wasmtime::Global>,
    /// The running call's deadline, if it has one (set by `arm_deadline`).
    pub(crate) deadline: Option<std::time::Instant>,
    /// `Caller::call`s nested in the running top-level call.
    pub(crate) reentry_depth: u32,
    /// Whether calls yield to the executor as they burn fuel (set with
    /// `fuel_async_yield_interval`): a synchronous re-entry must switch
    /// that off while it runs.
    pub(crate) fuel_yields: bool,
    /// The exports `Caller::call` re-entered, resolved once per module.
    pub(crate) reentry: crate::host::ReentryCache,
    /// Where ABI host functions write responses that fit
    /// (`Store::set_reply_area`).
    pub(crate) reply_area: anywasm_core::abi::Scratch,
}
