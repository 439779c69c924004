//! Run an untrusted loop under fuel and timeout limits on the engine you name.
//!
//! ```text
//! cargo run -p anywasm --all-features --example limits -- wasmi
//! ```

use std::time::Duration;

use anywasm::{Config, FuncType, Limits, Linker, Sandbox, TrapCode, Val, ValType};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let backend = std::env::args().nth(1).unwrap_or_else(|| "wasmtime".into());
    let wasm = wat::parse_str(
        r#"(module
            (import "host" "log" (func $log (param i32)))
            (func (export "count") (param i32) (result i32) (local i32)
              (block (loop
                local.get 1 local.get 0 i32.ge_u br_if 1
                local.get 1 i32.const 1 i32.add local.set 1 br 0))
              local.get 1 call $log local.get 1)
            (func (export "spin") (loop br 0)))"#,
    )?;

    let mut linker = Linker::<Vec<i32>>::new();
    linker.func(
        "host",
        "log",
        FuncType::new([ValType::I32], []),
        |caller, args, _| {
            caller.data_mut().push(args[0].as_i32().unwrap_or_default());
            Ok(())
        },
    );

    let config = Config::new().consume_fuel(true).timeouts(true);
    let limits = Limits::new()
        .fuel(10_000_000)
        .timeout(Duration::from_millis(200));
    let engine = anywasm::engine_by_name(&backend, &config)?;
    let mut sandbox = Sandbox::new(&*engine, &wasm, &linker, Vec::new(), &limits)?;

    let counted = sandbox.call("count", &[Val::I32(100_000)])?;
    let fuel_left = sandbox.store_mut().fuel()?;
    println!(
        "[{backend}] count -> {counted:?}, logged {:?}, fuel used {}",
        sandbox.data(),
        10_000_000 - fuel_left
    );

    let err = sandbox.call("spin", &[]).unwrap_err();
    assert!(matches!(
        err.trap_code(),
        Some(TrapCode::OutOfFuel | TrapCode::Timeout)
    ));
    println!("[{backend}] spin stopped: {err}");
    Ok(())
}
