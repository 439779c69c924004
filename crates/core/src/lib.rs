//! # anywasm-core
//!
//! The contract between anywasm and a WebAssembly engine, with no engine in it.
//! `no_std` + `alloc`; the `std` feature adds panic catching in host functions.
//!
//! - [`Runtime`], [`Module`], [`Store`]: what a backend implements (statically
//!   dispatched; generic code costs nothing over the engine). [`StoreExt`]
//!   adds conveniences to every store.
//! - [`DynRuntime`], [`DynStore`]: the object-safe layer for choosing the
//!   engine at run time.
//! - [`Val`], [`ValType`], [`FuncType`]: bit-exact values (floats as bits, NaN
//!   payloads preserved).
//! - [`Error`], [`ErrorKind`], [`TrapCode`]: one error type for every backend;
//!   the same guest fault is the same [`TrapCode`] on every engine.
//! - [`Linker`], [`HostFunc`], [`Caller`]: host functions defined once, over
//!   raw values ([`Linker::func`]) or typed ones whose wasm signature follows
//!   from the closure ([`Linker::func_wrap`]).
//! - [`Config`], [`Limits`]: which limit mechanisms an engine compiles in, and
//!   each store's budgets.
//! - [`ArtifactFormat`]: what a serialised module ([`Runtime::serialize_module`])
//!   is compatible with, for hosts that keep compiled code across processes.
//! - [`abi`]: the plugin call ABI shared by hosts and guests (`docs/abi.md`);
//!   [`Linker::abi_func`] defines typed host functions over it, gated by
//!   [`Capabilities`] (denied by default).
//!
//! Backends live in their own crates (`anywasm-wasmtime`, `anywasm-wasmer`,
//! `anywasm-wasmi`); most users depend on the `anywasm` facade instead.
//!
//! ```
//! use anywasm_core::{Error, ErrorKind, Limits, TrapCode, Val};
//! let limits = Limits::new().memory_bytes(1 << 20).instances(4);
//! assert_eq!(limits.get_memory_bytes(), Some(1 << 20));
//! let e = Error::trap(TrapCode::OutOfFuel, "");
//! assert_eq!(e.kind(), ErrorKind::Trap(TrapCode::OutOfFuel));
//! assert_eq!(Val::from(f32::NAN).as_f32().unwrap().to_bits(), f32::NAN.to_bits());
//! ```
//!
//! ## Crate features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `std` | yes | host-function panics are caught and become [`TrapCode::HostError`] |
//! | `tokio` | no | an async call's deadline fires while an async host function is pending (tokio's timer) |
//! | `inspect` | no | reading a module without compiling it: `initial_memory_bytes`, `Limits::check_initial_memory` (adds `wasmparser`, the version wasmi uses) |

#![no_std]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod abi;
mod artifact;
mod asyncs;
mod backend;
#[cfg(feature = "std")]
mod block;
mod capability;
mod dynamic;
mod error;
mod host;
#[cfg(feature = "inspect")]
mod initial_memory;
mod limits;
mod runtime;
mod support;
mod typed;
mod value;
mod wrap;

pub use artifact::{ArtifactFormat, artifacts_unsupported};
pub use asyncs::{AsyncHostFn, Finish, HostFuture, Pending};
pub use backend::{BackendKind, UnknownBackend};
#[cfg(feature = "std")]
pub use block::block_on;
pub use capability::{Capabilities, check_capabilities};
pub use dynamic::{
    DynModule, DynRuntime, DynStore, FuncId, GlobalId, InstanceId, MemoryId, TableId,
};
pub use error::{Error, ErrorKind, HostError, Resource, Result, TrapCode};
pub use host::{
    Caller, HostFn, HostFunc, Linker, LinkerId, MAX_REENTRY_DEPTH, NativeFn, call_native,
    check_args, check_range,
};
#[cfg(feature = "inspect")]
pub use initial_memory::{PAGE_BYTES, check_module_bounds, initial_memory_bytes};
pub use limits::{Config, DEFAULT_MAX_FUNCTIONS, DEFAULT_MAX_MODULE_BYTES, InstancePool, Limits};
pub use runtime::{CallFuture, Module, Runtime, Store, StoreExt, export_not_found, find_export};
pub use support::{Feature, Support};
pub use typed::AbiFuncDef;
pub use value::{
    ExportType, ExternRef, ExternType, FuncRef, FuncType, GlobalType, ImportType, MemoryType,
    TableType, Val, ValBuf, ValType,
};
pub use wrap::{FuncDef, WasmParams, WasmResults, WasmTy};
