//! Typed wrappers for the host services of the plugin manager
//! (`anywasm-plugin`). Each is imported only if the plugin calls it, and
//! each needs its capability listed in the plugin's manifest and granted
//! by the host: otherwise the plugin fails to load.
//!
//! Subscribing: list topics in the manifest's `subscribes` and export
//! `fn on_message((topic, payload): (String, Vec<u8>))`.

use alloc::string::String;
use alloc::vec::Vec;

crate::host_fn! {
    /// Log a line into the host's `tracing`, tagged with the plugin's name
    /// (capability `log`).
    pub fn log(line: String);
    /// Milliseconds since the Unix epoch (capability `clock`).
    pub fn clock(req: ()) -> u64;
    /// `n` random bytes, at most 64 KiB (capability `random`).
    pub fn random(n: u32) -> Vec<u8>;
    /// The value of `key` in this plugin's key-value namespace (capability `kv`).
    pub fn kv_get(key: String) -> Option<Vec<u8>>;
    /// Set `(key, value)` in this plugin's namespace (capability `kv`); the
    /// host refuses a key over 1 KiB or a value over 1 MiB.
    pub fn kv_set(entry: (String, Vec<u8>));
    /// Remove `key`; whether it existed (capability `kv`).
    pub fn kv_delete(key: String) -> bool;
    /// Publish `(topic, payload)` to subscribed plugins (capability `pubsub`).
    pub fn publish(message: (String, Vec<u8>));
}
