//! Raw wasmtime.

use std::hint::black_box;

use anywasm::abi;
use criterion::Criterion;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasmtime::{
    Config, Engine, Instance, InstanceAllocationStrategy, Linker, Memory, Module,
    PoolingAllocationConfig, Store, TypedFunc,
};

use crate::{AbiHost, decode_envelope, encode_into, response_buf};

fn linker(engine: &Engine) -> Linker<()> {
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("host", "noop", || {})
        .expect("define host::noop");
    linker
}

/// An engine with the pooling allocator (small pools: benches only).
pub fn pooling_engine() -> Engine {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_core_instances(64)
        .total_memories(64)
        .total_tables(64)
        .total_gc_heaps(64)
        .max_memory_size(256 << 20);
    let mut config = Config::new();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).expect("pooling engine")
}

/// compile, load (deserialise), instantiate (plain, pre-linked, pooled) and
/// cold-call benches for the module `name` (`wasm`, importing at most
/// `host::noop`, exporting `noop` if `call` is set).
pub fn lifecycle(c: &mut Criterion, name: &str, wasm: &[u8], call: bool) {
    let engine = Engine::default();
    c.bench_function(&format!("compile/{name}/wasmtime-raw"), |b| {
        b.iter(|| Module::new(&engine, black_box(wasm)).expect("compile"))
    });
    let module = Module::new(&engine, wasm).expect("compile");
    let bytes = module.serialize().expect("serialize");
    c.bench_function(&format!("load/{name}/wasmtime-raw-precompiled"), |b| {
        // SAFETY: `bytes` was produced by `serialize` on this engine.
        b.iter(|| unsafe { Module::deserialize(&engine, black_box(&bytes)) }.expect("load"))
    });
    let linker = linker(&engine);
    c.bench_function(&format!("instantiate/{name}/wasmtime-raw"), |b| {
        b.iter(|| {
            let mut store = Store::new(&engine, ());
            let i = linker
                .instantiate(&mut store, &module)
                .expect("instantiate");
            (store, i)
        })
    });
    let pre = linker.instantiate_pre(&module).expect("pre");
    c.bench_function(&format!("instantiate/{name}/wasmtime-raw-pre"), |b| {
        b.iter(|| {
            let mut store = Store::new(&engine, ());
            let i = pre.instantiate(&mut store).expect("instantiate");
            (store, i)
        })
    });
    let pooled = pooling_engine();
    let pooled_module = Module::new(&pooled, wasm).expect("compile");
    let pooled_pre = linker_pre(&pooled, &pooled_module);
    c.bench_function(&format!("instantiate/{name}/wasmtime-raw-pre-pool"), |b| {
        b.iter(|| {
            let mut store = Store::new(&pooled, ());
            let i = pooled_pre.instantiate(&mut store).expect("instantiate");
            (store, i)
        })
    });
    if !call {
        return;
    }
    let cold = |b: &mut criterion::Bencher<'_>, precompiled: bool| {
        b.iter(|| {
            let module = if precompiled {
                // SAFETY: `bytes` was produced by `serialize` on this engine.
                unsafe { Module::deserialize(&engine, black_box(&bytes)) }.expect("load")
            } else {
                Module::new(&engine, black_box(wasm)).expect("compile")
            };
            let mut store = Store::new(&engine, ());
            let i = linker
                .instantiate(&mut store, &module)
                .expect("instantiate");
            let f = i
                .get_typed_func::<(), ()>(&mut store, "noop")
                .expect("noop");
            f.call(&mut store, ()).expect("call");
        })
    };
    c.bench_function(&format!("cold/{name}/wasmtime-raw"), |b| cold(b, false));
    c.bench_function(&format!("cold/{name}/wasmtime-raw-precompiled"), |b| {
        cold(b, true)
    });
}

fn linker_pre(engine: &Engine, module: &Module) -> wasmtime::InstancePre<()> {
    linker(engine).instantiate_pre(module).expect("pre")
}

/// No-op calls host->guest and guest->host on [`CALL_WAT`](crate::CALL_WAT).
pub fn calls(c: &mut Criterion, wasm: &[u8]) {
    let engine = Engine::default();
    let module = Module::new(&engine, wasm).expect("compile");
    let mut store = Store::new(&engine, ());
    let instance = linker(&engine)
        .instantiate(&mut store, &module)
        .expect("instantiate");
    let noop = instance
        .get_typed_func::<(), ()>(&mut store, "noop")
        .expect("noop");
    let call_host = instance
        .get_typed_func::<(), ()>(&mut store, "call_host")
        .expect("call_host");
    let untyped = instance.get_func(&mut store, "noop").expect("noop");
    let untyped_host = instance
        .get_func(&mut store, "call_host")
        .expect("call_host");
    c.bench_function("call/noop/wasmtime-raw", |b| {
        b.iter(|| noop.call(&mut store, ()).expect("call"))
    });
    c.bench_function("call/noop/wasmtime-raw-untyped", |b| {
        b.iter(|| untyped.call(&mut store, &[], &mut []).expect("call"))
    });
    c.bench_function("call/host_noop/wasmtime-raw", |b| {
        b.iter(|| call_host.call(&mut store, ()).expect("call"))
    });
    c.bench_function("call/host_noop/wasmtime-raw-untyped", |b| {
        b.iter(|| untyped_host.call(&mut store, &[], &mut []).expect("call"))
    });
    // The host function defined the way anywasm defines it (any
    // signature, values as raw slots) instead of `func_wrap`.
    let mut linker = Linker::new(&engine);
    let f = |_: wasmtime::Caller<'_, ()>, _: &mut [std::mem::MaybeUninit<wasmtime::ValRaw>]| Ok(());
    // SAFETY: the function neither reads nor writes a value, as its
    // signature (no parameters, no results) says.
    unsafe {
        linker.func_new_unchecked("host", "noop", wasmtime::FuncType::new(&engine, [], []), f)
    }
    .expect("define host::noop");
    let mut store = Store::new(&engine, ());
    let call_host = linker
        .instantiate(&mut store, &module)
        .expect("instantiate")
        .get_typed_func::<(), ()>(&mut store, "call_host")
        .expect("call_host");
    c.bench_function("call/host_noop/wasmtime-raw-unchecked", |b| {
        b.iter(|| call_host.call(&mut store, ()).expect("call"))
    });
}

/// `call/host_noop_x100`: [`HOST_LOOP_WAT`](crate::HOST_LOOP_WAT)'s 100
/// guest->host calls in one host->guest call.
pub fn host_loop(c: &mut Criterion, wasm: &[u8]) {
    let engine = Engine::default();
    let module = Module::new(&engine, wasm).expect("compile");
    let mut store = Store::new(&engine, ());
    let f = linker(&engine)
        .instantiate(&mut store, &module)
        .expect("instantiate")
        .get_typed_func::<(), ()>(&mut store, "call_host_100")
        .expect("call_host_100");
    c.bench_function("call/host_noop_x100/wasmtime-raw", |b| {
        b.iter(|| f.call(&mut store, ()).expect("call"))
    });
}

/// A plugin driven through raw wasmtime.
pub struct Abi {
    store: Store<()>,
    instance: Instance,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    scratch: (u32, u32),
    buf: Vec<u8>,
}

impl std::fmt::Debug for Abi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("raw::wasmtime::Abi")
    }
}

impl Abi {
    /// Instantiate `wasm` (no imports) on `engine`.
    pub fn new(engine: &Engine, wasm: &[u8]) -> Self {
        let module = Module::new(engine, wasm).expect("compile");
        let mut store = Store::new(engine, ());
        let instance = Instance::new(&mut store, &module, &[]).expect("instantiate");
        let memory = instance
            .get_memory(&mut store, abi::MEMORY_EXPORT)
            .expect("memory");
        let alloc = instance
            .get_typed_func(&mut store, abi::ALLOC_EXPORT)
            .expect("alloc");
        let scratch = abi::unpack(
            instance
                .get_typed_func::<(), i64>(&mut store, abi::V2_EXPORT)
                .expect("anywasm_abi_v2")
                .call(&mut store, ())
                .expect("negotiate ABI version 2"),
        );
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

impl AbiHost for Abi {
    type Entry = TypedFunc<(i32, i32), i64>;

    fn entry(&mut self, name: &'static str) -> Self::Entry {
        self.instance
            .get_typed_func(&mut self.store, name)
            .expect(name)
    }

    fn call<Req: Serialize + ?Sized, Resp: DeserializeOwned>(
        &mut self,
        entry: &Self::Entry,
        request: &Req,
    ) -> Resp {
        let bytes = encode_into(&mut self.buf, request);
        let ptr = if bytes.is_empty() {
            0
        } else {
            let ptr = if bytes.len() <= self.scratch.1 as usize {
                self.scratch.0 as i32
            } else {
                self.alloc
                    .call(&mut self.store, bytes.len() as i32)
                    .expect("alloc")
            };
            self.memory
                .write(&mut self.store, ptr as u32 as usize, bytes)
                .expect("write");
            ptr
        };
        let packed = entry
            .call(&mut self.store, (ptr, bytes.len() as i32))
            .expect("call");
        let (out_ptr, out_len) = abi::unpack(packed);
        let response = response_buf(&mut self.buf, out_len as usize);
        self.memory
            .read(&self.store, out_ptr as usize, response)
            .expect("read");
        decode_envelope(response)
    }
}
