//! `path_*`: everything that names a file by a path relative to a directory
//! descriptor.
//!
//! Paths are resolved beneath their directory by cap-std (`openat2` with
//! `RESOLVE_BENEATH` where the kernel has it, a checked walk one component
//! at a time otherwise): an absolute path, `..` above the directory, or a
//! symlink leading out is `EPERM`, and no host file outside is touched. A
//! read-only directory refuses every change with `EPERM` before the host
//! filesystem is asked. Paths of more than 4 KiB are `ENAMETOOLONG`,
//! invalid UTF-8 `EILSEQ`, a NUL byte `EINVAL`.

use anywasm_core::Caller;
use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt};
use cap_std::fs::{Dir, OpenOptions};

use crate::abi::{Errno, LOOKUP_SYMLINK_FOLLOW, fdflags, oflags, rights};
use crate::ctx::DirPerms;
use crate::fs::{spec, stat_cap, times};
use crate::link::Args;
use crate::table::{Desc, DirDesc, FileDesc};
use crate::{WasiView, mem};

fn follows(flags: u32) -> Result<bool, Errno> {
    if flags & !LOOKUP_SYMLINK_FOLLOW != 0 {
        return Err(Errno::INVAL);
    }
    Ok(flags & LOOKUP_SYMLINK_FOLLOW != 0)
}

/// Run `f` on the directory `fd` and the path at `(ptr, len)`; `write` says
/// the operation changes the directory (refused on read-only ones).
fn at<T: WasiView, R>(
    c: &mut dyn Caller<T>,
    fd: u32,
    ptr: u32,
    len: u32,
    write: bool,
    f: impl FnOnce(&Dir, &str) -> std::io::Result<R>,
) -> Result<R, Errno> {
    let path = mem::path(c, ptr, len)?;
    let d = c.data_mut().wasi().table.dir(fd)?;
    if write {
        d.writable()?;
    }
    f(&d.dir, &path).map_err(Errno::from)
}

pub(crate) fn create_directory<T: WasiView>(
    c: &mut dyn Caller<T>,
    a: Args<'_>,
) -> Result<(), Errno> {
    at(c, a.u32(0), a.u32(1), a.u32(2), true, |d, p| {
        d.create_dir(p)
    })
}

pub(crate) fn remove_directory<T: WasiView>(
    c: &mut dyn Caller<T>,
    a: Args<'_>,
) -> Result<(), Errno> {
    at(c, a.u32(0), a.u32(1), a.u32(2), true, |d, p| {
        d.remove_dir(p)
    })
}

pub(crate) fn unlink_file<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    at(c, a.u32(0), a.u32(1), a.u32(2), true, |d, p| {
        d.remove_file(p)
    })
}

pub(crate) fn filestat_get<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let follow = follows(a.u32(1))?;
    let meta = at(c, a.u32(0), a.u32(2), a.u32(3), false, |d, p| {
        if follow {
            d.metadata(p)
        } else {
            d.symlink_metadata(p)
        }
    })?;
    mem::write(c, a.u32(4), &stat_cap(&meta).encode())
}

pub(crate) fn filestat_set_times<T: WasiView>(
    c: &mut dyn Caller<T>,
    a: Args<'_>,
) -> Result<(), Errno> {
    let follow = follows(a.u32(1))?;
    let (atim, mtim) = times(a.u32(6) as u16, a.u64(4), a.u64(5))?;
    at(c, a.u32(0), a.u32(2), a.u32(3), true, |d, p| {
        if follow {
            d.set_times(p, spec(atim), spec(mtim))
        } else {
            d.set_symlink_times(p, spec(atim), spec(mtim))
        }
    })
}

/// A symlink at `new` (in directory `fd`) whose contents are `old`. An
/// absolute target is `EPERM`: it could only point outside.
pub(crate) fn symlink<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let target = mem::path(c, a.u32(0), a.u32(1))?;
    at(c, a.u32(2), a.u32(3), a.u32(4), true, |d, p| {
        d.symlink(&target, p)
    })
}

/// The link's contents, cut to the buffer (not an error, as in POSIX).
pub(crate) fn readlink<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let (buf, buf_len, out) = (a.u32(3), a.u32(4), a.u32(5));
    let target = at(c, a.u32(0), a.u32(1), a.u32(2), false, |d, p| {
        d.read_link_contents(p)
    })?;
    let bytes = target.into_os_string().into_encoded_bytes();
    let n = bytes.len().min(buf_len as usize);
    mem::write(c, buf, &bytes[..n])?;
    mem::write_u32(c, out, n as u32)
}

/// Two directories and two paths, for rename and link: both directories
/// must allow changes.
fn two<T: WasiView, R>(
    c: &mut dyn Caller<T>,
    (old_fd, old_ptr, old_len): (u32, u32, u32),
    (new_fd, new_ptr, new_len): (u32, u32, u32),
    f: impl FnOnce(&Dir, &str, &Dir, &str) -> std::io::Result<R>,
) -> Result<R, Errno> {
    let old = mem::path(c, old_ptr, old_len)?;
    let new = mem::path(c, new_ptr, new_len)?;
    let table = &c.data_mut().wasi().table;
    let (from, to): (&DirDesc, &DirDesc) = (table.dir_ref(old_fd)?, table.dir_ref(new_fd)?);
    from.writable()?;
    to.writable()?;
    f(&from.dir, &old, &to.dir, &new).map_err(Errno::from)
}

pub(crate) fn rename<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    two(
        c,
        (a.u32(0), a.u32(1), a.u32(2)),
        (a.u32(3), a.u32(4), a.u32(5)),
        |from, old, to, new| from.rename(old, to, new),
    )
}

/// A hard link never follows a symlink: `SYMLINK_FOLLOW` is `EINVAL`.
pub(crate) fn link<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    if follows(a.u32(1))? {
        return Err(Errno::INVAL);
    }
    two(
        c,
        (a.u32(0), a.u32(2), a.u32(3)),
        (a.u32(4), a.u32(5), a.u32(6)),
        |from, old, to, new| from.hard_link(old, to, new),
    )
}

/// Open a file or directory.
///
/// The open mode comes from the rights asked for: `FD_WRITE` opens for
/// writing, `FD_READ`/`FD_READDIR` (or no write) for reading; `CREAT` and
/// `TRUNC` imply writing. `DIRECTORY` with `CREAT`, `EXCL` or `TRUNC` is
/// `EINVAL`; a directory opened for writing is `EISDIR`; the `SYNC`,
/// `DSYNC` and `RSYNC` flags are `ENOTSUP`. `APPEND` and `NONBLOCK` are
/// kept on the descriptor, never passed to the OS.
pub(crate) fn open<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let (fd, lookup, path_ptr, path_len) = (a.u32(0), a.u32(1), a.u32(2), a.u32(3));
    let (oflags, base, fdflags, out) = (a.u32(4), a.u64(5), a.u32(7), a.u32(8));
    let follow = follows(lookup)?;
    if oflags & !u32::from(oflags::CREAT | oflags::DIRECTORY | oflags::EXCL | oflags::TRUNC) != 0
        || fdflags > 0x1f
    {
        return Err(Errno::INVAL);
    }
    let has = |bit: u16| oflags & u32::from(bit) != 0;
    let (creat, dir_only, excl, trunc) = (
        has(oflags::CREAT),
        has(oflags::DIRECTORY),
        has(oflags::EXCL),
        has(oflags::TRUNC),
    );
    if fdflags as u16 & (fdflags::DSYNC | fdflags::RSYNC | fdflags::SYNC) != 0 {
        return Err(Errno::NOTSUP);
    }
    if dir_only && (creat || excl || trunc) {
        return Err(Errno::INVAL);
    }
    let path = mem::path(c, path_ptr, path_len)?;
    let cx = c.data_mut().wasi();
    let d = cx.table.dir(fd)?;
    let perms = d.perms;
    let want_write = base & rights::FD_WRITE != 0;
    let write = want_write || creat || trunc;
    if write && perms == DirPerms::ReadOnly {
        return Err(Errno::PERM);
    }
    let desc = if dir_only {
        let opened = if follow {
            d.dir.open_dir(&path)
        } else {
            d.dir.open_dir_nofollow(&path)
        }
        .map_err(Errno::from)?;
        if want_write {
            return Err(Errno::ISDIR);
        }
        Desc::Dir(DirDesc::new(opened, perms, None))
    } else {
        let read = base & (rights::FD_READ | rights::FD_READDIR) != 0 || !write;
        let mut opts = OpenOptions::new();
        opts.read(read).write(write).truncate(trunc);
        if creat && excl {
            opts.create_new(true);
        } else {
            opts.create(creat);
        }
        opts.follow(if follow {
            FollowSymlinks::Yes
        } else {
            FollowSymlinks::No
        });
        opts.maybe_dir(true);
        let file = d.dir.open_with(&path, &opts).map_err(Errno::from)?;
        let is_dir = file.metadata().map_err(Errno::from)?.is_dir();
        let file = file.into_std();
        if is_dir {
            Desc::Dir(DirDesc::new(Dir::from_std_file(file), perms, None))
        } else {
            Desc::File(FileDesc {
                file,
                pos: 0,
                read,
                write,
                append: fdflags as u16 & fdflags::APPEND != 0,
                nonblock: fdflags as u16 & fdflags::NONBLOCK != 0,
                perms,
            })
        }
    };
    let new_fd = cx.table.insert(desc)?;
    mem::write_u32(c, out, new_fd)
}
