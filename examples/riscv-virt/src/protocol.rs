//! The messages the firmware and its plugin exchange. They are serde types,
//! so they travel through the anywasm ABI as bincode; this one file is
//! compiled into both sides (the plugin includes it with `#[path]`), so the
//! two cannot drift apart.

use serde::{Deserialize, Serialize};

/// Statistics over a window of temperature readings, in milli-degrees Celsius.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Readings in the window.
    pub count: u32,
    /// The lowest reading.
    pub min: i32,
    /// The highest reading.
    pub max: i32,
    /// The mean, rounded towards zero.
    pub mean: i32,
}
