//! Which capabilities each plugin gets: denied by default, granted per plugin
//! (or to every plugin) one explicit call at a time. A plugin receives a
//! capability only if its manifest asks for it *and* the policy grants it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anywasm::Capabilities;
use anywasm::wasi::DirPerms;

use crate::Manifest;

/// The host's capability policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapabilityPolicy {
    everyone: BTreeSet<String>,
    per_plugin: BTreeMap<String, BTreeSet<String>>,
    /// (plugin, guest path) -> host directory and the most it may do.
    dirs: BTreeMap<(String, String), (PathBuf, DirPerms)>,
    /// plugin -> WASI environment variables.
    env: BTreeMap<String, Vec<(String, String)>>,
}

impl CapabilityPolicy {
    /// Nothing granted to anyone.
    pub fn new() -> Self {
        Self::default()
    }

    /// Grant `capability` to the plugin named `plugin`.
    pub fn grant(mut self, plugin: &str, capability: &str) -> Self {
        self.per_plugin
            .entry(plugin.into())
            .or_default()
            .insert(capability.into());
        self
    }

    /// Grant `capability` to every plugin that asks for it.
    pub fn grant_all(mut self, capability: &str) -> Self {
        self.everyone.insert(capability.into());
        self
    }

    /// Map the guest path `guest` of `plugin`'s `[wasi.dirs]` to the host
    /// directory `host`, allowing at most `perms` (a plugin asking for less
    /// gets less).
    pub fn grant_dir(
        mut self,
        plugin: &str,
        guest: &str,
        host: impl Into<PathBuf>,
        perms: DirPerms,
    ) -> Self {
        self.dirs
            .insert((plugin.into(), guest.into()), (host.into(), perms));
        self
    }

    /// Set the WASI environment variable `key` for `plugin` (it sees it only
    /// if its manifest asks for `env` and `wasi:env` is granted).
    pub fn grant_env(mut self, plugin: &str, key: &str, value: &str) -> Self {
        self.env
            .entry(plugin.into())
            .or_default()
            .push((key.into(), value.into()));
        self
    }

    pub(crate) fn dir_for(&self, plugin: &str, guest: &str) -> Option<(PathBuf, DirPerms)> {
        self.dirs
            .get(&(plugin.to_string(), guest.to_string()))
            .cloned()
    }

    pub(crate) fn env_for(&self, plugin: &str) -> Vec<(String, String)> {
        self.env.get(plugin).cloned().unwrap_or_default()
    }

    /// Whether `plugin` may have `capability`.
    pub fn allows(&self, plugin: &str, capability: &str) -> bool {
        self.everyone.contains(capability)
            || self
                .per_plugin
                .get(plugin)
                .is_some_and(|caps| caps.contains(capability))
    }

    /// What the plugin of `manifest` is granted.
    pub fn granted(&self, manifest: &Manifest) -> Capabilities {
        manifest
            .capabilities
            .iter()
            .filter(|c| self.allows(&manifest.name, c))
            .fold(Capabilities::none(), |caps, c| caps.grant(c))
    }
}
