//! Typed wrappers for the host services of the plugin manager
//! (`anywasm-plugin`). Each is imported only if the plugin calls it, and
//! each needs its capability listed in the plugin's manifest and granted
//! by the host: otherwise the plugin fails to load.
//!
//! Subscribing: list topics in the manifest's `subscribes` and export
//! `fn on_message((topic, payload): (String, Vec<u8>))`.
//!
//! Calling another plugin: [`call`] (capability `plugins:<name>` for each
//! plugin called; the host refuses a call that would loop back to a plugin
//! already in the chain, or a chain of more than 8 plugins).

use alloc::string::String;
use alloc::vec::Vec;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::GuestError;

/// An already-encoded message, sent as one byte string (the wire form of a
/// `Vec<u8>`, written in one piece rather than byte by byte).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encoded(pub Vec<u8>);

impl Serialize for Encoded {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

/// Call the entry point `function` of the plugin named `plugin` with a
/// typed request, through the host (capability `plugins:<plugin>`): the
/// callee runs with its own limits, in its own instance; its guest error
/// or failure comes back as this call's error, naming it.
pub fn call<Req, Resp>(plugin: &str, function: &str, request: &Req) -> Result<Resp, GuestError>
where
    Req: Serialize + ?Sized,
    Resp: DeserializeOwned,
{
    let encoded = crate::abi::encode(request).map_err(|e| GuestError::new(e.message()))?;
    let response = call_plugin(&(plugin.into(), function.into(), Encoded(encoded)))?;
    crate::abi::decode(&response, crate::MAX_MESSAGE_CAP).map_err(|e| {
        GuestError::new(alloc::format!(
            "plugin `{plugin}`, `{function}`: the response {}",
            e.message()
        ))
    })
}

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
    /// Call `(plugin, function, encoded request)` through the host,
    /// answering the callee's encoded response: what [`call`] does with
    /// typed messages (capability `plugins:<plugin>`, checked per call).
    pub fn call_plugin(call: (String, String, Encoded)) -> Vec<u8>;
}
