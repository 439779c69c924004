//! `Plugin::call_async` from tokio, on both runtime flavours and every backend.

use anywasm::{Capabilities, Config, Limits, Linker, Plugin};
use anywasm_conformance::guests::ABI_GUEST;

async fn echo_all() {
    for &backend in anywasm::compiled_backends() {
        let engine = anywasm::engine::<()>(backend, &Config::new()).unwrap();
        let mut linker = Linker::new();
        linker.abi_func(
            "add",
            "math",
            anywasm::abi::DEFAULT_MESSAGE_CAP,
            |_: &mut dyn anywasm::Caller<()>, (a, b): (i32, i32)| Ok(a + b),
        );
        let caps = Capabilities::none().grant("math");
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
