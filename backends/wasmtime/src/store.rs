//! [`Store`], [`Instance`] and [`Func`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anywasm_core::{
    BackendKind, ErrorKind, FuncType, Limits, Linker, Resource, Result, Val, check_args,
    check_range, export_not_found,
};
use wasmtime::{AsContextMut, RootScope};

use crate::call::{Scratch, call_func};
use crate::convert::{from_engine, from_engine_ref, func_type, to_engine, to_engine_ref};
use crate::error::{chain_message, err, tag};
use crate::host::unrepresentable;
use crate::limits::{FuncTable, Limiter, StoreData};
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
    inner: wasmtime::Func,
    store: u64,
    info: Arc<FuncInfo>,
}

#[derive(Debug)]
struct FuncInfo {
    ty: FuncType,
    engine_ty: wasmtime::FuncType,
    /// No reference types: calls take the raw fast path.
    plain: bool,
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
    scratch: Scratch,
    /// The memory export looked up last (instance, name, handle). A host
    /// driving a plugin touches one memory many times per call; the handle
    /// stays valid for the store's life (a grown memory keeps its handle,
    /// and every access reads the current size through it).
    memory_cache: Option<(wasmtime::Instance, Box<str>, wasmtime::Memory)>,
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

fn foreign(what: &str) -> anywasm_core::Error {
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
            scratch: Scratch::default(),
            memory_cache: None,
        })
    }

    pub(crate) fn own(&self, instance: &Instance) -> Result<wasmtime::Instance> {
        if instance.store == self.id {
            Ok(instance.inner)
        } else {
            Err(foreign("instance"))
        }
    }

    fn memory(&mut self, instance: &Instance, name: &str) -> Result<wasmtime::Memory> {
        let i = self.own(instance)?;
        if let Some((ci, cname, m)) = &self.memory_cache
            && *ci == i
            && **cname == *name
        {
            return Ok(*m);
        }
        let m = i
            .get_memory(&mut self.inner, name)
            .ok_or_else(|| tag(export_not_found(name, "memory")))?;
        self.memory_cache = Some((i, name.into(), m));
        Ok(m)
    }

    fn global(&mut self, instance: &Instance, name: &str) -> Result<wasmtime::Global> {
        let i = self.own(instance)?;
        i.get_global(&mut self.inner, name)
            .ok_or_else(|| tag(export_not_found(name, "global")))
    }

    fn table(&mut self, instance: &Instance, name: &str) -> Result<wasmtime::Table> {
        let i = self.own(instance)?;
        i.get_table(&mut self.inner, name)
            .ok_or_else(|| tag(export_not_found(name, "table")))
    }
}

impl<T: Send + 'static> anywasm_core::Store<T> for Store<T> {
    type Module = Module;
    type Instance = Instance;
    type Func = Func;

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
        let engine_ty = inner.ty(&self.inner);
        let ty = func_type(&engine_ty).ok_or_else(|| unrepresentable(name))?;
        Ok(Func {
            inner,
            store: self.id,
            info: Arc::new(FuncInfo {
                plain: crate::call::is_plain(&ty),
                ty,
                engine_ty,
            }),
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
        let _deadline = arm_deadline(&mut self.inner, &self.engine, self.timeout);
        call_func(
            self.inner.as_context_mut(),
            &func.inner,
            crate::call::Sig {
                engine: &func.info.engine_ty,
                core: &func.info.ty,
                plain: func.info.plain,
            },
            args,
            results,
            &mut self.scratch,
        )
    }

    fn memory_size(&mut self, instance: &Instance, memory: &str) -> Result<u64> {
        let m = self.memory(instance, memory)?;
        Ok(m.data_size(&self.inner) as u64)
    }

    fn memory_read(
        &mut self,
        instance: &Instance,
        memory: &str,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<()> {
        let m = self.memory(instance, memory)?;
        let data = m.data(&self.inner);
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
        let m = self.memory(instance, memory)?;
        let mem = m.data_mut(&mut self.inner);
        let range = check_range(offset, data.len(), mem.len() as u64).map_err(tag)?;
        mem[range].copy_from_slice(data);
        Ok(())
    }

    fn memory_grow(&mut self, instance: &Instance, memory: &str, pages: u64) -> Result<u64> {
        let m = self.memory(instance, memory)?;
        self.inner.data_mut().limiter.reset();
        m.grow(&mut self.inner, pages).map_err(|e| {
            // Past the store's cap (the limiter said no) or past the
            // memory's own declared maximum: both are a memory limit.
            err(
                ErrorKind::LimitExceeded(Resource::Memory),
                chain_message(&e),
            )
        })
    }

    fn global_get(&mut self, instance: &Instance, name: &str) -> Result<Val> {
        let g = self.global(instance, name)?;
        let mut scope = RootScope::new(&mut self.inner);
        let mut cx = scope.as_context_mut();
        let v = g.get(&mut cx);
        from_engine(&mut cx, &v)
    }

    fn global_set(&mut self, instance: &Instance, name: &str, value: Val) -> Result<()> {
        let g = self.global(instance, name)?;
        let ty = g.ty(&self.inner);
        if ty.mutability() != wasmtime::Mutability::Var {
            return Err(err(
                ErrorKind::TypeMismatch,
                format!("global `{name}` is immutable"),
            ));
        }
        match crate::convert::val_type(ty.content()) {
            Some(t) if t == value.ty() => {}
            Some(t) => {
                return Err(err(
                    ErrorKind::TypeMismatch,
                    format!(
                        "global `{name}` holds {t}, cannot set it to a {}",
                        value.ty()
                    ),
                ));
            }
            None => {
                return Err(err(
                    ErrorKind::Unsupported,
                    format!("global `{name}` has a type anywasm cannot represent"),
                ));
            }
        }
        let mut scope = RootScope::new(&mut self.inner);
        let mut cx = scope.as_context_mut();
        let v = to_engine(&mut cx, &value, ty.content())?;
        g.set(&mut cx, v)
            .map_err(|e| err(ErrorKind::TypeMismatch, chain_message(&e)))
    }

    fn table_size(&mut self, instance: &Instance, name: &str) -> Result<u64> {
        let t = self.table(instance, name)?;
        Ok(t.size(&self.inner))
    }

    fn table_get(&mut self, instance: &Instance, name: &str, index: u64) -> Result<Val> {
        let t = self.table(instance, name)?;
        let mut scope = RootScope::new(&mut self.inner);
        let mut cx = scope.as_context_mut();
        let size = t.size(&cx);
        let r = t
            .get(&mut cx, index)
            .ok_or_else(|| table_oob(name, index, size))?;
        from_engine_ref(&mut cx, &r)
    }

    fn table_set(&mut self, instance: &Instance, name: &str, index: u64, value: Val) -> Result<()> {
        let t = self.table(instance, name)?;
        let ty = t.ty(&self.inner);
        let size = t.size(&self.inner);
        let mut scope = RootScope::new(&mut self.inner);
        let mut cx = scope.as_context_mut();
        let r = to_engine_ref(&mut cx, &value, ty.element())?;
        if index >= size {
            return Err(table_oob(name, index, size));
        }
        t.set(&mut cx, index, r)
            .map_err(|e| err(ErrorKind::Engine, chain_message(&e)))
    }

    fn table_grow(
        &mut self,
        instance: &Instance,
        name: &str,
        delta: u64,
        init: Val,
    ) -> Result<u64> {
        let t = self.table(instance, name)?;
        let ty = t.ty(&self.inner);
        self.inner.data_mut().limiter.reset();
        let mut scope = RootScope::new(&mut self.inner);
        let mut cx = scope.as_context_mut();
        let r = to_engine_ref(&mut cx, &init, ty.element())?;
        t.grow(&mut cx, delta, r)
            .map_err(|e| err(ErrorKind::LimitExceeded(Resource::Table), chain_message(&e)))
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

fn table_oob(name: &str, index: u64, size: u64) -> anywasm_core::Error {
    err(
        ErrorKind::OutOfBounds,
        format!("index {index} is outside table `{name}` of {size} elements"),
    )
}
