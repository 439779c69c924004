//! What only wasmtime runs: typed function references and GC types (the
//! other engines reject such modules). Values, references, globals, tables and
//! memory from the host are conformance checks
//! (`conformance/src/checks/values.rs`, `memory.rs`).

mod common;

use anywasm_core::{ErrorKind, FuncType, Store as _, StoreExt as _, TrapCode, Val, ValType};
use common::*;

#[test]
fn typed_function_references() {
    // (ref $t) / (ref null $t) parameters show up as funcref; a function of
    // the wrong concrete type is rejected as a type mismatch.
    let (mut store, inst) = instance(
        r#"(module
          (type $i (func (result i32)))
          (type $v (func))
          (func $one (type $i) i32.const 1)
          (func $nop (type $v))
          (elem declare func $one $nop)
          (func (export "one") (result (ref $i)) (ref.func $one))
          (func (export "nop") (result (ref $v)) (ref.func $nop))
          (func (export "call") (param (ref null $i)) (result i32) (call_ref $i (local.get 0))))"#,
    );
    let f = store.get_func(&inst, "call").unwrap();
    assert_eq!(
        store.func_type(&f),
        FuncType::new([ValType::FuncRef], [ValType::I32])
    );
    let one = call(&mut store, &inst, "one", &[]).unwrap()[0];
    let nop = call(&mut store, &inst, "nop", &[]).unwrap()[0];
    assert_eq!(
        call(&mut store, &inst, "call", &[one]).unwrap(),
        [Val::I32(1)]
    );
    assert_kind(
        call(&mut store, &inst, "call", &[nop]),
        ErrorKind::TypeMismatch,
    );
    assert_trap(
        call(&mut store, &inst, "call", &[Val::FuncRef(None)]),
        TrapCode::NullReference,
    );
}

#[test]
fn gc_types_are_unsupported_not_panics() {
    let (mut store, inst) = instance(
        r#"(module
          (type $s (struct (field i32)))
          (global (export "any") (mut anyref) (ref.null any))
          (func (export "take") (param anyref))
          (func (export "get") (param (ref null $s)) (result i32) (struct.get $s 0 (local.get 0)))
          (func (export "null_struct") (result i32) (struct.get $s 0 (ref.null $s))))"#,
    );
    assert_kind(store.get_func(&inst, "take"), ErrorKind::Unsupported);
    assert_kind(store.get_func(&inst, "get"), ErrorKind::Unsupported);
    assert_kind(store.global_get(&inst, "any"), ErrorKind::Unsupported);
    assert_kind(
        store.global_set(&inst, "any", Val::ExternRef(None)),
        ErrorKind::Unsupported,
    );
    assert_trap(
        call(&mut store, &inst, "null_struct", &[]),
        TrapCode::NullReference,
    );
}
