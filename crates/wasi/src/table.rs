//! The descriptor table: what each guest fd number stands for.
//!
//! New descriptors take the lowest free number, as POSIX does. The table
//! holds at most `max` descriptors (stdio and preopens included); opening
//! one more is `EMFILE`. Every descriptor, preopens and stdio included, can
//! be closed or renumbered over; `fd_renumber` needs both numbers open.

use std::collections::BTreeMap;

use cap_std::fs::Dir;

use crate::abi::Errno;
use crate::ctx::DirPerms;
use crate::stdio::{InputStream, OutputStream};

/// An open file.
#[derive(Debug)]
pub(crate) struct FileDesc {
    pub file: std::fs::File,
    /// The file position, kept here (reads and writes are positioned), so
    /// append mode and the position never depend on the OS descriptor.
    pub pos: u64,
    pub read: bool,
    pub write: bool,
    pub append: bool,
    pub nonblock: bool,
    /// What the directory it was opened from allows (set-times needs write).
    pub perms: DirPerms,
}

/// One entry of a directory listing.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub name: Vec<u8>,
    pub ino: u64,
    pub filetype: u8,
}

/// An open directory.
#[derive(Debug)]
pub(crate) struct DirDesc {
    pub dir: Dir,
    pub perms: DirPerms,
    /// The guest path, for a preopen.
    pub preopen: Option<String>,
    /// The listing `fd_readdir` serves cookies from, taken at cookie 0.
    pub listing: Option<Vec<Entry>>,
}

impl DirDesc {
    pub(crate) fn new(dir: Dir, perms: DirPerms, preopen: Option<String>) -> Self {
        Self {
            dir,
            perms,
            preopen,
            listing: None,
        }
    }

    /// `EPERM` unless the directory may be changed.
    pub(crate) fn writable(&self) -> Result<(), Errno> {
        match self.perms {
            DirPerms::ReadWrite => Ok(()),
            DirPerms::ReadOnly => Err(Errno::PERM),
        }
    }
}

/// What a descriptor number stands for.
#[derive(Debug)]
pub(crate) enum Desc {
    Stdin(InputStream),
    Output(OutputStream),
    File(FileDesc),
    Dir(DirDesc),
}

/// The table.
#[derive(Debug)]
pub(crate) struct FdTable {
    map: BTreeMap<u32, Desc>,
    max: usize,
}

impl FdTable {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            map: BTreeMap::new(),
            max,
        }
    }

    /// Place `desc` at `fd` (building the initial table).
    pub(crate) fn put(&mut self, fd: u32, desc: Desc) {
        self.map.insert(fd, desc);
    }

    /// Open a new descriptor at the lowest free number.
    pub(crate) fn insert(&mut self, desc: Desc) -> Result<u32, Errno> {
        if self.map.len() >= self.max {
            return Err(Errno::MFILE);
        }
        let mut fd = 0u32;
        for &used in self.map.keys() {
            if used != fd {
                break;
            }
            fd += 1;
        }
        self.map.insert(fd, desc);
        Ok(fd)
    }

    pub(crate) fn get(&mut self, fd: u32) -> Result<&mut Desc, Errno> {
        self.map.get_mut(&fd).ok_or(Errno::BADF)
    }

    pub(crate) fn file(&mut self, fd: u32) -> Result<&mut FileDesc, Errno> {
        match self.get(fd)? {
            Desc::File(f) => Ok(f),
            _ => Err(Errno::BADF),
        }
    }

    /// A directory to resolve paths in: a file is `ENOTDIR`.
    pub(crate) fn dir(&mut self, fd: u32) -> Result<&mut DirDesc, Errno> {
        match self.get(fd)? {
            Desc::Dir(d) => Ok(d),
            _ => Err(Errno::NOTDIR),
        }
    }

    /// Like [`dir`](Self::dir), shared, so two can be held at once.
    pub(crate) fn dir_ref(&self, fd: u32) -> Result<&DirDesc, Errno> {
        match self.map.get(&fd).ok_or(Errno::BADF)? {
            Desc::Dir(d) => Ok(d),
            _ => Err(Errno::NOTDIR),
        }
    }

    pub(crate) fn close(&mut self, fd: u32) -> Result<(), Errno> {
        self.map.remove(&fd).map(drop).ok_or(Errno::BADF)
    }

    /// Move `from` to `to`, closing what `to` was.
    pub(crate) fn renumber(&mut self, from: u32, to: u32) -> Result<(), Errno> {
        if !self.map.contains_key(&from) || !self.map.contains_key(&to) {
            return Err(Errno::BADF);
        }
        if from != to {
            let desc = self.map.remove(&from).ok_or(Errno::BADF)?;
            self.map.insert(to, desc);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stdio::Stdin;

    fn stdin() -> Desc {
        Desc::Stdin(InputStream::new(Stdin::Empty))
    }

    #[test]
    fn lowest_free_number_and_cap() {
        let mut t = FdTable::new(3);
        assert_eq!(t.insert(stdin()), Ok(0));
        assert_eq!(t.insert(stdin()), Ok(1));
        t.close(0).unwrap();
        assert_eq!(t.insert(stdin()), Ok(0));
        assert_eq!(t.insert(stdin()), Ok(2));
        assert_eq!(t.insert(stdin()), Err(Errno::MFILE));
    }

    #[test]
    fn renumber_needs_both_open() {
        let mut t = FdTable::new(8);
        t.insert(stdin()).unwrap();
        t.insert(stdin()).unwrap();
        assert_eq!(t.renumber(0, 5), Err(Errno::BADF));
        assert_eq!(t.renumber(0, 1), Ok(()));
        assert_eq!(t.close(0), Err(Errno::BADF));
        assert_eq!(t.renumber(1, 1), Ok(()));
    }
}
