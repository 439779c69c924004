//! Typed ABI round trips through `anywasm::Plugin` on every engine:
//! `cargo bench -p anywasm-benches --bench abi`.

use std::hint::black_box;

use anywasm_benches::abi_plugin;
use criterion::{Criterion, criterion_group, criterion_main};

fn round_trips(c: &mut Criterion) {
    for &backend in anywasm::compiled_backends() {
        let mut plugin = abi_plugin(backend);
        c.bench_function(&format!("abi_roundtrip/noop/{backend}"), |b| {
            b.iter(|| plugin.call::<(), ()>("noop", black_box(&())).expect("noop"))
        });
        let payload = vec![0xA5u8; 64];
        c.bench_function(&format!("abi_roundtrip/echo_64b/{backend}"), |b| {
            b.iter(|| {
                let out: Vec<u8> = plugin
                    .call("echo_bytes", black_box(&payload))
                    .expect("echo");
                assert_eq!(out.len(), 64);
                out
            })
        });
        c.bench_function(&format!("abi_roundtrip/host_call/{backend}"), |b| {
            b.iter(|| {
                let sum: i32 = plugin
                    .call("add_via_host", black_box(&(40, 2)))
                    .expect("add");
                assert_eq!(sum, 42);
            })
        });
    }
}

criterion_group!(benches, round_trips);
criterion_main!(benches);
