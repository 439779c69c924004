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
