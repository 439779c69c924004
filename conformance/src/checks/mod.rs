//! The checks, one file per area. Adding a check means adding one entry
//! here; the runner and the CLI pick it up on every backend.

mod abi;
mod artifact;
mod asyncs;
mod gas;
mod handles;
mod host;
mod host_typed;
mod limits;
mod memory;
mod module;
mod relink;
mod traps;
mod values;
mod wasi;
mod wasi_fs;
mod wasi_guest;
mod wasi_plugin;

use crate::Check;

pub(crate) const VALUES: &str = include_str!("../../fixtures/values.wat");
pub(crate) const TRAPS: &str = include_str!("../../fixtures/traps.wat");
pub(crate) const HOST: &str = include_str!("../../fixtures/host.wat");
pub(crate) const LIMITS: &str = include_str!("../../fixtures/limits.wat");
pub(crate) const LINK: &str = include_str!("../../fixtures/link.wat");
pub(crate) const LINKED: &str = include_str!("../../fixtures/linked.wat");

/// Build a [`Check`] from a name, a one-line description and a closure.
macro_rules! check {
    ($name:literal, $about:literal, $body:expr) => {
        crate::Check {
            name: $name,
            about: $about,
            requires: None,
            run: $body,
        }
    };
    ($name:literal, $about:literal, requires $cap:expr, $body:expr) => {
        crate::Check {
            name: $name,
            about: $about,
            requires: Some($cap),
            run: $body,
        }
    };
}
pub(crate) use check;

pub(crate) fn all() -> Vec<Check> {
    let mut all = Vec::new();
    all.extend(values::checks());
    all.extend(memory::checks());
    all.extend(handles::checks());
    all.extend(module::checks());
    all.extend(relink::checks());
    all.extend(traps::checks());
    all.extend(host::checks());
    all.extend(host_typed::checks());
    all.extend(limits::checks());
    all.extend(abi::checks());
    all.extend(asyncs::checks());
    all.extend(gas::checks());
    all.extend(wasi::checks());
    all.extend(wasi_fs::checks());
    all.extend(wasi_plugin::checks());
    all.extend(artifact::checks());
    all
}
