//! Calling guest code under the store's limits: [`Store::call`](crate::Store)'s
//! conversions around the engine call, and re-entrant calls from host
//! functions.
//!
//! Fuel: wasmi's own metering; the store's wasmi fuel *is* the budget.
//!
//! Timeouts, without threads: a call with a deadline runs through
//! [`wasmi::Func::call_resumable`] with at most [`FUEL_SLICE`] units of fuel
//! loaded into the store. Each time the slice is used up wasmi pauses the
//! call; we read the clock, stop with `Trap(Timeout)` if the deadline has
//! passed, and otherwise load the next slice and resume. The rest of the
//! real budget waits in [`Timing::reserve`] meanwhile and is put back when
//! the call ends, so the store's fuel always reads as the real remaining
//! budget between calls; when budget and reserve are both exhausted the call
//! ends with `Trap(OutOfFuel)` as without a timeout.
//!
//! Re-entrant calls from host functions share the outermost call's deadline
//! and reserve.

use alloc::vec::Vec;
use core::time::Duration;

use anywasm_core::{Error, ErrorKind, FuncType, Result, TrapCode, Val, check_args};
use wasmi::{AsContext, AsContextMut, ResumableCall};

use crate::convert::{self, from_wasmi, to_val_type, to_wasmi};
use crate::engine::Clock;
use crate::error::engine_error;
use crate::store::{Func, Store, StoreData, foreign};

/// Fuel units (about one per executed instruction) run between two clock
/// readings when a call has a deadline.
pub const FUEL_SLICE: u64 = 100_000;

/// Per-store execution state.
#[derive(Debug)]
pub(crate) struct ExecState {
    timeout: Option<Duration>,
    clock: Option<Clock>,
    /// Set while a call with a deadline is running.
    timing: Option<Timing>,
    /// Current host re-entrancy depth.
    depth: u32,
}

#[derive(Debug, Clone, Copy)]
struct Timing {
    deadline: Duration,
    /// Budget not loaded into the store during the call.
    reserve: u64,
    clock: Clock,
}

impl ExecState {
    pub(crate) fn new(timeout: Option<Duration>, clock: Option<Clock>) -> Self {
        Self {
            timeout,
            clock,
            timing: None,
            depth: 0,
        }
    }

    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    pub(crate) fn clock(&self) -> Option<Clock> {
        self.clock
    }

    pub(crate) fn depth(&self) -> u32 {
        self.depth
    }

    /// Start timing a top-level call: `reserve` is the budget not loaded
    /// into the store.
    pub(crate) fn start_timing(&mut self, deadline: Duration, reserve: u64, clock: Clock) {
        self.timing = Some(Timing {
            deadline,
            reserve,
            clock,
        });
    }

    /// End timing the top-level call, returning the unused reserve.
    pub(crate) fn end_timing(&mut self) -> u64 {
        self.timing.take().map_or(0, |t| t.reserve)
    }

    /// Forget a call abandoned mid-way (an async call's future dropped):
    /// the next top-level call starts afresh.
    pub(crate) fn reset(&mut self) {
        self.timing = None;
        self.depth = 0;
    }

    /// Time left before the running call's deadline, if it has one.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        self.timing
            .as_ref()
            .map(|t| t.deadline.saturating_sub((t.clock)()))
    }
}

/// Call `func` with engine values under the store's limits.
pub(crate) fn invoke<T>(
    ctx: &mut impl AsContextMut<Data = StoreData<T>>,
    func: &wasmi::Func,
    args: &[wasmi::Val],
    results: &mut [wasmi::Val],
) -> Result<()> {
    invoke_limited(ctx, func, args, results).map_err(|e| crate::gas::out_of_gas(ctx, e))
}

fn invoke_limited<T>(
    ctx: &mut impl AsContextMut<Data = StoreData<T>>,
    func: &wasmi::Func,
    args: &[wasmi::Val],
    results: &mut [wasmi::Val],
) -> Result<()> {
    let (timeout, clock, nested) = {
        let store = ctx.as_context();
        let exec = &store.data().exec;
        (exec.timeout, exec.clock, exec.timing.is_some())
    };
    let (Some(timeout), Some(clock)) = (timeout, clock) else {
        return func.call(&mut *ctx, args, results).map_err(engine_error);
    };
    if nested {
        // Re-entrant call inside a timed call: same deadline, same reserve.
        return run_sliced(ctx, func, args, results);
    }
    let total = ctx.as_context().get_fuel().map_err(engine_error)?;
    let slice = total.min(FUEL_SLICE);
    ctx.as_context_mut().set_fuel(slice).map_err(engine_error)?;
    ctx.as_context_mut().data_mut().exec.timing = Some(Timing {
        deadline: clock().saturating_add(timeout),
        reserve: total - slice,
        clock,
    });
    let outcome = run_sliced(ctx, func, args, results);
    let reserve = ctx
        .as_context_mut()
        .data_mut()
        .exec
        .timing
        .take()
        .map_or(0, |t| t.reserve);
    let left = ctx.as_context().get_fuel().unwrap_or(0);
    // Cannot fail: fuel metering is on (we just read the fuel).
    let _ = ctx.as_context_mut().set_fuel(left.saturating_add(reserve));
    outcome
}

fn run_sliced<T>(
    ctx: &mut impl AsContextMut<Data = StoreData<T>>,
    func: &wasmi::Func,
    args: &[wasmi::Val],
    results: &mut [wasmi::Val],
) -> Result<()> {
    let mut call = func
        .call_resumable(&mut *ctx, args, results)
        .map_err(engine_error)?;
    loop {
        match call {
            ResumableCall::Finished => return Ok(()),
            ResumableCall::HostTrap(trap) => return Err(engine_error(trap.into_host_error())),
            ResumableCall::OutOfFuel(paused) => {
                refill(ctx, paused.required_fuel())?;
                call = paused.resume(&mut *ctx, results).map_err(engine_error)?;
            }
        }
    }
}

/// Between two slices: out of real fuel, past the deadline, or load the
/// next slice (at least what the paused instruction needs).
pub(crate) fn refill<T>(
    ctx: &mut impl AsContextMut<Data = StoreData<T>>,
    required: u64,
) -> Result<()> {
    let left = ctx.as_context().get_fuel().map_err(engine_error)?;
    let mut store = ctx.as_context_mut();
    let Some(timing) = store.data_mut().exec.timing.as_mut() else {
        return Err(Error::new(
            ErrorKind::Engine,
            "resumable call paused outside of a timed call",
        ));
    };
    let available = left.saturating_add(timing.reserve);
    if available < required {
        return Err(Error::trap(TrapCode::OutOfFuel, "all fuel consumed"));
    }
    if (timing.clock)() >= timing.deadline {
        return Err(Error::trap(
            TrapCode::Timeout,
            "the call ran past its deadline",
        ));
    }
    let target = available.min(required.max(FUEL_SLICE));
    timing.reserve -= target.saturating_sub(left);
    store.set_fuel(target).map_err(engine_error)
}

/// A host function calling `func` (an export of its caller) re-entrantly.
///
/// Every ABI host call comes here once (for `anywasm_alloc`), so up to
/// four arguments and results stay on the stack and the signature is
/// compared as wasmi has it; an anywasm `FuncType` is built only to word a
/// mismatch.
pub(crate) fn reentrant_call<T>(
    ctx: &mut wasmi::Caller<'_, StoreData<T>>,
    func: wasmi::Func,
    args: &[Val],
    results: &mut [Val],
) -> Result<()> {
    const SMALL: usize = 4;
    let ty = func.ty(&*ctx);
    let fits = args.len() == ty.params().len()
        && results.len() == ty.results().len()
        && args
            .iter()
            .zip(ty.params())
            .all(|(a, t)| a.ty() == convert::val_type(*t));
    if !fits {
        check_args(&convert::func_type(&ty), args, results)?;
    }
    // Each level is a new native interpreter invocation (about 5 KiB of
    // native stack optimised, 20 KiB unoptimised): bounded by depth.
    if ctx.data().exec.depth >= anywasm_core::MAX_REENTRY_DEPTH {
        return Err(Error::reentry_too_deep());
    }
    let mut small_args = [const { wasmi::Val::I32(0) }; SMALL];
    let mut small_res = [const { wasmi::Val::I32(0) }; SMALL];
    let (mut big_args, mut big_res) = (Vec::new(), Vec::new());
    let wargs = slots(&mut small_args, &mut big_args, args.len());
    for (slot, a) in wargs.iter_mut().zip(args) {
        *slot = to_wasmi(ctx, *a)?;
    }
    let wres = slots(&mut small_res, &mut big_res, results.len());
    for (slot, t) in wres.iter_mut().zip(ty.results()) {
        *slot = wasmi::Val::default_for_ty(*t);
    }
    ctx.data_mut().exec.depth += 1;
    let outcome = invoke(ctx, &func, wargs, wres);
    ctx.data_mut().exec.depth -= 1;
    outcome?;
    for (slot, v) in results.iter_mut().zip(wres.iter()) {
        *slot = from_wasmi(ctx, v)?;
    }
    Ok(())
}

/// `n` value slots: the front of `small` if they fit, else `big` resized.
fn slots<'a>(
    small: &'a mut [wasmi::Val],
    big: &'a mut Vec<wasmi::Val>,
    n: usize,
) -> &'a mut [wasmi::Val] {
    if n <= small.len() {
        &mut small[..n]
    } else {
        big.resize(n, wasmi::Val::I32(0));
        big
    }
}

impl<T: Send + 'static> Store<T> {
    /// Before a top-level call: forget what an abandoned async call left.
    pub(crate) fn reset_exec(&mut self) {
        let data = self.raw.data_mut();
        if data.async_call || data.suspended.is_some() {
            data.async_call = false;
            data.suspended = None;
            data.exec.reset();
        }
    }

    /// The start of every top-level call: check the handle and the values,
    /// forget what an abandoned async call left, and convert the arguments
    /// into `wargs` and default results into `wres` (both cleared first).
    pub(crate) fn enter_call(
        &mut self,
        func: &Func,
        args: &[Val],
        results: &[Val],
        wargs: &mut Vec<wasmi::Val>,
        wres: &mut Vec<wasmi::Val>,
    ) -> Result<()> {
        if func.store != self.id {
            return Err(foreign("function"));
        }
        check_args(&func.ty, args, results)?;
        self.reset_exec();
        wargs.clear();
        wres.clear();
        for a in args {
            wargs.push(to_wasmi(&mut self.raw, *a)?);
        }
        wres.extend(
            func.ty
                .results()
                .iter()
                .map(|t| wasmi::Val::default_for_ty(to_val_type(*t))),
        );
        Ok(())
    }

    /// The end of a top-level call: the engine's results as anywasm values.
    pub(crate) fn leave_call(&mut self, wres: &[wasmi::Val], results: &mut [Val]) -> Result<()> {
        for (slot, v) in results.iter_mut().zip(wres) {
            *slot = from_wasmi(&mut self.raw, v)?;
        }
        Ok(())
    }

    pub(crate) fn call_impl(
        &mut self,
        func: &Func,
        args: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        if let Some(typed) = &func.typed {
            let exec = &self.raw.data().exec;
            // A timed call runs resumably in fuel slices (`run_sliced`).
            let timed = exec.timeout.is_some() && exec.clock.is_some();
            if !timed && func.store == self.id {
                check_args(&func.ty, args, results)?;
                self.reset_exec();
                return typed
                    .call(&mut self.raw, args, results)
                    .map_err(|e| crate::gas::out_of_gas(&mut self.raw, engine_error(e)));
            }
        }
        let mut wargs = core::mem::take(&mut self.scratch_args);
        let mut wres = core::mem::take(&mut self.scratch_results);
        let outcome = (|| {
            self.enter_call(func, args, results, &mut wargs, &mut wres)?;
            invoke(&mut self.raw, &func.raw, &wargs, &mut wres)?;
            self.leave_call(&wres, results)
        })();
        // Do not keep engine handles alive in the scratch buffers.
        wargs.clear();
        wres.clear();
        self.scratch_args = wargs;
        self.scratch_results = wres;
        outcome
    }
}

/// A function's typed handle, when its signature is one of the shapes
/// plugins call most: the plugin ABI's entry points and `anywasm_alloc`,
/// no-op and counter exports; any other signature takes the untyped path.
///
/// wasmi's untyped `Func::call` looks the function's type up in the
/// engine's type registry and checks every value on every call, which
/// anywasm's own `check_args` already did; a `TypedFunc` checked its
/// signature once, when it was made.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Typed {
    /// `[] -> []`
    Unit(wasmi::TypedFunc<(), ()>),
    /// `[] -> [i32]`
    ToI32(wasmi::TypedFunc<(), i32>),
    /// `[i32] -> []`
    I32(wasmi::TypedFunc<i32, ()>),
    /// `[i32] -> [i32]`
    I32ToI32(wasmi::TypedFunc<i32, i32>),
    /// `[i32 i32] -> []`
    I32I32(wasmi::TypedFunc<(i32, i32), ()>),
    /// `[i32 i32] -> [i32]`
    I32I32ToI32(wasmi::TypedFunc<(i32, i32), i32>),
    /// `[i32 i32] -> [i64]`
    I32I32ToI64(wasmi::TypedFunc<(i32, i32), i64>),
    /// `[] -> [i64]` (the ABI version 2 entry's packed pointer and length)
    ToI64(wasmi::TypedFunc<(), i64>),
    /// `[i64] -> [i64]`
    I64ToI64(wasmi::TypedFunc<i64, i64>),
}

impl Typed {
    /// The typed handle of `func` (signature `ty`), if its shape is covered.
    pub(crate) fn new(func: &wasmi::Func, ty: &FuncType, ctx: impl AsContext) -> Option<Self> {
        use anywasm_core::ValType::{I32, I64};
        Some(match (ty.params(), ty.results()) {
            ([], []) => Self::Unit(func.typed(ctx).ok()?),
            ([], [I32]) => Self::ToI32(func.typed(ctx).ok()?),
            ([I32], []) => Self::I32(func.typed(ctx).ok()?),
            ([I32], [I32]) => Self::I32ToI32(func.typed(ctx).ok()?),
            ([I32, I32], []) => Self::I32I32(func.typed(ctx).ok()?),
            ([I32, I32], [I32]) => Self::I32I32ToI32(func.typed(ctx).ok()?),
            ([I32, I32], [I64]) => Self::I32I32ToI64(func.typed(ctx).ok()?),
            ([], [I64]) => Self::ToI64(func.typed(ctx).ok()?),
            ([I64], [I64]) => Self::I64ToI64(func.typed(ctx).ok()?),
            _ => return None,
        })
    }

    /// Call with `args`/`results` already checked against the signature.
    fn call(
        &self,
        mut ctx: impl AsContextMut,
        args: &[Val],
        results: &mut [Val],
    ) -> core::result::Result<(), wasmi::Error> {
        let i32_at = |n: usize| args.get(n).and_then(Val::as_i32).unwrap_or(0);
        let out = match self {
            Self::Unit(f) => f.call(&mut ctx, ()).map(|()| None)?,
            Self::ToI32(f) => Some(Val::I32(f.call(&mut ctx, ())?)),
            Self::I32(f) => f.call(&mut ctx, i32_at(0)).map(|()| None)?,
            Self::I32ToI32(f) => Some(Val::I32(f.call(&mut ctx, i32_at(0))?)),
            Self::I32I32(f) => f.call(&mut ctx, (i32_at(0), i32_at(1))).map(|()| None)?,
            Self::I32I32ToI32(f) => Some(Val::I32(f.call(&mut ctx, (i32_at(0), i32_at(1)))?)),
            Self::I32I32ToI64(f) => Some(Val::I64(f.call(&mut ctx, (i32_at(0), i32_at(1)))?)),
            Self::ToI64(f) => Some(Val::I64(f.call(&mut ctx, ())?)),
            Self::I64ToI64(f) => {
                let a = args.first().and_then(Val::as_i64).unwrap_or(0);
                Some(Val::I64(f.call(&mut ctx, a)?))
            }
        };
        if let (Some(v), Some(slot)) = (out, results.first_mut()) {
            *slot = v;
        }
        Ok(())
    }
}
