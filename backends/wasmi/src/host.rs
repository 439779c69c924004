//! Host functions: the wasmi trampoline around an anywasm [`HostFunc`] and
//! the [`Caller`] it sees.

use alloc::string::ToString;

use anywasm_core::{
    BackendKind, Caller, HostError, HostFunc, Result, Val, ValBuf, check_range, export_not_found,
};
use wasmi::Extern;

use crate::call;
use crate::convert::{from_wasmi, to_wasmi};
use crate::error::{host_trap, tag};
use crate::start::START_EXPORT;
use crate::store::StoreData;

/// Create the wasmi function for `func`, with signature `ty` (already
/// checked equal to `func.ty()`).
pub(crate) fn make_func<T: Send + 'static>(
    store: &mut wasmi::Store<StoreData<T>>,
    func: HostFunc<T>,
    ty: wasmi::FuncType,
) -> wasmi::Func {
    if func.is_async() {
        let func = alloc::sync::Arc::new(func);
        return wasmi::Func::new(store, ty, move |caller, params, results| {
            if crate::suspend::may_suspend(caller.data()) {
                let mut caller = WasmiCaller::new(caller);
                let mut arg_buf = ValBuf::new(params.len());
                let args = arg_buf.as_mut_slice();
                for (slot, p) in args.iter_mut().zip(params) {
                    *slot = from_wasmi(&mut caller.inner, p).map_err(conversion_failed)?;
                }
                return Err(crate::suspend::suspend(&func, &mut caller, args));
            }
            trampoline(&func, caller, params, results)
        });
    }
    if let Some(f) = native(store, &func) {
        return f;
    }
    wasmi::Func::new(store, ty, move |caller, params, results| {
        trampoline(&func, caller, params, results)
    })
}

/// For every signature of [`anywasm_core::native_shapes`]: `host`'s typed
/// form as a wasmi typed host function, with no `Val` conversion in between.
macro_rules! native {
    ($(($($a:ident: $p:ty),*) -> $r:ty;)*) => {
        fn native<T: Send + 'static>(
            store: &mut wasmi::Store<StoreData<T>>,
            host: &HostFunc<T>,
        ) -> Option<wasmi::Func> {
            $(if let Some(f) = host.native::<($($p,)*), $r>() {
                let f = f.clone();
                return Some(wasmi::Func::wrap(
                    &mut *store,
                    move |caller: wasmi::Caller<'_, StoreData<T>>, $($a: $p),*| -> core::result::Result<$r, wasmi::Error> {
                        let mut caller = WasmiCaller::new(caller);
                        anywasm_core::call_native(&*f, &mut caller, ($($a,)*)).map_err(host_trap)
                    },
                ));
            })*
            None
        }
    };
}

anywasm_core::native_shapes!(native);

/// [`make_func`] for the import that is its module's start function: when
/// the backend calls it as the start function it is called from the host
/// side, so wasmi's caller has no instance; it takes the instance being
/// started from [`StoreData::starting`] instead.
pub(crate) fn make_start_func<T: Send + 'static>(
    store: &mut wasmi::Store<StoreData<T>>,
    func: HostFunc<T>,
    ty: wasmi::FuncType,
) -> wasmi::Func {
    wasmi::Func::new(store, ty, move |mut caller, params, results| {
        let starting = caller.data_mut().starting.take();
        trampoline_with(&func, caller, starting, params, results)
    })
}

fn conversion_failed(err: anywasm_core::Error) -> wasmi::Error {
    host_trap(HostError::new(err.to_string()))
}

fn trampoline<T: Send + 'static>(
    func: &HostFunc<T>,
    caller: wasmi::Caller<'_, StoreData<T>>,
    params: &[wasmi::Val],
    results: &mut [wasmi::Val],
) -> core::result::Result<(), wasmi::Error> {
    trampoline_with(func, caller, None, params, results)
}

fn trampoline_with<T: Send + 'static>(
    func: &HostFunc<T>,
    caller: wasmi::Caller<'_, StoreData<T>>,
    starting: Option<wasmi::Instance>,
    params: &[wasmi::Val],
    results: &mut [wasmi::Val],
) -> core::result::Result<(), wasmi::Error> {
    let mut caller = WasmiCaller {
        inner: caller,
        starting,
        memory: None,
        alloc: None,
    };
    ValBuf::with_slices(params.len(), results.len(), |args, outs| {
        for (slot, p) in args.iter_mut().zip(params) {
            *slot = from_wasmi(&mut caller.inner, p).map_err(conversion_failed)?;
        }
        func.invoke(&mut caller, args, outs).map_err(host_trap)?;
        for (slot, v) in results.iter_mut().zip(outs.iter()) {
            *slot = to_wasmi(&mut caller.inner, *v).map_err(conversion_failed)?;
        }
        Ok(())
    })
}

/// What a host function sees: the wasmi caller, i.e. the calling instance
/// and the store.
pub(crate) struct WasmiCaller<'a, T> {
    pub(crate) inner: wasmi::Caller<'a, StoreData<T>>,
    /// The instance being started, when this host function is its start
    /// function (wasmi's caller then has none).
    starting: Option<wasmi::Instance>,
    /// The caller's `memory`, once looked up: an ABI host call reads the
    /// request, sizes and writes the response, each through it.
    memory: Option<wasmi::Memory>,
    /// The ABI allocator, resolved before an async host function paused
    /// its call (the finish step's caller has no instance to look it up).
    alloc: Option<wasmi::Func>,
}

impl<'a, T> WasmiCaller<'a, T> {
    pub(crate) fn new(inner: wasmi::Caller<'a, StoreData<T>>) -> Self {
        Self {
            inner,
            starting: None,
            memory: None,
            alloc: None,
        }
    }

    /// A caller outside any host call, for an async host function's finish
    /// step: `memory` and `alloc` resolved while the call was running.
    pub(crate) fn detached(
        store: &'a mut wasmi::Store<StoreData<T>>,
        memory: Option<wasmi::Memory>,
        alloc: Option<wasmi::Func>,
    ) -> Self {
        Self {
            inner: wasmi::Caller::from(store),
            starting: None,
            memory,
            alloc,
        }
    }
}

impl<T> WasmiCaller<'_, T> {
    /// The calling instance's export `name`, looked up afresh.
    pub(crate) fn export(&self, name: &str) -> Option<Extern> {
        match self.starting {
            Some(instance) => instance.get_export(&self.inner, name),
            None => self.inner.get_export(name),
        }
    }

    /// The calling instance's export `memory` (looked up on first use in
    /// this host call).
    pub(crate) fn memory(&mut self) -> Option<wasmi::Memory> {
        if self.memory.is_none() {
            self.memory = self.export("memory").and_then(Extern::into_memory);
        }
        self.memory
    }

    fn memory_or_err(&mut self) -> Result<wasmi::Memory> {
        self.memory()
            .ok_or_else(|| tag(export_not_found("memory", "memory")))
    }
}

impl<T: Send + 'static> Caller<T> for WasmiCaller<'_, T> {
    fn backend(&self) -> BackendKind {
        BackendKind::Wasmi
    }

    fn data(&self) -> &T {
        &self.inner.data().data
    }

    fn data_mut(&mut self) -> &mut T {
        &mut self.inner.data_mut().data
    }

    fn memory_size(&mut self) -> Option<u64> {
        let mem = self.memory()?;
        Some(mem.data_size(&self.inner) as u64)
    }

    fn read_memory(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let mem = self.memory_or_err()?;
        let data = mem.data(&self.inner);
        let range = check_range(offset, buf.len(), data.len() as u64).map_err(tag)?;
        buf.copy_from_slice(&data[range]);
        Ok(())
    }

    fn write_memory(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        let mem = self.memory_or_err()?;
        let bytes = mem.data_mut(&mut self.inner);
        let range = check_range(offset, data.len(), bytes.len() as u64).map_err(tag)?;
        bytes[range].copy_from_slice(data);
        Ok(())
    }

    fn call(&mut self, export: &str, args: &[Val], results: &mut [Val]) -> Result<()> {
        let func = self
            .export(export)
            .filter(|_| export != START_EXPORT)
            .and_then(Extern::into_func)
            .or(self
                .alloc
                .filter(|_| export == anywasm_core::abi::ALLOC_EXPORT))
            .ok_or_else(|| tag(export_not_found(export, "function")))?;
        call::reentrant_call(&mut self.inner, func, args, results).map_err(tag)
    }

    fn remaining_time(&self) -> Option<core::time::Duration> {
        self.inner.data().exec.remaining()
    }

    fn reply_area(&self) -> anywasm_core::abi::Scratch {
        self.inner.data().reply_area
    }
}
