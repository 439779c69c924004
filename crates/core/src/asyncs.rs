//! Async host functions: a host function that `.await`s (a timer, a query,
//! a request) without holding the thread the runtime needs.
//!
//! An async host function runs in three steps, so that one definition works
//! on every engine, each through its own mechanism:
//!
//! 1. **start**, with the [`Caller`]: read the arguments (and guest memory)
//!    and build a `'static` future that owns what it needs;
//! 2. **await** the future, with no caller (the guest is suspended: on a
//!    wasmtime fiber, in a paused wasmi call, or — wasmer — on a parked
//!    thread);
//! 3. **finish**, with the [`Caller`] again: write the results (the typed
//!    ABI form writes its response into guest memory here).
//!
//! [`Linker::func_async`] takes a closure for step 1 whose future yields
//! the result values; [`Linker::abi_func_async`](crate::Linker::abi_func_async)
//! is the typed ABI form. Called from [`Store::call_async`](crate::Store::call_async)
//! the guest call suspends while the future is pending; called from the
//! synchronous [`Store::call`](crate::Store::call) (with `std`) the calling
//! thread blocks on the future instead, so a module using async host
//! functions still runs everywhere.
//!
//! Time spent awaiting counts against the call's
//! [`Limits::timeout`](crate::Limits::timeout): a future still pending at
//! the deadline is dropped and the call ends with
//! [`Trap(Timeout)`](crate::TrapCode::Timeout). On an async call the
//! deadline timer is tokio's (feature `tokio`, and only when the call is
//! polled inside a tokio runtime); a blocking call waits with a thread
//! timeout. A panic inside the future, like one in the closure, becomes a
//! [`Trap(HostError)`](crate::TrapCode::HostError) with
//! [`HostError::is_panic`] set.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use crate::{Caller, FuncType, HostError, HostFunc, Linker, Val};

/// What an async host function's future resolves to: the step that runs
/// with the caller again and writes the results (see
/// [`Linker::func_async`]).
pub struct Finish<T> {
    step: FinishFn<T>,
}

type FinishFn<T> = Box<dyn FnOnce(&mut dyn Caller<T>, &mut [Val]) -> Result<(), HostError> + Send>;

impl<T> Finish<T> {
    /// Results known as soon as the future is done: written as they are.
    pub fn values(values: Vec<Val>) -> Self {
        Self::with(move |_, results| {
            if values.len() != results.len() {
                return Err(HostError::new(alloc::format!(
                    "async host function returned {} values, its signature has {} results",
                    values.len(),
                    results.len()
                )));
            }
            results.copy_from_slice(&values);
            Ok(())
        })
    }

    /// A step that runs with the caller. It may use the caller's memory and
    /// call its ABI allocator ([`abi::ALLOC_EXPORT`](crate::abi::ALLOC_EXPORT));
    /// other exports are not reachable from it on every engine (wasmi
    /// resolves those two before the guest is suspended).
    pub fn with<F>(step: F) -> Self
    where
        F: FnOnce(&mut dyn Caller<T>, &mut [Val]) -> Result<(), HostError> + Send + 'static,
    {
        Self {
            step: Box::new(step),
        }
    }
}

impl<T> core::fmt::Debug for Finish<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Finish").finish_non_exhaustive()
    }
}

/// The future of an async host function.
pub type HostFuture<T> = Pin<Box<dyn Future<Output = Result<Finish<T>, HostError>> + Send>>;

/// The closure behind an async host function (step 1: start).
pub type AsyncHostFn<T> = dyn Fn(&mut dyn Caller<T>, &[Val]) -> HostFuture<T> + Send + Sync;

impl<T: 'static> Linker<T> {
    /// Define (or replace) the async host function `module::name`.
    ///
    /// `func` gets the caller and the arguments and returns a future owning
    /// what it needs (it cannot hold the caller across an `.await`); the
    /// future's output is the result values or an error that becomes a
    /// [`Trap(HostError)`](crate::TrapCode::HostError).
    ///
    /// An async host function runs in three steps, so that one definition
    /// works on every engine: **start** (`func`, with the caller), **await**
    /// the future (no caller: the guest is suspended on a wasmtime fiber or
    /// in a paused wasmi call; on wasmer the thread parks), **finish** (with
    /// the caller again, writing the results; see [`Finish`]). From
    /// [`Store::call_async`](crate::Store::call_async) the guest call
    /// suspends while the future is pending; from the synchronous
    /// [`Store::call`](crate::Store::call) (with `std`) the thread blocks on
    /// the future instead.
    ///
    /// Time spent awaiting counts against the call's
    /// [`Limits::timeout`](crate::Limits::timeout): a future still pending at
    /// the deadline is dropped and the call ends with
    /// [`Trap(Timeout)`](crate::TrapCode::Timeout) (on an async call the
    /// timer is tokio's: feature `tokio`, polled inside a tokio runtime). A
    /// panic in `func` or in the future is a `Trap(HostError)` with
    /// [`HostError::is_panic`] set.
    ///
    /// ```
    /// use anywasm_core::{FuncType, HostError, Linker, Val, ValType};
    /// let mut linker = Linker::<()>::new();
    /// linker.func_async("env", "double_later", FuncType::new([ValType::I32], [ValType::I32]),
    ///     |_caller, args| {
    ///         let x = args[0].as_i32().unwrap_or(0);
    ///         async move { Ok::<_, HostError>(vec![Val::I32(x * 2)]) }
    ///     });
    /// assert!(linker.get("env", "double_later").unwrap().is_async());
    /// ```
    pub fn func_async<F, Fut>(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        func: F,
    ) -> &mut Self
    where
        F: Fn(&mut dyn Caller<T>, &[Val]) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Val>, HostError>> + Send + 'static,
    {
        let start: Arc<AsyncHostFn<T>> = Arc::new(move |caller, args| {
            let fut = func(caller, args);
            Box::pin(async move { fut.await.map(Finish::values) })
        });
        self.insert_async(module, name, ty, None, start);
        self
    }

    /// Register an async host function (shared by the typed definers).
    pub(crate) fn insert_async(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        capability: Option<String>,
        start: Arc<AsyncHostFn<T>>,
    ) -> &mut HostFunc<T> {
        let blocking = blocking_fn(start.clone());
        let entry = self.insert(module, name, ty, capability, blocking);
        entry.set_async(Some(start));
        entry
    }
}

/// The synchronous form of an async host function: start, block on the
/// future (std), finish. Used when a guest reaches it from a synchronous
/// call, and always on engines without suspension (wasmer).
///
/// The thread parks until the future's waker fires, at most until the
/// call's deadline. Parking the thread that drives a current-thread tokio
/// runtime stops that runtime's timers and I/O, so such a future can only
/// end by the deadline: block only off the runtime's own thread.
pub(crate) fn blocking_fn<T: 'static>(start: Arc<AsyncHostFn<T>>) -> Arc<crate::HostFn<T>> {
    Arc::new(
        move |caller: &mut dyn Caller<T>, args: &[Val], results: &mut [Val]| {
            #[cfg(feature = "std")]
            {
                let deadline = caller.remaining_time();
                let fut = start(caller, args);
                let finish =
                    crate::block::block_on(fut, deadline).unwrap_or_else(|| Err(timeout()))?;
                (finish.step)(caller, results)
            }
            #[cfg(not(feature = "std"))]
            {
                let _ = (&start, caller, args, results);
                Err(HostError::new(
                    "an async host function needs Store::call_async without std",
                ))
            }
        },
    )
}

#[cfg(feature = "std")]
/// The error of a host future still pending at the call's deadline.
pub(crate) fn timeout() -> HostError {
    HostError::trap(
        crate::TrapCode::Timeout,
        "the call ran past its deadline while a host function was awaiting",
    )
}

impl<T> HostFunc<T> {
    /// Start the async host function (step 1, see [`Linker::func_async`]):
    /// its future, bounded by the caller's remaining time. `None` if this
    /// function is synchronous.
    ///
    /// A panic in the closure is caught (with `std`) and so is one while
    /// the returned future is polled; both become a [`HostError`] with
    /// [`is_panic`](HostError::is_panic) set.
    pub fn start_async(&self, caller: &mut dyn Caller<T>, args: &[Val]) -> Option<Pending<T>> {
        let start = self.async_fn()?;
        let deadline = caller.remaining_time();
        let fut = crate::host::catch(|| start(caller, args));
        Some(Pending::new(fut, deadline))
    }

    /// Finish an async host function (step 3): run `finish` with the caller
    /// and check the results against the signature, as
    /// [`invoke`](Self::invoke) does.
    pub fn finish_async(
        &self,
        finish: Finish<T>,
        caller: &mut dyn Caller<T>,
        results: &mut [Val],
    ) -> Result<(), HostError> {
        for (slot, ty) in results.iter_mut().zip(self.ty().results()) {
            *slot = ty.default_value();
        }
        crate::host::catch(|| (finish.step)(caller, results))??;
        self.check_results(results)
    }
}

/// A started async host function: its future, made panic-safe and bounded
/// by the call's deadline. Resolves to the [`Finish`] step.
pub struct Pending<T> {
    fut: Result<HostFuture<T>, Option<HostError>>,
    #[cfg(feature = "tokio")]
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    deadline: Option<Duration>,
}

impl<T> Pending<T> {
    fn new(fut: Result<HostFuture<T>, HostError>, deadline: Option<Duration>) -> Self {
        Self {
            fut: fut.map_err(Some),
            #[cfg(feature = "tokio")]
            timer: deadline
                .filter(|_| tokio::runtime::Handle::try_current().is_ok())
                .map(|d| Box::pin(tokio::time::sleep(d))),
            deadline,
        }
    }

    /// Time the caller had left when the function started.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }
}

impl<T> core::fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pending")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<Finish<T>, HostError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let fut = match &mut this.fut {
            Ok(fut) => fut,
            Err(e) => {
                return Poll::Ready(Err(e.take().unwrap_or_else(|| {
                    HostError::new("async host function polled after it ended")
                })));
            }
        };
        match crate::host::catch(|| fut.as_mut().poll(cx)) {
            Ok(Poll::Ready(out)) => return Poll::Ready(out),
            Ok(Poll::Pending) => {}
            Err(e) => {
                this.fut = Err(None);
                return Poll::Ready(Err(e));
            }
        }
        #[cfg(feature = "tokio")]
        if let Some(timer) = &mut this.timer
            && timer.as_mut().poll(cx).is_ready()
        {
            this.fut = Err(None);
            return Poll::Ready(Err(timeout()));
        }
        Poll::Pending
    }
}
