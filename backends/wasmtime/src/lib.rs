//! # anywasm-wasmtime
//!
//! The [wasmtime](https://wasmtime.dev) (Cranelift JIT) backend of anywasm:
//! [`Engine`], [`Module`], [`Store`] and the handles [`Instance`], [`Func`],
//! [`Memory`], [`Table`], [`Global`] implement the [`anywasm_core`]
//! contract, so switching engines is one `use`.
//!
//! ```
//! use anywasm_core::{Config, FuncType, Limits, Linker, Store as _, StoreExt, Val, ValType};
//! use anywasm_wasmtime::Engine;
//!
//! # fn main() -> anywasm_core::Result<()> {
//! let wasm = wat::parse_str(r#"
//!     (module
//!       (import "env" "twice" (func $twice (param i32) (result i32)))
//!       (func (export "run") (param i32) (result i32)
//!         (i32.add (call $twice (local.get 0)) (i32.const 1))))
//! "#).unwrap();
//!
//! let engine = Engine::new(&Config::new().consume_fuel(true))?;
//! let module = engine.compile(&wasm)?;
//!
//! let mut linker = Linker::<u32>::new();
//! linker.func("env", "twice", FuncType::new([ValType::I32], [ValType::I32]), |caller, args, results| {
//!     *caller.data_mut() += 1; // count host calls in the store's state
//!     results[0] = Val::I32(args[0].as_i32().unwrap_or(0) * 2);
//!     Ok(())
//! });
//!
//! let mut store = engine.store(0u32, &Limits::new().fuel(1_000_000))?;
//! let instance = store.instantiate(&module, &linker)?;
//! let out = store.call_export(&instance, "run", &[Val::I32(20)])?;
//! assert_eq!(out, [Val::I32(41)]);
//! assert_eq!(*store.data(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! ## How the limits map onto wasmtime
//!
//! | anywasm | wasmtime |
//! |---|---|
//! | [`Limits::memory_bytes`](anywasm_core::Limits::memory_bytes), [`table_elements`](anywasm_core::Limits::table_elements) | a `ResourceLimiter` (also caps wasmtime's GC heap) |
//! | [`Limits::instances`](anywasm_core::Limits::instances) | counted by the store (those that succeeded or ran and trapped) |
//! | [`Limits::fuel`](anywasm_core::Limits::fuel) | `Config::consume_fuel` + `Store::set_fuel` |
//! | [`Limits::timeout`](anywasm_core::Limits::timeout) | epoch interruption, 1 ms ticker thread per engine |
//! | [`Config::max_stack_bytes`](anywasm_core::Config::max_stack_bytes) | `Config::max_wasm_stack` |
//! | [`Store::call_async`](anywasm_core::Store::call_async), [`Linker::func_async`](anywasm_core::Linker::func_async) | `Func::call_async` on a fiber, async host functions via `Func::new_async`; with fuel on, a yield every `ASYNC_YIELD_FUEL` (10,000) units |
//!
//! Input must be binary wasm: the text format is not compiled in.
//!
//! ## Behaviour specific to this backend
//!
//! - wasmtime requires every entry into a store holding an async host
//!   function (or yielding on fuel) to be async: once a store instantiates
//!   with a linker that has one, or makes an async call with fuel on, its
//!   synchronous `instantiate` and `call` run the async forms to completion
//!   on the calling thread (parking it while a host future is pending;
//!   about 0.25 µs more per call, a fiber each). A store that never does
//!   either keeps the synchronous fast path.
//! - A store's call timeout also bounds the start function run by
//!   `instantiate`. Deadlines are checked at function entries and loop
//!   headers, so a host function that blocks is not interrupted.
//! - Growing a memory or table from the host past its own declared maximum
//!   is reported like growing it past the store's cap:
//!   `LimitExceeded(Memory | Table)`.
//! - wasmtime's on-by-default proposals (GC, exceptions, typed function
//!   references, tail calls, SIMD, memory64, ...) are enabled. Typed
//!   function references appear as `funcref`; functions, globals and
//!   tables using GC or exception references are
//!   [`ErrorKind::Unsupported`](anywasm_core::ErrorKind) through anywasm.

#![deny(missing_docs)]

mod access;
mod artifact;
mod call;
mod convert;
mod engine;
mod error;
mod fiber;
mod gas;
mod host;
mod limits;
mod link;
mod module;
mod prelink;
mod store;
mod ticker;

pub use access::{Global, Memory, Table};
pub use engine::Engine;
pub use module::Module;
pub use store::{Func, Instance, Store};

/// The wasmtime crate this backend is built on.
pub use wasmtime as raw;
