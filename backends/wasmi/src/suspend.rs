//! Async calls on wasmi: a resumable call paused at each async host
//! function.
//!
//! Inside [`Store::call_async`](anywasm_core::Store::call_async) the
//! trampoline of an async host function starts it (step 1, with the
//! caller), parks its future in [`StoreData::suspended`] and returns the
//! [`Suspend`] marker as a host error; wasmi pauses the call
//! ([`wasmi::ResumableCall::HostTrap`]) and hands it back here. We await the
//! future outside the engine, run the finish step with a caller rebuilt from
//! the store, and resume the call with its results. Fuel slices for
//! timeouts keep working: an out-of-fuel pause refills as in the
//! synchronous call, and yields to the executor once, so a CPU-bound guest
//! with a deadline does not hold its worker thread for the whole call.
//!
//! The finish step cannot look exports up by name (wasmi's caller does not
//! name its instance outside a host call), so the trampoline resolves the
//! two it may use before pausing: `memory` and the ABI allocator.

use alloc::sync::Arc;
use alloc::vec::Vec;

use anywasm_core::{Error, HostFunc, Pending, Result, TrapCode, Val};
use wasmi::ResumableCall;

use crate::call::{FUEL_SLICE, refill};
use crate::convert::to_wasmi;
use crate::error::engine_error;
use crate::host::WasmiCaller;
use crate::store::{Func, Store, StoreData};

/// An async host function waiting for its future, while the call that
/// reached it is paused.
pub(crate) struct Suspended<T> {
    pub(crate) func: Arc<HostFunc<T>>,
    pub(crate) pending: Pending<T>,
    pub(crate) memory: Option<wasmi::Memory>,
    pub(crate) alloc: Option<wasmi::Func>,
}

/// The host error an async host function returns to pause the call.
#[derive(Debug)]
pub(crate) struct Suspend;

impl core::fmt::Display for Suspend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("async host function suspended the call")
    }
}

impl wasmi::errors::HostError for Suspend {}

impl<T: Send + 'static> Store<T> {
    pub(crate) async fn call_async_impl(
        &mut self,
        func: &Func,
        args: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        let (mut wargs, mut wres) = (Vec::new(), Vec::new());
        self.enter_call(func, args, results, &mut wargs, &mut wres)?;
        self.raw.data_mut().async_call = true;
        let outcome = run(&mut self.raw, &func.raw, &wargs, &mut wres).await;
        self.raw.data_mut().async_call = false;
        outcome?;
        self.leave_call(&wres, results)
    }
}

/// The top-level call under the store's limits, as
/// [`crate::call::invoke`] but awaiting async host functions.
async fn run<T: Send + 'static>(
    store: &mut wasmi::Store<StoreData<T>>,
    func: &wasmi::Func,
    args: &[wasmi::Val],
    results: &mut [wasmi::Val],
) -> Result<()> {
    let (timeout, clock) = {
        let exec = &store.data().exec;
        (exec.timeout(), exec.clock())
    };
    let timed = match (timeout, clock) {
        (Some(timeout), Some(clock)) => {
            let total = store.get_fuel().map_err(engine_error)?;
            let slice = total.min(FUEL_SLICE);
            store.set_fuel(slice).map_err(engine_error)?;
            store.data_mut().exec.start_timing(
                clock().saturating_add(timeout),
                total - slice,
                clock,
            );
            true
        }
        _ => false,
    };
    let outcome = drive(store, func, args, results).await;
    if timed {
        let reserve = store.data_mut().exec.end_timing();
        let left = store.get_fuel().unwrap_or(0);
        // Cannot fail: fuel metering is on (we just read the fuel).
        let _ = store.set_fuel(left.saturating_add(reserve));
    }
    outcome.map_err(|e| crate::gas::out_of_gas(store, e))
}

async fn drive<T: Send + 'static>(
    store: &mut wasmi::Store<StoreData<T>>,
    func: &wasmi::Func,
    args: &[wasmi::Val],
    results: &mut [wasmi::Val],
) -> Result<()> {
    let mut call = func
        .call_resumable(&mut *store, args, results)
        .map_err(engine_error)?;
    loop {
        call = match call {
            ResumableCall::Finished => return Ok(()),
            ResumableCall::OutOfFuel(paused) => {
                if store.data().exec.remaining().is_none() {
                    return Err(Error::trap(TrapCode::OutOfFuel, "all fuel consumed"));
                }
                refill(store, paused.required_fuel())?;
                // Between two fuel slices, let the executor run other
                // tasks: a busy guest does not hold the worker.
                YieldNow(false).await;
                paused.resume(&mut *store, results).map_err(engine_error)?
            }
            ResumableCall::HostTrap(paused) => {
                let suspended = store.data_mut().suspended.take();
                let Some(s) =
                    suspended.filter(|_| paused.host_error().downcast_ref::<Suspend>().is_some())
                else {
                    return Err(engine_error(paused.into_host_error()));
                };
                let finish = s.pending.await.map_err(Error::from_host)?;
                let mut vals: Vec<Val> = s
                    .func
                    .ty()
                    .results()
                    .iter()
                    .map(|t| t.default_value())
                    .collect();
                {
                    let mut caller = WasmiCaller::detached(store, s.memory, s.alloc);
                    s.func
                        .finish_async(finish, &mut caller, &mut vals)
                        .map_err(Error::from_host)?;
                }
                let mut wvals = Vec::with_capacity(vals.len());
                for v in vals {
                    wvals.push(to_wasmi(&mut *store, v)?);
                }
                paused
                    .resume(&mut *store, &wvals, results)
                    .map_err(engine_error)?
            }
        };
    }
}

/// Return to the executor once (woken at once), runtime-agnostic.
struct YieldNow(bool);

impl core::future::Future for YieldNow {
    type Output = ();

    fn poll(
        mut self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<()> {
        if self.0 {
            return core::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        core::task::Poll::Pending
    }
}

/// The trampoline of an async host function called directly by a guest
/// inside an async call: start it and pause the call.
pub(crate) fn suspend<T: Send + 'static>(
    func: &Arc<HostFunc<T>>,
    caller: &mut WasmiCaller<'_, T>,
    args: &[Val],
) -> wasmi::Error {
    let Some(pending) = func.start_async(caller, args) else {
        return wasmi::Error::new("not an async host function");
    };
    let memory = caller.memory();
    let alloc = caller
        .export(anywasm_core::abi::ALLOC_EXPORT)
        .and_then(wasmi::Extern::into_func);
    caller.inner.data_mut().suspended = Some(Suspended {
        func: func.clone(),
        pending,
        memory,
        alloc,
    });
    wasmi::Error::host(Suspend)
}

/// Whether an async host function called now may pause the call: inside an
/// async call, and not from a host function's re-entrant call (that one is
/// a synchronous engine call, which blocks instead).
pub(crate) fn may_suspend<T>(data: &StoreData<T>) -> bool {
    data.async_call && data.exec.depth() == 0
}

impl<T> core::fmt::Debug for Suspended<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Suspended")
            .field("func", &self.func)
            .finish_non_exhaustive()
    }
}
