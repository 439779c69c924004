//! Inputs of the compute workloads (`conformance/guests/bench-guest`) and
//! the results each must produce, checked after timing.

/// `fib(FIB_N)`, naive recursion: about 250,000 calls.
pub const FIB_N: u32 = 25;
/// fib(25).
pub const FIB_EXPECTED: u64 = 75_025;

/// Chained SHA-256 rounds over [`sha_data`].
pub const SHA_ROUNDS: u32 = 16;
/// The digest of the chain (computed independently with Python's hashlib).
pub const SHA_EXPECTED: &str = "2b2a3b21f79af69c131d737e74dab48828bb9e49be1cc9d32ebc2aa611119025";

/// 8 KiB of patterned bytes: `(i * 31 + 7) mod 256`.
pub fn sha_data() -> Vec<u8> {
    (0..8192u32).map(|i| ((i * 31 + 7) % 256) as u8).collect()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Matrix size: 96 x 96 (about 885,000 multiply-adds).
pub const MATMUL_N: u32 = 96;

/// What `matmul(n)` returns, computed natively the same way.
pub fn matmul_expected(n: u32) -> f64 {
    let n = n as usize;
    let a = |i: usize, k: usize| ((i * n + k) % 7) as f64;
    let b = |k: usize, j: usize| ((k + 2 * j) % 5) as f64;
    let mut sum = 0.0;
    for i in 0..n {
        for j in 0..n {
            sum += (0..n).map(|k| a(i, k) * b(k, j)).sum::<f64>();
        }
    }
    sum
}

/// Sieve bound.
pub const SIEVE_N: u32 = 1_000_000;
/// Primes below one million.
pub const SIEVE_EXPECTED: u32 = 78_498;

/// Records in the parsed document.
pub const PARSE_ITEMS: u32 = 400;

pub use anywasm_test_types::Summary;

/// A JSON document of `items` records (about 90 bytes each).
pub fn json_text(items: u32) -> String {
    let mut out = String::from("[\n");
    for i in 0..items {
        if i > 0 {
            out.push_str(",\n");
        }
        let neg = -2 * i64::from(i);
        out.push_str(&format!(
            r#"  {{"id": {i}, "name": "item \"{i}\" \\ ünïcödé", "tags": ["alpha", "beta"], "vals": [{i}, {neg}, {}], "ok": true, "none": null}}"#,
            3 * i
        ));
    }
    out.push_str("\n]\n");
    out
}

/// What parsing [`json_text`]`(items)` finds.
pub fn json_expected(items: u32) -> Summary {
    let n = i64::from(items);
    Summary {
        objects: items,
        arrays: 2 * items + 1,
        strings: 9 * items,
        numbers: 4 * items,
        sum: 3 * n * (n - 1) / 2,
    }
}

/// Payloads of the ABI round trips: (workload name, bytes).
pub fn byte_payloads() -> Vec<(&'static str, Vec<u8>)> {
    [
        ("64b", 64usize),
        ("1kib", 1 << 10),
        ("64kib", 64 << 10),
        ("1mib", 1 << 20),
    ]
    .into_iter()
    .map(|(name, len)| (name, (0..len).map(|i| (i % 251) as u8).collect()))
    .collect()
}
