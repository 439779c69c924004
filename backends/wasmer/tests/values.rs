//! Values bit-exact, references, globals, tables, memory from the host.

mod common;

use anywasm_core::{
    Config, ErrorKind, ExternRef, FuncRef, FuncType, Limits, Store as _, StoreExt, Val, ValType,
};
use common::{assert_kind, setup};

const VALUES: &str = r#"
(module
  (func (export "id_i32") (param i32) (result i32) local.get 0)
  (func (export "id_i64") (param i64) (result i64) local.get 0)
  (func (export "id_f32") (param f32) (result f32) local.get 0)
  (func (export "id_f64") (param f64) (result f64) local.get 0)
  (func (export "id_v128") (param v128) (result v128) local.get 0)
  (func (export "id_externref") (param externref) (result externref) local.get 0)
  (func (export "id_funcref") (param funcref) (result funcref) local.get 0)
  (func (export "multi") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
    local.get 3 local.get 2 local.get 1 local.get 0)
  (func (export "f32_nan") (result f32) f32.const nan:0x200001)
  (func (export "f64_nan") (result f64) f64.const -nan:0x4000000000001)
  (func (export "v128_const") (result v128)
    v128.const i32x4 0x01020304 0x05060708 0x090a0b0c 0x0d0e0f10)
  (func (export "v128_add") (param v128 v128) (result v128)
    local.get 0 local.get 1 i32x4.add)
  (func (export "is_null_extern") (param externref) (result i32)
    local.get 0 ref.is_null)
  (global $g_i64 (export "g_i64") (mut i64) (i64.const 7))
  (global (export "g_f64") (mut f64) (f64.const 1.5))
  (global (export "g_const") i32 (i32.const 42))
  (global (export "g_ext") (mut externref) (ref.null extern))
  (global (export "g_func") (mut funcref) (ref.func $target))
  (func (export "read_g_i64") (result i64) global.get $g_i64)
  (table (export "funcs") 2 funcref)
  (table (export "externs") 1 externref)
  (elem (i32.const 0) $target)
  (func $target (export "target") (result i32) i32.const 99)
  (func (export "call_table") (param i32) (result i32)
    local.get 0 call_indirect (result i32))
  (func (export "get_target") (result funcref) ref.func $target)
  (memory (export "memory") 1)
  (func (export "load_i32") (param i32) (result i32) local.get 0 i32.load)
  (func (export "store_i32") (param i32 i32) local.get 0 local.get 1 i32.store)
)"#;

fn sandbox() -> (
    anywasm_wasmer::Engine,
    anywasm_wasmer::Store<()>,
    anywasm_wasmer::Instance,
) {
    setup(VALUES, &Config::new(), &Limits::new())
}

#[test]
fn integers_round_trip() {
    let (_e, mut s, i) = sandbox();
    for v in [0, 1, -1, i32::MIN, i32::MAX, 0x1234_5678] {
        assert_eq!(
            s.call_export(&i, "id_i32", &[Val::I32(v)]).unwrap(),
            [Val::I32(v)]
        );
    }
    for v in [0, -1, i64::MIN, i64::MAX, 0x0123_4567_89ab_cdef] {
        assert_eq!(
            s.call_export(&i, "id_i64", &[Val::I64(v)]).unwrap(),
            [Val::I64(v)]
        );
    }
}

#[test]
fn float_bits_round_trip() {
    let (_e, mut s, i) = sandbox();
    for bits in [
        0u32,
        0x8000_0000,
        0x7f80_0000,
        0xff80_0000,
        0x7fc0_0000,
        0x7fc0_0001,
        0xffc1_2345,
        0x7fa0_0000,
        0x0000_0001,
        0x3f80_0000,
    ] {
        assert_eq!(
            s.call_export(&i, "id_f32", &[Val::F32(bits)]).unwrap(),
            [Val::F32(bits)]
        );
    }
    assert_eq!(
        s.call_export(&i, "f32_nan", &[]).unwrap(),
        [Val::F32(0x7fa0_0001)]
    );
    for bits in [
        0u64,
        1 << 63,
        0x7ff0_0000_0000_0000,
        0x7ff8_0000_0000_0001,
        0xfff4_0000_0000_0001,
        1,
        0x3ff0_0000_0000_0000,
    ] {
        assert_eq!(
            s.call_export(&i, "id_f64", &[Val::F64(bits)]).unwrap(),
            [Val::F64(bits)]
        );
    }
    assert_eq!(
        s.call_export(&i, "f64_nan", &[]).unwrap(),
        [Val::F64(0xfff4_0000_0000_0001)]
    );
}

#[test]
fn v128_round_trips() {
    let (_e, mut s, i) = sandbox();
    let v = 0x0011_2233_4455_6677_8899_aabb_ccdd_eeffu128;
    assert_eq!(
        s.call_export(&i, "id_v128", &[Val::V128(v)]).unwrap(),
        [Val::V128(v)]
    );
    assert_eq!(
        s.call_export(&i, "v128_const", &[]).unwrap(),
        [Val::V128(0x0d0e0f10_090a0b0c_05060708_01020304)]
    );
    let one = 0x0000_0001_0000_0001_0000_0001_0000_0001u128;
    assert_eq!(
        s.call_export(&i, "v128_add", &[Val::V128(one), Val::V128(one)])
            .unwrap(),
        [Val::V128(one * 2)]
    );
}

#[test]
fn multi_value() {
    let (_e, mut s, i) = sandbox();
    assert_eq!(
        s.call_export(
            &i,
            "multi",
            &[
                Val::I32(1),
                Val::I64(2),
                Val::F32(0x7fc0_0003),
                Val::F64(4.5f64.to_bits())
            ]
        )
        .unwrap(),
        [
            Val::F64(4.5f64.to_bits()),
            Val::F32(0x7fc0_0003),
            Val::I64(2),
            Val::I32(1)
        ]
    );
}

#[test]
fn externrefs_round_trip() {
    let (_e, mut s, i) = sandbox();
    for n in [0, 1, 0xdead_beef, u32::MAX] {
        let r = Val::ExternRef(Some(ExternRef(n)));
        assert_eq!(s.call_export(&i, "id_externref", &[r]).unwrap(), [r]);
        assert_eq!(
            s.call_export(&i, "is_null_extern", &[r]).unwrap(),
            [Val::I32(0)]
        );
    }
    let null = Val::ExternRef(None);
    assert_eq!(s.call_export(&i, "id_externref", &[null]).unwrap(), [null]);
    assert_eq!(
        s.call_export(&i, "is_null_extern", &[null]).unwrap(),
        [Val::I32(1)]
    );
    // Through a table.
    let r = Val::ExternRef(Some(ExternRef(17)));
    s.table_set(&i, "externs", 0, r).unwrap();
    assert_eq!(s.table_get(&i, "externs", 0).unwrap(), r);
    assert_eq!(s.table_grow(&i, "externs", 2, null).unwrap(), 1);
    assert_eq!(s.table_get(&i, "externs", 2).unwrap(), null);
}

#[test]
fn funcrefs_round_trip() {
    let (_e, mut s, i) = sandbox();
    let f = s.table_get(&i, "funcs", 0).unwrap();
    assert!(matches!(f, Val::FuncRef(Some(_))), "{f:?}");
    let back = s.call_export(&i, "id_funcref", &[f]).unwrap();
    assert_eq!(back, [f], "the same function gets the same FuncRef");
    s.table_set(&i, "funcs", 1, back[0]).unwrap();
    assert_eq!(
        s.call_export(&i, "call_table", &[Val::I32(1)]).unwrap(),
        [Val::I32(99)]
    );
    let null = Val::FuncRef(None);
    assert_eq!(s.call_export(&i, "id_funcref", &[null]).unwrap(), [null]);
    // Deduplicated: a loop handing out the same function does not grow the table.
    let first = s.call_export(&i, "get_target", &[]).unwrap();
    for _ in 0..100 {
        assert_eq!(s.call_export(&i, "get_target", &[]).unwrap(), first);
    }
    assert_eq!(first, [f]);
    assert_eq!(s.global_get(&i, "g_func").unwrap(), f);
    // Unknown index.
    let bogus = Val::FuncRef(Some(FuncRef(12345)));
    assert_kind(
        s.call_export(&i, "id_funcref", &[bogus]),
        ErrorKind::TypeMismatch,
    );
    assert_kind(s.table_set(&i, "funcs", 1, bogus), ErrorKind::TypeMismatch);
    // Null it again.
    s.global_set(&i, "g_func", null).unwrap();
    assert_eq!(s.global_get(&i, "g_func").unwrap(), null);
}

#[test]
fn globals() {
    let (_e, mut s, i) = sandbox();
    assert_eq!(s.global_get(&i, "g_i64").unwrap(), Val::I64(7));
    s.global_set(&i, "g_i64", Val::I64(-5)).unwrap();
    assert_eq!(
        s.call_export(&i, "read_g_i64", &[]).unwrap(),
        [Val::I64(-5)]
    );
    s.global_set(&i, "g_f64", Val::F64(0x7ff8_0000_0000_00ff))
        .unwrap();
    assert_eq!(
        s.global_get(&i, "g_f64").unwrap(),
        Val::F64(0x7ff8_0000_0000_00ff)
    );
    let r = Val::ExternRef(Some(ExternRef(3)));
    s.global_set(&i, "g_ext", r).unwrap();
    assert_eq!(s.global_get(&i, "g_ext").unwrap(), r);
    assert_eq!(s.global_get(&i, "g_const").unwrap(), Val::I32(42));
    assert_kind(
        s.global_set(&i, "g_const", Val::I32(1)),
        ErrorKind::TypeMismatch,
    );
    assert_kind(
        s.global_set(&i, "g_i64", Val::I32(1)),
        ErrorKind::TypeMismatch,
    );
    assert_kind(s.global_get(&i, "nope"), ErrorKind::ExportNotFound);
    assert_kind(s.global_get(&i, "memory"), ErrorKind::ExportNotFound);
}

#[test]
fn tables_from_the_host() {
    let (_e, mut s, i) = sandbox();
    assert_eq!(s.table_size(&i, "funcs").unwrap(), 2);
    assert_eq!(s.table_get(&i, "funcs", 1).unwrap(), Val::FuncRef(None));
    let f = s.table_get(&i, "funcs", 0).unwrap();
    assert_eq!(s.table_grow(&i, "funcs", 3, f).unwrap(), 2);
    assert_eq!(s.table_size(&i, "funcs").unwrap(), 5);
    assert_eq!(
        s.call_export(&i, "call_table", &[Val::I32(4)]).unwrap(),
        [Val::I32(99)]
    );
    assert_kind(s.table_get(&i, "funcs", 5), ErrorKind::OutOfBounds);
    assert_kind(s.table_get(&i, "funcs", u64::MAX), ErrorKind::OutOfBounds);
    assert_kind(s.table_set(&i, "funcs", 5, f), ErrorKind::OutOfBounds);
    assert_kind(
        s.table_set(&i, "funcs", 0, Val::I32(1)),
        ErrorKind::TypeMismatch,
    );
    assert_kind(
        s.table_set(&i, "funcs", 0, Val::ExternRef(None)),
        ErrorKind::TypeMismatch,
    );
    assert_kind(s.table_size(&i, "memory"), ErrorKind::ExportNotFound);
}

#[test]
fn memory_from_the_host() {
    let (_e, mut s, i) = sandbox();
    s.memory_write(&i, "memory", 100, &0x1122_3344u32.to_le_bytes())
        .unwrap();
    assert_eq!(
        s.call_export(&i, "load_i32", &[Val::I32(100)]).unwrap(),
        [Val::I32(0x1122_3344)]
    );
    s.call_export(&i, "store_i32", &[Val::I32(65532), Val::I32(-2)])
        .unwrap();
    let mut buf = [0u8; 4];
    s.memory_read(&i, "memory", 65532, &mut buf).unwrap();
    assert_eq!(buf, (-2i32).to_le_bytes());
    assert_eq!(s.memory_size(&i, "memory").unwrap(), 65536);
    assert_eq!(s.memory_grow(&i, "memory", 2).unwrap(), 1);
    assert_eq!(s.memory_size(&i, "memory").unwrap(), 3 * 65536);
    s.call_export(&i, "store_i32", &[Val::I32(3 * 65536 - 4), Val::I32(9)])
        .unwrap();
    assert_eq!(
        s.call_export(&i, "load_i32", &[Val::I32(3 * 65536 - 4)])
            .unwrap(),
        [Val::I32(9)]
    );
    let mut buf = [0u8; 8];
    assert_kind(
        s.memory_read(&i, "memory", 3 * 65536 - 4, &mut buf),
        ErrorKind::OutOfBounds,
    );
    assert_kind(
        s.memory_read(&i, "memory", u64::MAX, &mut buf),
        ErrorKind::OutOfBounds,
    );
    assert_kind(
        s.memory_write(&i, "memory", 3 * 65536, &[1]),
        ErrorKind::OutOfBounds,
    );
    assert_kind(s.memory_size(&i, "nope"), ErrorKind::ExportNotFound);
    assert_kind(s.memory_size(&i, "funcs"), ErrorKind::ExportNotFound);
    // Zero-length accesses at the end are fine.
    s.memory_read(&i, "memory", 3 * 65536, &mut []).unwrap();
}

#[test]
fn argument_mismatch() {
    let (_e, mut s, i) = sandbox();
    assert_kind(
        s.call_export(&i, "id_i32", &[Val::I64(1)]),
        ErrorKind::TypeMismatch,
    );
    assert_kind(s.call_export(&i, "id_i32", &[]), ErrorKind::TypeMismatch);
    assert_kind(
        s.call_export(&i, "id_i32", &[Val::I32(1), Val::I32(2)]),
        ErrorKind::TypeMismatch,
    );
    let f = s.get_func(&i, "id_i32").unwrap();
    assert_kind(s.call(&f, &[Val::I32(1)], &mut []), ErrorKind::TypeMismatch);
    assert_eq!(
        s.func_type(&f),
        FuncType::new([ValType::I32], [ValType::I32])
    );
}
