//! Running start functions under the per-call deadline.
//!
//! wasmi runs a module's start function inside `Instance::new` with a plain,
//! non-resumable call, so a timeout could not stop a start function that
//! loops forever, and a host function that is the start function is called
//! from the host side: its `Caller` has no instance, so it could not see the
//! memory or exports of the instance it starts (it can on wasmtime and
//! wasmer). The backend therefore moves the start function out of the module
//! before compiling it: the start section is removed and the function is
//! exported under [`START_EXPORT`] instead. After `Instance::new` (which
//! still initialises tables and memories first, as the spec orders it) the
//! backend calls that export like any guest call, under the store's limits
//! (in fuel slices checked against the clock with [`Config::timeouts`]); an
//! imported host function called this way is handed the new instance as its
//! caller's. The export is hidden from every anywasm API.
//!
//! [`Config::timeouts`]: anywasm_core::Config::timeouts

use alloc::vec::Vec;

/// The export name the start function is moved to. Never visible through
/// anywasm: lookups of this name fail as if it did not exist.
pub(crate) const START_EXPORT: &str = "\u{0}anywasm:start";

const SECTION_EXPORT: u8 = 7;
const SECTION_START: u8 = 8;

fn read_leb_u32(bytes: &[u8], pos: &mut usize) -> Option<u32> {
    let mut result: u32 = 0;
    for i in 0..5 {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        let low = u32::from(byte & 0x7f);
        if i == 4 && low > 0x0f {
            return None;
        }
        result |= low << (7 * i);
        if byte & 0x80 == 0 {
            return Some(result);
        }
    }
    None
}

fn write_leb_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn push_section(out: &mut Vec<u8>, id: u8, payload: &[u8]) -> Option<()> {
    out.push(id);
    write_leb_u32(out, u32::try_from(payload.len()).ok()?);
    out.extend_from_slice(payload);
    Some(())
}

/// The export section payload with one more export: the start function.
fn export_payload(existing: Option<&[u8]>, start: u32) -> Option<Vec<u8>> {
    let (count, entries) = match existing {
        Some(payload) => {
            let mut pos = 0;
            let count = read_leb_u32(payload, &mut pos)?;
            (count, &payload[pos..])
        }
        None => (0, &[][..]),
    };
    let mut out = Vec::with_capacity(entries.len() + START_EXPORT.len() + 12);
    write_leb_u32(&mut out, count.checked_add(1)?);
    out.extend_from_slice(entries);
    write_leb_u32(&mut out, START_EXPORT.len() as u32);
    out.extend_from_slice(START_EXPORT.as_bytes());
    out.push(0x00); // function export
    write_leb_u32(&mut out, start);
    Some(out)
}

/// If `wasm` has a start section, the same module with the start function
/// exported as [`START_EXPORT`] instead. `None` if there is no start
/// section or the framing cannot be read (then wasmi gets the original
/// bytes and reports whatever is wrong with them).
pub(crate) fn hoist(wasm: &[u8]) -> Option<(Vec<u8>, u32)> {
    let header = wasm.get(..8)?;
    let mut sections = Vec::new();
    let mut pos = 8;
    let mut start = None;
    let mut export = None;
    while pos < wasm.len() {
        let id = wasm[pos];
        pos += 1;
        let len = read_leb_u32(wasm, &mut pos)? as usize;
        let payload = wasm.get(pos..pos.checked_add(len)?)?;
        pos += len;
        // Anything unusual (duplicate sections, a start section before the
        // exports, trailing bytes) is left to wasmi to reject as it is:
        // the rewrite must never turn an invalid module into a valid one.
        match id {
            SECTION_START => {
                let mut p = 0;
                let index = read_leb_u32(payload, &mut p)?;
                if start.is_some() || p != payload.len() {
                    return None;
                }
                start = Some(index);
            }
            SECTION_EXPORT => {
                if export.is_some() || start.is_some() {
                    return None;
                }
                export = Some(payload);
            }
            _ => {}
        }
        sections.push((id, payload));
    }
    let start = start?;
    let exports = export_payload(export, start)?;
    let mut out = Vec::with_capacity(wasm.len() + START_EXPORT.len() + 16);
    out.extend_from_slice(header);
    for (id, payload) in sections {
        match id {
            SECTION_EXPORT => push_section(&mut out, SECTION_EXPORT, &exports)?,
            // Without an export section, the new one takes the start
            // section's place (exports come right before start).
            SECTION_START if export.is_none() => push_section(&mut out, SECTION_EXPORT, &exports)?,
            SECTION_START => {}
            _ => push_section(&mut out, id, payload)?,
        }
    }
    Some((out, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb_round_trip() {
        for v in [0, 1, 127, 128, 300, 16_384, u32::MAX] {
            let mut out = Vec::new();
            write_leb_u32(&mut out, v);
            let mut pos = 0;
            assert_eq!(read_leb_u32(&out, &mut pos), Some(v));
            assert_eq!(pos, out.len());
        }
        let mut pos = 0;
        assert_eq!(
            read_leb_u32(&[0xff, 0xff, 0xff, 0xff, 0x7f], &mut pos),
            None
        );
    }

    #[test]
    fn no_start_no_rewrite() {
        assert!(hoist(b"\0asm\x01\0\0\0").is_none());
        assert!(hoist(b"junk").is_none());
        // Truncated section.
        assert!(hoist(b"\0asm\x01\0\0\0\x08\x05\x00").is_none());
    }
}
