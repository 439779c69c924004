//! Stores and the handles they give out.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use anywasm_core::{
    BackendKind, Error, ErrorKind, FuncRef, FuncType, Limits, Linker, Result, Val, export_not_found,
};

use crate::access::{Global, Memory, Table};
use crate::call::ExecState;
use crate::convert;
use crate::engine::Engine;
use crate::error::tag;
use crate::limits::Limiter;
use crate::link;
use crate::module::Module;
use crate::start::START_EXPORT;

/// What the wasmi store holds besides the engine's own state: the host state
/// `T`, the limiter, and the tables behind `funcref`/`externref` values.
pub(crate) struct StoreData<T> {
    pub(crate) data: T,
    pub(crate) limiter: Limiter,
    pub(crate) funcs: FuncTable,
    /// One wasmi extern object per payload (wasmi never frees them).
    pub(crate) externs: BTreeMap<u32, wasmi::ExternRef>,
    pub(crate) exec: ExecState,
    /// The gas counter instrumented modules import (with `Config::gas`).
    pub(crate) gas: Option<wasmi::Global>,
    /// The instance whose start function (an imported host function) is
    /// being called; taken by that host function's trampoline as its
    /// caller's instance (see [`crate::start`]).
    pub(crate) starting: Option<wasmi::Instance>,
    /// Set while [`Store::call_async`](anywasm_core::Store::call_async)
    /// runs: async host functions then pause the call (see
    /// [`crate::suspend`]).
    pub(crate) async_call: bool,
    /// The async host function the paused call waits for.
    pub(crate) suspended: Option<crate::suspend::Suspended<T>>,
    /// Where ABI host functions write responses that fit
    /// (`Store::set_reply_area`).
    pub(crate) reply_area: anywasm_core::abi::Scratch,
}

/// Functions handed out as [`FuncRef`] indices.
#[derive(Default)]
pub(crate) struct FuncTable {
    funcs: Vec<wasmi::Func>,
    /// Dedupe by engine identity. wasmi handles have no public equality;
    /// their `Debug` form names the store and the arena key, which is an
    /// identity (checked by the tests).
    index: BTreeMap<String, u32>,
}

impl FuncTable {
    pub(crate) fn intern(&mut self, func: wasmi::Func) -> FuncRef {
        let key = format!("{func:?}");
        if let Some(&i) = self.index.get(&key) {
            return FuncRef(i);
        }
        // A store cannot hold 2^32 functions (each is a wasmi entity), but
        // never panic: saturating keeps the table consistent.
        let i = u32::try_from(self.funcs.len()).unwrap_or(u32::MAX);
        self.funcs.push(func);
        self.index.insert(key, i);
        FuncRef(i)
    }

    pub(crate) fn get(&self, r: FuncRef) -> Option<wasmi::Func> {
        self.funcs.get(r.0 as usize).copied()
    }
}

/// Distinguishes stores so handles from another store are an error, not a
/// panic inside wasmi.
static NEXT_STORE_ID: AtomicU32 = AtomicU32::new(1);

/// Handle to an instance in a [`Store`].
#[derive(Clone, Copy, Debug)]
pub struct Instance {
    pub(crate) raw: wasmi::Instance,
    pub(crate) store: u32,
}

/// Handle to a function in a [`Store`], with its signature.
#[derive(Clone, Debug)]
pub struct Func {
    pub(crate) raw: wasmi::Func,
    pub(crate) ty: Arc<FuncType>,
    pub(crate) store: u32,
    /// The typed handle when the signature is one of [`Typed`](crate::call::Typed)'s.
    pub(crate) typed: Option<crate::call::Typed>,
}

/// A wasmi store: instances, their memories, tables and globals, the host
/// state `T` and the [`Limits`].
pub struct Store<T> {
    pub(crate) raw: wasmi::Store<StoreData<T>>,
    pub(crate) id: u32,
    fuel_metering: bool,
    pub(crate) registered: BTreeMap<String, wasmi::Instance>,
    pub(crate) scratch_args: Vec<wasmi::Val>,
    pub(crate) scratch_results: Vec<wasmi::Val>,
    /// Instantiations counted against `Limits::instances`: those that
    /// succeeded or ran and trapped (wasmi's own count would also take a
    /// slot for one refused before it ran, e.g. a memory over its cap).
    pub(crate) instances_counted: usize,
    pub(crate) max_instances: Option<usize>,
}

impl<T> fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &BackendKind::Wasmi)
            .field("id", &self.id)
            .field("registered", &self.registered.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

pub(crate) fn foreign(what: &str) -> Error {
    Error::foreign_handle(what).with_backend(anywasm_core::BackendKind::Wasmi)
}

impl<T: Send + 'static> Store<T> {
    pub(crate) fn new(engine: &Engine, data: T, limits: &Limits) -> Result<Self> {
        let config = anywasm_core::Runtime::config(engine);
        let data = StoreData {
            data,
            limiter: Limiter::new(limits),
            funcs: FuncTable::default(),
            externs: BTreeMap::new(),
            exec: ExecState::new(limits.get_timeout(), engine.clock()),
            gas: None,
            starting: None,
            async_call: false,
            suspended: None,
            reply_area: anywasm_core::abi::Scratch::NONE,
        };
        let mut raw = wasmi::Store::new(engine.raw(), data);
        if config.get_gas() {
            let counter = crate::gas::counter(&mut raw, limits);
            raw.data_mut().gas = Some(counter);
        }
        raw.limiter(|d| &mut d.limiter);
        if config.get_consume_fuel() || config.get_timeouts() {
            raw.set_fuel(limits.get_fuel().unwrap_or(u64::MAX))
                .map_err(crate::error::engine_error)?;
        }
        Ok(Self {
            raw,
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            fuel_metering: config.get_consume_fuel(),
            registered: BTreeMap::new(),
            scratch_args: Vec::new(),
            scratch_results: Vec::new(),
            instances_counted: 0,
            max_instances: limits.get_instances(),
        })
    }

    pub(crate) fn wrap_instance(&mut self, raw: wasmi::Instance) -> Instance {
        Instance {
            raw,
            store: self.id,
        }
    }

    pub(crate) fn inst(&self, instance: &Instance) -> Result<wasmi::Instance> {
        if instance.store == self.id {
            Ok(instance.raw)
        } else {
            Err(foreign("instance"))
        }
    }

    fn gas_counter(&self) -> Result<wasmi::Global> {
        self.raw.data().gas.ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                "gas needs an engine built with Config::gas(true)",
            )
        })
    }

    fn fuel_unsupported() -> Error {
        Error::new(
            ErrorKind::Unsupported,
            "fuel needs an engine built with Config::consume_fuel(true)",
        )
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
        BackendKind::Wasmi
    }

    fn instantiate(&mut self, module: &Module, linker: &Linker<T>) -> Result<Instance> {
        link::instantiate(self, module, linker).map_err(tag)
    }

    fn register(&mut self, name: &str, instance: &Instance) -> Result<()> {
        let raw = self.inst(instance).map_err(tag)?;
        self.registered.insert(name.into(), raw);
        Ok(())
    }

    fn get_func(&mut self, instance: &Instance, name: &str) -> Result<Func> {
        let raw = self
            .inst(instance)
            .and_then(|i| {
                i.get_func(&self.raw, name)
                    .filter(|_| name != START_EXPORT)
                    .ok_or_else(|| export_not_found(name, "function"))
            })
            .map_err(tag)?;
        let ty = convert::func_type(&raw.ty(&self.raw));
        let typed = crate::call::Typed::new(&raw, &ty, &self.raw);
        Ok(Func {
            raw,
            ty: Arc::new(ty),
            store: self.id,
            typed,
        })
    }

    fn func_type(&self, func: &Func) -> FuncType {
        FuncType::clone(&func.ty)
    }

    fn call(&mut self, func: &Func, args: &[Val], results: &mut [Val]) -> Result<()> {
        self.call_impl(func, args, results).map_err(tag)
    }

    fn call_async<'a>(
        &'a mut self,
        func: &'a Func,
        args: &'a [Val],
        results: &'a mut [Val],
    ) -> anywasm_core::CallFuture<'a> {
        alloc::boxed::Box::pin(async move {
            self.call_async_impl(func, args, results).await.map_err(tag)
        })
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
        &self.raw.data().data
    }

    fn data_mut(&mut self) -> &mut T {
        &mut self.raw.data_mut().data
    }

    fn fuel(&mut self) -> Result<u64> {
        if !self.fuel_metering {
            return Err(tag(Self::fuel_unsupported()));
        }
        self.raw
            .get_fuel()
            .map_err(|e| tag(crate::error::engine_error(e)))
    }

    fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        if !self.fuel_metering {
            return Err(tag(Self::fuel_unsupported()));
        }
        self.raw
            .set_fuel(fuel)
            .map_err(|e| tag(crate::error::engine_error(e)))
    }

    fn gas(&mut self) -> Result<u64> {
        let counter = self.gas_counter().map_err(tag)?;
        Ok(match counter.get(&self.raw) {
            wasmi::Val::I64(v) => anywasm_gas::remaining(v),
            _ => 0,
        })
    }

    fn set_gas(&mut self, gas: u64) -> Result<()> {
        let counter = self.gas_counter().map_err(tag)?;
        counter
            .set(
                &mut self.raw,
                wasmi::Val::I64(anywasm_gas::counter_for(gas)),
            )
            .map_err(|e| tag(Error::new(ErrorKind::Engine, format!("setting gas: {e}"))))
    }

    fn set_reply_area(&mut self, area: anywasm_core::abi::Scratch) {
        self.raw.data_mut().reply_area = area;
    }
}
