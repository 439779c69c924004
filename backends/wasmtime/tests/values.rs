//! Values: bit-exact floats, v128, references; globals, tables, memory.

mod common;

use anywasm_core::{
    ErrorKind, ExternRef, FuncRef, FuncType, HostError, Limits, Linker, Store as _, StoreExt,
    TrapCode, Val, ValType,
};
use common::*;

#[test]
fn nan_payloads_survive_in_and_out() {
    let (mut store, inst) = instance(
        r#"(module
          (func (export "f32") (param f32) (result f32) local.get 0)
          (func (export "f64") (param f64) (result f64) local.get 0)
          (func (export "f32_const") (result f32) (f32.const nan:0x200001))
          (func (export "f64_const") (result f64) (f64.const -nan:0x4000000000001))
          (func (export "f32_reinterpret") (param i32) (result f32) (f32.reinterpret_i32 (local.get 0))))"#,
    );
    for bits in [
        0x7fc0_0001u32,
        0xffa0_0000,
        0x7f80_0001,
        0x0000_0001,
        0x8000_0000,
    ] {
        assert_eq!(
            call(&mut store, &inst, "f32", &[Val::F32(bits)]).unwrap(),
            [Val::F32(bits)]
        );
        assert_eq!(
            call(
                &mut store,
                &inst,
                "f32_reinterpret",
                &[Val::I32(bits as i32)]
            )
            .unwrap(),
            [Val::F32(bits)]
        );
    }
    for bits in [
        0x7ff8_0000_0000_0001u64,
        0xfff4_0000_0000_0000,
        0x7ff0_0000_0000_0001,
    ] {
        assert_eq!(
            call(&mut store, &inst, "f64", &[Val::F64(bits)]).unwrap(),
            [Val::F64(bits)]
        );
    }
    assert_eq!(
        call(&mut store, &inst, "f32_const", &[]).unwrap(),
        [Val::F32(0x7fa0_0001)]
    );
    assert_eq!(
        call(&mut store, &inst, "f64_const", &[]).unwrap(),
        [Val::F64(0xfff4_0000_0000_0001)]
    );
}

#[test]
fn nan_payloads_through_host_functions() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module
          (import "env" "id" (func $id (param f32 f64) (result f32 f64)))
          (func (export "run") (param f32 f64) (result f32 f64)
            (call $id (local.get 0) (local.get 1))))"#,
    );
    let mut linker = Linker::<()>::new();
    linker.func(
        "env",
        "id",
        FuncType::new([ValType::F32, ValType::F64], [ValType::F32, ValType::F64]),
        |_, args, results| {
            assert_eq!(args[0], Val::F32(0x7f80_0123));
            results.copy_from_slice(args);
            Ok(())
        },
    );
    let mut store = engine.store((), &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    let args = [Val::F32(0x7f80_0123), Val::F64(0xfff0_0000_dead_beef)];
    assert_eq!(call(&mut store, &inst, "run", &args).unwrap(), args);
}

#[test]
fn v128_round_trip() {
    let (mut store, inst) = instance(
        r#"(module
          (func (export "id") (param v128) (result v128) local.get 0)
          (func (export "lane0") (param v128) (result i32) (i32x4.extract_lane 0 (local.get 0)))
          (func (export "make") (result v128) (v128.const i32x4 1 2 3 4)))"#,
    );
    let v = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
    assert_eq!(
        call(&mut store, &inst, "id", &[Val::V128(v)]).unwrap(),
        [Val::V128(v)]
    );
    assert_eq!(
        call(&mut store, &inst, "lane0", &[Val::V128(v)]).unwrap(),
        [Val::I32(0x7654_3210)]
    );
    assert_eq!(
        call(&mut store, &inst, "make", &[]).unwrap(),
        [Val::V128(1 | 2 << 32 | 3 << 64 | 4 << 96)]
    );
}

#[test]
fn externref_round_trip() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module
          (import "env" "inspect" (func $inspect (param externref) (result externref)))
          (table $t (export "t") 4 externref)
          (global $g (export "g") (mut externref) (ref.null extern))
          (func (export "id") (param externref) (result externref) local.get 0)
          (func (export "is_null") (param externref) (result i32) (ref.is_null (local.get 0)))
          (func (export "via_host") (param externref) (result externref) (call $inspect (local.get 0)))
          (func (export "stash") (param externref) (table.set $t (i32.const 1) (local.get 0))))"#,
    );
    let mut linker = Linker::<Vec<Val>>::new();
    linker.func(
        "env",
        "inspect",
        FuncType::new([ValType::ExternRef], [ValType::ExternRef]),
        |caller, args, results| {
            caller.data_mut().push(args[0]);
            results[0] = match args[0] {
                Val::ExternRef(Some(ExternRef(n))) => Val::ExternRef(Some(ExternRef(n + 1))),
                other => other,
            };
            Ok(())
        },
    );
    let mut store = engine.store(Vec::new(), &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    for v in [Val::ExternRef(Some(ExternRef(42))), Val::ExternRef(None)] {
        assert_eq!(call(&mut store, &inst, "id", &[v]).unwrap(), [v]);
    }
    assert_eq!(
        call(&mut store, &inst, "is_null", &[Val::ExternRef(None)]).unwrap(),
        [Val::I32(1)]
    );
    assert_eq!(
        call(
            &mut store,
            &inst,
            "via_host",
            &[Val::ExternRef(Some(ExternRef(7)))]
        )
        .unwrap(),
        [Val::ExternRef(Some(ExternRef(8)))]
    );
    assert_eq!(store.data()[0], Val::ExternRef(Some(ExternRef(7))));

    call(
        &mut store,
        &inst,
        "stash",
        &[Val::ExternRef(Some(ExternRef(u32::MAX)))],
    )
    .unwrap();
    assert_eq!(
        store.table_get(&inst, "t", 1).unwrap(),
        Val::ExternRef(Some(ExternRef(u32::MAX)))
    );
    store
        .table_set(&inst, "t", 2, Val::ExternRef(Some(ExternRef(5))))
        .unwrap();
    assert_eq!(
        store.table_get(&inst, "t", 2).unwrap(),
        Val::ExternRef(Some(ExternRef(5)))
    );
    assert_eq!(
        store.table_get(&inst, "t", 0).unwrap(),
        Val::ExternRef(None)
    );
    store
        .global_set(&inst, "g", Val::ExternRef(Some(ExternRef(99))))
        .unwrap();
    assert_eq!(
        store.global_get(&inst, "g").unwrap(),
        Val::ExternRef(Some(ExternRef(99)))
    );
    // A funcref where an externref is expected is a type mismatch.
    assert_kind(
        store.table_set(&inst, "t", 0, Val::FuncRef(None)),
        ErrorKind::TypeMismatch,
    );
    assert_kind(
        store.global_set(&inst, "g", Val::I32(1)),
        ErrorKind::TypeMismatch,
    );
}

#[test]
fn many_externref_calls_do_not_accumulate() {
    let (mut store, inst) = instance(
        r#"(module (func (export "id") (param externref) (result externref) local.get 0))"#,
    );
    for i in 0..50_000u32 {
        let v = Val::ExternRef(Some(ExternRef(i)));
        assert_eq!(call(&mut store, &inst, "id", &[v]).unwrap(), [v]);
    }
}

#[test]
fn funcref_round_trip_and_dedupe() {
    let (mut store, inst) = instance(
        r#"(module
          (type $i (func (result i32)))
          (table $t (export "t") 3 funcref)
          (global $g (export "g") (mut funcref) (ref.null func))
          (func $seven (export "seven") (result i32) i32.const 7)
          (func $eight (result i32) i32.const 8)
          (elem (table $t) (i32.const 0) func $seven $eight)
          (elem declare func $seven)
          (func (export "get") (param i32) (result funcref) (table.get $t (local.get 0)))
          (func (export "ref_seven") (result funcref) (ref.func $seven))
          (func (export "call") (param funcref) (result i32)
            (table.set $t (i32.const 2) (local.get 0))
            (call_indirect $t (type $i) (i32.const 2))))"#,
    );
    let a = call(&mut store, &inst, "get", &[Val::I32(0)]).unwrap()[0];
    let b = call(&mut store, &inst, "get", &[Val::I32(1)]).unwrap()[0];
    assert!(matches!(a, Val::FuncRef(Some(_))));
    assert_ne!(a, b);
    // Reading the same function again gives the same handle (no growth).
    for _ in 0..100 {
        assert_eq!(
            call(&mut store, &inst, "get", &[Val::I32(0)]).unwrap()[0],
            a
        );
    }
    assert_eq!(call(&mut store, &inst, "ref_seven", &[]).unwrap()[0], a);
    assert_eq!(store.table_get(&inst, "t", 0).unwrap(), a);
    assert_eq!(
        call(&mut store, &inst, "call", &[b]).unwrap(),
        [Val::I32(8)]
    );
    assert_eq!(
        call(&mut store, &inst, "call", &[a]).unwrap(),
        [Val::I32(7)]
    );
    assert_trap(
        call(&mut store, &inst, "call", &[Val::FuncRef(None)]),
        TrapCode::IndirectCallToNull,
    );
    // Unknown handles are rejected before the call.
    assert_kind(
        call(
            &mut store,
            &inst,
            "call",
            &[Val::FuncRef(Some(FuncRef(9999)))],
        ),
        ErrorKind::TypeMismatch,
    );
    store.global_set(&inst, "g", b).unwrap();
    assert_eq!(store.global_get(&inst, "g").unwrap(), b);
    store.table_set(&inst, "t", 2, a).unwrap();
    assert_eq!(store.table_get(&inst, "t", 2).unwrap(), a);
    assert_eq!(store.table_grow(&inst, "t", 2, b).unwrap(), 3);
    assert_eq!(store.table_get(&inst, "t", 4).unwrap(), b);
    assert_kind(store.table_get(&inst, "t", 5), ErrorKind::OutOfBounds);
    assert_kind(store.table_set(&inst, "t", 5, a), ErrorKind::OutOfBounds);
    assert_kind(
        store.table_get(&inst, "missing", 0),
        ErrorKind::ExportNotFound,
    );
}

#[test]
fn funcref_from_host_function() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module
          (type $i (func (result i32)))
          (import "env" "pick" (func $pick (param funcref) (result funcref)))
          (table $t 1 funcref)
          (func $nine (result i32) i32.const 9)
          (elem declare func $nine)
          (func (export "run") (result i32)
            (table.set $t (i32.const 0) (call $pick (ref.func $nine)))
            (call_indirect $t (type $i) (i32.const 0))))"#,
    );
    let mut linker = Linker::<Option<Val>>::new();
    linker.func(
        "env",
        "pick",
        FuncType::new([ValType::FuncRef], [ValType::FuncRef]),
        |caller, args, results| {
            *caller.data_mut() = Some(args[0]);
            results[0] = args[0];
            Ok(())
        },
    );
    let mut store = engine.store(None, &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    assert_eq!(call(&mut store, &inst, "run", &[]).unwrap(), [Val::I32(9)]);
    assert!(matches!(store.data(), Some(Val::FuncRef(Some(_)))));

    // A host function returning an unknown funcref is a host error.
    let mut bad = Linker::<Option<Val>>::new();
    bad.func(
        "env",
        "pick",
        FuncType::new([ValType::FuncRef], [ValType::FuncRef]),
        |_, _, results| {
            results[0] = Val::FuncRef(Some(FuncRef(123_456)));
            Ok(())
        },
    );
    let inst = store.instantiate(&module, &bad).unwrap();
    let e = assert_trap(call(&mut store, &inst, "run", &[]), TrapCode::HostError);
    let _: &HostError = e.host_error().unwrap();
}

#[test]
fn globals() {
    let (mut store, inst) = instance(
        r#"(module
          (global (export "c") i32 (i32.const 5))
          (global (export "m") (mut i64) (i64.const -1))
          (global (export "f") (mut f32) (f32.const 0))
          (func (export "read_m") (result i64) (global.get 1)))"#,
    );
    assert_eq!(store.global_get(&inst, "c").unwrap(), Val::I32(5));
    assert_eq!(store.global_get(&inst, "m").unwrap(), Val::I64(-1));
    assert_kind(
        store.global_set(&inst, "c", Val::I32(6)),
        ErrorKind::TypeMismatch,
    );
    assert_kind(
        store.global_set(&inst, "m", Val::I32(6)),
        ErrorKind::TypeMismatch,
    );
    store.global_set(&inst, "m", Val::I64(77)).unwrap();
    assert_eq!(
        call(&mut store, &inst, "read_m", &[]).unwrap(),
        [Val::I64(77)]
    );
    store.global_set(&inst, "f", Val::F32(0x7fc0_0abc)).unwrap();
    assert_eq!(store.global_get(&inst, "f").unwrap(), Val::F32(0x7fc0_0abc));
    assert_kind(store.global_get(&inst, "nope"), ErrorKind::ExportNotFound);
    assert_kind(store.global_get(&inst, "read_m"), ErrorKind::ExportNotFound);
}

#[test]
fn host_memory_accessors() {
    let (mut store, inst) = instance(
        r#"(module (memory (export "mem") 1 3) (data (i32.const 0) "abc")
           (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0))))"#,
    );
    assert_eq!(store.memory_size(&inst, "mem").unwrap(), 65536);
    assert_eq!(store.memory_read_vec(&inst, "mem", 0, 3).unwrap(), b"abc");
    store.memory_write(&inst, "mem", 65535, b"z").unwrap();
    assert_eq!(
        call(&mut store, &inst, "load", &[Val::I32(65535)]).unwrap(),
        [Val::I32(b'z' as i32)]
    );
    assert_kind(
        store.memory_write(&inst, "mem", 65535, b"zz"),
        ErrorKind::OutOfBounds,
    );
    let mut buf = [0u8; 4];
    assert_kind(
        store.memory_read(&inst, "mem", u64::MAX - 1, &mut buf),
        ErrorKind::OutOfBounds,
    );
    // (`memory_read_vec` is a core default method; its range error is core's.)
    assert_eq!(
        store
            .memory_read_vec(&inst, "mem", 65536, 1)
            .unwrap_err()
            .kind(),
        ErrorKind::OutOfBounds
    );
    assert_eq!(store.memory_grow(&inst, "mem", 1).unwrap(), 1);
    assert_eq!(store.memory_size(&inst, "mem").unwrap(), 2 * 65536);
    // After growing, the new region is visible at once.
    store.memory_write(&inst, "mem", 65536 + 10, b"q").unwrap();
    assert_eq!(
        call(&mut store, &inst, "load", &[Val::I32(65536 + 10)]).unwrap(),
        [Val::I32(b'q' as i32)]
    );
    assert_kind(store.memory_size(&inst, "load"), ErrorKind::ExportNotFound);
    assert_kind(store.memory_size(&inst, "nope"), ErrorKind::ExportNotFound);
}

#[test]
fn call_type_checks() {
    let (mut store, inst) =
        instance(r#"(module (func (export "f") (param i32 f64) (result i64) (i64.const 1)))"#);
    let f = store.get_func(&inst, "f").unwrap();
    assert_eq!(
        store.func_type(&f),
        FuncType::new([ValType::I32, ValType::F64], [ValType::I64])
    );
    let mut r = [Val::I64(0)];
    assert_kind(
        store.call(&f, &[Val::I32(1)], &mut r),
        ErrorKind::TypeMismatch,
    );
    assert_kind(
        store.call(&f, &[Val::I32(1), Val::F32(0)], &mut r),
        ErrorKind::TypeMismatch,
    );
    assert_kind(
        store.call(&f, &[Val::I32(1), Val::F64(0)], &mut []),
        ErrorKind::TypeMismatch,
    );
    store.call(&f, &[Val::I32(1), Val::F64(0)], &mut r).unwrap();
    assert_eq!(r, [Val::I64(1)]);
    assert_kind(store.get_func(&inst, "g"), ErrorKind::ExportNotFound);
}

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

#[test]
fn externrefs_work_under_a_small_memory_cap() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module (memory 1) (func (export "id") (param externref) (result externref) local.get 0))"#,
    );
    let mut store = engine
        .store((), &Limits::new().memory_bytes(65536))
        .unwrap();
    let inst = store.instantiate(&module, &Linker::new()).unwrap();
    for i in 0..10_000 {
        let v = Val::ExternRef(Some(ExternRef(i)));
        assert_eq!(call(&mut store, &inst, "id", &[v]).unwrap(), [v]);
    }
}
