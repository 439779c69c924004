//! Host services offered to plugins, each behind a capability (denied unless
//! the manifest asks for it *and* the host's policy grants it). All are ABI
//! host functions in module `anywasm` (docs/abi.md §6):
//!
//! | import | capability | request | response |
//! |---|---|---|---|
//! | `log` | `log` | `String` | `()` (to the [`LogSink`]: `tracing` by default) |
//! | `clock` | `clock` | `()` | `u64`, milliseconds since the Unix epoch (the [`Clock`]) |
//! | `random` | `random` | `u32` n (at most 64 KiB) | `Vec<u8>` of n bytes (the [`Entropy`]) |
//! | `kv_get` | `kv` | `String` key (at most 1 KiB) | `Option<Vec<u8>>` (the [`KvStore`]) |
//! | `kv_set` | `kv` | `(String, Vec<u8>)`: key at most 1 KiB, value at most 1 MiB | `()`, once stored |
//! | `kv_delete` | `kv` | `String` key (at most 1 KiB) | `bool`, whether it existed |
//! | `publish` | `pubsub` | `(String topic, Vec<u8> payload)` | `()` |
//! | `call_plugin` | `plugins:<callee>`, checked per call | `(String callee, String function, bytes request)` | bytes: the callee's encoded response |
//!
//! Keys are at most [`MAX_KV_KEY_BYTES`](crate::MAX_KV_KEY_BYTES) (1 KiB)
//! and values at most [`MAX_KV_VALUE_BYTES`](crate::MAX_KV_VALUE_BYTES)
//! (1 MiB); the host functions refuse anything larger with a [`KvError`]
//! before the store is touched, so every store gets the caps. A store's own
//! failure reaches the guest as an error too.
//!
//! Where the data comes from is pluggable ([`HostServices`]): a host can
//! persist the key-value store ([`RedbKv`](crate::RedbKv)), and a test can
//! fix the clock, seed the random bytes and capture the log (`anywasm-test`
//! does) while the host functions themselves stay the ones the manager runs.
//!
//! A plugin that lists a topic in its manifest's `subscribes` receives each
//! message published to it through its `on_message` export, with the request
//! `(String topic, Vec<u8> payload)`. Delivery is asynchronous (a publish
//! returns before subscribers run), so a plugin may publish to itself.

use std::sync::{Arc, OnceLock, Weak};

use anywasm::wasi::{WasiCtx, WasiView};
use anywasm::{Capabilities, HostError, Linker};
use serde_bytes::ByteBuf;
use tokio::sync::mpsc::UnboundedSender;

use crate::kv::{KvError, KvStore, MemoryKv};
use crate::registry::Inner;

/// The time behind the `clock` capability.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> Result<u64, HostError>;
}

/// The default [`Clock`]: the system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Result<u64, HostError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| HostError::new(e.to_string()))?;
        Ok(now.as_millis() as u64)
    }
}

/// The bytes behind the `random` capability.
pub trait Entropy: Send + Sync + 'static {
    /// Fill `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]) -> Result<(), HostError>;
}

/// The default [`Entropy`]: the operating system's generator (`getrandom`).
#[derive(Clone, Copy, Debug, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), HostError> {
        getrandom::fill(buf).map_err(|e| HostError::new(e.to_string()))
    }
}

/// Where the `log` capability's lines go.
pub trait LogSink: Send + Sync + 'static {
    /// `plugin` logged `line`.
    fn log(&self, plugin: &str, line: &str);
}

/// The default [`LogSink`]: `tracing` at level INFO, target
/// `anywasm_plugin::guest`, with the plugin's name in the field `plugin`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingLog;

impl LogSink for TracingLog {
    fn log(&self, plugin: &str, line: &str) {
        tracing::info!(target: "anywasm_plugin::guest", plugin = %plugin, "{line}");
    }
}

/// A published message on its way to subscribers.
#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub(crate) from: String,
    pub(crate) topic: String,
    pub(crate) payload: Vec<u8>,
}

/// Where the host services get and put their data; shared by every store
/// of a manager (or of a test). Defaults: [`MemoryKv`], [`SystemClock`],
/// [`OsEntropy`], [`TracingLog`].
#[derive(Clone)]
pub struct HostServices {
    pub(crate) kv: Arc<dyn KvStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) entropy: Arc<dyn Entropy>,
    pub(crate) log: Arc<dyn LogSink>,
    /// The manager's pub/sub queue; without one, `publish` fails.
    pub(crate) bus: Option<UnboundedSender<Message>>,
    /// The manager serving `call_plugin`, set once it exists; without one,
    /// `call_plugin` fails.
    pub(crate) manager: OnceLock<Weak<Inner>>,
}

impl std::fmt::Debug for HostServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostServices")
            .field("pubsub", &self.bus.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for HostServices {
    fn default() -> Self {
        Self {
            kv: Arc::new(MemoryKv::default()),
            clock: Arc::new(SystemClock),
            entropy: Arc::new(OsEntropy),
            log: Arc::new(TracingLog),
            bus: None,
            manager: OnceLock::new(),
        }
    }
}

impl HostServices {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Storage behind `kv`.
    pub fn kv(mut self, store: Arc<dyn KvStore>) -> Self {
        self.kv = store;
        self
    }

    /// Time behind `clock`.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Bytes behind `random`.
    pub fn entropy(mut self, entropy: Arc<dyn Entropy>) -> Self {
        self.entropy = entropy;
        self
    }

    /// Destination of `log`.
    pub fn log(mut self, sink: Arc<dyn LogSink>) -> Self {
        self.log = sink;
        self
    }
}

/// The host state of every plugin store: which plugin it is, the services
/// behind its host imports, and the plugin's WASI context (everything denied
/// unless granted).
pub struct HostCtx {
    plugin: Arc<str>,
    services: Arc<HostServices>,
    wasi: WasiCtx,
    /// What the plugin was granted: `call_plugin` checks `plugins:<callee>`
    /// here on every call.
    granted: Capabilities,
    /// The plugins whose `call_plugin` waits on this store's current call,
    /// outermost first: empty for a call from the host.
    pub(crate) chain: Vec<Arc<str>>,
}

impl std::fmt::Debug for HostCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCtx")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

impl HostCtx {
    /// The state of a store of `plugin`, served by `services`, with no WASI
    /// access (see [`with_wasi`](Self::with_wasi)).
    pub fn new(plugin: &str, services: Arc<HostServices>) -> Self {
        Self {
            plugin: plugin.into(),
            services,
            wasi: WasiCtx::builder().build(),
            granted: Capabilities::none(),
            chain: Vec::new(),
        }
    }

    /// Record what the store's plugin was granted (the plugin manager does,
    /// from its manifest and policy): `call_plugin` serves only callees
    /// named by a granted `plugins:<name>`.
    pub fn with_capabilities(mut self, granted: Capabilities) -> Self {
        self.granted = granted;
        self
    }

    /// What the store's plugin was granted.
    pub fn capabilities(&self) -> &Capabilities {
        &self.granted
    }

    /// Give the store's plugin this WASI context (what its manifest asked
    /// for and the policy granted).
    pub fn with_wasi(mut self, wasi: WasiCtx) -> Self {
        self.wasi = wasi;
        self
    }

    /// The name of the plugin this store belongs to.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// The services behind this store's host imports.
    pub fn services(&self) -> &HostServices {
        &self.services
    }
}

impl WasiView for HostCtx {
    fn wasi(&mut self) -> &mut WasiCtx {
        &mut self.wasi
    }
}

/// Largest `random` request.
pub const MAX_RANDOM_BYTES: u32 = 64 << 10;

/// What a kv host function's future needs from its caller's state.
fn kv_of(ctx: &HostCtx) -> (Arc<dyn KvStore>, Arc<str>) {
    (ctx.services.kv.clone(), ctx.plugin.clone())
}

/// Define every host service in `linker` (module `anywasm`, each behind its
/// capability) and WASI preview 1 (each function behind its `wasi:*`
/// capability): what the plugin manager's own linker starts from. Stores
/// whose state is a [`HostCtx`] then serve them from its [`HostServices`]
/// and its WASI context. `publish` works only inside a plugin manager, which
/// owns the message queue; elsewhere it answers an error.
pub fn define_services(linker: &mut Linker<HostCtx>) {
    anywasm::wasi::add_to_linker(linker);
    // Each service is gated by its own name unless it says otherwise, and
    // takes the default message cap.
    linker.abi_func("log", |caller, line: String| {
        let ctx = caller.data();
        ctx.services.log.log(&ctx.plugin, &line);
        Ok(())
    });
    linker.abi_func("clock", |caller, (): ()| {
        caller.data().services.clock.now_ms()
    });
    linker.abi_func("random", |caller, n: u32| {
        if n > MAX_RANDOM_BYTES {
            return Err(HostError::new(format!(
                "at most {MAX_RANDOM_BYTES} random bytes per call, asked for {n}"
            )));
        }
        let mut bytes = vec![0u8; n as usize];
        caller.data().services.entropy.fill(&mut bytes)?;
        Ok(bytes)
    });
    // The kv functions are async: the store's future (a disk write for
    // `RedbKv`) suspends the guest call on engines that suspend.
    linker
        .abi_func_async("kv_get", |caller, key: String| {
            let (kv, plugin) = kv_of(caller.data());
            async move {
                KvError::check_key(&key)?;
                Ok(kv.get(&plugin, &key).await?)
            }
        })
        .capability("kv");
    linker
        .abi_func_async("kv_set", |caller, (key, value): (String, Vec<u8>)| {
            let (kv, plugin) = kv_of(caller.data());
            async move {
                KvError::check_key(&key)?;
                KvError::check_value(&value)?;
                Ok(kv.set(&plugin, &key, value).await?)
            }
        })
        .capability("kv");
    linker
        .abi_func_async("kv_delete", |caller, key: String| {
            let (kv, plugin) = kv_of(caller.data());
            async move {
                KvError::check_key(&key)?;
                Ok(kv.delete(&plugin, &key).await?)
            }
        })
        .capability("kv");
    linker
        .abi_func("publish", |caller, (topic, payload): (String, Vec<u8>)| {
            let ctx = caller.data();
            let bus = ctx.services.bus.as_ref().ok_or_else(|| {
                HostError::new("publish needs a plugin manager to deliver messages")
            })?;
            bus.send(Message {
                from: ctx.plugin.to_string(),
                topic,
                payload,
            })
            .map_err(|_| HostError::new("the plugin manager is shutting down"))
        })
        .capability("pubsub");
    // Ungated: a guest may import it, and each call is checked against the
    // caller's `plugins:<callee>` grants.
    linker
        .abi_func_async(
            "call_plugin",
            |caller, (plugin, function, request): (String, String, ByteBuf)| {
                let call = crate::chain::call_plugin(
                    caller.data(),
                    caller.remaining_time(),
                    plugin,
                    function,
                    request.into_vec(),
                );
                async move { Ok(ByteBuf::from(call?.await?)) }
            },
        )
        .ungated();
}
