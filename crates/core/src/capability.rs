//! Capabilities: what a guest may import, denied by default.
//!
//! Host functions can be tagged with a capability
//! ([`Linker::func_with_capability`], [`Linker::abi_func`]); a guest gets to
//! import them only if the host granted that capability to it.
//! [`check_capabilities`] runs before instantiation, so a plugin asking for
//! more than it was granted fails at load time with an error naming the
//! import and the capability, before any of its code runs.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;

use crate::{Error, ErrorKind, ImportType, Linker, Result};

/// A set of granted capability names. Empty by default: nothing is granted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    granted: BTreeSet<String>,
}

impl Capabilities {
    /// Nothing granted.
    pub fn none() -> Self {
        Self::default()
    }

    /// Grant `name` (one explicit call per capability).
    pub fn grant(mut self, name: &str) -> Self {
        self.granted.insert(name.into());
        self
    }

    /// Whether `name` is granted.
    pub fn is_granted(&self, name: &str) -> bool {
        self.granted.contains(name)
    }

    /// The granted names, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.granted.iter().map(String::as_str)
    }
}

/// Grant every name: `wasi::capability::ALL.into_iter().collect()`.
impl<'a> FromIterator<&'a str> for Capabilities {
    fn from_iter<I: IntoIterator<Item = &'a str>>(names: I) -> Self {
        names.into_iter().fold(Self::none(), Self::grant)
    }
}

/// Refuse a module that imports a host function of `linker` whose capability
/// is not in `granted` ([`ErrorKind::CapabilityDenied`]).
pub fn check_capabilities<T>(
    imports: &[ImportType],
    linker: &Linker<T>,
    granted: &Capabilities,
) -> Result<()> {
    for import in imports {
        let Some(func) = linker.get(&import.module, &import.name) else {
            continue;
        };
        if let Some(cap) = func.capability().filter(|c| !granted.is_granted(c)) {
            return Err(Error::new(
                ErrorKind::CapabilityDenied,
                format!(
                    "the module imports `{}::{}`, which needs the capability `{cap}`; it was not granted",
                    import.module, import.name
                ),
            ));
        }
    }
    Ok(())
}
