//! The cost table, version [`COST_TABLE_VERSION`]: what each operator costs
//! and where metered segments begin.
//!
//! | operators | gas |
//! |---|---|
//! | `nop`, `block`, `loop`, `else`, `end` (structure, no work) | 0 |
//! | `call`, `return_call` | 5 |
//! | `call_indirect`, `return_call_indirect`, `call_ref`, `return_call_ref` | 10 |
//! | `memory.grow` | 100, plus [`PAGE_COST`] per page if it grew |
//! | `memory.fill`, `memory.copy`, `memory.init` | 5, plus 1 per [`BYTES_PER_GAS`] bytes (rounded up) |
//! | `table.fill`, `table.copy`, `table.init` | 5, plus [`ELEMENT_COST`] per element |
//! | `table.grow` | 5, plus [`ELEMENT_COST`] per element if it grew |
//! | every other operator (arithmetic, locals, globals, loads, stores, SIMD, branches, ...) | 1 |
//!
//! The per-size parts are charged from the operand the operation receives:
//! before a bulk operation runs, and after a grow, only if it grew. A grow a
//! limit refuses returns -1 and pays its flat cost alone (version 1 charged
//! it in full first, so a refused grow could run a budget out).
//!
//! Any change to a weight or to the segment rules is a new table version:
//! gas numbers are comparable only under one version.

use wasmparser::Operator;

/// The version of this table. Instrumented modules record it in a custom
/// section (see [`crate::VERSION_SECTION`]).
pub const COST_TABLE_VERSION: u32 = 2;

/// Gas per 64 KiB page a `memory.grow` adds (the same rate as writing the
/// page with `memory.fill`), charged only if the memory grew.
pub const PAGE_COST: u64 = 65536 / BYTES_PER_GAS;

/// Bytes of a bulk memory operation that cost one unit of gas.
pub const BYTES_PER_GAS: u64 = 64;

/// Gas per table element a bulk table operation touches or a `table.grow`
/// adds (charged only if the table grew).
pub const ELEMENT_COST: u64 = 1;

/// What an operator costs beyond its static weight, computed from its last
/// operand (a 32-bit length or count) when it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dynamic {
    /// `len` bytes: `ceil(len / BYTES_PER_GAS)`.
    Bytes,
    /// `n` elements: `n * ELEMENT_COST`.
    Elements,
    /// `n` pages: `n * PAGE_COST`.
    Pages,
}

/// The static weight of `op` (charged with its segment).
pub(crate) fn weight(op: &Operator<'_>) -> u64 {
    use Operator::*;
    match op {
        Nop | Block { .. } | Loop { .. } | Else | End => 0,
        Call { .. } | ReturnCall { .. } => 5,
        CallIndirect { .. } | ReturnCallIndirect { .. } | CallRef { .. } | ReturnCallRef { .. } => {
            10
        }
        MemoryGrow { .. } => 100,
        MemoryFill { .. } | MemoryCopy { .. } | MemoryInit { .. } => 5,
        TableFill { .. } | TableCopy { .. } | TableInit { .. } | TableGrow { .. } => 5,
        _ => 1,
    }
}

/// The size-dependent part of `op`'s cost, if it has one.
pub(crate) fn dynamic(op: &Operator<'_>) -> Option<Dynamic> {
    use Operator::*;
    match op {
        MemoryFill { .. } | MemoryCopy { .. } | MemoryInit { .. } => Some(Dynamic::Bytes),
        TableFill { .. } | TableCopy { .. } | TableInit { .. } | TableGrow { .. } => {
            Some(Dynamic::Elements)
        }
        MemoryGrow { .. } => Some(Dynamic::Pages),
        _ => None,
    }
}

/// Whether `op` grows a memory or table: its size-dependent charge comes
/// after it, and only if it succeeded (a grow a limit refuses returns -1
/// and must cost the same on every engine: its static weight).
pub(crate) fn grows(op: &Operator<'_>) -> bool {
    matches!(op, Operator::MemoryGrow { .. } | Operator::TableGrow { .. })
}

/// Whether a new metered segment begins right after `op`: after every
/// operator that opens, separates or closes a block, or may transfer control
/// (so what follows runs a different number of times, or not at all).
/// Calls do not end a segment: the caller's segment was paid in full before
/// the call, callee included or not.
pub(crate) fn ends_segment(op: &Operator<'_>) -> bool {
    use Operator::*;
    matches!(
        op,
        Block { .. }
            | Loop { .. }
            | If { .. }
            | Else
            | End
            | Br { .. }
            | BrIf { .. }
            | BrTable { .. }
            | BrOnNull { .. }
            | BrOnNonNull { .. }
            | BrOnCast { .. }
            | BrOnCastFail { .. }
            | Return
            | ReturnCall { .. }
            | ReturnCallIndirect { .. }
            | ReturnCallRef { .. }
            | Unreachable
    )
}

/// Operators the pass refuses: exception handling (its handlers are entered
/// from anywhere a throw can happen, which per-segment charging does not
/// model).
pub(crate) fn unsupported(op: &Operator<'_>) -> Option<&'static str> {
    use Operator::*;
    match op {
        Try { .. }
        | Catch { .. }
        | CatchAll
        | Throw { .. }
        | Rethrow { .. }
        | Delegate { .. }
        | TryTable { .. }
        | ThrowRef => Some("exception handling"),
        _ => None,
    }
}
