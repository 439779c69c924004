//! Every trap code, traps during instantiation, and the store surviving traps.

mod common;

use anywasm_core::{Config, ErrorKind, Limits, Linker, Store as _, StoreExt, TrapCode, Val};
use anywasm_wasmer::Engine;
use common::{assert_kind, assert_trap, setup, wasm};

const TRAPS: &str = r#"
(module
  (type $v_i (func (result i32)))
  (type $i_i (func (param i32) (result i32)))
  (memory 1)
  (table 3 funcref)
  (elem (i32.const 0) $one)
  (func $one (result i32) i32.const 1)
  (func (export "ok") (result i32) i32.const 7)
  (func (export "unreachable") unreachable)
  (func (export "mem_oob_load") (result i32) i32.const 65536 i32.load)
  (func (export "mem_oob_store") i32.const 65534 i32.const 1 i32.store)
  (func (export "mem_oob_fill") i32.const 65000 i32.const 0 i32.const 1000 memory.fill)
  (func (export "mem_oob_copy") i32.const 0 i32.const 65000 i32.const 1000 memory.copy)
  (func (export "table_oob_call") (result i32) i32.const 5 call_indirect (type $v_i))
  (func (export "table_oob_get") (result funcref) i32.const 99 table.get 0)
  (func (export "table_oob_set") i32.const 3 ref.null func table.set 0)
  (func (export "call_null") (result i32) i32.const 1 call_indirect (type $v_i))
  (func (export "bad_signature") (result i32) i32.const 7 i32.const 0 call_indirect (type $i_i))
  (func (export "i32_overflow") (result i32) i32.const 0x80000000 i32.const -1 i32.div_s)
  (func (export "i64_overflow") (result i64) i64.const 0x8000000000000000 i64.const -1 i64.div_s)
  (func (export "i32_div_zero") (result i32) i32.const 1 i32.const 0 i32.div_u)
  (func (export "i32_rem_zero") (result i32) i32.const 1 i32.const 0 i32.rem_u)
  (func (export "i64_rem_zero") (result i64) i64.const 1 i64.const 0 i64.rem_s)
  (func (export "trunc_nan") (result i32) f32.const nan i32.trunc_f32_s)
  (func (export "trunc_range") (result i64) f64.const 1e30 i64.trunc_f64_u)
  (func $rec (export "recurse") (param i64) (result i64)
    local.get 0 i64.const 1 i64.add call $rec i64.const 1 i64.add)
)"#;

fn trap_case(export: &str, code: TrapCode) {
    let (_engine, mut store, inst) = setup(TRAPS, &Config::new(), &Limits::new());
    assert_trap(store.call_export(&inst, export, &[]), code);
    // The store survives: the next call works.
    assert_eq!(store.call_export(&inst, "ok", &[]).unwrap(), [Val::I32(7)]);
}

#[test]
fn unreachable() {
    trap_case("unreachable", TrapCode::Unreachable);
}

#[test]
fn memory_out_of_bounds() {
    trap_case("mem_oob_load", TrapCode::MemoryOutOfBounds);
    trap_case("mem_oob_store", TrapCode::MemoryOutOfBounds);
    trap_case("mem_oob_fill", TrapCode::MemoryOutOfBounds);
    trap_case("mem_oob_copy", TrapCode::MemoryOutOfBounds);
}

#[test]
fn table_out_of_bounds() {
    trap_case("table_oob_call", TrapCode::TableOutOfBounds);
    trap_case("table_oob_get", TrapCode::TableOutOfBounds);
    trap_case("table_oob_set", TrapCode::TableOutOfBounds);
}

#[test]
fn indirect_call_to_null_and_bad_signature() {
    trap_case("call_null", TrapCode::IndirectCallToNull);
    trap_case("bad_signature", TrapCode::BadSignature);
}

#[test]
fn integer_traps() {
    trap_case("i32_overflow", TrapCode::IntegerOverflow);
    trap_case("i64_overflow", TrapCode::IntegerOverflow);
    trap_case("i32_div_zero", TrapCode::IntegerDivisionByZero);
    trap_case("i32_rem_zero", TrapCode::IntegerDivisionByZero);
    trap_case("i64_rem_zero", TrapCode::IntegerDivisionByZero);
}

#[test]
fn bad_conversion() {
    trap_case("trunc_nan", TrapCode::BadConversionToInteger);
    // Out of range is an overflow, as the spec words it.
    trap_case("trunc_range", TrapCode::IntegerOverflow);
}

#[test]
fn stack_overflow_default_stack() {
    let (_engine, mut store, inst) = setup(TRAPS, &Config::new(), &Limits::new());
    for _ in 0..3 {
        assert_trap(
            store.call_export(&inst, "recurse", &[Val::I64(0)]),
            TrapCode::StackOverflow,
        );
        assert_eq!(store.call_export(&inst, "ok", &[]).unwrap(), [Val::I32(7)]);
    }
}

#[test]
fn stack_overflow_with_configured_stack() {
    for bytes in [1usize, 64 << 10, 512 << 10, 4 << 20, usize::MAX] {
        let config = Config::new().max_stack_bytes(bytes);
        let (_engine, mut store, inst) = setup(TRAPS, &config, &Limits::new());
        assert_trap(
            store.call_export(&inst, "recurse", &[Val::I64(0)]),
            TrapCode::StackOverflow,
        );
        assert_eq!(store.call_export(&inst, "ok", &[]).unwrap(), [Val::I32(7)]);
    }
}

#[test]
fn moderate_recursion_fits_in_the_stack() {
    let wat = r#"(module
      (func $rec (export "recurse") (param i32) (result i32)
        local.get 0 i32.eqz
        if (result i32) i32.const 0
        else local.get 0 i32.const 1 i32.sub call $rec i32.const 1 i32.add end))"#;
    let (_engine, mut store, inst) = setup(wat, &Config::new(), &Limits::new());
    assert_eq!(
        store
            .call_export(&inst, "recurse", &[Val::I32(1000)])
            .unwrap(),
        [Val::I32(1000)]
    );
}

fn instantiate_err(wat: &str) -> anywasm_core::Error {
    let engine = Engine::new(&Config::new()).unwrap();
    let module = engine.compile(&wasm(wat)).unwrap();
    let mut store = engine.store((), &Limits::new()).unwrap();
    let err = store.instantiate(&module, &Linker::new()).unwrap_err();
    // The store stays usable after a failed instantiation.
    let ok = engine
        .compile(&wasm(
            r#"(module (func (export "f") (result i32) i32.const 1))"#,
        ))
        .unwrap();
    let inst = store.instantiate(&ok, &Linker::new()).unwrap();
    assert_eq!(store.call_export(&inst, "f", &[]).unwrap(), [Val::I32(1)]);
    err
}

#[test]
fn start_function_trap() {
    let e = instantiate_err("(module (func $s unreachable) (start $s))");
    assert_eq!(e.kind(), ErrorKind::Trap(TrapCode::Unreachable));
}

#[test]
fn start_function_runs() {
    let wat = r#"(module
      (global $g (export "g") (mut i32) (i32.const 0))
      (func $s i32.const 42 global.set $g)
      (start $s))"#;
    let (_engine, mut store, inst) = setup(wat, &Config::new(), &Limits::new());
    assert_eq!(store.global_get(&inst, "g").unwrap(), Val::I32(42));
    // The hidden start export is not visible.
    assert_kind(
        store.get_func(&inst, "\u{0}anywasm:start"),
        ErrorKind::ExportNotFound,
    );
}

#[test]
fn data_segment_out_of_bounds() {
    let e = instantiate_err(r#"(module (memory 1) (data (i32.const 65535) "ab"))"#);
    assert_eq!(e.kind(), ErrorKind::Trap(TrapCode::MemoryOutOfBounds));
}

#[test]
fn elem_segment_out_of_bounds() {
    let e = instantiate_err("(module (table 1 funcref) (func $f) (elem (i32.const 1) $f))");
    assert_eq!(e.kind(), ErrorKind::Trap(TrapCode::TableOutOfBounds));
}

#[test]
fn a_thousand_traps() {
    let (_engine, mut store, inst) = setup(TRAPS, &Config::new(), &Limits::new());
    let f = store.get_func(&inst, "mem_oob_load").unwrap();
    for _ in 0..1000 {
        let mut out = [Val::I32(0)];
        assert_trap(store.call(&f, &[], &mut out), TrapCode::MemoryOutOfBounds);
    }
    assert_eq!(store.call_export(&inst, "ok", &[]).unwrap(), [Val::I32(7)]);
}

#[test]
fn traps_with_every_mechanism_enabled() {
    let config = Config::new().consume_fuel(true).timeouts(true);
    let limits = Limits::new()
        .fuel(u64::MAX / 2)
        .timeout(std::time::Duration::from_secs(60));
    let (_engine, mut store, inst) = setup(TRAPS, &config, &limits);
    assert_trap(
        store.call_export(&inst, "unreachable", &[]),
        TrapCode::Unreachable,
    );
    assert_trap(
        store.call_export(&inst, "mem_oob_load", &[]),
        TrapCode::MemoryOutOfBounds,
    );
    assert_trap(
        store.call_export(&inst, "recurse", &[Val::I64(0)]),
        TrapCode::StackOverflow,
    );
    assert_eq!(store.call_export(&inst, "ok", &[]).unwrap(), [Val::I32(7)]);
}

#[test]
fn every_trapping_conversion() {
    let wat = r#"(module
      (func (export "t0") (result i32) f32.const 1e30 i32.trunc_f32_s)
      (func (export "t1") (result i32) f32.const -1e30 i32.trunc_f32_u)
      (func (export "t2") (result i32) f64.const 1e30 i32.trunc_f64_s)
      (func (export "t3") (result i32) f64.const -1 i32.trunc_f64_u)
      (func (export "t4") (result i64) f32.const 1e30 i64.trunc_f32_s)
      (func (export "t5") (result i64) f32.const -1e30 i64.trunc_f32_u)
      (func (export "t6") (result i64) f64.const 1e30 i64.trunc_f64_s)
      (func (export "t7") (result i64) f64.const inf i64.trunc_f64_u)
      (func (export "n0") (result i32) f32.const nan i32.trunc_f32_u)
      (func (export "n1") (result i64) f64.const -nan i64.trunc_f64_s)
      (func (export "d0") (result i32) i32.const 0x80000000 i32.const -1 i32.div_s)
      (func (export "d1") (param i64) (result i64)
        local.get 0 i64.const 1 i64.add local.get 0 i64.const -1 i64.div_s i64.add)
      (func (export "ok") (result i64) f64.const 3.9 i64.trunc_f64_s)
      (func (export "sat") (result i32) f32.const nan i32.trunc_sat_f32_s))"#;
    for config in [Config::new(), Config::new().consume_fuel(true)] {
        let (_engine, mut store, inst) = setup(wat, &config, &Limits::new());
        // Out of range is an overflow (the spec's wording), NaN an invalid conversion.
        for t in ["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"] {
            assert_trap(store.call_export(&inst, t, &[]), TrapCode::IntegerOverflow);
        }
        for t in ["n0", "n1"] {
            assert_trap(
                store.call_export(&inst, t, &[]),
                TrapCode::BadConversionToInteger,
            );
        }
        assert_trap(
            store.call_export(&inst, "d0", &[]),
            TrapCode::IntegerOverflow,
        );
        assert_trap(
            store.call_export(&inst, "d1", &[Val::I64(i64::MIN)]),
            TrapCode::IntegerOverflow,
        );
        assert_eq!(store.call_export(&inst, "ok", &[]).unwrap(), [Val::I64(3)]);
        assert_eq!(store.call_export(&inst, "sat", &[]).unwrap(), [Val::I32(0)]);
    }
}
