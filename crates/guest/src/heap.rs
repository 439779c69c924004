//! The SDK's global allocator (feature `allocator`, on by default; wasm32
//! without atomics only): [talc] over the plugin's linear memory.
//!
//! Rust's default wasm32 allocator (dlmalloc) takes every heap it uses from
//! `memory.grow`, so the first allocation of an instance costs a whole new
//! 64 KiB page even when its initial memory has room to spare. Engines that
//! commit every page (wasmi zero-fills them) then pay for that page in every
//! pooled instance. This allocator first claims the free end of the initial
//! memory, from `__heap_base` (the end of the data and the stack the linker
//! placed) to the current memory size, and only then grows the memory, one
//! request at a time, extending the same heap so it stays one block.

use core::alloc::Layout;
use core::arch::wasm32::{memory_grow, memory_size};
use core::ptr::NonNull;

use talc::base::{CHUNK_UNIT, Talc, binning::Binning};
use talc::cell::TalcSyncCell;
use talc::source::Source;
use talc::wasm::WasmBinning;

const PAGE: usize = 65536;

unsafe extern "C" {
    /// Set by the linker: the first byte after the stack, data and bss.
    static __heap_base: u8;
}

#[global_allocator]
static ALLOCATOR: TalcSyncCell<InitialThenGrow, WasmBinning> =
    TalcSyncCell::new_wasm(InitialThenGrow {
        end: None,
        started: false,
    });

/// Where talc gets memory: the initial memory's free end, then `memory.grow`.
#[derive(Debug)]
struct InitialThenGrow {
    /// End of the heap claimed so far (the memory's end), to extend it.
    end: Option<NonNull<u8>>,
    /// Whether the initial memory's free end was offered already.
    started: bool,
}

// SAFETY: `acquire` only hands talc memory nothing else uses (the region above
// `__heap_base` the linker leaves free, and pages fresh from `memory.grow`),
// and allocates nothing itself.
unsafe impl Source for InitialThenGrow {
    fn acquire<B: Binning>(talc: &mut Talc<Self, B>, layout: Layout) -> Result<(), ()> {
        if !talc.source.started {
            talc.source.started = true;
            let base = (&raw const __heap_base).addr();
            let end = memory_size(0) * PAGE;
            if end > base {
                // SAFETY: [__heap_base, end) is linear memory the linker left
                // free for the heap; nothing else reads or writes it.
                talc.source.end = unsafe { talc.claim(base as *mut u8, end - base) };
                if talc.source.end.is_some() {
                    return Ok(());
                }
            }
        }
        // Enough pages for this request with talc's per-chunk overhead and
        // alignment padding; talc asks again if it still does not fit.
        let need = layout
            .size()
            .saturating_add(layout.align())
            .saturating_add(4 * CHUNK_UNIT);
        let pages = need.div_ceil(PAGE);
        let previous = memory_grow(0, pages);
        if previous == usize::MAX {
            return Err(());
        }
        let grown = (previous * PAGE) as *mut u8;
        let grown_end = grown.wrapping_add(pages * PAGE);
        if let Some(old_end) = talc.source.end.take()
            && old_end.as_ptr() == grown
        {
            // SAFETY: the pages right after the heap are fresh from
            // `memory.grow`, so the heap can grow over them.
            talc.source.end = Some(unsafe { talc.extend(old_end, grown_end) });
            return Ok(());
        }
        // SAFETY: fresh pages nothing else uses.
        talc.source.end = unsafe { talc.claim(grown, pages * PAGE) };
        talc.source.end.map(|_| ()).ok_or(())
    }
}
