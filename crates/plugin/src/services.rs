//! Host services offered to plugins, each behind a capability (denied unless
//! the manifest asks for it *and* the host's policy grants it). All are ABI
//! host functions in module `anywasm` (docs/abi.md §6):
//!
//! | import | capability | request | response |
//! |---|---|---|---|
//! | `log` | `log` | `String` | `()` (into `tracing`, target `anywasm_plugin::guest`, field `plugin`) |
//! | `clock` | `clock` | `()` | `u64`, milliseconds since the Unix epoch |
//! | `random` | `random` | `u32` n (at most 64 KiB) | `Vec<u8>` of n random bytes |
//! | `kv_get` | `kv` | `String` key | `Option<Vec<u8>>` |
//! | `kv_set` | `kv` | `(String, Vec<u8>)` | `()` |
//! | `kv_delete` | `kv` | `String` key | `bool`, whether it existed |
//! | `publish` | `pubsub` | `(String topic, Vec<u8> payload)` | `()` |
//!
//! A plugin that lists a topic in its manifest's `subscribes` receives each
//! message published to it through its `on_message` export, with the request
//! `(String topic, Vec<u8> payload)`. Delivery is asynchronous (a publish
//! returns before subscribers run), so a plugin may publish to itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anywasm::abi::DEFAULT_MESSAGE_CAP;
use anywasm::wasi::{WasiCtx, WasiView};
use anywasm::{HostError, Linker};
use tokio::sync::mpsc::UnboundedSender;

/// Storage behind the `kv` capability. Keys are namespaced by the manager:
/// every method gets the calling plugin's name, and a plugin can name only
/// its own keys.
pub trait KvStore: Send + Sync + 'static {
    /// The value of `key` in `plugin`'s namespace.
    fn get(&self, plugin: &str, key: &str) -> Option<Vec<u8>>;
    /// Set `key` in `plugin`'s namespace.
    fn set(&self, plugin: &str, key: &str, value: Vec<u8>);
    /// Remove `key` from `plugin`'s namespace; whether it existed.
    fn delete(&self, plugin: &str, key: &str) -> bool;
}

/// The default [`KvStore`]: in memory, lost when the manager is dropped.
#[derive(Debug, Default)]
pub struct MemoryKv {
    map: Mutex<HashMap<(String, String), Vec<u8>>>,
}

impl MemoryKv {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Vec<u8>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl KvStore for MemoryKv {
    fn get(&self, plugin: &str, key: &str) -> Option<Vec<u8>> {
        self.map().get(&(plugin.into(), key.into())).cloned()
    }

    fn set(&self, plugin: &str, key: &str, value: Vec<u8>) {
        self.map().insert((plugin.into(), key.into()), value);
    }

    fn delete(&self, plugin: &str, key: &str) -> bool {
        self.map().remove(&(plugin.into(), key.into())).is_some()
    }
}

/// A published message on its way to subscribers.
#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub(crate) from: String,
    pub(crate) topic: String,
    pub(crate) payload: Vec<u8>,
}

/// Shared by every store of a manager.
pub(crate) struct Services {
    pub(crate) kv: Arc<dyn KvStore>,
    pub(crate) bus: UnboundedSender<Message>,
}

/// The host state of every plugin store: which plugin it is, the
/// manager's services, and the plugin's WASI context (everything denied
/// unless granted).
pub struct HostCtx {
    plugin: Arc<str>,
    services: Arc<Services>,
    wasi: WasiCtx,
}

impl std::fmt::Debug for HostCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCtx")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

impl HostCtx {
    pub(crate) fn new(plugin: &str, services: Arc<Services>, wasi: WasiCtx) -> Self {
        Self {
            plugin: plugin.into(),
            services,
            wasi,
        }
    }

    /// The name of the plugin this store belongs to.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }
}

impl WasiView for HostCtx {
    fn wasi(&mut self) -> &mut WasiCtx {
        &mut self.wasi
    }
}

/// Largest `random` request.
pub const MAX_RANDOM_BYTES: u32 = 64 << 10;

/// Define every host service in `linker`, and WASI preview 1 (each
/// function behind its `wasi:*` capability).
pub(crate) fn install(linker: &mut Linker<HostCtx>) {
    anywasm::wasi::add_to_linker(linker);
    let cap = DEFAULT_MESSAGE_CAP;
    linker.abi_func("log", "log", cap, |caller, line: String| {
        let plugin = caller.data().plugin.clone();
        tracing::info!(target: "anywasm_plugin::guest", plugin = %plugin, "{line}");
        Ok(())
    });
    linker.abi_func("clock", "clock", cap, |_, (): ()| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| HostError::new(e.to_string()))?;
        Ok(now.as_millis() as u64)
    });
    linker.abi_func("random", "random", cap, |_, n: u32| {
        if n > MAX_RANDOM_BYTES {
            return Err(HostError::new(format!(
                "at most {MAX_RANDOM_BYTES} random bytes per call, asked for {n}"
            )));
        }
        let mut bytes = vec![0u8; n as usize];
        getrandom::fill(&mut bytes).map_err(|e| HostError::new(e.to_string()))?;
        Ok(bytes)
    });
    linker.abi_func("kv_get", "kv", cap, |caller, key: String| {
        let ctx = caller.data();
        Ok(ctx.services.kv.get(&ctx.plugin, &key))
    });
    linker.abi_func(
        "kv_set",
        "kv",
        cap,
        |caller, (key, value): (String, Vec<u8>)| {
            let ctx = caller.data();
            ctx.services.kv.set(&ctx.plugin, &key, value);
            Ok(())
        },
    );
    linker.abi_func("kv_delete", "kv", cap, |caller, key: String| {
        let ctx = caller.data();
        Ok(ctx.services.kv.delete(&ctx.plugin, &key))
    });
    linker.abi_func(
        "publish",
        "pubsub",
        cap,
        |caller, (topic, payload): (String, Vec<u8>)| {
            let ctx = caller.data();
            ctx.services
                .bus
                .send(Message {
                    from: ctx.plugin.to_string(),
                    topic,
                    payload,
                })
                .map_err(|_| HostError::new("the plugin manager is shutting down"))
        },
    );
}
