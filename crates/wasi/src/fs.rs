//! Host files and directories as the guest sees them: file types, stats,
//! timestamps, and directory listings.
//!
//! `dev` and `ino` are the host's own `st_dev` and `st_ino`, taken from the
//! same `stat` in `fd_filestat_get`, `path_filestat_get` and `fd_readdir`,
//! so hard links and listings agree. The `..` entry of a listing carries the
//! directory's own inode, so nothing about the host above a preopen is shown.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cap_std::fs::Dir;

use crate::abi::{Errno, Filestat, filetype, fstflags};
use crate::table::Entry;

/// The preview 1 file type of a std or cap-std file type.
pub(crate) fn file_type(ft: &impl FileTypeLike) -> u8 {
    if ft.dir() {
        filetype::DIRECTORY
    } else if ft.file() {
        filetype::REGULAR_FILE
    } else if ft.symlink() {
        filetype::SYMBOLIC_LINK
    } else if ft.char_device() {
        filetype::CHARACTER_DEVICE
    } else if ft.block_device() {
        filetype::BLOCK_DEVICE
    } else if ft.socket() {
        filetype::SOCKET_STREAM
    } else {
        filetype::UNKNOWN
    }
}

/// What [`file_type`] needs of a file type.
pub(crate) trait FileTypeLike {
    fn dir(&self) -> bool;
    fn file(&self) -> bool;
    fn symlink(&self) -> bool;
    fn char_device(&self) -> bool;
    fn block_device(&self) -> bool;
    fn socket(&self) -> bool;
}

macro_rules! file_type_like {
    ($t:ty, $ext:path) => {
        impl FileTypeLike for $t {
            fn dir(&self) -> bool {
                self.is_dir()
            }
            fn file(&self) -> bool {
                self.is_file()
            }
            fn symlink(&self) -> bool {
                self.is_symlink()
            }
            fn char_device(&self) -> bool {
                <Self as $ext>::is_char_device(self)
            }
            fn block_device(&self) -> bool {
                <Self as $ext>::is_block_device(self)
            }
            fn socket(&self) -> bool {
                <Self as $ext>::is_socket(self)
            }
        }
    };
}
file_type_like!(std::fs::FileType, FileTypeExt);
file_type_like!(cap_std::fs::FileType, cap_std::fs::FileTypeExt);

fn ns(secs: i64, nsec: i64) -> u64 {
    u64::try_from(secs)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(nsec).unwrap_or(0))
}

/// The stat of an open file or directory.
pub(crate) fn stat_std(m: &std::fs::Metadata) -> Filestat {
    Filestat {
        dev: m.dev(),
        ino: m.ino(),
        filetype: file_type(&m.file_type()),
        nlink: m.nlink(),
        size: m.size(),
        atim: ns(m.atime(), m.atime_nsec()),
        mtim: ns(m.mtime(), m.mtime_nsec()),
        ctim: ns(m.ctime(), m.ctime_nsec()),
    }
}

/// The stat of a path.
pub(crate) fn stat_cap(m: &cap_std::fs::Metadata) -> Filestat {
    use cap_std::fs::MetadataExt as _;
    Filestat {
        dev: m.dev(),
        ino: m.ino(),
        filetype: file_type(&m.file_type()),
        nlink: m.nlink(),
        size: m.size(),
        atim: ns(m.atime(), m.atime_nsec()),
        mtim: ns(m.mtime(), m.mtime_nsec()),
        ctim: ns(m.ctime(), m.ctime_nsec()),
    }
}

/// A timestamp change asked for by `fstflags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeSet {
    Keep,
    Now,
    At(SystemTime),
}

/// Decode one timestamp of `fd/path_filestat_set_times`. Asking for both a
/// time and "now" is `EINVAL`, checked before anything changes.
pub(crate) fn time_set(flags: u16, set: u16, now: u16, value: u64) -> Result<TimeSet, Errno> {
    match (flags & set != 0, flags & now != 0) {
        (true, true) => Err(Errno::INVAL),
        (true, false) => Ok(TimeSet::At(UNIX_EPOCH + Duration::from_nanos(value))),
        (false, true) => Ok(TimeSet::Now),
        (false, false) => Ok(TimeSet::Keep),
    }
}

/// Both timestamps of a set-times call, validated.
pub(crate) fn times(flags: u16, atim: u64, mtim: u64) -> Result<(TimeSet, TimeSet), Errno> {
    if flags & !(fstflags::ATIM | fstflags::ATIM_NOW | fstflags::MTIM | fstflags::MTIM_NOW) != 0 {
        return Err(Errno::INVAL);
    }
    Ok((
        time_set(flags, fstflags::ATIM, fstflags::ATIM_NOW, atim)?,
        time_set(flags, fstflags::MTIM, fstflags::MTIM_NOW, mtim)?,
    ))
}

/// As cap-fs-ext's time spec (`None` keeps the time).
pub(crate) fn spec(t: TimeSet) -> Option<cap_fs_ext::SystemTimeSpec> {
    match t {
        TimeSet::Keep => None,
        TimeSet::Now => Some(cap_fs_ext::SystemTimeSpec::SymbolicNow),
        TimeSet::At(at) => Some(cap_fs_ext::SystemTimeSpec::Absolute(
            cap_std::time::SystemTime::from_std(at),
        )),
    }
}

/// A directory's listing for `fd_readdir`: `.` and `..` (both with the
/// directory's own inode), then the entries in the order the host lists
/// them. More than `max` entries is `ENOMEM`: the host never buffers an
/// unbounded listing.
pub(crate) fn listing(dir: &Dir, max: usize) -> Result<Vec<Entry>, Errno> {
    let own = dir.dir_metadata().map_err(Errno::from)?;
    let own_ino = {
        use cap_std::fs::MetadataExt as _;
        own.ino()
    };
    let mut out = vec![
        Entry {
            name: b".".to_vec(),
            ino: own_ino,
            filetype: filetype::DIRECTORY,
        },
        Entry {
            name: b"..".to_vec(),
            ino: own_ino,
            filetype: filetype::DIRECTORY,
        },
    ];
    for entry in dir.entries().map_err(Errno::from)? {
        let entry = entry.map_err(Errno::from)?;
        if out.len() >= max.saturating_add(2) {
            return Err(Errno::NOMEM);
        }
        let ft = entry.file_type().map_err(Errno::from)?;
        out.push(Entry {
            name: entry.file_name().into_encoded_bytes(),
            ino: std::os::unix::fs::DirEntryExt::ino(&entry),
            filetype: file_type(&ft),
        });
    }
    Ok(out)
}
