//! Raw wasmi (default configuration, as anywasm's backend uses without fuel).

use std::hint::black_box;

use anywasm::abi;
use criterion::Criterion;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasmi::{Engine, Instance, Linker, Memory, Module, Store, TypedFunc};

use crate::{AbiHost, decode_envelope, encode_into, response_buf};

fn linker(engine: &Engine) -> Linker<()> {
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("host", "noop", || {})
        .expect("define host::noop");
    linker
}

/// compile, instantiate and cold-call benches (see the wasmtime module).
/// wasmi has no precompiled format and no pre-linked instances:
/// `Linker::instantiate_and_start` is its one path.
pub fn lifecycle(c: &mut Criterion, name: &str, wasm: &[u8], call: bool) {
    let engine = Engine::default();
    c.bench_function(&format!("compile/{name}/wasmi-raw"), |b| {
        b.iter(|| Module::new(&engine, black_box(wasm)).expect("compile"))
    });
    let module = Module::new(&engine, wasm).expect("compile");
    let linker = linker(&engine);
    c.bench_function(&format!("instantiate/{name}/wasmi-raw"), |b| {
        b.iter(|| {
            let mut store = Store::new(&engine, ());
            let i = linker
                .instantiate_and_start(&mut store, &module)
                .expect("instantiate");
            (store, i)
        })
    });
    if !call {
        return;
    }
    c.bench_function(&format!("cold/{name}/wasmi-raw"), |b| {
        b.iter(|| {
            let module = Module::new(&engine, black_box(wasm)).expect("compile");
            let mut store = Store::new(&engine, ());
            let i = linker
                .instantiate_and_start(&mut store, &module)
                .expect("instantiate");
            let f = i.get_typed_func::<(), ()>(&store, "noop").expect("noop");
            f.call(&mut store, ()).expect("call");
        })
    });
}

/// No-op calls host->guest and guest->host on [`CALL_WAT`](crate::CALL_WAT).
pub fn calls(c: &mut Criterion, wasm: &[u8]) {
    let engine = Engine::default();
    let module = Module::new(&engine, wasm).expect("compile");
    let mut store = Store::new(&engine, ());
    let instance = linker(&engine)
        .instantiate_and_start(&mut store, &module)
        .expect("instantiate");
    let noop = instance
        .get_typed_func::<(), ()>(&store, "noop")
        .expect("noop");
    let call_host = instance
        .get_typed_func::<(), ()>(&store, "call_host")
        .expect("call_host");
    let untyped = instance.get_func(&store, "noop").expect("noop");
    let untyped_host = instance.get_func(&store, "call_host").expect("call_host");
    c.bench_function("call/noop/wasmi-raw", |b| {
        b.iter(|| noop.call(&mut store, ()).expect("call"))
    });
    c.bench_function("call/noop/wasmi-raw-untyped", |b| {
        b.iter(|| untyped.call(&mut store, &[], &mut []).expect("call"))
    });
    c.bench_function("call/host_noop/wasmi-raw", |b| {
        b.iter(|| call_host.call(&mut store, ()).expect("call"))
    });
    c.bench_function("call/host_noop/wasmi-raw-untyped", |b| {
        b.iter(|| untyped_host.call(&mut store, &[], &mut []).expect("call"))
    });
}

/// `call/host_noop_x100`: [`HOST_LOOP_WAT`](crate::HOST_LOOP_WAT)'s 100
/// guest->host calls in one host->guest call.
pub fn host_loop(c: &mut Criterion, wasm: &[u8]) {
    let engine = Engine::default();
    let module = Module::new(&engine, wasm).expect("compile");
    let mut store = Store::new(&engine, ());
    let f = linker(&engine)
        .instantiate_and_start(&mut store, &module)
        .expect("instantiate")
        .get_typed_func::<(), ()>(&store, "call_host_100")
        .expect("call_host_100");
    c.bench_function("call/host_noop_x100/wasmi-raw", |b| {
        b.iter(|| f.call(&mut store, ()).expect("call"))
    });
}

/// A plugin driven through raw wasmi.
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
        f.write_str("raw::wasmi::Abi")
    }
}

impl Abi {
    /// Instantiate `wasm` (no imports) on `engine`.
    pub fn new(engine: &Engine, wasm: &[u8]) -> Self {
        let module = Module::new(engine, wasm).expect("compile");
        let mut store = Store::new(engine, ());
        let instance = Linker::new(engine)
            .instantiate_and_start(&mut store, &module)
            .expect("instantiate");
        let memory = instance
            .get_memory(&store, abi::MEMORY_EXPORT)
            .expect("memory");
        let alloc = instance
            .get_typed_func(&store, abi::ALLOC_EXPORT)
            .expect("alloc");
        let scratch = abi::unpack(
            instance
                .get_typed_func::<(), i64>(&store, abi::V2_EXPORT)
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
        self.instance.get_typed_func(&self.store, name).expect(name)
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
