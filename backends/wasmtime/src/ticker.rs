//! The epoch ticker behind per-call timeouts.
//!
//! wasmtime interrupts guests by *epochs*: compiled code checks the engine's
//! epoch counter against the store's deadline at function entries and loop
//! headers. One thread per [`Engine`](crate::Engine) (created only when
//! timeouts are enabled) increments the epoch once per elapsed millisecond,
//! but only while at least one call with a deadline is running: otherwise it
//! parks, so an idle engine costs no wake-ups. The thread is stopped and
//! joined when the last clone of the engine (stores hold one) is dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// One epoch tick.
pub(crate) const TICK: Duration = Duration::from_millis(1);

#[derive(Debug, Default)]
struct Shared {
    /// Calls with a deadline currently running.
    active: AtomicUsize,
    stop: AtomicBool,
}

/// Owns the ticker thread.
#[derive(Debug)]
pub(crate) struct Ticker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Spawn the (initially parked) ticker thread for `engine`.
    pub(crate) fn start(engine: wasmtime::Engine) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("anywasm-wasmtime-epoch".into())
            .spawn(move || run(&engine, &s))?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Mark a call with a deadline as running until the guard drops.
    pub(crate) fn activate(&self) -> Active<'_> {
        if self.shared.active.fetch_add(1, Ordering::SeqCst) == 0
            && let Some(t) = &self.thread
        {
            t.thread().unpark();
        }
        Active(&self.shared)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// A running call with a deadline (see [`Ticker::activate`]).
#[derive(Debug)]
pub(crate) struct Active<'a>(&'a Shared);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

fn run(engine: &wasmtime::Engine, shared: &Shared) {
    while !shared.stop.load(Ordering::SeqCst) {
        if shared.active.load(Ordering::SeqCst) == 0 {
            // `activate` unparks us; a token left by an unpark that raced
            // with this check makes `park` return at once.
            thread::park();
            continue;
        }
        // Tick by elapsed wall-clock time, so an oversleeping thread does
        // not stretch deadlines.
        let start = Instant::now();
        let mut emitted: u128 = 0;
        while shared.active.load(Ordering::SeqCst) > 0 && !shared.stop.load(Ordering::SeqCst) {
            thread::park_timeout(TICK);
            let due = start.elapsed().as_millis();
            while emitted < due {
                engine.increment_epoch();
                emitted += 1;
            }
        }
    }
}

/// Epoch ticks for a deadline of `timeout`: rounded up, plus one because the
/// current tick is already partly over.
pub(crate) fn ticks_for(timeout: Duration) -> u64 {
    let ms = timeout.as_nanos().div_ceil(TICK.as_nanos());
    u64::try_from(ms).unwrap_or(u64::MAX / 4).min(u64::MAX / 4) + 1
}

/// The deadline given to stores without a timeout: never reached, and far
/// from overflowing when wasmtime adds the current epoch to it.
pub(crate) const NO_DEADLINE: u64 = u64::MAX / 2;
