//! Stores and the handles they give out.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use anywasm_core::{
    BackendKind, Error, ErrorKind, FuncRef, FuncType, Limits, Linker, Resource, Result, Val,
    check_args, check_range, export_not_found,
};

use crate::call::{self, ExecState};
use crate::convert::{self, from_ref, from_wasmi, to_ref, to_val_type, to_wasmi, val_type};
use crate::engine::Engine;
use crate::limits::Limiter;
use crate::module::Module;
use crate::start::START_EXPORT;
use crate::{link, tag};

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
    /// Position among the store's instances (wasmi handles cannot be
    /// compared), the key of the store's memory cache.
    seq: u32,
}

/// Handle to a function in a [`Store`], with its signature.
#[derive(Clone, Debug)]
pub struct Func {
    pub(crate) raw: wasmi::Func,
    pub(crate) ty: Arc<FuncType>,
    pub(crate) store: u32,
}

/// A wasmi store: instances, their memories, tables and globals, the host
/// state `T` and the [`Limits`].
pub struct Store<T> {
    pub(crate) raw: wasmi::Store<StoreData<T>>,
    id: u32,
    fuel_metering: bool,
    pub(crate) registered: BTreeMap<String, wasmi::Instance>,
    scratch_args: Vec<wasmi::Val>,
    scratch_results: Vec<wasmi::Val>,
    instances_made: u32,
    /// Instantiations counted against `Limits::instances`: those that
    /// succeeded or ran and trapped (wasmi's own count would also take a
    /// slot for one refused before it ran, e.g. a memory over its cap).
    pub(crate) instances_counted: usize,
    pub(crate) max_instances: Option<usize>,
    /// The memory export looked up last (instance seq, name, handle): a
    /// host driving a plugin touches one memory many times per call. The
    /// handle stays valid for the store's life, and every access reads the
    /// current size through it.
    memory_cache: Option<(u32, Box<str>, wasmi::Memory)>,
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

fn foreign(what: &str) -> Error {
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
        };
        let mut raw = wasmi::Store::new(engine.raw(), data);
        if config.get_gas() {
            let budget = anywasm_gas::counter_for(limits.get_gas().unwrap_or(anywasm_gas::MAX_GAS));
            let counter =
                wasmi::Global::new(&mut raw, wasmi::Val::I64(budget), wasmi::Mutability::Var);
            raw.data_mut().gas = Some(counter);
        }
        raw.limiter(|d| &mut d.limiter);
        if config.get_consume_fuel() || config.get_timeouts() {
            raw.set_fuel(limits.get_fuel().unwrap_or(u64::MAX))
                .map_err(convert::error)?;
        }
        Ok(Self {
            raw,
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            fuel_metering: config.get_consume_fuel(),
            registered: BTreeMap::new(),
            scratch_args: Vec::new(),
            scratch_results: Vec::new(),
            instances_made: 0,
            instances_counted: 0,
            max_instances: limits.get_instances(),
            memory_cache: None,
        })
    }

    pub(crate) fn wrap_instance(&mut self, raw: wasmi::Instance) -> Instance {
        self.instances_made += 1;
        Instance {
            raw,
            store: self.id,
            seq: self.instances_made,
        }
    }

    fn inst(&self, instance: &Instance) -> Result<wasmi::Instance> {
        if instance.store == self.id {
            Ok(instance.raw)
        } else {
            Err(foreign("instance"))
        }
    }

    fn memory(&mut self, instance: &Instance, name: &str) -> Result<wasmi::Memory> {
        let raw = self.inst(instance)?;
        if let Some((seq, cname, m)) = &self.memory_cache
            && *seq == instance.seq
            && **cname == *name
        {
            return Ok(*m);
        }
        let m = raw
            .get_memory(&self.raw, name)
            .ok_or_else(|| export_not_found(name, "memory"))?;
        self.memory_cache = Some((instance.seq, name.into(), m));
        Ok(m)
    }

    fn table(&self, instance: &Instance, name: &str) -> Result<wasmi::Table> {
        self.inst(instance)?
            .get_table(&self.raw, name)
            .ok_or_else(|| export_not_found(name, "table"))
    }

    fn global(&self, instance: &Instance, name: &str) -> Result<wasmi::Global> {
        self.inst(instance)?
            .get_global(&self.raw, name)
            .ok_or_else(|| export_not_found(name, "global"))
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

    fn call_impl(&mut self, func: &Func, args: &[Val], results: &mut [Val]) -> Result<()> {
        if func.store != self.id {
            return Err(foreign("function"));
        }
        check_args(&func.ty, args, results)?;
        let mut wargs = core::mem::take(&mut self.scratch_args);
        let mut wres = core::mem::take(&mut self.scratch_results);
        wargs.clear();
        wres.clear();
        let outcome = (|| {
            for a in args {
                wargs.push(to_wasmi(&mut self.raw, *a)?);
            }
            wres.extend(
                func.ty
                    .results()
                    .iter()
                    .map(|t| wasmi::Val::default_for_ty(to_val_type(*t))),
            );
            call::invoke(&mut self.raw, &func.raw, &wargs, &mut wres)?;
            for (slot, v) in results.iter_mut().zip(&wres) {
                *slot = from_wasmi(&mut self.raw, v)?;
            }
            Ok(())
        })();
        // Do not keep engine handles alive in the scratch buffers.
        wargs.clear();
        wres.clear();
        self.scratch_args = wargs;
        self.scratch_results = wres;
        outcome
    }

    fn check_ref_type(element: wasmi::RefType, value: &Val) -> Result<()> {
        let want = val_type(match element {
            wasmi::RefType::Func => wasmi::ValType::FuncRef,
            wasmi::RefType::Extern => wasmi::ValType::ExternRef,
        });
        if value.ty() == want {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::TypeMismatch,
                format!("table of {want} cannot hold a {}", value.ty()),
            ))
        }
    }
}

impl<T: Send + 'static> anywasm_core::Store<T> for Store<T> {
    type Module = Module;
    type Instance = Instance;
    type Func = Func;

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
        Ok(Func {
            raw,
            ty: Arc::new(ty),
            store: self.id,
        })
    }

    fn func_type(&self, func: &Func) -> FuncType {
        FuncType::clone(&func.ty)
    }

    fn call(&mut self, func: &Func, args: &[Val], results: &mut [Val]) -> Result<()> {
        self.call_impl(func, args, results).map_err(tag)
    }

    fn memory_size(&mut self, instance: &Instance, memory: &str) -> Result<u64> {
        let mem = self.memory(instance, memory).map_err(tag)?;
        Ok(mem.data_size(&self.raw) as u64)
    }

    fn memory_read(
        &mut self,
        instance: &Instance,
        memory: &str,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<()> {
        let mem = self.memory(instance, memory).map_err(tag)?;
        let data = mem.data(&self.raw);
        let range = check_range(offset, buf.len(), data.len() as u64).map_err(tag)?;
        buf.copy_from_slice(&data[range]);
        Ok(())
    }

    fn memory_write(
        &mut self,
        instance: &Instance,
        memory: &str,
        offset: u64,
        data: &[u8],
    ) -> Result<()> {
        let mem = self.memory(instance, memory).map_err(tag)?;
        let bytes = mem.data_mut(&mut self.raw);
        let range = check_range(offset, data.len(), bytes.len() as u64).map_err(tag)?;
        bytes[range].copy_from_slice(data);
        Ok(())
    }

    fn memory_grow(&mut self, instance: &Instance, memory: &str, pages: u64) -> Result<u64> {
        let mem = self.memory(instance, memory).map_err(tag)?;
        self.raw.data_mut().limiter.take_denied();
        match mem.grow(&mut self.raw, pages) {
            Ok(old) => Ok(old),
            Err(_) => {
                let limiter = &mut self.raw.data_mut().limiter;
                let message = match (limiter.take_denied(), limiter.max_memory_bytes()) {
                    (Some(Resource::Memory), Some(max)) => format!(
                        "growing memory `{memory}` by {pages} pages would pass the store's limit of {max} bytes"
                    ),
                    _ => {
                        format!("memory `{memory}` cannot grow by {pages} pages (past its maximum)")
                    }
                };
                Err(tag(Error::new(
                    ErrorKind::LimitExceeded(Resource::Memory),
                    message,
                )))
            }
        }
    }

    fn global_get(&mut self, instance: &Instance, name: &str) -> Result<Val> {
        let global = self.global(instance, name).map_err(tag)?;
        let value = global.get(&self.raw);
        from_wasmi(&mut self.raw, &value).map_err(tag)
    }

    fn global_set(&mut self, instance: &Instance, name: &str, value: Val) -> Result<()> {
        (|| {
            let global = self.global(instance, name)?;
            let ty = global.ty(&self.raw);
            if !ty.mutability().is_mut() {
                return Err(Error::new(
                    ErrorKind::TypeMismatch,
                    format!("global `{name}` is immutable"),
                ));
            }
            let want = val_type(ty.content());
            if value.ty() != want {
                return Err(Error::new(
                    ErrorKind::TypeMismatch,
                    format!("global `{name}` holds a {want}, not a {}", value.ty()),
                ));
            }
            let v = to_wasmi(&mut self.raw, value)?;
            global.set(&mut self.raw, v).map_err(|e| {
                Error::new(
                    ErrorKind::TypeMismatch,
                    alloc::string::ToString::to_string(&e),
                )
            })
        })()
        .map_err(tag)
    }

    fn table_size(&mut self, instance: &Instance, name: &str) -> Result<u64> {
        let table = self.table(instance, name).map_err(tag)?;
        Ok(table.size(&self.raw))
    }

    fn table_get(&mut self, instance: &Instance, name: &str, index: u64) -> Result<Val> {
        (|| {
            let table = self.table(instance, name)?;
            let Some(r) = table.get(&self.raw, index) else {
                return Err(Error::new(
                    ErrorKind::OutOfBounds,
                    format!(
                        "index {index} outside table `{name}` of {} elements",
                        table.size(&self.raw)
                    ),
                ));
            };
            from_ref(&mut self.raw, &r)
        })()
        .map_err(tag)
    }

    fn table_set(&mut self, instance: &Instance, name: &str, index: u64, value: Val) -> Result<()> {
        (|| {
            let table = self.table(instance, name)?;
            Self::check_ref_type(table.ty(&self.raw).element(), &value)?;
            let r = to_ref(&mut self.raw, value)?;
            table.set(&mut self.raw, index, r).map_err(|e| match e {
                wasmi::errors::TableError::SetOutOfBounds => Error::new(
                    ErrorKind::OutOfBounds,
                    format!("index {index} outside table `{name}`"),
                ),
                other => Error::new(
                    ErrorKind::TypeMismatch,
                    alloc::string::ToString::to_string(&other),
                ),
            })
        })()
        .map_err(tag)
    }

    fn table_grow(
        &mut self,
        instance: &Instance,
        name: &str,
        delta: u64,
        init: Val,
    ) -> Result<u64> {
        (|| {
            let table = self.table(instance, name)?;
            Self::check_ref_type(table.ty(&self.raw).element(), &init)?;
            let r = to_ref(&mut self.raw, init)?;
            self.raw.data_mut().limiter.take_denied();
            table.grow(&mut self.raw, delta, r).map_err(|_| {
                let limiter = &mut self.raw.data_mut().limiter;
                let message = match (limiter.take_denied(), limiter.max_table_elements()) {
                    (Some(Resource::Table), Some(max)) => format!(
                        "growing table `{name}` by {delta} would pass the store's limit of {max} elements"
                    ),
                    _ => format!("table `{name}` cannot grow by {delta} (past its maximum)"),
                };
                Error::new(ErrorKind::LimitExceeded(Resource::Table), message)
            })
        })()
        .map_err(tag)
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
        self.raw.get_fuel().map_err(|e| tag(convert::error(e)))
    }

    fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        if !self.fuel_metering {
            return Err(tag(Self::fuel_unsupported()));
        }
        self.raw.set_fuel(fuel).map_err(|e| tag(convert::error(e)))
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
}
