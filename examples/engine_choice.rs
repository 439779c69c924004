//! Choose the engine with a Cargo feature, and write the host once.
//!
//! ```text
//! cargo run -p anywasm --no-default-features --features std,wasmi --example engine_choice
//! cargo run -p anywasm --no-default-features --features std,wasmer --example engine_choice
//! cargo run -p anywasm --all-features --example engine_choice   # every engine, by name too
//! ```
//!
//! `host::<R>` is generic over [`Runtime`]: it compiles to direct calls into
//! whichever engine it is given, with nothing dynamic in between.
//! [`anywasm::DefaultEngine`] is the engine the features select (wasmtime
//! if compiled in, else wasmer, else wasmi), so an application that names
//! only `DefaultEngine` switches engines by changing one line of its
//! `Cargo.toml`. [`anywasm::engine_by_name`] makes the same choice at run
//! time instead, among the engines compiled in.

use anywasm::{Config, FuncType, Limits, Linker, Runtime, Store, StoreExt, Val, ValType};

/// A guest that sums 1..=n, reporting progress through a host import.
const GUEST: &str = r#"(module
  (import "host" "progress" (func $progress (param i32)))
  (func (export "sum") (param $n i32) (result i64) (local $i i32) (local $acc i64)
    (block $done (loop $next
      (br_if $done (i32.gt_u (local.get $i) (local.get $n)))
      (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (call $progress (local.get $n))
    (local.get $acc)))"#;

/// The host, written once for every engine.
fn host<R: Runtime>(engine: &R, wasm: &[u8]) -> anywasm::Result<(i64, u32)> {
    let mut linker = Linker::<u32>::new();
    linker.func(
        "host",
        "progress",
        FuncType::new([ValType::I32], []),
        |caller, args, _| {
            *caller.data_mut() = args[0].as_i32().unwrap_or_default() as u32;
            Ok(())
        },
    );
    let module = engine.compile(wasm)?;
    let mut store = engine.store(0u32, &Limits::new().memory_bytes(1 << 20))?;
    let instance = store.instantiate(&module, &linker)?;
    let out = store.call_export(&instance, "sum", &[Val::I32(1000)])?;
    Ok((out[0].as_i64().unwrap_or_default(), *store.data()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let wasm = wat::parse_str(GUEST)?;

    // Chosen at compile time, by the Cargo features.
    let engine = anywasm::DefaultEngine::new(&Config::new())?;
    let (sum, reported) = host(&engine, &wasm)?;
    println!(
        "DefaultEngine is {}: sum(1..=1000) = {sum}, the guest reported {reported}",
        <anywasm::DefaultEngine as Runtime>::BACKEND
    );

    // Chosen at run time, among the engines compiled in.
    for backend in anywasm::compiled_backends() {
        let engine = anywasm::engine_by_name::<u32>(backend.name(), &Config::new())?;
        let module = engine.compile(&wasm)?;
        let exports: Vec<_> = module.exports().iter().map(|e| e.name.clone()).collect();
        println!("{backend} is compiled in: the guest exports {exports:?}");
    }
    Ok(())
}
