//! The pass keeps modules valid and refuses what it cannot meter. Behaviour
//! (exact gas, exhaustion, the same count on every engine) is proved in
//! conformance (`<engine>/gas/...`) and by the spec suite run with gas on.

use anywasm_core::ErrorKind;
use anywasm_gas::{GAS_GLOBAL, GAS_MODULE, instrument};
use wasmparser::{Parser, Payload, Validator, WasmFeatures};

fn valid(wasm: &[u8]) {
    let mut v = Validator::new_with_features(WasmFeatures::all());
    if let Err(e) = v.validate_all(wasm) {
        panic!("instrumented module does not validate: {e}");
    }
}

fn imports(wasm: &[u8]) -> Vec<(String, String)> {
    Parser::new(0)
        .parse_all(wasm)
        .filter_map(|p| match p.unwrap() {
            Payload::ImportSection(s) => Some(s),
            _ => None,
        })
        .flat_map(|s| s.into_iter().map(|i| i.unwrap()))
        .map(|i| (i.module.to_string(), i.name.to_string()))
        .collect()
}

const FEATURES: &[(&str, &str)] = &[
    (
        "globals imported and defined, in code, init exprs and exports",
        r#"(module
          (import "env" "g" (global $ig i32))
          (global $a (mut i32) (global.get $ig))
          (global $b i64 (i64.const 7))
          (export "a" (global $a))
          (table 2 funcref)
          (elem (i32.const 0) func $f)
          (func $f (export "f") (param i32) (result i32)
            (global.set $a (i32.add (global.get $a) (local.get 0)))
            (drop (global.get $b))
            (global.get $a)))"#,
    ),
    (
        "multi-value blocks, loops with params, br_table",
        r#"(module
          (func (export "swap") (param i32 i32) (result i32 i32) local.get 1 local.get 0)
          (func (export "loop") (param $n i32) (result i32) (local $acc i32)
            (local.get $n)
            (loop $l (param i32) (result i32)
              (local.set $acc (i32.add (local.get $acc) (i32.const 1)))
              (i32.sub (i32.const 1))
              (local.tee $n)
              (br_if $l (local.get $n))
              (drop (local.get $n)))
            (drop)
            (block $a (block $b (br_table $a $b $a (local.get $acc))))
            (local.get $acc)))"#,
    ),
    (
        "bulk memory and tables, every size-dependent operator",
        r#"(module
          (memory 1)
          (table $t 4 funcref)
          (data $d "hello")
          (elem $e func $f)
          (func $f)
          (func (export "bulk") (param $n i32)
            (memory.fill (i32.const 0) (i32.const 1) (local.get $n))
            (memory.copy (i32.const 8) (i32.const 0) (local.get $n))
            (memory.init $d (i32.const 16) (i32.const 0) (i32.const 5))
            (table.fill $t (i32.const 0) (ref.null func) (i32.const 2))
            (table.copy $t $t (i32.const 0) (i32.const 1) (i32.const 1))
            (table.init $t $e (i32.const 0) (i32.const 0) (i32.const 1))
            (drop (table.grow $t (ref.null func) (i32.const 1)))
            (drop (memory.grow (i32.const 1)))
            (data.drop $d) (elem.drop $e)))"#,
    ),
    (
        "reference types and SIMD",
        r#"(module
          (table $t 1 externref)
          (func (export "r") (param externref) (result externref)
            (table.set $t (i32.const 0) (local.get 0))
            (table.get $t (i32.const 0)))
          (func (export "v") (result v128)
            (i32x4.add (v128.const i32x4 1 2 3 4) (v128.const i32x4 5 6 7 8))))"#,
    ),
    (
        "a start function and a module with no imports and no code",
        r#"(module (global (mut i32) (i32.const 0)) (func $s) (start $s))"#,
    ),
];

#[test]
fn instrumented_modules_stay_valid() {
    for (what, wat) in FEATURES {
        let wasm = wat::parse_str(wat).unwrap_or_else(|e| panic!("{what}: {e}"));
        let out = instrument(&wasm).unwrap_or_else(|e| panic!("{what}: {e}"));
        valid(&out);
        let imports = imports(&out);
        assert_eq!(
            imports.last(),
            Some(&(GAS_MODULE.to_string(), GAS_GLOBAL.to_string())),
            "{what}"
        );
    }
}

#[test]
fn instrumenting_an_empty_module_adds_only_the_counter() {
    let out = instrument(&wat::parse_str("(module)").unwrap()).unwrap();
    valid(&out);
    assert_eq!(imports(&out).len(), 1);
}

#[test]
fn a_module_reaching_for_the_counter_is_refused() {
    let wasm = wat::parse_str(r#"(module (import "anywasm:gas" "remaining" (global (mut i64))))"#)
        .unwrap();
    assert_eq!(instrument(&wasm).unwrap_err().kind(), ErrorKind::Unlinkable);
    // Instrumenting twice is the same case: the counter would be the guest's.
    let once = instrument(&wat::parse_str("(module (func))").unwrap()).unwrap();
    assert_eq!(instrument(&once).unwrap_err().kind(), ErrorKind::Unlinkable);
}

#[test]
fn what_cannot_be_metered_is_refused() {
    for wat in [
        "(module (memory i64 1))",
        "(module (table i64 1 funcref))",
        r#"(module (import "e" "m" (memory i64 1)))"#,
        "(module (tag $t) (func (throw $t)))",
    ] {
        let wasm = wat::parse_str(wat).unwrap();
        let e = instrument(&wasm).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{wat}: {e}");
    }
}

#[test]
fn garbage_is_a_compile_error() {
    assert_eq!(
        instrument(b"\0asm\x01\0\0\0\x01\xff").unwrap_err().kind(),
        ErrorKind::Compile
    );
}
