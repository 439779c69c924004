//! A hostile 2^40 length prefix must not make the host allocate: the peak
//! of the host's heap stays flat while a plugin answers with it, on every
//! backend. Measured with a counting global allocator in this test binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use anywasm::{BackendKind, Config, ErrorKind, Limits, Plugin};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ABI_GUEST: &[u8] = include_bytes!(env!("ANYWASM_GUEST_ABI"));

fn check(backend: BackendKind) {
    let engine = anywasm::engine::<()>(backend, &Config::new()).unwrap();
    let (linker, caps) = anywasm_conformance::abi_linker(|_: &mut ()| {});
    let mut plugin = Plugin::load(&*engine, ABI_GUEST, &linker, &caps, (), &Limits::new()).unwrap();
    // Warm up: first calls allocate lookup caches and engine state.
    for _ in 0..3 {
        let e = plugin
            .call::<_, Vec<u8>>("bad_response", &3u32)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Abi, "{e}");
    }
    let guest_memory = |plugin: &mut Plugin<()>| {
        let instance = plugin.instance();
        plugin
            .store_mut()
            .memory_size(instance, anywasm::abi::MEMORY_EXPORT)
            .unwrap()
    };
    let memory_before = guest_memory(&mut plugin);
    let baseline = CURRENT.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    for _ in 0..100 {
        let e = plugin
            .call::<_, Vec<u8>>("bad_response", &3u32)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Abi, "{e}");
    }
    // `bad_response` leaks its small hostile buffers in the guest, which
    // may grow the guest's memory by a page meanwhile; wasmi keeps linear
    // memory on the host heap, so that page is not the host's doing.
    let guest_grew = match backend {
        BackendKind::Wasmi => (guest_memory(&mut plugin) - memory_before) as usize,
        _ => 0,
    };
    let grew = PEAK
        .load(Ordering::Relaxed)
        .saturating_sub(baseline + guest_grew);
    let kept = CURRENT
        .load(Ordering::Relaxed)
        .saturating_sub(baseline + guest_grew);
    // Honouring the prefix would mean a terabyte. What remains is serde's
    // "cautious" preallocation for a sequence, which is capped at 1 MiB
    // whatever the claimed length, and freed when the decode fails; plus the
    // engines' own small per-call bookkeeping. Nothing is kept afterwards.
    assert!(
        grew <= (1 << 20) + (64 << 10),
        "{backend}: host heap peak grew by {grew} bytes during 100 hostile calls"
    );
    assert!(
        kept < 64 << 10,
        "{backend}: {kept} bytes still held after 100 hostile calls"
    );
}

#[test]
fn length_prefix_2_40_leaves_host_memory_flat() {
    for &backend in anywasm::compiled_backends() {
        check(backend);
    }
}
