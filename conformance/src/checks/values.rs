//! Every value type round-tripped bit-exactly, globals, tables of references.

use anywasm::{
    Caller, Config, ErrorKind, ExternRef, ExternType, FuncRef, FuncType, GlobalType, Limits,
    Linker, MemoryType, TableType, TrapCode, Val, ValType,
};

use super::{VALUES, check};
use crate::harness::{expect_call, expect_eq, expect_kind, expect_trap, ok, wasm};
use crate::{Check, Ctx, Host};

const REFS: &str = include_str!("../../fixtures/values_refs.wat");
const BITS: &str = include_str!("../../fixtures/values_bits.wat");

/// The host side of `values_refs.wat`: `env.bump` records the externref it
/// gets in the counter and returns it plus one; `env.pick` records whether it
/// got a function (1) or null (-1) and returns what `pick` makes of it.
fn refs_linker(pick: fn(Val) -> Val) -> Linker<Host> {
    let mut l = Linker::<Host>::new();
    l.func(
        "env",
        "bump",
        FuncType::new([ValType::ExternRef], [ValType::ExternRef]),
        |caller: &mut dyn Caller<Host>, args, results| {
            results[0] = match args[0] {
                Val::ExternRef(Some(ExternRef(n))) => {
                    caller.data_mut().counter = i64::from(n);
                    Val::ExternRef(Some(ExternRef(n.wrapping_add(1))))
                }
                other => {
                    caller.data_mut().counter = -1;
                    other
                }
            };
            Ok(())
        },
    );
    l.func(
        "env",
        "pick",
        FuncType::new([ValType::FuncRef], [ValType::FuncRef]),
        move |caller: &mut dyn Caller<Host>, args, results| {
            caller.data_mut().counter = match args[0] {
                Val::FuncRef(Some(_)) => 1,
                _ => -1,
            };
            results[0] = pick(args[0]);
            Ok(())
        },
    );
    l
}

/// `values_refs.wat` with a host that hands functions back unchanged.
fn refs(cx: &Ctx) -> Result<anywasm::Sandbox<Host>, String> {
    ok(
        "instantiate values_refs.wat",
        cx.sandbox(REFS, &Config::new(), &refs_linker(|v| v), &Limits::new()),
    )
}

fn bits(cx: &Ctx) -> Result<anywasm::Sandbox<Host>, String> {
    ok(
        "instantiate values_bits.wat",
        cx.sandbox(BITS, &Config::new(), &Linker::new(), &Limits::new()),
    )
}

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
                    0xffa0_0000,
                    0x7f80_0001,
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
                    0x7ff8_0000_0000_0000,
                    0x7ff8_0000_0000_0001,
                    0x7ff0_0000_0000_0001,
                    0xfff4_0000_0000_0000,
                    0xfff4_0000_0000_0001,
                    0xfff4_0000_dead_beef,
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
        check!(
            "values/reinterpret",
            "float bit patterns, NaN payloads included, survive reinterpretation both ways and float globals",
            |cx: &Ctx| {
                let mut sb = bits(cx)?;
                let inst = sb.instance();
                for b in [
                    0x7fc0_0000u32,
                    0x7fc0_0001,
                    0x7fa0_0001,
                    0xffa0_0000,
                    0x7f80_0001,
                    0xffc1_2345,
                    0x8000_0000,
                    0x7f80_0000,
                    1,
                ] {
                    expect_call(
                        &mut sb,
                        "f32_from_bits",
                        &[Val::I32(b as i32)],
                        &[Val::F32(b)],
                    )?;
                    expect_call(&mut sb, "f32_bits", &[Val::F32(b)], &[Val::I32(b as i32)])?;
                    ok(
                        "set gf32",
                        sb.store_mut().global_set(inst, "gf32", Val::F32(b)),
                    )?;
                    expect_eq(
                        "gf32",
                        ok("get gf32", sb.store_mut().global_get(inst, "gf32"))?,
                        Val::F32(b),
                    )?;
                }
                for b in [
                    0x7ff8_0000_0000_0000u64,
                    0x7ff0_0000_0000_0001,
                    0x7ff0_0000_0000_0042,
                    0xfff4_0000_dead_beef,
                    0x8000_0000_0000_0000,
                    1,
                ] {
                    expect_call(
                        &mut sb,
                        "f64_from_bits",
                        &[Val::I64(b as i64)],
                        &[Val::F64(b)],
                    )?;
                    expect_call(&mut sb, "f64_bits", &[Val::F64(b)], &[Val::I64(b as i64)])?;
                    ok(
                        "set gf64",
                        sb.store_mut().global_set(inst, "gf64", Val::F64(b)),
                    )?;
                    expect_eq(
                        "gf64",
                        ok("get gf64", sb.store_mut().global_get(inst, "gf64"))?,
                        Val::F64(b),
                    )?;
                }
                expect_call(
                    &mut sb,
                    "f64_const_nan",
                    &[],
                    &[Val::F64(0x7ff4_0000_0000_0123)],
                )
            }
        ),
        check!(
            "values/v128_lanes",
            "a v128 is a little-endian u128: lane 0 is the low 32 bits; v128 globals round-trip",
            |cx: &Ctx| {
                let mut sb = bits(cx)?;
                let inst = sb.instance();
                let v = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
                expect_call(&mut sb, "lane0", &[Val::V128(v)], &[Val::I32(0x7654_3210)])?;
                expect_call(&mut sb, "lane3", &[Val::V128(v)], &[Val::I32(0x0123_4567)])?;
                let lanes = |a: u128, b: u128, c: u128, d: u128| a | b << 32 | c << 64 | d << 96;
                expect_call(&mut sb, "make", &[], &[Val::V128(lanes(1, 2, 3, 4))])?;
                expect_call(
                    &mut sb,
                    "add",
                    &[
                        Val::V128(lanes(1, 2, 3, 4)),
                        Val::V128(lanes(10, 20, 30, 40)),
                    ],
                    &[Val::V128(lanes(11, 22, 33, 44))],
                )?;
                ok(
                    "set gv",
                    sb.store_mut()
                        .global_set(inst, "gv", Val::V128(u128::MAX - 1)),
                )?;
                expect_eq(
                    "gv",
                    ok("get gv", sb.store_mut().global_get(inst, "gv"))?,
                    Val::V128(u128::MAX - 1),
                )
            }
        ),
        check!(
            "values/global_not_found",
            "global access by a missing name or a non-global export is ExportNotFound",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                let inst = sb.instance();
                for name in ["nope", "memory", "funcs", "read_g_i64"] {
                    expect_kind(
                        name,
                        sb.store_mut().global_get(inst, name),
                        ErrorKind::ExportNotFound,
                    )?;
                    expect_kind(
                        name,
                        sb.store_mut().global_set(inst, name, Val::I32(1)),
                        ErrorKind::ExportNotFound,
                    )?;
                }
                Ok(())
            }
        ),
        check!(
            "values/call_type_checks",
            "a function's type is reported; calls with wrong argument or result counts or types are TypeMismatch",
            |cx: &Ctx| {
                let mut sb = sandbox(cx)?;
                let inst = sb.instance();
                let store = sb.store_mut();
                let f = ok("get_func multi", store.get_func(inst, "multi"))?;
                expect_eq(
                    "type",
                    ok("func_type", store.func_type(f))?,
                    FuncType::new(
                        [ValType::I32, ValType::I64, ValType::F32, ValType::F64],
                        [ValType::F64, ValType::F32, ValType::I64, ValType::I32],
                    ),
                )?;
                let args = [Val::I32(1), Val::I64(2), Val::F32(0), Val::F64(0)];
                let mut out = [Val::I32(0); 4];
                expect_kind(
                    "too few args",
                    store.call(f, &args[..3], &mut out),
                    ErrorKind::TypeMismatch,
                )?;
                expect_kind(
                    "wrong arg type",
                    store.call(
                        f,
                        &[Val::I32(1), Val::I32(2), Val::F32(0), Val::F64(0)],
                        &mut out,
                    ),
                    ErrorKind::TypeMismatch,
                )?;
                expect_kind(
                    "too few results",
                    store.call(f, &args, &mut out[..3]),
                    ErrorKind::TypeMismatch,
                )?;
                expect_kind(
                    "no results",
                    store.call(f, &args, &mut []),
                    ErrorKind::TypeMismatch,
                )?;
                let mut more = [Val::I32(0); 5];
                expect_kind(
                    "too many results",
                    store.call(f, &args, &mut more),
                    ErrorKind::TypeMismatch,
                )?;
                ok("call", store.call(f, &args, &mut out))?;
                expect_eq(
                    "results",
                    out,
                    [Val::F64(0), Val::F32(0), Val::I64(2), Val::I32(1)],
                )?;
                expect_kind(
                    "global by get_func",
                    store.get_func(inst, "g_i64"),
                    ErrorKind::ExportNotFound,
                )?;
                expect_kind(
                    "missing func",
                    store.get_func(inst, "nope"),
                    ErrorKind::ExportNotFound,
                )
            }
        ),
        check!(
            "values/externref_tables_globals",
            "externrefs (0 to u32::MAX, and null) round-trip through calls, tables and globals; wrong types are TypeMismatch",
            |cx: &Ctx| {
                let mut sb = refs(cx)?;
                let inst = sb.instance();
                for n in [0, 1, 42, u32::MAX] {
                    let r = Val::ExternRef(Some(ExternRef(n)));
                    expect_call(&mut sb, "id_ext", &[r], &[r])?;
                    expect_call(&mut sb, "is_null_ext", &[r], &[Val::I32(0)])?;
                }
                let null = Val::ExternRef(None);
                expect_call(&mut sb, "is_null_ext", &[null], &[Val::I32(1)])?;
                let max = Val::ExternRef(Some(ExternRef(u32::MAX)));
                expect_call(&mut sb, "stash", &[max], &[])?;
                let store = sb.store_mut();
                expect_eq(
                    "stashed",
                    ok("get e[1]", store.table_get(inst, "e", 1))?,
                    max,
                )?;
                let five = Val::ExternRef(Some(ExternRef(5)));
                ok("set e[2]", store.table_set(inst, "e", 2, five))?;
                expect_eq("e[2]", ok("get e[2]", store.table_get(inst, "e", 2))?, five)?;
                expect_eq("e[0]", ok("get e[0]", store.table_get(inst, "e", 0))?, null)?;
                expect_eq(
                    "old size",
                    ok("grow e", store.table_grow(inst, "e", 2, five))?,
                    4,
                )?;
                expect_eq("e[5]", ok("get e[5]", store.table_get(inst, "e", 5))?, five)?;
                let r = Val::ExternRef(Some(ExternRef(99)));
                ok("set gx", store.global_set(inst, "gx", r))?;
                expect_eq("gx", ok("get gx", store.global_get(inst, "gx"))?, r)?;
                ok("set gx null", store.global_set(inst, "gx", null))?;
                expect_eq("gx", ok("get gx", store.global_get(inst, "gx"))?, null)?;
                expect_kind(
                    "funcref into an externref table",
                    store.table_set(inst, "e", 0, Val::FuncRef(None)),
                    ErrorKind::TypeMismatch,
                )?;
                expect_kind(
                    "i32 into an externref global",
                    store.global_set(inst, "gx", Val::I32(1)),
                    ErrorKind::TypeMismatch,
                )?;
                expect_kind(
                    "externref as a funcref argument",
                    sb.call("call", &[null]),
                    ErrorKind::TypeMismatch,
                )
            }
        ),
        check!(
            "values/externref_host",
            "an externref passed to a host function arrives with its payload, and the host's result comes back",
            |cx: &Ctx| {
                let mut sb = refs(cx)?;
                expect_call(
                    &mut sb,
                    "via_host",
                    &[Val::ExternRef(Some(ExternRef(7)))],
                    &[Val::ExternRef(Some(ExternRef(8)))],
                )?;
                expect_eq("host saw", sb.data().counter, 7)?;
                expect_call(
                    &mut sb,
                    "via_host",
                    &[Val::ExternRef(None)],
                    &[Val::ExternRef(None)],
                )?;
                expect_eq("host saw null", sb.data().counter, -1)
            }
        ),
        check!(
            "values/externref_no_accumulation",
            "50,000 externref calls in a store capped at one page of memory neither fail nor accumulate",
            |cx: &Ctx| {
                let mut sb = ok(
                    "instantiate",
                    cx.sandbox(
                        r#"(module (memory 1) (func (export "id") (param externref) (result externref) local.get 0))"#,
                        &Config::new(),
                        &Linker::new(),
                        &Limits::new().memory_bytes(65536),
                    ),
                )?;
                for i in 0..50_000u32 {
                    let v = Val::ExternRef(Some(ExternRef(i)));
                    expect_call(&mut sb, "id", &[v], &[v])?;
                }
                Ok(())
            }
        ),
        check!(
            "values/funcref_identity",
            "one function is one FuncRef however it is read (table, ref.func, global, repeatedly); distinct functions and instances differ",
            |cx: &Ctx| {
                let mut sb = refs(cx)?;
                let inst = sb.instance();
                let a = ok("get 0", sb.call("get", &[Val::I32(0)]))?[0];
                let b = ok("get 1", sb.call("get", &[Val::I32(1)]))?[0];
                if !matches!(a, Val::FuncRef(Some(_))) || !matches!(b, Val::FuncRef(Some(_))) {
                    return Err(format!(
                        "table slots 0 and 1 should hold functions: {a:?}, {b:?}"
                    ));
                }
                if a == b {
                    return Err(format!("two functions, one FuncRef: {a:?}"));
                }
                for _ in 0..100 {
                    expect_call(&mut sb, "get", &[Val::I32(0)], &[a])?;
                    expect_call(&mut sb, "ref_seven", &[], &[a])?;
                }
                let store = sb.store_mut();
                expect_eq(
                    "table_get t[0]",
                    ok("table_get", store.table_get(inst, "t", 0))?,
                    a,
                )?;
                expect_eq(
                    "g_seven",
                    ok("global_get", store.global_get(inst, "g_seven"))?,
                    a,
                )?;
                // A second instance of the module: its functions are others.
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let module = ok("compile", engine.compile(&wasm(REFS)))?;
                let mut store = ok("store", engine.store(Host::default(), &Limits::new()))?;
                let i1 = ok(
                    "instance 1",
                    store.instantiate(&module, &refs_linker(|v| v)),
                )?;
                let i2 = ok(
                    "instance 2",
                    store.instantiate(&module, &refs_linker(|v| v)),
                )?;
                let f1 = ok("t[0] of 1", store.table_get(i1, "t", 0))?;
                let f2 = ok("t[0] of 2", store.table_get(i2, "t", 0))?;
                if f1 == f2 {
                    return Err(format!("two instances' functions share a FuncRef: {f1:?}"));
                }
                expect_eq("stable", ok("t[0] of 1", store.table_get(i1, "t", 0))?, f1)
            }
        ),
        check!(
            "values/funcref_calls",
            "funcrefs from the host are called, stored in globals and tables, grown with; null traps, unknown ones are TypeMismatch",
            |cx: &Ctx| {
                let mut sb = refs(cx)?;
                let inst = sb.instance();
                let a = ok("get 0", sb.call("get", &[Val::I32(0)]))?[0];
                let b = ok("get 1", sb.call("get", &[Val::I32(1)]))?[0];
                expect_call(&mut sb, "call", &[b], &[Val::I32(8)])?;
                expect_call(&mut sb, "call", &[a], &[Val::I32(7)])?;
                expect_trap(
                    "call null",
                    sb.call("call", &[Val::FuncRef(None)]),
                    TrapCode::IndirectCallToNull,
                )?;
                let bogus = Val::FuncRef(Some(FuncRef(123_456)));
                expect_kind(
                    "call with an unknown funcref",
                    sb.call("call", &[bogus]),
                    ErrorKind::TypeMismatch,
                )?;
                let store = sb.store_mut();
                expect_kind(
                    "table_set unknown",
                    store.table_set(inst, "t", 1, bogus),
                    ErrorKind::TypeMismatch,
                )?;
                expect_kind(
                    "global_set unknown",
                    store.global_set(inst, "gf", bogus),
                    ErrorKind::TypeMismatch,
                )?;
                expect_kind(
                    "externref into a funcref table",
                    store.table_set(inst, "t", 0, Val::ExternRef(None)),
                    ErrorKind::TypeMismatch,
                )?;
                ok("set gf", store.global_set(inst, "gf", b))?;
                expect_eq("gf", ok("get gf", store.global_get(inst, "gf"))?, b)?;
                ok(
                    "set gf null",
                    store.global_set(inst, "gf", Val::FuncRef(None)),
                )?;
                expect_eq(
                    "gf",
                    ok("get gf", store.global_get(inst, "gf"))?,
                    Val::FuncRef(None),
                )?;
                ok("set t[2]", store.table_set(inst, "t", 2, a))?;
                expect_eq("t[2]", ok("get t[2]", store.table_get(inst, "t", 2))?, a)?;
                expect_eq(
                    "old size",
                    ok("grow", store.table_grow(inst, "t", 2, b))?,
                    3,
                )?;
                expect_eq("t[4]", ok("get t[4]", store.table_get(inst, "t", 4))?, b)?;
                expect_kind(
                    "get t[5]",
                    store.table_get(inst, "t", 5),
                    ErrorKind::OutOfBounds,
                )?;
                expect_kind(
                    "set t[5]",
                    store.table_set(inst, "t", 5, a),
                    ErrorKind::OutOfBounds,
                )?;
                expect_kind(
                    "missing table",
                    store.table_get(inst, "missing", 0),
                    ErrorKind::ExportNotFound,
                )?;
                expect_call(&mut sb, "call", &[b], &[Val::I32(8)])
            }
        ),
        check!(
            "values/funcref_host",
            "a host function gets a guest's funcref and returns it callable; returning an unknown funcref is a HostError trap",
            |cx: &Ctx| {
                let mut sb = refs(cx)?;
                expect_call(&mut sb, "pick_nine", &[], &[Val::I32(9)])?;
                expect_eq("host got a function", sb.data().counter, 1)?;
                let mut bad = ok(
                    "instantiate with a bad host",
                    cx.sandbox(
                        REFS,
                        &Config::new(),
                        &refs_linker(|_| Val::FuncRef(Some(FuncRef(123_456)))),
                        &Limits::new(),
                    ),
                )?;
                let r = bad.call("pick_nine", &[]);
                if let Err(e) = &r
                    && e.host_error().is_none()
                {
                    return Err(format!("the trap carries no host error: {e}"));
                }
                expect_trap("unknown funcref from the host", r, TrapCode::HostError)
            }
        ),
        check!(
            "values/extern_types",
            "import and export types report value types, limits, mutability and element types",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let m = ok(
                    "compile",
                    engine.compile(&wasm(
                        r#"(module
                          (import "env" "f" (func (param i32) (result i64)))
                          (import "env" "m" (memory 1 2))
                          (import "env" "g" (global (mut f32)))
                          (import "env" "t" (table 3 externref))
                          (export "m2" (memory 0))
                          (func (export "h")))"#,
                    )),
                )?;
                let imports: Vec<_> = m
                    .imports()
                    .iter()
                    .map(|i| (i.module.as_str(), i.name.as_str(), i.ty.clone()))
                    .collect();
                expect_eq(
                    "imports",
                    imports,
                    vec![
                        (
                            "env",
                            "f",
                            ExternType::Func(FuncType::new([ValType::I32], [ValType::I64])),
                        ),
                        (
                            "env",
                            "m",
                            ExternType::Memory(MemoryType {
                                minimum: 1,
                                maximum: Some(2),
                                memory64: false,
                                shared: false,
                            }),
                        ),
                        (
                            "env",
                            "g",
                            ExternType::Global(GlobalType {
                                content: ValType::F32,
                                mutable: true,
                            }),
                        ),
                        (
                            "env",
                            "t",
                            ExternType::Table(TableType {
                                element: ValType::ExternRef,
                                minimum: 3,
                                maximum: None,
                            }),
                        ),
                    ],
                )?;
                let exports: Vec<_> = m
                    .exports()
                    .iter()
                    .map(|e| (e.name.as_str(), e.ty.clone()))
                    .collect();
                expect_eq(
                    "exports",
                    exports,
                    vec![
                        (
                            "m2",
                            ExternType::Memory(MemoryType {
                                minimum: 1,
                                maximum: Some(2),
                                memory64: false,
                                shared: false,
                            }),
                        ),
                        ("h", ExternType::Func(FuncType::default())),
                    ],
                )
            }
        ),
    ]
}
