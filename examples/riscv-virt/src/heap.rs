//! The heap: [talc](https://docs.rs/talc) over a static arena, wrapped in a
//! counter of the bytes in use and their high-water mark, which is how the
//! firmware measures what one plugin instance costs.
//!
//! Counting in the global allocator sees every allocation, the engine's and
//! the plugin's linear memory alike, and needs no cooperation from either.
//! The counts are the bytes live in allocations, as requested: not talc's
//! per-chunk overhead (one `usize` per allocation), nor fragmentation, nor
//! the old block a moving `realloc` holds for a moment; [`ARENA_BYTES`]
//! leaves room for those.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};

use spinning_top::RawSpinlock;
use talc::TalcLock;
use talc::source::Claim;

/// Bytes of RAM given to the heap.
pub const ARENA_BYTES: usize = 768 << 10;

/// The arena talc claims on the first allocation.
static mut ARENA: [u8; ARENA_BYTES] = [0; ARENA_BYTES];

#[global_allocator]
static HEAP: Counted = Counted {
    // SAFETY: talc's claim contract: the region is valid for reads and
    // writes for the rest of the program and used by nothing else. ARENA is
    // private to this module and only its address is taken, here, once; the
    // Claim source hands it to talc exactly once, on the first allocation.
    talc: TalcLock::new(unsafe { Claim::array(&raw mut ARENA) }),
    used: AtomicUsize::new(0),
    high_water: AtomicUsize::new(0),
};

/// The global allocator: talc, plus counters.
struct Counted {
    talc: TalcLock<RawSpinlock, Claim>,
    used: AtomicUsize,
    /// The most bytes in use at once so far.
    high_water: AtomicUsize,
}

impl Counted {
    fn grew(&self, bytes: usize) {
        let now = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.high_water.fetch_max(now, Ordering::Relaxed);
    }

    fn shrank(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to talc's `GlobalAlloc`, which upholds the
// trait's contract, with the caller's arguments unchanged; the counters only
// observe the results and never touch the memory.
unsafe impl GlobalAlloc for Counted {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded; the caller upholds `alloc`'s contract.
        let ptr = unsafe { self.talc.alloc(layout) };
        if !ptr.is_null() {
            self.grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded; the caller upholds `alloc_zeroed`'s contract.
        let ptr = unsafe { self.talc.alloc_zeroed(layout) };
        if !ptr.is_null() {
            self.grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded; the caller upholds `dealloc`'s contract.
        unsafe { self.talc.dealloc(ptr, layout) };
        self.shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded; the caller upholds `realloc`'s contract.
        let new = unsafe { self.talc.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            match new_size.checked_sub(layout.size()) {
                Some(more) => self.grew(more),
                None => self.shrank(layout.size() - new_size),
            }
        }
        new
    }
}

/// Bytes allocated now.
pub fn used() -> usize {
    HEAP.used.load(Ordering::Relaxed)
}

/// The most bytes allocated at once so far.
pub fn high_water() -> usize {
    HEAP.high_water.load(Ordering::Relaxed)
}
