//! One loaded version of a plugin: its checked manifest, compiled module,
//! effective limits and granted capabilities, and its instance pool.
//!
//! The pool holds up to `size` instances, each an [`anywasm::Plugin`] with
//! its own store (so calls to one plugin run in parallel, and a guest's
//! memory is never shared between concurrent calls). A call takes a permit,
//! checks an idle instance out (or makes one), calls it with no lock held,
//! and puts it back, unless it trapped: then it is dropped and the next
//! call makes a fresh one. A version that is replaced or unloaded is retired
//! by taking every permit (so in-flight calls finish first), then closing
//! the pool; a call that loses that race retries on the current version.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anywasm::{Capabilities, DynModule, Limits, Plugin};
use tokio::sync::Semaphore;

use crate::Manifest;
use crate::integrity::Checksum;
use crate::services::HostCtx;

pub(crate) struct Version {
    pub(crate) manifest: Manifest,
    pub(crate) checksum: Checksum,
    pub(crate) signed: bool,
    pub(crate) path: Option<PathBuf>,
    pub(crate) module: DynModule,
    pub(crate) code: crate::CodeSource,
    pub(crate) granted: Capabilities,
    /// The WASI grant each new instance's context is built from.
    pub(crate) wasi: crate::wasi::WasiGrant,
    pub(crate) limits: Limits,
    /// The largest initial size among the module's memories, bytes.
    pub(crate) initial_memory_bytes: u64,
    /// Fuel given to each call (refilled before it), if metered.
    pub(crate) fuel_per_call: Option<u64>,
    pub(crate) has_init: bool,
    pub(crate) has_shutdown: bool,
    pub(crate) has_health: bool,
    pub(crate) pool: Pool,
}

impl std::fmt::Debug for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Version")
            .field("name", &self.manifest.name)
            .field("version", &self.manifest.version)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Pool {
    pub(crate) idle: Mutex<Vec<Plugin<HostCtx>>>,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) size: usize,
}

impl Pool {
    pub(crate) fn new(size: usize, first: Plugin<HostCtx>) -> Self {
        Self {
            idle: Mutex::new(vec![first]),
            permits: Arc::new(Semaphore::new(size)),
            size,
        }
    }

    pub(crate) fn take(&self) -> Option<Plugin<HostCtx>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    pub(crate) fn put(&self, plugin: Plugin<HostCtx>) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(plugin);
    }
}
