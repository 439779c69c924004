//! The `wasi_snapshot_preview1` ABI: error numbers, flag bits, and the
//! byte layout of the records guests pass by pointer (little endian, wasm32).
//!
//! Values are from the preview 1 witx definitions
//! (`typenames.witx`); each record encoder writes exactly the layout there,
//! padding zeroed, so a guest never sees stale host bytes.

use std::fmt;

/// A WASI error number, what every preview 1 function returns.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub u16);

macro_rules! errnos {
    ($($name:ident = $v:literal, $doc:literal;)*) => {
        impl Errno {
            $(#[doc = $doc] pub const $name: Errno = Errno($v);)*

            /// The witx name (`"badf"`), for messages.
            pub fn name(self) -> &'static str {
                match self.0 {
                    $($v => $doc,)*
                    _ => "unknown",
                }
            }
        }
    };
}

errnos! {
    SUCCESS = 0, "success";
    TOOBIG = 1, "2big";
    ACCES = 2, "acces";
    AGAIN = 6, "again";
    BADF = 8, "badf";
    BUSY = 10, "busy";
    DQUOT = 19, "dquot";
    EXIST = 20, "exist";
    FAULT = 21, "fault";
    FBIG = 22, "fbig";
    ILSEQ = 25, "ilseq";
    INTR = 27, "intr";
    INVAL = 28, "inval";
    IO = 29, "io";
    ISDIR = 31, "isdir";
    LOOP = 32, "loop";
    MFILE = 33, "mfile";
    MLINK = 34, "mlink";
    NAMETOOLONG = 37, "nametoolong";
    NFILE = 41, "nfile";
    NODEV = 43, "nodev";
    NOENT = 44, "noent";
    NOMEM = 48, "nomem";
    NOSPC = 51, "nospc";
    NOSYS = 52, "nosys";
    NOTDIR = 54, "notdir";
    NOTEMPTY = 55, "notempty";
    NOTSOCK = 57, "notsock";
    NOTSUP = 58, "notsup";
    NOTTY = 59, "notty";
    NXIO = 60, "nxio";
    OVERFLOW = 61, "overflow";
    PERM = 63, "perm";
    PIPE = 64, "pipe";
    RANGE = 68, "range";
    ROFS = 69, "rofs";
    SPIPE = 70, "spipe";
    TIMEDOUT = 73, "timedout";
    TXTBSY = 74, "txtbsy";
    XDEV = 75, "xdev";
    NOTCAPABLE = 76, "notcapable";
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Errno({} {})", self.0, self.name())
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "errno {} ({})", self.0, self.name())
    }
}

impl From<std::io::Error> for Errno {
    /// The host's error, as the guest should see it. Escapes from a
    /// preopen (cap-std's "a path led outside of the filesystem") carry no
    /// OS error and become `PERM`, as in wasmtime.
    fn from(e: std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(raw) => from_os(rustix::io::Errno::from_raw_os_error(raw)),
            None => match e.kind() {
                std::io::ErrorKind::NotFound => Errno::NOENT,
                std::io::ErrorKind::PermissionDenied => Errno::PERM,
                std::io::ErrorKind::AlreadyExists => Errno::EXIST,
                std::io::ErrorKind::InvalidInput => Errno::INVAL,
                std::io::ErrorKind::OutOfMemory => Errno::NOMEM,
                _ => Errno::IO,
            },
        }
    }
}

fn from_os(e: rustix::io::Errno) -> Errno {
    use rustix::io::Errno as E;
    match e {
        E::PERM => Errno::PERM,
        E::NOENT => Errno::NOENT,
        E::INTR => Errno::INTR,
        E::IO => Errno::IO,
        E::NXIO => Errno::NXIO,
        E::TOOBIG => Errno::TOOBIG,
        E::BADF => Errno::BADF,
        E::AGAIN => Errno::AGAIN,
        E::NOMEM => Errno::NOMEM,
        E::ACCESS => Errno::ACCES,
        E::FAULT => Errno::FAULT,
        E::BUSY => Errno::BUSY,
        E::EXIST => Errno::EXIST,
        E::XDEV => Errno::XDEV,
        E::NODEV => Errno::NODEV,
        E::NOTDIR => Errno::NOTDIR,
        E::ISDIR => Errno::ISDIR,
        E::INVAL => Errno::INVAL,
        E::NFILE => Errno::NFILE,
        E::MFILE => Errno::MFILE,
        E::NOTTY => Errno::NOTTY,
        E::TXTBSY => Errno::TXTBSY,
        E::FBIG => Errno::FBIG,
        E::NOSPC => Errno::NOSPC,
        E::SPIPE => Errno::SPIPE,
        E::ROFS => Errno::ROFS,
        E::MLINK => Errno::MLINK,
        E::PIPE => Errno::PIPE,
        E::RANGE => Errno::RANGE,
        E::NAMETOOLONG => Errno::NAMETOOLONG,
        E::NOSYS => Errno::NOSYS,
        E::NOTEMPTY => Errno::NOTEMPTY,
        E::LOOP => Errno::LOOP,
        E::OVERFLOW => Errno::OVERFLOW,
        E::ILSEQ => Errno::ILSEQ,
        E::NOTSOCK => Errno::NOTSOCK,
        E::OPNOTSUPP => Errno::NOTSUP,
        E::TIMEDOUT => Errno::TIMEDOUT,
        E::DQUOT => Errno::DQUOT,
        _ => Errno::IO,
    }
}

/// `rights` bits.
pub mod rights {
    #![allow(missing_docs)]
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    pub const SOCK_SHUTDOWN: u64 = 1 << 28;
    pub const SOCK_ACCEPT: u64 = 1 << 29;
    /// Every right.
    pub const ALL: u64 = (1 << 30) - 1;

    /// What a preopened directory itself offers (its base rights).
    pub const PREOPEN_BASE: u64 = PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES;

    /// What files and directories opened under a preopen may have.
    pub const PREOPEN_INHERITING: u64 = PREOPEN_BASE
        | FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;
}

/// `filetype` values.
pub mod filetype {
    #![allow(missing_docs)]
    pub const UNKNOWN: u8 = 0;
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SYMBOLIC_LINK: u8 = 7;
    pub const BLOCK_DEVICE: u8 = 1;
    pub const SOCKET_STREAM: u8 = 6;
}

/// `fdflags` bits.
pub mod fdflags {
    #![allow(missing_docs)]
    pub const APPEND: u16 = 1;
    pub const DSYNC: u16 = 2;
    pub const NONBLOCK: u16 = 4;
    pub const RSYNC: u16 = 8;
    pub const SYNC: u16 = 16;
}

/// `oflags` bits.
pub mod oflags {
    #![allow(missing_docs)]
    pub const CREAT: u16 = 1;
    pub const DIRECTORY: u16 = 2;
    pub const EXCL: u16 = 4;
    pub const TRUNC: u16 = 8;
}

/// `lookupflags`: follow a symlink in the last component.
pub const LOOKUP_SYMLINK_FOLLOW: u32 = 1;

/// `fstflags` bits.
pub mod fstflags {
    #![allow(missing_docs)]
    pub const ATIM: u16 = 1;
    pub const ATIM_NOW: u16 = 2;
    pub const MTIM: u16 = 4;
    pub const MTIM_NOW: u16 = 8;
}

/// `clockid` values.
pub mod clockid {
    #![allow(missing_docs)]
    pub const REALTIME: u32 = 0;
    pub const MONOTONIC: u32 = 1;
    pub const PROCESS_CPUTIME: u32 = 2;
    pub const THREAD_CPUTIME: u32 = 3;
}

/// `eventtype` values.
pub mod eventtype {
    #![allow(missing_docs)]
    pub const CLOCK: u8 = 0;
    pub const FD_READ: u8 = 1;
    pub const FD_WRITE: u8 = 2;
}

/// `subclockflags`: the timeout is an absolute time.
pub const SUBCLOCK_ABSTIME: u16 = 1;
/// `eventrwflags`: the peer hung up (end of file).
pub const EVENT_FD_READWRITE_HANGUP: u16 = 1;

/// Size of a `dirent` header (the name follows it).
pub const DIRENT_SIZE: usize = 24;
/// Size of a `subscription`.
pub const SUBSCRIPTION_SIZE: usize = 48;
/// Size of an `event`.
pub const EVENT_SIZE: usize = 32;

/// `fdstat`: 24 bytes.
pub(crate) fn fdstat(filetype: u8, flags: u16, base: u64, inheriting: u64) -> [u8; 24] {
    let mut b = [0u8; 24];
    b[0] = filetype;
    b[2..4].copy_from_slice(&flags.to_le_bytes());
    b[8..16].copy_from_slice(&base.to_le_bytes());
    b[16..24].copy_from_slice(&inheriting.to_le_bytes());
    b
}

/// A `filestat` record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Filestat {
    pub dev: u64,
    pub ino: u64,
    pub filetype: u8,
    pub nlink: u64,
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

impl Filestat {
    /// The 64-byte layout.
    pub(crate) fn encode(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0..8].copy_from_slice(&self.dev.to_le_bytes());
        b[8..16].copy_from_slice(&self.ino.to_le_bytes());
        b[16] = self.filetype;
        b[24..32].copy_from_slice(&self.nlink.to_le_bytes());
        b[32..40].copy_from_slice(&self.size.to_le_bytes());
        b[40..48].copy_from_slice(&self.atim.to_le_bytes());
        b[48..56].copy_from_slice(&self.mtim.to_le_bytes());
        b[56..64].copy_from_slice(&self.ctim.to_le_bytes());
        b
    }
}

/// A `dirent` header for an entry whose name is `namlen` bytes.
pub(crate) fn dirent(next: u64, ino: u64, namlen: u32, filetype: u8) -> [u8; DIRENT_SIZE] {
    let mut b = [0u8; DIRENT_SIZE];
    b[0..8].copy_from_slice(&next.to_le_bytes());
    b[8..16].copy_from_slice(&ino.to_le_bytes());
    b[16..20].copy_from_slice(&namlen.to_le_bytes());
    b[20] = filetype;
    b
}

/// An `event`.
pub(crate) fn event(userdata: u64, error: Errno, kind: u8, nbytes: u64, flags: u16) -> [u8; 32] {
    let mut b = [0u8; EVENT_SIZE];
    b[0..8].copy_from_slice(&userdata.to_le_bytes());
    b[8..10].copy_from_slice(&error.0.to_le_bytes());
    b[10] = kind;
    b[16..24].copy_from_slice(&nbytes.to_le_bytes());
    b[24..26].copy_from_slice(&flags.to_le_bytes());
    b
}

/// A decoded `subscription`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Subscription {
    pub userdata: u64,
    pub kind: SubscriptionKind,
}

/// What a subscription waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SubscriptionKind {
    Clock { id: u32, timeout: u64, flags: u16 },
    Read(u32),
    Write(u32),
}

impl Subscription {
    /// Decode 48 bytes; an unknown tag is `INVAL`.
    pub(crate) fn decode(b: &[u8]) -> Result<Self, Errno> {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or_default());
        let kind = match b[8] {
            eventtype::CLOCK => SubscriptionKind::Clock {
                id: u32_at(16),
                timeout: u64_at(24),
                flags: u16::from_le_bytes([b[40], b[41]]),
            },
            eventtype::FD_READ => SubscriptionKind::Read(u32_at(16)),
            eventtype::FD_WRITE => SubscriptionKind::Write(u32_at(16)),
            _ => return Err(Errno::INVAL),
        };
        Ok(Self {
            userdata: u64_at(0),
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_have_the_witx_layout() {
        let st = Filestat {
            dev: 1,
            ino: 2,
            filetype: filetype::REGULAR_FILE,
            nlink: 3,
            size: 4,
            atim: 5,
            mtim: 6,
            ctim: 7,
        }
        .encode();
        assert_eq!(st[8], 2);
        assert_eq!(st[16], 4);
        assert_eq!(st[56], 7);
        let d = dirent(9, 8, 3, filetype::DIRECTORY);
        assert_eq!((d[0], d[8], d[16], d[20]), (9, 8, 3, 3));
        let f = fdstat(filetype::DIRECTORY, fdflags::APPEND, 0xff, 0x1_00);
        assert_eq!((f[0], f[2], f[8], f[17]), (3, 1, 0xff, 1));
    }

    #[test]
    fn subscriptions_decode_and_reject_unknown_tags() {
        let mut b = [0u8; SUBSCRIPTION_SIZE];
        b[0] = 7;
        b[8] = eventtype::FD_WRITE;
        b[16] = 2;
        assert_eq!(
            Subscription::decode(&b),
            Ok(Subscription {
                userdata: 7,
                kind: SubscriptionKind::Write(2)
            })
        );
        b[8] = 9;
        assert_eq!(Subscription::decode(&b), Err(Errno::INVAL));
    }

    #[test]
    fn escapes_without_an_os_error_are_perm() {
        let e = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "outside");
        assert_eq!(Errno::from(e), Errno::PERM);
        let e = std::io::Error::from_raw_os_error(rustix::io::Errno::NOTEMPTY.raw_os_error());
        assert_eq!(Errno::from(e), Errno::NOTEMPTY);
    }
}
