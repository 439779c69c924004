//! Commands and reactors, as the WASI application ABI defines them.
//!
//! A *command* exports `_start`: the host calls it once, and the program's
//! exit status is 0 if it returns, or what it passed to `proc_exit`. A
//! *reactor* exports `_initialize` (a library-style module, e.g. a plugin):
//! the host calls it once, right after instantiation and before any other
//! export. A module may export neither (nothing to initialise) but not both.

use anywasm_core::{DynStore, Error, ErrorKind, ExportType, ExternType, InstanceId, Result};

/// The export a command runs.
pub const START: &str = "_start";
/// The export a reactor initialises with.
pub const INITIALIZE: &str = "_initialize";

/// What a module is, by its exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleKind {
    /// Exports `_start`.
    Command,
    /// Exports `_initialize`.
    Reactor,
    /// Exports neither.
    Library,
}

/// Classify a module by its exports: exporting both `_start` and
/// `_initialize` breaks the ABI ([`ErrorKind::Unlinkable`]).
pub fn module_kind(exports: &[ExportType]) -> Result<ModuleKind> {
    let is_func = |name: &str| {
        exports
            .iter()
            .any(|e| e.name == name && matches!(e.ty, ExternType::Func(_)))
    };
    match (is_func(START), is_func(INITIALIZE)) {
        (true, true) => Err(Error::new(
            ErrorKind::Unlinkable,
            "the module exports both `_start` and `_initialize`; a WASI module is a command or a reactor, not both",
        )),
        (true, false) => Ok(ModuleKind::Command),
        (false, true) => Ok(ModuleKind::Reactor),
        (false, false) => Ok(ModuleKind::Library),
    }
}

/// Run a command: call `_start` and return its exit status (0 when it
/// returns, the `proc_exit` status when it exits). A trap or any other
/// failure is the error.
pub fn run_command<T>(store: &mut dyn DynStore<T>, instance: InstanceId) -> Result<u32> {
    match store.call_export(instance, START, &[]) {
        Ok(_) => Ok(0),
        Err(e) => match e.exit_code() {
            Some(code) => Ok(code),
            None => Err(e),
        },
    }
}

/// Initialise a reactor: call `_initialize` if the module exports it
/// (otherwise do nothing). An exit during initialisation is an error
/// ([`ErrorKind::Exit`]): the instance cannot serve calls afterwards.
pub fn initialize<T>(
    store: &mut dyn DynStore<T>,
    instance: InstanceId,
    exports: &[ExportType],
) -> Result<()> {
    if module_kind(exports)? == ModuleKind::Reactor {
        store.call_export(instance, INITIALIZE, &[])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use anywasm_core::FuncType;

    fn func(name: &str) -> ExportType {
        ExportType {
            name: name.into(),
            ty: ExternType::Func(FuncType::new([], [])),
        }
    }

    #[test]
    fn kinds_follow_the_exports() {
        assert_eq!(module_kind(&[func(START)]).unwrap(), ModuleKind::Command);
        assert_eq!(
            module_kind(&[func(INITIALIZE)]).unwrap(),
            ModuleKind::Reactor
        );
        assert_eq!(module_kind(&[func("run")]).unwrap(), ModuleKind::Library);
        let both = module_kind(&[func(START), func(INITIALIZE)]).unwrap_err();
        assert_eq!(both.kind(), ErrorKind::Unlinkable);
    }
}
