//! Load a Rust plugin, give it one host function, and call it with typed
//! requests on the engine named on the command line.
//!
//! ```text
//! cargo run -p anywasm-conformance --example plugin -- wasmer
//! ```
//! (The plugin is conformance/guests/abi-guest, built for wasm32 by the
//! conformance crate's build script.)

use anywasm::{Capabilities, Config, HostError, Limits, Linker, Plugin};
use anywasm_test_types::{Record, sample_records};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let backend = std::env::args().nth(1).unwrap_or_else(|| "wasmtime".into());
    let wasm = include_bytes!(env!("ANYWASM_GUEST_ABI"));

    // `anywasm::add`, importable only by plugins granted the `math` capability.
    let mut linker = Linker::<u32>::new();
    linker
        .abi_func("add", |caller, (a, b): (i32, i32)| {
            *caller.data_mut() += 1;
            a.checked_add(b).ok_or_else(|| HostError::new("overflow"))
        })
        .capability("math");
    let granted = Capabilities::none().grant("math");

    let engine = anywasm::engine_by_name(&backend, &Config::new())?;
    let mut plugin = Plugin::load(&*engine, wasm, &linker, &granted, 0, &Limits::new())?;
    println!(
        "[{backend}] loaded:\n{}",
        plugin.manifest().unwrap_or("(no manifest)")
    );

    let sum: i32 = plugin.call("add_via_host", &(40, 2))?;
    println!(
        "[{backend}] add_via_host(40, 2) = {sum}; host function called {} time(s)",
        plugin.data()
    );

    let record = sample_records(1).remove(0);
    let back: Record = plugin.call("echo_record", &record)?;
    assert_eq!(back, record);
    println!(
        "[{backend}] echo_record round-tripped `{}` with {} children",
        back.name,
        back.children.len()
    );

    let err = plugin
        .call::<_, ()>("fail", "plugins can say no")
        .unwrap_err();
    println!("[{backend}] fail -> {err}");
    Ok(())
}
