//! WASI preview 1 on every engine: hostile pointers and counts, descriptor
//! exhaustion, closing and renumbering preopens, `proc_exit` as a typed
//! outcome, bounded output capture, and limits inside WASI calls.

use std::time::Duration;

use anywasm::{Capabilities, Config, ErrorKind, Limits, Linker, TrapCode, Val, check_capabilities};
use anywasm_wasi::abi::{Errno, rights};
use anywasm_wasi::{Capture, DirPerms, Output, WasiCtx, add_to_linker, capability};

use super::check;
use super::wasi_fs::expect_errno;
use super::wasi_guest::{DATA, Guest, OUT, PATH, i};
use crate::harness::{expect_eq, expect_kind, expect_trap};
use crate::{Check, Ctx};

/// An iovec `{ptr, len}` at `at`.
fn iovec(g: &mut Guest, at: u32, ptr: u32, len: u32) -> Result<(), String> {
    let mut b = ptr.to_le_bytes().to_vec();
    b.extend_from_slice(&len.to_le_bytes());
    g.put(at, &b)
}

fn bad_pointers(cx: &Ctx) -> Result<(), String> {
    let out = Capture::new(1 << 16);
    let ctx = WasiCtx::builder()
        .stdout(Output::Capture(out.clone()))
        .arg("x")
        .seeded_random(1)
        .build();
    let mut g = Guest::new(cx, ctx)?;
    let end = 65536u32;
    // The iovec array outside memory, or straddling its end.
    for ptr in [end, end - 4, u32::MAX - 3] {
        let e = g.call("fd_write", &[i(1), i(ptr), i(1), i(OUT)])?;
        expect_errno(&format!("iovecs at {ptr:#x}"), e, &[Errno::FAULT])?;
    }
    // Counts of 2^32-1 and just over the cap.
    for count in [u32::MAX, anywasm_wasi::MAX_IOVECS + 1] {
        let e = g.call("fd_write", &[i(1), i(0), i(count), i(OUT)])?;
        expect_errno(&format!("{count} iovecs"), e, &[Errno::INVAL])?;
    }
    // A buffer past the end, a 4 GiB buffer, one wrapping around.
    for (ptr, len) in [(end - 2, 8), (0, u32::MAX), (u32::MAX, 2)] {
        iovec(&mut g, 0, ptr, len)?;
        for call in ["fd_write", "fd_read"] {
            let fd = if call == "fd_write" { 1 } else { 0 };
            let e = g.call(call, &[i(fd), i(0), i(1), i(OUT)])?;
            expect_errno(
                &format!("{call} of {len} bytes at {ptr:#x}"),
                e,
                &[Errno::FAULT],
            )?;
        }
    }
    // The result pointer itself out of bounds.
    g.put(DATA, b"ok")?;
    iovec(&mut g, 0, DATA, 2)?;
    let e = g.call("fd_write", &[i(1), i(0), i(1), i(end - 1)])?;
    expect_errno("nwritten past the end", e, &[Errno::FAULT])?;
    // Overlapping buffers are fine: two iovecs over the same bytes.
    iovec(&mut g, 0, DATA, 2)?;
    iovec(&mut g, 8, DATA, 2)?;
    let e = g.call("fd_write", &[i(1), i(0), i(2), i(OUT)])?;
    expect_errno("overlapping iovecs", e, &[Errno::SUCCESS])?;
    // Strings, random bytes, paths and polls.
    let e = g.call("args_get", &[i(u32::MAX - 3), i(0)])?;
    expect_errno("args_get past the end", e, &[Errno::FAULT])?;
    let e = g.call("random_get", &[i(end - 10), i(100)])?;
    expect_errno("random_get past the end", e, &[Errno::FAULT])?;
    let e = g.call("random_get", &[i(0), i(u32::MAX)])?;
    expect_errno("random_get of 4 GiB", e, &[Errno::FAULT])?;
    let e = g.call(
        "path_open",
        &[
            i(3),
            i(0),
            i(0),
            i(u32::MAX),
            i(0),
            Val::I64(0),
            Val::I64(0),
            i(0),
            i(OUT),
        ],
    )?;
    expect_errno(
        "path of 2^32-1 bytes",
        e,
        &[Errno::NAMETOOLONG, Errno::BADF],
    )?;
    for n in [0, u32::MAX] {
        let e = g.call("poll_oneoff", &[i(0), i(1024), i(n), i(OUT)])?;
        expect_errno(&format!("poll of {n} subscriptions"), e, &[Errno::INVAL])?;
    }
    let e = g.call(
        "fd_readdir",
        &[i(1), i(end - 4), i(100), Val::I64(0), i(OUT)],
    )?;
    expect_errno("readdir buffer past the end", e, &[Errno::FAULT])?;
    // The host is unharmed and the guest can go on.
    expect_eq("stdout", out.contents(), b"okok".to_vec())
}

fn fd_exhaustion(cx: &Ctx) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let ctx = WasiCtx::builder()
        .preopen_dir(tmp.path(), "/", DirPerms::ReadOnly)
        .map_err(|e| e.to_string())?
        .max_open_fds(8)
        .build();
    let mut g = Guest::new(cx, ctx)?;
    let mut opened = Vec::new();
    let last = loop {
        match g.open(3, ".", 0, rights::FD_READDIR)? {
            Ok(fd) if opened.len() < 100 => opened.push(fd),
            other => break other,
        }
    };
    expect_errno(
        "open past the cap",
        last.err().unwrap_or(0),
        &[Errno::MFILE],
    )?;
    expect_eq(
        "descriptors opened under a cap of 8",
        opened.clone(),
        vec![4, 5, 6, 7],
    )?;
    let e = g.call("fd_close", &[i(5)])?;
    expect_errno("close", e, &[Errno::SUCCESS])?;
    expect_eq("lowest free number reused", g.open(3, ".", 0, 0)?, Ok(5))
}

fn preopen_close_renumber(cx: &Ctx) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(tmp.path().join("f"), "x").map_err(|e| e.to_string())?;
    let ctx = WasiCtx::builder()
        .preopen_dir(tmp.path(), "/", DirPerms::ReadWrite)
        .map_err(|e| e.to_string())?
        .preopen_dir(tmp.path(), "/second", DirPerms::ReadOnly)
        .map_err(|e| e.to_string())?
        .build();
    let mut g = Guest::new(cx, ctx)?;
    // Renumber a file over preopen 3: 3 is the file now, not a preopen.
    let fd = g
        .open(3, "f", 0, rights::FD_READ)?
        .map_err(|e| format!("open: errno {e}"))?;
    expect_eq("new fd", fd, 5)?;
    expect_errno(
        "renumber over the preopen",
        g.call("fd_renumber", &[i(fd), i(3)])?,
        &[Errno::SUCCESS],
    )?;
    expect_errno(
        "prestat of the renumbered fd",
        g.call("fd_prestat_get", &[i(3), i(OUT)])?,
        &[Errno::BADF],
    )?;
    expect_errno(
        "old fd",
        g.call("fd_fdstat_get", &[i(fd), i(OUT)])?,
        &[Errno::BADF],
    )?;
    let data = g.read(3, 8)?.map_err(|e| format!("read: errno {e}"))?;
    expect_eq("fd 3 reads the file", data.as_slice(), b"x")?;
    expect_errno(
        "renumber to a closed fd",
        g.call("fd_renumber", &[i(3), i(99)])?,
        &[Errno::BADF],
    )?;
    // Close the other preopen: paths under it are gone.
    expect_errno(
        "close preopen 4",
        g.call("fd_close", &[i(4)])?,
        &[Errno::SUCCESS],
    )?;
    expect_errno(
        "close it twice",
        g.call("fd_close", &[i(4)])?,
        &[Errno::BADF],
    )?;
    let r = g.open(4, "f", 0, rights::FD_READ)?;
    expect_errno(
        "open under a closed preopen",
        r.err().unwrap_or(0),
        &[Errno::BADF],
    )?;
    // Stdio can be closed too; writing to it is then EBADF.
    expect_errno(
        "close stdout",
        g.call("fd_close", &[i(1)])?,
        &[Errno::SUCCESS],
    )?;
    g.put(PATH, b"hi")?;
    g.put(
        0,
        &[&PATH.to_le_bytes()[..], &2u32.to_le_bytes()[..]].concat(),
    )?;
    expect_errno(
        "write to closed stdout",
        g.call("fd_write", &[i(1), i(0), i(1), i(OUT)])?,
        &[Errno::BADF],
    )
}

fn exit_status(cx: &Ctx) -> Result<(), String> {
    let mut g = Guest::new(cx, WasiCtx::denied())?;
    let r = g.sb.call("proc_exit", &[i(7)]);
    expect_kind("proc_exit(7)", r, ErrorKind::Exit(7))?;
    let mut g = Guest::new(cx, WasiCtx::denied())?;
    let r = g.sb.call("proc_exit", &[i(0)]);
    expect_kind("proc_exit(0)", r, ErrorKind::Exit(0))?;
    let mut g = Guest::new(cx, WasiCtx::denied())?;
    let r = g.sb.call("proc_exit", &[i(200)]);
    expect_trap("proc_exit(200)", r, TrapCode::HostError)
}

fn capture_cap(cx: &Ctx) -> Result<(), String> {
    let out = Capture::new(4096);
    let ctx = WasiCtx::builder()
        .stdout(Output::Capture(out.clone()))
        .build();
    let mut g = Guest::new(cx, ctx)?;
    g.put(DATA, &[b'x'; 1000])?;
    iovec(&mut g, 0, DATA, 1000)?;
    for _ in 0..20 {
        let e = g.call("fd_write", &[i(1), i(0), i(1), i(OUT)])?;
        expect_errno("write", e, &[Errno::SUCCESS])?;
        expect_eq("reported written", g.u32_at(OUT)?, 1000)?;
    }
    expect_eq("captured bytes", out.contents().len(), 4096)?;
    expect_eq("truncated", out.truncated(), true)
}

fn write_forever_fuel(cx: &Ctx) -> Result<(), String> {
    let out = Capture::new(1 << 16);
    let ctx = WasiCtx::builder()
        .stdout(Output::Capture(out.clone()))
        .build();
    let config = Config::new().consume_fuel(true);
    let mut g =
        Guest::with(cx, ctx, &config, &Limits::new().fuel(200_000)).map_err(|e| e.to_string())?;
    g.put(DATA, &[b'y'; 4096])?;
    iovec(&mut g, 0, DATA, 4096)?;
    expect_trap(
        "write forever",
        g.sb.call("write_forever", &[]),
        TrapCode::OutOfFuel,
    )?;
    expect_eq("capture stayed at its cap", out.contents().len(), 1 << 16)
}

fn sleep_past_deadline(cx: &Ctx) -> Result<(), String> {
    let ctx = WasiCtx::builder().clocks().build();
    let config = Config::new().timeouts(true);
    let limits = Limits::new().timeout(Duration::from_millis(200));
    let mut g = Guest::with(cx, ctx, &config, &limits).map_err(|e| e.to_string())?;
    // A relative monotonic clock subscription of one hour.
    let mut sub = [0u8; 48];
    sub[16] = 1;
    sub[24..32].copy_from_slice(&3_600_000_000_000u64.to_le_bytes());
    g.put(0, &sub)?;
    expect_trap(
        "sleep forever",
        g.sb.call("sleep_forever", &[]),
        TrapCode::Timeout,
    )
}

fn capability_gate(cx: &Ctx) -> Result<(), String> {
    let wasm = crate::harness::wasm(
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))"#,
    );
    let engine =
        anywasm::engine::<WasiCtx>(cx.backend(), &Config::new()).map_err(|e| e.to_string())?;
    let module = engine.compile(&wasm).map_err(|e| e.to_string())?;
    let mut linker = Linker::<WasiCtx>::new();
    add_to_linker(&mut linker);
    let denied = check_capabilities(
        module.imports(),
        &linker,
        &Capabilities::none().grant(capability::FS),
    );
    match denied {
        Err(e)
            if e.kind() == ErrorKind::CapabilityDenied && e.message().contains(capability::FD) => {}
        other => return Err(format!("fd_write without `{}`: {other:?}", capability::FD)),
    }
    let granted = Capabilities::none().grant(capability::FD);
    check_capabilities(module.imports(), &linker, &granted).map_err(|e| e.to_string())
}

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "wasi/bad_pointers",
            "out-of-bounds, wrapping and 4 GiB buffers are EFAULT, 2^32-1 counts EINVAL, overlaps harmless",
            bad_pointers
        ),
        check!(
            "wasi/fd_exhaustion",
            "opening past max_open_fds is EMFILE; closing frees the lowest number for reuse",
            fd_exhaustion
        ),
        check!(
            "wasi/preopen_close_renumber",
            "preopens and stdio can be closed and renumbered over; stale numbers are EBADF",
            preopen_close_renumber
        ),
        check!(
            "wasi/proc_exit",
            "proc_exit is ErrorKind::Exit(status); a status of 126 or more is a trap",
            exit_status
        ),
        check!(
            "wasi/capture_cap",
            "captured stdout keeps its cap and reports truncation; the guest sees full writes",
            capture_cap
        ),
        check!(
            "wasi/fuel_inside_writes",
            "a guest writing forever to captured stdout runs out of fuel, the capture at its cap",
            write_forever_fuel
        ),
        check!(
            "wasi/sleep_past_deadline",
            "an hour-long poll_oneoff sleep ends at the call's deadline: Trap(Timeout)",
            sleep_past_deadline
        ),
        check!(
            "wasi/capability_denied",
            "importing fd_write without the wasi:fd capability fails at load, naming it",
            capability_gate
        ),
    ]
}
