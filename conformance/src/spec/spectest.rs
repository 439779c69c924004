//! The `spectest` module every spec script may import from.
//!
//! The contract's [`Linker`] offers host *functions* only: a host cannot
//! define globals, tables or memories for a guest. So `spectest` is a small
//! wasm module that defines the globals (`global_i32` = 666, ...), the table
//! and the memory the scripts expect, re-exports the `print*` functions it
//! imports from the linker, and is [`register`](anywasm::DynStore::register)ed
//! as `spectest` in every store. Guests then link against it exactly as they
//! would against a host-provided `spectest`, through the ordinary
//! register-then-linker resolution order of the contract.

use anywasm::{DynRuntime, DynStore, FuncType, Linker, Result, ValType};

/// The module name the host `print*` functions live under; only the
/// `spectest` module imports from it.
const HOST: &str = "spectest_host";

const SPECTEST_WAT: &str = r#"
(module
  (import "spectest_host" "print" (func $print))
  (import "spectest_host" "print_i32" (func $print_i32 (param i32)))
  (import "spectest_host" "print_i64" (func $print_i64 (param i64)))
  (import "spectest_host" "print_f32" (func $print_f32 (param f32)))
  (import "spectest_host" "print_f64" (func $print_f64 (param f64)))
  (import "spectest_host" "print_i32_f32" (func $print_i32_f32 (param i32 f32)))
  (import "spectest_host" "print_f64_f64" (func $print_f64_f64 (param f64 f64)))
  (export "print" (func $print))
  (export "print_i32" (func $print_i32))
  (export "print_i64" (func $print_i64))
  (export "print_f32" (func $print_f32))
  (export "print_f64" (func $print_f64))
  (export "print_i32_f32" (func $print_i32_f32))
  (export "print_f64_f64" (func $print_f64_f64))
  (global (export "global_i32") i32 (i32.const 666))
  (global (export "global_i64") i64 (i64.const 666))
  (global (export "global_f32") f32 (f32.const 666.6))
  (global (export "global_f64") f64 (f64.const 666.6))
  (table (export "table") 10 20 funcref)
  (memory (export "memory") 1 2)
)
"#;

/// The linker with the `print*` host functions (they print nothing: output
/// is not part of what the scripts check).
pub(crate) fn linker() -> Linker<()> {
    use ValType::{F32, F64, I32, I64};
    let mut linker = Linker::new();
    let sigs: [(&str, &[ValType]); 7] = [
        ("print", &[]),
        ("print_i32", &[I32]),
        ("print_i64", &[I64]),
        ("print_f32", &[F32]),
        ("print_f64", &[F64]),
        ("print_i32_f32", &[I32, F32]),
        ("print_f64_f64", &[F64, F64]),
    ];
    for (name, params) in sigs {
        let ty = FuncType::new(params.iter().copied(), []);
        linker.func(HOST, name, ty, |_, _, _| Ok(()));
    }
    linker
}

/// Instantiate `spectest` in `store` and register it under that name.
pub(crate) fn install(
    engine: &dyn DynRuntime<()>,
    store: &mut dyn DynStore<()>,
    linker: &Linker<()>,
) -> Result<()> {
    let wasm = wat::parse_str(SPECTEST_WAT).expect("spectest module must parse");
    let module = engine.compile(&wasm)?;
    let instance = store.instantiate(&module, linker)?;
    store.register("spectest", instance)
}
