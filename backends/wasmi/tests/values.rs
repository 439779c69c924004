//! Values (bit-exact floats, v128, references), globals, tables, memory,
//! handles and type checks.

mod common;

use anywasm_core::{
    Config, ErrorKind, ExternRef, FuncRef, FuncType, Limits, Linker, Runtime, Store as _, StoreExt,
    Val, ValType,
};
use common::*;

const VALUES: &str = r#"
(module
  (func (export "f32") (param f32) (result f32) (local.get 0))
  (func (export "f64") (param f64) (result f64) (local.get 0))
  (func (export "f32_bits") (param f32) (result i32) (i32.reinterpret_f32 (local.get 0)))
  (func (export "nan64") (result f64) (f64.reinterpret_i64 (i64.const 0x7ff4000000000123)))
  (func (export "ext") (param externref) (result externref) (local.get 0))
  (func (export "ext_is_null") (param externref) (result i32) (ref.is_null (local.get 0)))
  (func $seven (export "seven") (result i32) (i32.const 7))
  (func (export "fref") (param funcref) (result funcref) (local.get 0))
  (func (export "get_seven") (result funcref) (ref.func $seven))
  (func (export "multi") (param i64 i32) (result i32 i64) (local.get 1) (local.get 0))
  (table $t (export "table") 4 funcref)
  (table $e (export "etable") 2 externref)
  (type $r (func (result i32)))
  (func (export "call_slot") (param i32) (result i32) (call_indirect $t (type $r) (local.get 0)))
  (global (export "counter") (mut i32) (i32.const 1))
  (global (export "const") i64 (i64.const 5))
  (global (export "gf") (mut funcref) (ref.null func))
  (global (export "gx") (mut externref) (ref.null extern))
  (global (export "gfl") (mut f64) (f64.const 0))
  (memory (export "memory") 1 3)
)
"#;

#[test]
fn floats_are_bit_exact() {
    let (mut store, inst) = instance(VALUES);
    for bits in [
        0x7fc0_0000u32,
        0x7fa0_0001,
        0xffc1_2345,
        0x8000_0000,
        0x7f80_0000,
        1,
    ] {
        assert_eq!(
            store.call_export(&inst, "f32", &[Val::F32(bits)]).unwrap(),
            vec![Val::F32(bits)]
        );
        assert_eq!(
            store
                .call_export(&inst, "f32_bits", &[Val::F32(bits)])
                .unwrap(),
            vec![Val::I32(bits as i32)]
        );
    }
    for bits in [
        0x7ff8_0000_0000_0000u64,
        0x7ff0_0000_0000_0001,
        0xfff4_0000_dead_beef,
    ] {
        assert_eq!(
            store.call_export(&inst, "f64", &[Val::F64(bits)]).unwrap(),
            vec![Val::F64(bits)]
        );
    }
    assert_eq!(
        store.call_export(&inst, "nan64", &[]).unwrap(),
        vec![Val::F64(0x7ff4_0000_0000_0123)]
    );
    store
        .global_set(&inst, "gfl", Val::F64(0x7ff0_0000_0000_0042))
        .unwrap();
    assert_eq!(
        store.global_get(&inst, "gfl").unwrap(),
        Val::F64(0x7ff0_0000_0000_0042)
    );
}

const SIMD: &str = r#"
(module
  (func (export "v128") (param v128) (result v128) (local.get 0))
  (func (export "v128_add") (param v128 v128) (result v128) (i32x4.add (local.get 0) (local.get 1)))
  (global (export "gv") (mut v128) (v128.const i64x2 0 0))
)
"#;

#[cfg(not(feature = "simd"))]
#[test]
fn v128_needs_simd_feature() {
    let engine = engine(Config::default());
    let wasm = wat::parse_str(SIMD).unwrap();
    assert_kind(engine.compile(&wasm), ErrorKind::Compile);
}

#[cfg(feature = "simd")]
#[test]
fn v128_round_trip() {
    let (mut store, inst) = instance(SIMD);
    store
        .global_set(&inst, "gv", Val::V128(u128::MAX - 1))
        .unwrap();
    assert_eq!(
        store.global_get(&inst, "gv").unwrap(),
        Val::V128(u128::MAX - 1)
    );
    let v = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
    assert_eq!(
        store.call_export(&inst, "v128", &[Val::V128(v)]).unwrap(),
        vec![Val::V128(v)]
    );
    // Lane order: little-endian i32 lanes.
    let a = 1u128 | (2u128 << 32) | (3u128 << 64) | (4u128 << 96);
    let b = 10u128 | (20u128 << 32) | (30u128 << 64) | (40u128 << 96);
    let sum = 11u128 | (22u128 << 32) | (33u128 << 64) | (44u128 << 96);
    assert_eq!(
        store
            .call_export(&inst, "v128_add", &[Val::V128(a), Val::V128(b)])
            .unwrap(),
        vec![Val::V128(sum)]
    );
}

#[test]
fn multi_value() {
    let (mut store, inst) = instance(VALUES);
    assert_eq!(
        store
            .call_export(&inst, "multi", &[Val::I64(-5), Val::I32(9)])
            .unwrap(),
        vec![Val::I32(9), Val::I64(-5)]
    );
}

#[test]
fn externref_round_trip() {
    let (mut store, inst) = instance(VALUES);
    for n in [0, 1, 42, u32::MAX] {
        let v = Val::ExternRef(Some(ExternRef(n)));
        assert_eq!(store.call_export(&inst, "ext", &[v]).unwrap(), vec![v]);
        assert_eq!(
            store.call_export(&inst, "ext_is_null", &[v]).unwrap(),
            vec![Val::I32(0)]
        );
    }
    let null = Val::ExternRef(None);
    assert_eq!(
        store.call_export(&inst, "ext", &[null]).unwrap(),
        vec![null]
    );
    assert_eq!(
        store.call_export(&inst, "ext_is_null", &[null]).unwrap(),
        vec![Val::I32(1)]
    );
    // Globals and tables.
    store
        .global_set(&inst, "gx", Val::ExternRef(Some(ExternRef(9))))
        .unwrap();
    assert_eq!(
        store.global_get(&inst, "gx").unwrap(),
        Val::ExternRef(Some(ExternRef(9)))
    );
    store
        .table_set(&inst, "etable", 1, Val::ExternRef(Some(ExternRef(3))))
        .unwrap();
    assert_eq!(
        store.table_get(&inst, "etable", 1).unwrap(),
        Val::ExternRef(Some(ExternRef(3)))
    );
    assert_eq!(
        store.table_get(&inst, "etable", 0).unwrap(),
        Val::ExternRef(None)
    );
}

#[test]
fn funcref_round_trip_and_dedupe() {
    let (mut store, inst) = instance(VALUES);
    let r = store.call_export(&inst, "get_seven", &[]).unwrap()[0];
    let Val::FuncRef(Some(FuncRef(id))) = r else {
        panic!("{r:?}")
    };
    // The same engine function gets the same id every time (no growth in loops).
    for _ in 0..100 {
        assert_eq!(store.call_export(&inst, "get_seven", &[]).unwrap()[0], r);
    }
    assert_eq!(store.call_export(&inst, "fref", &[r]).unwrap(), vec![r]);
    // Into a table and called through it.
    store.table_set(&inst, "table", 2, r).unwrap();
    assert_eq!(store.table_get(&inst, "table", 2).unwrap(), r);
    assert_eq!(
        store
            .call_export(&inst, "call_slot", &[Val::I32(2)])
            .unwrap(),
        vec![Val::I32(7)]
    );
    // Through a global.
    store.global_set(&inst, "gf", r).unwrap();
    assert_eq!(store.global_get(&inst, "gf").unwrap(), r);
    // Null.
    assert_eq!(
        store
            .call_export(&inst, "fref", &[Val::FuncRef(None)])
            .unwrap(),
        vec![Val::FuncRef(None)]
    );
    // Unknown ids are a type mismatch.
    assert_kind(
        store.call_export(&inst, "fref", &[Val::FuncRef(Some(FuncRef(id + 1000)))]),
        ErrorKind::TypeMismatch,
    );
}

#[test]
fn distinct_functions_get_distinct_funcrefs() {
    let wat = r#"(module
      (func $a (result i32) (i32.const 1))
      (func $b (result i32) (i32.const 2))
      (table (export "t") 2 funcref)
      (elem (i32.const 0) $a $b))"#;
    let (mut store, inst) = instance(wat);
    let a = store.table_get(&inst, "t", 0).unwrap();
    let b = store.table_get(&inst, "t", 1).unwrap();
    assert_ne!(a, b);
    assert_eq!(store.table_get(&inst, "t", 0).unwrap(), a);
    // Two instances of one module: distinct functions.
    let engine = engine(Config::default());
    let module = compile(&engine, wat);
    let mut store = engine.store((), &Limits::new()).unwrap();
    let i1 = store.instantiate(&module, &Linker::new()).unwrap();
    let i2 = store.instantiate(&module, &Linker::new()).unwrap();
    assert_ne!(
        store.table_get(&inst_or(&i1), "t", 0).unwrap(),
        store.table_get(&i2, "t", 0).unwrap()
    );
}

fn inst_or(i: &anywasm_wasmi::Instance) -> anywasm_wasmi::Instance {
    *i
}

#[test]
fn globals() {
    let (mut store, inst) = instance(VALUES);
    assert_eq!(store.global_get(&inst, "counter").unwrap(), Val::I32(1));
    store.global_set(&inst, "counter", Val::I32(-3)).unwrap();
    assert_eq!(store.global_get(&inst, "counter").unwrap(), Val::I32(-3));
    assert_eq!(store.global_get(&inst, "const").unwrap(), Val::I64(5));
    assert_kind(
        store.global_set(&inst, "const", Val::I64(1)),
        ErrorKind::TypeMismatch,
    );
    assert_kind(
        store.global_set(&inst, "counter", Val::I64(1)),
        ErrorKind::TypeMismatch,
    );
    assert_kind(store.global_get(&inst, "nope"), ErrorKind::ExportNotFound);
    assert_kind(store.global_get(&inst, "memory"), ErrorKind::ExportNotFound);
}

#[test]
fn tables() {
    let (mut store, inst) = instance(VALUES);
    assert_eq!(store.table_size(&inst, "table").unwrap(), 4);
    assert_eq!(
        store.table_get(&inst, "table", 0).unwrap(),
        Val::FuncRef(None)
    );
    assert_kind(store.table_get(&inst, "table", 4), ErrorKind::OutOfBounds);
    assert_kind(
        store.table_get(&inst, "table", u64::MAX),
        ErrorKind::OutOfBounds,
    );
    assert_kind(
        store.table_set(&inst, "table", 4, Val::FuncRef(None)),
        ErrorKind::OutOfBounds,
    );
    assert_kind(
        store.table_set(&inst, "table", 0, Val::ExternRef(None)),
        ErrorKind::TypeMismatch,
    );
    assert_kind(
        store.table_set(&inst, "table", 0, Val::I32(0)),
        ErrorKind::TypeMismatch,
    );
    let seven = store.call_export(&inst, "get_seven", &[]).unwrap()[0];
    assert_eq!(store.table_grow(&inst, "table", 2, seven).unwrap(), 4);
    assert_eq!(store.table_size(&inst, "table").unwrap(), 6);
    assert_eq!(
        store
            .call_export(&inst, "call_slot", &[Val::I32(5)])
            .unwrap(),
        vec![Val::I32(7)]
    );
    assert_kind(store.table_size(&inst, "memory"), ErrorKind::ExportNotFound);
}

#[test]
fn memory_access() {
    let (mut store, inst) = instance(VALUES);
    assert_eq!(store.memory_size(&inst, "memory").unwrap(), 65536);
    store
        .memory_write(&inst, "memory", 65530, b"abcdef")
        .unwrap();
    assert_eq!(
        store.memory_read_vec(&inst, "memory", 65530, 6).unwrap(),
        b"abcdef"
    );
    assert_kind(
        store.memory_write(&inst, "memory", 65531, b"abcdef"),
        ErrorKind::OutOfBounds,
    );
    assert_kind(
        store.memory_read(&inst, "memory", u64::MAX, &mut [0; 2]),
        ErrorKind::OutOfBounds,
    );
    assert_kind(
        store.memory_read_vec(&inst, "memory", 65536, 1),
        ErrorKind::OutOfBounds,
    );
    // Zero-length access at the end is fine.
    store.memory_read(&inst, "memory", 65536, &mut []).unwrap();
    assert_eq!(store.memory_grow(&inst, "memory", 1).unwrap(), 1);
    // Reads see the grown memory.
    store
        .memory_write(&inst, "memory", 2 * 65536 - 1, b"z")
        .unwrap();
    assert_kind(store.memory_size(&inst, "table"), ErrorKind::ExportNotFound);
}

#[test]
fn call_type_checks() {
    let (mut store, inst) = instance(VALUES);
    let f = store.get_func(&inst, "multi").unwrap();
    assert_eq!(
        store.func_type(&f),
        FuncType::new([ValType::I64, ValType::I32], [ValType::I32, ValType::I64])
    );
    let mut out = [Val::I32(0), Val::I64(0)];
    assert_kind(
        store.call(&f, &[Val::I64(1)], &mut out),
        ErrorKind::TypeMismatch,
    );
    assert_kind(
        store.call(&f, &[Val::I32(1), Val::I32(1)], &mut out),
        ErrorKind::TypeMismatch,
    );
    assert_kind(
        store.call(&f, &[Val::I64(1), Val::I32(1)], &mut out[..1]),
        ErrorKind::TypeMismatch,
    );
    store
        .call(&f, &[Val::I64(1), Val::I32(2)], &mut out)
        .unwrap();
    assert_eq!(out, [Val::I32(2), Val::I64(1)]);
    assert_kind(store.get_func(&inst, "counter"), ErrorKind::ExportNotFound);
}

#[test]
fn compile_errors() {
    let engine = engine(Config::default());
    assert_kind(engine.compile(b"not wasm"), ErrorKind::Compile);
    assert_kind(
        engine.compile(&[0, 97, 115, 109, 1, 0, 0, 0, 1]),
        ErrorKind::Compile,
    );
    let invalid = wat::parse_str("(module (func (result i32) (i64.const 1)))").unwrap();
    assert_kind(engine.compile(&invalid), ErrorKind::Compile);
}

#[test]
fn module_imports_and_exports() {
    use anywasm_core::{ExternType, GlobalType, MemoryType, Module as _, TableType};
    let engine = engine(Config::default());
    let m = compile(
        &engine,
        r#"(module
          (import "env" "f" (func (param i32) (result i64)))
          (import "env" "m" (memory 1 2))
          (import "env" "g" (global (mut f32)))
          (import "env" "t" (table 3 externref))
          (export "m2" (memory 0))
          (func (export "h")))"#,
    );
    let imports = m.imports();
    assert_eq!(imports.len(), 4);
    assert_eq!(
        (imports[0].module.as_str(), imports[0].name.as_str()),
        ("env", "f")
    );
    assert_eq!(
        imports[0].ty,
        ExternType::Func(FuncType::new([ValType::I32], [ValType::I64]))
    );
    assert_eq!(
        imports[1].ty,
        ExternType::Memory(MemoryType {
            minimum: 1,
            maximum: Some(2),
            memory64: false,
            shared: false
        })
    );
    assert_eq!(
        imports[2].ty,
        ExternType::Global(GlobalType {
            content: ValType::F32,
            mutable: true
        })
    );
    assert_eq!(
        imports[3].ty,
        ExternType::Table(TableType {
            element: ValType::ExternRef,
            minimum: 3,
            maximum: None
        })
    );
    let exports = m.exports();
    assert_eq!(exports.len(), 2);
    assert_eq!(exports[0].name, "m2");
    assert_eq!(exports[1].ty, ExternType::Func(FuncType::default()));
}

#[test]
fn engine_basics() {
    use anywasm_core::BackendKind;
    let e = anywasm_wasmi::Engine::default();
    assert_eq!(
        <anywasm_wasmi::Engine as Runtime>::BACKEND,
        BackendKind::Wasmi
    );
    assert_eq!(anywasm_wasmi::Engine::BACKEND, BackendKind::Wasmi);
    assert_eq!(e.config(), &Config::default());
    let c = Config::new().consume_fuel(true).max_stack_bytes(1 << 16);
    assert_eq!(Runtime::config(&engine(c.clone())), &c);
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<anywasm_wasmi::Engine>();
    assert_send_sync::<anywasm_wasmi::Module>();
    assert_send_sync::<anywasm_wasmi::Instance>();
    assert_send_sync::<anywasm_wasmi::Func>();
    fn assert_send<T: Send>() {}
    assert_send::<anywasm_wasmi::Store<std::cell::Cell<u8>>>();
}

#[test]
fn dyn_runtime_works() {
    use anywasm_core::DynRuntime;
    let rt: Box<dyn DynRuntime<u32>> = Box::new(engine(Config::default()));
    let m = rt.compile(&wat::parse_str(VALUES).unwrap()).unwrap();
    let mut store = rt.store(5, &Limits::new()).unwrap();
    let inst = store.instantiate(&m, &Linker::new()).unwrap();
    assert_eq!(
        store.call_export(inst, "seven", &[]).unwrap(),
        vec![Val::I32(7)]
    );
    assert_eq!(*store.data(), 5);
}
