//! Per-plugin call metrics: counts, errors by kind, latency percentiles over
//! a window of recent calls, fuel used and peak memory.
//!
//! Latency is kept as the last [`WINDOW`] samples in a ring; percentiles sort
//! a copy when asked (cheap at this size, and nothing sorts on the call path).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Number of recent calls the latency percentiles are computed over.
pub const WINDOW: usize = 1024;

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    calls: AtomicU64,
    fuel_used: AtomicU64,
    peak_memory: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    errors: BTreeMap<String, u64>,
    latencies_us: Vec<u64>,
    next: usize,
}

/// A snapshot of a plugin's metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Calls made (successful or not).
    pub calls: u64,
    /// Failed calls, by error kind (`trap: unreachable executed`, `guest error`, ...).
    pub errors: BTreeMap<String, u64>,
    /// Median latency over the recent window.
    pub p50: Duration,
    /// 99th percentile latency over the recent window.
    pub p99: Duration,
    /// Fuel used by all calls (0 when the engine does not meter fuel).
    pub fuel_used: u64,
    /// Largest linear memory seen after a call, bytes.
    pub peak_memory_bytes: u64,
}

impl Metrics {
    pub(crate) fn record(
        &self,
        latency: Duration,
        error: Option<String>,
        fuel: u64,
        memory: Option<u64>,
    ) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.fuel_used.fetch_add(fuel, Ordering::Relaxed);
        if let Some(m) = memory {
            self.peak_memory.fetch_max(m, Ordering::Relaxed);
        }
        let us = latency.as_micros().min(u128::from(u64::MAX)) as u64;
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(kind) = error {
            *inner.errors.entry(kind).or_default() += 1;
        }
        if inner.latencies_us.len() < WINDOW {
            inner.latencies_us.push(us);
        } else {
            let i = inner.next;
            inner.latencies_us[i] = us;
        }
        inner.next = (inner.next + 1) % WINDOW;
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut sorted = inner.latencies_us.clone();
        let errors = inner.errors.clone();
        drop(inner);
        sorted.sort_unstable();
        let pct = |p: usize| {
            if sorted.is_empty() {
                Duration::ZERO
            } else {
                Duration::from_micros(sorted[(sorted.len() - 1) * p / 100])
            }
        };
        MetricsSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            errors,
            p50: pct(50),
            p99: pct(99),
            fuel_used: self.fuel_used.load(Ordering::Relaxed),
            peak_memory_bytes: self.peak_memory.load(Ordering::Relaxed),
        }
    }
}
