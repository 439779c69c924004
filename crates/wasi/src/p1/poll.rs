//! `poll_oneoff`: waiting for clocks and descriptors.
//!
//! Files and directories are always ready (reads and writes on them do not
//! block); discarded, captured and traced output is always writable; empty
//! or byte stdin is always readable. Only an inherited stdin can make a poll
//! wait, and a clock subscription bounds the wait. No wait is ever longer
//! than the running call's remaining time ([`Caller::remaining_time`]): at
//! the deadline the poll returns and the engine stops the guest with
//! `Trap(Timeout)` as soon as it runs again.

use std::time::Duration;

use anywasm_core::Caller;

use crate::abi::{
    EVENT_FD_READWRITE_HANGUP, EVENT_SIZE, Errno, SUBCLOCK_ABSTIME, SUBSCRIPTION_SIZE,
    Subscription, SubscriptionKind, clockid, event, eventtype,
};
use crate::link::Args;
use crate::table::Desc;
use crate::{WasiView, mem};

/// Most subscriptions one poll takes (more is `EINVAL`).
pub const MAX_SUBSCRIPTIONS: u32 = 4096;

pub(crate) fn poll_oneoff<T: WasiView>(c: &mut dyn Caller<T>, a: Args<'_>) -> Result<(), Errno> {
    let (input, output, count, out) = (a.u32(0), a.u32(1), a.u32(2), a.u32(3));
    if count == 0 || count > MAX_SUBSCRIPTIONS {
        return Err(Errno::INVAL);
    }
    let raw = mem::read_vec(c, input, count * SUBSCRIPTION_SIZE as u32)?;
    let subs = raw
        .chunks_exact(SUBSCRIPTION_SIZE)
        .map(Subscription::decode)
        .collect::<Result<Vec<_>, _>>()?;
    // The output array must be writable before anything happens.
    if c.memory_size()
        .is_none_or(|size| u64::from(output) + u64::from(count) * EVENT_SIZE as u64 > size)
    {
        return Err(Errno::FAULT);
    }
    let budget = c.remaining_time();
    let cx = c.data_mut().wasi();

    // The earliest clock deadline, relative to now.
    let mut timeout: Option<(Duration, u64)> = None;
    for s in &subs {
        if let SubscriptionKind::Clock {
            id,
            timeout: t,
            flags,
        } = s.kind
        {
            let now = match id {
                clockid::REALTIME | clockid::MONOTONIC => crate::p1::misc::now(cx, id)?,
                _ => return Err(Errno::INVAL),
            };
            let wait = if flags & SUBCLOCK_ABSTIME != 0 {
                t.saturating_sub(now)
            } else {
                t
            };
            let wait = Duration::from_nanos(wait);
            if timeout.is_none_or(|(w, _)| wait < w) {
                timeout = Some((wait, s.userdata));
            }
        }
    }

    // Descriptors that are ready now; an unknown or unpollable one fails
    // the whole call, as in wasmtime.
    let mut events = Vec::new();
    let mut stdin_waits = false;
    for s in &subs {
        match s.kind {
            SubscriptionKind::Read(fd) => match cx.table.get(fd)? {
                Desc::File(f) => {
                    let size = f.file.metadata().map_err(Errno::from)?.len();
                    let left = size.saturating_sub(f.pos);
                    let flags = if left == 0 {
                        EVENT_FD_READWRITE_HANGUP
                    } else {
                        0
                    };
                    events.push(event(
                        s.userdata,
                        Errno::SUCCESS,
                        eventtype::FD_READ,
                        left,
                        flags,
                    ));
                }
                Desc::Stdin(i) => {
                    if i.ready(Some(Duration::ZERO))? {
                        events.push(event(s.userdata, Errno::SUCCESS, eventtype::FD_READ, 0, 0));
                    } else {
                        stdin_waits = true;
                    }
                }
                _ => return Err(Errno::BADF),
            },
            SubscriptionKind::Write(fd) => match cx.table.get(fd)? {
                Desc::File(_) | Desc::Output(_) => {
                    events.push(event(s.userdata, Errno::SUCCESS, eventtype::FD_WRITE, 0, 0));
                }
                _ => return Err(Errno::BADF),
            },
            SubscriptionKind::Clock { .. } => {}
        }
    }

    if events.is_empty() {
        let wait = match (timeout, budget) {
            (Some((w, _)), Some(b)) => Some(w.min(b)),
            (Some((w, _)), None) => Some(w),
            (None, b) => b,
        };
        let mut stdin_ready = false;
        if stdin_waits {
            let fd_sub = subs.iter().find(|s| {
                matches!(s.kind, SubscriptionKind::Read(fd) if matches!(cx.table.get(fd), Ok(Desc::Stdin(_))))
            });
            if let Some(s) = fd_sub
                && let SubscriptionKind::Read(fd) = s.kind
                && let Desc::Stdin(i) = cx.table.get(fd)?
            {
                stdin_ready = i.ready(wait)?;
            }
            if stdin_ready {
                for s in &subs {
                    if let SubscriptionKind::Read(fd) = s.kind
                        && matches!(cx.table.get(fd), Ok(Desc::Stdin(_)))
                    {
                        events.push(event(s.userdata, Errno::SUCCESS, eventtype::FD_READ, 0, 0));
                    }
                }
            }
        } else if let Some(w) = wait {
            std::thread::sleep(w);
        } else {
            // Nothing could ever become ready and nothing bounds the wait.
            return Err(Errno::INVAL);
        }
        if !stdin_ready && let Some((_, userdata)) = timeout {
            events.push(event(userdata, Errno::SUCCESS, eventtype::CLOCK, 0, 0));
        }
    }

    let bytes: Vec<u8> = events.iter().flatten().copied().collect();
    mem::write(c, output, &bytes)?;
    mem::write_u32(c, out, events.len() as u32)
}
