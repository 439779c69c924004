//! [`ModuleCache`]: compiled modules kept on disk across processes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anywasm::{ArtifactFormat, DynModule, DynRuntime};

use crate::dir::{self, Found};
use crate::entry::{self, sha256};
use crate::{CacheError, Rejected};

/// Default size cap: 256 MiB of entries.
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

/// Compiled modules on disk, keyed by the module's SHA-256 and the
/// engine's [`ArtifactFormat`] (engine, exact version, configuration).
///
/// Cheap to share (`&self` everywhere; counters are atomic); several
/// processes may use one directory at once. See the crate docs for the
/// guarantees.
#[derive(Debug)]
pub struct ModuleCache {
    dir: PathBuf,
    max_bytes: u64,
    stats: Counters,
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    rejected: AtomicU64,
    stored: AtomicU64,
    store_failures: AtomicU64,
    evicted: AtomicU64,
}

/// What [`ModuleCache::stats`] counts since the cache was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Modules loaded from disk.
    pub hits: u64,
    /// Modules compiled because no usable entry existed (includes rejected).
    pub misses: u64,
    /// Entries found but refused (see [`Rejected`]).
    pub rejected: u64,
    /// Entries written.
    pub stored: u64,
    /// Entries that could not be written (read-only directory, full disk).
    pub store_failures: u64,
    /// Entries deleted to stay under the size cap.
    pub evicted: u64,
}

/// A module [`ModuleCache::load`] returns, and how it was obtained.
#[derive(Debug)]
pub struct Cached {
    /// The module, ready to instantiate.
    pub module: DynModule,
    /// Whether it came from disk, and if not, why.
    pub outcome: Outcome,
}

/// How [`ModuleCache::load`] obtained a module.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// Loaded from a checked entry; nothing was compiled.
    Hit,
    /// Compiled; `why` there was no usable entry, and whether the new one
    /// was written (a read-only directory or a full disk only costs the
    /// next start a compilation).
    Compiled {
        /// Why the cache could not serve it.
        why: Miss,
        /// Writing the new entry.
        stored: Result<(), CacheError>,
    },
    /// The engine has no artifacts (wasmi: it compiles lazily); compiled
    /// and nothing cached.
    NotCacheable,
}

/// Why a module was compiled rather than loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum Miss {
    /// No entry for this module and engine.
    Absent,
    /// An entry was found and refused, never loaded.
    Rejected(Rejected),
    /// The entry could not be read.
    Unreadable(CacheError),
}

impl Outcome {
    /// Whether the module came from disk.
    pub fn is_hit(&self) -> bool {
        matches!(self, Outcome::Hit)
    }

    /// The reason an entry was refused, if one was.
    pub fn rejected(&self) -> Option<&Rejected> {
        match self {
            Outcome::Compiled {
                why: Miss::Rejected(r),
                ..
            } => Some(r),
            _ => None,
        }
    }
}

impl ModuleCache {
    /// A cache in `dir`, created (mode 0700) if missing.
    ///
    /// Fails if the directory cannot be created, is not a directory, or
    /// (unix) belongs to another user or is writable by its group or by
    /// others: entries in such a directory could have been written by
    /// someone else. A directory this user cannot write is accepted: it is
    /// read from, and every store reports its failure.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, CacheError> {
        let dir = dir.into();
        dir::prepare(&dir)?;
        Ok(Self {
            dir,
            max_bytes: DEFAULT_MAX_BYTES,
            stats: Counters::default(),
        })
    }

    /// The per-user default location: `$ANYWASM_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/anywasm/modules`, else `~/.cache/anywasm/modules`
    /// (`%LOCALAPPDATA%\anywasm\modules` on Windows).
    pub fn default_dir() -> Option<PathBuf> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = var("ANYWASM_CACHE_DIR") {
            return Some(dir.into());
        }
        let base = if cfg!(windows) {
            var("LOCALAPPDATA").map(PathBuf::from)
        } else {
            var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
        };
        base.map(|b| b.join("anywasm").join("modules"))
    }

    /// Cap the entries' total size (default [`DEFAULT_MAX_BYTES`]); the
    /// least recently used are deleted past it.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The size cap.
    pub fn size_cap(&self) -> u64 {
        self.max_bytes
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What has happened since the cache was opened.
    pub fn stats(&self) -> CacheStats {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let s = &self.stats;
        CacheStats {
            hits: n(&s.hits),
            misses: n(&s.misses),
            rejected: n(&s.rejected),
            stored: n(&s.stored),
            store_failures: n(&s.store_failures),
            evicted: n(&s.evicted),
        }
    }

    /// The file that holds (or would hold) `wasm` compiled by `engine`;
    /// `None` for an engine without artifacts.
    pub fn entry_path<T: Send + 'static>(
        &self,
        engine: &dyn DynRuntime<T>,
        wasm: &[u8],
    ) -> Option<PathBuf> {
        let format = engine.artifact_format()?;
        Some(self.dir.join(entry::file_name(&sha256(wasm), &format)))
    }

    /// Total bytes of the entries on disk.
    pub fn disk_usage(&self) -> Result<u64, CacheError> {
        Ok(dir::entries(&self.dir)?.iter().map(|f| f.size).sum())
    }

    /// Delete every entry; how many there were.
    pub fn clear(&self) -> Result<u64, CacheError> {
        let files = dir::entries(&self.dir)?;
        for f in &files {
            std::fs::remove_file(&f.path).map_err(|source| CacheError::Io {
                path: f.path.clone(),
                source,
            })?;
        }
        Ok(files.len() as u64)
    }

    /// `wasm` compiled by `engine`: from disk if a checked entry exists,
    /// else compiled and (best effort) stored.
    ///
    /// Only a compile error is an error; every cache problem (no entry, a
    /// refused entry, an unreadable file, a failed write) is compiled
    /// around and reported in [`Cached::outcome`].
    pub fn load<T: Send + 'static>(
        &self,
        engine: &dyn DynRuntime<T>,
        wasm: &[u8],
    ) -> anywasm::Result<Cached> {
        let Some(format) = engine.artifact_format() else {
            return Ok(Cached {
                module: engine.compile(wasm)?,
                outcome: Outcome::NotCacheable,
            });
        };
        let digest = sha256(wasm);
        let name = entry::file_name(&digest, &format);
        let path = self.dir.join(&name);
        let why = match self.lookup(engine, &path, &digest, &format) {
            Ok(module) => {
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                dir::touch(&path);
                return Ok(Cached {
                    module,
                    outcome: Outcome::Hit,
                });
            }
            Err(why) => why,
        };
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        if matches!(why, Miss::Rejected(_)) {
            self.stats.rejected.fetch_add(1, Ordering::Relaxed);
        }
        let module = engine.compile(wasm)?;
        let stored = self.store(engine, &module, &digest, &format, &name);
        let counter = if stored.is_ok() {
            &self.stats.stored
        } else {
            &self.stats.store_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(Cached {
            module,
            outcome: Outcome::Compiled { why, stored },
        })
    }

    /// The checked entry at `path`, deserialised.
    fn lookup<T: Send + 'static>(
        &self,
        engine: &dyn DynRuntime<T>,
        path: &Path,
        digest: &[u8; 32],
        format: &ArtifactFormat,
    ) -> Result<DynModule, Miss> {
        let bytes = match dir::read(path, self.max_bytes) {
            Ok(Found::Absent) => return Err(Miss::Absent),
            Ok(Found::Bytes(bytes)) => bytes,
            Ok(Found::NotAFile) => {
                return Err(Miss::Rejected(Rejected::Malformed(
                    "not a regular file (links are not followed)".into(),
                )));
            }
            Ok(Found::TooLarge(size)) => {
                return Err(Miss::Rejected(Rejected::Oversized {
                    size,
                    max: self.max_bytes,
                }));
            }
            Err(e) => return Err(Miss::Unreadable(e)),
        };
        let payload = entry::check(&bytes, digest, format).map_err(Miss::Rejected)?;
        // SAFETY: `deserialize_module` needs exactly the bytes
        // `serialize_module` returned on an engine of an equal artifact
        // format, unmodified. `entry::check` has just established, from the
        // header, that:
        // - the entry was written for this engine, version and configuration
        //   (names and the SHA-256 of the whole `ArtifactFormat`, which
        //   `store` took from the engine that serialised the payload), so
        //   the formats are equal;
        // - the payload is exactly as long as when it was written and hashes
        //   to the BLAKE3 digest recorded then, so it is unmodified, unless someone
        //   rewrote the entry with a matching digest on purpose.
        // That last case is excluded by where entries come from: `open`
        // refused a directory that other users (group or world) can write or
        // that belongs to someone else, `store` writes entries only from
        // `serialize_module` output, and hosts must not point the cache at a
        // directory untrusted code writes (the plugin manager refuses its
        // plugin directory). What breaks this on upgrade: an engine whose
        // artifacts depend on something `ArtifactFormat` does not capture
        // (each backend's `ARTIFACT_REVISION` must then be bumped), or a
        // change to the entry format without bumping `entry::FORMAT`.
        unsafe { engine.deserialize_module(payload) }
            .map_err(|e| Miss::Rejected(Rejected::EngineRefused(e.to_string())))
    }

    /// Serialise `module` and write its entry, then evict past the cap.
    fn store<T: Send + 'static>(
        &self,
        engine: &dyn DynRuntime<T>,
        module: &DynModule,
        digest: &[u8; 32],
        format: &ArtifactFormat,
        name: &str,
    ) -> Result<(), CacheError> {
        let payload = engine
            .serialize_module(module)
            .map_err(CacheError::Serialize)?;
        let bytes = entry::encode(digest, format, &payload);
        let size = bytes.len() as u64;
        if size > self.max_bytes {
            return Err(CacheError::TooLarge {
                size,
                max: self.max_bytes,
            });
        }
        dir::write_atomic(&self.dir, name, &bytes)?;
        let evicted = dir::evict(&self.dir, self.max_bytes)?;
        self.stats.evicted.fetch_add(evicted, Ordering::Relaxed);
        Ok(())
    }
}
