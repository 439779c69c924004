//! Every bench, engines side by side and anywasm next to each raw engine:
//! `cargo bench -p anywasm-benches --bench engines` (filter with a regex,
//! e.g. `-- '^call/'`), then `cargo run -p anywasm-benches --bin bench-report`.
//!
//! Groups (`<group>/<workload>/<engine>[-<path>]`, paths in the crate docs):
//! `compile`, `load` (precompiled modules, raw only: anywasm has no
//! precompiled-module API), `instantiate`, `cold` (compile + instantiate +
//! first call; `cold/bench_guest` makes a ready [`Plugin`] of the bench
//! guest, and `cold/cache` does the same from a warm on-disk
//! `anywasm_cache::ModuleCache` instead of compiling), `call` (no-op
//! host->guest and guest->host), `abi` (typed round trips), `compute` (the
//! bench guest's workloads), `limits` (each limit mechanism switched on,
//! against `-none`), `manager` (calls and reloads through the plugin
//! manager) and `async` (async host functions against sync ones).

use std::hint::black_box;
use std::time::Duration;

use anywasm::{
    Capabilities, Config, DynRuntime, FuncType, InstancePool, Limits, Linker, Plugin, Runtime,
    Store, abi,
};
use anywasm_benches::workloads::{self, Summary};
use anywasm_benches::{AbiHost, StaticAbi, raw};
use anywasm_cache::{ModuleCache, Outcome};
use anywasm_conformance::guests::{ABI_GUEST, BENCH_GUEST, ECHO_GUEST};
use anywasm_plugin::{CapabilityPolicy, PluginManager};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_bytes::ByteBuf;

type Wasmtime = anywasm::wasmtime::Engine;
type Wasmer = anywasm::wasmer::Engine;
type Wasmi = anywasm::wasmi::Engine;

fn name<R: Runtime>() -> &'static str {
    R::BACKEND.name()
}

/// compile / instantiate / cold through anywasm, static and dyn.
fn lifecycle_anywasm<R: Runtime>(c: &mut Criterion, module_name: &str, wasm: &[u8], call: bool) {
    let engine = R::new(&Config::new()).expect("engine");
    let linker = anywasm_benches::call_linker();
    let e = name::<R>();
    c.bench_function(&format!("compile/{module_name}/{e}"), |b| {
        b.iter_custom(|iters| {
            rotating::<R>(iters, |engine| {
                engine.compile(black_box(wasm)).expect("compile");
            })
        })
    });
    let module = engine.compile(wasm).expect("compile");
    c.bench_function(&format!("instantiate/{module_name}/{e}"), |b| {
        b.iter(|| {
            let mut store = engine.store((), &Limits::new()).expect("store");
            let i = store.instantiate(&module, &linker).expect("instantiate");
            (i, store)
        })
    });
    // The fastest instantiation anywasm offers, where the engine has it.
    let pool = Config::new().instance_pool(InstancePool::new(64, 256 << 20));
    if let Ok(pooled) = R::new(&pool) {
        let module = pooled.compile(wasm).expect("compile");
        c.bench_function(&format!("instantiate/{module_name}/{e}-pool"), |b| {
            b.iter(|| {
                let mut store = pooled.store((), &Limits::new()).expect("store");
                let i = store.instantiate(&module, &linker).expect("instantiate");
                (i, store)
            })
        });
    }
    let dyn_engine: &dyn DynRuntime<()> = &engine;
    let dyn_module = dyn_engine.compile(wasm).expect("compile");
    c.bench_function(&format!("instantiate/{module_name}/{e}-dyn"), |b| {
        b.iter(|| {
            let mut store = dyn_engine.store((), &Limits::new()).expect("store");
            let i = store
                .instantiate(&dyn_module, &linker)
                .expect("instantiate");
            (i, store)
        })
    });
    if !call {
        return;
    }
    c.bench_function(&format!("cold/{module_name}/{e}"), |b| {
        b.iter_custom(|iters| {
            rotating::<R>(iters, |engine| {
                let module = engine.compile(black_box(wasm)).expect("compile");
                let mut store = engine.store((), &Limits::new()).expect("store");
                let i = store.instantiate(&module, &linker).expect("instantiate");
                let f = store.get_func(&i, "noop").expect("noop");
                store.call(&f, &[], &mut []).expect("call");
            })
        })
    });
    c.bench_function(&format!("cold/{module_name}/{e}-dyn"), |b| {
        b.iter_custom(|iters| {
            rotating::<R>(iters, |engine| {
                let dyn_engine: &dyn DynRuntime<()> = engine;
                let module = dyn_engine.compile(black_box(wasm)).expect("compile");
                let mut store = dyn_engine.store((), &Limits::new()).expect("store");
                let i = store.instantiate(&module, &linker).expect("instantiate");
                let f = store.get_func(i, "noop").expect("noop");
                store.call(f, &[], &mut []).expect("call");
            })
        })
    });
}

/// [`anywasm_benches::rotating`] over anywasm engines of type `R`.
fn rotating<R: Runtime>(iters: u64, work: impl FnMut(&R)) -> Duration {
    anywasm_benches::rotating(iters, || R::new(&Config::new()).expect("engine"), work)
}

fn lifecycle(c: &mut Criterion) {
    let call_module = anywasm_benches::call_module();
    for (module_name, wasm, call) in [
        ("call_module", call_module.as_slice(), true),
        ("bench_guest", BENCH_GUEST, false),
    ] {
        lifecycle_anywasm::<Wasmtime>(c, module_name, wasm, call);
        raw::wasmtime::lifecycle(c, module_name, wasm, call);
        lifecycle_anywasm::<Wasmer>(c, module_name, wasm, call);
        raw::wasmer::lifecycle(c, module_name, wasm, call);
        lifecycle_anywasm::<Wasmi>(c, module_name, wasm, call);
        raw::wasmi::lifecycle(c, module_name, wasm, call);
    }
}

/// The bench guest from its bytes to a [`Plugin`] that has answered one
/// no-op call: `cold/bench_guest/<engine>` compiles it ([`Plugin::load`]),
/// `cold/cache/<engine>` loads it from an on-disk [`ModuleCache`] filled
/// before timing. Both take the same steps otherwise (the ABI checks on the
/// bytes, [`Plugin::from_module`], the call), so the difference is compiling
/// against reading, checking and deserialising an entry (wasmi has no
/// artifacts: its `cache` run compiles too, the same work twice over).
fn cold_plugin<R: Runtime>(c: &mut Criterion) {
    let e = name::<R>();
    let linker = anywasm_benches::abi_linker();
    let caps = Capabilities::none().grant("math");
    let limits = Limits::new();
    c.bench_function(&format!("cold/bench_guest/{e}"), |b| {
        b.iter_custom(|iters| {
            rotating::<R>(iters, |engine| {
                let engine: &dyn DynRuntime<()> = engine;
                let wasm = black_box(BENCH_GUEST);
                let mut plugin =
                    Plugin::load(engine, wasm, &linker, &caps, (), &limits).expect("plugin");
                plugin.call::<(), ()>("noop", &()).expect("first call");
            })
        })
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = ModuleCache::open(dir.path()).expect("open the cache");
    let engine = R::new(&Config::new()).expect("engine");
    let cacheable = Runtime::artifact_format(&engine).is_some();
    let fill = cache.load::<()>(&engine, BENCH_GUEST).expect("compile");
    assert!(!fill.outcome.is_hit(), "{e}: an empty cache hit");
    c.bench_function(&format!("cold/cache/{e}"), |b| {
        b.iter_custom(|iters| {
            rotating::<R>(iters, |engine| {
                let engine: &dyn DynRuntime<()> = engine;
                let wasm = black_box(BENCH_GUEST);
                abi::check_abi_version(wasm).expect("abi version");
                let manifest = abi::manifest_text(wasm).expect("manifest");
                limits.check_initial_memory(wasm).expect("initial memory");
                let module = cache.load(engine, wasm).expect("load").module;
                let manifest = manifest.map(str::to_string);
                let mut plugin =
                    Plugin::from_module(engine, &module, manifest, &linker, &caps, (), &limits)
                        .expect("plugin");
                plugin.call::<(), ()>("noop", &()).expect("first call");
            })
        })
    });
    // Every timed load (none if the filter skipped it) was a hit: the only
    // miss is the fill above.
    let outcome = cache
        .load::<()>(&engine, BENCH_GUEST)
        .expect("load")
        .outcome;
    let stats = cache.stats();
    if cacheable {
        assert!(outcome.is_hit(), "{e}: {outcome:?}");
        assert_eq!((stats.misses, stats.stored), (1, 1), "{e}: {stats:?}");
    } else {
        assert!(matches!(outcome, Outcome::NotCacheable), "{e}: {outcome:?}");
    }
}

fn cold_cache(c: &mut Criterion) {
    cold_plugin::<Wasmtime>(c);
    cold_plugin::<Wasmer>(c);
    cold_plugin::<Wasmi>(c);
}

/// For each `(export, workload)`, `call/<workload>/<engine>` with the host
/// function typed ([`Linker::func_wrap`]) and, as `-untyped`, over raw
/// values; `typed_only` exports get no `-untyped` id.
fn calls_linked<R: Runtime>(
    c: &mut Criterion,
    engine: &R,
    wasm: &[u8],
    exports: &[(&str, &str)],
    typed_only: &[&str],
) {
    let e = name::<R>();
    let module = engine.compile(wasm).expect("compile");
    for (linker, suffix) in [
        (anywasm_benches::call_linker(), ""),
        (anywasm_benches::call_linker_untyped(), "-untyped"),
    ] {
        let mut store = engine.store((), &Limits::new()).expect("store");
        let instance = store.instantiate(&module, &linker).expect("instantiate");
        for &(export, workload) in exports {
            if !suffix.is_empty() && typed_only.contains(&export) {
                continue;
            }
            let f = store.get_func(&instance, export).expect(export);
            c.bench_function(&format!("call/{workload}/{e}{suffix}"), |b| {
                b.iter(|| store.call(black_box(&f), &[], &mut []).expect("call"))
            });
        }
    }
}

/// No-op calls through anywasm, static and dyn.
fn calls_anywasm<R: Runtime>(c: &mut Criterion, wasm: &[u8]) {
    let e = name::<R>();
    let engine = R::new(&Config::new()).expect("engine");
    let exports = [("noop", "noop"), ("call_host", "host_noop")];
    calls_linked(c, &engine, wasm, &exports, &["noop"]);
    let linker: Linker<()> = anywasm_benches::call_linker();
    let dyn_engine: &dyn DynRuntime<()> = &engine;
    let module = dyn_engine.compile(wasm).expect("compile");
    let mut store = dyn_engine.store((), &Limits::new()).expect("store");
    let instance = store.instantiate(&module, &linker).expect("instantiate");
    for (export, workload) in exports {
        let f = store.get_func(instance, export).expect(export);
        c.bench_function(&format!("call/{workload}/{e}-dyn"), |b| {
            b.iter(|| store.call(black_box(f), &[], &mut []).expect("call"))
        });
    }
}

/// `call/host_noop_x100`: 100 guest->host no-op calls per host->guest call.
fn host_loop_anywasm<R: Runtime>(c: &mut Criterion, wasm: &[u8]) {
    let engine = R::new(&Config::new()).expect("engine");
    calls_linked(
        c,
        &engine,
        wasm,
        &[("call_host_100", "host_noop_x100")],
        &[],
    );
}

fn calls(c: &mut Criterion) {
    let wasm = anywasm_benches::call_module();
    calls_anywasm::<Wasmtime>(c, &wasm);
    raw::wasmtime::calls(c, &wasm);
    calls_anywasm::<Wasmer>(c, &wasm);
    raw::wasmer::calls(c, &wasm);
    calls_anywasm::<Wasmi>(c, &wasm);
    raw::wasmi::calls(c, &wasm);
    let wasm = anywasm_benches::host_loop_module();
    host_loop_anywasm::<Wasmtime>(c, &wasm);
    raw::wasmtime::host_loop(c, &wasm);
    host_loop_anywasm::<Wasmer>(c, &wasm);
    raw::wasmer::host_loop(c, &wasm);
    host_loop_anywasm::<Wasmi>(c, &wasm);
    raw::wasmi::host_loop(c, &wasm);
}

/// Typed ABI round trips on the bench guest; each response checked after timing.
fn abi_round_trips<H: AbiHost>(c: &mut Criterion, id: &str, host: &mut H) {
    let noop = host.entry("noop");
    c.bench_function(&format!("abi/0b/{id}"), |b| {
        b.iter(|| host.call::<(), ()>(&noop, black_box(&())))
    });
    host.call::<(), ()>(&noop, &());
    let echo = host.entry("echo_bytes");
    for (workload, payload) in workloads::byte_payloads() {
        c.bench_function(&format!("abi/{workload}/{id}"), |b| {
            b.iter(|| host.call::<Vec<u8>, Vec<u8>>(&echo, black_box(&payload)))
        });
        assert_eq!(host.call::<Vec<u8>, Vec<u8>>(&echo, &payload), payload);
        // The same bytes as one serde byte string (`serde_bytes`): the wire
        // format is identical. The codec takes the byte-string path for a
        // plain `Vec<u8>` too, so the two should take the same time.
        let buf = ByteBuf::from(payload.clone());
        let echo_buf = host.entry("echo_buf");
        c.bench_function(&format!("abi/{workload}-bytes/{id}"), |b| {
            b.iter(|| host.call::<ByteBuf, ByteBuf>(&echo_buf, black_box(&buf)))
        });
        assert_eq!(host.call::<ByteBuf, ByteBuf>(&echo_buf, &buf), buf);
    }
    let records = anywasm_test_types::sample_records(100);
    let echo = host.entry("echo_records");
    c.bench_function(&format!("abi/records100/{id}"), |b| {
        b.iter(|| host.call::<_, Vec<anywasm_test_types::Record>>(&echo, black_box(&records)))
    });
    assert_eq!(
        host.call::<_, Vec<anywasm_test_types::Record>>(&echo, &records),
        records
    );
}

/// guest -> host typed call (`anywasm::add` from the ABI guest), anywasm only.
fn abi_host_call<H: AbiHost>(c: &mut Criterion, id: &str, host: &mut H) {
    let add = host.entry("add_via_host");
    c.bench_function(&format!("abi/host_call/{id}"), |b| {
        b.iter(|| host.call::<(i32, i32), i32>(&add, black_box(&(40, 2))))
    });
    assert_eq!(host.call::<(i32, i32), i32>(&add, &(40, 2)), 42);
}

fn abi_engine<R: Runtime>(c: &mut Criterion, raw_host: &mut impl AbiHost) {
    let e = name::<R>();
    let limits = Limits::new();
    let mut plugin = anywasm_benches::plugin(R::BACKEND, &Config::new(), BENCH_GUEST, &limits);
    abi_round_trips(c, e, &mut plugin);
    abi_round_trips(
        c,
        &format!("{e}-static"),
        &mut StaticAbi::<R>::new(&Config::new(), BENCH_GUEST, &limits),
    );
    abi_round_trips(c, &format!("{e}-raw"), raw_host);
    abi_host_call(c, e, &mut anywasm_benches::abi_plugin(R::BACKEND));
    abi_host_call(
        c,
        &format!("{e}-static"),
        &mut StaticAbi::<R>::new(&Config::new(), ABI_GUEST, &limits),
    );
}

fn abi(c: &mut Criterion) {
    let engine = wasmtime::Engine::default();
    abi_engine::<Wasmtime>(c, &mut raw::wasmtime::Abi::new(&engine, BENCH_GUEST));
    let engine = raw::wasmer::engine();
    abi_engine::<Wasmer>(c, &mut raw::wasmer::Abi::new(&engine, BENCH_GUEST));
    let engine = wasmi::Engine::default();
    abi_engine::<Wasmi>(c, &mut raw::wasmi::Abi::new(&engine, BENCH_GUEST));
}

/// The bench guest's compute workloads; each result checked after timing.
/// `workloads` limits which run (all when empty).
fn compute_workloads<H: AbiHost>(
    c: &mut Criterion,
    group: &str,
    id: &str,
    host: &mut H,
    only: &[&str],
) {
    let wanted = |w: &str| only.is_empty() || only.contains(&w);
    let mut bench = |workload: &str, f: &mut dyn FnMut()| {
        let mut g = c.benchmark_group(format!("{group}/{workload}"));
        g.sample_size(10);
        g.bench_function(id, |b| b.iter(&mut *f));
        g.finish();
    };
    if wanted("fib") {
        let fib = host.entry("fib");
        bench("fib", &mut || {
            black_box(host.call::<u32, u64>(&fib, black_box(&workloads::FIB_N)));
        });
        assert_eq!(
            host.call::<u32, u64>(&fib, &workloads::FIB_N),
            workloads::FIB_EXPECTED
        );
    }
    if wanted("sha256") {
        let sha = host.entry("sha256");
        let request = (workloads::SHA_ROUNDS, workloads::sha_data());
        bench("sha256", &mut || {
            black_box(host.call::<_, Vec<u8>>(&sha, black_box(&request)));
        });
        let digest = host.call::<_, Vec<u8>>(&sha, &request);
        assert_eq!(workloads::hex(&digest), workloads::SHA_EXPECTED);
    }
    if wanted("matmul") {
        let matmul = host.entry("matmul");
        bench("matmul", &mut || {
            black_box(host.call::<u32, f64>(&matmul, black_box(&workloads::MATMUL_N)));
        });
        assert_eq!(
            host.call::<u32, f64>(&matmul, &workloads::MATMUL_N),
            workloads::matmul_expected(workloads::MATMUL_N)
        );
    }
    if wanted("sieve") {
        let sieve = host.entry("sieve");
        bench("sieve", &mut || {
            black_box(host.call::<u32, u32>(&sieve, black_box(&workloads::SIEVE_N)));
        });
        assert_eq!(
            host.call::<u32, u32>(&sieve, &workloads::SIEVE_N),
            workloads::SIEVE_EXPECTED
        );
    }
    if wanted("parse") {
        let parse = host.entry("parse");
        let text = workloads::json_text(workloads::PARSE_ITEMS);
        bench("parse", &mut || {
            black_box(host.call::<String, Summary>(&parse, black_box(&text)));
        });
        assert_eq!(
            host.call::<String, Summary>(&parse, &text),
            workloads::json_expected(workloads::PARSE_ITEMS)
        );
    }
}

fn compute_engine<R: Runtime>(c: &mut Criterion, raw_host: &mut impl AbiHost) {
    let e = name::<R>();
    let limits = Limits::new();
    let mut plugin = anywasm_benches::plugin(R::BACKEND, &Config::new(), BENCH_GUEST, &limits);
    compute_workloads(c, "compute", e, &mut plugin, &[]);
    let mut host = StaticAbi::<R>::new(&Config::new(), BENCH_GUEST, &limits);
    compute_workloads(c, "compute", &format!("{e}-static"), &mut host, &[]);
    compute_workloads(c, "compute", &format!("{e}-raw"), raw_host, &[]);
}

fn compute(c: &mut Criterion) {
    let engine = wasmtime::Engine::default();
    compute_engine::<Wasmtime>(c, &mut raw::wasmtime::Abi::new(&engine, BENCH_GUEST));
    let engine = raw::wasmer::engine();
    compute_engine::<Wasmer>(c, &mut raw::wasmer::Abi::new(&engine, BENCH_GUEST));
    let engine = wasmi::Engine::default();
    compute_engine::<Wasmi>(c, &mut raw::wasmi::Abi::new(&engine, BENCH_GUEST));
}

/// Each limit mechanism on its own, against none, through anywasm (static).
fn limits_engine<R: Runtime>(c: &mut Criterion) {
    let e = name::<R>();
    let mechanisms = [
        ("none", Config::new(), Limits::new()),
        (
            "fuel",
            Config::new().consume_fuel(true),
            Limits::new().fuel(1 << 60),
        ),
        ("gas", Config::new().gas(true), Limits::new().gas(1 << 60)),
        (
            "timeout",
            Config::new().timeouts(true),
            Limits::new().timeout(Duration::from_secs(3600)),
        ),
        (
            "memory",
            Config::new(),
            Limits::new().memory_bytes(256 << 20),
        ),
    ];
    for (mechanism, config, limits) in mechanisms {
        let mut host = StaticAbi::<R>::new(&config, BENCH_GUEST, &limits);
        compute_workloads(
            c,
            "limits",
            &format!("{e}-{mechanism}"),
            &mut host,
            &["fib", "sieve"],
        );
    }
}

fn limits(c: &mut Criterion) {
    limits_engine::<Wasmtime>(c);
    limits_engine::<Wasmer>(c);
    limits_engine::<Wasmi>(c);
}

/// A plugin `relay` (hand-written, docs/abi.md) whose `relay` hands its
/// request `(plugin, function, bytes request)` to the `call_plugin` host
/// service and answers what it answered. Its allocator bumps through one
/// page and starts over when the page is used up: a call keeps two
/// buffers live at most.
const RELAY_WAT: &str = r#"(module
  (import "anywasm" "call_plugin" (func $call_plugin (param i32 i32) (result i64)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (func (export "anywasm_alloc") (param $len i32) (result i32)
    (local $p i32)
    (if (i32.gt_u (local.get $len) (i32.const 16384)) (then (return (i32.const 0))))
    (if (i32.gt_u (i32.add (global.get $heap) (local.get $len)) (i32.const 131072))
      (then (global.set $heap (i32.const 65536))))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (local.get $p) (local.get $len)) (i32.const 7))
                               (i32.const -8)))
    (local.get $p))
  (func (export "anywasm_free") (param i32 i32))
  (func (export "relay") (param i32 i32) (result i64)
    (call $call_plugin (local.get 0) (local.get 1)))
  (@custom "anywasm:abi" "\01\00\00\00")
  (@custom "anywasm:manifest" "name = \"relay\"\0aversion = \"1.0.0\"\0acapabilities = [\"plugins:echo\"]\0a")
)"#;

/// The plugin manager with its defaults (fuel, a 10 s call timeout, a pool
/// of 8 instances), the echo guest: `manager/call/<engine>` is one caller's
/// no-op call, `manager/call_8/<engine>` the time per call with 8 callers at
/// once on a 2-worker tokio runtime, `manager/call_plugin/<engine>` the
/// same no-op reached through another plugin (`relay -> echo` with
/// `call_plugin`), `manager/reload_unchanged/<engine>`
/// re-reading and swapping in a plugin whose file did not change (the
/// module is not compiled again; a changed file adds `cold/bench_guest`'s
/// compile).
fn manager(c: &mut Criterion) {
    const CALLERS: u64 = 8;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    for &kind in anywasm_benches::backends() {
        let e = kind.name();
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("echo.wasm"), ECHO_GUEST).expect("write the plugin");
        let relay = wat::parse_str(RELAY_WAT).expect("relay plugin");
        std::fs::write(dir.path().join("relay.wasm"), relay).expect("write the plugin");
        let manager = rt.block_on(async {
            let manager = PluginManager::builder()
                .plugin_dir(dir.path())
                .engine(kind)
                .pool_size(CALLERS as usize)
                .capabilities(CapabilityPolicy::new().grant("relay", "plugins:echo"))
                .build()
                .expect("manager");
            let report = manager.discover().await.expect("discover");
            assert!(report.failed.is_empty(), "{e}: {:?}", report.failed);
            manager
        });
        c.bench_function(&format!("manager/call/{e}"), |b| {
            b.iter(|| {
                rt.block_on(manager.call::<_, ()>("echo", "noop", &()))
                    .expect("call")
            })
        });
        c.bench_function(&format!("manager/call_8/{e}"), |b| {
            b.iter_custom(|iters| {
                let per_caller = iters.div_ceil(CALLERS);
                let elapsed = rt.block_on(async {
                    let start = std::time::Instant::now();
                    let callers: Vec<_> = (0..CALLERS)
                        .map(|_| {
                            let m = manager.clone();
                            tokio::spawn(async move {
                                for _ in 0..per_caller {
                                    m.call::<_, ()>("echo", "noop", &()).await.expect("call");
                                }
                            })
                        })
                        .collect();
                    for caller in callers {
                        caller.await.expect("caller");
                    }
                    start.elapsed()
                });
                // Time per call, for the `iters` criterion asked for.
                elapsed.mul_f64(iters as f64 / (per_caller * CALLERS) as f64)
            })
        });
        c.bench_function(&format!("manager/call_plugin/{e}"), |b| {
            let request = ("echo", "noop", serde_bytes::Bytes::new(&[]));
            b.iter(|| {
                rt.block_on(manager.call::<_, ByteBuf>("relay", "relay", &request))
                    .expect("relay")
            })
        });
        c.bench_function(&format!("manager/reload_unchanged/{e}"), |b| {
            b.iter(|| rt.block_on(manager.reload("echo")).expect("reload"))
        });
    }
}

/// Async host functions (`async/<bench>/<engine>[-<path>]`):
/// `async/host_call` is one guest call into a host no-op, through `call`
/// with a sync host function (`-sync`), through `call_async` with the same
/// sync one (`-sync-call_async`: the cost of the async call itself) and
/// through `call_async` with an async host function whose future is ready
/// at once (`-async`), each `call_async` driven by a current-thread
/// runtime's `block_on`. `async/sleep_1000` is the wall time of 1,000
/// concurrent calls, each awaiting a 10 ms tokio sleep in an async host
/// function, on a 2-worker runtime.
fn async_engine<R: Runtime>(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let e = name::<R>();
    let wasm =
        wat::parse_str(r#"(module (import "env" "f" (func $f)) (func (export "run") call $f))"#)
            .expect("wat");
    let engine = R::new(&Config::new()).expect("engine");
    let module = engine.compile(&wasm).expect("compile");
    let mut sync_linker = Linker::<()>::new();
    sync_linker.func("env", "f", FuncType::new([], []), |_, _, _| Ok(()));
    let mut async_linker = Linker::<()>::new();
    async_linker.func_async("env", "f", FuncType::new([], []), |_, _| async {
        Ok(Vec::new())
    });
    let paths = [
        ("sync", &sync_linker, false),
        ("sync-call_async", &sync_linker, true),
        ("async", &async_linker, true),
    ];
    for (path, linker, via_async) in paths {
        let mut store = engine.store((), &Limits::new()).expect("store");
        let instance = store.instantiate(&module, linker).expect("instantiate");
        let run = store.get_func(&instance, "run").expect("run");
        c.bench_function(&format!("async/host_call/{e}-{path}"), |b| {
            if via_async {
                b.iter(|| {
                    rt.block_on(store.call_async(&run, &[], &mut []))
                        .expect("call")
                })
            } else {
                b.iter(|| store.call(&run, &[], &mut []).expect("call"))
            }
        });
    }
}

fn async_sleep_1000(c: &mut Criterion) {
    const CALLS: usize = 1_000;
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let wasm = wat::parse_str(
        r#"(module (import "env" "sleep" (func $s)) (func (export "run") call $s))"#,
    )
    .expect("wat");
    let mut linker = Linker::<()>::new();
    linker.func_async("env", "sleep", FuncType::new([], []), |_, _| async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok(Vec::new())
    });
    let mut group = c.benchmark_group("async/sleep_1000");
    group.sample_size(10);
    for &kind in anywasm_benches::backends() {
        let engine = anywasm::engine::<()>(kind, &Config::new()).expect("engine");
        let module = engine.compile(&wasm).expect("compile");
        let mut calls: Vec<_> = (0..CALLS)
            .map(|_| {
                let mut store = engine.store((), &Limits::new()).expect("store");
                let instance = store.instantiate(&module, &linker).expect("instantiate");
                let run = store.get_func(instance, "run").expect("run");
                (store, run)
            })
            .collect();
        group.bench_function(kind.name(), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = std::time::Instant::now();
                    calls = workers.block_on(async {
                        let tasks: Vec<_> = calls
                            .drain(..)
                            .map(|(mut store, run)| {
                                tokio::spawn(async move {
                                    store.call_async(run, &[], &mut []).await.expect("call");
                                    (store, run)
                                })
                            })
                            .collect();
                        let mut back = Vec::with_capacity(CALLS);
                        for t in tasks {
                            back.push(t.await.expect("task"));
                        }
                        back
                    });
                    total += start.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

fn asyncs(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    async_engine::<Wasmtime>(c, &rt);
    async_engine::<Wasmer>(c, &rt);
    async_engine::<Wasmi>(c, &rt);
    async_sleep_1000(c);
}

criterion_group!(
    benches, calls, abi, compute, limits, lifecycle, cold_cache, manager, asyncs
);
criterion_main!(benches);
