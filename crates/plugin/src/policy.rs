//! Which capabilities each plugin gets: denied by default, granted per plugin
//! (or to every plugin) one explicit call at a time. A plugin receives a
//! capability only if its manifest asks for it *and* the policy grants it.

use std::collections::{BTreeMap, BTreeSet};

use anywasm::Capabilities;

use crate::Manifest;

/// The host's capability policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapabilityPolicy {
    everyone: BTreeSet<String>,
    per_plugin: BTreeMap<String, BTreeSet<String>>,
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
