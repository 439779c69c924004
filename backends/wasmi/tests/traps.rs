//! Every trap code, during calls and during instantiation; the store stays
//! usable after each.

mod common;

use anywasm_core::{Config, ErrorKind, Limits, Linker, Store as _, StoreExt, TrapCode, Val};
use common::*;

const TRAPS: &str = r#"
(module
  (memory 1)
  (type $v (func))
  (type $i (func (result i32)))
  (table 2 funcref)
  (elem (i32.const 1) $ok)
  (func $ok)
  (func (export "ok") (result i32) (i32.const 7))
  (func (export "unreachable") unreachable)
  (func (export "load_oob") (result i32) (i32.load (i32.const 65536)))
  (func (export "store_oob") (i32.store (i32.const 65535) (i32.const 1)))
  (func (export "fill_oob") (memory.fill (i32.const 65000) (i32.const 0) (i32.const 1000)))
  (func (export "copy_oob") (memory.copy (i32.const 0) (i32.const 65000) (i32.const 1000)))
  (func (export "table_oob") (call_indirect (type $v) (i32.const 5)))
  (func (export "table_get_oob") (drop (table.get 0 (i32.const 9))))
  (func (export "null") (call_indirect (type $v) (i32.const 0)))
  (func (export "sig") (drop (call_indirect (type $i) (i32.const 1))))
  (func (export "overflow") (result i32) (i32.div_s (i32.const 0x80000000) (i32.const -1)))
  (func (export "div0") (result i32) (i32.div_u (i32.const 1) (i32.const 0)))
  (func (export "rem0") (result i64) (i64.rem_s (i64.const 1) (i64.const 0)))
  (func (export "trunc_nan") (result i32) (i32.trunc_f32_s (f32.const nan)))
  (func (export "trunc_big") (result i64) (i64.trunc_f64_u (f64.const 1e30)))
  (func $rec (export "recurse") (param i32) (result i32)
    (i32.add (call $rec (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
)
"#;

#[test]
fn each_trap_code() {
    let (mut store, inst) = instance(TRAPS);
    let cases = [
        ("unreachable", TrapCode::Unreachable),
        ("load_oob", TrapCode::MemoryOutOfBounds),
        ("store_oob", TrapCode::MemoryOutOfBounds),
        ("fill_oob", TrapCode::MemoryOutOfBounds),
        ("copy_oob", TrapCode::MemoryOutOfBounds),
        ("table_oob", TrapCode::TableOutOfBounds),
        ("table_get_oob", TrapCode::TableOutOfBounds),
        ("null", TrapCode::IndirectCallToNull),
        ("sig", TrapCode::BadSignature),
        ("overflow", TrapCode::IntegerOverflow),
        ("div0", TrapCode::IntegerDivisionByZero),
        ("rem0", TrapCode::IntegerDivisionByZero),
        ("trunc_nan", TrapCode::BadConversionToInteger),
        // The spec's wording for an out-of-range truncation is "integer
        // overflow", and that is what wasmi reports (it cannot be told apart
        // from `i32.div_s` overflow after the fact).
        ("trunc_big", TrapCode::IntegerOverflow),
    ];
    for (name, code) in cases {
        let e = assert_trap(store.call_export(&inst, name, &[]), code);
        assert!(e.host_error().is_none());
        // The store stays usable after every trap.
        assert_eq!(
            store.call_export(&inst, "ok", &[]).unwrap(),
            vec![Val::I32(7)],
            "after {name}"
        );
    }
}

#[test]
fn stack_overflow_default_and_store_usable() {
    let (mut store, inst) = instance(TRAPS);
    for _ in 0..3 {
        assert_trap(
            store.call_export(&inst, "recurse", &[Val::I32(0)]),
            TrapCode::StackOverflow,
        );
        assert_eq!(
            store.call_export(&inst, "ok", &[]).unwrap(),
            vec![Val::I32(7)]
        );
    }
}

#[test]
fn stack_overflow_with_stack_limit() {
    for bytes in [0, 4096, 64 << 10, 1 << 20] {
        let (mut store, inst) = instance_with(
            Config::new().max_stack_bytes(bytes),
            Limits::unlimited(),
            TRAPS,
        );
        assert_trap(
            store.call_export(&inst, "recurse", &[Val::I32(0)]),
            TrapCode::StackOverflow,
        );
        assert_eq!(
            store.call_export(&inst, "ok", &[]).unwrap(),
            vec![Val::I32(7)]
        );
    }
}

#[test]
fn stack_limit_allows_moderate_recursion() {
    let wat = r#"(module
      (func $down (export "down") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
          (then (i32.const 0))
          (else (i32.add (call $down (i32.sub (local.get 0) (i32.const 1))) (i32.const 1))))))"#;
    // 512 KiB -> 4096 frames.
    let (mut store, inst) = instance_with(
        Config::new().max_stack_bytes(512 << 10),
        Limits::unlimited(),
        wat,
    );
    assert_eq!(
        store.call_export(&inst, "down", &[Val::I32(3000)]).unwrap(),
        vec![Val::I32(3000)]
    );
    assert_trap(
        store.call_export(&inst, "down", &[Val::I32(100_000)]),
        TrapCode::StackOverflow,
    );
    assert_eq!(
        store.call_export(&inst, "down", &[Val::I32(10)]).unwrap(),
        vec![Val::I32(10)]
    );
}

#[test]
fn trap_in_start_function() {
    let engine = engine(Config::default());
    let module = compile(&engine, "(module (func $s unreachable) (start $s))");
    let mut store = engine.store((), &Limits::new()).unwrap();
    assert_trap(
        store.instantiate(&module, &Linker::new()),
        TrapCode::Unreachable,
    );
    let module = compile(
        &engine,
        "(module (func $s (drop (i32.div_u (i32.const 1) (i32.const 0)))) (start $s))",
    );
    assert_trap(
        store.instantiate(&module, &Linker::new()),
        TrapCode::IntegerDivisionByZero,
    );
    // Still usable.
    let ok = compile(
        &engine,
        r#"(module (func (export "f") (result i32) (i32.const 1)))"#,
    );
    let inst = store.instantiate(&ok, &Linker::new()).unwrap();
    assert_eq!(
        store.call_export(&inst, "f", &[]).unwrap(),
        vec![Val::I32(1)]
    );
}

#[test]
fn start_function_runs() {
    let (mut store, inst) = instance(
        r#"(module (global $g (export "g") (mut i32) (i32.const 0))
             (func $s (global.set $g (i32.const 42))) (start $s))"#,
    );
    assert_eq!(store.global_get(&inst, "g").unwrap(), Val::I32(42));
}

#[test]
fn segment_initialisation_out_of_bounds() {
    let engine = engine(Config::default());
    let mut store = engine.store((), &Limits::new()).unwrap();
    let data = compile(
        &engine,
        r#"(module (memory 1) (data (i32.const 65535) "ab"))"#,
    );
    assert_trap(
        store.instantiate(&data, &Linker::new()),
        TrapCode::MemoryOutOfBounds,
    );
    let elem = compile(
        &engine,
        "(module (table 1 funcref) (func $f) (elem (i32.const 1) $f))",
    );
    assert_trap(
        store.instantiate(&elem, &Linker::new()),
        TrapCode::TableOutOfBounds,
    );
}

#[test]
fn errors_are_tagged_and_displayed() {
    let (mut store, inst) = instance(TRAPS);
    let e = store.call_export(&inst, "unreachable", &[]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("[wasmi] trap: unreachable executed"),
        "{e}"
    );
    assert_eq!(e.trap_code(), Some(TrapCode::Unreachable));
    assert_kind(
        store.call_export(&inst, "nope", &[]),
        ErrorKind::ExportNotFound,
    );
}
