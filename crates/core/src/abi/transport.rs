//! Moving ABI messages across the guest boundary, once for both directions:
//! the facade's `Plugin` (host -> guest, docs/abi.md §3) and typed host
//! functions (guest -> host, §6) both go through these functions, so there is
//! one protocol, one bounds check and one wording for each way a guest can
//! get it wrong.
//!
//! The guest is reached through [`GuestMemory`]: reads and writes of its
//! linear memory and calls of its allocator exports. Every range the guest
//! names is checked against the memory's size at the moment it is used, in
//! 64-bit arithmetic.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::{Error, ErrorKind, Result};

/// What the transport needs from a guest instance.
pub trait GuestMemory {
    /// Copy `buf.len()` bytes at `offset` out of the guest's memory; an
    /// out-of-bounds range is an error, never a partial read.
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<()>;
    /// Copy `data` into the guest's memory at `offset` (bounds as `read`).
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<()>;
    /// The memory's size in bytes, now.
    fn size(&mut self) -> Result<u64>;
    /// Call the guest's `anywasm_alloc(len)`: the address, 0 on failure.
    fn alloc(&mut self, len: u32) -> Result<u32>;
    /// Call the guest's `anywasm_free(ptr, len)`.
    fn free(&mut self, ptr: u32, len: u32) -> Result<()>;
}

/// An area of guest memory the host writes messages of up to `len` bytes
/// into instead of allocating them: a version 2 guest's scratch area for
/// requests (docs/abi.md §3.2) or its reply area for host function
/// responses (§6.1); [`Scratch::NONE`] where the guest has none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scratch {
    /// Its address in guest memory.
    pub ptr: u32,
    /// Its size in bytes.
    pub len: u32,
}

impl Scratch {
    /// No scratch area: every message is allocated with `anywasm_alloc`.
    pub const NONE: Self = Self { ptr: 0, len: 0 };
}

fn abi_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Abi, message)
}

/// Refuse a message of `len` bytes over `cap` (`what`: "request",
/// "response").
pub fn check_cap(what: &str, len: usize, cap: usize) -> Result<()> {
    if len > cap {
        return Err(abi_error(format!(
            "{what} of {len} bytes exceeds the message cap of {cap} bytes"
        )));
    }
    Ok(())
}

/// Put `bytes` into guest memory for the guest to read: nowhere if empty
/// (address 0), in `scratch` if they fit, else in a buffer from
/// `anywasm_alloc`, which the guest then owns. Returns the address.
pub fn write_message(mem: &mut dyn GuestMemory, bytes: &[u8], scratch: Scratch) -> Result<u32> {
    if bytes.is_empty() {
        return Ok(0);
    }
    if bytes.len() <= scratch.len as usize {
        mem.write(u64::from(scratch.ptr), bytes)?;
        return Ok(scratch.ptr);
    }
    let len = u32::try_from(bytes.len())
        .map_err(|_| abi_error(format!("a message of {} bytes", bytes.len())))?;
    // A trap in the allocator stays the trap it is.
    let ptr = mem.alloc(len)?;
    if ptr == 0 {
        return Err(abi_error(format!(
            "guest allocator returned 0 for {len} bytes"
        )));
    }
    mem.write(u64::from(ptr), bytes).map_err(|e| {
        abi_error(format!(
            "guest allocator returned a bad pointer: {}",
            e.message()
        ))
    })?;
    Ok(ptr)
}

/// Copy the guest's message `(ptr, len)` into `buf` (resized to `len`):
/// an out-of-bounds range is an ABI error naming the range and the memory's
/// size. The caller has checked `len` against its cap.
pub fn read_message(
    mem: &mut dyn GuestMemory,
    ptr: u32,
    len: u32,
    buf: &mut Vec<u8>,
) -> Result<()> {
    buf.clear();
    buf.resize(len as usize, 0);
    // The read checks the range itself; the size is only asked for to
    // word the error.
    if let Err(e) = mem.read(u64::from(ptr), buf) {
        let size = mem.size()?;
        if u64::from(ptr) + u64::from(len) > size {
            return Err(abi_error(format!(
                "(ptr {ptr:#x}, len {len}), outside guest memory of {size} bytes"
            )));
        }
        return Err(e);
    }
    Ok(())
}
