//! Arguments, environment, clocks, randomness, process control and sockets.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anywasm_core::{Caller, HostError};

use crate::abi::{Errno, clockid};
use crate::link::{Args, exit_outcome};
use crate::table::Desc;
use crate::{WasiCtx, WasiView, mem};

/// Most bytes one `random_get` fills; a larger request is `EINVAL` only if
/// it lies outside memory, otherwise it is filled in pieces of this size.
const RANDOM_CHUNK: usize = 64 << 10;

fn ctx<T: WasiView>(c: &mut dyn Caller<T>) -> &mut WasiCtx {
    c.data_mut().wasi()
}

fn sizes<T>(
    c: &mut dyn Caller<T>,
    items: &[Vec<u8>],
    count_ptr: u32,
    size_ptr: u32,
) -> Result<(), Errno> {
    let bytes: usize = items.iter().map(|s| s.len() + 1).sum();
    let count = u32::try_from(items.len()).map_err(|_| Errno::OVERFLOW)?;
    let bytes = u32::try_from(bytes).map_err(|_| Errno::OVERFLOW)?;
    mem::write_u32(c, count_ptr, count)?;
    mem::write_u32(c, size_ptr, bytes)
}

pub(crate) fn args_get<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let items = ctx(c).args.clone();
    mem::write_strings(c, &items, a.u32(0), a.u32(1))
}

pub(crate) fn args_sizes_get<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let items = ctx(c).args.clone();
    sizes(c, &items, a.u32(0), a.u32(1))
}

pub(crate) fn environ_get<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let items = ctx(c).env.clone();
    mem::write_strings(c, &items, a.u32(0), a.u32(1))
}

pub(crate) fn environ_sizes_get<T: WasiView>(
    c: &mut dyn Caller<T>,
    a: Args<'_>,
) -> Result<(), Errno> {
    let items = ctx(c).env.clone();
    sizes(c, &items, a.u32(0), a.u32(1))
}

/// Nanoseconds on clock `id`: `EBADF` for the CPU-time clocks (which this
/// implementation does not offer) and unknown ids, `ENOTCAPABLE` when clocks
/// were not granted.
pub(crate) fn now(ctx: &WasiCtx, id: u32) -> Result<u64, Errno> {
    match id {
        clockid::REALTIME | clockid::MONOTONIC if !ctx.clocks => Err(Errno::NOTCAPABLE),
        clockid::REALTIME => {
            let d = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO);
            Ok(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        }
        // Monotonic time counts from the context's creation: it never
        // reveals the host's uptime.
        clockid::MONOTONIC => Ok(u64::try_from(ctx.start.elapsed().as_nanos()).unwrap_or(u64::MAX)),
        _ => Err(Errno::BADF),
    }
}

pub(crate) fn clock_res_get<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    now(ctx(c), a.u32(0))?;
    mem::write_u64(c, a.u32(1), 1)
}

pub(crate) fn clock_time_get<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let t = now(ctx(c), a.u32(0))?;
    mem::write_u64(c, a.u32(2), t)
}

pub(crate) fn random_get<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let (ptr, len) = (a.u32(0), a.u32(1));
    if c.memory_size()
        .is_none_or(|size| u64::from(ptr) + u64::from(len) > size)
    {
        return Err(Errno::FAULT);
    }
    let mut buf = vec![0u8; (len as usize).min(RANDOM_CHUNK)];
    let mut done = 0u32;
    while done < len {
        let n = ((len - done) as usize).min(buf.len());
        ctx(c).fill_random(&mut buf[..n])?;
        mem::write(c, ptr + done, &buf[..n])?;
        done += n as u32;
    }
    Ok(())
}

pub(crate) fn sched_yield<T: WasiView>(_: &mut dyn Caller<T>, _: Args<'_>) -> Result<(), Errno> {
    std::thread::yield_now();
    Ok(())
}

/// Signals are not delivered to guests.
pub(crate) fn proc_raise<T: WasiView>(_: &mut dyn Caller<T>, _: Args<'_>) -> Result<(), Errno> {
    Err(Errno::NOTSUP)
}

pub(crate) fn proc_exit(a: Args<'_>) -> HostError {
    exit_outcome(a.u32(0))
}

/// No socket is ever reachable: a descriptor that exists is `ENOTSOCK`,
/// one that does not is `EBADF`.
fn not_a_socket<T: WasiView>(c: &mut dyn Caller<T>, fd: u32) -> Result<(), Errno> {
    match ctx(c).table.get(fd)? {
        Desc::Stdin(_) | Desc::Output(_) | Desc::File(_) | Desc::Dir(_) => Err(Errno::NOTSOCK),
    }
}

pub(crate) fn sock_accept<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    not_a_socket(c, a.u32(0))
}

pub(crate) fn sock_recv<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    not_a_socket(c, a.u32(0))
}

pub(crate) fn sock_send<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    not_a_socket(c, a.u32(0))
}

pub(crate) fn sock_shutdown<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    not_a_socket(c, a.u32(0))
}
