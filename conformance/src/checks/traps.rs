//! Every trap code, from the same fixture, on every backend.

use std::time::Duration;

use anywasm::{Config, ErrorKind, Limits, Linker, TrapCode, Val};

use super::{TRAPS, check};
use crate::harness::{expect_call, expect_eq, expect_kind, expect_trap, ok, wasm};
use crate::{Check, Ctx};

const CONVERSIONS: &str = include_str!("../../fixtures/traps_conversions.wat");

/// Counts down `n` frames and returns `n`: recursion that ends.
const DOWN: &str = r#"(module
  (func $down (export "down") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $down (i32.sub (local.get 0) (i32.const 1))) (i32.const 1))))))"#;

/// Every call-time trap of `traps.wat`, with its code.
const CALL_TRAPS: &[(&str, TrapCode)] = &[
    ("unreachable", TrapCode::Unreachable),
    ("mem_oob_load", TrapCode::MemoryOutOfBounds),
    ("mem_oob_store", TrapCode::MemoryOutOfBounds),
    ("mem_oob_fill", TrapCode::MemoryOutOfBounds),
    ("mem_oob_copy", TrapCode::MemoryOutOfBounds),
    ("table_oob_call", TrapCode::TableOutOfBounds),
    ("table_oob_get", TrapCode::TableOutOfBounds),
    ("table_oob_set", TrapCode::TableOutOfBounds),
    ("call_null", TrapCode::IndirectCallToNull),
    ("bad_signature", TrapCode::BadSignature),
    ("i32_overflow", TrapCode::IntegerOverflow),
    ("i64_overflow", TrapCode::IntegerOverflow),
    ("i32_div_zero", TrapCode::IntegerDivisionByZero),
    ("i32_rem_zero", TrapCode::IntegerDivisionByZero),
    ("i64_rem_zero", TrapCode::IntegerDivisionByZero),
    ("trunc_nan", TrapCode::BadConversionToInteger),
    ("trunc_range", TrapCode::IntegerOverflow),
];

/// Every trapping truncation of `traps_conversions.wat` and the in-range and
/// saturating ones that must not trap.
fn conversions(cx: &Ctx, config: &Config, limits: &Limits) -> Result<(), String> {
    let mut sb = ok(
        "instantiate traps_conversions.wat",
        cx.sandbox(CONVERSIONS, config, &Linker::new(), limits),
    )?;
    for (name, f64_arg) in [
        ("i32_f32_s", false),
        ("i32_f32_u", false),
        ("i32_f64_s", true),
        ("i32_f64_u", true),
        ("i64_f32_s", false),
        ("i64_f32_u", false),
        ("i64_f64_s", true),
        ("i64_f64_u", true),
    ] {
        for x in [1e30, -1e30, f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
            let arg = if f64_arg {
                Val::from(x)
            } else {
                Val::from(x as f32)
            };
            let want = if x.is_nan() {
                TrapCode::BadConversionToInteger
            } else {
                TrapCode::IntegerOverflow
            };
            expect_trap(&format!("{name}({x})"), sb.call(name, &[arg]), want)?;
        }
    }
    expect_trap(
        "const_range",
        sb.call("const_range", &[]),
        TrapCode::IntegerOverflow,
    )?;
    expect_trap(
        "const_nan",
        sb.call("const_nan", &[]),
        TrapCode::BadConversionToInteger,
    )?;
    expect_trap(
        "i64_div",
        sb.call("i64_div", &[Val::I64(i64::MIN), Val::I64(-1)]),
        TrapCode::IntegerOverflow,
    )?;
    expect_call(&mut sb, "saturating", &[], &[Val::I32(0)])?;
    expect_call(&mut sb, "i64_f64_s", &[Val::from(3.9f64)], &[Val::I64(3)])?;
    expect_call(&mut sb, "i32_f32_u", &[Val::from(-0.9f32)], &[Val::I32(0)])?;
    expect_call(
        &mut sb,
        "deep",
        &[Val::I32(3), Val::from(-7.9f64)],
        &[Val::I32(-7)],
    )
}

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
            "memory.fill and memory.copy past the end -> MemoryOutOfBounds",
            |cx: &Ctx| {
                trap_case(cx, "mem_oob_fill", &[], TrapCode::MemoryOutOfBounds)?;
                trap_case(cx, "mem_oob_copy", &[], TrapCode::MemoryOutOfBounds)
            }
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
            "trap/table_oob_set",
            "table.set past the table -> TableOutOfBounds",
            |cx: &Ctx| trap_case(cx, "table_oob_set", &[], TrapCode::TableOutOfBounds)
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
                trap_case(cx, "i32_rem_zero", &[], TrapCode::IntegerDivisionByZero)?;
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
        check!(
            "trap/display",
            "every trap error carries its code, no host error, and shows as `[backend] trap: <code>`",
            |cx: &Ctx| {
                let mut sb = ok(
                    "instantiate traps.wat",
                    cx.sandbox(TRAPS, &Config::new(), &Linker::new(), &Limits::new()),
                )?;
                for &(name, code) in CALL_TRAPS {
                    let e = match sb.call(name, &[]) {
                        Err(e) => e,
                        Ok(v) => return Err(format!("{name}: expected a trap, got Ok({v:?})")),
                    };
                    expect_eq(name, e.trap_code(), Some(code))?;
                    if e.host_error().is_some() {
                        return Err(format!("{name}: an engine trap carries a host error: {e}"));
                    }
                    let want = format!("[{}] trap: {code}", cx.backend());
                    if !e.to_string().starts_with(&want) {
                        return Err(format!(
                            "{name}: shown as {e:?}, want it to start with {want:?}"
                        ));
                    }
                    expect_call(&mut sb, "ok", &[], &[Val::I32(7)])?;
                }
                Ok(())
            }
        ),
        check!(
            "trap/conversions",
            "every trapping truncation: out of range or infinite -> IntegerOverflow, NaN -> BadConversionToInteger; saturating and in-range ones do not trap",
            |cx: &Ctx| conversions(cx, &Config::new(), &Limits::new())
        ),
        check!(
            "trap/conversions_under_fuel",
            "with fuel metering on, truncations trap with the same codes",
            |cx: &Ctx| {
                conversions(
                    cx,
                    &Config::new().consume_fuel(true),
                    &Limits::new().fuel(u64::MAX / 2),
                )
            }
        ),
        check!(
            "trap/deep_in_stack",
            "a trap 100 calls down keeps its code (deeper than any backtrace cap)",
            |cx: &Ctx| {
                let mut sb = ok(
                    "instantiate traps_conversions.wat",
                    cx.sandbox(CONVERSIONS, &Config::new(), &Linker::new(), &Limits::new()),
                )?;
                expect_trap(
                    "deep",
                    sb.call("deep", &[Val::I32(100), Val::from(1e300f64)]),
                    TrapCode::IntegerOverflow,
                )?;
                expect_trap(
                    "deep NaN",
                    sb.call("deep", &[Val::I32(100), Val::from(f64::NAN)]),
                    TrapCode::BadConversionToInteger,
                )?;
                expect_call(
                    &mut sb,
                    "deep",
                    &[Val::I32(100), Val::from(12.5f64)],
                    &[Val::I32(12)],
                )
            }
        ),
        check!(
            "trap/in_imported_function",
            "a trap inside a function imported from another instance keeps its code",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let mut store = ok("store", engine.store(Default::default(), &Limits::new()))?;
                let lib = ok(
                    "lib",
                    store.instantiate(
                        &ok("compile lib", engine.compile(&wasm(CONVERSIONS)))?,
                        &Linker::new(),
                    ),
                )?;
                ok("register", store.register("lib", lib))?;
                let user = ok(
                    "user",
                    store.instantiate(
                        &ok(
                            "compile user",
                            engine.compile(&wasm(
                                r#"(module
                                  (import "lib" "i32_f64_s" (func $t (param f64) (result i32)))
                                  (func (export "go") (param f64) (result i32) (call $t (local.get 0))))"#,
                            )),
                        )?,
                        &Linker::new(),
                    ),
                )?;
                expect_trap(
                    "go(1e20)",
                    store.call_export(user, "go", &[Val::from(1e20f64)]),
                    TrapCode::IntegerOverflow,
                )?;
                expect_trap(
                    "go(NaN)",
                    store.call_export(user, "go", &[Val::from(f64::NAN)]),
                    TrapCode::BadConversionToInteger,
                )?;
                expect_eq(
                    "go(-2.5)",
                    ok("go", store.call_export(user, "go", &[Val::from(-2.5f64)]))?,
                    vec![Val::I32(-2)],
                )
            }
        ),
        check!(
            "trap/instantiation_store_survives",
            "traps while instantiating (start function, segments) carry their code and leave the store usable",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let mut store = ok("store", engine.store(Default::default(), &Limits::new()))?;
                for (wat, code) in [
                    (
                        "(module (func $s unreachable) (start $s))",
                        TrapCode::Unreachable,
                    ),
                    (
                        "(module (func $s (drop (i32.div_s (i32.const 1) (i32.const 0)))) (start $s))",
                        TrapCode::IntegerDivisionByZero,
                    ),
                    (
                        "(module (func $s (drop (i32.trunc_f32_u (f32.const -5)))) (start $s))",
                        TrapCode::IntegerOverflow,
                    ),
                    (
                        r#"(module (memory 1) (data (i32.const 65535) "ab"))"#,
                        TrapCode::MemoryOutOfBounds,
                    ),
                    (
                        "(module (table 1 funcref) (func $f) (elem (i32.const 1) func $f))",
                        TrapCode::TableOutOfBounds,
                    ),
                ] {
                    let module = ok(wat, engine.compile(&wasm(wat)))?;
                    expect_trap(wat, store.instantiate(&module, &Linker::new()), code)?;
                }
                let module = ok(
                    "compile",
                    engine.compile(&wasm(
                        r#"(module (func (export "f") (result i32) i32.const 3))"#,
                    )),
                )?;
                let inst = ok(
                    "instantiate after the traps",
                    store.instantiate(&module, &Linker::new()),
                )?;
                expect_eq(
                    "f",
                    ok("f", store.call_export(inst, "f", &[]))?,
                    vec![Val::I32(3)],
                )
            }
        ),
        check!(
            "trap/start_function_runs",
            "the start function runs before instantiation returns, and is not an export",
            |cx: &Ctx| {
                let wat = r#"(module
                  (global $g (export "g") (mut i32) (i32.const 0))
                  (func $s (global.set $g (i32.const 42)))
                  (start $s))"#;
                let mut sb = ok(
                    "instantiate",
                    cx.sandbox(wat, &Config::new(), &Linker::new(), &Limits::new()),
                )?;
                let inst = sb.instance();
                expect_eq(
                    "g",
                    ok("g", sb.store_mut().global_get(inst, "g"))?,
                    Val::I32(42),
                )?;
                // wasmer runs the start function through a hidden export.
                expect_kind(
                    "hidden start export",
                    sb.store_mut().get_func(inst, "\u{0}anywasm:start"),
                    ErrorKind::ExportNotFound,
                )
            }
        ),
        check!(
            "trap/stack_overflow_repeated",
            "stack overflow five times in one store, each followed by a working call",
            |cx: &Ctx| {
                let mut sb = ok(
                    "instantiate traps.wat",
                    cx.sandbox(TRAPS, &Config::new(), &Linker::new(), &Limits::new()),
                )?;
                for i in 0..5 {
                    expect_trap(
                        &format!("overflow {i}"),
                        sb.call("recurse", &[Val::I64(0)]),
                        TrapCode::StackOverflow,
                    )?;
                    expect_call(&mut sb, "ok", &[], &[Val::I32(7)])?;
                }
                Ok(())
            }
        ),
        check!(
            "trap/stack_overflow_configured",
            "under a configured stack bound (64 KiB to 1 MiB) overflow still traps cleanly; 512 KiB holds 3000 small frames",
            |cx: &Ctx| {
                for bytes in [64usize << 10, 512 << 10, 1 << 20] {
                    let config = Config::new().max_stack_bytes(bytes);
                    let mut sb = ok(
                        &format!("instantiate with {bytes} bytes"),
                        cx.sandbox(TRAPS, &config, &Linker::new(), &Limits::new()),
                    )?;
                    expect_trap(
                        &format!("recurse with {bytes} bytes"),
                        sb.call("recurse", &[Val::I64(0)]),
                        TrapCode::StackOverflow,
                    )?;
                    expect_call(&mut sb, "ok", &[], &[Val::I32(7)])?;
                }
                let config = Config::new().max_stack_bytes(512 << 10);
                let mut sb = ok(
                    "instantiate",
                    cx.sandbox(DOWN, &config, &Linker::new(), &Limits::new()),
                )?;
                expect_call(&mut sb, "down", &[Val::I32(3000)], &[Val::I32(3000)])
            }
        ),
        check!(
            "trap/with_fuel_and_timeout",
            "with fuel metering and timeouts both on, traps keep their codes and the store keeps working",
            |cx: &Ctx| {
                let config = Config::new().consume_fuel(true).timeouts(true);
                let limits = Limits::new()
                    .fuel(u64::MAX / 2)
                    .timeout(Duration::from_secs(60));
                let mut sb = ok(
                    "instantiate traps.wat",
                    cx.sandbox(TRAPS, &config, &Linker::new(), &limits),
                )?;
                for &(name, code) in CALL_TRAPS {
                    expect_trap(name, sb.call(name, &[]), code)?;
                }
                expect_trap(
                    "recurse",
                    sb.call("recurse", &[Val::I64(0)]),
                    TrapCode::StackOverflow,
                )?;
                expect_call(&mut sb, "ok", &[], &[Val::I32(7)])
            }
        ),
    ]
}
