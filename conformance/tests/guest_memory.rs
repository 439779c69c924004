//! The SDK guests, built as the guest SDK documents (32 KiB of shadow stack,
//! the SDK's allocator), start with one page of linear memory: what the
//! `anywasm-guest` docs ("Memory per instance") promise plugin authors.

use anywasm::{PAGE_BYTES, initial_memory_bytes};
use anywasm_conformance::guests::{ABI_GUEST, BENCH_GUEST, ECHO_GUEST};

#[test]
fn sdk_guests_start_with_one_page() {
    for (name, wasm) in [
        ("echo-guest", ECHO_GUEST),
        ("abi-guest", ABI_GUEST),
        ("bench-guest", BENCH_GUEST),
    ] {
        let initial = initial_memory_bytes(wasm).expect("the guest parses");
        assert_eq!(
            initial,
            Some(PAGE_BYTES),
            "{name} asks for {initial:?} bytes of initial memory; the documented setup gives one page"
        );
    }
}
