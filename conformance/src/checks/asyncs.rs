//! Async host functions ([`Linker::func_async`], [`Linker::abi_func_async`])
//! and async calls ([`DynStore::call_async`], `Plugin::call_async`) on every
//! engine, with real tokio timers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anywasm::{
    Config, DynStore, ErrorKind, Feature, FuncType, HostError, InstanceId, Limits, Linker, Plugin,
    TrapCode, Val, ValType,
};

use super::check;
use crate::harness::{expect_eq, expect_kind, expect_trap, expecting_panic, ok, wasm};
use crate::{Check, Ctx, Host};

const ASYNC: &str = include_str!("../../fixtures/async.wat");

/// What `env.panic`'s future panics with, on purpose.
const PANIC_MESSAGE: &str = "async host function exploded";

/// Worker threads of the checks' tokio runtime.
const WORKERS: usize = 2;

/// How many concurrent calls the concurrency check makes.
const CONCURRENT_CALLS: usize = 1_000;

/// How many of them must be in flight at once: several hundred.
const MIN_IN_FLIGHT: usize = 300;

/// Host futures of `env.sleep` alive now, and the most alive at once.
#[derive(Debug, Default)]
struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
    /// The threads the guest calls reaching `env.sleep` ran on.
    threads: std::sync::Mutex<std::collections::HashSet<std::thread::ThreadId>>,
}

/// One live `env.sleep` future (counted until dropped, done or not).
struct InFlight(Arc<Gauge>);

impl InFlight {
    fn enter(gauge: &Arc<Gauge>) -> Self {
        let now = gauge.now.fetch_add(1, Ordering::SeqCst) + 1;
        gauge.max.fetch_max(now, Ordering::SeqCst);
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The host side of `async.wat`.
fn linker(gauge: &Arc<Gauge>) -> Linker<Host> {
    use ValType::I32;
    let mut l = Linker::new();
    l.func_async(
        "env",
        "sleep_add",
        FuncType::new([I32, I32], [I32]),
        |_, args| {
            let ms = args[0].as_i32().unwrap_or(0);
            let x = args[1].as_i32().unwrap_or(0);
            async move {
                tokio::time::sleep(Duration::from_millis(ms as u64)).await;
                Ok(vec![Val::I32(ms + x)])
            }
        },
    );
    let g = gauge.clone();
    l.func_async("env", "sleep", FuncType::new([I32], []), move |_, args| {
        let ms = args[0].as_i32().unwrap_or(0) as u64;
        let gauge = g.clone();
        if let Ok(mut threads) = gauge.threads.lock() {
            threads.insert(std::thread::current().id());
        }
        async move {
            let _in_flight = InFlight::enter(&gauge);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(vec![])
        }
    });
    l.func_async("env", "fail", FuncType::new([], []), |_, _| async {
        tokio::task::yield_now().await;
        Err(HostError::new("refused after an await"))
    });
    l.func_async("env", "panic", FuncType::new([], []), |_, _| async {
        tokio::task::yield_now().await;
        if PANIC_MESSAGE.is_empty() {
            return Ok(vec![]);
        }
        panic!("{PANIC_MESSAGE}")
    });
    l.func(
        "env",
        "add",
        FuncType::new([I32, I32], [I32]),
        |_, args, results| {
            let (a, b) = (args[0].as_i32().unwrap_or(0), args[1].as_i32().unwrap_or(0));
            results[0] = Val::I32(a.wrapping_add(b));
            Ok(())
        },
    );
    l
}

/// A tokio runtime as a server would have: two worker threads.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build a tokio runtime: {e}"))
}

/// A store with an instance of `async.wat`.
fn instance(
    cx: &Ctx,
    config: &Config,
    limits: &Limits,
    gauge: &Arc<Gauge>,
) -> Result<(Box<dyn DynStore<Host>>, InstanceId), String> {
    let engine = ok("engine", cx.engine(config))?;
    let module = ok("compile", engine.compile(&wasm(ASYNC)))?;
    let mut store = ok("store", engine.store(Host::default(), limits))?;
    let inst = ok("instantiate", store.instantiate(&module, &linker(gauge)))?;
    Ok((store, inst))
}

/// Call the export `name` through [`DynStore::call_async`].
async fn call(
    store: &mut dyn DynStore<Host>,
    inst: InstanceId,
    name: &str,
    args: &[Val],
) -> anywasm::Result<Vec<Val>> {
    let func = store.get_func(inst, name)?;
    let ty = store.func_type(func)?;
    let mut results: Vec<Val> = ty.results().iter().map(|t| t.default_value()).collect();
    store.call_async(func, args, &mut results).await?;
    Ok(results)
}

fn timer(cx: &Ctx) -> Result<(), String> {
    let rt = runtime()?;
    let gauge = Arc::default();
    let (mut store, inst) = instance(cx, &Config::new(), &Limits::new(), &gauge)?;
    rt.block_on(async {
        let got = ok(
            "sleep_add(3, 4)",
            call(&mut *store, inst, "sleep_add", &[Val::I32(3), Val::I32(4)]).await,
        )?;
        expect_eq("sleep_add(3, 4)", got, vec![Val::I32(7)])?;
        let got = ok("three", call(&mut *store, inst, "three", &[]).await)?;
        expect_eq("three awaits in one call", got, vec![Val::I32(63)])?;
        // A synchronous host function in the same module still works.
        let got = ok(
            "add",
            call(&mut *store, inst, "add", &[Val::I32(2), Val::I32(3)]).await,
        )?;
        expect_eq("add", got, vec![Val::I32(5)])
    })
}

fn error(cx: &Ctx) -> Result<(), String> {
    let rt = runtime()?;
    let gauge = Arc::default();
    let (mut store, inst) = instance(cx, &Config::new(), &Limits::new(), &gauge)?;
    rt.block_on(async {
        let r = call(&mut *store, inst, "fail", &[]).await;
        if let Err(e) = &r
            && !e.to_string().contains("refused after an await")
        {
            return Err(format!("the host's message is lost: {e}"));
        }
        expect_trap("fail", r, TrapCode::HostError)?;
        // The store still works after a failed async call.
        let got = ok(
            "sleep_add after a failure",
            call(&mut *store, inst, "sleep_add", &[Val::I32(1), Val::I32(1)]).await,
        )?;
        expect_eq("sleep_add after a failure", got, vec![Val::I32(2)])
    })
}

fn panics(cx: &Ctx) -> Result<(), String> {
    let rt = runtime()?;
    let gauge = Arc::default();
    let (mut store, inst) = instance(cx, &Config::new(), &Limits::new(), &gauge)?;
    let r = expecting_panic(PANIC_MESSAGE, || {
        rt.block_on(call(&mut *store, inst, "panic", &[]))
    });
    match &r {
        Err(e) if !e.host_error().is_some_and(|h| h.is_panic()) => {
            return Err(format!("not recorded as a panic: {e}"));
        }
        _ => {}
    }
    expect_trap("panic in a host future", r, TrapCode::HostError)
}

fn blocking(cx: &Ctx) -> Result<(), String> {
    // The synchronous `call` on a module with async host functions blocks
    // the thread on the future instead (inside the runtime's context, so the
    // tokio timer can be created).
    let rt = runtime()?;
    let _context = rt.enter();
    let gauge = Arc::default();
    let (mut store, inst) = instance(cx, &Config::new(), &Limits::new(), &gauge)?;
    let got = ok(
        "sync call of sleep_add",
        store.call_export(inst, "sleep_add", &[Val::I32(2), Val::I32(5)]),
    )?;
    expect_eq("sync call of sleep_add", got, vec![Val::I32(7)])?;
    let got = ok("sync call of three", store.call_export(inst, "three", &[]))?;
    expect_eq("sync call of three", got, vec![Val::I32(63)])
}

fn fuel(cx: &Ctx) -> Result<(), String> {
    let rt = runtime()?;
    let gauge = Arc::default();
    let config = Config::new().consume_fuel(true);
    let limits = Limits::new().fuel(2_000_000);
    let (mut store, inst) = instance(cx, &config, &limits, &gauge)?;
    rt.block_on(async {
        let r = call(&mut *store, inst, "sleep_then_spin", &[Val::I32(2)]).await;
        expect_trap("spin after an await", r, TrapCode::OutOfFuel)
    })
}

fn timeout(cx: &Ctx) -> Result<(), String> {
    let rt = runtime()?;
    let gauge = Arc::default();
    let config = Config::new().timeouts(true);
    let limits = Limits::new().timeout(Duration::from_millis(50));
    let (mut store, inst) = instance(cx, &config, &limits, &gauge)?;
    rt.block_on(async {
        // The host future is still pending at the deadline: it counts.
        let r = call(&mut *store, inst, "sleep", &[Val::I32(60_000)]).await;
        expect_trap("a host sleep past the deadline", r, TrapCode::Timeout)?;
        expect_eq(
            "host futures left alive",
            gauge.now.load(Ordering::SeqCst),
            0,
        )?;
        // Guest code after an await runs under the same deadline.
        let (mut store, inst) = instance(cx, &config, &limits, &gauge)?;
        let r = call(&mut *store, inst, "sleep_then_spin", &[Val::I32(5)]).await;
        expect_trap("spin after an await", r, TrapCode::Timeout)
    })
}

fn cancel(cx: &Ctx) -> Result<(), String> {
    let rt = runtime()?;
    let gauge = Arc::default();
    let engine = ok("engine", cx.engine(&Config::new()))?;
    let module = ok("compile", engine.compile(&wasm(ASYNC)))?;
    let mut store = ok("store", engine.store(Host::default(), &Limits::new()))?;
    let inst = ok("instantiate", store.instantiate(&module, &linker(&gauge)))?;
    rt.block_on(async {
        let call_fut = call(&mut *store, inst, "sleep", &[Val::I32(500)]);
        match tokio::time::timeout(Duration::from_millis(20), call_fut).await {
            Err(_elapsed) => {}
            Ok(r) => {
                return Err(format!(
                    "the call finished ({r:?}) before it could be dropped: it did not suspend"
                ));
            }
        }
        expect_eq(
            "host futures alive after the drop",
            gauge.now.load(Ordering::SeqCst),
            0,
        )?;
        // The store goes on: a fresh instance in it answers.
        let fresh = ok(
            "instantiate after a dropped call",
            store.instantiate(&module, &linker(&gauge)),
        )?;
        let got = ok(
            "a call after a dropped one",
            call(&mut *store, fresh, "sleep_add", &[Val::I32(1), Val::I32(2)]).await,
        )?;
        expect_eq("a call after a dropped one", got, vec![Val::I32(3)])
    })
}

fn yields(cx: &Ctx) -> Result<(), String> {
    // One thread: another task runs during the call only if the call
    // yields to the executor while the guest computes.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build a tokio runtime: {e}"))?;
    let gauge = Arc::default();
    let config = Config::new().consume_fuel(true).timeouts(true);
    let limits = Limits::new()
        .fuel(1 << 50)
        .timeout(Duration::from_millis(200));
    let (mut store, inst) = instance(cx, &config, &limits, &gauge)?;
    rt.block_on(async {
        let ticks = Arc::new(AtomicUsize::new(0));
        let counted = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        });
        let r = call(&mut *store, inst, "spin", &[]).await;
        ticker.abort();
        expect_trap("a spinning guest", r, TrapCode::Timeout)?;
        if ticks.load(Ordering::SeqCst) == 0 {
            return Err(
                "another task never ran while the guest computed: the call did not yield".into(),
            );
        }
        Ok(())
    })
}

fn concurrency(cx: &Ctx) -> Result<(), String> {
    let rt = runtime()?;
    let gauge = Arc::new(Gauge::default());
    let engine = ok("engine", cx.engine(&Config::new()))?;
    let module = ok("compile", engine.compile(&wasm(ASYNC)))?;
    let linker = linker(&gauge);
    let mut calls = Vec::with_capacity(CONCURRENT_CALLS);
    for _ in 0..CONCURRENT_CALLS {
        let mut store = ok("store", engine.store(Host::default(), &Limits::new()))?;
        let inst = ok("instantiate", store.instantiate(&module, &linker))?;
        calls.push((store, inst));
    }
    let outcomes = rt.block_on(async {
        let tasks: Vec<_> = calls
            .into_iter()
            .map(|(mut store, inst)| {
                tokio::spawn(async move {
                    call(&mut *store, inst, "sleep", &[Val::I32(10)])
                        .await
                        .map(|_| ())
                })
            })
            .collect();
        let mut outcomes = Vec::with_capacity(tasks.len());
        for t in tasks {
            outcomes.push(t.await.map_err(|e| format!("task failed: {e}")));
        }
        outcomes
    });
    let mut done = 0;
    for o in outcomes {
        ok("one of the concurrent calls", o?)?;
        done += 1;
    }
    expect_eq("calls completed", done, CONCURRENT_CALLS)?;
    let max = gauge.max.load(Ordering::SeqCst);
    let threads = gauge.threads.lock().map(|t| t.len()).unwrap_or(usize::MAX);
    if threads > WORKERS {
        return Err(format!(
            "the calls ran on {threads} threads, not on the runtime's {WORKERS} workers ({max} in flight at most)"
        ));
    }
    if max < MIN_IN_FLIGHT {
        return Err(format!(
            "at most {max} of {CONCURRENT_CALLS} calls were in flight at once on {WORKERS} workers, want at least {MIN_IN_FLIGHT}"
        ));
    }
    Ok(())
}

/// The ABI guest with `anywasm::add` as an async host function that
/// sleeps 1 ms, counts its calls and refuses an overflow.
fn async_abi_guest(cx: &Ctx) -> Result<Plugin<Host>, String> {
    let engine = ok("engine", cx.engine(&Config::new()))?;
    let mut linker = Linker::<Host>::new();
    linker
        .abi_func_async("add", |caller, (a, b): (i32, i32)| {
            caller.data_mut().counter += 1;
            async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                a.checked_add(b)
                    .ok_or_else(|| HostError::new(format!("{a} + {b} overflows")))
            }
        })
        .capability("math");
    let caps = anywasm::Capabilities::none().grant("math");
    ok(
        "load the ABI guest",
        Plugin::load(
            &*engine,
            crate::guests::ABI_GUEST,
            &linker,
            &caps,
            Host::default(),
            &Limits::new(),
        ),
    )
}

fn abi(cx: &Ctx) -> Result<(), String> {
    let rt = runtime()?;
    let mut p = async_abi_guest(cx)?;
    rt.block_on(async {
        let sum: i32 = ok(
            "add_via_host(20, 22)",
            p.call_async("add_via_host", &(20, 22)).await,
        )?;
        expect_eq("add_via_host(20, 22)", sum, 42)?;
        let r: anywasm::Result<i32> = p.call_async("add_via_host", &(i32::MAX, 1)).await;
        expect_kind("an async host function's Err", r, ErrorKind::Guest)?;
        expect_eq("host calls counted", p.data().counter, 2)
    })
}

/// `Plugin::call_bytes_async`: an encoded request in, the encoded `Ok`
/// payload out, through an async host function; a guest error; a typed
/// call after.
fn call_bytes(cx: &Ctx) -> Result<(), String> {
    let rt = runtime()?;
    let mut p = async_abi_guest(cx)?;
    super::abi::encoded_round_trip(|name, request| rt.block_on(p.call_bytes_async(name, request)))?;
    let sum: i32 = ok(
        "typed call after",
        rt.block_on(p.call_async("add_via_host", &(1, 2))),
    )?;
    expect_eq("sum", sum, 3)?;
    expect_eq("host calls counted", p.data().counter, 2)
}

/// A host call's re-entry into the guest (the allocator writing an ABI
/// response) from a store whose calls yield as they burn fuel: the
/// re-entrant call is synchronous, so it must not stop to yield. The
/// allocator of `slow_alloc.wat` burns past a yield point on every call.
fn reentry_with_fuel(cx: &Ctx) -> Result<(), String> {
    let rt = runtime()?;
    let config = Config::new().consume_fuel(true).timeouts(true);
    let engine = ok("engine", cx.engine(&config))?;
    let wasm = wasm(include_str!("../../fixtures/abi/slow_alloc.wat"));
    let caps = anywasm::Capabilities::none().grant("add");
    // With a timeout too: wasmi then runs calls in fuel slices.
    for (asynchronous, timeout) in [(true, false), (false, false), (true, true), (false, true)] {
        let mut linker = Linker::<Host>::new();
        if asynchronous {
            linker.abi_func_async("add", |_caller, (a, b): (i32, i32)| async move {
                Ok(a.wrapping_add(b))
            });
        } else {
            // A sync host function in a store that makes async calls.
            linker.abi_func("add", |_caller, (a, b): (i32, i32)| Ok(a.wrapping_add(b)));
        }
        let mut limits = Limits::new().fuel(100_000_000);
        if timeout {
            limits = limits.timeout(Duration::from_secs(60));
        }
        let mut p = ok(
            "load slow_alloc.wat",
            Plugin::load(&*engine, &wasm, &linker, &caps, Host::default(), &limits),
        )?;
        let what = match (asynchronous, timeout) {
            (true, false) => "async",
            (false, false) => "sync",
            (true, true) => "async (timeout set)",
            (false, true) => "sync (timeout set)",
        };
        rt.block_on(async {
            for i in 0..3 {
                let sum: i32 = ok(
                    &format!("via_host with an {what} host function, call_async"),
                    p.call_async("via_host", &(i, 40)).await,
                )?;
                expect_eq("via_host", sum, i + 40)?;
            }
            Ok::<(), String>(())
        })?;
        let sum: i32 = ok(
            &format!("via_host with an {what} host function, call"),
            p.call("via_host", &(2, 40)),
        )?;
        expect_eq("via_host", sum, 42)?;
    }
    Ok(())
}

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "async/timer",
            "an async host function awaits a real tokio timer and returns its values, several times in one call, beside a sync one",
            timer
        ),
        check!(
            "async/error",
            "an async host function's Err after an await is Trap(HostError) with its message; the store goes on",
            error
        ),
        check!(
            "async/panic",
            "a panic inside an async host function's future is Trap(HostError) marked as a panic",
            panics
        ),
        check!(
            "async/blocking_call",
            "the synchronous call of a module with async host functions blocks on their futures and returns their values",
            blocking
        ),
        check!(
            "async/abi",
            "abi_func_async: a typed async host function behind a capability, through Plugin::call_async; its Err reaches the guest",
            abi
        ),
        check!(
            "async/call_bytes",
            "Plugin::call_bytes_async passes an encoded request in and the encoded Ok payload out, through an async host function",
            call_bytes
        ),
        check!(
            "async/reentry_fuel",
            "with fuel on (and with a timeout), an ABI host function (async or sync) writes its response through a guest allocator that burns past a yield point, in call_async and call",
            reentry_with_fuel
        ),
        check!(
            "async/fuel",
            "fuel still runs out in guest code after a host future was awaited",
            fuel
        ),
        check!(
            "async/timeout",
            "a host future pending at the deadline ends the call with Trap(Timeout) and is dropped; guest code after an await keeps the deadline",
            timeout
        ),
        check!(
            "async/cancel",
            "dropping a call's future while its host future is pending drops that future; the next call succeeds",
            requires Feature::AsyncSuspend,
            cancel
        ),
        check!(
            "async/yields",
            "a CPU-bound guest in an async call (fuel and a deadline on) lets other tasks of a one-thread runtime run, then times out",
            requires Feature::AsyncSuspend,
            yields
        ),
        check!(
            "async/concurrency",
            "1,000 calls each awaiting a 10 ms host sleep on 2 tokio workers all complete, several hundred in flight at once, all on those 2 threads",
            requires Feature::AsyncSuspend,
            concurrency
        ),
    ]
}
