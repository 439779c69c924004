//! What the manager reports: plugin status, where code came from, per
//! plugin information and the outcome of a discovery.

use std::path::PathBuf;

use anywasm::Limits;
use semver::Version as SemVer;

use crate::error::PluginError;
use crate::metrics::MetricsSnapshot;

/// Whether a plugin is serving its newest file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Loaded and serving.
    Running,
    /// Serving, but the last attempt to replace it failed (see
    /// [`PluginInfo::last_error`]); the working version stays.
    UpdateFailed,
}

/// Where a plugin version's compiled code came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeSource {
    /// Compiled from its wasm bytes.
    Compiled,
    /// The manager had compiled the same module (same SHA-256) before.
    Memory,
    /// Loaded from the disk cache
    /// ([`module_cache`](crate::PluginManagerBuilder::module_cache)).
    Disk,
}

/// What [`PluginManager::list_plugins`](crate::PluginManager::list_plugins) reports per plugin.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PluginInfo {
    /// The plugin's name.
    pub name: String,
    /// The version serving calls.
    pub version: SemVer,
    /// Its manifest's description.
    pub description: Option<String>,
    /// Running, or running with a failed update.
    pub status: Status,
    /// SHA-256 of the serving module, hex.
    pub sha256: String,
    /// Whether its signature verified against a trusted key.
    pub signed: bool,
    /// Where its compiled code came from.
    pub code: CodeSource,
    /// The capabilities its manifest asks for.
    pub capabilities: Vec<String>,
    /// Those the host's policy granted (the rest are denied: importing
    /// their host functions fails the load).
    pub granted: Vec<String>,
    /// The limits each of its stores runs under: the manifest's `[limits]`
    /// capped by the host's; a fuel budget is per call.
    pub limits: Limits,
    /// The file it was loaded from, if any.
    pub path: Option<PathBuf>,
    /// Instance pool size.
    pub instances: usize,
    /// The linear memory the module asks for before it runs (the largest
    /// initial size among its memories), bytes; each pooled instance
    /// allocates at least this much. Capped by
    /// [`Limits::initial_memory_bytes`](anywasm::Limits::initial_memory_bytes).
    pub initial_memory_bytes: u64,
    /// Call metrics (kept across versions).
    pub metrics: MetricsSnapshot,
    /// The last load, reload or init error, if the last attempt failed.
    pub last_error: Option<String>,
    /// Successful reloads.
    pub reloads: u64,
    /// Reload attempts, successful or not.
    pub reload_attempts: u64,
}

/// One plugin a [`LoadReport`] says loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: SemVer,
    /// Its file.
    pub path: PathBuf,
}

/// What [`PluginManager::discover`](crate::PluginManager::discover) did: plugins loaded (in load order,
/// dependencies first) and, per file that did not load, why.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Loaded, in dependency order.
    pub loaded: Vec<Loaded>,
    /// Files that did not load, with the typed reason.
    pub failed: Vec<(PathBuf, PluginError)>,
}

impl LoadReport {
    /// The error for the file named `file_name`, if it failed.
    pub fn failure(&self, file_name: &str) -> Option<&PluginError> {
        self.failed
            .iter()
            .find(|(p, _)| p.file_name().is_some_and(|n| n == file_name))
            .map(|(_, e)| e)
    }
}
