//! # anywasm-test
//!
//! Test an anywasm plugin the way hosts will run it, on every engine: write
//! a test body once and [`plugin_tests!`] makes one `#[test]` per engine
//! compiled in (`greets::wasmtime`, `greets::wasmer`, `greets::wasmi`), each
//! reported, filtered and failed on its own. The plugin is read and
//! compiled once per engine for the whole test binary; every test gets its
//! own instances.
//!
//! ```no_run
//! // tests/plugin.rs of a plugin crate (what `anywasm new` writes)
//! use anywasm_test::{Limit, expect_denied, expect_limit, plugin_tests};
//!
//! plugin_tests! {
//!     plugin = anywasm_test::built_plugin!("greeter");   // what `anywasm build` wrote
//!
//!     fn greets_with_its_configuration(engine) {
//!         let mut plugin = engine.plugin().config("greeting", "hi").grant("log").start()?;
//!         let text: String = plugin.call("greet", "Ada")?;
//!         assert_eq!(text, "hi, Ada!");
//!         assert_eq!(plugin.logs(), ["hi, Ada!"]);
//!         Ok(())
//!     }
//!
//!     fn refuses_to_start_without_log(engine) {
//!         expect_denied(engine.plugin().start(), "log");
//!         Ok(())
//!     }
//!
//!     fn a_runaway_call_runs_out_of_fuel(engine) {
//!         let mut plugin = engine.plugin().grant("log").fuel(1_000_000).start()?;
//!         expect_limit(plugin.call::<_, ()>("spin", &()), Limit::Fuel);
//!         Ok(())
//!     }
//! }
//! ```
//!
//! The same without the macro, for one engine:
//!
//! ```
//! use anywasm::BackendKind;
//! use anywasm_test::TestEngine;
//!
//! # fn main() -> anywasm_test::Result {
//! # let plugin = anywasm_conformance::guests::SERVICES_GUEST;
//! let engine = TestEngine::load(BackendKind::Wasmi, plugin)?;
//! let mut greeter = engine
//!     .plugin()
//!     .grant_requested()
//!     .host_fn("lookup", "lookup", |key: String| Ok(Some(key.to_uppercase())))
//!     .start()?;
//! let text: String = greeter.call("greet", "Ada")?;
//! assert_eq!(text, "hello, Ada!");                        // greeting from the manifest's [config]
//! let answer: Option<String> = greeter.call("ask", "x")?; // the mocked host function
//! assert_eq!(answer.as_deref(), Some("X"));
//! let now: u64 = greeter.call("now", &())?;
//! assert_eq!(now, anywasm_test::FIXED_TIME_MS);           // a clock that never moves
//! # Ok(()) }
//! ```
//!
//! ## What a test controls
//!
//! [`TestEngine::plugin`] starts a [`PluginBuilder`] in the state a plugin
//! manager would start the plugin in with nothing granted: the manifest's
//! `[config]` (passed to `init`) and `[limits]`, every capability denied,
//! and the manager's own host services (`anywasm_plugin::define_services`).
//!
//! | concern | builder | default |
//! |---|---|---|
//! | `init` configuration | [`config`](PluginBuilder::config) | the manifest's `[config]` |
//! | capabilities | [`grant`](PluginBuilder::grant), [`grant_requested`](PluginBuilder::grant_requested) | none; assert with [`expect_denied`] |
//! | limits | [`memory_bytes`](PluginBuilder::memory_bytes), [`fuel`](PluginBuilder::fuel) (per call), [`timeout`](PluginBuilder::timeout), [`initial_memory_bytes`](PluginBuilder::initial_memory_bytes) | the manifest's, else 64 MiB and none; assert with [`expect_limit`] |
//! | host functions | [`host_fn`](PluginBuilder::host_fn) (typed mock), [`define`](PluginBuilder::define) | none (an import nobody defines is `Unlinkable`) |
//! | key-value store | [`kv`](PluginBuilder::kv) to seed it; [`TestPlugin::kv_get`] | empty, private to the test |
//! | clock | [`clock_ms`](PluginBuilder::clock_ms) | stopped at [`FIXED_TIME_MS`] |
//! | random bytes | [`random_seed`](PluginBuilder::random_seed) | seed 0 ([`SeededEntropy`]) |
//! | log | [`TestPlugin::logs`] | captured, not printed |
//!
//! A [`TestPlugin`] behaves as the manager's instances do: fuel is refilled
//! before every call, and after a trap the next call runs on a fresh
//! instance whose `init` ran again. Engines are created with fuel metering
//! and timeouts compiled in ([`test_config`]) so any test can set either.
//! Fuel units differ between engines; assert that a budget is exhausted
//! or suffices, not exact counts.
//!
//! ## Crate features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `wasmtime` | yes | tests on wasmtime |
//! | `wasmer` | yes | tests on wasmer |
//! | `wasmi` | yes | tests on wasmi |

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod builder;
mod engine;
mod expect;
mod plugin;
mod services;

use std::path::{Path, PathBuf};

pub use anywasm::{BackendKind, ErrorKind, Resource, TrapCode};
pub use builder::{DEFAULT_MEMORY_BYTES, PluginBuilder};
pub use engine::{PluginSource, TestEngine, test_config};
pub use expect::{Limit, expect_denied, expect_guest_error, expect_limit, expect_trap};
pub use plugin::TestPlugin;
pub use services::{CapturedLog, FIXED_TIME_MS, FixedClock, SeededEntropy};

/// What a test body returns: any error fails the test with its message.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// `Result` of a test body.
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

/// Run `body` against the plugin from `source` on `kind`; panics (fails the
/// test) with the engine's name if loading fails or `body` returns an error.
/// What each test [`plugin_tests!`] generates calls.
#[track_caller]
pub fn run(
    kind: BackendKind,
    source: impl Into<PluginSource>,
    body: impl FnOnce(&TestEngine) -> Result,
) {
    let engine = match TestEngine::load(kind, source) {
        Ok(engine) => engine,
        Err(e) => panic!("{kind}: {e}"),
    };
    if let Err(e) = body(&engine) {
        panic!("{kind}: {e}");
    }
}

/// The plugin `anywasm build` wrote for the crate whose library is `name`:
/// `<cargo target dir>/anywasm/<name>.wasm` (`-` in `name` read as `_`,
/// as cargo names artifacts). `target_tmpdir` is cargo's
/// `CARGO_TARGET_TMPDIR` (`<target dir>/tmp`); use [`built_plugin!`].
pub fn built_plugin_path(target_tmpdir: &str, name: &str) -> PathBuf {
    let tmp = Path::new(target_tmpdir);
    tmp.parent()
        .unwrap_or(tmp)
        .join("anywasm")
        .join(format!("{}.wasm", name.replace('-', "_")))
}

/// The path of the plugin `anywasm build` wrote for this crate's library
/// `name` (see [`built_plugin_path`]). Only in integration tests
/// (`tests/*.rs`) and benches, where cargo sets `CARGO_TARGET_TMPDIR`.
#[macro_export]
macro_rules! built_plugin {
    ($name:expr) => {
        $crate::built_plugin_path(env!("CARGO_TARGET_TMPDIR"), $name)
    };
}

/// One `#[test]` per compiled-in engine for each body.
///
/// ```text
/// plugin_tests! {
///     plugin = <expression: a path, or &'static bytes>;
///
///     /// attributes (#[ignore], doc comments) go on every engine's test
///     fn name(engine) { ...; Ok(()) }
///     ...
/// }
/// ```
///
/// Each `fn` becomes a module `name` with a test per engine (`name::wasmtime`,
/// `name::wasmer`, `name::wasmi`); the body sees the parent module's items,
/// gets `engine: &TestEngine` and evaluates to [`Result`], so `?` works on
/// anything that is an error. See the crate docs for an example.
#[macro_export]
macro_rules! plugin_tests {
    (
        plugin = $source:expr;
        $(
            $(#[$meta:meta])*
            fn $name:ident($engine:ident) $body:block
        )*
    ) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                $crate::__test_wasmtime!([$(#[$meta])*] $source, $engine, $body);
                $crate::__test_wasmer!([$(#[$meta])*] $source, $engine, $body);
                $crate::__test_wasmi!([$(#[$meta])*] $source, $engine, $body);
            }
        )*
    };
}

/// One engine's test, if that engine is compiled in (these macros are
/// defined per feature of this crate, so the choice follows its features,
/// not the calling crate's).
#[doc(hidden)]
#[macro_export]
macro_rules! __engine_test {
    ($fn:ident, $kind:expr, [$($attr:tt)*] $source:expr, $engine:ident, $body:block) => {
        #[test]
        $($attr)*
        fn $fn() {
            $crate::run($kind, $source, |$engine: &$crate::TestEngine| -> $crate::Result {
                $body
            });
        }
    };
}

#[cfg(feature = "wasmtime")]
#[doc(hidden)]
#[macro_export]
macro_rules! __test_wasmtime {
    ($($t:tt)*) => { $crate::__engine_test!(wasmtime, $crate::BackendKind::Wasmtime, $($t)*); };
}
#[cfg(not(feature = "wasmtime"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __test_wasmtime {
    ($($t:tt)*) => {};
}

#[cfg(feature = "wasmer")]
#[doc(hidden)]
#[macro_export]
macro_rules! __test_wasmer {
    ($($t:tt)*) => { $crate::__engine_test!(wasmer, $crate::BackendKind::Wasmer, $($t)*); };
}
#[cfg(not(feature = "wasmer"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __test_wasmer {
    ($($t:tt)*) => {};
}

#[cfg(feature = "wasmi")]
#[doc(hidden)]
#[macro_export]
macro_rules! __test_wasmi {
    ($($t:tt)*) => { $crate::__engine_test!(wasmi, $crate::BackendKind::Wasmi, $($t)*); };
}
#[cfg(not(feature = "wasmi"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __test_wasmi {
    ($($t:tt)*) => {};
}

#[cfg(test)]
mod tests {
    #[test]
    fn built_plugins_live_in_the_target_directory() {
        assert_eq!(
            super::built_plugin_path("/t/tmp", "my-plugin"),
            std::path::Path::new("/t/anywasm/my_plugin.wasm")
        );
    }
}
