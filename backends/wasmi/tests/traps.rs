//! What is wasmi's own about traps: its stack bound, for any configured size.
//! Every trap code, traps during instantiation and the store surviving traps
//! are conformance checks (`conformance/src/checks/traps.rs`).

mod common;

use anywasm_core::{Config, Limits, StoreExt, TrapCode, Val};
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
