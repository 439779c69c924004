//! Host functions, defined once for every engine.
//!
//! A [`HostFunc`] is a signature plus a closure over raw [`Val`]s that gets a
//! [`Caller`]: the calling instance's memory, the store's host state `T`, and
//! the calling instance's exports for re-entrant calls. A [`Linker`] is the set
//! of host functions offered to guests; each backend turns it into its
//! engine's imports when a module is instantiated. Only the imports a module
//! actually names are created.

use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::fmt;

use crate::{BackendKind, Error, FuncType, HostError, Result, Val};

/// What a host function sees of its caller. Object-safe, so one closure works
/// on every backend.
pub trait Caller<T> {
    /// The backend running the guest.
    fn backend(&self) -> BackendKind;
    /// The store's host state.
    fn data(&self) -> &T;
    /// The store's host state, mutably.
    fn data_mut(&mut self) -> &mut T;
    /// Size in bytes of the calling instance's `memory` export (the one the
    /// ABI uses), or `None` if it exports no memory of that name.
    fn memory_size(&mut self) -> Option<u64>;
    /// Copy `buf.len()` bytes from guest memory at `offset`. The range is
    /// checked in 64-bit arithmetic; out of range is [`ErrorKind::OutOfBounds`](crate::ErrorKind).
    fn read_memory(&mut self, offset: u64, buf: &mut [u8]) -> Result<()>;
    /// Copy `data` into guest memory at `offset`, bounds-checked like
    /// [`read_memory`](Self::read_memory).
    fn write_memory(&mut self, offset: u64, data: &[u8]) -> Result<()>;
    /// Call an export of the calling instance (host -> guest -> host re-entrancy).
    ///
    /// At most [`MAX_REENTRY_DEPTH`] such calls nest inside one top-level
    /// call, on every engine; the next one fails with
    /// [`Trap(StackOverflow)`](crate::TrapCode::StackOverflow) before it
    /// enters the guest, so recursion a guest drives through the host can
    /// never exhaust the host's native stack.
    fn call(&mut self, export: &str, args: &[Val], results: &mut [Val]) -> Result<()>;
    /// Time left before the running call's deadline
    /// ([`Limits::timeout`](crate::Limits::timeout)), or `None` if it has
    /// none. Engines interrupt guest code, not host code: a host function
    /// that blocks (a sleep, a wait for input) waits at most this long, so
    /// the deadline holds inside it too. Zero once the deadline has passed.
    fn remaining_time(&self) -> Option<core::time::Duration>;
    /// Where an ABI host function writes a response that fits, instead of
    /// allocating it with the guest's `anywasm_alloc`: the area set with
    /// [`Store::set_reply_area`](crate::Store::set_reply_area), or
    /// [`Scratch::NONE`](crate::abi::Scratch::NONE) (the default).
    fn reply_area(&self) -> crate::abi::Scratch {
        crate::abi::Scratch::NONE
    }
}

/// How many [`Caller::call`]s may nest inside one top-level guest call,
/// on every engine (see there).
///
/// Each level is a native engine invocation on the host's stack (wasmi's
/// interpreter about 5 KiB optimised and 20 KiB unoptimised, wasmer's host
/// trampolines about 2 to 8 KiB), so the bound is a depth, the same in every
/// build, chosen to fit well inside a 2 MiB thread stack in debug builds.
pub const MAX_REENTRY_DEPTH: u32 = 32;

/// The closure behind a host function.
pub type HostFn<T> = dyn Fn(&mut dyn Caller<T>, &[Val], &mut [Val]) -> core::result::Result<(), HostError>
    + Send
    + Sync;

/// The typed form of a host function defined with
/// [`Linker::func_wrap`] or [`Linker::abi_func`]: the parameters as one
/// tuple `P` of `i32`, `i64`, `f32`, `f64` (`()` for none), the result `R`
/// as `()`, one of those types, or a tuple. See [`HostFunc::native`].
pub type NativeFn<T, P, R> =
    dyn Fn(&mut dyn Caller<T>, P) -> core::result::Result<R, HostError> + Send + Sync;

/// Run a host function's typed form ([`HostFunc::native`]) with a panic in
/// it caught, as [`HostFunc::invoke`] runs the `Val` form: a backend's
/// native trampoline calls this and turns an `Err` into its engine's trap
/// exactly as it does one from `invoke`.
#[inline]
pub fn call_native<T, P, R>(
    func: &NativeFn<T, P, R>,
    caller: &mut dyn Caller<T>,
    params: P,
) -> core::result::Result<R, HostError> {
    match catch(|| func(caller, params)) {
        Ok(outcome) => outcome,
        Err(panicked) => Err(panicked),
    }
}

/// Calls the macro `$callback` with every signature whose typed host
/// functions ([`HostFunc::native`]) the engine backends define natively:
/// up to four parameters, each `i32` or `i64`, and no result or one `i32`
/// or `i64`, as a list of `(name: type, ...) -> result;` items. A backend
/// expands each item into a check of [`HostFunc::native`] for it.
///
/// ```
/// macro_rules! count {
///     ($(($($a:ident: $p:ty),*) -> $r:ty;)*) => { [$(stringify!($($p),* -> $r)),*].len() };
/// }
/// assert_eq!(anywasm_core::native_shapes!(count), 93);
/// ```
#[macro_export]
macro_rules! native_shapes {
    ($callback:ident) => {
        $crate::native_shapes! { @results $callback;
            ();
            (a: i32); (a: i64);
            (a: i32, b: i32); (a: i32, b: i64); (a: i64, b: i32); (a: i64, b: i64);
            (a: i32, b: i32, c: i32); (a: i32, b: i32, c: i64); (a: i32, b: i64, c: i32);
            (a: i32, b: i64, c: i64); (a: i64, b: i32, c: i32); (a: i64, b: i32, c: i64);
            (a: i64, b: i64, c: i32); (a: i64, b: i64, c: i64);
            (a: i32, b: i32, c: i32, d: i32); (a: i32, b: i32, c: i32, d: i64);
            (a: i32, b: i32, c: i64, d: i32); (a: i32, b: i32, c: i64, d: i64);
            (a: i32, b: i64, c: i32, d: i32); (a: i32, b: i64, c: i32, d: i64);
            (a: i32, b: i64, c: i64, d: i32); (a: i32, b: i64, c: i64, d: i64);
            (a: i64, b: i32, c: i32, d: i32); (a: i64, b: i32, c: i32, d: i64);
            (a: i64, b: i32, c: i64, d: i32); (a: i64, b: i32, c: i64, d: i64);
            (a: i64, b: i64, c: i32, d: i32); (a: i64, b: i64, c: i32, d: i64);
            (a: i64, b: i64, c: i64, d: i32); (a: i64, b: i64, c: i64, d: i64);
        }
    };
    (@results $callback:ident; $(($($a:ident: $p:ty),*);)*) => {
        $callback! {
            $(
                ($($a: $p),*) -> ();
                ($($a: $p),*) -> i32;
                ($($a: $p),*) -> i64;
            )*
        }
    };
}

/// The `Val` form of a typed host function.
fn adapter<T, P, R>(native: Arc<NativeFn<T, P, R>>) -> Arc<HostFn<T>>
where
    T: 'static,
    P: crate::WasmParams + 'static,
    R: crate::WasmResults + 'static,
{
    host_fn(move |caller, args, results| {
        let params = P::from_vals(args).ok_or_else(|| {
            HostError::new(alloc::format!(
                "typed host function called with arguments {args:?}, not {:?}",
                P::types()
            ))
        })?;
        native(caller, params)?.write_vals(results);
        Ok(())
    })
}

/// `func` as a shared [`HostFn`]: the `Fn` bound here gives a closure
/// written in place its argument types.
pub(crate) fn host_fn<T, F>(func: F) -> Arc<HostFn<T>>
where
    F: Fn(&mut dyn Caller<T>, &[Val], &mut [Val]) -> core::result::Result<(), HostError>
        + Send
        + Sync
        + 'static,
{
    Arc::new(func)
}

/// One host function: import name, signature, closure.
pub struct HostFunc<T> {
    module: String,
    name: String,
    ty: FuncType,
    capability: Option<String>,
    func: Arc<HostFn<T>>,
    /// The async form, for async host functions (`func` then blocks on it).
    async_func: Option<Arc<crate::asyncs::AsyncHostFn<T>>>,
    /// The typed form `func` adapts, if there is one: an
    /// `Arc<NativeFn<T, P, R>>` for the signature's `P` and `R`.
    native: Option<Arc<dyn Any + Send + Sync>>,
}

impl<T> Clone for HostFunc<T> {
    fn clone(&self) -> Self {
        Self {
            module: self.module.clone(),
            name: self.name.clone(),
            ty: self.ty.clone(),
            capability: self.capability.clone(),
            func: self.func.clone(),
            async_func: self.async_func.clone(),
            native: self.native.clone(),
        }
    }
}

impl<T> fmt::Debug for HostFunc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFunc")
            .field("module", &self.module)
            .field("name", &self.name)
            .field("ty", &self.ty)
            .field("capability", &self.capability)
            .field("async", &self.async_func.is_some())
            .field("native", &self.native.is_some())
            .finish_non_exhaustive()
    }
}

impl<T> HostFunc<T> {
    /// Import module name.
    pub fn module(&self) -> &str {
        &self.module
    }

    /// Import field name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signature.
    pub fn ty(&self) -> &FuncType {
        &self.ty
    }

    /// The capability a guest must be granted to import this function, if any.
    pub fn capability(&self) -> Option<&str> {
        self.capability.as_deref()
    }

    /// Gate (or, with `None`, ungate) this function behind a capability.
    pub(crate) fn set_capability(&mut self, capability: Option<String>) {
        self.capability = capability;
    }

    /// Replace the closure (same signature); any typed form goes with it.
    pub(crate) fn set_func(&mut self, func: Arc<HostFn<T>>) {
        self.func = func;
        self.native = None;
    }

    /// Replace the closure with `native` (whose `P` and `R` have this
    /// function's signature) and the `Val` adapter over it.
    pub(crate) fn set_native<P, R>(&mut self, native: Arc<NativeFn<T, P, R>>)
    where
        T: 'static,
        P: crate::WasmParams + 'static,
        R: crate::WasmResults + 'static,
    {
        self.func = adapter(native.clone());
        self.native = Some(Arc::new(native));
    }

    /// The typed form of this function, if it was defined with one
    /// ([`Linker::func_wrap`], a synchronous [`Linker::abi_func`]) and its
    /// parameters and result are `P` and `R` exactly: `P` a tuple of
    /// `i32`, `i64`, `f32`, `f64` (`()` for none; `u32` parameters appear
    /// as `i32`, `u64` as `i64`), `R` `()`, one such type or a tuple.
    ///
    /// A backend whose engine calls host functions with native values asks
    /// for the shapes it supports and, when one matches, calls it with
    /// [`call_native`] instead of [`invoke`](Self::invoke): no `Val`
    /// conversion, no result check (the types guarantee it), one dynamic
    /// call. Both forms do the same thing.
    ///
    /// ```
    /// use anywasm_core::Linker;
    /// let mut linker = Linker::<()>::new();
    /// linker.func_wrap("env", "add", |_, (a, b): (u32, i32)| Ok(a as i32 + b));
    /// let add = linker.get("env", "add").unwrap();
    /// assert!(add.native::<(i32, i32), i32>().is_some());
    /// assert!(add.native::<(i64, i64), i64>().is_none());
    /// ```
    pub fn native<P: 'static, R: 'static>(&self) -> Option<&Arc<NativeFn<T, P, R>>>
    where
        T: 'static,
    {
        self.native.as_deref()?.downcast_ref()
    }

    /// Mark this function async, with `start` as its async form.
    pub(crate) fn set_async(&mut self, start: Option<Arc<crate::asyncs::AsyncHostFn<T>>>) {
        self.async_func = start;
    }

    /// Whether this is an async host function
    /// ([`Linker::func_async`], [`Linker::abi_func_async`]): backends that
    /// can suspend a guest call run it through
    /// [`start_async`](Self::start_async) and
    /// [`finish_async`](Self::finish_async) inside an async call;
    /// [`invoke`](Self::invoke) blocks the thread on its future instead.
    pub fn is_async(&self) -> bool {
        self.async_func.is_some()
    }

    pub(crate) fn async_fn(&self) -> Option<&Arc<crate::asyncs::AsyncHostFn<T>>> {
        self.async_func.as_ref()
    }

    /// Run the closure. Backends call this from their engine trampoline.
    ///
    /// With `std`, a panic in the closure is caught and becomes a
    /// [`HostError`] with [`is_panic`](HostError::is_panic) set, so it never
    /// unwinds through guest frames. The results are checked against the
    /// signature, so a closure that writes the wrong type is an error too.
    pub fn invoke(
        &self,
        caller: &mut dyn Caller<T>,
        args: &[Val],
        results: &mut [Val],
    ) -> core::result::Result<(), HostError> {
        for (slot, ty) in results.iter_mut().zip(self.ty.results()) {
            *slot = ty.default_value();
        }
        let f = &self.func;
        catch(|| f(caller, args, results))??;
        self.check_results(results)
    }

    /// Check the values a closure wrote against the signature.
    #[inline]
    pub(crate) fn check_results(&self, results: &[Val]) -> core::result::Result<(), HostError> {
        for (i, (v, ty)) in results.iter().zip(self.ty.results()).enumerate() {
            if v.ty() != *ty {
                return Err(HostError::new(alloc::format!(
                    "host function {}::{} wrote a {} as result {i}, its signature says {ty}",
                    self.module,
                    self.name,
                    v.ty()
                )));
            }
        }
        Ok(())
    }
}

/// Run `f`, turning a panic (with `std`) into a [`HostError`] with
/// [`is_panic`](HostError::is_panic) set. Inlined into every host call, so
/// nothing but the unwind landing pad is left of it when `f` returns.
#[inline(always)]
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> core::result::Result<R, HostError> {
    #[cfg(feature = "std")]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(panic_error)
    }
    #[cfg(not(feature = "std"))]
    Ok(f())
}

/// A caught panic's payload as a [`HostError`].
#[cfg(feature = "std")]
#[cold]
#[inline(never)]
fn panic_error(payload: alloc::boxed::Box<dyn Any + Send>) -> HostError {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        String::from(*s)
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("non-string panic payload")
    };
    HostError::panicked(msg)
}

/// The host functions offered to guests, engine-agnostic.
///
/// ```
/// use anywasm_core::{FuncType, Linker, Val, ValType};
/// let mut linker = Linker::<u32>::new();
/// linker.func("env", "bump", FuncType::new([ValType::I32], [ValType::I32]), |caller, args, results| {
///     *caller.data_mut() += 1;
///     results[0] = Val::I32(args[0].as_i32().unwrap() + 1);
///     Ok(())
/// });
/// assert!(linker.get("env", "bump").is_some());
/// ```
pub struct Linker<T> {
    funcs: Vec<HostFunc<T>>,
    /// Which definitions these are (see [`LinkerId`]).
    token: Arc<Token>,
}

impl<T> Default for Linker<T> {
    fn default() -> Self {
        Self {
            funcs: Vec::new(),
            token: Arc::new(Token),
        }
    }
}

impl<T> Clone for Linker<T> {
    fn clone(&self) -> Self {
        Self {
            funcs: self.funcs.clone(),
            // Same definitions, same identity, until either one changes.
            token: self.token.clone(),
        }
    }
}

impl<T> fmt::Debug for Linker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.funcs).finish()
    }
}

impl<T> Linker<T> {
    /// An empty linker: guests get no host functions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Define (or replace) the host function `module::name`.
    pub fn func<F>(&mut self, module: &str, name: &str, ty: FuncType, func: F) -> &mut Self
    where
        F: Fn(&mut dyn Caller<T>, &[Val], &mut [Val]) -> core::result::Result<(), HostError>
            + Send
            + Sync
            + 'static,
    {
        self.define(module, name, ty, None, Arc::new(func))
    }

    /// Define (or replace) `module::name`, importable only by guests granted
    /// `capability` (checked by [`check_capabilities`](crate::check_capabilities)
    /// before instantiation).
    pub fn func_with_capability<F>(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        capability: &str,
        func: F,
    ) -> &mut Self
    where
        F: Fn(&mut dyn Caller<T>, &[Val], &mut [Val]) -> core::result::Result<(), HostError>
            + Send
            + Sync
            + 'static,
    {
        self.define(module, name, ty, Some(capability.into()), Arc::new(func))
    }

    fn define(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        capability: Option<String>,
        func: Arc<HostFn<T>>,
    ) -> &mut Self {
        self.insert(module, name, ty, capability, func);
        self
    }

    /// Define (or replace) `module::name` and hand back its entry, so the
    /// typed definers ([`func_wrap`](Self::func_wrap),
    /// [`abi_func`](Self::abi_func)) can refine it after registering it.
    pub(crate) fn insert(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        capability: Option<String>,
        func: Arc<HostFn<T>>,
    ) -> &mut HostFunc<T> {
        self.funcs
            .retain(|f| !(f.module == module && f.name == name));
        self.token = Arc::new(Token);
        self.funcs.push(HostFunc {
            module: module.into(),
            name: name.into(),
            ty,
            capability,
            func,
            async_func: None,
            native: None,
        });
        let last = self.funcs.len() - 1;
        &mut self.funcs[last]
    }

    /// [`insert`](Self::insert) for a typed host function: `native` and
    /// the `Val` adapter over it.
    pub(crate) fn insert_native<P, R>(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        capability: Option<String>,
        native: Arc<NativeFn<T, P, R>>,
    ) -> &mut HostFunc<T>
    where
        T: 'static,
        P: crate::WasmParams + 'static,
        R: crate::WasmResults + 'static,
    {
        let entry = self.insert(module, name, ty, capability, adapter(native.clone()));
        entry.native = Some(Arc::new(native));
        entry
    }

    /// The host function `module::name`, if defined.
    pub fn get(&self, module: &str, name: &str) -> Option<&HostFunc<T>> {
        self.funcs
            .iter()
            .find(|f| f.module == module && f.name == name)
    }

    /// Whether any host function here is async ([`func_async`](Self::func_async),
    /// [`abi_func_async`](Self::abi_func_async)).
    pub fn has_async(&self) -> bool {
        self.funcs.iter().any(HostFunc::is_async)
    }

    /// All host functions.
    pub fn iter(&self) -> impl Iterator<Item = &HostFunc<T>> {
        self.funcs.iter()
    }
}

/// The allocation whose address is a [`Linker`]'s identity.
#[derive(Debug)]
struct Token;

/// The identity of one set of a [`Linker`]'s definitions, for backends that
/// cache work per linker (wasmtime keeps pre-linked modules per linker).
///
/// Every definition gives the linker a new identity, so a changed linker
/// never matches what was cached for it before; a clone keeps the identity
/// until either copy changes. The identity is an allocation's address, held
/// weakly: the address cannot be reused while a `LinkerId` exists, and
/// [`is_live`](Self::is_live) says when every linker with it is gone.
#[derive(Clone, Debug)]
pub struct LinkerId(Weak<Token>);

impl LinkerId {
    /// Whether `linker` currently has this identity.
    pub fn is_of<T>(&self, linker: &Linker<T>) -> bool {
        core::ptr::eq(self.0.as_ptr(), Arc::as_ptr(&linker.token))
    }

    /// Whether some linker still has this identity (one that has not been
    /// dropped or changed since).
    pub fn is_live(&self) -> bool {
        self.0.strong_count() > 0
    }
}

impl PartialEq for LinkerId {
    fn eq(&self, other: &Self) -> bool {
        Weak::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for LinkerId {}

impl<T> Linker<T> {
    /// This linker's current identity (see [`LinkerId`]).
    pub fn id(&self) -> LinkerId {
        LinkerId(Arc::downgrade(&self.token))
    }
}

/// Check argument values against a signature (backends call this before
/// handing values to the engine, so a mismatch is a typed error everywhere).
pub fn check_args(ty: &FuncType, args: &[Val], results: &[Val]) -> Result<()> {
    if args.len() != ty.params().len() || results.len() != ty.results().len() {
        return Err(Error::new(
            crate::ErrorKind::TypeMismatch,
            alloc::format!(
                "function {ty} called with {} arguments and room for {} results",
                args.len(),
                results.len()
            ),
        ));
    }
    for (i, (a, t)) in args.iter().zip(ty.params()).enumerate() {
        if a.ty() != *t {
            return Err(Error::new(
                crate::ErrorKind::TypeMismatch,
                alloc::format!("argument {i} is {}, function {ty} expects {t}", a.ty()),
            ));
        }
    }
    Ok(())
}

/// Check that `[offset, offset + len)` lies inside `size` bytes, in 64-bit
/// arithmetic that cannot wrap.
pub fn check_range(offset: u64, len: usize, size: u64) -> Result<core::ops::Range<usize>> {
    let end = offset.checked_add(len as u64);
    match end {
        Some(end) if end <= size => Ok(offset as usize..end as usize),
        _ => Err(Error::new(
            crate::ErrorKind::OutOfBounds,
            alloc::format!(
                "access of {len} bytes at offset {offset} outside memory of {size} bytes"
            ),
        )),
    }
}
