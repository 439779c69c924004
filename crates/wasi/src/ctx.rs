//! [`WasiCtx`], a guest's WASI state, and the builder that grants it things.

use std::path::Path;

use cap_std::fs::Dir;

use crate::abi::Errno;
use crate::stdio::{InputStream, Output, OutputStream, Stdin};
use crate::table::{Desc, DirDesc, FdTable};

/// What a preopened directory lets the guest do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DirPerms {
    /// Open, read, list and stat; every change (create, write, truncate,
    /// rename, remove, link, set times) is `EPERM`, refused before the host
    /// filesystem is touched.
    ReadOnly,
    /// Everything inside the directory.
    ReadWrite,
}

/// Where `random_get` bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Random {
    Denied,
    Os,
    /// SplitMix64 state: reproducible, not cryptographic.
    Seeded(u64),
}

/// Bounds on what one guest may make the host hold (see [`WasiCtxBuilder`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bounds {
    pub max_fds: usize,
    pub max_io: usize,
    pub max_dir_entries: usize,
}

/// One guest's WASI state: its arguments, environment, open descriptors,
/// clocks and randomness. Build it with [`WasiCtx::builder`]; keep it in the
/// store's host state and reach it through [`WasiView`](crate::WasiView).
#[derive(Debug)]
pub struct WasiCtx {
    pub(crate) args: Vec<Vec<u8>>,
    pub(crate) env: Vec<Vec<u8>>,
    pub(crate) table: FdTable,
    pub(crate) clocks: bool,
    pub(crate) random: Random,
    pub(crate) bounds: Bounds,
    pub(crate) start: std::time::Instant,
}

impl WasiCtx {
    /// A builder with nothing granted.
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::default()
    }

    /// A context granting nothing: no arguments, no environment, empty
    /// stdin, discarded output, no directories, no clocks, no randomness.
    pub fn denied() -> Self {
        Self::builder().build()
    }

    /// Fill `buf` from the granted random source.
    pub(crate) fn fill_random(&mut self, buf: &mut [u8]) -> Result<(), Errno> {
        match &mut self.random {
            Random::Denied => Err(Errno::NOTCAPABLE),
            Random::Os => getrandom::fill(buf).map_err(|_| Errno::IO),
            Random::Seeded(state) => {
                for chunk in buf.chunks_mut(8) {
                    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                    let mut z = *state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                    z ^= z >> 31;
                    chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
                }
                Ok(())
            }
        }
    }
}

/// Grants a [`WasiCtx`] one thing at a time; everything not granted is
/// denied.
///
/// | what | default | granted by |
/// |---|---|---|
/// | arguments | none (`argv` is empty) | [`arg`](Self::arg), [`args`](Self::args) |
/// | environment | none | [`env`](Self::env) |
/// | stdin | empty | [`stdin`](Self::stdin) |
/// | stdout, stderr | discarded | [`stdout`](Self::stdout), [`stderr`](Self::stderr) |
/// | directories | none | [`preopen_dir`](Self::preopen_dir) |
/// | wall and monotonic clocks | `ENOTCAPABLE` | [`clocks`](Self::clocks) |
/// | random | `ENOTCAPABLE` | [`os_random`](Self::os_random), [`seeded_random`](Self::seeded_random) |
///
/// Bounds (the host's memory, whatever the guest does): at most
/// [`max_open_fds`](Self::max_open_fds) descriptors (default 1024; more is
/// `EMFILE`), at most [`max_io_bytes`](Self::max_io_bytes) per read or
/// write (default 1 MiB; a larger request is a short transfer), at most
/// [`max_dir_entries`](Self::max_dir_entries) entries listed per directory
/// (default 65 536; a larger directory is `ENOMEM` from `fd_readdir`).
#[derive(Debug)]
pub struct WasiCtxBuilder {
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    stdin: Stdin,
    stdout: Output,
    stderr: Output,
    preopens: Vec<(Dir, String, DirPerms)>,
    clocks: bool,
    random: Random,
    bounds: Bounds,
}

impl Default for WasiCtxBuilder {
    fn default() -> Self {
        Self {
            args: Vec::new(),
            env: Vec::new(),
            stdin: Stdin::Empty,
            stdout: Output::Discard,
            stderr: Output::Discard,
            preopens: Vec::new(),
            clocks: false,
            random: Random::Denied,
            bounds: Bounds {
                max_fds: 1024,
                max_io: 1 << 20,
                max_dir_entries: 1 << 16,
            },
        }
    }
}

impl WasiCtxBuilder {
    /// Append one argument (the first is, by convention, the program name).
    pub fn arg(mut self, arg: impl AsRef<str>) -> Self {
        self.args.push(arg.as_ref().as_bytes().to_vec());
        self
    }

    /// Append arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(self, args: I) -> Self {
        args.into_iter().fold(self, |b, a| b.arg(a))
    }

    /// Set the environment variable `key` to `value`.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push(format!("{key}={value}").into_bytes());
        self
    }

    /// Where stdin comes from.
    pub fn stdin(mut self, stdin: Stdin) -> Self {
        self.stdin = stdin;
        self
    }

    /// Where stdout goes.
    pub fn stdout(mut self, out: Output) -> Self {
        self.stdout = out;
        self
    }

    /// Where stderr goes.
    pub fn stderr(mut self, out: Output) -> Self {
        self.stderr = out;
        self
    }

    /// Grant the host directory `host` to the guest as `guest_path` (e.g.
    /// `/` or `/data`). Preopens get descriptors 3, 4, ... in the order they
    /// are granted. The guest can never reach outside `host`: paths are
    /// resolved beneath it by cap-std (absolute paths, `..` past the top and
    /// symlinks leading out are `EPERM`).
    pub fn preopen_dir(
        mut self,
        host: impl AsRef<Path>,
        guest_path: &str,
        perms: DirPerms,
    ) -> std::io::Result<Self> {
        let dir = Dir::open_ambient_dir(host, cap_std::ambient_authority())?;
        self.preopens.push((dir, guest_path.to_string(), perms));
        Ok(self)
    }

    /// Grant the real wall clock and monotonic clock (and sleeping in
    /// `poll_oneoff`).
    pub fn clocks(mut self) -> Self {
        self.clocks = true;
        self
    }

    /// Grant random bytes from the operating system.
    pub fn os_random(mut self) -> Self {
        self.random = Random::Os;
        self
    }

    /// Grant reproducible random bytes from `seed` (SplitMix64; not
    /// cryptographic, for deterministic runs and tests).
    pub fn seeded_random(mut self, seed: u64) -> Self {
        self.random = Random::Seeded(seed);
        self
    }

    /// Cap the open descriptors, stdio and preopens included.
    pub fn max_open_fds(mut self, n: usize) -> Self {
        self.bounds.max_fds = n;
        self
    }

    /// Cap the bytes one read or write moves (at least 1).
    pub fn max_io_bytes(mut self, n: usize) -> Self {
        self.bounds.max_io = n.max(1);
        self
    }

    /// Cap the entries `fd_readdir` lists for one directory.
    pub fn max_dir_entries(mut self, n: usize) -> Self {
        self.bounds.max_dir_entries = n;
        self
    }

    /// The context.
    pub fn build(self) -> WasiCtx {
        let mut table = FdTable::new(self.bounds.max_fds.max(3 + self.preopens.len()));
        table.put(0, Desc::Stdin(InputStream::new(self.stdin)));
        table.put(1, Desc::Output(OutputStream::new(self.stdout, false)));
        table.put(2, Desc::Output(OutputStream::new(self.stderr, true)));
        for (i, (dir, name, perms)) in self.preopens.into_iter().enumerate() {
            table.put(
                3 + i as u32,
                Desc::Dir(DirDesc::new(dir, perms, Some(name))),
            );
        }
        WasiCtx {
            args: self.args,
            env: self.env,
            table,
            clocks: self.clocks,
            random: self.random,
            bounds: self.bounds,
            start: std::time::Instant::now(),
        }
    }
}
