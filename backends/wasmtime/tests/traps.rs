//! Every trap maps to the same `TrapCode` as on the other backends, and the
//! store stays usable afterwards.

mod common;

use anywasm_core::{Config, ErrorKind, Limits, Linker, Store as _, TrapCode, Val};
use anywasm_wasmtime::Engine;
use common::*;

const TRAPS: &str = r#"
(module
  (type $v (func))
  (type $i (func (result i32)))
  (memory 1)
  (table $t 2 funcref)
  (elem (table $t) (i32.const 0) func $ok)
  (func $ok (result i32) i32.const 7)
  (func $other)
  (func (export "ok") (result i32) i32.const 1)
  (func (export "unreachable") unreachable)
  (func (export "mem_oob") (result i32) (i32.load (i32.const 65536)))
  (func (export "mem_store_oob") (i32.store (i32.const 65534) (i32.const 1)))
  (func (export "mem_fill_oob") (memory.fill (i32.const 65000) (i32.const 0) (i32.const 1000)))
  (func (export "table_oob") (result i32) (call_indirect $t (type $i) (i32.const 5)))
  (func (export "table_get_oob") (drop (table.get $t (i32.const 9))))
  (func (export "null_slot") (result i32) (call_indirect $t (type $i) (i32.const 1)))
  (func (export "bad_sig") (call_indirect $t (type $v) (i32.const 0)))
  (func (export "overflow") (result i32) (i32.div_s (i32.const 0x80000000) (i32.const -1)))
  (func (export "div_zero") (result i32) (i32.div_u (i32.const 1) (i32.const 0)))
  (func (export "rem_zero") (result i64) (i64.rem_s (i64.const 1) (i64.const 0)))
  (func (export "trunc_nan") (result i32) (i32.trunc_f32_s (f32.const nan)))
  (func (export "trunc_range") (result i64) (i64.trunc_f64_u (f64.const -1e30)))
  (func $rec (export "recurse") (param i32) (result i32)
    (i32.add (call $rec (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "call_ref_null") (call_ref $v (ref.null $v)))
)
"#;

#[test]
fn each_trap_code() {
    let (mut store, inst) = instance(TRAPS);
    let cases: &[(&str, &[Val], TrapCode)] = &[
        ("unreachable", &[], TrapCode::Unreachable),
        ("mem_oob", &[], TrapCode::MemoryOutOfBounds),
        ("mem_store_oob", &[], TrapCode::MemoryOutOfBounds),
        ("mem_fill_oob", &[], TrapCode::MemoryOutOfBounds),
        ("table_oob", &[], TrapCode::TableOutOfBounds),
        ("table_get_oob", &[], TrapCode::TableOutOfBounds),
        ("null_slot", &[], TrapCode::IndirectCallToNull),
        ("bad_sig", &[], TrapCode::BadSignature),
        ("overflow", &[], TrapCode::IntegerOverflow),
        ("div_zero", &[], TrapCode::IntegerDivisionByZero),
        ("rem_zero", &[], TrapCode::IntegerDivisionByZero),
        ("trunc_nan", &[], TrapCode::BadConversionToInteger),
        ("trunc_range", &[], TrapCode::IntegerOverflow),
        ("recurse", &[Val::I32(0)], TrapCode::StackOverflow),
        ("call_ref_null", &[], TrapCode::NullReference),
    ];
    for (name, args, code) in cases {
        let e = assert_trap(call(&mut store, &inst, name, args), *code);
        assert_eq!(e.trap_code(), Some(*code), "{name}");
        // The store stays usable after every trap, stack overflow included.
        assert_eq!(call(&mut store, &inst, "ok", &[]).unwrap(), [Val::I32(1)]);
    }
}

#[test]
fn stack_overflow_repeatedly_then_normal_calls() {
    let (mut store, inst) = instance(TRAPS);
    for _ in 0..5 {
        assert_trap(
            call(&mut store, &inst, "recurse", &[Val::I32(0)]),
            TrapCode::StackOverflow,
        );
    }
    assert_eq!(call(&mut store, &inst, "ok", &[]).unwrap(), [Val::I32(1)]);
}

#[test]
fn configured_stack_limit_still_overflows_cleanly() {
    let engine = Engine::new(&Config::new().max_stack_bytes(64 * 1024)).unwrap();
    let module = compile(&engine, TRAPS);
    let mut store = engine.store((), &Limits::unlimited()).unwrap();
    let inst = store.instantiate(&module, &Linker::new()).unwrap();
    assert_trap(
        call(&mut store, &inst, "recurse", &[Val::I32(0)]),
        TrapCode::StackOverflow,
    );
    assert_eq!(call(&mut store, &inst, "ok", &[]).unwrap(), [Val::I32(1)]);
}

#[test]
fn zero_stack_limit_is_an_engine_error() {
    let e = Engine::new(&Config::new().max_stack_bytes(0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Engine);
}

#[test]
fn traps_during_instantiation() {
    let engine = engine();
    let mut store = engine.store((), &Limits::unlimited()).unwrap();
    let linker = Linker::new();

    let start = compile(&engine, "(module (func $s unreachable) (start $s))");
    assert_trap(store.instantiate(&start, &linker), TrapCode::Unreachable);

    let data = compile(
        &engine,
        r#"(module (memory 1) (data (i32.const 65535) "ab"))"#,
    );
    assert_trap(
        store.instantiate(&data, &linker),
        TrapCode::MemoryOutOfBounds,
    );

    let elem = compile(
        &engine,
        "(module (table 1 funcref) (func $f) (elem (i32.const 1) func $f))",
    );
    assert_trap(
        store.instantiate(&elem, &linker),
        TrapCode::TableOutOfBounds,
    );

    let div = compile(
        &engine,
        "(module (func $s (drop (i32.div_s (i32.const 1) (i32.const 0)))) (start $s))",
    );
    assert_trap(
        store.instantiate(&div, &linker),
        TrapCode::IntegerDivisionByZero,
    );

    // The store still works.
    let ok = compile(
        &engine,
        "(module (func (export \"f\") (result i32) i32.const 3))",
    );
    let inst = store.instantiate(&ok, &linker).unwrap();
    assert_eq!(call(&mut store, &inst, "f", &[]).unwrap(), [Val::I32(3)]);
}

#[test]
fn trap_message_and_display() {
    let (mut store, inst) = instance(TRAPS);
    let e = call(&mut store, &inst, "div_zero", &[]).unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.starts_with("[wasmtime] trap: integer divide by zero"),
        "{shown}"
    );
}

/// NaN is "invalid conversion to integer", out of range is "integer overflow" (the spec's wording).
#[test]
fn truncation_traps_follow_the_spec() {
    let (mut store, inst) = instance(
        r#"(module
          (func (export "i32_f32_s") (param f32) (result i32) (i32.trunc_f32_s (local.get 0)))
          (func (export "i32_f32_u") (param f32) (result i32) (i32.trunc_f32_u (local.get 0)))
          (func (export "i32_f64_s") (param f64) (result i32) (i32.trunc_f64_s (local.get 0)))
          (func (export "i32_f64_u") (param f64) (result i32) (i32.trunc_f64_u (local.get 0)))
          (func (export "i64_f32_s") (param f32) (result i64) (i64.trunc_f32_s (local.get 0)))
          (func (export "i64_f32_u") (param f32) (result i64) (i64.trunc_f32_u (local.get 0)))
          (func (export "i64_f64_s") (param f64) (result i64) (i64.trunc_f64_s (local.get 0)))
          (func (export "i64_f64_u") (param f64) (result i64) (i64.trunc_f64_u (local.get 0)))
          (func (export "i64_div") (param i64 i64) (result i64) (i64.div_s (local.get 0) (local.get 1)))
          (func $deep (export "deep") (param i32 f64) (result i32)
            (if (result i32) (i32.eqz (local.get 0))
              (then (i32.trunc_f64_s (local.get 1)))
              (else (call $deep (i32.sub (local.get 0) (i32.const 1)) (local.get 1))))))"#,
    );
    for (name, f64arg) in [
        ("i32_f32_s", false),
        ("i32_f32_u", false),
        ("i32_f64_s", true),
        ("i32_f64_u", true),
        ("i64_f32_s", false),
        ("i64_f32_u", false),
        ("i64_f64_s", true),
        ("i64_f64_u", true),
    ] {
        for x in [1e30, -1e30, f64::INFINITY, f64::NAN] {
            let arg = if f64arg {
                Val::from(x)
            } else {
                Val::from(x as f32)
            };
            let want = if x.is_nan() {
                TrapCode::BadConversionToInteger
            } else {
                TrapCode::IntegerOverflow
            };
            assert_trap(call(&mut store, &inst, name, &[arg]), want);
        }
    }
    assert_trap(
        call(
            &mut store,
            &inst,
            "i64_div",
            &[Val::I64(i64::MIN), Val::I64(-1)],
        ),
        TrapCode::IntegerOverflow,
    );
    // Deeper than wasmtime's default backtrace frame cap (20).
    assert_trap(
        call(
            &mut store,
            &inst,
            "deep",
            &[Val::I32(100), Val::from(1e300)],
        ),
        TrapCode::IntegerOverflow,
    );
    assert_eq!(
        call(&mut store, &inst, "deep", &[Val::I32(3), Val::from(-7.9)]).unwrap(),
        [Val::I32(-7)]
    );
}

#[test]
fn truncation_in_another_module_and_in_start() {
    let engine = engine();
    let mut store = engine.store((), &Limits::unlimited()).unwrap();
    let lib = compile(
        &engine,
        r#"(module (func (export "trunc") (param f64) (result i32) (i32.trunc_f64_s (local.get 0))))"#,
    );
    let lib_inst = store.instantiate(&lib, &Linker::new()).unwrap();
    store.register("lib", &lib_inst).unwrap();
    let user = compile(
        &engine,
        r#"(module
          (import "lib" "trunc" (func $t (param f64) (result i32)))
          (func (export "go") (result i32) (call $t (f64.const 1e20))))"#,
    );
    let user_inst = store.instantiate(&user, &Linker::new()).unwrap();
    assert_trap(
        call(&mut store, &user_inst, "go", &[]),
        TrapCode::IntegerOverflow,
    );

    let start = compile(
        &engine,
        r#"(module (func $s (drop (i32.trunc_f32_u (f32.const -5)))) (start $s))"#,
    );
    assert_trap(
        store.instantiate(&start, &Linker::new()),
        TrapCode::IntegerOverflow,
    );
}
