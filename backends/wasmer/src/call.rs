//! Calling guest functions: the top-level call around every entry into the
//! store (fuel, deadline, error mapping), shared by [`Store::call`](crate::Store)
//! and the hooked start function (`link.rs`), and typed calls for the small
//! signatures plugins use most.
//!
//! wasmer's untyped `Function::call` allocates a parameter vector and a
//! boxed result slice on every call and re-checks every value's type; its
//! `TypedFunction` passes native values straight to the trampoline. The
//! shapes of [`Typed`] cover the plugin ABI (`anywasm_alloc`, entry points,
//! `anywasm_free`) and no-op/counter exports; any other signature takes the
//! untyped path. Arguments were checked against the signature before a call
//! reaches here (`check_args`).

use std::cell::Cell;

use anywasm_core::{Error, FuncType, Val, ValType};
use wasmer::{AsStoreMut, AsStoreRef, Function, RuntimeError, TypedFunction, Value};

use crate::convert::{from_values_into, to_values};
use crate::error::{Stopped, runtime_error};
use crate::fuel;
use crate::store::{Func, Store};

std::thread_local! {
    /// The host stack pointer where the outermost top-level call running on
    /// this thread started. A store called from inside another store's host
    /// function (a plugin calling a plugin, which the plugin manager runs on
    /// the caller's thread) shares the thread's stack, so the re-entry
    /// budget in bytes (`REENTRY_STACK_BUDGET`) counts from there: nested
    /// stores cannot each spend a budget of their own on one stack.
    static OUTERMOST_SP: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The outermost call's stack pointer on this thread; this call's own if it
/// is the outermost, until the guard is dropped.
struct Outermost {
    sp: usize,
    owner: bool,
}

impl Outermost {
    fn enter() -> Self {
        let here = crate::host::stack_pointer();
        match OUTERMOST_SP.get() {
            Some(sp) => Self { sp, owner: false },
            None => {
                OUTERMOST_SP.set(Some(here));
                Self {
                    sp: here,
                    owner: true,
                }
            }
        }
    }
}

impl Drop for Outermost {
    fn drop(&mut self) {
        if self.owner {
            OUTERMOST_SP.set(None);
        }
    }
}

impl<T: Send + 'static> Store<T> {
    /// Call `func` with `args`/`results` already checked against its
    /// signature: the typed path when it covers the signature, else the
    /// untyped one.
    pub(crate) fn call_checked(
        &mut self,
        func: &Func,
        args: &[Val],
        results: &mut [Val],
    ) -> Result<(), Error> {
        if let Some(typed) = &func.typed {
            return self.invoke_with(|store| typed.call(store, args, results));
        }
        let values = self.with_parts(|data, store| to_values(data, store, args))?;
        let out = self.invoke(&func.func, &values)?;
        self.with_parts(|data, store| from_values_into(data, store, &out, results))
    }

    /// Call `f` as a top-level call: fuel from the store's budget, the
    /// per-call deadline, errors mapped.
    pub(crate) fn invoke(
        &mut self,
        f: &wasmer::Function,
        args: &[Value],
    ) -> Result<Box<[Value]>, Error> {
        self.invoke_with(|store| f.call(store, args))
    }

    /// [`invoke`](Self::invoke) for any way of calling into the store.
    pub(crate) fn invoke_with<R>(
        &mut self,
        call: impl FnOnce(&mut wasmer::Store) -> Result<R, wasmer::RuntimeError>,
    ) -> Result<R, Error> {
        // From the engine's config, not `StoreData::metered`: no trip
        // through the function environment on every call.
        let metered = self.engine.config().get_consume_fuel();
        if metered {
            self.with_parts(|data, store| fuel::prepare(data, store))?;
        }
        let (deadline, at) = self.deadline()?;
        let outermost = Outermost::enter();
        let state = self.state_mut();
        state.entry_sp = Some(outermost.sp);
        state.reentry_depth = 0;
        state.deadline = at;
        let result = call(&mut self.store);
        drop(outermost);
        let state = self.state_mut();
        state.entry_sp = None;
        state.deadline = None;
        let interrupted = finish_deadline(deadline);
        let out_of_fuel = metered && self.with_parts(|data, store| fuel::settle(data, store));
        result.map_err(|e| {
            let e = runtime_error(
                e,
                Stopped {
                    out_of_fuel,
                    interrupted,
                },
            );
            let counter = self.state().gas.clone();
            crate::gas::classify(&mut self.store, counter.as_ref(), e)
        })
    }

    /// Register the call's deadline with the watchdog; the guard and the
    /// deadline (for host functions, [`Caller::remaining_time`](anywasm_core::Caller::remaining_time)).
    #[cfg(unix)]
    #[allow(clippy::type_complexity)]
    fn deadline(
        &self,
    ) -> Result<
        (
            Option<crate::watchdog::DeadlineGuard>,
            Option<std::time::Instant>,
        ),
        Error,
    > {
        let (Some((after, interrupter)), Some(watchdog)) = (&self.timeout, self.engine.watchdog())
        else {
            return Ok((None, None));
        };
        // A deadline too far away to represent is no deadline.
        match std::time::Instant::now().checked_add(*after) {
            Some(deadline) => Ok((
                Some(watchdog.register(deadline, interrupter.clone())?),
                Some(deadline),
            )),
            None => Ok((None, None)),
        }
    }

    #[cfg(not(unix))]
    fn deadline(&self) -> Result<(Option<()>, Option<std::time::Instant>), Error> {
        Ok((None, None))
    }
}

/// Unregister a call's deadline; whether the watchdog interrupted the call.
#[cfg(unix)]
fn finish_deadline(deadline: Option<crate::watchdog::DeadlineGuard>) -> bool {
    deadline.is_some_and(crate::watchdog::DeadlineGuard::finish)
}

#[cfg(not(unix))]
fn finish_deadline(_: Option<()>) -> bool {
    false
}

/// A function's typed handle, when its signature is one of the covered shapes.
#[derive(Clone, Debug)]
pub(crate) enum Typed {
    /// `[] -> []`
    Unit(TypedFunction<(), ()>),
    /// `[] -> [i32]`
    ToI32(TypedFunction<(), i32>),
    /// `[i32] -> []`
    I32(TypedFunction<i32, ()>),
    /// `[i32] -> [i32]`
    I32ToI32(TypedFunction<i32, i32>),
    /// `[i32 i32] -> []`
    I32I32(TypedFunction<(i32, i32), ()>),
    /// `[i32 i32] -> [i32]`
    I32I32ToI32(TypedFunction<(i32, i32), i32>),
    /// `[i32 i32] -> [i64]`
    I32I32ToI64(TypedFunction<(i32, i32), i64>),
    /// `[i64] -> [i64]`
    I64ToI64(TypedFunction<i64, i64>),
}

impl Typed {
    /// The typed handle of `func` (signature `ty`), if its shape is covered.
    pub(crate) fn new(func: &Function, ty: &FuncType, store: &impl AsStoreRef) -> Option<Self> {
        use ValType::{I32, I64};
        Some(match (ty.params(), ty.results()) {
            ([], []) => Self::Unit(func.typed(store).ok()?),
            ([], [I32]) => Self::ToI32(func.typed(store).ok()?),
            ([I32], []) => Self::I32(func.typed(store).ok()?),
            ([I32], [I32]) => Self::I32ToI32(func.typed(store).ok()?),
            ([I32, I32], []) => Self::I32I32(func.typed(store).ok()?),
            ([I32, I32], [I32]) => Self::I32I32ToI32(func.typed(store).ok()?),
            ([I32, I32], [I64]) => Self::I32I32ToI64(func.typed(store).ok()?),
            ([I64], [I64]) => Self::I64ToI64(func.typed(store).ok()?),
            _ => return None,
        })
    }

    /// Call with `args`/`results` already checked against the signature.
    pub(crate) fn call(
        &self,
        store: &mut impl AsStoreMut,
        args: &[Val],
        results: &mut [Val],
    ) -> Result<(), RuntimeError> {
        let i32_at = |n: usize| args.get(n).and_then(Val::as_i32).unwrap_or(0);
        let out = match self {
            Self::Unit(f) => f.call(store).map(|()| None)?,
            Self::ToI32(f) => Some(Val::I32(f.call(store)?)),
            Self::I32(f) => f.call(store, i32_at(0)).map(|()| None)?,
            Self::I32ToI32(f) => Some(Val::I32(f.call(store, i32_at(0))?)),
            Self::I32I32(f) => f.call(store, i32_at(0), i32_at(1)).map(|()| None)?,
            Self::I32I32ToI32(f) => Some(Val::I32(f.call(store, i32_at(0), i32_at(1))?)),
            Self::I32I32ToI64(f) => Some(Val::I64(f.call(store, i32_at(0), i32_at(1))?)),
            Self::I64ToI64(f) => {
                let a = args.first().and_then(Val::as_i64).unwrap_or(0);
                Some(Val::I64(f.call(store, a)?))
            }
        };
        if let (Some(v), Some(slot)) = (out, results.first_mut()) {
            *slot = v;
        }
        Ok(())
    }
}
