//! Registering preview 1 with a [`Linker`]: every function, its signature
//! and the capability a guest must be granted to import it.

use anywasm_core::{Caller, FuncType, HostError, Linker, Val, ValType};

use crate::abi::Errno;
use crate::{WasiView, capability, p1};

/// The import module of every preview 1 function.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// The arguments of a call, as the unsigned values the ABI means.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Args<'a>(&'a [Val]);

impl Args<'_> {
    pub(crate) fn u32(&self, i: usize) -> u32 {
        self.0.get(i).and_then(Val::as_i32).unwrap_or(0) as u32
    }

    pub(crate) fn u64(&self, i: usize) -> u64 {
        self.0.get(i).and_then(Val::as_i64).unwrap_or(0) as u64
    }
}

/// A preview 1 function body: read the arguments, return an errno.
pub(crate) type Sys<T> = fn(&mut dyn Caller<T>, Args<'_>) -> Result<(), Errno>;

use ValType::{I32, I64};

/// One table row: name, capability, parameters, body.
type Row<T> = (&'static str, &'static str, &'static [ValType], Sys<T>);

/// Every function but `proc_exit`.
fn functions<T: WasiView>() -> Vec<Row<T>> {
    use capability::*;
    vec![
        ("args_get", ARGS, &[I32, I32], p1::misc::args_get),
        (
            "args_sizes_get",
            ARGS,
            &[I32, I32],
            p1::misc::args_sizes_get,
        ),
        ("environ_get", ENV, &[I32, I32], p1::misc::environ_get),
        (
            "environ_sizes_get",
            ENV,
            &[I32, I32],
            p1::misc::environ_sizes_get,
        ),
        ("clock_res_get", CLOCK, &[I32, I32], p1::misc::clock_res_get),
        (
            "clock_time_get",
            CLOCK,
            &[I32, I64, I32],
            p1::misc::clock_time_get,
        ),
        (
            "poll_oneoff",
            CLOCK,
            &[I32, I32, I32, I32],
            p1::poll::poll_oneoff,
        ),
        ("random_get", RANDOM, &[I32, I32], p1::misc::random_get),
        ("sched_yield", PROC, &[], p1::misc::sched_yield),
        ("proc_raise", PROC, &[I32], p1::misc::proc_raise),
        ("fd_advise", FD, &[I32, I64, I64, I32], p1::fd::advise),
        ("fd_allocate", FD, &[I32, I64, I64], p1::fd::allocate),
        ("fd_close", FD, &[I32], p1::fd::close),
        ("fd_datasync", FD, &[I32], p1::fd::datasync),
        ("fd_fdstat_get", FD, &[I32, I32], p1::fd::fdstat_get),
        (
            "fd_fdstat_set_flags",
            FD,
            &[I32, I32],
            p1::fd::fdstat_set_flags,
        ),
        (
            "fd_fdstat_set_rights",
            FD,
            &[I32, I64, I64],
            p1::fd::fdstat_set_rights,
        ),
        ("fd_filestat_get", FD, &[I32, I32], p1::fd::filestat_get),
        (
            "fd_filestat_set_size",
            FD,
            &[I32, I64],
            p1::fd::filestat_set_size,
        ),
        (
            "fd_filestat_set_times",
            FD,
            &[I32, I64, I64, I32],
            p1::fd::filestat_set_times,
        ),
        ("fd_pread", FD, &[I32, I32, I32, I64, I32], p1::fd::pread),
        ("fd_pwrite", FD, &[I32, I32, I32, I64, I32], p1::fd::pwrite),
        ("fd_read", FD, &[I32, I32, I32, I32], p1::fd::read),
        ("fd_write", FD, &[I32, I32, I32, I32], p1::fd::write),
        ("fd_renumber", FD, &[I32, I32], p1::fd::renumber),
        ("fd_seek", FD, &[I32, I64, I32, I32], p1::fd::seek),
        ("fd_sync", FD, &[I32], p1::fd::sync),
        ("fd_tell", FD, &[I32, I32], p1::fd::tell),
        ("fd_prestat_get", FS, &[I32, I32], p1::dir::prestat_get),
        (
            "fd_prestat_dir_name",
            FS,
            &[I32, I32, I32],
            p1::dir::prestat_dir_name,
        ),
        (
            "fd_readdir",
            FS,
            &[I32, I32, I32, I64, I32],
            p1::dir::readdir,
        ),
        (
            "path_create_directory",
            FS,
            &[I32, I32, I32],
            p1::path::create_directory,
        ),
        (
            "path_filestat_get",
            FS,
            &[I32, I32, I32, I32, I32],
            p1::path::filestat_get,
        ),
        (
            "path_filestat_set_times",
            FS,
            &[I32, I32, I32, I32, I64, I64, I32],
            p1::path::filestat_set_times,
        ),
        (
            "path_link",
            FS,
            &[I32, I32, I32, I32, I32, I32, I32],
            p1::path::link,
        ),
        (
            "path_open",
            FS,
            &[I32, I32, I32, I32, I32, I64, I64, I32, I32],
            p1::path::open,
        ),
        (
            "path_readlink",
            FS,
            &[I32, I32, I32, I32, I32, I32],
            p1::path::readlink,
        ),
        (
            "path_remove_directory",
            FS,
            &[I32, I32, I32],
            p1::path::remove_directory,
        ),
        (
            "path_rename",
            FS,
            &[I32, I32, I32, I32, I32, I32],
            p1::path::rename,
        ),
        (
            "path_symlink",
            FS,
            &[I32, I32, I32, I32, I32],
            p1::path::symlink,
        ),
        (
            "path_unlink_file",
            FS,
            &[I32, I32, I32],
            p1::path::unlink_file,
        ),
        (
            "sock_accept",
            SOCKETS,
            &[I32, I32, I32],
            p1::misc::sock_accept,
        ),
        (
            "sock_recv",
            SOCKETS,
            &[I32, I32, I32, I32, I32, I32],
            p1::misc::sock_recv,
        ),
        (
            "sock_send",
            SOCKETS,
            &[I32, I32, I32, I32, I32],
            p1::misc::sock_send,
        ),
        (
            "sock_shutdown",
            SOCKETS,
            &[I32, I32],
            p1::misc::sock_shutdown,
        ),
    ]
}

/// Define all 46 `wasi_snapshot_preview1` functions in `linker`, each
/// behind its capability (see [`capability`]), for host state `T` that
/// holds a [`WasiCtx`](crate::WasiCtx).
///
/// A guest importing a function whose capability was not granted fails
/// [`check_capabilities`](anywasm_core::check_capabilities) at load, naming
/// the capability. What a granted function may then reach is what the
/// [`WasiCtx`](crate::WasiCtx) grants.
pub fn add_to_linker<T: WasiView + 'static>(linker: &mut Linker<T>) {
    for (name, cap, params, body) in functions::<T>() {
        linker.func_with_capability(
            MODULE,
            name,
            FuncType::new(params.iter().copied(), [I32]),
            cap,
            move |caller: &mut dyn Caller<T>, args: &[Val], results: &mut [Val]| {
                let errno = match body(caller, Args(args)) {
                    Ok(()) => Errno::SUCCESS,
                    Err(e) => e,
                };
                results[0] = Val::I32(i32::from(errno.0));
                Ok(())
            },
        );
    }
    linker.func_with_capability(
        MODULE,
        "proc_exit",
        FuncType::new([I32], []),
        capability::PROC,
        |_: &mut dyn Caller<T>, args: &[Val], _: &mut [Val]| Err(p1::misc::proc_exit(Args(args))),
    );
}

/// Every preview 1 function: its name, signature and capability, in a
/// stable order (for tools that generate imports or check modules).
pub fn signatures() -> Vec<(&'static str, FuncType, &'static str)> {
    let mut out: Vec<_> = functions::<NoState>()
        .into_iter()
        .map(|(name, cap, params, _)| (name, FuncType::new(params.iter().copied(), [I32]), cap))
        .collect();
    out.push(("proc_exit", FuncType::new([I32], []), capability::PROC));
    out
}

/// A host state type for reading the function table; its bodies are
/// never called.
struct NoState(crate::WasiCtx);

impl WasiView for NoState {
    fn wasi(&mut self) -> &mut crate::WasiCtx {
        &mut self.0
    }
}

/// The capability that gates the import `name` of
/// [`MODULE`], if it is a preview 1 function.
pub fn capability_of(name: &str) -> Option<&'static str> {
    signatures()
        .into_iter()
        .find(|(n, ..)| *n == name)
        .map(|(.., cap)| cap)
}

/// The `proc_exit` outcome for `status`: an exit for statuses below 126,
/// a trap for larger ones (126 and up mean "could not run" to shells, as in
/// wasmtime).
pub(crate) fn exit_outcome(status: u32) -> HostError {
    if status < 126 {
        HostError::exit(status)
    } else {
        HostError::new(format!(
            "proc_exit({status}): exit statuses of 126 and above are not valid"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_has_one_signature_and_a_capability() {
        let sigs = signatures();
        assert_eq!(sigs.len(), 46);
        let mut names: Vec<_> = sigs.iter().map(|(n, ..)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 46, "duplicate names");
        assert_eq!(capability_of("fd_write"), Some(capability::FD));
        assert_eq!(capability_of("path_open"), Some(capability::FS));
        assert_eq!(capability_of("proc_exit"), Some(capability::PROC));
        assert_eq!(capability_of("no_such_function"), None);
    }

    #[test]
    fn large_exit_statuses_trap() {
        assert_eq!(exit_outcome(125).exit_code(), Some(125));
        assert_eq!(exit_outcome(126).exit_code(), None);
    }
}
