//! # anywasm-plugin
//!
//! The plugin manager: a host loads a directory of untrusted WebAssembly
//! plugins and calls them safely, on the engine of its choice.
//!
//! ```no_run
//! use anywasm_plugin::{CapabilityPolicy, PluginManager};
//!
//! # async fn run() -> anywasm_plugin::Result<()> {
//! let manager = PluginManager::builder()
//!     .plugin_dir("plugins")
//!     .engine_name("wasmtime")
//!     .capabilities(CapabilityPolicy::new().grant("greeter", "log"))
//!     .hot_reload(true)
//!     .build()?;
//! let report = manager.discover().await?;
//! for (file, why) in &report.failed {
//!     eprintln!("{}: {why}", file.display());
//! }
//! let greeting: String = manager.call("greeter", "greet", "anywasm").await?;
//! # Ok(()) }
//! ```
//!
//! ## Core concepts
//!
//! - A plugin is a `.wasm` speaking the anywasm ABI (docs/abi.md) with a
//!   [`Manifest`]: embedded in its `anywasm:manifest` section, or replaced
//!   by a sidecar `<name>.toml`. [`PluginManager::discover`] loads every
//!   file in the directory, dependencies first, and returns a
//!   [`LoadReport`]: what loaded, and per file that did not, the typed
//!   [`PluginError`]. One bad file never stops the others.
//! - Integrity: every module's SHA-256 is in its [`PluginInfo`]; with
//!   [`PluginManagerBuilder::require_signatures`], a detached ed25519
//!   `<name>.wasm.sig` from a trusted key is required.
//! - Capabilities are denied by default: a plugin gets one only if its
//!   manifest asks for it and the [`CapabilityPolicy`] grants it; importing
//!   a host service it was not granted fails the load. Host services are
//!   listed below; [`KvStore`] is the storage seam of the `kv` service.
//! - Calls: [`PluginManager::call`] runs on a per-plugin pool of instances
//!   (each an [`anywasm::Plugin`] with its own store), with no manager lock
//!   held across guest code; a trapped instance is discarded.
//! - Hot reload and explicit [`load`](PluginManager::load) /
//!   [`reload`](PluginManager::reload) / [`unload`](PluginManager::unload):
//!   a new version replaces the old only once it is compiled, instantiated
//!   and its `init` has succeeded; calls in flight finish on the version
//!   they started on. Compiled modules are cached by SHA-256 in memory, so
//!   an unchanged file is not compiled again.
//! - Cold starts: with [`PluginManagerBuilder::module_cache`] (an
//!   `anywasm_cache::ModuleCache`), compiled code is kept on disk and a
//!   later process loads it instead of compiling (wasmtime, wasmer;
//!   [`PluginInfo::code`] says where each plugin's code came from). Entries
//!   are integrity-checked before the engine sees them, and the cache
//!   directory may not overlap the plugin directory: engine-native code is
//!   never read from where plugins are written.
//! - [`signing`]: keys, detached signatures and verification, the same
//!   scheme the manager checks (what `anywasm keygen/sign/verify` use).
//!
//! ## Host services
//!
//! Each is an ABI host function in module `anywasm` behind a capability
//! (the guest SDK wraps them in `anywasm_guest::services`):
//!
//! | import | capability | request | response |
//! |---|---|---|---|
//! | `log` | `log` | `String` | `()` (into `tracing`, target `anywasm_plugin::guest`, field `plugin`) |
//! | `clock` | `clock` | `()` | `u64`, milliseconds since the Unix epoch |
//! | `random` | `random` | `u32` n (at most 64 KiB) | `Vec<u8>` of n random bytes |
//! | `kv_get` | `kv` | `String` key (at most 1 KiB) | `Option<Vec<u8>>` |
//! | `kv_set` | `kv` | `(String, Vec<u8>)`: key at most 1 KiB, value at most 1 MiB | `()`, once stored |
//! | `kv_delete` | `kv` | `String` key (at most 1 KiB) | `bool`, whether it existed |
//! | `publish` | `pubsub` | `(String topic, Vec<u8> payload)` | `()` |
//! | `call_plugin` | `plugins:<callee>`, checked per call | `(String callee, String function, bytes request)` | bytes: the callee's encoded response |
//!
//! `kv` keys are at most [`MAX_KV_KEY_BYTES`] (1 KiB) and values at most
//! [`MAX_KV_VALUE_BYTES`] (1 MiB): anything larger is refused with a
//! [`KvError`] the guest receives as its call's error, and nothing is
//! written. The store is [`MemoryKv`] unless the host picks another:
//! [`RedbKv`] keeps it in one crash-safe file, so plugins' data outlives the
//! process. [`KvStore`] is an async trait (`#[async_trait]`) and the `kv`
//! functions are async host functions (`Linker::abi_func_async`): a store
//! that waits (a disk, a network database) suspends the guest's call on
//! engines that suspend instead of holding a worker thread.
//!
//! A plugin that lists a topic in its manifest's `subscribes` receives each
//! message published to it through its `on_message` export, with the request
//! `(String topic, Vec<u8> payload)`. Delivery is asynchronous (a publish
//! returns before subscribers run), so a plugin may publish to itself.
//!
//! `call_plugin` calls an entry point of another loaded plugin, in one of
//! the callee's own instances with the callee's own limits; the guest SDK's
//! `services::call` wraps it in typed messages. A plugin may call `b` only
//! if its manifest asks for `plugins:b` and the policy grants it. A call
//! that would reach a plugin already in its chain (`a -> a`,
//! `a -> b -> a`) or make a chain of more than [`MAX_PLUGIN_CALL_DEPTH`]
//! plugins is refused with a [`PluginCallError`] the caller's guest
//! receives as its call's error, naming the chain. `call_plugin` is an
//! async host function: on engines that suspend (wasmtime, wasmi) the
//! caller's call suspends while the callee runs (and while the callee's
//! own async host functions await), and dropping the caller's call drops
//! the callee's; on wasmer the nested call runs on the caller's thread,
//! inside the caller's host function, and runs to its end. The
//! caller's timeout keeps counting meanwhile. A nested call waits for a
//! free instance of the callee at most half the caller's remaining time,
//! then fails with [`PluginCallError::Busy`], so two chains holding each
//! other's last instances end in an error, not a deadlock.
//!
//! ## WASI
//!
//! A plugin built for `wasm32-wasip1` (std Rust with the guest SDK) loads
//! like any other; its std I/O goes through `anywasm::wasi`, the same on
//! every engine, and only as far as the manifest asks and the policy
//! grants. The manifest asks:
//!
//! ```toml
//! wasi = ["stdout", "stderr", "clock"]   # the short form, without directories
//!
//! # or, with directories (TOML cannot give `wasi` both forms at once):
//! [wasi]
//! capabilities = ["stdout", "stderr", "clock", "random", "env", "exit"]
//! [wasi.dirs]
//! "/data" = "read-only"                  # or "read-write"
//! ```
//!
//! | manifest entry | policy capability | the plugin gets | imports it unlocks |
//! |---|---|---|---|
//! | `args` | `wasi:args` | `argv = [plugin name]` | `args_*` (`wasi:args`) |
//! | `env` | `wasi:env` | the variables [`CapabilityPolicy::grant_env`] sets | `environ_*` (`wasi:env`) |
//! | `clock` | `wasi:clock` | real wall and monotonic clocks | `clock_*`, `poll_oneoff` (`wasi:clock`) |
//! | `random` | `wasi:random` | OS random bytes | `random_get` (`wasi:random`) |
//! | `exit` | `wasi:exit` | `proc_exit` (an `Exit` error for the call) | `proc_*`, `sched_yield` (`wasi:proc`) |
//! | `stdin` | `wasi:stdin` | an empty stdin | `fd_*` (`wasi:fd`) |
//! | `stdout`, `stderr` | `wasi:stdout`, `wasi:stderr` | lines into `tracing` (target `anywasm_wasi::guest`, field `plugin`) | `fd_*` (`wasi:fd`) |
//! | `fs` | `wasi:fs` | the filesystem calls, which reach only the granted directories | `fd_*`, `path_*` (`wasi:fd`, `wasi:fs`) |
//! | `[wasi.dirs]` path | [`CapabilityPolicy::grant_dir`] for that path | the host directory, at the lesser of the two permissions | `fd_*`, `path_*` (`wasi:fd`, `wasi:fs`) |
//!
//! A plugin importing a WASI function whose capability it did not get fails
//! to load, naming that capability, like any other import. Fuel, timeouts
//! and memory caps apply inside WASI calls as everywhere.
//!
//! Where the data comes from is the host's choice: [`KvStore`], [`Clock`],
//! [`Entropy`] and [`LogSink`] (builder methods `kv_store`, `clock`,
//! `entropy`, `log_sink`; together a [`HostServices`]). Outside a manager,
//! [`define_services`] puts the same host functions in any
//! `Linker<HostCtx>` (the test harness `anywasm-test` does, with a fixed
//! clock, seeded random bytes and a captured log).
//!
//! ## Lifecycle exports (all optional)
//!
//! | export | request | when |
//! |---|---|---|
//! | `init` | `BTreeMap<String, String>` config | on every new instance, before it serves; an error fails the load |
//! | `shutdown` | `()` | once, when a version is unloaded or replaced, after its calls drain |
//! | `health` | `()` | [`PluginManager::health`] |
//! | `on_message` | `(String, Vec<u8>)` | a message on a topic the manifest `subscribes` to |
//!
//! ## Crate features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `wasmtime` | yes | the wasmtime engine |
//! | `wasmer` | no | the wasmer engine |
//! | `wasmi` | no | the wasmi engine |

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod builder;
mod bus;
mod call;
mod candidate;
mod chain;
mod deps;
mod error;
mod integrity;
mod kv;
mod manager;
mod manifest;
mod metrics;
mod policy;
mod registry;
mod report;
mod services;
pub mod signing;
mod version;
mod wasi;
mod watch;

pub use builder::{DEFAULT_CALL_TIMEOUT, PluginManagerBuilder};
pub use chain::{MAX_PLUGIN_CALL_DEPTH, PLUGINS_CAPABILITY_PREFIX, PluginCallError};
pub use error::{PluginError, Result};
pub use integrity::{Checksum, hex, sha256};
pub use kv::{KvError, KvStore, MAX_KV_KEY_BYTES, MAX_KV_VALUE_BYTES, MemoryKv, RedbKv};
pub use manager::{HEALTH_EXPORT, INIT_EXPORT, MESSAGE_EXPORT, PluginManager, SHUTDOWN_EXPORT};
pub use manifest::{Manifest, ManifestLimits};
pub use metrics::{MetricsSnapshot, WINDOW};
pub use policy::CapabilityPolicy;
pub use report::{CodeSource, LoadReport, Loaded, PluginInfo, Status};
pub use services::{
    Clock, Entropy, HostCtx, HostServices, LogSink, MAX_RANDOM_BYTES, OsEntropy, SystemClock,
    TracingLog, define_services,
};
pub use wasi::{WASI_ENTRIES, WasiRequest};

pub use ed25519_dalek::{SigningKey, VerifyingKey};

/// The README's Rust snippets, compiled by `cargo test --doc` so the front
/// page cannot drift from the API (they read files, so they are `no_run`).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
