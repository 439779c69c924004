//! # anywasm-wasmer
//!
//! The wasmer backend of anywasm: wasmer 7 with the Cranelift compiler,
//! behind the [`anywasm_core`] contract. Switching engines is one `use`:
//! this crate exports the same names as the other backends ([`Engine`],
//! [`Module`], [`Store`], [`Instance`], [`Func`], [`Memory`], [`Table`],
//! [`Global`]).
//!
//! ```
//! use anywasm_core::{Config, FuncType, Limits, Linker, Runtime, Store as _, StoreExt, Val, ValType};
//! use anywasm_wasmer::Engine;
//!
//! let wasm = wat::parse_str(r#"
//!     (module
//!       (import "env" "double" (func $double (param i32) (result i32)))
//!       (func (export "quad") (param i32) (result i32)
//!         local.get 0 call $double call $double))
//! "#).unwrap();
//!
//! let engine = Engine::new(&Config::new().consume_fuel(true)).unwrap();
//! let module = engine.compile(&wasm).unwrap();
//! let mut linker = Linker::<u32>::new();
//! linker.func("env", "double", FuncType::new([ValType::I32], [ValType::I32]), |caller, args, results| {
//!     *caller.data_mut() += 1;
//!     results[0] = Val::I32(args[0].as_i32().unwrap_or(0) * 2);
//!     Ok(())
//! });
//! let mut store = engine.store(0u32, &Limits::new().fuel(10_000)).unwrap();
//! let instance = store.instantiate(&module, &linker).unwrap();
//! assert_eq!(store.call_export(&instance, "quad", &[Val::I32(5)]).unwrap(), [Val::I32(20)]);
//! assert_eq!(*store.data(), 2);
//! assert!(store.fuel().unwrap() < 10_000);
//! ```
//!
//! ## How the contract maps onto wasmer
//!
//! - **Compiled code**: wasmer's engine keeps the executable memory of every
//!   module it compiled until the engine itself is dropped (dropping the
//!   module does not free it). Hosts that keep compiling new modules on one
//!   engine (hot reload of ever-new versions) should replace the engine from
//!   time to time; compiling in a tight loop on one engine runs out of
//!   address space.
//! - **Fuel**: `wasmer_middlewares::Metering` (one unit per operator) is
//!   compiled in when `Config::consume_fuel` is set. Its points live in a
//!   global of each instance; the store's budget is copied into every
//!   instance before a call and what they used is charged afterwards (exact
//!   for calls within one instance; a call crossing instances can overrun the
//!   budget before it traps, see `fuel.rs`). The middleware keeps
//!   per-module state, so with fuel on an engine compiles one module at a
//!   time. The middleware's globals are exported under the names
//!   `wasmer_metering_remaining_points` / `wasmer_metering_points_exhausted`;
//!   they are hidden from anywasm users (a guest export of the same name is
//!   replaced by them).
//! - **Timeouts**: wasmer's host interrupter (unix only; a `SIGUSR1` to the
//!   thread running the guest), driven by one watchdog thread per engine,
//!   started on first use and joined when the engine's last clone (stores
//!   hold one) is dropped. A host function running at the deadline is not
//!   interrupted; the call traps with `Timeout` when it returns to the guest
//!   (a host function that blocks bounds its wait with
//!   `Caller::remaining_time`, from the deadline registered here).
//!   wasmer's `experimental-host-interrupt` feature claims `SIGUSR1` for the
//!   whole process: other `SIGUSR1` handlers no longer run. On Linux
//!   (x86-64, AArch64) this crate puts a filter in front of wasmer's handler
//!   so that a signal landing in host code on the guest stack (wasmer's
//!   libcalls, the return path of a host call) does not unwind it: wasmer
//!   unwinding there left locks held and hung or aborted the process, rarely
//!   (see `signal.rs`). On other unix platforms that hazard remains.
//! - **Memory and table caps**: custom `Tunables` clamp each memory's and
//!   table's maximum to the store's cap while the store instantiates.
//! - **Stack**: `Config::max_stack_bytes` sets the size of the coroutine stack
//!   wasmer runs guests on (clamped to 8 KiB ..= 100 MiB). It is a lower
//!   bound, not an exact one: wasmer reuses cached stacks that are at least
//!   the requested size, so a guest may get a larger stack (up to the
//!   largest size any engine in the process asked for; wasmer's default is
//!   1 MiB). Runaway recursion always ends in `Trap(StackOverflow)`.
//! - **Re-entrancy**: `Caller::call` nests up to
//!   [`MAX_REENTRY_DEPTH`](anywasm_core::MAX_REENTRY_DEPTH) levels, as on
//!   every engine. Host functions run on the thread's own stack between
//!   guest calls, so a second guard refuses to nest once re-entrant calls
//!   have used 1 MiB of host stack (far more than that depth needs); both
//!   end in `Trap(StackOverflow)` instead of overflowing the thread stack.
//! - **Start functions** are taken out of `Instance::new` at compile time and
//!   run as an ordinary call right after instantiation, so they are metered,
//!   get the deadline, and host functions they call see their instance. An
//!   instance whose start function traps still counts towards the instance
//!   limit (its elements may already be in shared tables).
//! - **References**: every funcref/externref wasmer hands out is kept by the
//!   wasmer store until it is dropped; funcrefs are deduplicated in the
//!   store's funcref table, but each externref argument allocates a little.
//! - **Threads**: wasmer 7's `Store` is not `Send`; this crate's [`Store`] is,
//!   because nothing thread-bound outlives a call (see the safety note on it).
//! - **Async**: wasmer 7.4's async calls (`experimental-async`) need the
//!   store turned into a separate `StoreAsync` whose futures are not `Send`,
//!   so this backend does not suspend guest calls
//!   ([`Feature::AsyncSuspend`](anywasm_core::Feature::AsyncSuspend) is
//!   declared missing): an async host function parks the calling thread
//!   until its future is done (bounded by the call's deadline), and
//!   [`Store::call_async`](anywasm_core::Store::call_async) runs the call
//!   when first polled, under `tokio::task::block_in_place` on a
//!   multi-threaded runtime. The cost: one OS thread per call in flight
//!   (tokio's blocking pool, 512 by default), at most
//!   [`MAX_BLOCKING_CALLS`] at once per process (more would take every
//!   thread of that pool and leave none to run the timers the parked calls
//!   wait for), and a call that cannot be dropped half-way.
//!
//! ## Crate features
//!
//! None; wasmer is always built with `sys`, `cranelift` and
//! `experimental-host-interrupt`.

#![deny(missing_docs)]

/// How many [`Store::call_async`](anywasm_core::Store::call_async) calls
/// may block a thread at once in this process (see "Async" above); the
/// others wait for a turn without blocking.
pub const MAX_BLOCKING_CALLS: usize = 256;

mod access;
mod artifact;
mod call;
mod convert;
mod engine;
mod error;
mod fuel;
mod gas;
mod host;
mod limits;
mod link;
mod middleware;
mod module;
#[cfg(unix)]
mod signal;
mod store;
#[cfg(unix)]
mod watchdog;

pub use access::{Global, Memory, Table};
pub use engine::Engine;
pub use module::Module;
pub use store::{Func, Instance, Store};

/// The wasmer crate this backend is built on.
pub use wasmer as raw;
