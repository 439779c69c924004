//! # anywasm-cache
//!
//! Compiled modules kept on disk, so a host process that starts again (or
//! many processes on one machine) loads a plugin's machine code instead of
//! compiling it: the 141 KiB bench guest to a ready plugin takes about
//! 100 ms compiled on the JIT engines and under a millisecond from the
//! cache (0.85 ms wasmtime, 0.91 ms wasmer, bench profile). [`ModuleCache::load`] takes the wasm
//! bytes and an engine and returns a module either way; the plugin manager
//! (`anywasm-plugin`) uses it when given one.
//!
//! ```
//! use anywasm::Config;
//! use anywasm_cache::ModuleCache;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let cache = ModuleCache::open(dir.path().join("modules"))?;
//! let engine = anywasm::engine_by_name::<()>("wasmtime", &Config::new())?;
//! let wasm = wat::parse_str(r#"(module (func (export "f")))"#)?;
//!
//! let first = cache.load(&*engine, &wasm)?;    // compiled, then stored
//! assert!(!first.outcome.is_hit());
//! let second = cache.load(&*engine, &wasm)?;   // from disk: nothing compiled
//! assert!(second.outcome.is_hit());
//! assert_eq!(second.module.exports(), first.module.exports());
//! # Ok(()) }
//! ```
//!
//! ## What an entry is checked for, and why
//!
//! A compiled module is machine code plus the engine's own data
//! structures, and the engines load it almost as is:
//! `Runtime::deserialize_module` is `unsafe`, and bytes it was not meant
//! to get are undefined behaviour, up to running arbitrary code. So
//! nothing reaches it unchecked:
//!
//! - An entry is keyed by the module's SHA-256 and the engine's
//!   [`ArtifactFormat`](anywasm::ArtifactFormat): the engine, its exact
//!   version and a fingerprint of its configuration (fuel, timeouts, CPU
//!   features the compiler used, the anywasm backend's version).
//! - Its header repeats all of that and records the payload's length and
//!   BLAKE3 digest. A truncated file, a flipped bit, an entry of another engine,
//!   version, configuration or module is [`Rejected`] with the reason,
//!   compiled afresh and overwritten: never loaded.
//! - The directory must be this user's own (unix: owned by this user or
//!   root, not writable by group or others; created with mode 0700). The
//!   digest proves an entry intact, not who wrote it, so a directory other
//!   users or untrusted code can write is refused outright. Never point the
//!   cache at a directory plugins come from: the plugin manager refuses to.
//! - Entries are written to a temporary file and renamed into place, so
//!   readers, concurrent writers and crashes never see half an entry.
//! - The entries' total size is capped ([`ModuleCache::max_bytes`], 256
//!   MiB by default); the least recently used are deleted past it.
//! - A read-only or full directory is not an error: the module is compiled
//!   and [`Outcome::Compiled`] carries the write's failure.
//!
//! ## Engines
//!
//! | engine | cached | how |
//! |---|---|---|
//! | wasmtime | yes | `Module::serialize` / `deserialize` (it also checks its own version and settings) |
//! | wasmer | yes | `Module::serialize` / `deserialize` (it checks only a magic number, its archive revision and CPU features: the checks above are all that stands between a bad file and the engine) |
//! | wasmi | no | it translates functions lazily on first call; [`Outcome::NotCacheable`], compiled every time (about half a millisecond for the same module) |
//!
//! ## Crate features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `wasmtime` | yes | the wasmtime engine (in the facade) |
//! | `wasmer` | no | the wasmer engine |
//! | `wasmi` | no | the wasmi engine |

#![deny(missing_docs)]

mod cache;
mod dir;
mod entry;
mod error;

pub use cache::{CacheStats, Cached, DEFAULT_MAX_BYTES, Miss, ModuleCache, Outcome};
pub use error::{CacheError, Rejected};
