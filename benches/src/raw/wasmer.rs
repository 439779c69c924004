//! Raw wasmer (Cranelift, the same compiler setup as anywasm's backend
//! minus its middlewares and tunables).

use std::hint::black_box;

use anywasm::abi;
use criterion::Criterion;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasmer::sys::{Cranelift, EngineBuilder, Features};
use wasmer::{
    Engine, Function, FunctionEnv, FunctionEnvMut, Imports, Instance, Memory, Module, Store,
    TypedFunction, imports,
};

use crate::{AbiHost, decode_envelope, encode_into, response_buf, rotating};

/// A Cranelift engine with wasmer's default features.
pub fn engine() -> Engine {
    EngineBuilder::new(Cranelift::default())
        .set_features(Some(Features::default()))
        .engine()
        .into()
}

fn host_imports(store: &mut Store) -> Imports {
    imports! {
        "host" => { "noop" => Function::new_typed(store, || {}) },
    }
}

/// compile, load, instantiate and cold-call benches (see the wasmtime module).
/// wasmer has no pre-linked instances or pooling: plain instantiation is
/// its fastest path. Each instance gets its own store (wasmer keeps every
/// instance alive until its store drops).
pub fn lifecycle(c: &mut Criterion, name: &str, wasm: &[u8], call: bool) {
    let engine = engine();
    c.bench_function(&format!("compile/{name}/wasmer-raw"), |b| {
        b.iter_custom(|iters| {
            rotating(iters, crate::raw::wasmer::engine, |engine| {
                Module::new(engine, black_box(wasm)).expect("compile");
            })
        })
    });
    let module = Module::new(&engine, wasm).expect("compile");
    let bytes = module.serialize().expect("serialize");
    c.bench_function(&format!("load/{name}/wasmer-raw-precompiled"), |b| {
        b.iter_custom(|iters| {
            rotating(iters, crate::raw::wasmer::engine, |engine| {
                // SAFETY: `bytes` was produced by `serialize` on an engine
                // with this configuration.
                unsafe { Module::deserialize(engine, black_box(bytes.clone())) }.expect("load");
            })
        })
    });
    c.bench_function(&format!("instantiate/{name}/wasmer-raw"), |b| {
        b.iter(|| {
            let mut store = Store::new(engine.clone());
            let imports = host_imports(&mut store);
            let i = Instance::new(&mut store, &module, &imports).expect("instantiate");
            (i, store)
        })
    });
    if !call {
        return;
    }
    let cold = |b: &mut criterion::Bencher<'_>, precompiled: bool| {
        b.iter_custom(|iters| {
            rotating(iters, crate::raw::wasmer::engine, |engine| {
                let module = if precompiled {
                    // SAFETY: `bytes` was produced by `serialize` on an engine
                    // with this configuration.
                    unsafe { Module::deserialize(engine, black_box(bytes.clone())) }.expect("load")
                } else {
                    Module::new(engine, black_box(wasm)).expect("compile")
                };
                let mut store = Store::new(engine.clone());
                let imports = host_imports(&mut store);
                let i = Instance::new(&mut store, &module, &imports).expect("instantiate");
                let f: TypedFunction<(), ()> =
                    i.exports.get_typed_function(&store, "noop").expect("noop");
                f.call(&mut store).expect("call");
            })
        })
    };
    c.bench_function(&format!("cold/{name}/wasmer-raw"), |b| cold(b, false));
    c.bench_function(&format!("cold/{name}/wasmer-raw-precompiled"), |b| {
        cold(b, true)
    });
}

/// No-op calls host->guest and guest->host on [`CALL_WAT`](crate::CALL_WAT).
pub fn calls(c: &mut Criterion, wasm: &[u8]) {
    let engine = engine();
    let module = Module::new(&engine, wasm).expect("compile");
    let mut store = Store::new(engine.clone());
    let imports = host_imports(&mut store);
    let instance = Instance::new(&mut store, &module, &imports).expect("instantiate");
    let noop: TypedFunction<(), ()> = instance
        .exports
        .get_typed_function(&store, "noop")
        .expect("noop");
    let call_host: TypedFunction<(), ()> = instance
        .exports
        .get_typed_function(&store, "call_host")
        .expect("call_host");
    let untyped = instance.exports.get_function("noop").expect("noop").clone();
    let untyped_host = instance
        .exports
        .get_function("call_host")
        .expect("call_host")
        .clone();
    c.bench_function("call/noop/wasmer-raw", |b| {
        b.iter(|| noop.call(&mut store).expect("call"))
    });
    c.bench_function("call/noop/wasmer-raw-untyped", |b| {
        b.iter(|| untyped.call(&mut store, &[]).expect("call"))
    });
    c.bench_function("call/host_noop/wasmer-raw", |b| {
        b.iter(|| call_host.call(&mut store).expect("call"))
    });
    c.bench_function("call/host_noop/wasmer-raw-untyped", |b| {
        b.iter(|| untyped_host.call(&mut store, &[]).expect("call"))
    });
    // The host function with an environment, as a host with state (and
    // anywasm, for its store's data) defines it.
    let mut store = Store::new(engine);
    let env = FunctionEnv::new(&mut store, 0u64);
    let noop = Function::new_typed_with_env(&mut store, &env, |_: FunctionEnvMut<'_, u64>| {});
    let imports = imports! { "host" => { "noop" => noop } };
    let call_host: TypedFunction<(), ()> = Instance::new(&mut store, &module, &imports)
        .expect("instantiate")
        .exports
        .get_typed_function(&store, "call_host")
        .expect("call_host");
    c.bench_function("call/host_noop/wasmer-raw-env", |b| {
        b.iter(|| call_host.call(&mut store).expect("call"))
    });
}

/// `call/host_noop_x100`: [`HOST_LOOP_WAT`](crate::HOST_LOOP_WAT)'s 100
/// guest->host calls in one host->guest call; `-raw-env` with a
/// `FunctionEnv`, as anywasm defines its host functions.
pub fn host_loop(c: &mut Criterion, wasm: &[u8]) {
    let engine = engine();
    let module = Module::new(&engine, wasm).expect("compile");
    let mut store = Store::new(engine.clone());
    let imports = host_imports(&mut store);
    let f: TypedFunction<(), ()> = Instance::new(&mut store, &module, &imports)
        .expect("instantiate")
        .exports
        .get_typed_function(&store, "call_host_100")
        .expect("call_host_100");
    c.bench_function("call/host_noop_x100/wasmer-raw", |b| {
        b.iter(|| f.call(&mut store).expect("call"))
    });
    let mut store = Store::new(engine);
    let env = FunctionEnv::new(&mut store, 0u64);
    let noop = Function::new_typed_with_env(&mut store, &env, |_: FunctionEnvMut<'_, u64>| {});
    let imports = imports! { "host" => { "noop" => noop } };
    let f: TypedFunction<(), ()> = Instance::new(&mut store, &module, &imports)
        .expect("instantiate")
        .exports
        .get_typed_function(&store, "call_host_100")
        .expect("call_host_100");
    c.bench_function("call/host_noop_x100/wasmer-raw-env", |b| {
        b.iter(|| f.call(&mut store).expect("call"))
    });
}

/// A plugin driven through raw wasmer.
pub struct Abi {
    store: Store,
    instance: Instance,
    memory: Memory,
    alloc: TypedFunction<i32, i32>,
    scratch: (u32, u32),
    buf: Vec<u8>,
}

impl std::fmt::Debug for Abi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("raw::wasmer::Abi")
    }
}

impl Abi {
    /// Instantiate `wasm` (no imports) on `engine`.
    pub fn new(engine: &Engine, wasm: &[u8]) -> Self {
        let module = Module::new(engine, wasm).expect("compile");
        let mut store = Store::new(engine.clone());
        let instance = Instance::new(&mut store, &module, &imports! {}).expect("instantiate");
        let memory = instance
            .exports
            .get_memory(abi::MEMORY_EXPORT)
            .expect("memory")
            .clone();
        let alloc = instance
            .exports
            .get_typed_function(&store, abi::ALLOC_EXPORT)
            .expect("alloc");
        let scratch = abi::unpack(
            instance
                .exports
                .get_typed_function::<(), i64>(&store, abi::V2_EXPORT)
                .expect("anywasm_abi_v2")
                .call(&mut store)
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
    type Entry = TypedFunction<(i32, i32), i64>;

    fn entry(&mut self, name: &'static str) -> Self::Entry {
        self.instance
            .exports
            .get_typed_function(&self.store, name)
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
                .view(&self.store)
                .write(u64::from(ptr as u32), bytes)
                .expect("write");
            ptr
        };
        let packed = entry
            .call(&mut self.store, ptr, bytes.len() as i32)
            .expect("call");
        let (out_ptr, out_len) = abi::unpack(packed);
        let response = response_buf(&mut self.buf, out_len as usize);
        self.memory
            .view(&self.store)
            .read(u64::from(out_ptr), response)
            .expect("read");
        decode_envelope(response)
    }
}
