//! The plugin ABI (docs/abi.md) end to end: a Rust guest built with
//! anywasm-guest, a hand-written guest, and hostile guests, on every backend.

use std::time::Duration;

use anywasm::{Capabilities, Config, ErrorKind, Limits, Linker, Plugin, TrapCode, abi};
use anywasm_test_types::{Record, sample_records};

use super::check;
use crate::harness::{expect_eq, expect_kind, ok, wasm};
use crate::{Check, Ctx, Host};

use crate::guests::ABI_GUEST;
const HAND: &str = include_str!("../../fixtures/abi/hand.wat");
const NO_ALLOC: &str = include_str!("../../fixtures/abi/no_alloc.wat");
const BAD_ALLOC_TYPE: &str = include_str!("../../fixtures/abi/bad_alloc_type.wat");
const ABI_V3: &str = include_str!("../../fixtures/abi/abi_v3.wat");
const HAND_V2: &str = include_str!("../../fixtures/abi/hand_v2.wat");
const HAND_V2_REPLIES: &str = include_str!("../../fixtures/abi/hand_v2_replies.wat");
/// The line of `hand_v2_replies.wat` that exports its reply area.
const REPLIES_EXPORT_LINE: &str = "(func (export \"anywasm_abi_v2_replies\") (result i64) (global.set $replies (i32.const 1)) (i64.const 0x0000080000000002))";
const V2_NO_EXPORT: &str = include_str!("../../fixtures/abi/v2_no_export.wat");
const V2_SCRATCH_OUT_OF_RANGE: &str =
    include_str!("../../fixtures/abi/v2_scratch_out_of_range.wat");
const NO_ABI_SECTION: &str = include_str!("../../fixtures/abi/no_abi_section.wat");
const ALLOC_TRAPS: &str = include_str!("../../fixtures/abi/alloc_traps.wat");
const ALLOC_OUT_OF_RANGE: &str = include_str!("../../fixtures/abi/alloc_out_of_range.wat");
const ALLOC_ZERO: &str = include_str!("../../fixtures/abi/alloc_zero.wat");

/// Host functions the guest may import: `anywasm::add`, capability `math`.
fn linker() -> Linker<Host> {
    crate::abi_linker(|h: &mut Host| h.counter += 1).0
}

fn math() -> Capabilities {
    crate::abi_linker(|h: &mut Host| h.counter += 1).1
}

fn load(cx: &Ctx, wasm: &[u8], config: &Config, limits: &Limits) -> anywasm::Result<Plugin<Host>> {
    let engine = cx.engine(config)?;
    let linker = linker();
    Plugin::builder(&*engine)
        .linker(&linker)
        .capabilities(&math())
        .limits(limits)
        .data(Host::default())
        .build(wasm)
}

fn guest(cx: &Ctx) -> Result<Plugin<Host>, String> {
    ok(
        "load abi-guest",
        load(cx, ABI_GUEST, &Config::new(), &Limits::new()),
    )
}

fn load_err(cx: &Ctx, wat: &str, kind: ErrorKind) -> Result<(), String> {
    expect_kind(
        "load",
        load(cx, &wasm(wat), &Config::new(), &Limits::new()).map(|_| ()),
        kind,
    )
}

/// `hand_v2_replies.wat` with its reply-area export line replaced by
/// `export_line`; its `add` answers sums whose response fits the 2-byte area
/// (`Ok(42)`), sums whose response does not (`Ok(300)`), and a host error,
/// trapping if the host put any of them in the wrong place; again on the
/// instance that replaces one that trapped.
fn hand_replies(cx: &Ctx, export_line: &str) -> Result<(), String> {
    let wat = HAND_V2_REPLIES.replace(REPLIES_EXPORT_LINE, export_line);
    if wat == HAND_V2_REPLIES && export_line != REPLIES_EXPORT_LINE {
        return Err("the fixture's reply-area export line was not found".into());
    }
    let mut p = ok(
        "load hand_v2_replies.wat",
        load(cx, &wasm(&wat), &Config::new(), &Limits::new()),
    )?;
    for round in ["first instance", "after a trap"] {
        for (a, b) in [(40, 2), (200, 100), (1, 2), (100_000, 1)] {
            let what = format!("{round}: add({a}, {b})");
            let sum: i32 = ok(&what, p.call("add", &(a, b)))?;
            expect_eq(&what, sum, a + b)?;
        }
        match p.call::<_, i32>("add", &(i32::MAX, 1)) {
            Err(e) if e.kind() == ErrorKind::Guest && e.message().contains("overflows") => {}
            other => return Err(format!("{round}: expected the host's error, got {other:?}")),
        }
        expect_kind(
            "boom",
            p.call::<_, ()>("boom", &()),
            ErrorKind::Trap(TrapCode::Unreachable),
        )?;
    }
    Ok(())
}

fn echo(p: &mut Plugin<Host>, n: usize) -> Result<(), String> {
    let input: Vec<u8> = (0..n).map(|i| (i * 7 + i / 251) as u8).collect();
    let got: Vec<u8> = ok(&format!("echo {n} B"), p.call("echo_bytes", &input))?;
    if got != input {
        return Err(format!(
            "echo of {n} bytes came back different ({} bytes)",
            got.len()
        ));
    }
    Ok(())
}

fn bad_response(cx: &Ctx, kind: u32) -> Result<(), String> {
    let mut p = guest(cx)?;
    let r: anywasm::Result<Vec<u8>> = p.call("bad_response", &kind);
    expect_kind(&format!("bad_response({kind})"), r, ErrorKind::Abi)?;
    // The host is unharmed and the plugin still answers.
    echo(&mut p, 16)
}

/// `call`, a form of `Plugin::call_bytes` on the ABI guest: the encoded
/// `add_via_host(40, 2)` in, the encoded sum out; `fail` comes back as the
/// guest's error with its message.
pub(super) fn encoded_round_trip(
    mut call: impl FnMut(&str, &[u8]) -> anywasm::Result<Vec<u8>>,
) -> Result<(), String> {
    let request = ok("encode", anywasm::abi::encode(&(40i32, 2i32)))?;
    let raw = ok("add_via_host", call("add_via_host", &request))?;
    let sum: i32 = ok(
        "decode",
        anywasm::abi::decode(&raw, anywasm::abi::DEFAULT_MESSAGE_CAP),
    )?;
    expect_eq("sum", sum, 42)?;
    let request = ok("encode", anywasm::abi::encode("refused"))?;
    match call("fail", &request) {
        Err(e) if e.kind() == ErrorKind::Guest => expect_eq("message", e.message(), "refused"),
        other => Err(format!("expected a guest error, got {other:?}")),
    }
}

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!("abi/echo_0b", "an empty payload round-trips", |cx: &Ctx| {
            echo(&mut guest(cx)?, 0)
        }),
        check!(
            "abi/echo_1kib",
            "a 1 KiB payload round-trips",
            |cx: &Ctx| echo(&mut guest(cx)?, 1024)
        ),
        check!(
            "abi/echo_1mib",
            "a 1 MiB payload round-trips",
            |cx: &Ctx| echo(&mut guest(cx)?, 1 << 20)
        ),
        check!("abi/noop", "a unit request and response", |cx: &Ctx| {
            let mut p = guest(cx)?;
            ok("noop", p.call::<(), ()>("noop", &()))
        }),
        check!(
            "abi/structured",
            "nested structs, enums, strings and maps round-trip",
            |cx: &Ctx| {
                let mut p = guest(cx)?;
                let records = sample_records(20);
                let one: Record = ok("echo_record", p.call("echo_record", &records[3]))?;
                expect_eq("record", &one, &records[3])?;
                let many: Vec<Record> = ok("echo_records", p.call("echo_records", &records))?;
                expect_eq("records", many, records)
            }
        ),
        check!(
            "abi/guest_error",
            "a guest Err comes back as ErrorKind::Guest with its message",
            |cx: &Ctx| {
                let mut p = guest(cx)?;
                match p.call::<_, ()>("fail", "no such thing") {
                    Err(e) if e.kind() == ErrorKind::Guest => {
                        expect_eq("message", e.message(), "no such thing")
                    }
                    other => Err(format!("expected a guest error, got {other:?}")),
                }
            }
        ),
        check!(
            "abi/call_bytes",
            "Plugin::call_bytes passes an encoded request in and the encoded Ok payload out",
            |cx: &Ctx| {
                let mut p = guest(cx)?;
                encoded_round_trip(|name, request| p.call_bytes(name, request))?;
                let sum: i32 = ok("typed call after", p.call("add_via_host", &(1, 2)))?;
                expect_eq("sum", sum, 3)
            }
        ),
        check!(
            "abi/host_call",
            "the guest calls a typed host function with typed args and results",
            |cx: &Ctx| {
                let mut p = guest(cx)?;
                let sum: i32 = ok("add_via_host", p.call("add_via_host", &(40, 2)))?;
                expect_eq("sum", sum, 42)?;
                expect_eq("host saw the call", p.data().counter, 1)
            }
        ),
        check!(
            "abi/host_call_error",
            "a host function's error reaches the guest, which returns it",
            |cx: &Ctx| {
                let mut p = guest(cx)?;
                match p.call::<_, i32>("add_via_host", &(i32::MAX, 1)) {
                    Err(e) if e.kind() == ErrorKind::Guest && e.message().contains("overflows") => {
                        Ok(())
                    }
                    other => Err(format!(
                        "expected the host's error via the guest, got {other:?}"
                    )),
                }
            }
        ),
        check!(
            "abi/panic_then_fresh_instance",
            "a guest panic traps; the next call gets a fresh instance",
            |cx: &Ctx| {
                let mut p = guest(cx)?;
                let before = p.instance();
                expect_kind(
                    "panic",
                    p.call::<_, ()>("panic", "boom"),
                    ErrorKind::Trap(TrapCode::Unreachable),
                )?;
                echo(&mut p, 100)?;
                if p.instance() == before {
                    return Err("the trapped instance was called again".into());
                }
                Ok(())
            }
        ),
        check!(
            "abi/manifest",
            "the manifest travels in the module's custom section",
            |cx: &Ctx| {
                let p = guest(cx)?;
                let m = p.manifest().ok_or("abi-guest has no manifest")?;
                if !m.contains("name = \"abi-guest\"") || !m.contains("math") {
                    return Err(format!("unexpected manifest: {m}"));
                }
                Ok(())
            }
        ),
        check!(
            "abi/hand_written_guest",
            "a version 1 guest written by hand from docs/abi.md works",
            |cx: &Ctx| {
                let mut p = ok(
                    "load hand.wat",
                    load(cx, &wasm(HAND), &Config::new(), &Limits::new()),
                )?;
                expect_eq(
                    "answer",
                    ok("answer", p.call::<(), u32>("answer", &()))?,
                    42,
                )?;
                let data = vec![9u8; 300];
                expect_eq(
                    "wrap",
                    ok("wrap", p.call::<_, Vec<u8>>("wrap", &data))?,
                    data,
                )
            }
        ),
        check!(
            "abi/hand_written_guest_v2",
            "a version 2 guest written by hand: one call per round trip, small requests in its scratch area, responses never freed",
            |cx: &Ctx| {
                let mut p = ok(
                    "load hand_v2.wat",
                    load(cx, &wasm(HAND_V2), &Config::new(), &Limits::new()),
                )?;
                for n in [0usize, 1, 300, 509, 510, 5000, 300] {
                    let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
                    expect_eq(
                        &format!("wrap {n} B"),
                        ok("wrap", p.call::<_, Vec<u8>>("wrap", &data))?,
                        data,
                    )?;
                    expect_eq(
                        "answer",
                        ok("answer", p.call::<(), u32>("answer", &()))?,
                        42,
                    )?;
                }
                Ok(())
            }
        ),
        check!(
            "abi/missing_allocator",
            "no anywasm_alloc export is an ABI error at load",
            |cx: &Ctx| load_err(cx, NO_ALLOC, ErrorKind::Abi)
        ),
        check!(
            "abi/mistyped_allocator",
            "an anywasm_alloc of the wrong type is an ABI error at load",
            |cx: &Ctx| load_err(cx, BAD_ALLOC_TYPE, ErrorKind::Abi)
        ),
        check!(
            "abi/wrong_version",
            "ABI version 3 is refused at load",
            |cx: &Ctx| load_err(cx, ABI_V3, ErrorKind::Abi)
        ),
        check!(
            "abi/v2_replies_in_area",
            "host function responses that fit a version 2 plugin's reply area are written there, larger ones allocated",
            |cx: &Ctx| hand_replies(cx, REPLIES_EXPORT_LINE)
        ),
        check!(
            "abi/v2_replies_optional",
            "a version 2 plugin without a reply area gets every host function response allocated",
            |cx: &Ctx| hand_replies(cx, "")
        ),
        check!(
            "abi/v2_replies_out_of_range",
            "a reply area outside guest memory is an ABI error at load",
            |cx: &Ctx| {
                let wat = HAND_V2_REPLIES.replace(
                    REPLIES_EXPORT_LINE,
                    "(func (export \"anywasm_abi_v2_replies\") (result i64) (i64.const 0xFFFF000000000010))",
                );
                load_err(cx, &wat, ErrorKind::Abi)
            }
        ),
        check!(
            "abi/v2_without_export",
            "a version 2 plugin without anywasm_abi_v2 is an ABI error at load",
            |cx: &Ctx| load_err(cx, V2_NO_EXPORT, ErrorKind::Abi)
        ),
        check!(
            "abi/v2_scratch_out_of_range",
            "a version 2 scratch area outside guest memory is an ABI error at load",
            |cx: &Ctx| load_err(cx, V2_SCRATCH_OUT_OF_RANGE, ErrorKind::Abi)
        ),
        check!(
            "abi/not_a_plugin",
            "a module without the anywasm:abi section is refused at load",
            |cx: &Ctx| load_err(cx, NO_ABI_SECTION, ErrorKind::Abi)
        ),
        check!(
            "abi/ungranted_import",
            "importing a host function whose capability was not granted fails at load",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let linker = linker();
                // A builder grants nothing unless told to.
                match Plugin::builder(&*engine).linker(&linker).build(ABI_GUEST) {
                    Err(e)
                        if e.kind() == ErrorKind::CapabilityDenied
                            && e.message().contains("`math`")
                            && e.message().contains("anywasm::add") =>
                    {
                        Ok(())
                    }
                    other => Err(format!(
                        "expected CapabilityDenied naming `math`, got {:?}",
                        other.map(|_| ())
                    )),
                }
            }
        ),
        check!(
            "abi/response_out_of_bounds",
            "a response (ptr, len) past the end of memory is an ABI error",
            |cx: &Ctx| bad_response(cx, 0)
        ),
        check!(
            "abi/response_wraps_32_bits",
            "a response whose ptr + len wraps 32 bits is an ABI error",
            |cx: &Ctx| bad_response(cx, 1)
        ),
        check!(
            "abi/response_len_ffffffff",
            "a response length of 0xFFFF_FFFF is refused before reading",
            |cx: &Ctx| bad_response(cx, 2)
        ),
        check!(
            "abi/length_prefix_2_40",
            "a 2^40 length prefix in a 10-byte message is refused without allocating",
            |cx: &Ctx| bad_response(cx, 3)
        ),
        check!(
            "abi/empty_response",
            "a zero-length response is an ABI error",
            |cx: &Ctx| bad_response(cx, 4)
        ),
        check!(
            "abi/garbage_response",
            "a response that does not decode is an ABI error",
            |cx: &Ctx| bad_response(cx, 5)
        ),
        check!(
            "abi/allocator_traps",
            "an allocator that traps fails the call with its trap",
            |cx: &Ctx| {
                let mut p = ok(
                    "load",
                    load(cx, &wasm(ALLOC_TRAPS), &Config::new(), &Limits::new()),
                )?;
                expect_kind(
                    "run",
                    p.call::<_, ()>("run", &7u32),
                    ErrorKind::Trap(TrapCode::Unreachable),
                )
            }
        ),
        check!(
            "abi/allocator_out_of_range",
            "an allocator returning a pointer outside memory is an ABI error",
            |cx: &Ctx| {
                let mut p = ok(
                    "load",
                    load(
                        cx,
                        &wasm(ALLOC_OUT_OF_RANGE),
                        &Config::new(),
                        &Limits::new(),
                    ),
                )?;
                expect_kind("run", p.call::<_, ()>("run", &7u32), ErrorKind::Abi)
            }
        ),
        check!(
            "abi/allocator_fails",
            "an allocator returning 0 is an ABI error",
            |cx: &Ctx| {
                let mut p = ok(
                    "load",
                    load(cx, &wasm(ALLOC_ZERO), &Config::new(), &Limits::new()),
                )?;
                expect_kind("run", p.call::<_, ()>("run", &7u32), ErrorKind::Abi)
            }
        ),
        check!(
            "abi/request_over_cap",
            "a request over the message cap is refused before the guest sees it",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let linker = linker();
                let mut p = ok(
                    "load with a 1 KiB cap",
                    Plugin::builder(&*engine)
                        .linker(&linker)
                        .capabilities(&math())
                        .message_cap(1024)
                        .build(ABI_GUEST),
                )?;
                expect_kind(
                    "2 KiB",
                    p.call::<_, Vec<u8>>("echo_bytes", &vec![0u8; 2048]),
                    ErrorKind::Abi,
                )?;
                echo(&mut p, 512)
            }
        ),
        check!(
            "abi/not_an_entry_point",
            "calling a non-ABI export through the ABI is an ABI error",
            |cx: &Ctx| {
                let mut p = guest(cx)?;
                expect_kind(
                    "alloc as entry",
                    p.call::<_, ()>(abi::ALLOC_EXPORT, &()),
                    ErrorKind::Abi,
                )?;
                expect_kind(
                    "missing",
                    p.call::<_, ()>("no_such_entry", &()),
                    ErrorKind::ExportNotFound,
                )
            }
        ),
        check!(
            "abi/allocation_bomb",
            "allocating past the memory limit traps the call; the host is unharmed",
            |cx: &Ctx| {
                let mut p = ok(
                    "load",
                    load(
                        cx,
                        ABI_GUEST,
                        &Config::new(),
                        &Limits::new().memory_bytes(16 << 20),
                    ),
                )?;
                match p.call::<_, u32>("alloc_bomb", &64u32) {
                    Err(e) if matches!(e.kind(), ErrorKind::Trap(_)) => {}
                    other => return Err(format!("expected a trap, got {other:?}")),
                }
                let inst = p.instance();
                let size = ok("memory size", p.store_mut().memory_size(inst, "memory"))?;
                if size > 16 << 20 {
                    return Err(format!("memory grew to {size} bytes past the 16 MiB limit"));
                }
                echo(&mut p, 1024)
            }
        ),
        check!(
            "abi/infinite_loop_fuel",
            "an infinite loop inside an ABI call runs out of fuel",
            |cx: &Ctx| {
                let mut p = ok(
                    "load",
                    load(
                        cx,
                        ABI_GUEST,
                        &Config::new().consume_fuel(true),
                        &Limits::new().fuel(5_000_000),
                    ),
                )?;
                expect_kind(
                    "spin",
                    p.call::<_, ()>("spin", &()),
                    ErrorKind::Trap(TrapCode::OutOfFuel),
                )
            }
        ),
        check!(
            "abi/infinite_loop_timeout",
            "an infinite loop inside an ABI call hits its timeout",
            |cx: &Ctx| {
                let mut p = ok(
                    "load",
                    load(
                        cx,
                        ABI_GUEST,
                        &Config::new().timeouts(true),
                        &Limits::new().timeout(Duration::from_millis(100)),
                    ),
                )?;
                expect_kind(
                    "spin",
                    p.call::<_, ()>("spin", &()),
                    ErrorKind::Trap(TrapCode::Timeout),
                )
            }
        ),
        check!(
            "abi/deep_recursion",
            "runaway recursion inside an ABI call is a stack overflow",
            |cx: &Ctx| {
                let mut p = guest(cx)?;
                expect_kind(
                    "recurse",
                    p.call::<_, u64>("recurse", &100_000_000u64),
                    ErrorKind::Trap(TrapCode::StackOverflow),
                )?;
                expect_eq(
                    "after",
                    ok("recurse", p.call::<_, u64>("recurse", &100u64))?,
                    100,
                )
            }
        ),
        check!(
            "abi/initial_memory_cap",
            "a plugin asking for more initial memory than the host allows is refused at load; the SDK guest fits one page",
            |cx: &Ctx| {
                let tight = Limits::new().initial_memory_bytes(32 << 10);
                let e = match load(cx, ABI_GUEST, &Config::new(), &tight) {
                    Ok(_) => return Err("loaded under a 32 KiB initial-memory cap".into()),
                    Err(e) => e,
                };
                expect_eq(
                    "kind",
                    e.kind(),
                    ErrorKind::LimitExceeded(anywasm::Resource::InitialMemory),
                )?;
                expect_eq("backend", e.backend(), Some(cx.backend()))?;
                let page = Limits::new().initial_memory_bytes(64 << 10);
                let mut p = ok("load", load(cx, ABI_GUEST, &Config::new(), &page))?;
                ok("noop", p.call::<_, ()>("noop", &()))
            }
        ),
        check!(
            "abi/shadow_stack_overflow",
            "a guest overflowing its (32 KiB) shadow stack traps out of bounds, never corrupting its data",
            |cx: &Ctx| {
                let mut p = guest(cx)?;
                expect_eq(
                    "16 KiB deep",
                    ok("stack_hog", p.call::<_, u32>("stack_hog", &16u32))?,
                    17,
                )?;
                expect_kind(
                    "1 MiB deep",
                    p.call::<_, u32>("stack_hog", &1024u32),
                    ErrorKind::Trap(TrapCode::MemoryOutOfBounds),
                )?;
                expect_eq(
                    "after",
                    ok("stack_hog", p.call::<_, u32>("stack_hog", &16u32))?,
                    17,
                )
            }
        ),
    ]
}
