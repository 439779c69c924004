//! The macros expand and type-check on the host (the ABI itself runs only in
//! a wasm32 module; see conformance/guests for the end-to-end tests).

use anywasm_guest::{GuestError, export, host_fn, plugin};

plugin! {
    name: "macro-test",
    version: env!("CARGO_PKG_VERSION"),
    description: "Tests \"quoted\" text",
    entry_points: ["echo", "len", "swap", "ping", "parse", "fallible", "count_down"],
    capabilities: ["math", "log",],
}

host_fn! {
    /// `anywasm::add`.
    pub fn add(req: (i32, i32)) -> i32;
    fn log(line: String);
    fn kv_get(key: String) -> Option<Vec<u8>> = "kv.get";
    fn kv_put(entry: (String, Vec<u8>)) = "kv.put";
}

host_fn!(fn mul(req: (i32, i32)) -> i32);

export! {
    /// Echoes.
    fn echo(req: Vec<u8>) -> Result<Vec<u8>, GuestError> { Ok(req) }
    fn len(req: String) -> u64 { req.len() as u64 }
    pub fn swap((a, b): (u8, i64)) -> (i64, u8) { (b, a) }
    fn ping(_: ()) {}
    fn parse(text: String) -> Result<u32, core::num::ParseIntError> { text.parse() }
    fn fallible(n: u32) -> Result<u32, GuestError> {
        let sum = add(&(n as i32, 1))?;
        log(&format!("{sum}"))?;
        Ok(sum as u32)
    }
    fn count_down(n: u64) -> u64 { if n == 0 { 0 } else { 1 + count_down(n - 1) } }
}

export!(
    fn unit(_req: ()) -> () {}
);

#[test]
fn host_functions_are_unavailable_outside_wasm() {
    let e = add(&(1, 2)).unwrap_err();
    assert!(e.message.contains("`add`"), "{e}");
    assert!(mul(&(1, 2)).is_err());
    assert!(log(&"x".to_string()).is_err());
    assert!(
        kv_get(&"k".into())
            .unwrap_err()
            .message
            .contains("`kv.get`")
    );
    assert!(kv_put(&("k".into(), vec![1])).is_err());
}

// The exports the plugin! macro defines, called as the host would.
unsafe extern "C" {
    fn anywasm_alloc(len: i32) -> i32;
    fn anywasm_free(ptr: i32, len: i32);
}

#[test]
fn allocator_exports_round_trip_or_refuse() {
    // On a 64-bit host the heap may live above 4 GiB, where no ABI address
    // exists: then anywasm_alloc refuses (0) rather than truncating.
    // SAFETY: the allocator never fails unsafely.
    let p = unsafe { anywasm_alloc(16) };
    if p != 0 {
        // SAFETY: allocated just above.
        unsafe { anywasm_free(p, 16) };
    }
    // SAFETY: as above.
    unsafe {
        assert_eq!(anywasm_alloc(0), 0);
        assert_eq!(anywasm_alloc(-1), 0);
    }
    // SAFETY: null is a no-op.
    unsafe { anywasm_free(0, 16) };
}
