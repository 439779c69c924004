//! Buffers in the guest's memory, allocated the way `anywasm_alloc` does.

use alloc::alloc::{Layout, alloc, alloc_zeroed, dealloc, handle_alloc_error};
use core::fmt;
use core::ops::{Deref, DerefMut};
use core::ptr::{self, NonNull};

/// Alignment of every ABI buffer. `anywasm_free(ptr, len)` gets only the
/// length back, so the alignment must be fixed for it to rebuild the
/// allocation's `Layout`.
pub const BUFFER_ALIGN: usize = 8;

fn layout(len: usize) -> Option<Layout> {
    Layout::from_size_align(len, BUFFER_ALIGN).ok()
}

/// Allocate `len > 0` bytes with the ABI layout; null if `len == 0`, the
/// layout is invalid, or the allocator fails. Never panics.
pub(crate) fn alloc_raw(len: usize) -> *mut u8 {
    match layout(len) {
        // SAFETY: the layout has a non-zero size.
        Some(l) if len > 0 => unsafe { alloc(l) },
        _ => ptr::null_mut(),
    }
}

/// Free what [`alloc_raw`] returned. Null or `len == 0` is a no-op.
///
/// # Safety
///
/// `ptr` came from [`alloc_raw`] (or `anywasm_alloc`) with this `len` and was
/// not freed since.
pub(crate) unsafe fn free_raw(ptr: *mut u8, len: usize) {
    if ptr.is_null() || len == 0 {
        return;
    }
    if let Some(l) = layout(len) {
        // SAFETY: the caller promises `ptr` was allocated with this layout.
        unsafe { dealloc(ptr, l) }
    }
}

/// A wasm32 address (an `i32` on the wire, unsigned) as a pointer.
pub(crate) fn from_addr(addr: i32) -> *mut u8 {
    ptr::with_exposed_provenance_mut(addr as u32 as usize)
}

/// A pointer as a wasm32 address. Always fits on wasm32; elsewhere a pointer
/// above 4 GiB cannot be an ABI address and panics.
pub(crate) fn to_addr(p: *mut u8) -> i32 {
    let addr = p.expose_provenance();
    u32::try_from(addr).expect("anywasm ABI buffers live in a 32-bit address space") as i32
}

/// An owned byte buffer in the guest's memory, allocated exactly as
/// `anywasm_alloc` allocates (alignment [`BUFFER_ALIGN`]), so that ownership
/// can cross the ABI in both directions:
///
/// - [`Buffer::from_raw`] takes a buffer the host allocated with
///   `anywasm_alloc` (a request, or a host function's response);
/// - [`Buffer::into_raw`] / [`Buffer::into_packed`] hand one to the host,
///   which frees it with `anywasm_free`.
///
/// An empty buffer owns no allocation and crosses the ABI as `(0, 0)`.
/// Dropping a buffer frees it.
pub struct Buffer {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a Buffer uniquely owns its bytes, like a `Box<[u8]>`.
unsafe impl Send for Buffer {}
// SAFETY: shared access only reads.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// An empty buffer (no allocation).
    pub const fn new() -> Self {
        Self {
            ptr: NonNull::dangling(),
            len: 0,
        }
    }

    /// `len` zero bytes, or `None` if the allocation fails.
    pub fn zeroed(len: usize) -> Option<Self> {
        if len == 0 {
            return Some(Self::new());
        }
        let l = layout(len)?;
        // SAFETY: the layout has a non-zero size.
        let ptr = NonNull::new(unsafe { alloc_zeroed(l) })?;
        Some(Self { ptr, len })
    }

    /// A copy of `bytes`. Running out of memory aborts (a trap on wasm), as
    /// for any other allocation.
    pub fn from_slice(bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            return Self::new();
        }
        let Some(ptr) = NonNull::new(alloc_raw(bytes.len())) else {
            match layout(bytes.len()) {
                Some(l) => handle_alloc_error(l),
                None => panic!("a buffer of {} bytes is too large", bytes.len()),
            }
        };
        // SAFETY: `ptr` is a fresh allocation of `bytes.len()` bytes.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.as_ptr(), bytes.len()) };
        Self {
            ptr,
            len: bytes.len(),
        }
    }

    /// Take ownership of `len` bytes at `ptr`, as passed across the ABI
    /// (`ptr` and `len` are unsigned 32-bit values carried in `i32`).
    /// `len == 0` is an empty buffer whatever `ptr` is.
    ///
    /// # Safety
    ///
    /// If `len != 0`, `ptr` must have been returned by `anywasm_alloc(len)`
    /// (or [`Buffer::into_raw`] with this length) in this module, be
    /// initialised, and not be owned by anyone else: the buffer frees it.
    /// An entry point's request may instead be in the scratch area (ABI
    /// version 2): take requests with [`request`](crate::request).
    pub unsafe fn from_raw(ptr: i32, len: i32) -> Self {
        let len = len as u32 as usize;
        match NonNull::new(from_addr(ptr)) {
            Some(ptr) if len > 0 => Self { ptr, len },
            _ => Self::new(),
        }
    }

    /// Give up ownership: `(ptr, len)` as the ABI carries them, `(0, 0)` for
    /// an empty buffer. Whoever gets the pair must free it with
    /// `anywasm_free(ptr, len)` (the host does, for a response).
    pub fn into_raw(self) -> (i32, i32) {
        let this = core::mem::ManuallyDrop::new(self);
        if this.len == 0 {
            return (0, 0);
        }
        (to_addr(this.ptr.as_ptr()), this.len as u32 as i32)
    }

    /// Give up ownership as an entry point's packed result,
    /// `(ptr << 32) | len`, for a host that frees it: ABI version 1 only (a
    /// version 2 host never frees responses, so this one would leak); use
    /// [`respond`](crate::respond), which follows the selected version.
    pub fn into_packed(self) -> i64 {
        let (ptr, len) = self.into_raw();
        anywasm_core::abi::pack(ptr as u32, len as u32)
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for Buffer {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: a non-empty buffer owns an `alloc_raw(len)` allocation.
        unsafe { free_raw(self.ptr.as_ptr(), self.len) }
    }
}

impl Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for `len` initialised bytes (dangling and
        // aligned when `len == 0`).
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, and the buffer is uniquely owned.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer").field("len", &self.len).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_zeroes_and_frees() {
        let b = Buffer::from_slice(b"hello");
        assert_eq!(&*b, b"hello");
        assert_eq!(b.as_ptr() as usize % BUFFER_ALIGN, 0);
        let mut z = Buffer::zeroed(9).unwrap();
        assert_eq!(&*z, &[0; 9]);
        z[3] = 7;
        assert_eq!(z[3], 7);
        assert!(Buffer::from_slice(&[]).is_empty());
        assert_eq!(Buffer::new().into_raw(), (0, 0));
        assert_eq!(Buffer::default().into_packed(), 0);
    }

    #[test]
    fn empty_raw_buffers_own_nothing() {
        // SAFETY: len 0 never touches ptr.
        let b = unsafe { Buffer::from_raw(0x1234, 0) };
        assert!(b.is_empty());
        assert_eq!(b.into_raw(), (0, 0));
    }

    #[test]
    fn raw_allocator_refuses_what_it_cannot_do() {
        assert!(alloc_raw(0).is_null());
        assert!(alloc_raw(usize::MAX).is_null());
        let p = alloc_raw(24);
        assert!(!p.is_null());
        // SAFETY: allocated just above with this length.
        unsafe { free_raw(p, 24) };
        // SAFETY: null and zero lengths are no-ops.
        unsafe { free_raw(ptr::null_mut(), 5) };
    }

    #[test]
    fn addresses_are_unsigned_32_bit() {
        assert_eq!(from_addr(-16) as usize, 0xFFFF_FFF0);
        assert_eq!(to_addr(from_addr(-16)), -16);
    }
}
