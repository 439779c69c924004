//! Host functions: a [`HostFunc`] becomes a wasmer dynamic function whose
//! trampoline converts values, builds a [`Caller`] and invokes the closure.
//!
//! Every host function of a store shares the store-level `FunctionEnv`
//! holding [`StoreData`]; the closure also captures the slot of the instance
//! it was created for, which is filled in right after `Instance::new` (before
//! any guest code, including the start function, can run), so the caller's
//! memory and exports are always found.

use anywasm_core::{
    BackendKind, Caller, Error, ErrorKind, FuncType, HostError, HostFunc, Val, ValBuf, check_args,
    check_range, export_not_found,
};
use std::sync::Arc;
use wasmer::{Extern, FunctionEnv, FunctionEnvMut, Memory, RuntimeError, Value};

use crate::convert::{from_value, from_values_into, func_type, to_values};
use crate::error::{BACKEND, Stopped, err, runtime_error, tag};
use crate::fuel;
use crate::store::StoreData;

/// Host stack that re-entrant calls may use below the top-level call.
///
/// wasmer runs each guest call on its own coroutine stack, but the host
/// functions in between run on the thread's own stack, so host -> guest ->
/// host recursion (driven by the guest's arguments) grows the thread stack
/// without any wasm stack check seeing it. Past this budget a re-entrant
/// call fails with `Trap(StackOverflow)` instead of overflowing the thread
/// stack (which aborts the process). A level costs roughly 2 KiB in release
/// builds and 8 KiB in debug builds. The budget is the thread's, counted
/// from its outermost top-level call: stores called from one another's
/// host functions on one thread share it.
pub(crate) const REENTRY_STACK_BUDGET: usize = 1 << 20;

/// The current stack pointer, approximately.
#[inline(never)]
pub(crate) fn stack_pointer() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// A host error raised inside the trampoline itself (value conversion).
fn trampoline_error(e: &Error) -> RuntimeError {
    RuntimeError::user(Box::new(HostError::new(e.message().to_string())))
}

/// Create the engine function for `host`, called by the instance in `slot`.
pub(crate) fn host_function<T: Send + 'static>(
    store: &mut wasmer::Store,
    env: &FunctionEnv<StoreData<T>>,
    host: &HostFunc<T>,
    slot: usize,
) -> wasmer::Function {
    if let Some(f) = native(store, env, host, slot) {
        return f;
    }
    if let Some(f) = typed_host_function(store, env, host, slot) {
        return f;
    }
    let host = host.clone();
    let ty = crate::convert::wasmer_func_type(host.ty());
    wasmer::Function::new_with_env(
        store,
        env,
        ty,
        move |mut env: FunctionEnvMut<'_, StoreData<T>>,
              args: &[Value]|
              -> Result<Vec<Value>, RuntimeError> {
            let mut arg_buf = ValBuf::new(args.len());
            let vals = arg_buf.as_mut_slice();
            {
                let (data, store) = env.data_and_store_mut();
                for (slot, v) in vals.iter_mut().zip(args) {
                    *slot = from_value(data, &store, v).map_err(|e| trampoline_error(&e))?;
                }
            }
            let mut res_buf = ValBuf::new(host.ty().results().len());
            let results = res_buf.as_mut_slice();
            invoke_host(env.as_mut(), slot, &host, vals, results)
                .map_err(|e| RuntimeError::user(Box::new(e)))?;
            let (data, mut store) = env.data_and_store_mut();
            to_values(data, &mut store, results).map_err(|e| trampoline_error(&e))
        },
    )
}

/// Run `host` for the instance in `slot`.
fn invoke_host<T: Send + 'static>(
    env: FunctionEnvMut<'_, StoreData<T>>,
    slot: usize,
    host: &HostFunc<T>,
    args: &[Val],
    results: &mut [Val],
) -> Result<(), HostError> {
    let mut caller = HostCaller {
        env,
        slot,
        memory: None,
    };
    host.invoke(&mut caller, args, results)
}

/// For every signature of [`anywasm_core::native_shapes`]: `host`'s typed
/// form as a wasmer typed function, called with native values, no `Value`
/// slice, `Vec` or `Val` in between.
///
/// The closure fails with the [`HostError`] itself, not a `RuntimeError`
/// around it: wasmer boxes it into the same user trap (`runtime_error`
/// finds it by the same downcast), and since that error type cannot be a
/// wasm exception, wasmer's wrapper around every host call compiles without
/// its exception branch (its closure took half the samples it did in a
/// profile; about 5 ns per host call in `call/host_noop_x100/wasmer`).
macro_rules! native {
    ($(($($a:ident: $p:ty),*) -> $r:ty;)*) => {
        fn native<T: Send + 'static>(
            store: &mut wasmer::Store,
            env: &FunctionEnv<StoreData<T>>,
            host: &HostFunc<T>,
            slot: usize,
        ) -> Option<wasmer::Function> {
            $(if let Some(f) = host.native::<($($p,)*), $r>() {
                let f = f.clone();
                return Some(wasmer::Function::new_typed_with_env(
                    store,
                    env,
                    move |env: FunctionEnvMut<'_, StoreData<T>>, $($a: $p),*| -> Result<$r, HostError> {
                        let mut caller = HostCaller { env, slot, memory: None };
                        anywasm_core::call_native(&*f, &mut caller, ($($a,)*))
                    },
                ));
            })*
            None
        }
    };
}

anywasm_core::native_shapes!(native);

/// A typed wasmer function for a [`Linker::func`](anywasm_core::Linker::func)
/// host function (no typed form) when its signature is one of the small
/// numeric shapes plugins import most: wasmer's dynamic functions take a
/// slice of `Value`s and return a fresh `Vec` on every call, typed ones
/// pass native values.
/// `HostFunc::invoke` checks the result types, so the fallbacks to 0 below
/// are never taken.
fn typed_host_function<T: Send + 'static>(
    store: &mut wasmer::Store,
    env: &FunctionEnv<StoreData<T>>,
    host: &HostFunc<T>,
    slot: usize,
) -> Option<wasmer::Function> {
    use anywasm_core::ValType::{I32, I64};
    use wasmer::Function;
    type Env<'a, T> = FunctionEnvMut<'a, StoreData<T>>;
    let h = host.clone();
    let i32_of = |v: &Val| v.as_i32().unwrap_or(0);
    Some(match (host.ty().params(), host.ty().results()) {
        ([], []) => Function::new_typed_with_env(store, env, move |e: Env<'_, T>| {
            invoke_host(e, slot, &h, &[], &mut [])
        }),
        ([], [I32]) => Function::new_typed_with_env(store, env, move |e: Env<'_, T>| {
            let mut r = [Val::I32(0)];
            invoke_host(e, slot, &h, &[], &mut r).map(|()| i32_of(&r[0]))
        }),
        ([I32], []) => Function::new_typed_with_env(store, env, move |e: Env<'_, T>, a: i32| {
            invoke_host(e, slot, &h, &[Val::I32(a)], &mut [])
        }),
        ([I32], [I32]) => Function::new_typed_with_env(store, env, move |e: Env<'_, T>, a: i32| {
            let mut r = [Val::I32(0)];
            invoke_host(e, slot, &h, &[Val::I32(a)], &mut r).map(|()| i32_of(&r[0]))
        }),
        ([I32, I32], []) => {
            Function::new_typed_with_env(store, env, move |e: Env<'_, T>, a: i32, b: i32| {
                invoke_host(e, slot, &h, &[Val::I32(a), Val::I32(b)], &mut [])
            })
        }
        ([I32, I32], [I32]) => {
            Function::new_typed_with_env(store, env, move |e: Env<'_, T>, a: i32, b: i32| {
                let mut r = [Val::I32(0)];
                invoke_host(e, slot, &h, &[Val::I32(a), Val::I32(b)], &mut r)
                    .map(|()| i32_of(&r[0]))
            })
        }
        ([I32, I32], [I64]) => {
            Function::new_typed_with_env(store, env, move |e: Env<'_, T>, a: i32, b: i32| {
                let mut r = [Val::I64(0)];
                invoke_host(e, slot, &h, &[Val::I32(a), Val::I32(b)], &mut r)
                    .map(|()| r[0].as_i64().unwrap_or(0))
            })
        }
        _ => return None,
    })
}

/// What a host function sees of its caller.
struct HostCaller<'a, T: Send + 'static> {
    env: FunctionEnvMut<'a, StoreData<T>>,
    slot: usize,
    /// The caller's `memory`, once looked up: an ABI host call reads the
    /// request, sizes and writes the response, each through it.
    memory: Option<Memory>,
}

impl<T: Send + 'static> HostCaller<'_, T> {
    /// The calling instance's export named `memory` (looked up on first
    /// use in this host call).
    fn memory(&mut self) -> Option<Memory> {
        if let Some(m) = &self.memory {
            return Some(m.clone());
        }
        match self.env.data().export(self.slot, "memory")? {
            Extern::Memory(m) => {
                let m = m.clone();
                self.memory = Some(m.clone());
                Some(m)
            }
            _ => None,
        }
    }

    /// The calling instance's function `export` and its signature, cached
    /// in its instance entry after the first re-entry.
    fn reentry_target(&mut self, export: &str) -> Result<(wasmer::Function, Arc<FuncType>), Error> {
        let data = self.env.data();
        if let Some(Some(entry)) = data.instances.get(self.slot)
            && let Some((_, f, ty)) = entry.reentry.iter().find(|(n, ..)| &**n == export)
        {
            return Ok((f.clone(), ty.clone()));
        }
        let func = match data.export(self.slot, export) {
            Some(Extern::Function(f)) => f.clone(),
            _ => return Err(tag(export_not_found(export, "function"))),
        };
        let ty = func_type(&func.ty(&self.env)).ok_or_else(|| {
            err(
                ErrorKind::Unsupported,
                format!("function `{export}` uses a value type anywasm does not support"),
            )
        })?;
        let ty = Arc::new(ty);
        if let Some(Some(entry)) = self.env.data_mut().instances.get_mut(self.slot)
            && entry.reentry.len() < crate::store::MAX_REENTRY_EXPORTS
        {
            entry
                .reentry
                .push((export.into(), func.clone(), ty.clone()));
        }
        Ok((func, ty))
    }

    fn memory_or_err(&mut self) -> Result<Memory, Error> {
        self.memory()
            .ok_or_else(|| tag(export_not_found("memory", "memory")))
    }
}

impl<T: Send + 'static> Caller<T> for HostCaller<'_, T> {
    fn backend(&self) -> BackendKind {
        BACKEND
    }

    fn data(&self) -> &T {
        &self.env.data().host
    }

    fn data_mut(&mut self) -> &mut T {
        &mut self.env.data_mut().host
    }

    fn memory_size(&mut self) -> Option<u64> {
        let mem = self.memory()?;
        Some(mem.view(&self.env).data_size())
    }

    fn read_memory(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let mem = self.memory_or_err()?;
        let view = mem.view(&self.env);
        check_range(offset, buf.len(), view.data_size()).map_err(tag)?;
        view.read(offset, buf)
            .map_err(|e| err(ErrorKind::OutOfBounds, e.to_string()))
    }

    fn write_memory(&mut self, offset: u64, data: &[u8]) -> Result<(), Error> {
        let mem = self.memory_or_err()?;
        let view = mem.view(&self.env);
        check_range(offset, data.len(), view.data_size()).map_err(tag)?;
        view.write(offset, data)
            .map_err(|e| err(ErrorKind::OutOfBounds, e.to_string()))
    }

    fn call(&mut self, export: &str, args: &[Val], results: &mut [Val]) -> Result<(), Error> {
        if self.env.data().reentry_depth >= anywasm_core::MAX_REENTRY_DEPTH {
            return Err(tag(Error::reentry_too_deep()));
        }
        // A second guard, in bytes: stacks grow down on every platform
        // wasmer supports.
        if let Some(entry) = self.env.data().entry_sp
            && entry.saturating_sub(stack_pointer()) > REENTRY_STACK_BUDGET
        {
            return Err(err(
                ErrorKind::Trap(anywasm_core::TrapCode::StackOverflow),
                format!(
                    "re-entrant calls used more than {REENTRY_STACK_BUDGET} bytes of host stack"
                ),
            ));
        }
        let (func, ty) = self.reentry_target(export)?;
        check_args(&ty, args, results).map_err(tag)?;
        let values = {
            let (data, mut store) = self.env.data_and_store_mut();
            to_values(data, &mut store, args)?
        };
        // Re-entrant: runs on the outer call's fuel points and deadline.
        self.env.data_mut().reentry_depth += 1;
        let outcome = func.call(&mut self.env, &values);
        self.env.data_mut().reentry_depth -= 1;
        let out = match outcome {
            Ok(out) => out,
            Err(e) => {
                let (data, mut store) = self.env.data_and_store_mut();
                let out_of_fuel = data.metered && fuel::any_exhausted(data, &mut store);
                let counter = data.gas.clone();
                // The outer call's deadline is settled when it returns.
                let e = runtime_error(
                    e,
                    Stopped {
                        out_of_fuel,
                        interrupted: false,
                    },
                );
                return Err(crate::gas::classify(&mut store, counter.as_ref(), e));
            }
        };
        let (data, store) = self.env.data_and_store_mut();
        from_values_into(data, &store, &out, results)
    }

    fn remaining_time(&self) -> Option<std::time::Duration> {
        self.env
            .data()
            .deadline
            .map(|d| d.saturating_duration_since(std::time::Instant::now()))
    }

    fn reply_area(&self) -> anywasm_core::abi::Scratch {
        self.env.data().reply_area
    }
}
