//! The on-disk format of one cache entry: a header that says what the
//! payload is and how to check it, then the engine's artifact.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "AWMCACHE"
//!      8     4  format version, u32 little endian (FORMAT)
//!     12     4  header length, u32 (a multiple of 16: the payload is aligned)
//!     16    32  SHA-256 of the module's wasm bytes
//!     48    32  SHA-256 of the artifact format (engine, version, fingerprint)
//!     80     8  payload length, u64
//!     88    32  BLAKE3 of the payload
//!    120   1+n  engine name (length byte, UTF-8)
//!  121+n   1+m  engine version (length byte, UTF-8)
//!      …        zero padding up to the header length
//! header length  payload: the artifact, exactly `payload length` bytes
//! ```
//!
//! [`check`] goes through the header field by field and hands out the
//! payload only if every field matches what the caller expects and the
//! payload hashes to the recorded digest; the engine's unsafe
//! deserialisation never sees anything else. The names are kept in clear
//! so a rejection can say "written by wasmtime 47.0.0".
//!
//! The payload's digest is BLAKE3, not SHA-256: it is computed on every
//! load, over an artifact several times the module's size (640 KB for a
//! 141 KiB module on wasmer), and BLAKE3 does that about four times faster
//! (SHA-256 took 0.46 ms of a 1.3 ms load). The module itself is still
//! named by its SHA-256, the digest the plugin manager reports and signs.
//!
//! The digest catches corruption (a torn write, a flipped bit, a truncated
//! copy), not forgery: whoever can write the directory can also write a
//! matching digest. That is why the directory must be the host's alone
//! (see `dir.rs`).

use anywasm::ArtifactFormat;
use sha2::{Digest, Sha256};

use crate::Rejected;

/// `AWMCACHE`.
const MAGIC: &[u8; 8] = b"AWMCACHE";
/// This crate's entry format. Entries of another format are rejected.
pub(crate) const FORMAT: u32 = 2;
/// Bytes before the names.
const FIXED: usize = 120;
/// Longest header accepted (two names of at most 255 bytes, padded).
const MAX_HEADER: usize = 1024;

/// SHA-256.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// BLAKE3 of an entry's payload.
fn payload_digest(payload: &[u8]) -> [u8; 32] {
    blake3::hash(payload).into()
}

/// SHA-256 of everything in `format`, unambiguously framed.
pub(crate) fn format_digest(format: &ArtifactFormat) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [
        format.backend().name().as_bytes(),
        format.engine_version().as_bytes(),
        format.fingerprint(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// The file an entry for `module` (its SHA-256) under `format` is kept in:
/// 64 hex digits naming both, so entries of different engines and
/// configurations live side by side.
pub(crate) fn file_name(module: &[u8; 32], format: &ArtifactFormat) -> String {
    let mut h = Sha256::new();
    h.update(b"anywasm-cache key v1");
    h.update(module);
    h.update(format_digest(format));
    let key: [u8; 32] = h.finalize().into();
    let mut name: String = key.iter().map(|b| format!("{b:02x}")).collect();
    name.push_str(ENTRY_SUFFIX);
    name
}

/// Suffix of entry files (anything else in the directory is left alone).
pub(crate) const ENTRY_SUFFIX: &str = ".artifact";

fn name_field(out: &mut Vec<u8>, s: &str) {
    // Engine names and versions are short; a longer one is cut, which
    // only makes entries of that engine never match (never unsound).
    let bytes = &s.as_bytes()[..s.len().min(255)];
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

/// A complete entry: header, then `payload`.
pub(crate) fn encode(module: &[u8; 32], format: &ArtifactFormat, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // header length, below
    out.extend_from_slice(module);
    out.extend_from_slice(&format_digest(format));
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&payload_digest(payload));
    name_field(&mut out, format.backend().name());
    name_field(&mut out, format.engine_version());
    out.resize(out.len().next_multiple_of(16), 0);
    let header_len = out.len() as u32;
    out[12..16].copy_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Reads fields front to back; running out is `Truncated`.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Rejected> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(Rejected::Truncated {
                len: self.bytes.len() as u64,
                needed: (self.pos + n) as u64,
            });
        };
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Rejected> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn name(&mut self) -> Result<&'a str, Rejected> {
        let len = self.take(1)?[0] as usize;
        std::str::from_utf8(self.take(len)?)
            .map_err(|_| Rejected::Malformed("a name in the header is not UTF-8".into()))
    }
}

/// Check an entry read from disk against the module and engine it is
/// meant for; the payload (the engine's artifact) if every check passes.
pub(crate) fn check<'a>(
    bytes: &'a [u8],
    module: &[u8; 32],
    format: &ArtifactFormat,
) -> Result<&'a [u8], Rejected> {
    let mut r = Reader { bytes, pos: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return Err(Rejected::Malformed("no magic number".into()));
    }
    let found = u32::from_le_bytes(r.array()?);
    if found != FORMAT {
        return Err(Rejected::FormatVersion {
            found,
            expected: FORMAT,
        });
    }
    let header_len = u32::from_le_bytes(r.array()?) as usize;
    if !(FIXED + 2..=MAX_HEADER).contains(&header_len) || !header_len.is_multiple_of(16) {
        return Err(Rejected::Malformed(format!("header length {header_len}")));
    }
    let entry_module: [u8; 32] = r.array()?;
    let entry_format: [u8; 32] = r.array()?;
    let payload_len = u64::from_le_bytes(r.array()?);
    let payload_digest: [u8; 32] = r.array()?;
    let engine = r.name()?;
    let version = r.name()?;
    if engine != format.backend().name() || version != format.engine_version() {
        return Err(Rejected::OtherEngine {
            engine: engine.into(),
            version: version.into(),
            expected_engine: format.backend().name().into(),
            expected_version: format.engine_version().into(),
        });
    }
    if entry_format != format_digest(format) {
        return Err(Rejected::OtherConfig);
    }
    if entry_module != *module {
        return Err(Rejected::OtherModule);
    }
    if r.pos > header_len {
        return Err(Rejected::Malformed(format!(
            "names end at {} past the header length {header_len}",
            r.pos
        )));
    }
    if bytes.len() < header_len {
        return Err(Rejected::Truncated {
            len: bytes.len() as u64,
            needed: header_len as u64,
        });
    }
    let remaining = (bytes.len() - header_len) as u64;
    if remaining < payload_len {
        return Err(Rejected::Truncated {
            len: bytes.len() as u64,
            needed: header_len as u64 + payload_len,
        });
    }
    if remaining > payload_len {
        return Err(Rejected::Corrupt(format!(
            "{} bytes follow the payload",
            remaining - payload_len
        )));
    }
    let payload = &bytes[header_len..];
    if self::payload_digest(payload) != payload_digest {
        return Err(Rejected::Corrupt(
            "the payload does not match its BLAKE3 digest".into(),
        ));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use anywasm::BackendKind;

    use super::*;

    fn format() -> ArtifactFormat {
        ArtifactFormat::new(BackendKind::Wasmtime, "48.0.0", *b"config")
    }

    const MODULE: [u8; 32] = [7; 32];

    #[test]
    fn round_trip_and_alignment() {
        let entry = encode(&MODULE, &format(), b"payload");
        let header_len = u32::from_le_bytes(entry[12..16].try_into().unwrap()) as usize;
        assert_eq!(header_len % 16, 0);
        assert_eq!(check(&entry, &MODULE, &format()), Ok(&b"payload"[..]));
    }

    #[test]
    fn every_field_is_checked() {
        let entry = encode(&MODULE, &format(), b"payload");
        let other = |f: ArtifactFormat| check(&entry, &MODULE, &f).unwrap_err();
        assert!(matches!(
            other(ArtifactFormat::new(
                BackendKind::Wasmtime,
                "47.0.0",
                *b"config"
            )),
            Rejected::OtherEngine { .. }
        ));
        assert!(matches!(
            other(ArtifactFormat::new(
                BackendKind::Wasmer,
                "48.0.0",
                *b"config"
            )),
            Rejected::OtherEngine { .. }
        ));
        assert_eq!(
            other(ArtifactFormat::new(
                BackendKind::Wasmtime,
                "48.0.0",
                *b"fuel"
            )),
            Rejected::OtherConfig
        );
        assert_eq!(
            check(&entry, &[8; 32], &format()).unwrap_err(),
            Rejected::OtherModule
        );
    }

    #[test]
    fn damage_is_rejected() {
        let entry = encode(&MODULE, &format(), b"payload");
        let header_len = u32::from_le_bytes(entry[12..16].try_into().unwrap()) as usize;
        for cut in [0, 7, 20, 100, header_len - 1, header_len, entry.len() - 1] {
            assert!(
                matches!(
                    check(&entry[..cut], &MODULE, &format()),
                    Err(Rejected::Truncated { .. } | Rejected::Malformed(_))
                ),
                "cut at {cut}"
            );
        }
        let mut flipped = entry.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(
            check(&flipped, &MODULE, &format()),
            Err(Rejected::Corrupt(_))
        ));
        let mut longer = entry.clone();
        longer.push(0);
        assert!(matches!(
            check(&longer, &MODULE, &format()),
            Err(Rejected::Corrupt(_))
        ));
        let mut future = entry.clone();
        future[8] = FORMAT as u8 + 1;
        assert_eq!(
            check(&future, &MODULE, &format()),
            Err(Rejected::FormatVersion {
                found: FORMAT + 1,
                expected: FORMAT
            })
        );
        assert!(matches!(
            check(b"\0asm\x01\0\0\0", &MODULE, &format()),
            Err(Rejected::Truncated { .. } | Rejected::Malformed(_))
        ));
        // An empty payload whose file stops inside the padding.
        let empty = encode(&MODULE, &format(), b"");
        assert!(matches!(
            check(&empty[..empty.len() - 1], &MODULE, &format()),
            Err(Rejected::Truncated { .. })
        ));
    }

    #[test]
    fn file_names_differ_by_module_and_format() {
        let a = file_name(&MODULE, &format());
        assert_eq!(a.len(), 64 + ENTRY_SUFFIX.len());
        assert_ne!(a, file_name(&[8; 32], &format()));
        assert_ne!(
            a,
            file_name(
                &MODULE,
                &ArtifactFormat::new(BackendKind::Wasmtime, "48.0.0", *b"fuel")
            )
        );
    }
}
