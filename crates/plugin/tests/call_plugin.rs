//! Plugins calling plugins through the `call_plugin` host service, on
//! every backend: a call that works, the capability it needs, and chains
//! that would loop or grow too deep, refused with an error.

mod common;

use anywasm::ErrorKind;
use anywasm_plugin::{CapabilityPolicy, MAX_PLUGIN_CALL_DEPTH, PluginError};
use common::*;
use serde_bytes::{ByteBuf, Bytes};

/// A plugin whose `relay` hands its request `(plugin, function, request)`
/// to `call_plugin` and answers what the host answered; it may call
/// everything in `callees`.
fn relay_plugin(name: &str, callees: &[&str]) -> Vec<u8> {
    let caps: Vec<String> = callees.iter().map(|c| format!("\"plugins:{c}\"")).collect();
    module(
        &manifest(
            name,
            "1.0.0",
            &format!("capabilities = [{}]", caps.join(", ")),
        ),
        &["call_plugin"],
        &format!("{}{}", forward("relay", "call_plugin"), value_export(9)),
    )
}

/// The request that makes `relay` call `function` of `plugin` with `inner`
/// (already encoded).
fn via(plugin: &str, function: &str, inner: &[u8]) -> Vec<u8> {
    anywasm::abi::encode(&(plugin, function, Bytes::new(inner))).unwrap()
}

fn policy_for(pairs: &[(&str, &str)]) -> CapabilityPolicy {
    pairs
        .iter()
        .fold(CapabilityPolicy::new(), |p, (caller, callee)| {
            p.grant(caller, &format!("plugins:{callee}"))
        })
}

async fn relay(
    manager: &anywasm_plugin::PluginManager,
    plugin: &str,
    request: &[u8],
) -> Result<Vec<u8>, PluginError> {
    // `request` is already the encoded `(plugin, function, bytes)` tuple:
    // decode it back to pass it typed.
    let (p, f, r): (String, String, ByteBuf) =
        anywasm::abi::decode(request, anywasm::abi::DEFAULT_MESSAGE_CAP).unwrap();
    let out: ByteBuf = manager.call(plugin, "relay", &(p, f, r)).await?;
    Ok(out.into_vec())
}

fn guest_error(result: Result<Vec<u8>, PluginError>, kind_name: &str) -> String {
    let e = result.expect_err("the chain should have been refused");
    let source = e
        .engine_error()
        .unwrap_or_else(|| panic!("{kind_name}: {e}"));
    assert_eq!(source.kind(), ErrorKind::Guest, "{kind_name}: {e}");
    e.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calls_b_and_gets_its_response() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.wasm"), relay_plugin("a", &["b"])).unwrap();
        std::fs::write(dir.path().join("b.wasm"), value_plugin("b", "1.0.0", "", 7)).unwrap();
        let manager = builder(dir.path(), kind)
            .capabilities(policy_for(&[("a", "b")]))
            .build()
            .unwrap();
        assert_eq!(manager.discover().await.unwrap().loaded.len(), 2);
        for _ in 0..3 {
            let raw = relay(&manager, "a", &via("b", "value", &[])).await.unwrap();
            let value: (u8, u8) =
                anywasm::abi::decode(&raw, anywasm::abi::DEFAULT_MESSAGE_CAP).unwrap();
            assert_eq!(value, (7, 7), "{kind}");
        }
        // A callee `a` was not granted is refused before it is looked up.
        let e = relay(&manager, "a", &via("nobody", "value", &[])).await;
        assert!(guest_error(e, kind.name()).contains("`plugins:nobody`"));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_calls_b_on_a_current_thread_runtime() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.wasm"), relay_plugin("a", &["b"])).unwrap();
        std::fs::write(dir.path().join("b.wasm"), value_plugin("b", "1.0.0", "", 5)).unwrap();
        let manager = builder(dir.path(), kind)
            .capabilities(policy_for(&[("a", "b")]))
            .build()
            .unwrap();
        manager.discover().await.unwrap();
        let raw = relay(&manager, "a", &via("b", "value", &[])).await.unwrap();
        assert_eq!(raw, [5, 5], "{kind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_needs_plugins_capability_for_that_callee() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        // `a` asks for `plugins:b` and is granted it; it also asks for
        // `plugins:c`, which the policy does not grant.
        std::fs::write(dir.path().join("a.wasm"), relay_plugin("a", &["b", "c"])).unwrap();
        std::fs::write(dir.path().join("b.wasm"), value_plugin("b", "1.0.0", "", 1)).unwrap();
        std::fs::write(dir.path().join("c.wasm"), value_plugin("c", "1.0.0", "", 2)).unwrap();
        let manager = builder(dir.path(), kind)
            .capabilities(policy_for(&[("a", "b")]))
            .build()
            .unwrap();
        assert_eq!(manager.discover().await.unwrap().loaded.len(), 3);
        assert!(relay(&manager, "a", &via("b", "value", &[])).await.is_ok());
        let message = guest_error(
            relay(&manager, "a", &via("c", "value", &[])).await,
            kind.name(),
        );
        assert!(
            message.contains("may not call plugin `c`") && message.contains("`plugins:c`"),
            "{kind}: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_is_refused_with_its_chain() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.wasm"), relay_plugin("a", &["a", "b"])).unwrap();
        std::fs::write(dir.path().join("b.wasm"), relay_plugin("b", &["a"])).unwrap();
        let manager = builder(dir.path(), kind)
            .capabilities(policy_for(&[("a", "a"), ("a", "b"), ("b", "a")]))
            .build()
            .unwrap();
        assert_eq!(manager.discover().await.unwrap().loaded.len(), 2);

        // a -> a
        let message = guest_error(
            relay(&manager, "a", &via("a", "value", &[])).await,
            kind.name(),
        );
        assert!(
            message.contains("cycle refused: a -> a"),
            "{kind}: {message}"
        );

        // a -> b -> a
        let back_to_a = via("a", "value", &[]);
        let message = guest_error(
            relay(&manager, "a", &via("b", "relay", &back_to_a)).await,
            kind.name(),
        );
        assert!(
            message.contains("cycle refused: a -> b -> a"),
            "{kind}: {message}"
        );

        // Nothing was poisoned: both still serve calls.
        let raw = relay(&manager, "b", &via("a", "value", &[])).await.unwrap();
        assert_eq!(raw, [9, 9], "{kind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_longer_than_the_cap_is_refused() {
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        // p0 -> p1 -> ... -> p{MAX}: one plugin more than the cap allows.
        let names: Vec<String> = (0..=MAX_PLUGIN_CALL_DEPTH)
            .map(|i| format!("p{i}"))
            .collect();
        let mut grants = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let next: Vec<&str> = names.get(i + 1).map(String::as_str).into_iter().collect();
            std::fs::write(
                dir.path().join(format!("{name}.wasm")),
                relay_plugin(name, &next),
            )
            .unwrap();
            if let Some(next) = next.first() {
                grants.push((name.as_str(), *next));
            }
        }
        let manager = builder(dir.path(), kind)
            .capabilities(policy_for(&grants))
            .build()
            .unwrap();
        assert_eq!(
            manager.discover().await.unwrap().loaded.len(),
            names.len(),
            "{kind}"
        );
        // The request p0 gets: relay to p1, which relays to p2, ..., whose
        // last hop asks for `value` (`count` hops in all).
        let chain_request = |count: usize| {
            let mut request = via(&names[count], "value", &[]);
            for i in (1..count).rev() {
                request = via(&names[i], "relay", &request);
            }
            request
        };
        // A chain of exactly the cap works...
        let raw = relay(&manager, "p0", &chain_request(MAX_PLUGIN_CALL_DEPTH - 1))
            .await
            .unwrap();
        // Each relay after the first answers its callee's encoded response
        // as a byte string, so peel one layer per hop.
        let mut raw = raw;
        for _ in 1..MAX_PLUGIN_CALL_DEPTH - 1 {
            let layer: ByteBuf =
                anywasm::abi::decode(&raw, anywasm::abi::DEFAULT_MESSAGE_CAP).unwrap();
            raw = layer.into_vec();
        }
        assert_eq!(raw, [9, 9], "{kind}");
        // ...one more plugin is refused.
        let message = guest_error(
            relay(&manager, "p0", &chain_request(MAX_PLUGIN_CALL_DEPTH)).await,
            kind.name(),
        );
        assert!(
            message.contains(&format!("deeper than {MAX_PLUGIN_CALL_DEPTH} plugins")),
            "{kind}: {message}"
        );
    }
}

/// The guest SDK's `services::call`, from a plugin built with it
/// (`conformance/guests/services-guest`, export `greet_via`): a typed call
/// to another plugin, and a typed call back to itself, refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_sdk_plugin_calls_another_plugin() {
    use anywasm_conformance::guests::SERVICES_GUEST;
    // `greeter`: `greet` answers `Ok("hi")` whatever the name.
    let greeter = module(
        &manifest("greeter", "1.0.0", ""),
        &[],
        &constant("greet", 256, &[0, 2, b'h', b'i']),
    );
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("services.wasm"), SERVICES_GUEST).unwrap();
        std::fs::write(dir.path().join("greeter.wasm"), &greeter).unwrap();
        let policy = ["log", "clock", "random", "kv", "lookup", "plugins:greeter"]
            .iter()
            .fold(CapabilityPolicy::new(), |p, c| p.grant("services", c));
        let manager = builder(dir.path(), kind)
            .capabilities(policy)
            .plugin_config("services", "greeting", "hello")
            .host_functions(|linker| {
                linker
                    .abi_func("lookup", |_caller, _key: String| Ok(None::<String>))
                    .capability("lookup");
            })
            .build()
            .unwrap();
        let report = manager.discover().await.unwrap();
        assert_eq!(report.loaded.len(), 2, "{kind}: {report:?}");
        let out: String = manager
            .call("services", "greet_via", &("greeter", "bob"))
            .await
            .unwrap();
        assert_eq!(out, "hi", "{kind}");
        // `services` may not call itself: it was not granted
        // `plugins:services`, so the call is refused before any cycle check.
        let e = manager
            .call::<_, String>("services", "greet_via", &("services", "bob"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("`plugins:services`"), "{kind}: {e}");
    }
}

/// Two callers and one instance of the callee: while the host holds `b`'s
/// only instance, `a -> b` waits half of `a`'s time left, then fails with
/// a "busy" error `a` can still return; once `b` is free, `a -> b` works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_busy_plugin_ends_in_an_error_not_a_hang() {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.wasm"), relay_plugin("a", &["b"])).unwrap();
        let b = module(
            &manifest("b", "1.0.0", "capabilities = [\"hold\"]"),
            &["hold"],
            &format!("{}{}", forward("hold", "hold"), value_export(3)),
        );
        std::fs::write(dir.path().join("b.wasm"), b).unwrap();
        // `hold` says it has started, then blocks until the test releases it
        // (or a liveness bound passes).
        let (entered_tx, entered_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let entered_tx = Arc::new(Mutex::new(entered_tx));
        let release_rx = Arc::new(Mutex::new(release_rx));
        let manager = builder(dir.path(), kind)
            .capabilities(policy_for(&[("a", "b")]).grant("b", "hold"))
            .pool_size(1)
            .limits(anywasm::Limits::new().timeout(Duration::from_secs(2)))
            .host_functions(move |linker| {
                linker.abi_func("hold", move |_caller, (): ()| {
                    let _ = entered_tx.lock().unwrap().send(());
                    let _ = release_rx
                        .lock()
                        .unwrap()
                        .recv_timeout(Duration::from_secs(60));
                    Ok(())
                });
            })
            .build()
            .unwrap();
        assert_eq!(manager.discover().await.unwrap().loaded.len(), 2, "{kind}");

        let holder = {
            let manager = manager.clone();
            tokio::spawn(async move { manager.call::<_, ()>("b", "hold", &()).await })
        };
        tokio::task::spawn_blocking(move || entered_rx.recv_timeout(Duration::from_secs(60)))
            .await
            .unwrap()
            .expect("b's hold never started");

        let message = guest_error(
            relay(&manager, "a", &via("b", "value", &[])).await,
            kind.name(),
        );
        assert!(
            message.contains("plugin `b` stayed busy"),
            "{kind}: {message}"
        );

        release_tx.send(()).unwrap();
        // `b`'s held call may have outlived its own timeout: either way it
        // ends, and `b` serves the next call.
        let _ = holder.await.unwrap();
        let raw = relay(&manager, "a", &via("b", "value", &[])).await.unwrap();
        assert_eq!(raw, [3, 3], "{kind}");
    }
}

/// The backends whose guest calls suspend while a host future is pending
/// (wasmtime, wasmi); on wasmer the nested call blocks a thread instead.
fn suspending_backends() -> Vec<anywasm::BackendKind> {
    backends()
        .iter()
        .copied()
        .filter(|&k| {
            anywasm::support(k).is_some_and(|s| s.supports(anywasm::Feature::AsyncSuspend))
        })
        .collect()
}

/// `a` (a relay) and `b`, whose `nap` forwards to the async host function
/// `nap`, defined by `define`.
fn napping_pair(
    kind: anywasm::BackendKind,
    dir: &std::path::Path,
    pool: usize,
    define: impl Fn(&mut anywasm::Linker<anywasm_plugin::HostCtx>) + Send + Sync + 'static,
) -> anywasm_plugin::PluginManager {
    std::fs::write(dir.join("a.wasm"), relay_plugin("a", &["b"])).unwrap();
    let b = module(
        &manifest("b", "1.0.0", "capabilities = [\"nap\"]"),
        &["nap"],
        &forward("nap", "nap"),
    );
    std::fs::write(dir.join("b.wasm"), b).unwrap();
    builder(dir, kind)
        .capabilities(policy_for(&[("a", "b")]).grant("b", "nap"))
        .pool_size(pool)
        // Longer than `eventually` waits: a nested call that outlived its
        // caller's cancellation must not end by its own timeout in time.
        .limits(anywasm::Limits::new().timeout(std::time::Duration::from_secs(120)))
        .host_functions(define)
        .build()
        .unwrap()
}

/// On a current-thread runtime, 32 calls `a -> b` whose `b` awaits a
/// barrier all 32 must reach: it opens only if every call is suspended
/// in `b`'s host function at once, and every `b` ran on the runtime's one
/// thread (not on threads of their own).
#[tokio::test(flavor = "current_thread")]
async fn nested_calls_suspend_while_the_callee_awaits() {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    const CALLS: usize = 32;
    let runtime_thread = std::thread::current().id();
    for kind in suspending_backends() {
        let dir = tempfile::tempdir().unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(CALLS));
        let threads = Arc::new(Mutex::new(HashSet::new()));
        let seen = threads.clone();
        let manager = napping_pair(kind, dir.path(), CALLS, move |linker| {
            let (barrier, seen) = (barrier.clone(), seen.clone());
            linker.abi_func_async("nap", move |_caller, (): ()| {
                seen.lock().unwrap().insert(std::thread::current().id());
                let barrier = barrier.clone();
                async move {
                    barrier.wait().await;
                    Ok(())
                }
            });
        });
        assert_eq!(manager.discover().await.unwrap().loaded.len(), 2, "{kind}");
        let calls: Vec<_> = (0..CALLS)
            .map(|_| {
                let manager = manager.clone();
                tokio::spawn(async move { relay(&manager, "a", &via("b", "nap", &[])).await })
            })
            .collect();
        for call in calls {
            let raw = call.await.unwrap().unwrap();
            assert!(raw.is_empty(), "{kind}: {raw:?}");
        }
        let threads = threads.lock().unwrap();
        assert_eq!(*threads, HashSet::from([runtime_thread]), "{kind}");
    }
}

/// Dropping a call to `a` while its callee `b` awaits drops `b`'s host
/// future; both pools (one instance each) serve the next call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_call_drops_the_nested_call() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    /// Counts the live host futures.
    struct Live(Arc<AtomicUsize>);
    impl Drop for Live {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    for kind in suspending_backends() {
        let dir = tempfile::tempdir().unwrap();
        let live = Arc::new(AtomicUsize::new(0));
        let hang = Arc::new(AtomicBool::new(true));
        let (live2, hang2) = (live.clone(), hang.clone());
        let manager = napping_pair(kind, dir.path(), 1, move |linker| {
            let (live, hang) = (live2.clone(), hang2.clone());
            linker.abi_func_async("nap", move |_caller, (): ()| {
                live.fetch_add(1, Ordering::SeqCst);
                let guard = Live(live.clone());
                let hang = hang.load(Ordering::SeqCst);
                async move {
                    let _guard = guard;
                    if hang {
                        std::future::pending::<()>().await;
                    }
                    Ok(())
                }
            });
        });
        assert_eq!(manager.discover().await.unwrap().loaded.len(), 2, "{kind}");
        let call = {
            let manager = manager.clone();
            tokio::spawn(async move { relay(&manager, "a", &via("b", "nap", &[])).await })
        };
        eventually("b's host future started", || {
            live.load(Ordering::SeqCst) == 1
        })
        .await;
        call.abort();
        assert!(call.await.unwrap_err().is_cancelled(), "{kind}");
        eventually("b's host future dropped", || {
            live.load(Ordering::SeqCst) == 0
        })
        .await;
        hang.store(false, Ordering::SeqCst);
        let raw = relay(&manager, "a", &via("b", "nap", &[])).await.unwrap();
        assert!(raw.is_empty(), "{kind}: {raw:?}");
    }
}

/// A callee that runs past its own timeout is stopped by it, and only it:
/// the caller, whose timeout is far off, gets the callee's failure as its
/// call's error and goes on serving calls. On wasmer the callee runs on the
/// caller's thread, so this is also the check that the callee's interrupt
/// reaches the callee's store and not the caller's below it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callee_past_its_timeout_fails_alone() {
    use std::time::Duration;
    let spin =
        "(func (export \"spin\") (param i32 i32) (result i64) (loop (br 0)) (i64.const 0))\n";
    for &kind in backends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.wasm"), relay_plugin("a", &["b"])).unwrap();
        let b = module(
            &manifest("b", "1.0.0", "[limits]\ntimeout_ms = 200"),
            &[],
            &format!("{}{spin}", value_export(3)),
        );
        std::fs::write(dir.path().join("b.wasm"), b).unwrap();
        let manager = builder(dir.path(), kind)
            .capabilities(policy_for(&[("a", "b")]))
            .limits(anywasm::Limits::new().timeout(Duration::from_secs(30)))
            .build()
            .unwrap();
        assert_eq!(manager.discover().await.unwrap().loaded.len(), 2, "{kind}");
        let message = guest_error(
            relay(&manager, "a", &via("b", "spin", &[])).await,
            kind.name(),
        );
        assert!(message.contains("`b`"), "{kind}: {message}");
        assert!(message.contains("deadline exceeded"), "{kind}: {message}");
        let raw = relay(&manager, "a", &via("b", "value", &[])).await.unwrap();
        assert_eq!(raw, [3, 3], "{kind}");
    }
}
