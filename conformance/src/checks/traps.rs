//! Every trap code, from the same fixture, on every backend.

use anywasm::{Config, ErrorKind, Limits, Linker, TrapCode, Val};

use super::{TRAPS, check};
use crate::harness::{expect_call, expect_trap, ok};
use crate::{Check, Ctx};

fn trap_case(cx: &Ctx, export: &str, args: &[Val], code: TrapCode) -> Result<(), String> {
    let mut sb = ok(
        "instantiate traps.wat",
        cx.sandbox(TRAPS, &Config::new(), &Linker::new(), &Limits::new()),
    )?;
    expect_trap(export, sb.call(export, args), code)?;
    // The store survives the trap: the next call works.
    expect_call(&mut sb, "ok", &[], &[Val::I32(7)])
}

fn instantiate_trap(cx: &Ctx, wat: &str, code: TrapCode) -> Result<(), String> {
    let r = cx.sandbox(wat, &Config::new(), &Linker::new(), &Limits::new());
    expect_trap("instantiate", r.map(|_| ()), code)
}

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "trap/unreachable",
            "unreachable -> Unreachable",
            |cx: &Ctx| trap_case(cx, "unreachable", &[], TrapCode::Unreachable)
        ),
        check!(
            "trap/memory_oob_load",
            "load past the end -> MemoryOutOfBounds",
            |cx: &Ctx| trap_case(cx, "mem_oob_load", &[], TrapCode::MemoryOutOfBounds)
        ),
        check!(
            "trap/memory_oob_store",
            "store straddling the end -> MemoryOutOfBounds",
            |cx: &Ctx| trap_case(cx, "mem_oob_store", &[], TrapCode::MemoryOutOfBounds)
        ),
        check!(
            "trap/memory_oob_bulk",
            "memory.fill past the end -> MemoryOutOfBounds",
            |cx: &Ctx| trap_case(cx, "mem_oob_fill", &[], TrapCode::MemoryOutOfBounds)
        ),
        check!(
            "trap/table_oob_call",
            "call_indirect past the table -> TableOutOfBounds",
            |cx: &Ctx| trap_case(cx, "table_oob_call", &[], TrapCode::TableOutOfBounds)
        ),
        check!(
            "trap/table_oob_get",
            "table.get past the table -> TableOutOfBounds",
            |cx: &Ctx| trap_case(cx, "table_oob_get", &[], TrapCode::TableOutOfBounds)
        ),
        check!(
            "trap/indirect_call_null",
            "call_indirect on a null slot -> IndirectCallToNull",
            |cx: &Ctx| trap_case(cx, "call_null", &[], TrapCode::IndirectCallToNull)
        ),
        check!(
            "trap/bad_signature",
            "call_indirect with the wrong type -> BadSignature",
            |cx: &Ctx| trap_case(cx, "bad_signature", &[], TrapCode::BadSignature)
        ),
        check!(
            "trap/integer_overflow",
            "i32/i64 MIN / -1 -> IntegerOverflow",
            |cx: &Ctx| {
                trap_case(cx, "i32_overflow", &[], TrapCode::IntegerOverflow)?;
                trap_case(cx, "i64_overflow", &[], TrapCode::IntegerOverflow)
            }
        ),
        check!(
            "trap/division_by_zero",
            "div and rem by zero -> IntegerDivisionByZero",
            |cx: &Ctx| {
                trap_case(cx, "i32_div_zero", &[], TrapCode::IntegerDivisionByZero)?;
                trap_case(cx, "i64_rem_zero", &[], TrapCode::IntegerDivisionByZero)
            }
        ),
        check!(
            "trap/bad_conversion",
            "trunc of NaN -> BadConversionToInteger",
            |cx: &Ctx| trap_case(cx, "trunc_nan", &[], TrapCode::BadConversionToInteger)
        ),
        check!(
            "trap/conversion_overflow",
            "trunc of an out-of-range float -> IntegerOverflow (the spec's wording)",
            |cx: &Ctx| trap_case(cx, "trunc_range", &[], TrapCode::IntegerOverflow)
        ),
        check!(
            "trap/stack_overflow",
            "runaway recursion -> StackOverflow, host keeps running",
            |cx: &Ctx| { trap_case(cx, "recurse", &[Val::I64(0)], TrapCode::StackOverflow) }
        ),
        check!(
            "trap/start_function",
            "a trapping start function fails instantiation with its trap",
            |cx: &Ctx| {
                instantiate_trap(
                    cx,
                    "(module (func $s unreachable) (start $s))",
                    TrapCode::Unreachable,
                )
            }
        ),
        check!(
            "trap/data_segment_oob",
            "a data segment past memory fails instantiation -> MemoryOutOfBounds",
            |cx: &Ctx| {
                instantiate_trap(
                    cx,
                    r#"(module (memory 1) (data (i32.const 65535) "ab"))"#,
                    TrapCode::MemoryOutOfBounds,
                )
            }
        ),
        check!(
            "trap/elem_segment_oob",
            "an element segment past the table fails instantiation -> TableOutOfBounds",
            |cx: &Ctx| {
                instantiate_trap(
                    cx,
                    "(module (table 1 funcref) (func $f) (elem (i32.const 1) $f))",
                    TrapCode::TableOutOfBounds,
                )
            }
        ),
        check!(
            "trap/repeated",
            "a thousand traps in one store leave it working",
            |cx: &Ctx| {
                let mut sb = ok(
                    "instantiate",
                    cx.sandbox(TRAPS, &Config::new(), &Linker::new(), &Limits::new()),
                )?;
                for i in 0..1000 {
                    match sb.call("mem_oob_load", &[]) {
                        Err(e) if e.kind() == ErrorKind::Trap(TrapCode::MemoryOutOfBounds) => {}
                        other => return Err(format!("iteration {i}: {other:?}")),
                    }
                }
                expect_call(&mut sb, "ok", &[], &[Val::I32(7)])
            }
        ),
    ]
}
