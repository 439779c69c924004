//! Every value type round-tripped bit-exactly, globals, tables of references.

use anywasm::{Config, ErrorKind, ExternRef, Limits, Linker, Val};

use super::{VALUES, check};
use crate::harness::{expect_call, expect_eq, expect_kind, ok};
use crate::{Check, Ctx};

/// `values.wat` in a default sandbox (also the memory and table checks' module).
pub(super) fn sandbox(cx: &Ctx) -> Result<anywasm::Sandbox<crate::Host>, String> {
    ok(
        "instantiate values.wat",
        cx.sandbox(VALUES, &Config::new(), &Linker::new(), &Limits::new()),
    )
}

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!("values/i32", "i32 edge values round-trip", |cx: &Ctx| {
            let mut sb = sandbox(cx)?;
            for v in [0, 1, -1, i32::MIN, i32::MAX, 0x1234_5678] {
                expect_call(&mut sb, "id_i32", &[Val::I32(v)], &[Val::I32(v)])?;
            }
            Ok(())
        }),
        check!("values/i64", "i64 edge values round-trip", |cx: &Ctx| {
            let mut sb = sandbox(cx)?;
            for v in [0, -1, i64::MIN, i64::MAX, 0x0123_4567_89ab_cdef] {
                expect_call(&mut sb, "id_i64", &[Val::I64(v)], &[Val::I64(v)])?;
            }
            Ok(())
        }),
        check!(
            "values/f32_bits",
            "f32 bit patterns incl. NaN payloads, -0, subnormals survive",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
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
                    expect_call(&mut sb, "id_f32", &[Val::F32(bits)], &[Val::F32(bits)])?;
                }
                expect_call(&mut sb, "f32_nan", &[], &[Val::F32(0x7fa0_0001)])
            }
        ),
        check!(
            "values/f64_bits",
            "f64 bit patterns incl. NaN payloads, -0, subnormals survive",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                for bits in [
                    0u64,
                    1 << 63,
                    0x7ff0_0000_0000_0000,
                    0x7ff8_0000_0000_0001,
                    0xfff4_0000_0000_0001,
                    0x0000_0000_0000_0001,
                    0x3ff0_0000_0000_0000,
                ] {
                    expect_call(&mut sb, "id_f64", &[Val::F64(bits)], &[Val::F64(bits)])?;
                }
                expect_call(&mut sb, "f64_nan", &[], &[Val::F64(0xfff4_0000_0000_0001)])
            }
        ),
        check!(
            "values/v128",
            "v128 round-trips, constants and lane arithmetic agree",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                let v = 0x0011_2233_4455_6677_8899_aabb_ccdd_eeffu128;
                expect_call(&mut sb, "id_v128", &[Val::V128(v)], &[Val::V128(v)])?;
                expect_call(
                    &mut sb,
                    "v128_const",
                    &[],
                    &[Val::V128(0x0d0e0f10_090a0b0c_05060708_01020304)],
                )?;
                let one_each = 0x0000_0001_0000_0001_0000_0001_0000_0001u128;
                expect_call(
                    &mut sb,
                    "v128_add",
                    &[Val::V128(one_each), Val::V128(one_each)],
                    &[Val::V128(one_each * 2)],
                )
            }
        ),
        check!(
            "values/externref",
            "externref payloads and null round-trip",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                let r = Val::ExternRef(Some(ExternRef(0xdead_beef)));
                expect_call(&mut sb, "id_externref", &[r], &[r])?;
                expect_call(
                    &mut sb,
                    "id_externref",
                    &[Val::ExternRef(None)],
                    &[Val::ExternRef(None)],
                )?;
                expect_call(
                    &mut sb,
                    "is_null_extern",
                    &[Val::ExternRef(None)],
                    &[Val::I32(1)],
                )?;
                expect_call(&mut sb, "is_null_extern", &[r], &[Val::I32(0)])
            }
        ),
        check!(
            "values/funcref",
            "funcrefs read from a table can be passed back and called",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                let inst = sb.instance();
                let f = ok("table_get", sb.store_mut().table_get(inst, "funcs", 0))?;
                if !matches!(f, Val::FuncRef(Some(_))) {
                    return Err(format!("table slot 0 should hold a function, got {f:?}"));
                }
                let back = ok("id_funcref", sb.call("id_funcref", &[f]))?;
                ok(
                    "table_set",
                    sb.store_mut().table_set(inst, "funcs", 1, back[0]),
                )?;
                expect_call(&mut sb, "call_table", &[Val::I32(1)], &[Val::I32(99)])?;
                expect_call(
                    &mut sb,
                    "id_funcref",
                    &[Val::FuncRef(None)],
                    &[Val::FuncRef(None)],
                )
            }
        ),
        check!(
            "values/multi_value",
            "several results of mixed types come back in order",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                expect_call(
                    &mut sb,
                    "multi",
                    &[
                        Val::I32(1),
                        Val::I64(2),
                        Val::F32(0x7fc0_0003),
                        Val::F64(4.5f64.to_bits()),
                    ],
                    &[
                        Val::F64(4.5f64.to_bits()),
                        Val::F32(0x7fc0_0003),
                        Val::I64(2),
                        Val::I32(1),
                    ],
                )
            }
        ),
        check!(
            "values/globals",
            "globals read and written from the host, visible to the guest",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                let inst = sb.instance();
                expect_eq(
                    "g_i64",
                    ok("get", sb.store_mut().global_get(inst, "g_i64"))?,
                    Val::I64(7),
                )?;
                ok(
                    "set",
                    sb.store_mut().global_set(inst, "g_i64", Val::I64(-5)),
                )?;
                expect_call(&mut sb, "read_g_i64", &[], &[Val::I64(-5)])?;
                ok(
                    "set f64",
                    sb.store_mut()
                        .global_set(inst, "g_f64", Val::F64(0x7ff8_0000_0000_00ff)),
                )?;
                expect_eq(
                    "g_f64",
                    ok("get", sb.store_mut().global_get(inst, "g_f64"))?,
                    Val::F64(0x7ff8_0000_0000_00ff),
                )?;
                let r = Val::ExternRef(Some(ExternRef(3)));
                ok("set ext", sb.store_mut().global_set(inst, "g_ext", r))?;
                expect_eq(
                    "g_ext",
                    ok("get", sb.store_mut().global_get(inst, "g_ext"))?,
                    r,
                )?;
                expect_eq(
                    "g_const",
                    ok("get", sb.store_mut().global_get(inst, "g_const"))?,
                    Val::I32(42),
                )?;
                expect_kind(
                    "set immutable",
                    sb.store_mut().global_set(inst, "g_const", Val::I32(1)),
                    ErrorKind::TypeMismatch,
                )?;
                expect_kind(
                    "set wrong type",
                    sb.store_mut().global_set(inst, "g_i64", Val::I32(1)),
                    ErrorKind::TypeMismatch,
                )
            }
        ),
        check!(
            "values/arg_mismatch",
            "wrong argument count or type is a TypeMismatch, not a crash",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                expect_kind(
                    "wrong type",
                    sb.call("id_i32", &[Val::I64(1)]),
                    ErrorKind::TypeMismatch,
                )?;
                expect_kind("too few", sb.call("id_i32", &[]), ErrorKind::TypeMismatch)?;
                expect_kind(
                    "too many",
                    sb.call("id_i32", &[Val::I32(1), Val::I32(2)]),
                    ErrorKind::TypeMismatch,
                )
            }
        ),
    ]
}
