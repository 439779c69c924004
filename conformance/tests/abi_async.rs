//! `Plugin::call_async` from tokio, on both runtime flavours and every backend.

use anywasm::{Config, Limits, Plugin};
use anywasm_conformance::guests::ABI_GUEST;

async fn echo_all() {
    for &backend in anywasm::compiled_backends() {
        let engine = anywasm::engine::<()>(backend, &Config::new()).unwrap();
        let (linker, caps) = anywasm_conformance::abi_linker(|_: &mut ()| {});
        let mut p = Plugin::load(&*engine, ABI_GUEST, &linker, &caps, (), &Limits::new()).unwrap();
        let out: Vec<u8> = p.call_async("echo_bytes", &vec![7u8; 4096]).await.unwrap();
        assert_eq!(out, vec![7u8; 4096], "{backend}");
        let sum: i32 = p.call_async("add_via_host", &(1, 2)).await.unwrap();
        assert_eq!(sum, 3, "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_async_on_multi_thread_runtime() {
    echo_all().await;
}

#[tokio::test(flavor = "current_thread")]
async fn call_async_on_current_thread_runtime() {
    echo_all().await;
}

/// Dropping `Plugin::call_async` while its async host function awaits
/// cancels the call; the plugin replaces the instance and answers the next
/// call (engines that suspend; wasmer's call cannot be dropped half-way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_call_replaces_the_instance() {
    use std::time::Duration;
    for &backend in anywasm::compiled_backends() {
        let suspends =
            anywasm::support(backend).is_some_and(|s| s.supports(anywasm::Feature::AsyncSuspend));
        if !suspends {
            continue;
        }
        let engine = anywasm::engine::<()>(backend, &Config::new()).unwrap();
        let mut linker = anywasm::Linker::<()>::new();
        linker
            .abi_func_async("add", |_, (a, b): (i32, i32)| async move {
                if a == 1 {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                Ok::<_, anywasm::HostError>(a + b)
            })
            .capability("math");
        let caps = anywasm::Capabilities::none().grant("math");
        let mut p = Plugin::load(&*engine, ABI_GUEST, &linker, &caps, (), &Limits::new()).unwrap();
        let first = p.instance();
        let slow = p.call_async::<_, i32>("add_via_host", &(1, 0));
        assert!(
            tokio::time::timeout(Duration::from_millis(20), slow)
                .await
                .is_err(),
            "{backend}: the call should still be awaiting its host function"
        );
        let sum: i32 = p.call_async("add_via_host", &(2, 3)).await.unwrap();
        assert_eq!(sum, 5, "{backend}");
        assert_ne!(
            p.instance(),
            first,
            "{backend}: the dropped call's instance was kept"
        );
    }
}
