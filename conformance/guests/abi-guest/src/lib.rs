//! The conformance suite's Rust guest plugin, built with `anywasm-guest`:
//! every part of the plugin ABI (docs/abi.md), guest faults for the limit
//! checks, and a raw export that answers with hostile responses.
//!
//! Exports (each `(i32 ptr, i32 len) -> i64`, request -> response):
//!
//! | export | request | response |
//! |---|---|---|
//! | `noop` | `()` | `()` |
//! | `echo_bytes` | `Vec<u8>` | the same bytes |
//! | `echo_record` | `Record` | the same record |
//! | `echo_records` | `Vec<Record>` | the same records |
//! | `fail` | `String` | `Err(GuestError)` with that message |
//! | `panic` | `String` | panics with that message (a trap) |
//! | `add_via_host` | `(i32, i32)` | `i32` from the host's `anywasm::add` (its `Err` passed on) |
//! | `alloc_bomb` | `u32` n | allocates and touches n MiB, keeping it all; returns how many |
//! | `spin` | `()` | never returns |
//! | `recurse` | `u64` n | recurses n deep (not a tail call), returns n |
//! | `stack_hog` | `u32` n | recurses n deep with 1 KiB of shadow stack per level, returns n + 1 |
//! | `bad_response` | `u32` kind | a hostile packed result, see [`bad_response`] |

use anywasm_guest::{
    Buffer, GuestError, decode_request, export, host_fn, pack, plugin, request, respond,
};
use anywasm_test_types::Record;
use core::hint::black_box;
use core::sync::atomic::AtomicU64;

plugin! {
    name: "abi-guest",
    version: "0.1.0",
    description: "anywasm conformance guest",
    capabilities: ["math"],
}

host_fn! {
    /// `anywasm::add`, capability `math`.
    fn add(req: (i32, i32)) -> i32;
}

export! {
    fn noop(_req: ()) {}

    fn echo_bytes(req: Vec<u8>) -> Vec<u8> {
        req
    }

    fn echo_record(req: Record) -> Record {
        req
    }

    fn echo_records(req: Vec<Record>) -> Vec<Record> {
        req
    }

    fn fail(message: String) -> Result<(), GuestError> {
        Err(GuestError::new(message))
    }

    fn panic(message: String) {
        panic!("{message}")
    }

    fn add_via_host(req: (i32, i32)) -> Result<i32, GuestError> {
        add(&req)
    }

    /// Allocate `n` MiB one MiB at a time, writing every page and keeping
    /// all of it. Past the memory limit the allocation fails, which aborts:
    /// a trap.
    fn alloc_bomb(n: u32) -> u32 {
        let mut kept: Vec<Vec<u8>> = Vec::new();
        for i in 0..n {
            // Non-zero, so fresh (already zero) pages are really written.
            let block = vec![(i as u8) | 1; 1 << 20];
            kept.push(black_box(block));
        }
        black_box(&kept);
        kept.len() as u32
    }

    /// Loop forever, in a way the optimiser cannot remove.
    fn spin(_req: ()) {
        let mut counter = 0u64;
        loop {
            black_box(&mut counter);
            counter = counter.wrapping_add(1);
        }
    }

    fn recurse(n: u64) -> u64 {
        depth(n)
    }

    fn stack_hog(n: u32) -> u32 {
        hog(n)
    }
}

static SINK: AtomicU64 = AtomicU64::new(0);

/// `n` nested calls, each keeping 1 KiB on the shadow stack (in linear
/// memory, where the 32 KiB the guest reserves ends at address 0).
#[inline(never)]
fn hog(n: u32) -> u32 {
    let mut frame = [0u8; 1024];
    frame[0] = 1;
    black_box(&mut frame);
    if n == 0 {
        return u32::from(frame[0]);
    }
    let below = hog(n - 1);
    black_box(&frame);
    below + u32::from(frame[0])
}

/// `n` nested calls. The volatile store after the call keeps it from being a
/// tail call (so no loop), and nothing here lives in linear memory, so deep
/// recursion exhausts the engine's call stack rather than the shadow stack.
#[inline(never)]
fn depth(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let below = depth(n - 1);
    // SAFETY: `SINK` is a valid, aligned u64 for the program's lifetime.
    unsafe { core::ptr::write_volatile(SINK.as_ptr(), below) };
    below + 1
}

/// A raw export (no `export!`): reads a `u32` kind, frees the request, and
/// returns a hostile packed `(ptr << 32) | len`:
///
/// | kind | response |
/// |---|---|
/// | 0 | ptr `0xFFFF_0000`, len 16: out of bounds |
/// | 1 | ptr `0xFFFF_FFF0`, len `0x20`: ptr + len wraps 32 bits |
/// | 2 | a valid ptr, len `0xFFFF_FFFF` |
/// | 3 | a valid 10-byte buffer `00 FD <2^40 as u64 LE>`: `Ok(Vec<u8>)` claiming 2^40 bytes |
/// | 4 | a valid ptr, len 0 |
/// | 5 | a valid 4-byte buffer `00 FF FF FF`: does not decode |
///
/// Other kinds get an `Err` envelope; a request that does not decode, too.
/// "Valid" buffers are allocated as `anywasm_alloc` does (a version 1 host
/// frees kinds 3 and 5 with their length; everything else is leaked, which
/// a test of hostile responses can afford).
///
/// # Safety
///
/// Called by the host per the ABI.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bad_response(ptr: i32, len: i32) -> i64 {
    // SAFETY: what the host passed to this entry point, taken once.
    let request = unsafe { request(ptr, len) };
    let kind = decode_request::<u32>(&request);
    drop(request);
    let leaked = |bytes: &[u8]| Buffer::from_slice(bytes).into_raw().0 as u32;
    match kind {
        Ok(0) => pack(0xFFFF_0000, 16),
        Ok(1) => pack(0xFFFF_FFF0, 0x20),
        Ok(2) => pack(leaked(&[0; 16]), 0xFFFF_FFFF),
        Ok(3) => {
            let mut msg = vec![0x00, 0xFD];
            msg.extend_from_slice(&(1u64 << 40).to_le_bytes());
            Buffer::from_slice(&msg).into_packed()
        }
        Ok(4) => pack(leaked(&[0; 8]), 0),
        Ok(5) => Buffer::from_slice(&[0x00, 0xFF, 0xFF, 0xFF]).into_packed(),
        Ok(k) => respond::<()>(&Err(GuestError::new(format!("unknown kind {k}")))),
        Err(e) => respond::<()>(&Err(e)),
    }
}
