//! One watchdog thread per engine that interrupts calls past their deadline.
//!
//! `Store::call` registers `(deadline, interrupter)` and unregisters when the
//! call returns (a [`DeadlineGuard`]). The thread sleeps on a condition
//! variable until the earliest deadline, then interrupts that store with
//! wasmer's host interrupter (a `SIGUSR1` to the thread running it), which
//! makes the guest trap with `HostInterrupt`.
//!
//! wasmer's interrupt is best effort: a signal that lands while the thread is
//! not executing guest code (entering the call, inside a libcall) is recorded
//! but may not stop a loop entered afterwards. So a fired entry stays
//! registered and is re-signalled with a short back-off until the call
//! unregisters. A host function that is running when the deadline passes is
//! not interrupted; the call traps as soon as it returns to the guest.
//!
//! The thread starts with the first registration and is stopped and joined
//! when the engine's last clone (every store holds one) is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anywasm_core::{Error, ErrorKind};
use wasmer::Interrupter;

struct Entry {
    deadline: Instant,
    interrupter: Interrupter,
    fired: u32,
}

#[derive(Default)]
struct State {
    next_id: u64,
    entries: HashMap<u64, Entry>,
    shutdown: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The deadline queue and its (lazily started) thread.
#[derive(Default)]
pub(crate) struct Watchdog {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchdog").finish_non_exhaustive()
    }
}

/// Delay before re-signalling an entry that already fired `fired` times.
fn retry_after(fired: u32) -> Duration {
    Duration::from_millis((5u64 << fired.min(5)).min(100))
}

fn run(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if state.shutdown {
            return;
        }
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        for entry in state.entries.values_mut() {
            if entry.deadline <= now {
                entry.interrupter.interrupt();
                entry.deadline = now + retry_after(entry.fired);
                entry.fired = entry.fired.saturating_add(1);
            }
            next = Some(next.map_or(entry.deadline, |n| n.min(entry.deadline)));
        }
        state = match next {
            None => shared
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner),
            Some(t) => {
                shared
                    .wake
                    .wait_timeout(state, t.saturating_duration_since(now))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
    }
}

impl Watchdog {
    fn ensure_thread(&self) -> Result<(), Error> {
        let mut thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        if thread.is_none() {
            crate::signal::install();
            let shared = self.shared.clone();
            let handle = std::thread::Builder::new()
                .name("anywasm-wasmer-watchdog".into())
                .spawn(move || run(&shared))
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Engine,
                        format!("cannot start the timeout watchdog thread: {e}"),
                    )
                })?;
            *thread = Some(handle);
        }
        Ok(())
    }

    /// Interrupt `interrupter`'s store at `deadline` (and keep doing so)
    /// until the returned guard is dropped.
    pub(crate) fn register(
        &self,
        deadline: Instant,
        interrupter: Interrupter,
    ) -> Result<DeadlineGuard, Error> {
        self.ensure_thread()?;
        let mut state = self.shared.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.entries.insert(
            id,
            Entry {
                deadline,
                interrupter,
                fired: 0,
            },
        );
        drop(state);
        self.shared.wake.notify_one();
        Ok(DeadlineGuard {
            shared: self.shared.clone(),
            id,
        })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_one();
        let thread = self
            .thread
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// Unregisters a deadline when dropped.
pub(crate) struct DeadlineGuard {
    shared: Arc<Shared>,
    id: u64,
}

impl DeadlineGuard {
    /// Unregister the deadline; whether the watchdog signalled the call.
    ///
    /// The caller needs this because wasmer can misname the trap an
    /// interrupt causes: when `SIGUSR1` lands on an instruction that has a
    /// trap site of its own (a bounds-checked load, say), wasmer reports that
    /// site's trap code (`HeapAccessOutOfBounds`) instead of `HostInterrupt`
    /// (`get_trace_and_trapcode` prefers the pc's trap information over the
    /// signal's). A call the watchdog signalled that then traps timed out.
    pub(crate) fn finish(self) -> bool {
        self.shared
            .lock()
            .entries
            .remove(&self.id)
            .is_some_and(|entry| entry.fired > 0)
    }
}

impl Drop for DeadlineGuard {
    fn drop(&mut self) {
        // No wake-up needed: the thread tolerates entries disappearing.
        self.shared.lock().entries.remove(&self.id);
    }
}
