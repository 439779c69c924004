//! Directory descriptors: preopen names and listings.

use anywasm_core::Caller;

use crate::abi::{Errno, dirent};
use crate::link::Args;
use crate::table::Desc;
use crate::{WasiView, mem};

/// `prestat` of a preopen: tag 0 (a directory) and its name's length. Any
/// other descriptor is `EBADF`.
pub(crate) fn prestat_get<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let len = match c.data_mut().wasi().table.get(a.u32(0))? {
        Desc::Dir(d) => d.preopen.as_ref().ok_or(Errno::BADF)?.len(),
        _ => return Err(Errno::BADF),
    };
    let mut b = [0u8; 8];
    b[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    mem::write(c, a.u32(1), &b)
}

/// The preopen's guest path (no NUL); a buffer too small is
/// `ENAMETOOLONG`, a descriptor that is not a preopen `EBADF`.
pub(crate) fn prestat_dir_name<T: WasiView>(
    c: &mut dyn Caller<T>,
    a: Args<'_>,
) -> Result<(), Errno> {
    let name = match c.data_mut().wasi().table.get(a.u32(0))? {
        Desc::Dir(d) => d.preopen.clone().ok_or(Errno::BADF)?,
        _ => return Err(Errno::BADF),
    };
    if name.len() > a.u32(2) as usize {
        return Err(Errno::NAMETOOLONG);
    }
    mem::write(c, a.u32(1), name.as_bytes())
}

/// List a directory from `cookie` into the guest's buffer.
///
/// Entry `i` of the listing ([`crate::fs::listing`]) has cookie `i` and
/// `d_next` `i + 1`. The listing is taken afresh at cookie 0 and kept for
/// the following calls, so a guest paging through it sees one consistent
/// snapshot. The buffer is filled completely (the last entry cut short if
/// it does not fit), so `bufused < buf_len` means the end was reached.
pub(crate) fn readdir<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let (fd, buf, buf_len, cookie, out) = (a.u32(0), a.u32(1), a.u32(2), a.u64(3), a.u32(4));
    if c.memory_size()
        .is_none_or(|size| u64::from(buf) + u64::from(buf_len) > size)
    {
        return Err(Errno::FAULT);
    }
    let cx = c.data_mut().wasi();
    let max = cx.bounds.max_dir_entries;
    let d = match cx.table.get(fd)? {
        Desc::Dir(d) => d,
        _ => return Err(Errno::BADF),
    };
    if cookie == 0 || d.listing.is_none() {
        d.listing = Some(crate::fs::listing(&d.dir, max)?);
    }
    let entries = d.listing.as_deref().unwrap_or_default();
    let mut bytes = Vec::new();
    let limit = buf_len as usize;
    let start = usize::try_from(cookie).unwrap_or(usize::MAX);
    for (i, e) in entries.iter().enumerate().skip(start) {
        if bytes.len() >= limit {
            break;
        }
        let head = dirent(i as u64 + 1, e.ino, e.name.len() as u32, e.filetype);
        bytes.extend_from_slice(&head);
        bytes.extend_from_slice(&e.name);
    }
    bytes.truncate(limit);
    mem::write(c, buf, &bytes)?;
    mem::write_u32(c, out, bytes.len() as u32)
}
