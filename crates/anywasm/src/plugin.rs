//! [`Plugin`]: a guest that speaks the anywasm ABI, called with typed values.
//!
//! Loading checks the whole ABI contract before any guest code runs: the
//! `anywasm:abi` version, the manifest section, the `memory`,
//! `anywasm_alloc` and `anywasm_free` exports (and `anywasm_abi_v2` for a
//! version 2 plugin) and their types, and that every capability-gated host
//! function the module imports was granted. A call encodes the request,
//! copies it into guest memory, calls the entry point, bounds-checks the
//! returned `(ptr, len)` in 64-bit arithmetic against the memory size at
//! that moment, copies the response out and decodes it with a byte limit.
//!
//! A version 2 plugin (what the guest SDK builds) takes one engine call per
//! round trip: requests up to the size of its scratch area are written
//! there, and its response buffer is reused, never freed by the host. If it
//! also has a reply area (`anywasm_abi_v2_replies`, the SDK's plugins do),
//! its ABI host functions write responses that fit there, so a host call
//! does not re-enter the guest to allocate one (docs/abi.md §6.1). A
//! version 1 plugin costs up to three: `anywasm_alloc` for the request, the
//! entry point, `anywasm_free` for the response (docs/abi.md §3).
//!
//! A plugin built for `wasm32-wasip1` (std Rust with the guest SDK) is a
//! WASI reactor: its `_initialize` export runs once on every new instance,
//! before anything else. Its WASI imports are host functions like any
//! other (the `anywasm-wasi` crate), gated by their capabilities.
//!
//! ## After a trap
//!
//! A guest that trapped (a panic, a limit, a fault) may have left its memory
//! and allocator half-updated, so the instance is never called again: the
//! next call instantiates the module afresh in the same store (new memory,
//! globals and tables; the store's host state and remaining fuel carry over).
//! Each replacement counts against [`Limits::instances`]; once that is used
//! up, calls fail with `LimitExceeded(Instances)` and the plugin must be
//! reloaded.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use anywasm_core::abi::{self, Bincode, Codec, GuestError, GuestMemory};
use anywasm_core::{
    BackendKind, Capabilities, DynModule, DynRuntime, DynStore, Error, ErrorKind, ExternType,
    FuncId, FuncType, InstanceId, Limits, Linker, MemoryId, Result, Val, ValType,
    check_capabilities,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A loaded plugin: one module in its own store, called through the ABI.
pub struct Plugin<T> {
    store: Box<dyn DynStore<T>>,
    module: DynModule,
    linker: Linker<T>,
    instance: InstanceId,
    /// The current instance's ABI memory, resolved once per instance.
    memory: MemoryId,
    alloc: FuncId,
    free: FuncId,
    /// Whether the plugin speaks ABI version 2.
    v2: bool,
    /// The current instance's scratch area (version 2; none under
    /// version 1).
    scratch: abi::Scratch,
    /// Entry points of the current instance already resolved and checked
    /// to have the ABI signature, so a call does no lookup or allocation
    /// for them. Cleared when the instance is replaced.
    entries: BTreeMap<String, FuncId>,
    message_cap: usize,
    manifest: Option<String>,
    poisoned: bool,
    /// Request encoding and response copy, reused across calls so a small
    /// call allocates nothing on the host (capacity over
    /// [`KEEP_BUFFER`] is released after the call).
    buf: Vec<u8>,
}

/// The WASI reactor initialiser: a plugin built for `wasm32-wasip1` exports
/// it, and the WASI application ABI says it runs once, before any other
/// export, on every new instance.
pub const INITIALIZE_EXPORT: &str = "_initialize";

/// Run `_initialize` if `module` exports it as a `[] -> []` function.
fn initialize<T>(
    store: &mut dyn DynStore<T>,
    instance: InstanceId,
    module: &DynModule,
) -> Result<()> {
    let reactor = module.exports().iter().any(|e| {
        e.name == INITIALIZE_EXPORT
            && matches!(&e.ty, ExternType::Func(t) if t.params().is_empty() && t.results().is_empty())
    });
    if reactor {
        store.call_export(instance, INITIALIZE_EXPORT, &[])?;
    }
    Ok(())
}

/// Largest buffer capacity a plugin keeps between calls.
const KEEP_BUFFER: usize = 64 << 10;

impl<T> core::fmt::Debug for Plugin<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Plugin")
            .field("backend", &self.store.backend())
            .field("manifest", &self.manifest)
            .field("message_cap", &self.message_cap)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

/// Tag errors that do not name a backend yet with `backend`.
fn tagged(backend: BackendKind) -> impl Fn(Error) -> Error + Copy {
    move |e| {
        if e.backend().is_some() {
            e
        } else {
            e.with_backend(backend)
        }
    }
}

fn abi_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Abi, message)
}

fn expect_func(module: &DynModule, name: &str, want: &FuncType) -> Result<()> {
    match module
        .exports()
        .iter()
        .find(|e| e.name == name)
        .map(|e| &e.ty)
    {
        Some(ExternType::Func(ty)) if ty == want => Ok(()),
        Some(other) => Err(abi_error(format!(
            "export `{name}` must be a function {want}, found {other:?}"
        ))),
        None => Err(abi_error(format!(
            "missing export `{name}` (a function {want})"
        ))),
    }
}

/// Whether a plugin declaring ABI `version` (`None`: not known, the caller
/// checked it) speaks version 2: it does when it exports `anywasm_abi_v2`,
/// which a version 2 plugin must.
fn speaks_v2(module: &DynModule, version: Option<u32>) -> Result<bool> {
    let has = module.exports().iter().any(|e| e.name == abi::V2_EXPORT);
    if has {
        expect_func(module, abi::V2_EXPORT, &FuncType::new([], [ValType::I64]))?;
        if has_replies(module) {
            expect_func(
                module,
                abi::V2_REPLIES_EXPORT,
                &FuncType::new([], [ValType::I64]),
            )?;
        }
    }
    match version {
        Some(1) => Ok(false),
        Some(_) if !has => Err(abi_error(format!(
            "an ABI version 2 plugin must export `{}` (a function [] -> [i64])",
            abi::V2_EXPORT
        ))),
        _ => Ok(has),
    }
}

/// Whether the plugin exports `anywasm_abi_v2_replies` (docs/abi.md §6.1).
fn has_replies(module: &DynModule) -> bool {
    module
        .exports()
        .iter()
        .any(|e| e.name == abi::V2_REPLIES_EXPORT)
}

/// Select ABI version 2 on a new instance: call `anywasm_abi_v2` and check
/// the scratch area it returns lies inside its memory; then, if the plugin
/// has a reply area, the same for `anywasm_abi_v2_replies`, and hand the
/// area to the store for its ABI host functions.
fn negotiate_v2<T>(
    store: &mut dyn DynStore<T>,
    module: &DynModule,
    instance: InstanceId,
    memory: MemoryId,
) -> Result<abi::Scratch> {
    let scratch = guest_area(store, instance, memory, abi::V2_EXPORT, "scratch area")?;
    if has_replies(module) {
        let replies = guest_area(
            store,
            instance,
            memory,
            abi::V2_REPLIES_EXPORT,
            "reply area",
        )?;
        store.set_reply_area(replies);
    }
    Ok(scratch)
}

/// Call `export` (`() -> i64`) and check the area `(ptr, len)` it returns
/// lies inside the instance's memory.
fn guest_area<T>(
    store: &mut dyn DynStore<T>,
    instance: InstanceId,
    memory: MemoryId,
    export: &str,
    what: &str,
) -> Result<abi::Scratch> {
    let mut packed = [Val::I64(0)];
    let f = store.get_func(instance, export)?;
    store.call(f, &[], &mut packed)?;
    let (ptr, len) = abi::unpack(packed[0].as_i64().unwrap_or(0));
    let size = store.memory_len(memory)?;
    if u64::from(ptr) + u64::from(len) > size {
        return Err(abi_error(format!(
            "`{export}` returned a {what} (ptr {ptr:#x}, len {len}) outside its memory of {size} bytes"
        )));
    }
    Ok(abi::Scratch { ptr, len })
}

/// The current instance, as the ABI transport sees it.
struct Guest<'a, T> {
    store: &'a mut dyn DynStore<T>,
    memory: MemoryId,
    alloc: FuncId,
    free: FuncId,
}

impl<T> GuestMemory for Guest<'_, T> {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.store.read(self.memory, offset, buf)
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        self.store.write(self.memory, offset, data)
    }

    fn size(&mut self) -> Result<u64> {
        self.store.memory_len(self.memory)
    }

    fn alloc(&mut self, len: u32) -> Result<u32> {
        let mut out = [Val::I32(0)];
        self.store
            .call(self.alloc, &[Val::I32(len as i32)], &mut out)?;
        Ok(out[0].as_i32().unwrap_or(0) as u32)
    }

    fn free(&mut self, ptr: u32, len: u32) -> Result<()> {
        self.store.call(
            self.free,
            &[Val::I32(ptr as i32), Val::I32(len as i32)],
            &mut [],
        )
    }
}

/// Check that `module` exports what docs/abi.md §1 requires.
fn check_exports(module: &DynModule) -> Result<()> {
    use ValType::I32;
    match module
        .exports()
        .iter()
        .find(|e| e.name == abi::MEMORY_EXPORT)
        .map(|e| &e.ty)
    {
        Some(ExternType::Memory(m)) if !m.memory64 => {}
        Some(_) => return Err(abi_error("export `memory` must be a 32-bit linear memory")),
        None => return Err(abi_error("missing export `memory`")),
    }
    expect_func(module, abi::ALLOC_EXPORT, &FuncType::new([I32], [I32]))?;
    expect_func(module, abi::FREE_EXPORT, &FuncType::new([I32, I32], []))
}

impl<T: Send + 'static> Plugin<T> {
    /// Load a plugin: check the ABI contract and the capabilities, then
    /// instantiate it in a new store holding `data`, under `limits`.
    ///
    /// Errors: [`ErrorKind::Abi`] for a module that breaks the ABI,
    /// [`ErrorKind::CapabilityDenied`] for an ungranted import,
    /// [`LimitExceeded(InitialMemory)`](crate::Resource::InitialMemory) for a
    /// module asking for more initial memory than
    /// [`Limits::initial_memory_bytes`] allows (checked before compiling),
    /// [`ErrorKind::Compile`]/[`ErrorKind::Unlinkable`]/traps as for any module.
    pub fn load(
        engine: &dyn DynRuntime<T>,
        wasm: &[u8],
        linker: &Linker<T>,
        granted: &Capabilities,
        data: T,
        limits: &Limits,
    ) -> Result<Self> {
        let tag = tagged(engine.backend());
        let version = abi::check_abi_version(wasm).map_err(tag)?;
        let manifest = abi::manifest_text(wasm).map_err(tag)?.map(str::to_string);
        limits.check_initial_memory(wasm).map_err(tag)?;
        let module = engine.compile(wasm)?;
        Self::start(
            engine,
            &module,
            Some(version),
            manifest,
            linker,
            granted,
            data,
            limits,
        )
    }

    /// [`load`](Self::load) from a module `engine` compiled earlier, so a
    /// host that caches compiled modules (or pools instances of one plugin)
    /// compiles each plugin once. The caller has checked the bytes' ABI
    /// version ([`abi::check_abi_version`]) and initial memory
    /// ([`Limits::check_initial_memory`]) and passes the manifest text
    /// ([`abi::manifest_text`]); everything else is checked here as in `load`.
    /// The plugin is called with ABI version 2 if it exports
    /// `anywasm_abi_v2`, with version 1 otherwise.
    pub fn from_module(
        engine: &dyn DynRuntime<T>,
        module: &DynModule,
        manifest: Option<String>,
        linker: &Linker<T>,
        granted: &Capabilities,
        data: T,
        limits: &Limits,
    ) -> Result<Self> {
        Self::start(
            engine, module, None, manifest, linker, granted, data, limits,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        engine: &dyn DynRuntime<T>,
        module: &DynModule,
        version: Option<u32>,
        manifest: Option<String>,
        linker: &Linker<T>,
        granted: &Capabilities,
        data: T,
        limits: &Limits,
    ) -> Result<Self> {
        let tag = tagged(engine.backend());
        let module = module.clone();
        check_exports(&module).map_err(tag)?;
        let v2 = speaks_v2(&module, version).map_err(tag)?;
        check_capabilities(module.imports(), linker, granted).map_err(tag)?;
        let mut store = engine.store(data, limits)?;
        let instance = store.instantiate(&module, linker)?;
        initialize(&mut *store, instance, &module).map_err(tag)?;
        let memory = store.memory(instance, abi::MEMORY_EXPORT)?;
        let scratch = if v2 {
            negotiate_v2(&mut *store, &module, instance, memory).map_err(tag)?
        } else {
            abi::Scratch::NONE
        };
        let alloc = store.get_func(instance, abi::ALLOC_EXPORT)?;
        let free = store.get_func(instance, abi::FREE_EXPORT)?;
        Ok(Self {
            store,
            module,
            linker: linker.clone(),
            instance,
            memory,
            alloc,
            free,
            v2,
            scratch,
            entries: BTreeMap::new(),
            message_cap: abi::DEFAULT_MESSAGE_CAP,
            manifest,
            poisoned: false,
            buf: Vec::new(),
        })
    }

    /// Set the cap on request and response size (default
    /// [`abi::DEFAULT_MESSAGE_CAP`], at most [`abi::MAX_MESSAGE_CAP`]).
    pub fn with_message_cap(mut self, bytes: usize) -> Self {
        self.message_cap = bytes.min(abi::MAX_MESSAGE_CAP);
        self
    }

    /// The manifest the module embeds (TOML text), if any.
    pub fn manifest(&self) -> Option<&str> {
        self.manifest.as_deref()
    }

    /// The store (fuel, memory, host state).
    pub fn store_mut(&mut self) -> &mut dyn DynStore<T> {
        &mut *self.store
    }

    /// The current instance.
    pub fn instance(&self) -> InstanceId {
        self.instance
    }

    /// The host state.
    pub fn data(&self) -> &T {
        self.store.data()
    }

    /// The host state, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        self.store.data_mut()
    }

    /// Call the entry point `name` with a typed request, returning the typed
    /// response. A guest `Err(GuestError)` is [`ErrorKind::Guest`] with its
    /// message; a broken response is [`ErrorKind::Abi`]; a trap is the trap.
    pub fn call<Req, Resp>(&mut self, name: &str, request: &Req) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        self.guarded(|p| p.call_inner(name, request))
    }

    /// Run one call on a sound instance: replace it first if the last call
    /// left it poisoned, poison it if this call traps or exits, and tag the
    /// error with the backend.
    fn guarded<R>(&mut self, call: impl FnOnce(&mut Self) -> Result<R>) -> Result<R> {
        self.begin_call()?;
        let result = call(self);
        self.end_call(result)
    }

    /// Before a call: replace the instance if the last call left it
    /// poisoned.
    fn begin_call(&mut self) -> Result<()> {
        if self.poisoned {
            self.replace_instance()
                .map_err(tagged(self.store.backend()))?;
        }
        Ok(())
    }

    /// After a call: poison the instance if the call trapped or exited,
    /// and tag the error with the backend.
    fn end_call<R>(&mut self, result: Result<R>) -> Result<R> {
        // A guest that exited (WASI `proc_exit`) stopped mid-call, like a trap.
        if result
            .as_ref()
            .is_err_and(|e| matches!(e.kind(), ErrorKind::Trap(_) | ErrorKind::Exit(_)))
        {
            self.poisoned = true;
        }
        result.map_err(tagged(self.store.backend()))
    }

    fn replace_instance(&mut self) -> Result<()> {
        // The reply area was the old instance's: host functions the new
        // one calls before it negotiates allocate their responses.
        self.store.set_reply_area(abi::Scratch::NONE);
        let instance = self.store.instantiate(&self.module, &self.linker)?;
        initialize(&mut *self.store, instance, &self.module)?;
        let memory = self.store.memory(instance, abi::MEMORY_EXPORT)?;
        if self.v2 {
            self.scratch = negotiate_v2(&mut *self.store, &self.module, instance, memory)?;
        }
        self.alloc = self.store.get_func(instance, abi::ALLOC_EXPORT)?;
        self.free = self.store.get_func(instance, abi::FREE_EXPORT)?;
        self.instance = instance;
        self.memory = memory;
        self.entries.clear();
        self.poisoned = false;
        Ok(())
    }

    /// The entry point `name` of the current instance, checked to have the
    /// ABI signature (cached after the first successful lookup).
    fn entry(&mut self, name: &str) -> Result<FuncId> {
        if let Some(&entry) = self.entries.get(name) {
            return Ok(entry);
        }
        let entry = self.store.get_func(self.instance, name)?;
        let want = FuncType::new([ValType::I32, ValType::I32], [ValType::I64]);
        let ty = self.store.func_type(entry)?;
        if ty != want {
            return Err(abi_error(format!(
                "export `{name}` is {ty}, an ABI entry point is {want}"
            )));
        }
        self.entries.insert(name.to_string(), entry);
        Ok(entry)
    }

    fn call_inner<Req, Resp>(&mut self, name: &str, request: &Req) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let entry = self.entry(name)?;
        let mut buf = core::mem::take(&mut self.buf);
        let result = self.round_trip(name, entry, request, &mut buf);
        self.keep_buffer(buf);
        result
    }

    /// Keep `buf` for the next call unless it grew past [`KEEP_BUFFER`].
    fn keep_buffer(&mut self, buf: Vec<u8>) {
        if buf.capacity() <= KEEP_BUFFER {
            self.buf = buf;
        }
    }

    /// One ABI call through `buf`: request in, response out.
    fn round_trip<Req, Resp>(
        &mut self,
        name: &str,
        entry: FuncId,
        request: &Req,
        buf: &mut Vec<u8>,
    ) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        buf.clear();
        Bincode::encode(request, buf)?;
        self.exchange(name, entry, buf)?;
        self.decode_response(name, buf)
    }

    /// The typed response in the envelope `buf`.
    fn decode_response<Resp: DeserializeOwned>(&self, name: &str, buf: &[u8]) -> Result<Resp> {
        match Bincode::decode::<core::result::Result<Resp, GuestError>>(buf, self.message_cap) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(guest)) => Err(Error::new(ErrorKind::Guest, guest.message)),
            Err(e) => Err(abi_error(format!(
                "`{name}` returned a response that {}",
                e.message()
            ))),
        }
    }

    /// Hand the encoded request in `buf` to `entry`; leave its response
    /// envelope (at least one byte) in `buf`.
    fn exchange(&mut self, name: &str, entry: FuncId, buf: &mut Vec<u8>) -> Result<()> {
        let args = self.send(buf)?;
        let mut packed = [Val::I64(0)];
        self.store.call(entry, &args, &mut packed)?;
        self.receive(name, packed[0], buf)
    }

    /// [`exchange`](Self::exchange) with the entry point called through
    /// [`DynStore::call_async`].
    #[cfg(feature = "tokio")]
    async fn exchange_async(&mut self, name: &str, entry: FuncId, buf: &mut Vec<u8>) -> Result<()> {
        let args = self.send(buf)?;
        let mut packed = [Val::I64(0)];
        self.store.call_async(entry, &args, &mut packed).await?;
        self.receive(name, packed[0], buf)
    }

    /// Write the encoded request in `buf` into guest memory: the entry
    /// point's arguments.
    fn send(&mut self, buf: &[u8]) -> Result<[Val; 2]> {
        abi::check_cap("request", buf.len(), self.message_cap)?;
        let scratch = self.scratch;
        let ptr = abi::write_message(&mut self.guest(), buf, scratch)?;
        Ok([Val::I32(ptr as i32), Val::I32(buf.len() as i32)])
    }

    /// Read the response the entry point returned (`packed`) into `buf`.
    fn receive(&mut self, name: &str, packed: Val, buf: &mut Vec<u8>) -> Result<()> {
        let cap = self.message_cap;
        let (out_ptr, out_len) = abi::unpack(packed.as_i64().unwrap_or(0));
        if out_len == 0 {
            return Err(abi_error(format!(
                "`{name}` returned an empty response (ptr {out_ptr:#x}); a response is at least an envelope byte"
            )));
        }
        abi::check_cap("response", out_len as usize, cap).map_err(|e| {
            abi_error(format!(
                "`{name}` returned a response over the cap: {}",
                e.message()
            ))
        })?;
        let v2 = self.v2;
        let mut mem = self.guest();
        abi::read_message(&mut mem, out_ptr, out_len, buf).map_err(|e| match e.kind() {
            ErrorKind::Abi => abi_error(format!("`{name}` returned {}", e.message())),
            _ => e,
        })?;
        // Version 2 responses stay the guest's (its buffer is reused).
        if !v2 {
            mem.free(out_ptr, out_len)?;
        }
        Ok(())
    }

    /// The current instance's memory and allocator, for the transport.
    fn guest(&mut self) -> Guest<'_, T> {
        Guest {
            store: &mut *self.store,
            memory: self.memory,
            alloc: self.alloc,
            free: self.free,
        }
    }

    /// Call the entry point `name` with a request already encoded (the
    /// bincode bytes of the request, as docs/abi.md describes), returning
    /// the encoded `Ok` response as it came: for hosts that pass messages
    /// through without knowing their types, such as one plugin calling
    /// another. Errors, caps and poisoning are those of [`call`](Self::call).
    pub fn call_bytes(&mut self, name: &str, request: &[u8]) -> Result<Vec<u8>> {
        self.guarded(|p| {
            let entry = p.entry(name)?;
            let mut buf = request.to_vec();
            p.exchange(name, entry, &mut buf)?;
            p.open_envelope(name, buf)
        })
    }

    /// The encoded `Ok` payload of the response envelope `buf`, or the
    /// guest's error.
    fn open_envelope(&self, name: &str, mut buf: Vec<u8>) -> Result<Vec<u8>> {
        // The envelope: variant 0 (`Ok`) then the payload, or variant 1
        // (`Err`) then the guest's error.
        if buf.first() == Some(&0) {
            buf.remove(0);
            return Ok(buf);
        }
        match Bincode::decode::<core::result::Result<(), GuestError>>(&buf, self.message_cap) {
            Ok(Err(guest)) => Err(Error::new(ErrorKind::Guest, guest.message)),
            Ok(Ok(())) | Err(_) => Err(abi_error(format!(
                "`{name}` returned a response whose envelope does not decode"
            ))),
        }
    }
}

#[cfg(feature = "tokio")]
impl<T: Send + 'static> Plugin<T> {
    /// [`call`](Self::call) from async code on tokio.
    ///
    /// On engines with [`Feature::AsyncSuspend`](crate::Feature::AsyncSuspend)
    /// (wasmtime, wasmi) the guest call suspends while an async host
    /// function ([`Linker::func_async`](crate::Linker::func_async)) awaits,
    /// so the worker thread runs other tasks meanwhile. Dropping the
    /// returned future cancels the call: the host future is dropped and the
    /// instance, possibly left mid-call, is replaced before the next call.
    ///
    /// Guest code between awaits runs on the polling thread: bound it with
    /// a timeout or fuel. A CPU-bound guest yields to the executor as it
    /// computes on wasmtime with fuel on (every `ASYNC_YIELD_FUEL` units)
    /// and on wasmi with a timeout (every fuel slice).
    ///
    /// On wasmer, which cannot suspend a guest call, the entry point runs
    /// under `tokio::task::block_in_place` on a multi-threaded runtime (the
    /// worker hands its other tasks to a new thread; an async host function
    /// parks that thread until its future is done: one OS thread per call
    /// in flight, at most `anywasm::wasmer::MAX_BLOCKING_CALLS` at once),
    /// and inline on a current-thread runtime. It cannot be cancelled
    /// half-way.
    pub async fn call_async<Req, Resp>(&mut self, name: &str, request: &Req) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        self.guarded_async(async |p| p.call_inner_async(name, request).await)
            .await
    }

    /// [`call_bytes`](Self::call_bytes) from async code on tokio: suspends
    /// and cancels as [`call_async`](Self::call_async) does.
    pub async fn call_bytes_async(&mut self, name: &str, request: &[u8]) -> Result<Vec<u8>> {
        self.guarded_async(async |p| {
            let entry = p.entry(name)?;
            let mut buf = request.to_vec();
            p.exchange_async(name, entry, &mut buf).await?;
            p.open_envelope(name, buf)
        })
        .await
    }

    /// [`guarded`](Self::guarded) for an async call, which may be dropped
    /// half-way.
    async fn guarded_async<R>(
        &mut self,
        call: impl AsyncFnOnce(&mut Self) -> Result<R>,
    ) -> Result<R> {
        self.begin_call()?;
        // Poisoned until the call completes: a future dropped half-way
        // leaves the instance to be replaced.
        self.poisoned = true;
        let result = call(self).await;
        self.poisoned = false;
        self.end_call(result)
    }

    async fn call_inner_async<Req, Resp>(&mut self, name: &str, request: &Req) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let entry = self.entry(name)?;
        let mut buf = core::mem::take(&mut self.buf);
        buf.clear();
        Bincode::encode(request, &mut buf)?;
        let result = match self.exchange_async(name, entry, &mut buf).await {
            Ok(()) => self.decode_response(name, &buf),
            Err(e) => Err(e),
        };
        self.keep_buffer(buf);
        result
    }
}
