//! Spec trap messages to anywasm trap codes.
//!
//! The spec scripts name traps by the reference interpreter's message text;
//! engines word them differently, so the runner never compares messages.
//! Instead each message maps to the [`TrapCode`] the contract promises for
//! that fault, and the engine's error must carry exactly that code.

use anywasm::TrapCode;

/// The trap code a spec message stands for, or `None` for a message this
/// table does not know (the runner reports that as a failure, so a new
/// message in a newer suite is noticed rather than waved through).
pub(crate) fn code_for(message: &str) -> Option<TrapCode> {
    // Longest-prefix style: some messages carry a suffix (`uninitialized element 2`).
    const TABLE: &[(&str, TrapCode)] = &[
        ("unreachable", TrapCode::Unreachable),
        ("out of bounds memory access", TrapCode::MemoryOutOfBounds),
        ("memory access out of bounds", TrapCode::MemoryOutOfBounds),
        ("out of bounds table access", TrapCode::TableOutOfBounds),
        // `call_indirect` with an index past the table's end.
        ("undefined element", TrapCode::TableOutOfBounds),
        // `call_indirect` through a null slot.
        ("uninitialized element", TrapCode::IndirectCallToNull),
        ("indirect call type mismatch", TrapCode::BadSignature),
        ("integer overflow", TrapCode::IntegerOverflow),
        ("integer divide by zero", TrapCode::IntegerDivisionByZero),
        (
            "invalid conversion to integer",
            TrapCode::BadConversionToInteger,
        ),
        ("call stack exhausted", TrapCode::StackOverflow),
        ("null function reference", TrapCode::NullReference),
        ("null reference", TrapCode::NullReference),
    ];
    TABLE
        .iter()
        .find(|(prefix, _)| message.starts_with(prefix))
        .map(|(_, code)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_messages_map_to_contract_codes() {
        assert_eq!(
            code_for("uninitialized element 2"),
            Some(TrapCode::IndirectCallToNull)
        );
        assert_eq!(
            code_for("undefined element"),
            Some(TrapCode::TableOutOfBounds)
        );
        assert_eq!(
            code_for("out of bounds memory access"),
            Some(TrapCode::MemoryOutOfBounds)
        );
        assert_eq!(code_for("something new"), None);
    }
}
