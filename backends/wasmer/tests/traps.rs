//! What is wasmer's own about traps: its fixed guest stack, for any configured
//! bound. Every trap code, traps during instantiation and the store surviving
//! traps are conformance checks (`conformance/src/checks/traps.rs`).

mod common;

use anywasm_core::{Config, Limits, StoreExt, TrapCode, Val};
use common::{assert_trap, setup};

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
