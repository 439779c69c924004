//! What can go wrong with the cache, and why an entry was not trusted.
//!
//! Neither is ever fatal to loading a module: [`ModuleCache::load`]
//! compiles instead and says why in its [`Outcome`]. [`CacheError`] is
//! returned as an error only by [`ModuleCache::open`] (a directory that
//! cannot be created or that other users may write to) and by maintenance
//! calls.
//!
//! [`ModuleCache::load`]: crate::ModuleCache::load
//! [`ModuleCache::open`]: crate::ModuleCache::open
//! [`Outcome`]: crate::Outcome

use std::path::PathBuf;

/// A failure of the cache directory itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// Reading, writing, renaming or listing a file failed (a read-only
    /// directory, a full disk, a file removed meanwhile).
    #[error("module cache: {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The directory could be written by someone else, so its entries
    /// cannot be trusted to be ones this host wrote.
    #[error("module cache: {path} is not a safe cache directory: {reason}")]
    Insecure {
        /// The directory.
        path: PathBuf,
        /// Who else can write it, or what it is instead of a directory.
        reason: String,
    },
    /// The engine could not serialise the module.
    #[error("module cache: serialising the module: {0}")]
    Serialize(anywasm::Error),
    /// The artifact is larger than the cache's size cap, so it is not stored.
    #[error("module cache: an artifact of {size} bytes exceeds the cache's cap of {max} bytes")]
    TooLarge {
        /// The entry's size.
        size: u64,
        /// [`ModuleCache::max_bytes`](crate::ModuleCache::max_bytes).
        max: u64,
    },
}

/// Why an entry found on disk was not given to the engine. Every check
/// runs before the engine's (unsafe) deserialisation; only
/// [`EngineRefused`](Rejected::EngineRefused) comes from the engine itself,
/// for an entry that passed them all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// The file ends before its header or its payload does.
    #[error("truncated: {len} bytes, the entry needs {needed}")]
    Truncated {
        /// Bytes on disk.
        len: u64,
        /// Bytes its header (or the fixed header) calls for.
        needed: u64,
    },
    /// Not a cache entry (no magic number), or one whose header is malformed.
    #[error("not a module cache entry: {0}")]
    Malformed(String),
    /// An entry of another version of the cache's own format.
    #[error("written in cache format {found}, this is format {expected}")]
    FormatVersion {
        /// The entry's format.
        found: u32,
        /// This crate's format.
        expected: u32,
    },
    /// Written by another engine or another version of it.
    #[error("written by {engine} {version}, this is {expected_engine} {expected_version}")]
    OtherEngine {
        /// The engine named in the entry.
        engine: String,
        /// Its version.
        version: String,
        /// This engine.
        expected_engine: String,
        /// This engine's version.
        expected_version: String,
    },
    /// Written by the same engine configured differently (fuel, timeouts,
    /// CPU features, anywasm version): its code would not match.
    #[error("written by an engine configured differently")]
    OtherConfig,
    /// The entry is for another module.
    #[error("the entry is for another module")]
    OtherModule,
    /// The payload's BLAKE3 digest does not match its header, or bytes follow it.
    #[error("corrupt: {0}")]
    Corrupt(String),
    /// The file is larger than the cache's cap (never written by it).
    #[error("{size} bytes, more than the cache's cap of {max}")]
    Oversized {
        /// Bytes on disk.
        size: u64,
        /// The cap.
        max: u64,
    },
    /// Every check passed but the engine refused the artifact.
    #[error("the engine refused it: {0}")]
    EngineRefused(String),
}
