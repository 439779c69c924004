//! Per-store limits enforced through wasmtime's [`ResourceLimiter`].
//!
//! wasmtime asks the limiter before creating or growing any linear memory or
//! table (including at instantiation and for its own GC heap). Returning
//! `Ok(false)` makes `memory.grow`/`table.grow` return -1 to the guest, makes
//! host-side growth fail and makes instantiation fail; the limiter records
//! *which* resource it denied so those failures can be reported as
//! [`ErrorKind::LimitExceeded`](anywasm_core::ErrorKind) with the right
//! [`Resource`].

use anywasm_core::{Limits, Resource};
use wasmtime::ResourceLimiter;

/// The per-store resource limiter.
#[derive(Debug)]
pub(crate) struct Limiter {
    max_memory_bytes: Option<u64>,
    max_table_elements: Option<u64>,
    /// The resource most recently denied; reset by the store before an
    /// operation whose failure it wants to classify.
    denied: Option<Resource>,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            max_memory_bytes: limits.get_memory_bytes(),
            max_table_elements: limits.get_table_elements(),
            denied: None,
        }
    }

    /// Forget any earlier denial.
    pub(crate) fn reset(&mut self) {
        self.denied = None;
    }

    /// The resource denied since the last [`reset`](Self::reset), if any.
    pub(crate) fn denied(&self) -> Option<Resource> {
        self.denied
    }
}

fn exceeds(desired: usize, cap: Option<u64>) -> bool {
    match cap {
        // `usize` always fits in `u64` on the platforms wasmtime supports.
        Some(cap) => desired as u64 > cap,
        None => false,
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if exceeds(desired, self.max_memory_bytes) {
            self.denied = Some(Resource::Memory);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if exceeds(desired, self.max_table_elements) {
            self.denied = Some(Resource::Table);
            return Ok(false);
        }
        Ok(true)
    }

    // The instance limit is counted by the anywasm store itself (successful
    // instantiations), so wasmtime's own per-store counters must never be
    // the ones that trip: their default of 10 000 would otherwise cap
    // `Limits::unlimited()` stores.
    fn instances(&self) -> usize {
        usize::MAX
    }

    fn tables(&self) -> usize {
        usize::MAX
    }

    fn memories(&self) -> usize {
        usize::MAX
    }
}
