//! Typed host functions over the plugin ABI ([`Linker::abi_func`]).
//!
//! The closure sees a decoded request and returns a response or a
//! [`HostError`]; the ABI plumbing (reading the guest's request buffer,
//! bounded decoding, allocating the response in the guest, packing the
//! result) is done here once, through the engine-agnostic [`Caller`], so it is
//! the same on every backend.
//!
//! # Defining one: register first, refine by chaining
//!
//! `linker.abi_func(name, f)` puts the function in the linker *at once*,
//! with the safest settings, and returns an [`AbiFuncDef`] whose methods
//! change that entry: `.capability("kv")`, `.message_cap(1 << 10)`,
//! `.ungated()`. There is no terminal `.define()` call to forget, and no
//! registration in a destructor (which would run at a surprising point when
//! the guard is bound to a variable, and not at all under `mem::forget`):
//! whatever the caller does with the guard, the function is defined, and
//! the guard only holds the linker's borrow until it is dropped.
//!
//! The defaults are the ones an untrusted plugin should meet:
//!
//! - capability: the function's own `name`. A host function is denied to
//!   every guest until the host grants something; a default of "no
//!   capability" would make each new host function importable by every
//!   plugin already deployed, the moment the host is upgraded. Grant it by
//!   name, share one capability between several functions with
//!   [`capability`](AbiFuncDef::capability), or opt out explicitly with
//!   [`ungated`](AbiFuncDef::ungated).
//! - message cap: [`abi::DEFAULT_MESSAGE_CAP`], the same default as a
//!   plugin's own calls, clamped to [`abi::MAX_MESSAGE_CAP`].

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::abi::{self, GuestError};
use crate::{Caller, FuncType, HostError, HostFunc, Linker, NativeFn, Val, ValType};

fn protocol(message: impl Into<String>) -> HostError {
    HostError::new(message)
}

impl<T: 'static> Linker<T> {
    /// Define the typed host function `anywasm::name` (module
    /// [`abi::HOST_MODULE`]), gated by the capability `name` and refusing
    /// messages over [`abi::DEFAULT_MESSAGE_CAP`] bytes; chain
    /// [`capability`](AbiFuncDef::capability),
    /// [`message_cap`](AbiFuncDef::message_cap) or
    /// [`ungated`](AbiFuncDef::ungated) to change that (the module docs say
    /// why these defaults, and why the function is defined before the chain).
    ///
    /// The wasm signature is `(i32 ptr, i32 len) -> i64` (docs/abi.md §6).
    /// A request that does not decode, or an `Err` from `func`, reaches the
    /// guest as an `Err(GuestError)` envelope it can handle; a guest that
    /// passes an out-of-bounds buffer, or whose allocator fails, gets a trap
    /// ([`TrapCode::HostError`](crate::TrapCode)), and a panic in `func` is
    /// caught and becomes that trap too.
    ///
    /// ```
    /// use anywasm_core::{Capabilities, HostError, Linker};
    /// let mut linker = Linker::<()>::new();
    /// linker.abi_func("add", |_, (a, b): (i32, i32)| Ok(a + b));   // capability "add"
    /// linker
    ///     .abi_func("kv_get", |_, key: String| Ok(key.len() as u32))
    ///     .capability("kv")
    ///     .message_cap(4 << 10);
    /// linker.abi_func("now", |_, (): ()| Ok(0u64)).ungated();
    /// assert_eq!(linker.get("anywasm", "add").unwrap().capability(), Some("add"));
    /// assert_eq!(linker.get("anywasm", "kv_get").unwrap().capability(), Some("kv"));
    /// assert_eq!(linker.get("anywasm", "now").unwrap().capability(), None);
    /// # let _ = (Capabilities::none(), HostError::new(""));
    /// ```
    pub fn abi_func<Req, Resp, F>(&mut self, name: &str, func: F) -> AbiFuncDef<'_, T>
    where
        Req: DeserializeOwned,
        Resp: Serialize,
        F: Fn(&mut dyn Caller<T>, Req) -> core::result::Result<Resp, HostError>
            + Send
            + Sync
            + 'static,
    {
        let func = Arc::new(func);
        let body = move |cap| abi_host_fn::<T, Req, Resp, F>(func.clone(), cap);
        let ty = FuncType::new([ValType::I32, ValType::I32], [ValType::I64]);
        let entry = self.insert_native(
            abi::HOST_MODULE,
            name,
            ty,
            Some(name.into()),
            body(abi::DEFAULT_MESSAGE_CAP),
        );
        let wrap: Box<dyn Fn(usize) -> AbiBody<T>> = Box::new(move |cap| AbiBody::Sync(body(cap)));
        AbiFuncDef {
            entry,
            wrap: Wrap(wrap),
        }
    }
}

/// A typed ABI host function just defined by [`Linker::abi_func`]; its
/// methods change how it is defined. Dropping it keeps the definition (it
/// is already in the linker), so nothing is lost if the chain ends early.
pub struct AbiFuncDef<'a, T> {
    entry: &'a mut HostFunc<T>,
    wrap: Wrap<T>,
}

/// The typed form of an ABI host function: `(ptr, len) -> packed response`.
type AbiFn<T> = NativeFn<T, (i32, i32), i64>;

/// The closure of a typed ABI host function for a given message cap.
enum AbiBody<T> {
    Sync(Arc<AbiFn<T>>),
    Async(Arc<crate::AsyncHostFn<T>>),
}

struct Wrap<T>(Box<dyn Fn(usize) -> AbiBody<T>>);

impl<T: 'static> AbiFuncDef<'_, T> {
    /// Gate the function behind `capability` instead of its name (several
    /// functions can share one, as `kv_get`/`kv_set`/`kv_delete` share `kv`).
    /// A guest not granted it fails to load ([`check_capabilities`](crate::check_capabilities)).
    pub fn capability(self, capability: &str) -> Self {
        self.entry.set_capability(Some(capability.into()));
        self
    }

    /// Let every guest import the function, granted or not. Only for
    /// functions that give a guest nothing it should be denied.
    pub fn ungated(self) -> Self {
        self.entry.set_capability(None);
        self
    }

    /// Refuse requests and responses over `bytes` (clamped to
    /// [`abi::MAX_MESSAGE_CAP`]); the default is [`abi::DEFAULT_MESSAGE_CAP`].
    pub fn message_cap(self, bytes: usize) -> Self {
        match (self.wrap.0)(bytes) {
            AbiBody::Sync(func) => self.entry.set_native(func),
            AbiBody::Async(start) => {
                self.entry
                    .set_func(crate::asyncs::blocking_fn(start.clone()));
                self.entry.set_async(Some(start));
            }
        }
        self
    }
}

impl<T> core::fmt::Debug for AbiFuncDef<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("AbiFuncDef").field(&*self.entry).finish()
    }
}

/// A calling guest's memory and allocator, for the ABI transport.
struct CallerMemory<'a, T>(&'a mut dyn Caller<T>);

impl<T> abi::GuestMemory for CallerMemory<'_, T> {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> crate::Result<()> {
        self.0.read_memory(offset, buf)
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> crate::Result<()> {
        self.0.write_memory(offset, data)
    }

    fn size(&mut self) -> crate::Result<u64> {
        Ok(self.0.memory_size().unwrap_or(0))
    }

    fn alloc(&mut self, len: u32) -> crate::Result<u32> {
        let mut out = [Val::I32(0)];
        self.0
            .call(abi::ALLOC_EXPORT, &[Val::I32(len as i32)], &mut out)
            .map_err(|e| {
                crate::Error::new(
                    crate::ErrorKind::Abi,
                    format!("guest allocator failed: {e}"),
                )
            })?;
        Ok(out[0].as_i32().unwrap_or(0) as u32)
    }

    fn free(&mut self, ptr: u32, len: u32) -> crate::Result<()> {
        self.0.call(
            abi::FREE_EXPORT,
            &[Val::I32(ptr as i32), Val::I32(len as i32)],
            &mut [],
        )
    }
}

/// The host function behind a typed ABI one: `func` behind the ABI
/// transport, refusing messages over `message_cap` bytes.
fn abi_host_fn<T, Req, Resp, F>(func: Arc<F>, message_cap: usize) -> Arc<AbiFn<T>>
where
    Req: DeserializeOwned,
    Resp: Serialize,
    F: Fn(&mut dyn Caller<T>, Req) -> core::result::Result<Resp, HostError> + Send + Sync + 'static,
{
    let cap = message_cap.min(abi::MAX_MESSAGE_CAP);
    Arc::new(move |caller: &mut dyn Caller<T>, (ptr, len): (i32, i32)| {
        let outcome = match read_request::<T, Req>(caller, ptr as u32, len as u32, cap)? {
            Ok(req) => func(&mut *caller, req).map_err(|e| GuestError::new(e.message())),
            Err(e) => Err(e),
        };
        write_response(caller, &outcome, cap)
    })
}

/// An ABI host call's `(ptr, len)` arguments, from `Val`s of the ABI
/// signature.
fn request_args(args: &[Val]) -> (u32, u32) {
    let arg = |i: usize| args.get(i).and_then(Val::as_i32).unwrap_or(0) as u32;
    (arg(0), arg(1))
}

/// Read and decode an ABI host call's request at `ptr`, `len`: `Err` for a
/// transport failure (the call traps), `Ok(Err)` for a request that does
/// not decode (the guest gets it as its call's error).
fn read_request<T, Req: DeserializeOwned>(
    caller: &mut dyn Caller<T>,
    ptr: u32,
    len: u32,
    cap: usize,
) -> core::result::Result<core::result::Result<Req, GuestError>, HostError> {
    let trap = |e: crate::Error| protocol(e.message());
    abi::check_cap("request", len as usize, cap).map_err(trap)?;
    let mut request = Vec::new();
    abi::read_message(&mut CallerMemory(caller), ptr, len, &mut request).map_err(trap)?;
    Ok(abi::decode::<Req>(&request, cap)
        .map_err(|e| GuestError::new(format!("request does not decode: {}", e.message()))))
}

/// Encode an ABI host call's outcome into guest memory and return its
/// packed address, the host function's result.
fn write_response<T, Resp: Serialize>(
    caller: &mut dyn Caller<T>,
    outcome: &core::result::Result<Resp, GuestError>,
    cap: usize,
) -> core::result::Result<i64, HostError> {
    let trap = |e: crate::Error| protocol(e.message());
    let response = abi::encode(outcome).map_err(trap)?;
    abi::check_cap("response", response.len(), cap).map_err(trap)?;
    // Into the guest's reply area if it has one and the response fits
    // (docs/abi.md §6.1), else into a fresh guest buffer the guest frees.
    // Never the scratch area: it may hold the request being served.
    let area = caller.reply_area();
    let out_ptr = abi::write_message(&mut CallerMemory(caller), &response, area).map_err(trap)?;
    Ok(abi::pack(out_ptr, response.len() as u32))
}

impl<T: 'static> Linker<T> {
    /// Define the async typed ABI host function `name`: [`abi_func`](Self::abi_func)
    /// whose closure returns a future (see [`func_async`](Self::func_async)
    /// for how it runs on each engine). The request is decoded before the
    /// closure runs and the response written into guest memory after the
    /// future is done; the closure gets the caller only before its future
    /// starts. Same signature, gate and message cap rules as `abi_func`.
    ///
    /// ```
    /// use anywasm_core::{HostError, Linker};
    /// let mut linker = Linker::<()>::new();
    /// linker
    ///     .abi_func_async("lookup", |_, key: String| async move {
    ///         Ok::<_, HostError>(key.len() as u32)
    ///     })
    ///     .capability("db");
    /// assert!(linker.get("anywasm", "lookup").unwrap().is_async());
    /// ```
    pub fn abi_func_async<Req, Resp, F, Fut>(&mut self, name: &str, func: F) -> AbiFuncDef<'_, T>
    where
        Req: DeserializeOwned + 'static,
        Resp: Serialize + Send + 'static,
        F: Fn(&mut dyn Caller<T>, Req) -> Fut + Send + Sync + 'static,
        Fut: core::future::Future<Output = core::result::Result<Resp, HostError>> + Send + 'static,
    {
        let func = Arc::new(func);
        let start_for = move |cap: usize| -> Arc<crate::AsyncHostFn<T>> {
            let func = func.clone();
            let cap = cap.min(abi::MAX_MESSAGE_CAP);
            Arc::new(
                move |caller: &mut dyn Caller<T>, args: &[Val]| -> crate::HostFuture<T> {
                    let (ptr, len) = request_args(args);
                    let fut = match read_request::<T, Req>(caller, ptr, len, cap) {
                        Err(e) => return Box::pin(async move { Err(e) }),
                        Ok(Err(e)) => Err(e),
                        Ok(Ok(req)) => Ok(func(caller, req)),
                    };
                    Box::pin(async move {
                        let outcome = match fut {
                            Ok(fut) => fut.await.map_err(|e| GuestError::new(e.message())),
                            Err(e) => Err(e),
                        };
                        Ok(crate::Finish::with(move |caller, results| {
                            let packed = write_response(caller, &outcome, cap)?;
                            if let Some(slot) = results.first_mut() {
                                *slot = Val::I64(packed);
                            }
                            Ok(())
                        }))
                    })
                },
            )
        };
        let ty = FuncType::new([ValType::I32, ValType::I32], [ValType::I64]);
        let entry = self.insert_async(
            abi::HOST_MODULE,
            name,
            ty,
            Some(name.into()),
            start_for(abi::DEFAULT_MESSAGE_CAP),
        );
        let wrap: Box<dyn Fn(usize) -> AbiBody<T>> =
            Box::new(move |cap| AbiBody::Async(start_for(cap)));
        AbiFuncDef {
            entry,
            wrap: Wrap(wrap),
        }
    }
}
