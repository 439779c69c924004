//! Guest memory, through the contract's copy-in/copy-out [`Caller`] calls.
//!
//! Every pointer and length comes from the guest, so every access is checked
//! against the memory's size *at that moment* in 64-bit arithmetic (the
//! backends do it again in [`Caller::read_memory`]); a range outside memory
//! is `EFAULT` for the guest, never a host fault. Lengths that would make
//! the host allocate are checked against the memory size first and then
//! clamped, so a guest asking for 4 GiB gets a short transfer, not a host
//! allocation of 4 GiB.
//!
//! No view of guest memory is ever held across host work: reads copy the
//! bytes in, the operation runs on host buffers, results are copied out.
//! Overlapping guest buffers are therefore harmless (the later write wins).

use anywasm_core::Caller;

use crate::abi::Errno;

/// Most iovecs one read or write call may pass (Linux's `IOV_MAX`); more is
/// `EINVAL`, before anything is allocated.
pub const MAX_IOVECS: u32 = 1024;

/// Longest path a guest may pass, in bytes; longer is `ENAMETOOLONG`.
pub const MAX_PATH: u32 = 4096;

/// One `iovec`/`ciovec`: a guest buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IoVec {
    pub ptr: u32,
    pub len: u32,
}

/// Whether `[ptr, ptr + len)` is inside the caller's memory.
pub(crate) fn check<T>(c: &mut dyn Caller<T>, ptr: u32, len: u64) -> Result<(), Errno> {
    let size = c.memory_size().ok_or(Errno::FAULT)?;
    match u64::from(ptr).checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(Errno::FAULT),
    }
}

/// Copy `buf.len()` bytes of guest memory at `ptr` into `buf`.
pub(crate) fn read<T>(c: &mut dyn Caller<T>, ptr: u32, buf: &mut [u8]) -> Result<(), Errno> {
    c.read_memory(u64::from(ptr), buf).map_err(|_| Errno::FAULT)
}

/// Copy `len` guest bytes at `ptr` into a new vector, after checking the
/// range (so the allocation is bounded by the guest's own memory).
pub(crate) fn read_vec<T>(c: &mut dyn Caller<T>, ptr: u32, len: u32) -> Result<Vec<u8>, Errno> {
    check(c, ptr, u64::from(len))?;
    let mut v = vec![0; len as usize];
    read(c, ptr, &mut v)?;
    Ok(v)
}

/// Copy `data` into guest memory at `ptr`.
pub(crate) fn write<T>(c: &mut dyn Caller<T>, ptr: u32, data: &[u8]) -> Result<(), Errno> {
    c.write_memory(u64::from(ptr), data)
        .map_err(|_| Errno::FAULT)
}

/// Store a `u32` result.
pub(crate) fn write_u32<T>(c: &mut dyn Caller<T>, ptr: u32, v: u32) -> Result<(), Errno> {
    write(c, ptr, &v.to_le_bytes())
}

/// Store a `u64` result.
pub(crate) fn write_u64<T>(c: &mut dyn Caller<T>, ptr: u32, v: u64) -> Result<(), Errno> {
    write(c, ptr, &v.to_le_bytes())
}

/// Read an array of `count` iovecs at `ptr`: more than [`MAX_IOVECS`] is
/// `EINVAL`; the array, and every buffer it names, must lie inside memory
/// (`EFAULT`), checked before any byte moves.
pub(crate) fn iovecs<T>(c: &mut dyn Caller<T>, ptr: u32, count: u32) -> Result<Vec<IoVec>, Errno> {
    if count > MAX_IOVECS {
        return Err(Errno::INVAL);
    }
    let raw = read_vec(c, ptr, count * 8)?;
    let vecs: Vec<IoVec> = raw
        .chunks_exact(8)
        .map(|b| IoVec {
            ptr: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            len: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        })
        .collect();
    for v in &vecs {
        check(c, v.ptr, u64::from(v.len))?;
    }
    Ok(vecs)
}

/// Total length of `vecs`, clamped to `cap`.
pub(crate) fn clamped_len(vecs: &[IoVec], cap: usize) -> usize {
    let total: u64 = vecs.iter().map(|v| u64::from(v.len)).sum();
    usize::try_from(total).unwrap_or(usize::MAX).min(cap)
}

/// Gather up to `cap` bytes from the guest buffers `vecs` (for writes).
pub(crate) fn gather<T>(
    c: &mut dyn Caller<T>,
    vecs: &[IoVec],
    cap: usize,
) -> Result<Vec<u8>, Errno> {
    let mut out = vec![0u8; clamped_len(vecs, cap)];
    let mut at = 0;
    for v in vecs {
        if at == out.len() {
            break;
        }
        let n = (v.len as usize).min(out.len() - at);
        read(c, v.ptr, &mut out[at..at + n])?;
        at += n;
    }
    Ok(out)
}

/// Scatter `data` over the guest buffers `vecs` (for reads).
pub(crate) fn scatter<T>(c: &mut dyn Caller<T>, vecs: &[IoVec], data: &[u8]) -> Result<(), Errno> {
    let mut at = 0;
    for v in vecs {
        if at == data.len() {
            break;
        }
        let n = (v.len as usize).min(data.len() - at);
        write(c, v.ptr, &data[at..at + n])?;
        at += n;
    }
    Ok(())
}

/// A path argument: at most [`MAX_PATH`] bytes (`ENAMETOOLONG`), inside
/// memory (`EFAULT`), valid UTF-8 (`EILSEQ`), no NUL byte (`EINVAL`).
pub(crate) fn path<T>(c: &mut dyn Caller<T>, ptr: u32, len: u32) -> Result<String, Errno> {
    if len > MAX_PATH {
        return Err(Errno::NAMETOOLONG);
    }
    let bytes = read_vec(c, ptr, len)?;
    let s = String::from_utf8(bytes).map_err(|_| Errno::ILSEQ)?;
    if s.contains('\0') {
        return Err(Errno::INVAL);
    }
    Ok(s)
}

/// Write a list of NUL-terminated strings the way `args_get`/`environ_get`
/// do: the pointers at `ptrs`, the bytes at `buf`.
pub(crate) fn write_strings<T>(
    c: &mut dyn Caller<T>,
    items: &[Vec<u8>],
    ptrs: u32,
    buf: u32,
) -> Result<(), Errno> {
    let mut table = Vec::with_capacity(items.len() * 4);
    let mut bytes = Vec::new();
    for item in items {
        let at = u64::from(buf) + bytes.len() as u64;
        let at = u32::try_from(at).map_err(|_| Errno::FAULT)?;
        table.extend_from_slice(&at.to_le_bytes());
        bytes.extend_from_slice(item);
        bytes.push(0);
    }
    write(c, ptrs, &table)?;
    write(c, buf, &bytes)
}
