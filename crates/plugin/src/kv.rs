//! The storage behind the `kv` host service: the [`KvStore`] seam, its
//! error, the caps every store gets, and two stores — [`MemoryKv`] (the
//! default, gone with the process) and [`RedbKv`] (one file on disk,
//! crash-safe).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use anywasm::HostError;
use redb::{Database, Durability, ReadableDatabase, TableDefinition};

/// Largest key the `kv` service accepts, in bytes (UTF-8): 1 KiB. Keys name
/// things; a longer one is almost surely a value in the wrong place, and
/// every stored key costs B-tree space on every page that holds it.
pub const MAX_KV_KEY_BYTES: usize = 1 << 10;

/// Largest value the `kv` service accepts, in bytes: 1 MiB. With the largest
/// key, a `kv_set` request and a `kv_get` response stay far below the ABI's
/// default message cap (16 MiB, `anywasm::abi::DEFAULT_MESSAGE_CAP`), so a
/// value is refused by this cap, with a `kv` error, and never by the
/// transport. Bigger blobs belong in files (the `wasi:fs` capability).
pub const MAX_KV_VALUE_BYTES: usize = 1 << 20;

// A request is the key and the value, each behind a bincode length prefix
// (at most 9 bytes); keep it inside the default message cap.
const _: () =
    assert!(MAX_KV_KEY_BYTES + MAX_KV_VALUE_BYTES + 2 * 9 <= anywasm::abi::DEFAULT_MESSAGE_CAP);

/// Why a `kv` operation failed. The host functions hand it to the guest as
/// an error (its `Display` is the message the guest sees); nothing was
/// written when it is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// The key is longer than [`MAX_KV_KEY_BYTES`].
    #[error("kv key is {len} bytes, over the cap of {max} bytes")]
    KeyTooLarge {
        /// The key's length in bytes.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The value is longer than [`MAX_KV_VALUE_BYTES`].
    #[error("kv value is {len} bytes, over the cap of {max} bytes")]
    ValueTooLarge {
        /// The value's length in bytes.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The store itself failed (I/O, a corrupt file, a database another
    /// process holds open).
    #[error("kv store failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl KvError {
    /// A failure of the storage behind a [`KvStore`].
    pub fn storage(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Storage(source.into())
    }

    /// [`KeyTooLarge`](Self::KeyTooLarge) unless `key` is within
    /// [`MAX_KV_KEY_BYTES`].
    pub fn check_key(key: &str) -> Result<(), Self> {
        match key.len() {
            len if len > MAX_KV_KEY_BYTES => Err(Self::KeyTooLarge {
                len,
                max: MAX_KV_KEY_BYTES,
            }),
            _ => Ok(()),
        }
    }

    /// [`ValueTooLarge`](Self::ValueTooLarge) unless `value` is within
    /// [`MAX_KV_VALUE_BYTES`].
    pub fn check_value(value: &[u8]) -> Result<(), Self> {
        match value.len() {
            len if len > MAX_KV_VALUE_BYTES => Err(Self::ValueTooLarge {
                len,
                max: MAX_KV_VALUE_BYTES,
            }),
            _ => Ok(()),
        }
    }
}

impl From<KvError> for HostError {
    fn from(e: KvError) -> Self {
        HostError::new(e.to_string())
    }
}

/// Storage behind the `kv` capability. Keys are namespaced by the manager:
/// every method gets the calling plugin's name, and a plugin can name only
/// its own keys. Two (plugin, key) pairs are the same entry only if both
/// parts are equal; a store must not join them into one string that could
/// collide (plugin `a`, key `b:c` against plugin `a:b`, key `c`).
///
/// The host functions check the caps ([`MAX_KV_KEY_BYTES`],
/// [`MAX_KV_VALUE_BYTES`]) before a store is called, so a store need not;
/// they run on the calling guest's thread, so a slow store slows that call.
#[async_trait::async_trait]
pub trait KvStore: Send + Sync + 'static {
    /// The value of `key` in `plugin`'s namespace.
    async fn get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Set `key` in `plugin`'s namespace. Once this returns `Ok`, a later
    /// `get` sees the value (and, for a persistent store, so does the next
    /// process).
    async fn set(&self, plugin: &str, key: &str, value: Vec<u8>) -> Result<(), KvError>;
    /// Remove `key` from `plugin`'s namespace; whether it existed.
    async fn delete(&self, plugin: &str, key: &str) -> Result<bool, KvError>;
}

/// The default [`KvStore`]: in memory, lost when the manager is dropped. It
/// never returns an error.
#[derive(Debug, Default)]
pub struct MemoryKv {
    map: Mutex<HashMap<(String, String), Vec<u8>>>,
}

impl MemoryKv {
    fn map(&self) -> MutexGuard<'_, HashMap<(String, String), Vec<u8>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl MemoryKv {
    /// Set `key` in `plugin`'s namespace now, from synchronous code (to
    /// seed a store before plugins run).
    pub fn insert(&self, plugin: &str, key: &str, value: Vec<u8>) {
        self.map().insert((plugin.into(), key.into()), value);
    }

    /// The value of `key` in `plugin`'s namespace now, from synchronous
    /// code (to inspect what plugins wrote).
    pub fn value(&self, plugin: &str, key: &str) -> Option<Vec<u8>> {
        self.map().get(&(plugin.into(), key.into())).cloned()
    }
}

#[async_trait::async_trait]
impl KvStore for MemoryKv {
    async fn get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.value(plugin, key))
    }

    async fn set(&self, plugin: &str, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        self.insert(plugin, key, value);
        Ok(())
    }

    async fn delete(&self, plugin: &str, key: &str) -> Result<bool, KvError> {
        Ok(self.map().remove(&(plugin.into(), key.into())).is_some())
    }
}

/// The one table: (plugin, key) -> value. redb encodes a tuple of strings
/// with each part's length, so no choice of names makes two pairs collide.
const ENTRIES: TableDefinition<'static, (&str, &str), &[u8]> = TableDefinition::new("anywasm_kv");
type Entries<'txn> = redb::Table<'txn, (&'static str, &'static str), &'static [u8]>;

/// A persistent [`KvStore`] in one file, on [redb](https://docs.rs/redb).
///
/// Why redb: it is pure Rust (no C toolchain, builds wherever the host
/// does), keeps everything in a single file, and is ACID: copy-on-write
/// B-trees mean a commit never overwrites live data, and a commit is made
/// durable with `fsync` before it returns. So a process killed at any
/// instant leaves the file at its last commit, and every `set` or `delete`
/// that returned `Ok` is in it.
///
/// Costs: each `set` and each `delete` that removes something is its own
/// write transaction with [`Durability::Immediate`], so it waits for an
/// `fsync` (milliseconds on most disks) on a thread of tokio's blocking pool (the calling guest's call
/// suspends meanwhile on engines that suspend), and
/// writes from all plugins take turns (redb has one writer at a time).
/// Reads do not wait for writers. The file is locked while open: a second
/// `open` of the same file, in this process or another, fails with
/// [`KvError::Storage`].
pub struct RedbKv {
    db: Arc<Database>,
    path: PathBuf,
}

impl std::fmt::Debug for RedbKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbKv")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn storage(e: impl Into<redb::Error>) -> KvError {
    KvError::storage(e.into())
}

impl RedbKv {
    /// Open the store at `path`, creating the file if it does not exist (or
    /// is empty). After a crash, opening repairs the file to its last
    /// commit.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, KvError> {
        let path = path.as_ref();
        let db = Database::create(path).map_err(storage)?;
        // Create the table now, so a read never meets a missing table.
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(ENTRIES).map_err(storage)?;
        txn.commit().map_err(storage)?;
        Ok(Self {
            db: Arc::new(db),
            path: path.to_owned(),
        })
    }

    /// The file the store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `work` on the database off the async executor: on tokio's
    /// blocking pool when there is a runtime (a write waits for an fsync),
    /// on this thread otherwise.
    async fn off_executor<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<R, KvError> + Send + 'static,
    ) -> Result<R, KvError> {
        let db = self.db.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => rt
                .spawn_blocking(move || work(&db))
                .await
                .map_err(|e| KvError::storage(redb::Error::Io(std::io::Error::other(e))))?,
            Err(_) => work(&db),
        }
    }
}

/// Run `change` in a write transaction; commit it (fsync'd) if `change`
/// says it changed something, else abort.
fn write<R>(
    db: &Database,
    change: impl FnOnce(&mut Entries<'_>) -> Result<(R, bool), KvError>,
) -> Result<R, KvError> {
    let mut txn = db.begin_write().map_err(storage)?;
    // The default, said out loud: `commit` returns after the fsync.
    txn.set_durability(Durability::Immediate).map_err(storage)?;
    let (out, changed) = {
        let mut table = txn.open_table(ENTRIES).map_err(storage)?;
        change(&mut table)?
    };
    if changed {
        txn.commit().map_err(storage)?;
    } else {
        txn.abort().map_err(storage)?;
    }
    Ok(out)
}

#[async_trait::async_trait]
impl KvStore for RedbKv {
    async fn get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let (plugin, key) = (plugin.to_owned(), key.to_owned());
        self.off_executor(move |db| {
            let txn = db.begin_read().map_err(storage)?;
            let table = txn.open_table(ENTRIES).map_err(storage)?;
            let value = table
                .get((plugin.as_str(), key.as_str()))
                .map_err(storage)?;
            Ok(value.map(|v| v.value().to_vec()))
        })
        .await
    }

    async fn set(&self, plugin: &str, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        let (plugin, key) = (plugin.to_owned(), key.to_owned());
        self.off_executor(move |db| {
            write(db, |table| {
                table
                    .insert((plugin.as_str(), key.as_str()), value.as_slice())
                    .map_err(storage)?;
                Ok(((), true))
            })
        })
        .await
    }

    async fn delete(&self, plugin: &str, key: &str) -> Result<bool, KvError> {
        let (plugin, key) = (plugin.to_owned(), key.to_owned());
        self.off_executor(move |db| {
            write(db, |table| {
                let existed = table
                    .remove((plugin.as_str(), key.as_str()))
                    .map_err(storage)?
                    .is_some();
                Ok((existed, existed))
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_error_stays_three_words() {
        assert!(size_of::<KvError>() <= 3 * size_of::<usize>());
    }

    #[test]
    fn caps_admit_their_limit_and_refuse_one_more() {
        assert!(KvError::check_key(&"k".repeat(MAX_KV_KEY_BYTES)).is_ok());
        assert!(matches!(
            KvError::check_key(&"k".repeat(MAX_KV_KEY_BYTES + 1)),
            Err(KvError::KeyTooLarge { len, max: MAX_KV_KEY_BYTES }) if len == MAX_KV_KEY_BYTES + 1
        ));
        assert!(KvError::check_value(&vec![0; MAX_KV_VALUE_BYTES]).is_ok());
        assert!(matches!(
            KvError::check_value(&vec![0; MAX_KV_VALUE_BYTES + 1]),
            Err(KvError::ValueTooLarge { .. })
        ));
    }
}
