//! Async calls on wasmtime: guest code on a fiber, async host functions
//! awaiting on it.
//!
//! An async host function is defined with wasmtime's own async form
//! (`Func::new_async` / `Linker::func_new_async`); its future starts the
//! anywasm function with the caller, awaits its [`Pending`](anywasm_core::Pending)
//! future while the fiber is suspended, and finishes with the caller again.
//! [`Store::call_async`](anywasm_core::Store::call_async) runs the guest
//! with `Func::call_async`.
//!
//! wasmtime requires every entry into a store holding an async host function
//! to be async (its sync entry points refuse, or panic for the unchecked
//! ones). Such a store is marked [`Store::async_imports`] when it
//! instantiates with a linker that has one, or (with fuel on) makes its
//! first async call; from then on its synchronous `instantiate` and `call`
//! run the async forms to completion on the calling thread (parking it
//! while a host future is pending), and with fuel on, CPU-bound guest code
//! in an async call yields to the executor every [`ASYNC_YIELD_FUEL`] units
//! so one busy plugin does not hold a worker.

use std::sync::Arc;

use anywasm_core::{HostFunc, Result, Val, check_args};
use wasmtime::{AsContextMut, RootScope};

use crate::convert::{from_engine, to_engine};
use crate::error::{call_error, err, into_host, tag};
use crate::host::HostCaller;
use crate::store::{Func, Store, StoreData, arm_deadline, foreign};

/// Fuel units an async call runs between two yields to the executor.
pub const ASYNC_YIELD_FUEL: u64 = 10_000;

/// The body of an async host function: start with the caller, await the
/// future on the fiber, finish with the caller.
pub(crate) async fn trampoline<T: Send + 'static>(
    host: &HostFunc<T>,
    ty: &wasmtime::FuncType,
    mut caller: wasmtime::Caller<'_, StoreData<T>>,
    params: &[wasmtime::Val],
    results: &mut [wasmtime::Val],
) -> wasmtime::Result<()> {
    let mut args = Vec::with_capacity(params.len());
    {
        let mut cx = caller.as_context_mut();
        for p in params {
            args.push(from_engine(&mut cx, p).map_err(into_host)?);
        }
    }
    let mut wrapped = HostCaller::new(caller);
    let pending = host
        .start_async(&mut wrapped, &args)
        .ok_or_else(|| wasmtime::Error::msg("not an async host function"))?;
    let finish = pending.await.map_err(wasmtime::Error::new)?;
    let mut res: Vec<Val> = host
        .ty()
        .results()
        .iter()
        .map(|t| t.default_value())
        .collect();
    host.finish_async(finish, &mut wrapped, &mut res)
        .map_err(wasmtime::Error::new)?;
    let mut cx = wrapped.caller.as_context_mut();
    for ((slot, v), t) in results.iter_mut().zip(&res).zip(ty.results()) {
        *slot = to_engine(&mut cx, v, &t).map_err(into_host)?;
    }
    Ok(())
}

/// What wasmtime's async host-function closures return.
type HostCallFuture<'a> = Box<dyn Future<Output = wasmtime::Result<()>> + Send + 'a>;

/// The async host function `host` as a closure for wasmtime's async
/// definers.
pub(crate) fn async_closure<T: Send + 'static>(
    host: &HostFunc<T>,
    ty: wasmtime::FuncType,
) -> impl for<'a> Fn(
    wasmtime::Caller<'a, StoreData<T>>,
    &'a [wasmtime::Val],
    &'a mut [wasmtime::Val],
) -> HostCallFuture<'a>
+ Send
+ Sync
+ 'static {
    let host = Arc::new(host.clone());
    let ty = Arc::new(ty);
    move |caller, params, results| {
        let host = host.clone();
        let ty = ty.clone();
        Box::new(async move { trampoline(&host, &ty, caller, params, results).await })
    }
}

impl<T: Send + 'static> Store<T> {
    /// See [`anywasm_core::Store::call_async`].
    pub(crate) async fn call_async_impl(
        &mut self,
        func: &Func,
        args: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        if func.store != self.id {
            return Err(foreign("function"));
        }
        check_args(&func.info.ty, args, results).map_err(tag)?;
        if self.engine.config().get_consume_fuel() {
            // So that this call yields to the executor as it burns fuel.
            self.enter_async()?;
        }
        let _deadline = arm_deadline(&mut self.inner, &self.engine, self.timeout);
        let ty = &func.info.engine_ty;
        let mut scope = RootScope::new(&mut self.inner);
        let mut cx = scope.as_context_mut();
        let mut wargs = Vec::with_capacity(args.len());
        for (a, t) in args.iter().zip(ty.params()) {
            wargs.push(to_engine(&mut cx, a, &t)?);
        }
        let mut wres = vec![wasmtime::Val::I32(0); results.len()];
        match func.inner.call_async(&mut cx, &wargs, &mut wres).await {
            Ok(()) => {
                for (slot, v) in results.iter_mut().zip(&wres) {
                    *slot = from_engine(&mut cx, v)?;
                }
                Ok(())
            }
            Err(e) => {
                let e = call_error(e);
                if cx.data().gas.is_some() {
                    Err(crate::gas::classify(&mut cx, e))
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Mark this store as holding async host functions (see the module
    /// docs): every entry from now on is async.
    pub(crate) fn enter_async(&mut self) -> Result<()> {
        if self.async_imports {
            return Ok(());
        }
        self.async_imports = true;
        if self.engine.config().get_consume_fuel() {
            self.inner
                .fuel_async_yield_interval(Some(ASYNC_YIELD_FUEL))
                .map_err(|e| err(anywasm_core::ErrorKind::Engine, e.to_string()))?;
            self.inner.data_mut().fuel_yields = true;
        }
        Ok(())
    }

    /// A synchronous call on a store with async host functions: the async
    /// call run to completion here, bounded by the store's timeout.
    pub(crate) fn call_blocking(
        &mut self,
        func: &Func,
        args: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        let within = self.timeout;
        anywasm_core::block_on(self.call_async_impl(func, args, results), within)
            .unwrap_or_else(|| Err(tag(timeout())))
    }
}

/// The error of a blocking call whose host future outlived the deadline.
pub(crate) fn timeout() -> anywasm_core::Error {
    anywasm_core::Error::trap(
        anywasm_core::TrapCode::Timeout,
        "the call ran past its deadline while a host function was awaiting",
    )
}
