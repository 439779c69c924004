//! # anywasm
//!
//! Run untrusted WebAssembly on **wasmtime** (Cranelift JIT), **wasmer**
//! (Cranelift) or **wasmi** (interpreter, `no_std`) behind one contract: one
//! value model, one error type with matchable [`TrapCode`]s, one limit model
//! ([`Limits`]), and host functions ([`Linker`]) written once for every engine.
//!
//! Pick the engine with a Cargo feature and use it statically (generic code
//! compiles to direct engine calls), or choose it at run time by name with
//! [`engine_by_name`].
//!
//! ```
//! use anywasm::{Config, Limits, Sandbox, Val};
//!
//! # fn main() -> anywasm::Result<()> {
//! let wasm = wat::parse_str(r#"(module (func (export "add") (param i32 i32) (result i32)
//!     local.get 0 local.get 1 i32.add))"#).unwrap();
//! // Any compiled-in engine, chosen at run time:
//! let name = anywasm::compiled_backends()[0].name();
//! let engine = anywasm::engine_by_name::<()>(name, &Config::new())?;
//! let mut sandbox = Sandbox::builder(&*engine)
//!     .limits(&Limits::new().memory_bytes(1 << 20)) // also .linker(..), .data(..)
//!     .build(&wasm)?;
//! assert_eq!(sandbox.call("add", &[Val::I32(2), Val::I32(40)])?, vec![Val::I32(42)]);
//! # Ok(())
//! # }
//! ```
//!
//! ## Core concepts
//!
//! - [`Runtime`] (an engine) compiles [`Module`]s and makes [`Store`]s; a store
//!   owns instances, the host state `T` and the [`Limits`]. Each backend crate
//!   exports the same names (`Engine`, `Module`, `Store`, and the handles
//!   `Instance`, `Func`, `Memory`, `Table`, `Global`), re-exported here as
//!   [`wasmtime`], [`wasmer`] and [`wasmi`] modules, plus [`DefaultEngine`].
//!   Memories, tables and globals are resolved once into handles
//!   ([`Store::memory`]); [`StoreExt`] adds by-name access on top.
//!
//! ```
//! use anywasm::{Config, Limits, Linker, Val};
//!
//! # fn main() -> anywasm::Result<()> {
//! let wasm = wat::parse_str(r#"(module (memory (export "memory") 1)
//!     (func (export "peek") (param i32) (result i32) local.get 0 i32.load8_u))"#).unwrap();
//! let name = anywasm::compiled_backends()[0].name();
//! let engine = anywasm::engine_by_name::<()>(name, &Config::new())?;
//! let module = engine.compile(&wasm)?;
//! let mut store = engine.store((), &Limits::new())?;
//! let instance = store.instantiate(&module, &Linker::new())?;
//! let memory = store.memory(instance, "memory")?; // resolved once, then used
//! store.write(memory, 8, b"hi")?;
//! assert_eq!(store.call_export(instance, "peek", &[Val::I32(8)])?, [Val::I32(104)]);
//! assert_eq!(store.grow(memory, 1)?, 1);
//! assert_eq!(store.memory_len(memory)?, 2 * 65536); // the same handle sees the growth
//! # Ok(())
//! # }
//! ```
//! - [`DynRuntime`]/[`DynStore`] are the object-safe layer; [`Sandbox`] is one
//!   store with one instance, the common plugin case.
//! - Mechanisms that cost something on every call (fuel metering,
//!   interruption for timeouts) are opted into per engine with [`Config`];
//!   amounts are set per store with [`Limits`]. A limit an engine cannot honour
//!   is an [`ErrorKind::Unsupported`] error, never silently ignored.
//!   [`Config::instance_pool`] preallocates instance slots where the engine
//!   has a pooling allocator (wasmtime), the fastest way to instantiate.
//!
//! ## Crate features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `std` | yes | needed by wasmtime and wasmer; catches host-function panics |
//! | `wasmtime` | yes | the wasmtime backend (JIT; fastest, most complete) |
//! | `wasmer` | no | the wasmer backend (Cranelift) |
//! | `wasmi` | no | the wasmi backend (interpreter; works without `std`) |
//! | `wasi` | no | [`wasi`]: WASI preview 1 on every engine (`anywasm-wasi`; std, unix) |
//! | `tokio` | no | `Plugin::call_async` |
//!
//! wasmtime is the default because it is the fastest engine here, covers the
//! most of the spec, and is the most heavily fuzzed sandbox; embedded hosts use
//! `default-features = false, features = ["wasmi"]`.

#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(all(feature = "wasmtime", not(feature = "std")))]
compile_error!(
    "anywasm: the `wasmtime` backend needs the standard library; enable the `std` feature \
     (on by default) or use the `wasmi` backend on no_std hosts"
);
#[cfg(all(feature = "wasmer", not(feature = "std")))]
compile_error!(
    "anywasm: the `wasmer` backend needs the standard library; enable the `std` feature \
     (on by default) or use the `wasmi` backend on no_std hosts"
);

mod builder;
mod choose;
mod plugin;
mod sandbox;

pub use anywasm_core::*;
pub use builder::{Data, DefaultData, HostData, PluginBuilder, SandboxBuilder};
pub use choose::{compiled_backends, engine, engine_by_name, support};
pub use plugin::{INITIALIZE_EXPORT, Plugin};
pub use sandbox::Sandbox;

/// The wasmtime backend.
#[cfg(feature = "wasmtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "wasmtime")))]
pub use anywasm_wasmtime as wasmtime;

/// The wasmer backend.
#[cfg(feature = "wasmer")]
#[cfg_attr(docsrs, doc(cfg(feature = "wasmer")))]
pub use anywasm_wasmer as wasmer;

/// WASI preview 1, the same on every engine (the `anywasm-wasi` crate).
#[cfg(feature = "wasi")]
#[cfg_attr(docsrs, doc(cfg(feature = "wasi")))]
pub use anywasm_wasi as wasi;

/// The wasmi backend.
#[cfg(feature = "wasmi")]
#[cfg_attr(docsrs, doc(cfg(feature = "wasmi")))]
pub use anywasm_wasmi as wasmi;

cfg_if::cfg_if! {
    if #[cfg(feature = "wasmtime")] {
        /// The engine generic code should use when it has no preference:
        /// wasmtime if compiled in, else wasmer, else wasmi.
        pub type DefaultEngine = anywasm_wasmtime::Engine;
    } else if #[cfg(feature = "wasmer")] {
        /// The engine generic code should use when it has no preference:
        /// wasmtime if compiled in, else wasmer, else wasmi.
        pub type DefaultEngine = anywasm_wasmer::Engine;
    } else if #[cfg(feature = "wasmi")] {
        /// The engine generic code should use when it has no preference:
        /// wasmtime if compiled in, else wasmer, else wasmi.
        pub type DefaultEngine = anywasm_wasmi::Engine;
    }
}
