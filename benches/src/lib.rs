//! Shared setup for the anywasm benches (`cargo bench -p anywasm-benches`).
//!
//! Benchmark ids are `<group>/<workload>/<engine>[-<path>]`:
//!
//! | path | what runs |
//! |---|---|
//! | (none) | anywasm as a user calls it: [`Plugin`] for ABI calls, static dispatch (`R: Runtime`) otherwise |
//! | `static` | ABI calls through the generic [`Store`] API ([`StaticAbi`]), no dyn layer |
//! | `dyn` | the object-safe layer (`Box<dyn DynStore>`) |
//! | `pool` | an engine with `Config::instance_pool` (instantiation; engines that have a pooling allocator) |
//! | `raw` | the raw engine API, hand-written, fastest way it offers (typed functions) |
//! | `raw-untyped` | the raw engine's untyped call (`Val` slices), the shape anywasm uses |
//! | `raw-pre`, `raw-pre-pool`, `raw-precompiled` | other raw paths (pre-linked instances, pooling, deserialised modules) |
//!
//! The raw hosts in [`raw`] do exactly the work anywasm does (the same
//! codec, the same copies, the same allocator calls), so `anywasm / raw` is
//! the abstraction's own cost. `bench-report` turns criterion's output into
//! tables and a chart.

use anywasm::abi::{self, Codec, GuestError};
use anywasm::{BackendKind, Capabilities, Config, Limits, Linker, Plugin, Runtime, Store, Val};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub mod footprint;
pub mod raw;
pub mod workloads;

/// A module for call-level benches: a no-op export, an export that calls a
/// no-op host import, and a memory.
pub const CALL_WAT: &str = r#"
(module
  (import "host" "noop" (func $host_noop))
  (memory (export "memory") 1)
  (func (export "noop"))
  (func (export "call_host") (call $host_noop)))
"#;

/// [`CALL_WAT`] as binary.
pub fn call_module() -> Vec<u8> {
    wat::parse_str(CALL_WAT).expect("CALL_WAT parses")
}

/// A module whose export `call_host_100` calls the no-op host import 100
/// times in a loop: the guest->host call cost without the host->guest
/// entry's (and its noise) around every one.
pub const HOST_LOOP_WAT: &str = r#"
(module
  (import "host" "noop" (func $host_noop))
  (func (export "call_host_100") (local $i i32)
    (loop $again
      (call $host_noop)
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 100))))))
"#;

/// [`HOST_LOOP_WAT`] as binary.
pub fn host_loop_module() -> Vec<u8> {
    wat::parse_str(HOST_LOOP_WAT).expect("HOST_LOOP_WAT parses")
}

/// The linker [`CALL_WAT`] and [`HOST_LOOP_WAT`] need: `host::noop` doing
/// nothing, defined the way the README recommends ([`Linker::func_wrap`]).
pub fn call_linker() -> Linker<()> {
    let mut linker = Linker::new();
    linker.func_wrap("host", "noop", |_, (): ()| Ok(()));
    linker
}

/// [`call_linker`] with `host::noop` over raw values ([`Linker::func`]).
pub fn call_linker_untyped() -> Linker<()> {
    let mut linker = Linker::new();
    linker.func("host", "noop", anywasm::FuncType::new([], []), |_, _, _| {
        Ok(())
    });
    linker
}

/// The linker the ABI guest needs: `anywasm::add`, capability `math`.
pub fn abi_linker() -> Linker<()> {
    let mut linker = Linker::new();
    linker
        .abi_func("add", |_, (a, b): (i32, i32)| Ok(a.wrapping_add(b)))
        .capability("math");
    linker
}

/// A plugin (`wasm` speaks the ABI) on `backend`, through the dyn layer.
pub fn plugin(backend: BackendKind, config: &Config, wasm: &[u8], limits: &Limits) -> Plugin<()> {
    let engine = anywasm::engine::<()>(backend, config).expect("engine");
    let caps = Capabilities::none().grant("math");
    Plugin::load(&*engine, wasm, &abi_linker(), &caps, (), limits).expect("load plugin")
}

/// The ABI guest (`conformance/guests/abi-guest`) on `backend`.
pub fn abi_plugin(backend: BackendKind) -> Plugin<()> {
    plugin(
        backend,
        &Config::new(),
        anywasm_conformance::guests::ABI_GUEST,
        &Limits::new(),
    )
}

/// Something that calls ABI entry points: anywasm's [`Plugin`], the
/// statically dispatched [`StaticAbi`], or a raw engine host in [`raw`].
///
/// `entry` resolves an export once (the raw hosts keep a typed function);
/// [`Plugin`] takes the name on every call, as its users do.
pub trait AbiHost {
    /// A resolved entry point.
    type Entry;
    /// Resolve the entry point `name`.
    fn entry(&mut self, name: &'static str) -> Self::Entry;
    /// Call it; panics on any error (these are benches).
    fn call<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &mut self,
        entry: &Self::Entry,
        request: &Req,
    ) -> Resp;
}

impl AbiHost for Plugin<()> {
    type Entry = &'static str;

    fn entry(&mut self, name: &'static str) -> &'static str {
        name
    }

    fn call<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &mut self,
        entry: &&'static str,
        request: &Req,
    ) -> Resp {
        match Plugin::call(self, entry, request) {
            Ok(v) => v,
            Err(e) => panic!("{entry}: {e}"),
        }
    }
}

type FuncOf<R> = <<R as Runtime>::Store<()> as Store<()>>::Func;
type InstanceOf<R> = <<R as Runtime>::Store<()> as Store<()>>::Instance;
type MemoryOf<R> = <<R as Runtime>::Store<()> as Store<()>>::Memory;

/// The plugin ABI (version 2) driven through the generic [`Store`] API of
/// one engine (static dispatch, no `dyn`): the same steps as
/// [`Plugin::call`] with the entry point and the memory resolved once.
pub struct StaticAbi<R: Runtime> {
    store: R::Store<()>,
    instance: InstanceOf<R>,
    memory: MemoryOf<R>,
    alloc: FuncOf<R>,
    scratch: (u32, u32),
    buf: Vec<u8>,
}

impl<R: Runtime> std::fmt::Debug for StaticAbi<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticAbi")
            .field("backend", &R::BACKEND)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> StaticAbi<R> {
    /// Compile and instantiate `wasm` (with [`abi_linker`]) on a new engine.
    pub fn new(config: &Config, wasm: &[u8], limits: &Limits) -> Self {
        let engine = R::new(config).expect("engine");
        let module = engine.compile(wasm).expect("compile");
        let mut store = engine.store((), limits).expect("store");
        let instance = store
            .instantiate(&module, &abi_linker())
            .expect("instantiate");
        let alloc = store.get_func(&instance, abi::ALLOC_EXPORT).expect("alloc");
        let v2 = store.get_func(&instance, abi::V2_EXPORT).expect("v2");
        let mut packed = [Val::I64(0)];
        store.call(&v2, &[], &mut packed).expect("negotiate v2");
        let scratch = abi::unpack(packed[0].as_i64().unwrap_or(0));
        // The reply area, as `Plugin` negotiates it (docs/abi.md §6.1).
        if let Ok(replies) = store.get_func(&instance, abi::V2_REPLIES_EXPORT) {
            let mut area = [Val::I64(0)];
            store.call(&replies, &[], &mut area).expect("reply area");
            let (ptr, len) = abi::unpack(area[0].as_i64().unwrap_or(0));
            store.set_reply_area(abi::Scratch { ptr, len });
        }
        let memory = store.memory(&instance, abi::MEMORY_EXPORT).expect("memory");
        Self {
            store,
            instance,
            memory,
            alloc,
            scratch,
            buf: Vec::new(),
        }
    }
}

impl<R: Runtime> AbiHost for StaticAbi<R> {
    type Entry = FuncOf<R>;

    fn entry(&mut self, name: &'static str) -> FuncOf<R> {
        self.store.get_func(&self.instance, name).expect(name)
    }

    fn call<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &mut self,
        entry: &FuncOf<R>,
        request: &Req,
    ) -> Resp {
        let bytes = encode_into(&mut self.buf, request);
        let ptr = if bytes.is_empty() {
            0
        } else {
            let ptr = if bytes.len() <= self.scratch.1 as usize {
                self.scratch.0 as i32
            } else {
                let mut out = [Val::I32(0)];
                self.store
                    .call(&self.alloc, &[Val::I32(bytes.len() as i32)], &mut out)
                    .expect("alloc");
                out[0].as_i32().unwrap_or(0)
            };
            self.store
                .write(&self.memory, ptr as u32 as u64, bytes)
                .expect("write request");
            ptr
        };
        let mut packed = [Val::I64(0)];
        self.store
            .call(
                entry,
                &[Val::I32(ptr), Val::I32(bytes.len() as i32)],
                &mut packed,
            )
            .expect("call");
        let (out_ptr, out_len) = abi::unpack(packed[0].as_i64().unwrap_or(0));
        let size = self.store.memory_len(&self.memory).expect("memory size");
        assert!(u64::from(out_ptr) + u64::from(out_len) <= size);
        let response = response_buf(&mut self.buf, out_len as usize);
        self.store
            .read(&self.memory, u64::from(out_ptr), response)
            .expect("read response");
        decode_envelope(response)
    }
}

/// Time `iters` runs of `work`, replacing the engine (made by `make`) every
/// 256 runs outside the timed region. wasmer's engine keeps the executable
/// memory of every module it ever compiled or loaded until the engine is
/// dropped, so compiling in a loop on one engine eventually runs out of
/// memory mappings (seen here as ENOMEM, then an abort). The anywasm compile
/// and cold benches rotate on every engine (so they stay comparable), the raw
/// wasmer ones too; raw wasmtime and wasmi free code with the module and
/// keep one engine.
pub fn rotating<E>(iters: u64, make: impl Fn() -> E, mut work: impl FnMut(&E)) -> Duration {
    let mut engine = make();
    let mut total = Duration::ZERO;
    for n in 0..iters {
        if n > 0 && n % 256 == 0 {
            engine = make();
        }
        let start = Instant::now();
        work(&engine);
        total += start.elapsed();
    }
    total
}

/// Encode `request` into `buf` (cleared first), reusing its capacity as
/// [`Plugin`] does, so raw and anywasm hosts allocate alike.
pub fn encode_into<'a, Req: Serialize + ?Sized>(buf: &'a mut Vec<u8>, request: &Req) -> &'a [u8] {
    buf.clear();
    abi::Bincode::encode(request, buf).expect("encode");
    buf
}

/// `buf` resized to `len` zeroed bytes, for a response to be copied into.
pub fn response_buf(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    buf.clear();
    buf.resize(len, 0);
    buf
}

/// Decode a response envelope, panicking on `Err` (shared by the raw hosts).
pub fn decode_envelope<Resp: DeserializeOwned>(response: &[u8]) -> Resp {
    match abi::decode::<Result<Resp, GuestError>>(response, abi::DEFAULT_MESSAGE_CAP) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("guest error: {e}"),
        Err(e) => panic!("bad response: {e}"),
    }
}

/// The engines compiled in, with their names.
pub fn backends() -> &'static [BackendKind] {
    anywasm::compiled_backends()
}
