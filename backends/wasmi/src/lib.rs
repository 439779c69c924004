//! # anywasm-wasmi
//!
//! The [wasmi](https://docs.rs/wasmi) backend of anywasm: an interpreter,
//! so it runs where a JIT cannot — including `no_std` targets — and needs no
//! threads for any of its limits.
//!
//! [`Engine`] implements [`anywasm_core::Runtime`]; its [`Store`] implements
//! [`anywasm_core::Store`]. Code written against those traits runs unchanged
//! on the other backends.
//!
//! ```
//! use anywasm_core::{Config, FuncType, Limits, Linker, Runtime, Store as _, StoreExt, Val, ValType};
//! use anywasm_wasmi::Engine;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::new(&Config::new().consume_fuel(true))?;
//! let wasm = wat::parse_str(
//!     r#"(module
//!          (import "env" "double" (func $double (param i32) (result i32)))
//!          (func (export "run") (param i32) (result i32)
//!            (i32.add (call $double (local.get 0)) (i32.const 1))))"#,
//! )?;
//! let module = engine.compile(&wasm)?;
//!
//! let mut linker = Linker::<u32>::new();
//! let sig = FuncType::new([ValType::I32], [ValType::I32]);
//! linker.func("env", "double", sig, |caller, args, results| {
//!     *caller.data_mut() += 1; // count host calls in the store's state
//!     results[0] = Val::I32(args[0].as_i32().unwrap_or(0) * 2);
//!     Ok(())
//! });
//!
//! let mut store = engine.store(0u32, &Limits::new().fuel(1_000_000))?;
//! let instance = store.instantiate(&module, &linker)?;
//! assert_eq!(store.call_export(&instance, "run", &[Val::I32(20)])?, vec![Val::I32(41)]);
//! assert_eq!(*store.data(), 1);
//! assert!(store.fuel()? < 1_000_000);
//! # Ok(())
//! # }
//! ```
//!
//! ## How the limits map onto wasmi
//!
//! | anywasm | wasmi |
//! |---|---|
//! | [`Config::consume_fuel`](anywasm_core::Config::consume_fuel) | `Config::consume_fuel` (about one unit per instruction) |
//! | [`Config::timeouts`](anywasm_core::Config::timeouts) | fuel metering too: calls with a deadline run in fuel slices of [`FUEL_SLICE`] units, the clock is read between slices (no threads) |
//! | [`Config::max_stack_bytes`](anywasm_core::Config::max_stack_bytes) | value stack height in bytes (at least 4 KiB) and one call frame per 128 bytes |
//! | memory / table / instance limits | a `ResourceLimiter` that records what it denied |
//! | [`Store::call_async`](anywasm_core::Store::call_async), [`Linker::func_async`](anywasm_core::Linker::func_async) | a resumable call paused at each async host function (it returns a marker host error), awaited outside the engine and resumed with its results; fuel slices go on as in a synchronous call |
//!
//! Timeouts read a clock: `std::time::Instant` with `std`; without `std`
//! give the engine one with [`Engine::with_clock`], otherwise stores with a
//! timeout are [`ErrorKind::Unsupported`](anywasm_core::ErrorKind).
//!
//! Host functions may re-enter the guest through
//! [`Caller::call`](anywasm_core::Caller::call) up to
//! [`MAX_REENTRY_DEPTH`](anywasm_core::MAX_REENTRY_DEPTH) levels deep, as on
//! every engine; deeper is `Trap(StackOverflow)`.
//!
//! ## Crate features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `std` | yes | host-function panics are caught; timeouts use `std::time::Instant`; async host functions also work from the synchronous `call` (the thread blocks on the future) and an async call's deadline fires while a host future is pending (tokio's timer) |
//! | `simd` | yes | the `simd` and `relaxed-simd` proposals (`v128` values); without it a `Val::V128` is [`ErrorKind::Unsupported`](anywasm_core::ErrorKind) |
//! | `memory64` | yes | the `memory64` proposal |
//! | `portable-dispatch` | yes | wasmi's loop-based instruction dispatch: tail-call dispatch (2-3x faster when wasmi is built optimised) overflows the native stack on long guest loops when debug assertions are on (wasmi-labs/wasmi#2039); turn it off only where wasmi is built optimised *and* without debug assertions |
//!
//! Without default features the crate is `no_std` + `alloc`.

#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod access;
mod call;
mod convert;
mod engine;
mod error;
mod gas;
mod host;
mod limits;
mod link;
mod module;
mod start;
mod store;
mod suspend;

pub use access::{Global, Memory, Table};
pub use call::FUEL_SLICE;
pub use engine::{Clock, Engine};
pub use module::Module;
pub use store::{Func, Instance, Store};
/// The wasmi crate this backend is built on.
pub use wasmi as raw;
