//! Resource limits: the store's [`ResourceLimiter`] and the stack mapping.
//!
//! wasmi asks a [`ResourceLimiter`] before creating or growing a memory or a
//! table and before instantiating. Ours enforces [`Limits`] and remembers
//! which resource it denied last, so the backend can report
//! [`ErrorKind::LimitExceeded`](anywasm_core::ErrorKind) with the right
//! [`Resource`] instead of a generic failure.

use anywasm_core::{Limits, Resource};
use wasmi::ResourceLimiter;
use wasmi_core::LimiterError;

/// wasmi's value stack may not be bounded below this many bytes.
pub(crate) const MIN_STACK_BYTES: usize = 4096;

/// Bytes of [`Config::max_stack_bytes`](anywasm_core::Config::max_stack_bytes)
/// per allowed call frame.
pub(crate) const STACK_BYTES_PER_FRAME: usize = 128;

/// Map a stack bound in bytes onto wasmi's two stack limits.
///
/// wasmi keeps guest frames on the heap, never on the native stack, so there
/// are two bounds: the value stack height (bytes, used as is, at least
/// [`MIN_STACK_BYTES`]) and the call depth (one frame per
/// [`STACK_BYTES_PER_FRAME`] bytes, the order of a small compiled frame).
/// Exceeding either is `TrapCode::StackOverflow`.
pub(crate) fn apply_stack_limit(config: &mut wasmi::Config, bytes: usize) {
    let bytes = bytes.max(MIN_STACK_BYTES);
    // wasmi's default minimum (initial) value stack height is 1000 bytes,
    // below MIN_STACK_BYTES, so this never trips its min <= max assertion.
    config.set_max_stack_height(bytes);
    config.set_max_recursion_depth(bytes / STACK_BYTES_PER_FRAME);
}

/// The per-store limiter handed to wasmi.
#[derive(Debug, Clone)]
pub(crate) struct Limiter {
    memory_bytes: Option<u64>,
    table_elements: Option<u64>,
    /// The last resource this limiter refused, cleared by [`Limiter::take_denied`].
    denied: Option<Resource>,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            memory_bytes: limits.get_memory_bytes(),
            table_elements: limits.get_table_elements(),
            denied: None,
        }
    }

    /// The resource refused since the last call, if any.
    pub(crate) fn take_denied(&mut self) -> Option<Resource> {
        self.denied.take()
    }

    pub(crate) fn max_memory_bytes(&self) -> Option<u64> {
        self.memory_bytes
    }

    pub(crate) fn max_table_elements(&self) -> Option<u64> {
        self.table_elements
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        match self.memory_bytes {
            Some(max) if desired as u64 > max => {
                self.denied = Some(Resource::Memory);
                Ok(false)
            }
            _ => Ok(true),
        }
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        match self.table_elements {
            Some(max) if desired as u64 > max => {
                self.denied = Some(Resource::Table);
                Ok(false)
            }
            _ => Ok(true),
        }
    }

    // Counted by the anywasm store (see `Store::instances_counted`), so
    // wasmi's own count must never be the one that trips.
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
