//! Host functions: the wasmtime trampoline around an anywasm [`HostFunc`],
//! and the [`Caller`] it hands to the closure.

use anywasm_core::{
    BackendKind, Caller, Error, ErrorKind, HostFunc, Result, Val, ValBuf, check_args, check_range,
    export_not_found,
};
use wasmtime::{AsContextMut, ValRaw};

use std::mem::MaybeUninit;
use std::sync::Arc;

use crate::call::{Scratch, call_func, from_raw, is_plain, to_raw};
use crate::convert::{from_engine, to_engine};
use crate::error::{err, into_host, tag};
use crate::store::{FuncInfo, StoreData};

/// Create a wasmtime function for `host`, with exactly the import's engine
/// type `ty` (whose anywasm type equals `host.ty()`).
pub(crate) fn host_func<T: Send + 'static>(
    store: &mut wasmtime::Store<StoreData<T>>,
    host: &HostFunc<T>,
    ty: wasmtime::FuncType,
) -> Result<wasmtime::Func> {
    if host.is_async() {
        let f = crate::fiber::async_closure(host, ty.clone());
        return Ok(wasmtime::Func::new_async(store, ty, f));
    }
    if let Some(f) = native(host, InStore(store)) {
        return Ok(f);
    }
    let host = host.clone();
    if is_plain(host.ty()) {
        let f = move |caller: wasmtime::Caller<'_, StoreData<T>>,
                      raw: &mut [MaybeUninit<ValRaw>]| {
            trampoline_plain(&host, caller, raw)
        };
        // SAFETY: as in `define_host`.
        return Ok(unsafe { wasmtime::Func::new_unchecked(store, ty, f) });
    }
    let engine_ty = ty.clone();
    wasmtime::Func::try_new(store, ty, move |caller, params, results| {
        trampoline(&host, &engine_ty, caller, params, results)
    })
    .map_err(|e| err(ErrorKind::Engine, crate::error::chain_message(&e)))
}

/// Define `host` in an engine-level wasmtime linker under its import name,
/// with exactly the import's engine type `ty` (whose anywasm type equals
/// `host.ty()`): the same trampolines as [`host_func`], created once
/// instead of once per store.
pub(crate) fn define_host<T: Send + 'static>(
    linker: &mut wasmtime::Linker<StoreData<T>>,
    host: &HostFunc<T>,
    ty: wasmtime::FuncType,
) -> wasmtime::Result<()> {
    let (module, name) = (host.module(), host.name());
    if host.is_async() {
        let f = crate::fiber::async_closure(host, ty.clone());
        linker.func_new_async(module, name, ty, f)?;
        return Ok(());
    }
    if let Some(defined) = native(host, InLinker(linker, module, name)) {
        return defined.map(drop);
    }
    let host = host.clone();
    if is_plain(host.ty()) {
        let f = move |caller: wasmtime::Caller<'_, StoreData<T>>,
                      raw: &mut [MaybeUninit<ValRaw>]| {
            trampoline_plain(&host, caller, raw)
        };
        // SAFETY: `ty` is the engine form of `host.ty()`, which has no
        // reference types; `trampoline_plain` reads exactly its parameters
        // as those types from the front of `raw` and writes exactly its
        // results, checked to have the signature's types by
        // `HostFunc::invoke`, as those types.
        unsafe { linker.func_new_unchecked(module, name, ty, f)? };
        return Ok(());
    }
    let engine_ty = ty.clone();
    linker.func_new(module, name, ty, move |caller, params, results| {
        trampoline(&host, &engine_ty, caller, params, results)
    })?;
    Ok(())
}

/// Where a native host function goes: a store ([`host_func`]) or an
/// engine-level linker ([`define_host`]).
trait Define<T: 'static> {
    type Output;
    fn define<P, R>(self, f: impl wasmtime::IntoFunc<StoreData<T>, P, R>) -> Self::Output;
}

struct InStore<'a, T: 'static>(&'a mut wasmtime::Store<StoreData<T>>);

impl<T: 'static> Define<T> for InStore<'_, T> {
    type Output = wasmtime::Func;
    fn define<P, R>(self, f: impl wasmtime::IntoFunc<StoreData<T>, P, R>) -> wasmtime::Func {
        wasmtime::Func::wrap(self.0, f)
    }
}

struct InLinker<'a, 'n, T: 'static>(&'a mut wasmtime::Linker<StoreData<T>>, &'n str, &'n str);

impl<T: 'static> Define<T> for InLinker<'_, '_, T> {
    type Output = wasmtime::Result<()>;
    fn define<P, R>(self, f: impl wasmtime::IntoFunc<StoreData<T>, P, R>) -> wasmtime::Result<()> {
        self.0.func_wrap(self.1, self.2, f).map(drop)
    }
}

/// For every signature of [`anywasm_core::native_shapes`]: `host`'s typed
/// form as a wasmtime typed host function, called with native values
/// through wasmtime's own trampolines, no `Val` or raw slot in between.
macro_rules! native {
    ($(($($a:ident: $p:ty),*) -> $r:ty;)*) => {
        fn native<T: Send + 'static, D: Define<T>>(host: &HostFunc<T>, to: D) -> Option<D::Output> {
            $(if let Some(f) = host.native::<($($p,)*), $r>() {
                let f = f.clone();
                return Some(to.define(
                    move |caller: wasmtime::Caller<'_, StoreData<T>>, $($a: $p),*| -> wasmtime::Result<$r> {
                        let mut wrapped = HostCaller::new(caller);
                        anywasm_core::call_native(&*f, &mut wrapped, ($($a,)*))
                            .map_err(wasmtime::Error::new)
                    },
                ));
            })*
            None
        }
    };
}

anywasm_core::native_shapes!(native);

fn trampoline<T: 'static>(
    host: &HostFunc<T>,
    ty: &wasmtime::FuncType,
    mut caller: wasmtime::Caller<'_, StoreData<T>>,
    params: &[wasmtime::Val],
    results: &mut [wasmtime::Val],
) -> wasmtime::Result<()> {
    let mut arg_buf = ValBuf::new(params.len());
    let args = arg_buf.as_mut_slice();
    let mut res_buf = ValBuf::new(results.len());
    let res = res_buf.as_mut_slice();

    {
        let mut cx = caller.as_context_mut();
        for (slot, p) in args.iter_mut().zip(params) {
            *slot = from_engine(&mut cx, p).map_err(into_host)?;
        }
    }
    let mut wrapped = HostCaller::new(caller);
    host.invoke(&mut wrapped, args, res)
        .map_err(wasmtime::Error::new)?;
    let mut caller = wrapped.caller;
    let mut cx = caller.as_context_mut();
    for ((slot, v), t) in results.iter_mut().zip(res.iter()).zip(ty.results()) {
        *slot = to_engine(&mut cx, v, &t).map_err(into_host)?;
    }
    Ok(())
}

/// The trampoline for signatures without reference types: values move as
/// raw bits, with no rooting scope and no per-value type dispatch.
fn trampoline_plain<T: 'static>(
    host: &HostFunc<T>,
    caller: wasmtime::Caller<'_, StoreData<T>>,
    raw: &mut [MaybeUninit<ValRaw>],
) -> wasmtime::Result<()> {
    let ty = host.ty();
    ValBuf::with_slices(ty.params().len(), ty.results().len(), |args, res| {
        for ((slot, r), t) in args.iter_mut().zip(raw.iter()).zip(ty.params()) {
            // SAFETY: wasmtime initialises the first `params().len()` slots
            // with the arguments before calling a host function.
            *slot = from_raw(unsafe { r.assume_init_ref() }, *t);
        }
        let mut wrapped = HostCaller::new(caller);
        host.invoke(&mut wrapped, args, res)
            .map_err(wasmtime::Error::new)?;
        for (slot, v) in raw.iter_mut().zip(res.iter()) {
            *slot = MaybeUninit::new(to_raw(v));
        }
        Ok(())
    })
}

/// What a host function sees: the calling instance and the store's state.
pub(crate) struct HostCaller<'a, T: 'static> {
    pub(crate) caller: wasmtime::Caller<'a, StoreData<T>>,
    /// Buffers for re-entrant calls, made on first use.
    scratch: Option<Box<Scratch>>,
    /// The caller's `memory`, once looked up: an ABI host call reads the
    /// request, sizes and writes the response, each through it.
    memory: Option<wasmtime::Memory>,
}

impl<'a, T: 'static> HostCaller<'a, T> {
    pub(crate) fn new(caller: wasmtime::Caller<'a, StoreData<T>>) -> Self {
        Self {
            caller,
            scratch: None,
            memory: None,
        }
    }
}

impl<T: 'static> HostCaller<'_, T> {
    fn memory(&mut self) -> Result<wasmtime::Memory> {
        if let Some(m) = self.memory {
            return Ok(m);
        }
        match self.caller.get_export("memory") {
            Some(wasmtime::Extern::Memory(m)) => {
                self.memory = Some(m);
                Ok(m)
            }
            _ => Err(tag(export_not_found("memory", "memory"))),
        }
    }
}

impl<T: 'static> Caller<T> for HostCaller<'_, T> {
    fn backend(&self) -> BackendKind {
        BackendKind::Wasmtime
    }

    fn data(&self) -> &T {
        &self.caller.data().user
    }

    fn data_mut(&mut self) -> &mut T {
        &mut self.caller.data_mut().user
    }

    fn memory_size(&mut self) -> Option<u64> {
        let m = self.memory().ok()?;
        Some(m.data_size(&self.caller) as u64)
    }

    fn read_memory(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let m = self.memory()?;
        let data = m.data(&self.caller);
        let range = check_range(offset, buf.len(), data.len() as u64).map_err(tag)?;
        buf.copy_from_slice(&data[range]);
        Ok(())
    }

    fn write_memory(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        let m = self.memory()?;
        let mem = m.data_mut(&mut self.caller);
        let range = check_range(offset, data.len(), mem.len() as u64).map_err(tag)?;
        mem[range].copy_from_slice(data);
        Ok(())
    }

    fn call(&mut self, export: &str, args: &[Val], results: &mut [Val]) -> Result<()> {
        let (func, sig) = ReentryCache::resolve(&mut self.caller, export)?;
        check_args(&sig.ty, args, results).map_err(tag)?;
        // wasmtime bounds the wasm stack, not the host frames between
        // re-entries: bounded by depth, as on every engine.
        if self.caller.data().reentry_depth >= anywasm_core::MAX_REENTRY_DEPTH {
            return Err(tag(Error::reentry_too_deep()));
        }
        // The re-entry is a synchronous call: were it to reach a fuel yield
        // point, wasmtime would trap ("an async-defined libcall which failed
        // to complete synchronously"). The outermost re-entry switches
        // yields off until it returns; the fuel burnt still counts.
        let yields = self.caller.data().fuel_yields && self.caller.data().reentry_depth == 0;
        if yields {
            self.caller
                .fuel_async_yield_interval(None)
                .map_err(|e| tag(err(ErrorKind::Engine, e.to_string())))?;
        }
        self.caller.data_mut().reentry_depth += 1;
        let scratch = self.scratch.get_or_insert_with(Default::default);
        let outcome = call_func(
            self.caller.as_context_mut(),
            &func,
            &sig,
            args,
            results,
            scratch,
        );
        self.caller.data_mut().reentry_depth -= 1;
        if yields {
            self.caller
                .fuel_async_yield_interval(Some(crate::fiber::ASYNC_YIELD_FUEL))
                .map_err(|e| tag(err(ErrorKind::Engine, e.to_string())))?;
        }
        outcome
    }

    fn remaining_time(&self) -> Option<std::time::Duration> {
        self.caller
            .data()
            .deadline
            .map(|d| d.saturating_duration_since(std::time::Instant::now()))
    }

    fn reply_area(&self) -> anywasm_core::abi::Scratch {
        self.caller.data().reply_area
    }
}

/// The exports host functions re-enter through [`Caller::call`], resolved
/// once per module and kept in the store: every ABI host call re-enters the
/// guest's `anywasm_alloc`, and looking it up by name and converting its
/// type each time was about a sixth of such a call (`abi/host_call`).
///
/// wasmtime's `Caller` does not say which instance is calling, only which
/// exports it has: an entry names a module's export, and
/// `Caller::get_module_export` gives the function only if the caller is an
/// instance of that module.
#[derive(Default)]
pub(crate) struct ReentryCache {
    /// Every module instantiated in the store, each once.
    modules: Vec<wasmtime::Module>,
    /// Exports resolved so far, at most [`ReentryCache::MAX_EXPORTS`].
    exports: Vec<CachedExport>,
}

impl std::fmt::Debug for ReentryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReentryCache")
            .field("modules", &self.modules.len())
            .field(
                "exports",
                &self.exports.iter().map(|e| &*e.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

struct CachedExport {
    name: Box<str>,
    export: wasmtime::ModuleExport,
    sig: Arc<FuncInfo>,
}

impl ReentryCache {
    /// Past this many names (a host calling exports it picks at run time),
    /// exports are resolved on every call instead.
    const MAX_EXPORTS: usize = 16;

    /// Note `module` as instantiated in this store.
    pub(crate) fn add_module(&mut self, module: &wasmtime::Module) {
        if !self
            .modules
            .iter()
            .any(|m| wasmtime::Module::same(m, module))
        {
            self.modules.push(module.clone());
        }
    }

    /// The calling instance's function `export` and its signature.
    fn resolve<T: 'static>(
        caller: &mut wasmtime::Caller<'_, StoreData<T>>,
        export: &str,
    ) -> Result<(wasmtime::Func, Arc<FuncInfo>)> {
        let not_found = || tag(export_not_found(export, "function"));
        for i in 0..caller.data().reentry.exports.len() {
            let entry = &caller.data().reentry.exports[i];
            if &*entry.name != export {
                continue;
            }
            let index = entry.export;
            if let Some(wasmtime::Extern::Func(f)) = caller.get_module_export(&index) {
                return Ok((f, caller.data().reentry.exports[i].sig.clone()));
            }
        }
        // Not cached: find the module the caller is an instance of.
        let modules = caller.data().reentry.modules.clone();
        for module in &modules {
            let Some(index) = module.get_export_index(export) else {
                continue;
            };
            let Some(found) = caller.get_module_export(&index) else {
                continue;
            };
            let wasmtime::Extern::Func(f) = found else {
                return Err(not_found());
            };
            let sig = Arc::new(FuncInfo::of(&*caller, &f, export)?);
            let cache = &mut caller.data_mut().reentry;
            if cache.exports.len() < Self::MAX_EXPORTS {
                cache.exports.push(CachedExport {
                    name: export.into(),
                    export: index,
                    sig: sig.clone(),
                });
            }
            return Ok((f, sig));
        }
        // Every instance comes from a module noted above; by name all the
        // same, should one ever not.
        match caller.get_export(export) {
            Some(wasmtime::Extern::Func(f)) => {
                let sig = Arc::new(FuncInfo::of(&*caller, &f, export)?);
                Ok((f, sig))
            }
            _ => Err(not_found()),
        }
    }
}

/// The error for a function whose signature anywasm cannot express.
pub(crate) fn unrepresentable(name: &str) -> Error {
    err(
        ErrorKind::Unsupported,
        format!(
            "function `{name}` uses reference types anywasm cannot represent \
             (only funcref and externref are supported)"
        ),
    )
}
