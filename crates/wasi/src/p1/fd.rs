//! `fd_*`: reading, writing, seeking and describing open descriptors.
//!
//! Files are read and written at the position this crate tracks
//! (`pread`/`pwrite` on the host file), so append mode is kept here too and
//! never handed to the OS: an append write goes to the current end of file.
//! Each read or write moves at most the context's `max_io_bytes`; a larger
//! request is a short transfer, which every guest must handle.
//! Directories and stdio are `EBADF` for the file-only calls, and stdio is
//! `ESPIPE` for seeking.

use std::os::unix::fs::FileExt;

use anywasm_core::Caller;

use crate::abi::{Errno, fdflags, filetype, rights};
use crate::ctx::DirPerms;
use crate::fs::{TimeSet, stat_std, times};
use crate::link::Args;
use crate::table::{Desc, FileDesc};
use crate::{WasiCtx, WasiView, mem};

fn ctx<T: WasiView>(c: &mut dyn Caller<T>) -> &mut WasiCtx {
    c.data_mut().wasi()
}

pub(crate) fn close<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    ctx(c).table.close(a.u32(0))
}

pub(crate) fn renumber<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    ctx(c).table.renumber(a.u32(0), a.u32(1))
}

/// The rights a descriptor reports. Rights are not enforced beyond what the
/// descriptor is (this follows wasmtime's preview 1): a preopen reports the
/// preview 1 preopen rights, a directory everything but seeking and
/// truncation, a file what its open mode allows.
fn fdstat_of(desc: &Desc) -> [u8; 24] {
    use rights::*;
    match desc {
        Desc::Stdin(s) => {
            let ft = if s.is_tty() {
                filetype::CHARACTER_DEVICE
            } else {
                filetype::UNKNOWN
            };
            crate::abi::fdstat(ft, 0, FD_READ | POLL_FD_READWRITE, 0)
        }
        Desc::Output(s) => {
            let ft = if s.is_tty() {
                filetype::CHARACTER_DEVICE
            } else {
                filetype::UNKNOWN
            };
            crate::abi::fdstat(ft, 0, FD_WRITE | POLL_FD_READWRITE, 0)
        }
        Desc::Dir(d) if d.preopen.is_some() => {
            crate::abi::fdstat(filetype::DIRECTORY, 0, PREOPEN_BASE, PREOPEN_INHERITING)
        }
        Desc::Dir(_) => {
            let r = ALL & !(FD_SEEK | FD_FILESTAT_SET_SIZE | PATH_FILESTAT_SET_SIZE);
            crate::abi::fdstat(filetype::DIRECTORY, 0, r, r)
        }
        Desc::File(f) => {
            let mut r = ALL & !(FD_READDIR | PATH_FILESTAT_SET_SIZE);
            if !f.read {
                r &= !FD_READ;
            }
            if !f.write {
                r &= !FD_WRITE;
            }
            let mut flags = 0;
            if f.append {
                flags |= fdflags::APPEND;
            }
            if f.nonblock {
                flags |= fdflags::NONBLOCK;
            }
            crate::abi::fdstat(filetype::REGULAR_FILE, flags, r, r)
        }
    }
}

pub(crate) fn fdstat_get<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let stat = fdstat_of(ctx(c).table.get(a.u32(0))?);
    mem::write(c, a.u32(1), &stat)
}

/// Only `APPEND` and `NONBLOCK` can change, and only on files.
pub(crate) fn fdstat_set_flags<T: WasiView>(
    c: &mut dyn Caller<T>,
    a: Args<'_>,
) -> Result<(), Errno> {
    let flags = a.u32(1);
    if flags & !u32::from(fdflags::APPEND | fdflags::NONBLOCK) != 0 {
        return Err(Errno::INVAL);
    }
    let f = ctx(c).table.file(a.u32(0))?;
    f.append = flags & u32::from(fdflags::APPEND) != 0;
    f.nonblock = flags & u32::from(fdflags::NONBLOCK) != 0;
    Ok(())
}

/// Rights cannot be dropped: `ENOTSUP` (after checking the descriptor).
pub(crate) fn fdstat_set_rights<T: WasiView>(
    c: &mut dyn Caller<T>,
    a: Args<'_>,
) -> Result<(), Errno> {
    ctx(c).table.get(a.u32(0))?;
    Err(Errno::NOTSUP)
}

pub(crate) fn filestat_get<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let stat = match ctx(c).table.get(a.u32(0))? {
        Desc::File(f) => stat_std(&f.file.metadata().map_err(Errno::from)?),
        Desc::Dir(d) => crate::fs::stat_cap(&d.dir.dir_metadata().map_err(Errno::from)?),
        desc @ (Desc::Stdin(_) | Desc::Output(_)) => crate::abi::Filestat {
            filetype: fdstat_of(desc)[0],
            ..Default::default()
        },
    };
    mem::write(c, a.u32(1), &stat.encode())
}

/// A file open for writing: `EBADF` otherwise.
fn writable(ctx: &mut WasiCtx, fd: u32) -> Result<&mut FileDesc, Errno> {
    let f = ctx.table.file(fd)?;
    if f.write { Ok(f) } else { Err(Errno::BADF) }
}

pub(crate) fn filestat_set_size<T: WasiView>(
    c: &mut dyn Caller<T>,
    a: Args<'_>,
) -> Result<(), Errno> {
    let f = writable(ctx(c), a.u32(0))?;
    f.file.set_len(a.u64(1)).map_err(Errno::from)
}

pub(crate) fn filestat_set_times<T: WasiView>(
    c: &mut dyn Caller<T>,
    a: Args<'_>,
) -> Result<(), Errno> {
    let (atim, mtim) = times(a.u32(3) as u16, a.u64(1), a.u64(2))?;
    let fd = a.u32(0);
    let cx = ctx(c);
    let file = match cx.table.get(fd)? {
        Desc::File(f) if f.perms == DirPerms::ReadOnly => return Err(Errno::PERM),
        Desc::File(f) => &f.file,
        Desc::Dir(d) => {
            d.writable()?;
            // Set on the directory itself: its path is ".".
            let (a, m) = (crate::fs::spec(atim), crate::fs::spec(mtim));
            return cap_fs_ext::DirExt::set_times(&d.dir, ".", a, m).map_err(Errno::from);
        }
        _ => return Err(Errno::BADF),
    };
    let now = std::time::SystemTime::now();
    let resolve = |t: TimeSet| match t {
        TimeSet::Keep => None,
        TimeSet::Now => Some(now),
        TimeSet::At(at) => Some(at),
    };
    let mut ft = std::fs::FileTimes::new();
    if let Some(t) = resolve(atim) {
        ft = ft.set_accessed(t);
    }
    if let Some(t) = resolve(mtim) {
        ft = ft.set_modified(t);
    }
    file.set_times(ft).map_err(Errno::from)
}

pub(crate) fn sync<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    match ctx(c).table.get(a.u32(0))? {
        Desc::File(f) => f.file.sync_all().map_err(Errno::from),
        Desc::Dir(_) => Ok(()),
        _ => Err(Errno::BADF),
    }
}

pub(crate) fn datasync<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    match ctx(c).table.get(a.u32(0))? {
        Desc::File(f) => f.file.sync_data().map_err(Errno::from),
        Desc::Dir(_) => Ok(()),
        _ => Err(Errno::BADF),
    }
}

pub(crate) fn advise<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    use rustix::fs::Advice;
    let advice = match a.u32(3) {
        0 => Advice::Normal,
        1 => Advice::Sequential,
        2 => Advice::Random,
        3 => Advice::WillNeed,
        4 => Advice::DontNeed,
        5 => Advice::NoReuse,
        _ => return Err(Errno::INVAL),
    };
    let f = ctx(c).table.file(a.u32(0))?;
    let len = std::num::NonZeroU64::new(a.u64(2));
    rustix::fs::fadvise(&f.file, a.u64(1), len, advice)
        .map_err(|e| Errno::from(std::io::Error::from(e)))
}

/// Preallocating disk space is not offered (a guest could fill the host's
/// disk with it): `ENOTSUP` after checking the descriptor.
pub(crate) fn allocate<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    ctx(c).table.file(a.u32(0))?;
    Err(Errno::NOTSUP)
}

/// `pread` into `vecs` from `f` at `offset`, at most `cap` bytes.
fn pread_into(
    f: &FileDesc,
    vecs: &[mem::IoVec],
    offset: u64,
    cap: usize,
) -> Result<Vec<u8>, Errno> {
    if !f.read {
        return Err(Errno::BADF);
    }
    let mut buf = vec![0u8; mem::clamped_len(vecs, cap)];
    let n = loop {
        match f.file.read_at(&mut buf, offset) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => break r.map_err(Errno::from)?,
        }
    };
    buf.truncate(n);
    Ok(buf)
}

/// Write `data` to `f`: at `offset`, or at the end of file in append mode.
/// Returns the count and where the write ended.
fn pwrite_from(f: &FileDesc, data: &[u8], offset: Option<u64>) -> Result<(usize, u64), Errno> {
    if !f.write {
        return Err(Errno::BADF);
    }
    let at = match offset {
        Some(o) if !f.append => o,
        _ if f.append => f.file.metadata().map_err(Errno::from)?.len(),
        _ => f.pos,
    };
    let n = f.file.write_at(data, at).map_err(Errno::from)?;
    Ok((n, at + n as u64))
}

pub(crate) fn read<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let (fd, out) = (a.u32(0), a.u32(3));
    let vecs = mem::iovecs(c, a.u32(1), a.u32(2))?;
    // The result slot is checked first, so no transfer happens unreported.
    mem::check(c, out, 4)?;
    let wait = c.remaining_time();
    let cx = ctx(c);
    let cap = cx.bounds.max_io;
    let data = match cx.table.get(fd)? {
        Desc::File(f) => {
            let data = pread_into(f, &vecs, f.pos, cap)?;
            f.pos += data.len() as u64;
            data
        }
        Desc::Stdin(s) => s.read(mem::clamped_len(&vecs, cap), wait)?,
        _ => return Err(Errno::BADF),
    };
    mem::scatter(c, &vecs, &data)?;
    mem::write_u32(c, out, data.len() as u32)
}

pub(crate) fn pread<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let (fd, offset, out) = (a.u32(0), a.u64(3), a.u32(4));
    let vecs = mem::iovecs(c, a.u32(1), a.u32(2))?;
    // The result slot is checked first, so no transfer happens unreported.
    mem::check(c, out, 4)?;
    let cx = ctx(c);
    let cap = cx.bounds.max_io;
    let data = match cx.table.get(fd)? {
        Desc::File(f) => pread_into(f, &vecs, offset, cap)?,
        Desc::Stdin(_) | Desc::Output(_) => return Err(Errno::SPIPE),
        Desc::Dir(_) => return Err(Errno::BADF),
    };
    mem::scatter(c, &vecs, &data)?;
    mem::write_u32(c, out, data.len() as u32)
}

pub(crate) fn write<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let (fd, out) = (a.u32(0), a.u32(3));
    let vecs = mem::iovecs(c, a.u32(1), a.u32(2))?;
    // The result slot is checked first, so no transfer happens unreported.
    mem::check(c, out, 4)?;
    let cap = ctx(c).bounds.max_io;
    let data = mem::gather(c, &vecs, cap)?;
    let n = match ctx(c).table.get(fd)? {
        Desc::File(f) => {
            let (n, end) = pwrite_from(f, &data, None)?;
            f.pos = end;
            n
        }
        Desc::Output(s) => s.write(&data)?,
        _ => return Err(Errno::BADF),
    };
    mem::write_u32(c, out, n as u32)
}

/// Like Linux `pwrite`: in append mode the data goes to the end of file,
/// and the position never moves.
pub(crate) fn pwrite<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let (fd, offset, out) = (a.u32(0), a.u64(3), a.u32(4));
    let vecs = mem::iovecs(c, a.u32(1), a.u32(2))?;
    // The result slot is checked first, so no transfer happens unreported.
    mem::check(c, out, 4)?;
    let cap = ctx(c).bounds.max_io;
    let data = mem::gather(c, &vecs, cap)?;
    let n = match ctx(c).table.get(fd)? {
        Desc::File(f) => pwrite_from(f, &data, Some(offset))?.0,
        Desc::Stdin(_) | Desc::Output(_) => return Err(Errno::SPIPE),
        Desc::Dir(_) => return Err(Errno::BADF),
    };
    mem::write_u32(c, out, n as u32)
}

/// A file whose position can move: stdio is `ESPIPE`, anything else `EBADF`.
fn seekable(ctx: &mut WasiCtx, fd: u32) -> Result<&mut FileDesc, Errno> {
    match ctx.table.get(fd)? {
        Desc::File(f) => Ok(f),
        Desc::Stdin(_) | Desc::Output(_) => Err(Errno::SPIPE),
        Desc::Dir(_) => Err(Errno::BADF),
    }
}

/// Seeking before 0 or past `i64::MAX` is `EINVAL`; past the end is fine.
pub(crate) fn seek<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let (fd, delta, whence, out) = (a.u32(0), a.u64(1) as i64, a.u32(2), a.u32(3));
    let f = seekable(ctx(c), fd)?;
    let base: i128 = match whence {
        0 => 0,
        1 => i128::from(f.pos),
        2 => i128::from(f.file.metadata().map_err(Errno::from)?.len()),
        _ => return Err(Errno::INVAL),
    };
    let to = base + i128::from(delta);
    if !(0..=i128::from(i64::MAX)).contains(&to) {
        return Err(Errno::INVAL);
    }
    f.pos = to as u64;
    let pos = f.pos;
    mem::write_u64(c, out, pos)
}

pub(crate) fn tell<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let pos = seekable(ctx(c), a.u32(0))?.pos;
    mem::write_u64(c, a.u32(1), pos)
}
