//! Deterministic sources for the plugin manager's host services, so a test
//! gets the same answer every run: a clock stopped at a fixed time, random
//! bytes from a seed, and a log it can read back.
//!
//! The host functions themselves are the manager's own
//! (`anywasm_plugin::define_services`); only where their data comes from
//! is replaced.

use std::sync::{Arc, Mutex};

use anywasm::HostError;
use anywasm_plugin::{Clock, Entropy, LogSink};

/// The time the clock shows unless a test sets another:
/// 2023-11-14T22:13:20Z, in milliseconds since the Unix epoch.
pub const FIXED_TIME_MS: u64 = 1_700_000_000_000;

/// A clock that always shows the same time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedClock(pub u64);

impl Clock for FixedClock {
    fn now_ms(&self) -> Result<u64, HostError> {
        Ok(self.0)
    }
}

/// Random bytes from a seed: the same seed gives the same bytes, in the
/// same order, on every engine and every run. Not for anything but tests
/// (it is SplitMix64, not a cryptographic generator).
#[derive(Debug)]
pub struct SeededEntropy {
    state: Mutex<u64>,
}

impl SeededEntropy {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: Mutex::new(seed),
        }
    }

    fn next(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), HostError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for chunk in buf.chunks_mut(8) {
            let word = Self::next(&mut state).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

/// Keeps every line plugins log, for the test to read.
#[derive(Clone, Debug, Default)]
pub struct CapturedLog {
    lines: Arc<Mutex<Vec<String>>>,
}

impl CapturedLog {
    /// The lines logged so far, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl LogSink for CapturedLog {
    fn log(&self, _plugin: &str, line: &str) {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes() {
        let (mut a, mut b, mut c) = ([0u8; 20], [0u8; 20], [0u8; 20]);
        SeededEntropy::new(1).fill(&mut a).unwrap();
        SeededEntropy::new(1).fill(&mut b).unwrap();
        SeededEntropy::new(2).fill(&mut c).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a[..8], a[8..16], "successive words differ");
    }

    #[test]
    fn log_lines_are_kept_in_order() {
        let log = CapturedLog::default();
        log.log("p", "one");
        log.clone().log("p", "two");
        assert_eq!(log.lines(), ["one", "two"]);
    }
}
