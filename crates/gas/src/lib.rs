//! # anywasm-gas
//!
//! Gas that means the same thing on every engine. Native fuel is counted by
//! each engine its own way (per wasmi instruction, per wasmtime operator, per
//! wasmer middleware operator), so a budget that suffices on one engine runs
//! out on another. This crate rewrites a module so that the guest counts its
//! own gas, from one documented cost table ([`COST_TABLE_VERSION`], see
//! [`cost`](crate#the-cost-table)): the same module with the same input uses
//! exactly the same gas on wasmtime, wasmer and wasmi, `no_std` wasmi
//! included.
//!
//! Hosts do not call this crate: they set `Config::gas(true)` on an engine,
//! which then instruments every module it compiles, and give stores a budget
//! with `Limits::gas(n)`. Backend authors call [`instrument`] in `compile` and
//! link the counter (below).
//!
//! ```
//! let wasm = wat::parse_str(r#"(module (func (export "f") (result i32) i32.const 1))"#).unwrap();
//! let metered = anywasm_gas::instrument(&wasm).unwrap();
//! // The counter is an import only the host can satisfy.
//! let imports: Vec<_> = wasmparser::Parser::new(0)
//!     .parse_all(&metered)
//!     .filter_map(|p| match p.unwrap() {
//!         wasmparser::Payload::ImportSection(s) => Some(s),
//!         _ => None,
//!     })
//!     .flat_map(|s| s.into_iter().map(|i| i.unwrap()))
//!     .map(|i| (i.module.to_string(), i.name.to_string()))
//!     .collect();
//! assert_eq!(imports, [(anywasm_gas::GAS_MODULE.to_string(), anywasm_gas::GAS_GLOBAL.to_string())]);
//! ```
//!
//! ## How the guest counts
//!
//! - The counter is a mutable `i64` global the module imports as
//!   `anywasm:gas::remaining`. The host creates it per store and reads and
//!   writes it between calls; every instance in the store shares it. No
//!   instruction of the original module refers to it (its index is new) and
//!   it is not exported, so a guest can neither read nor reset it; a module
//!   that imports anything from `anywasm:gas` itself is refused.
//! - Each function body is cut into segments: a segment ends after every
//!   operator that opens, separates or closes a block or may branch (`block`,
//!   `loop`, `if`, `else`, `end`, `br*`, `return*`, `unreachable`). At the
//!   start of each segment the guest charges the static weights of all its
//!   operators at once; a `loop` body is charged on every iteration.
//! - Size-dependent operations (`memory.fill/copy/init`, `table.fill/copy/
//!   init/grow`, `memory.grow`) additionally charge for their size operand
//!   right before they run.
//! - When a charge does not fit, the guest sets the counter to [`EXHAUSTED`]
//!   and executes `unreachable`; the host reports the trap as
//!   `TrapCode::OutOfFuel` and the remaining gas as 0.
//!
//! **Exactness.** Charges happen before the work they pay for and nothing
//! is ever refunded: a segment is paid in full even when a trap or a call
//! that does not return cuts it short. Because charging points and amounts
//! depend only on the module and the path taken, the gas a call uses is the
//! same on every engine whether it completes, traps, or runs out of gas, and
//! a budget runs out at exactly the same point everywhere.
//!
//! ## The cost table
//!
//! Version 2 ([`COST_TABLE_VERSION`]; version 1 charged a grow's size
//! before it ran, so a grow a limit refused could run a budget out instead
//! of returning -1):
//!
//! | operators | gas |
//! |---|---|
//! | `nop`, `block`, `loop`, `else`, `end` | 0 |
//! | `call`, `return_call` | 5 |
//! | `call_indirect`, `return_call_indirect`, `call_ref`, `return_call_ref` | 10 |
//! | `memory.grow` | 100, + 1024 per page if it grew |
//! | `memory.fill`, `memory.copy`, `memory.init` | 5 + 1 per 64 bytes (rounded up) |
//! | `table.fill`, `table.copy`, `table.init` | 5 + 1 per element |
//! | `table.grow` | 5, + 1 per element if it grew |
//! | everything else | 1 |
//!
//! Not supported (refused with `ErrorKind::Unsupported`): exception
//! handling, 64-bit memories and tables.
//!
//! ## Cost
//!
//! The instrumented code runs a dozen extra instructions per segment; the
//! benches (`limits/<workload>/<engine>-gas`) measure it against native fuel
//! and no metering on every engine.

#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

mod cost;
mod inject;

use alloc::vec::Vec;

use anywasm_core::{Error, ErrorKind, Result};
use wasm_encoder::reencode::{Error as ReencodeError, Reencode};
use wasm_encoder::{CustomSection, Module};

pub use cost::{BYTES_PER_GAS, COST_TABLE_VERSION, ELEMENT_COST, PAGE_COST};

/// Module name of the counter import.
pub const GAS_MODULE: &str = "anywasm:gas";
/// Field name of the counter import: a mutable `i64` global.
pub const GAS_GLOBAL: &str = "remaining";
/// Custom section an instrumented module carries: [`COST_TABLE_VERSION`],
/// 4 bytes little endian.
pub const VERSION_SECTION: &str = "anywasm:gas-version";
/// The counter's value once a charge did not fit.
pub const EXHAUSTED: i64 = -1;
/// The largest budget the counter holds (`i64::MAX`); larger budgets are
/// clamped to it.
pub const MAX_GAS: u64 = i64::MAX as u64;

/// Rewrite `wasm` so it counts its own gas (see the crate docs).
///
/// Errors: [`ErrorKind::Compile`] for bytes that do not parse,
/// [`ErrorKind::Unsupported`] for features the pass does not meter,
/// [`ErrorKind::Unlinkable`] for a module importing from [`GAS_MODULE`].
/// The result is validated by the engine that compiles it, like any module.
pub fn instrument(wasm: &[u8]) -> Result<Vec<u8>> {
    let mut injector = inject::Injector::default();
    let mut module = Module::new();
    injector
        .parse_core_module(&mut module, wasmparser::Parser::new(0), wasm)
        .map_err(|e| match e {
            ReencodeError::UserError(inject::Refusal::Unsupported(m)) => {
                Error::new(ErrorKind::Unsupported, m)
            }
            ReencodeError::UserError(inject::Refusal::Reserved(m)) => {
                Error::new(ErrorKind::Unlinkable, m)
            }
            other => Error::new(
                ErrorKind::Compile,
                alloc::format!("gas instrumentation: {other}"),
            ),
        })?;
    module.section(&CustomSection {
        name: VERSION_SECTION.into(),
        data: COST_TABLE_VERSION.to_le_bytes().as_slice().into(),
    });
    Ok(module.finish())
}

/// Whether `(module, name)` is the counter import (backends resolve it to
/// the store's counter and hide it from the module's import list).
pub fn is_counter(module: &str, name: &str) -> bool {
    module == GAS_MODULE && name == GAS_GLOBAL
}

/// Gas left, from the counter's raw value ([`EXHAUSTED`] and any negative
/// value are 0).
pub fn remaining(counter: i64) -> u64 {
    u64::try_from(counter).unwrap_or(0)
}

/// The counter's raw value for a budget of `gas` (clamped to [`MAX_GAS`]).
pub fn counter_for(gas: u64) -> i64 {
    gas.min(MAX_GAS) as i64
}
