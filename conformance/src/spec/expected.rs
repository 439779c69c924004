//! Known spec failures, per backend, each with a reason.
//!
//! An entry names the backend, the file (`<group>/<name>`), the exact number
//! of assertions that fail, whether the cause is the engine or anywasm, and
//! why. The runner fails a listed file that fails *more* (a regression) or
//! *fewer* (progress: shrink the entry) than listed, so the list only
//! shrinks. Gaps in anywasm itself are fixed in the backend, not listed.

use anywasm::BackendKind;

use super::{Mode, SpecFile};

/// Whose limitation an expected failure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The engine itself does not implement the behaviour.
    Engine,
    /// The anywasm contract cannot express what the script needs.
    Contract,
    /// The engine follows a later spec version (wasm 3.0) under which the
    /// wasm 2.0 assertion no longer holds, e.g. multi-memory makes a second
    /// memory valid.
    NewerSpec,
}

/// One listed failure.
#[derive(Clone, Copy, Debug)]
pub struct ExpectedFailure {
    /// Which backend.
    pub backend: BackendKind,
    /// Which modes it applies to.
    pub modes: &'static [Mode],
    /// `<group>/<name>` of the file.
    pub file: &'static str,
    /// How many assertions fail.
    pub failures: usize,
    /// Whose limitation.
    pub reason: Reason,
    /// Why, one sentence.
    pub why: &'static str,
}

/// Every mode: the failure is the engine's, whatever meters it.
const ALL_MODES: &[Mode] = &[Mode::Plain, Mode::Fuel, Mode::Gas];
const FUEL: &[Mode] = &[Mode::Fuel];
/// Without gas: the gas pass parses with the wasmparser wasmi uses (0.228),
/// which rejects these encodings as wasm 2.0 does.
const NO_GAS: &[Mode] = &[Mode::Plain, Mode::Fuel];

const MULTI_MEMORY: &str = "multi-memory is standard in wasm 3.0 and on in the engine: \
     a second memory (or a memory index byte) is valid there, invalid in 2.0";

macro_rules! entry {
    ($backend:ident, $modes:expr, $file:literal, $n:literal, $reason:ident, $why:expr) => {
        ExpectedFailure {
            backend: BackendKind::$backend,
            modes: $modes,
            file: $file,
            failures: $n,
            reason: Reason::$reason,
            why: $why,
        }
    };
}

/// The list. Keep it short and every entry explained.
const LIST: &[ExpectedFailure] = &[
    entry!(
        Wasmtime,
        NO_GAS,
        "wasm-v2/binary-leb128.wast",
        2,
        NewerSpec,
        MULTI_MEMORY
    ),
    entry!(
        Wasmtime,
        ALL_MODES,
        "wasm-v2/binary.wast",
        8,
        NewerSpec,
        MULTI_MEMORY
    ),
    entry!(
        Wasmtime,
        ALL_MODES,
        "wasm-v2/imports.wast",
        3,
        NewerSpec,
        MULTI_MEMORY
    ),
    entry!(
        Wasmtime,
        ALL_MODES,
        "wasm-v2/memory.wast",
        2,
        NewerSpec,
        MULTI_MEMORY
    ),
    entry!(
        Wasmer,
        ALL_MODES,
        "wasm-v2/binary.wast",
        8,
        NewerSpec,
        MULTI_MEMORY
    ),
    entry!(
        Wasmer,
        ALL_MODES,
        "wasm-v2/imports.wast",
        3,
        NewerSpec,
        MULTI_MEMORY
    ),
    entry!(
        Wasmer,
        ALL_MODES,
        "wasm-v2/memory.wast",
        2,
        NewerSpec,
        MULTI_MEMORY
    ),
    entry!(
        Wasmer,
        ALL_MODES,
        "wasm-v2/elem.wast",
        2,
        Engine,
        "wasmer rejects `global.get` of an imported global as an element segment item \
         (`unsupported init expr in element section`); the second failure calls the \
         module that could not compile"
    ),
    entry!(
        Wasmer,
        FUEL,
        "wasm-v2/linking.wast",
        2,
        Engine,
        "wasmer meters per instance, in globals of the instance: a function an \
         instantiation wrote into an imported table before failing belongs to an \
         instance that never existed, so its points stay at zero and calling it traps \
         (docs/divergences.md)"
    ),
    entry!(
        Wasmi,
        ALL_MODES,
        "wasm-v2/binary.wast",
        8,
        NewerSpec,
        MULTI_MEMORY
    ),
    entry!(
        Wasmi,
        ALL_MODES,
        "wasm-v2/linking.wast",
        2,
        Engine,
        "wasmi finishes an instance only after its element and data segments: functions a \
         failed instantiation already wrote into an imported table belong to an instance \
         it never filled in, and running one can crash the host, so anywasm sets those \
         slots back to null (the script expects them callable; docs/divergences.md)"
    ),
    entry!(
        Wasmi,
        ALL_MODES,
        "wasm-v2/imports.wast",
        3,
        NewerSpec,
        MULTI_MEMORY
    ),
    entry!(
        Wasmi,
        ALL_MODES,
        "wasm-v2/memory.wast",
        2,
        NewerSpec,
        MULTI_MEMORY
    ),
];

/// The listed failure for `file` on `backend` in `mode`, if any.
pub fn expected_failure(
    backend: BackendKind,
    mode: Mode,
    file: &SpecFile,
) -> Option<&'static ExpectedFailure> {
    let path = file.path();
    LIST.iter()
        .find(|x| x.backend == backend && x.modes.contains(&mode) && x.file == path)
}

/// Every entry, for reports.
pub fn all() -> &'static [ExpectedFailure] {
    LIST
}
