//! # anywasm-wasi
//!
//! WASI preview 1 (`wasi_snapshot_preview1`) for anywasm, written once over
//! the anywasm contract: the 46 functions are ordinary anywasm host
//! functions ([`Linker`](anywasm_core::Linker) + [`Caller`](anywasm_core::Caller)),
//! so a guest behaves the same on wasmtime, wasmer and wasmi, and no
//! engine's own WASI decides anything.
//!
//! ```
//! use anywasm::{Config, Limits, Linker, Sandbox};
//! use anywasm_wasi::{Capture, Output, WasiCtx, add_to_linker, capability, run_command};
//!
//! # fn main() -> anywasm::Result<()> {
//! // A command that prints "hi\n" and exits with status 3.
//! let wasm = wat::parse_str(r#"(module
//!     (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
//!     (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
//!     (memory (export "memory") 1)
//!     (data (i32.const 16) "hi\n")
//!     (func (export "_start")
//!         (i32.store (i32.const 0) (i32.const 16))   ;; iovec.buf
//!         (i32.store (i32.const 4) (i32.const 3))    ;; iovec.len
//!         (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
//!         (call $exit (i32.const 3))))"#).unwrap();
//!
//! let stdout = Capture::new(1 << 20);
//! let ctx = WasiCtx::builder().arg("hello").stdout(Output::Capture(stdout.clone())).build();
//! let mut linker = Linker::<WasiCtx>::new();
//! add_to_linker(&mut linker);
//! let engine = anywasm::engine(anywasm::compiled_backends()[0], &Config::new())?;
//! let mut sandbox = Sandbox::builder(&*engine)
//!     .linker(&linker)
//!     // What it imports (every WASI function is gated); the context then
//!     // decides what they reach.
//!     .capabilities(&[capability::FD, capability::PROC].into_iter().collect())
//!     .data(ctx)
//!     .build(&wasm)?;
//! let instance = sandbox.instance();
//! let status = run_command(sandbox.store_mut(), instance)?;
//! assert_eq!((status, stdout.text().as_str()), (3, "hi\n"));
//! # Ok(())
//! # }
//! ```
//!
//! ## Core concepts
//!
//! - [`WasiCtx`] is one guest's WASI state; [`WasiCtxBuilder`] grants it
//!   things one at a time (arguments, environment variables, [`Stdin`],
//!   [`Output`] for stdout and stderr, preopened directories with
//!   [`DirPerms`], clocks, random). Everything not granted is denied.
//! - [`add_to_linker`] defines the functions for any host state that
//!   implements [`WasiView`]. Each function sits behind a
//!   [`capability`], so a plugin that imports WASI functions it was not
//!   granted fails at load, naming the capability.
//! - [`run_command`] runs `_start` and returns the exit status: `proc_exit`
//!   is a typed outcome ([`ErrorKind::Exit`](anywasm_core::ErrorKind::Exit)),
//!   never a panic or a generic trap. [`initialize`] runs a reactor's
//!   `_initialize`.
//!
//! ## Sandbox
//!
//! - Paths are resolved beneath their preopen by cap-std (absolute paths,
//!   `..` past the top and symlinks leading out are `EPERM`); read-only
//!   preopens refuse every change before the host filesystem is asked.
//! - Every guest pointer and length is checked against the memory's size in
//!   64-bit arithmetic; a bad one is `EFAULT` (or `EINVAL` for a count over
//!   a cap), never a host fault. Host buffers are bounded: transfers are
//!   clamped, descriptors capped, directory listings capped, captured
//!   output capped (see [`WasiCtxBuilder`]).
//! - Limits hold inside WASI calls: fuel and memory are the guest's own,
//!   and no blocking call (a sleep, a wait for inherited stdin) outlasts
//!   the call's deadline ([`Caller::remaining_time`](anywasm_core::Caller::remaining_time)).
//! - No socket is reachable: `sock_*` are `ENOTSOCK` (or `EBADF`).
//! - Rights follow wasmtime's preview 1: descriptors report fixed rights
//!   and `fd_fdstat_set_rights` is `ENOTSUP`; what a descriptor can do is
//!   decided by how it was opened and by its directory's [`DirPerms`].
//!
//! The crate needs a unix host (it uses unix file metadata and `poll`).

#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(not(unix))]
compile_error!("anywasm-wasi runs on unix hosts only (it uses unix file metadata and poll)");

pub mod abi;
mod command;
mod ctx;
mod fs;
mod link;
mod mem;
mod p1;
mod stdio;
mod table;

pub use command::{INITIALIZE, ModuleKind, START, initialize, module_kind, run_command};
pub use ctx::{DirPerms, WasiCtx, WasiCtxBuilder};
pub use link::{MODULE, add_to_linker, capability_of, signatures};
pub use mem::{MAX_IOVECS, MAX_PATH};
pub use p1::poll::MAX_SUBSCRIPTIONS;
pub use stdio::{Capture, Output, Stdin};

/// Host state that holds a [`WasiCtx`].
pub trait WasiView {
    /// The guest's WASI state.
    fn wasi(&mut self) -> &mut WasiCtx;
}

impl WasiView for WasiCtx {
    fn wasi(&mut self) -> &mut WasiCtx {
        self
    }
}

/// The capabilities that gate the imports, by family. A host grants them
/// with [`Capabilities::grant`](anywasm_core::Capabilities::grant); what a
/// granted function can then reach is decided by the [`WasiCtx`].
pub mod capability {
    /// `args_get`, `args_sizes_get`.
    pub const ARGS: &str = "wasi:args";
    /// `environ_get`, `environ_sizes_get`.
    pub const ENV: &str = "wasi:env";
    /// `clock_res_get`, `clock_time_get`, `poll_oneoff`.
    pub const CLOCK: &str = "wasi:clock";
    /// `random_get`.
    pub const RANDOM: &str = "wasi:random";
    /// `proc_exit`, `proc_raise`, `sched_yield`.
    pub const PROC: &str = "wasi:proc";
    /// The `fd_*` calls on open descriptors: reading, writing, seeking,
    /// closing and describing stdio and opened files.
    pub const FD: &str = "wasi:fd";
    /// Files by path: `path_*`, `fd_prestat_*`, `fd_readdir`.
    pub const FS: &str = "wasi:fs";
    /// `sock_*` (which reach nothing).
    pub const SOCKETS: &str = "wasi:sockets";
    /// Every capability above.
    pub const ALL: [&str; 8] = [ARGS, ENV, CLOCK, RANDOM, PROC, FD, FS, SOCKETS];
}
