//! The cache directory: who may write it, how entries are written so a
//! reader never sees half of one, and how it is kept under its size cap.
//!
//! - Ownership (unix): the directory must belong to the user running the
//!   host (or to root) and must not be writable by its group or by others.
//!   An entry's digest proves it is intact, not who wrote it; only a
//!   directory nobody else can write makes "written by this host" true.
//!   A new directory is created with mode 0700.
//! - Atomic writes: an entry is written to a temporary file in the same
//!   directory and renamed over its final name, so a crash, a full disk or
//!   a concurrent writer leaves either the old entry, the new one or none.
//! - Size cap: after each write, if the entries add up to more than the
//!   cap, the least recently used are deleted (a hit refreshes an entry's
//!   modification time) until they fit. Temporary files a crashed writer
//!   left behind are deleted once they are an hour old.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::CacheError;
use crate::entry::ENTRY_SUFFIX;

/// Prefix of temporary files.
const TEMP_PREFIX: &str = ".tmp-";
/// Age after which a temporary file is a crashed writer's leftover.
const STALE_TEMP: Duration = Duration::from_secs(3600);

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Create `dir` if needed (mode 0700 on unix) and check that only this
/// user can write it.
pub(crate) fn prepare(dir: &Path) -> Result<(), CacheError> {
    if !dir.exists() {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(io(dir))?;
    }
    let meta = fs::symlink_metadata(dir).map_err(io(dir))?;
    let insecure = |reason: String| CacheError::Insecure {
        path: dir.to_path_buf(),
        reason,
    };
    if !meta.is_dir() {
        return Err(insecure("it is not a directory".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me && meta.uid() != 0 {
            return Err(insecure(format!(
                "it belongs to user {}, not to this user ({me}) or root",
                meta.uid()
            )));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(insecure(format!(
                "its group or other users can write it (mode {:o}); chmod go-w it",
                meta.mode() & 0o7777
            )));
        }
    }
    Ok(())
}

/// What is at an entry's path.
pub(crate) enum Found {
    /// Nothing.
    Absent,
    /// A regular file's contents.
    Bytes(Vec<u8>),
    /// Something that is not a regular file (a directory, a symbolic link:
    /// never followed).
    NotAFile,
    /// A regular file larger than the cap (its size).
    TooLarge(u64),
}

/// Read the regular file `path` if it is at most `max` bytes.
pub(crate) fn read(path: &Path, max: u64) -> Result<Found, CacheError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Absent),
        Err(e) => return Err(io(path)(e)),
    };
    if !meta.is_file() {
        return Ok(Found::NotAFile);
    }
    if meta.len() > max {
        return Ok(Found::TooLarge(meta.len()));
    }
    match fs::read(path) {
        Ok(bytes) => Ok(Found::Bytes(bytes)),
        // Evicted or replaced between the two calls: no entry.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Found::Absent),
        Err(e) => Err(io(path)(e)),
    }
}

/// Mark `path` as just used (its modification time), for eviction.
/// Failing to is harmless: the entry may just be evicted sooner.
pub(crate) fn touch(path: &Path) {
    if let Ok(file) = fs::File::open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// Write `bytes` to `dir/name` atomically (temporary file, then rename).
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), CacheError> {
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(tmp.path()))?;
    let target = dir.join(name);
    tmp.persist(&target).map_err(|e| CacheError::Io {
        path: target,
        source: e.error,
    })?;
    Ok(())
}

/// One entry file, for eviction.
#[derive(Debug)]
pub(crate) struct EntryFile {
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    used: SystemTime,
}

/// Every entry file in `dir`; temporary files older than an hour are
/// deleted on the way.
pub(crate) fn entries(dir: &Path) -> Result<Vec<EntryFile>, CacheError> {
    let now = SystemTime::now();
    let mut out = Vec::new();
    for item in fs::read_dir(dir).map_err(io(dir))? {
        let Ok(item) = item else { continue };
        let name = item.file_name();
        let name = name.to_string_lossy();
        let Ok(meta) = item.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if name.starts_with(TEMP_PREFIX) {
            if now.duration_since(used).unwrap_or_default() > STALE_TEMP {
                let _ = fs::remove_file(item.path());
            }
        } else if name.ends_with(ENTRY_SUFFIX) {
            out.push(EntryFile {
                path: item.path(),
                size: meta.len(),
                used,
            });
        }
    }
    Ok(out)
}

/// Delete the least recently used entries until the rest fit in `max`
/// bytes; how many were deleted.
pub(crate) fn evict(dir: &Path, max: u64) -> Result<u64, CacheError> {
    let mut files = entries(dir)?;
    let mut total: u64 = files.iter().map(|f| f.size).sum();
    if total <= max {
        return Ok(0);
    }
    files.sort_by_key(|f| f.used);
    let mut evicted = 0;
    for f in files {
        if total <= max {
            break;
        }
        match fs::remove_file(&f.path) {
            Ok(()) => evicted += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&f.path)(e)),
        }
        total = total.saturating_sub(f.size);
    }
    Ok(evicted)
}
