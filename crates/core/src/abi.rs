//! The plugin call ABI, shared by host and guest (specified in `docs/abi.md`).
//!
//! - Guests export an allocator pair ([`ALLOC_EXPORT`], [`FREE_EXPORT`]) and
//!   entry points `(ptr, len) -> packed (ptr, len)` ([`pack`], [`unpack`]).
//! - Messages are serde values encoded by a [`Codec`]; the default is
//!   [`Bincode`] (bincode 2.0.1, standard configuration). The codec is a seam:
//!   bincode 2 is final and unmaintained (RUSTSEC-2025-0141), so a
//!   wire-compatible replacement can slot in without touching callers.
//! - Responses are envelopes: `Result<T, GuestError>`.
//! - The ABI version and the plugin's manifest travel in custom sections
//!   ([`ABI_SECTION`], [`MANIFEST_SECTION`]), read by [`custom_sections`].
//!
//! A plain `Vec<u8>` (or `[u8]`) message, and the `Result<Vec<u8>,
//! GuestError>` envelope of a `Vec<u8>` response, are written and read as
//! one byte string (what `serde_bytes` does) instead of byte by byte: the
//! wire format is the same (a length, then the bytes), only the work
//! differs. Byte fields nested in structs still go byte by byte unless they
//! are marked `#[serde(with = "serde_bytes")]`.
//!
//! Decoding never trusts a length prefix: [`Codec::decode`] refuses messages
//! over the caller's cap and bounds what the decoder may allocate to a small
//! multiple of the message's real size, so a ten-byte message that claims a
//! 2^40-byte string fails without the host allocating for it.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Error, ErrorKind, Result};

mod transport;
pub use transport::{GuestMemory, Scratch, check_cap, read_message, write_message};

/// The newest ABI version this crate implements: what the guest SDK declares
/// in its `anywasm:abi` section. Hosts also load [`MIN_ABI_VERSION`] plugins.
pub const ABI_VERSION: u32 = 2;
/// The oldest ABI version hosts still load (version 1: every round trip
/// allocates the request and frees the response through the guest's
/// allocator exports).
pub const MIN_ABI_VERSION: u32 = 1;
/// Custom section holding the ABI version, 4 bytes little endian.
pub const ABI_SECTION: &str = "anywasm:abi";
/// Custom section holding the plugin manifest (UTF-8 TOML).
pub const MANIFEST_SECTION: &str = "anywasm:manifest";
/// Largest accepted manifest section.
pub const MAX_MANIFEST_BYTES: usize = 64 << 10;
/// Guest export: `(i32 len) -> i32 ptr`, 0 on failure.
pub const ALLOC_EXPORT: &str = "anywasm_alloc";
/// Guest export: `(i32 ptr, i32 len) -> ()`.
pub const FREE_EXPORT: &str = "anywasm_free";
/// Guest export of an ABI version 2 plugin: `() -> i64`. The host calls it
/// once per instance, before any entry point; the guest then follows the
/// version 2 rules (docs/abi.md §3.2) and returns its scratch area
/// `(ptr, len)`, packed like a response ([`pack`]).
pub const V2_EXPORT: &str = "anywasm_abi_v2";
/// Optional guest export of an ABI version 2 plugin: `() -> i64`. The host
/// calls it once per instance, right after [`V2_EXPORT`]; it returns the
/// guest's reply area `(ptr, len)`, packed like a response, into which
/// host imports then write responses that fit instead of allocating them
/// (docs/abi.md §6.1).
pub const V2_REPLIES_EXPORT: &str = "anywasm_abi_v2_replies";
/// Guest export: the linear memory all buffers live in.
pub const MEMORY_EXPORT: &str = "memory";
/// Import module of host functions that follow the ABI.
pub const HOST_MODULE: &str = "anywasm";
/// Default cap on one message, request or response.
pub const DEFAULT_MESSAGE_CAP: usize = 16 << 20;
/// Largest message cap a host may configure.
pub const MAX_MESSAGE_CAP: usize = 64 << 20;

/// Pack a guest buffer into an entry point's `i64` result: `(ptr << 32) | len`.
pub fn pack(ptr: u32, len: u32) -> i64 {
    (((ptr as u64) << 32) | len as u64) as i64
}

/// Unpack an entry point's `i64` result into `(ptr, len)`.
pub fn unpack(packed: i64) -> (u32, u32) {
    let v = packed as u64;
    ((v >> 32) as u32, v as u32)
}

/// A guest's error, the `Err` side of every response envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestError {
    /// What went wrong, for humans.
    pub message: String,
}

impl GuestError {
    /// A guest error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl core::fmt::Display for GuestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for GuestError {}

/// A wire format for ABI messages. Implementations must bound what decoding
/// may allocate (see the module docs).
pub trait Codec {
    /// Append the encoding of `value` to `out`. On error `out` may hold a
    /// partial encoding after its previous contents.
    fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<()>;
    /// Decode exactly one `T` from all of `bytes`, refusing messages over
    /// `cap` bytes.
    fn decode<T: DeserializeOwned>(bytes: &[u8], cap: usize) -> Result<T>;
}

/// bincode 2.0.1, standard configuration (little endian, varints), via serde.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bincode;

fn abi_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Abi, message)
}

fn decode_bounded<T: DeserializeOwned, const LIMIT: usize>(bytes: &[u8]) -> Result<T> {
    let config = bincode::config::standard().with_limit::<LIMIT>();
    let (value, read) = bincode::serde::decode_from_slice::<T, _>(bytes, config)
        .map_err(|e| abi_error(format!("message does not decode: {e}")))?;
    if read != bytes.len() {
        return Err(abi_error(format!(
            "message has {} trailing bytes after the value",
            bytes.len() - read
        )));
    }
    Ok(value)
}

/// What a message of `len` bytes may make the decoder allocate: 64 times its
/// size (containers of wide types legitimately claim more memory than
/// their encoding), at least 64 KiB. Bucketed so only a few limits are
/// monomorphised.
const DECODE_BUCKETS: [usize; 4] = [64 << 10, 4 << 20, 256 << 20, 1 << 30];

/// A bincode writer appending to a caller's buffer, so encoding into a
/// reused buffer neither allocates nor copies twice.
struct Append<'a>(&'a mut Vec<u8>);

impl bincode::enc::write::Writer for Append<'_> {
    fn write(&mut self, bytes: &[u8]) -> core::result::Result<(), bincode::error::EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// A `Vec<u8>` response's envelope.
type BytesEnvelope = core::result::Result<Vec<u8>, GuestError>;

/// Whether `T` is exactly `U` (`U` without lifetimes; `typeid` erases
/// `T`'s, so equal ids make them the same type).
fn is<T: ?Sized, U: ?Sized + 'static>() -> bool {
    typeid::of::<T>() == core::any::TypeId::of::<U>()
}

/// The encoding of `value` through the byte-string path, if `T` is one of
/// the byte types it serves: same bytes as serde's element-by-element
/// encoding of a `u8` sequence, written with one copy.
fn encode_bytes<T: ?Sized>(value: &T, out: &mut Vec<u8>) -> Option<Result<()>> {
    let config = bincode::config::standard();
    let written = if is::<T, Vec<u8>>() {
        // SAFETY: `T` is `Vec<u8>` (checked above), so `&T` is `&Vec<u8>`.
        let v: &Vec<u8> = unsafe { core::mem::transmute_copy::<&T, &Vec<u8>>(&value) };
        bincode::serde::encode_into_writer(serde_bytes::Bytes::new(v), Append(out), config)
    } else if is::<T, [u8]>() {
        // SAFETY: `T` is `[u8]` (checked above), so `&T` is `&[u8]`.
        let v: &[u8] = unsafe { core::mem::transmute_copy::<&T, &[u8]>(&value) };
        bincode::serde::encode_into_writer(serde_bytes::Bytes::new(v), Append(out), config)
    } else if is::<T, BytesEnvelope>() {
        // SAFETY: `T` is `BytesEnvelope` (checked above).
        let v: &BytesEnvelope = unsafe { core::mem::transmute_copy::<&T, &BytesEnvelope>(&value) };
        let v = v.as_ref().map(|b| serde_bytes::Bytes::new(b));
        bincode::serde::encode_into_writer(v, Append(out), config)
    } else {
        return None;
    };
    Some(written.map_err(|e| abi_error(format!("value does not encode: {e}"))))
}

/// Decode `T` through the byte-string path, if `T` is `Vec<u8>` or its
/// envelope; `LIMIT` bounds the allocation as for any other type.
fn decode_bytes<T: DeserializeOwned, const LIMIT: usize>(bytes: &[u8]) -> Option<Result<T>> {
    if is::<T, Vec<u8>>() {
        let v = decode_bounded::<serde_bytes::ByteBuf, LIMIT>(bytes).map(|b| b.into_vec());
        // SAFETY: `T` is `Vec<u8>` (checked above); the value is moved, not
        // copied: `ManuallyDrop` keeps the original from being dropped.
        Some(v.map(|v| unsafe {
            core::mem::transmute_copy::<Vec<u8>, T>(&core::mem::ManuallyDrop::new(v))
        }))
    } else if is::<T, BytesEnvelope>() {
        let v =
            decode_bounded::<core::result::Result<serde_bytes::ByteBuf, GuestError>, LIMIT>(bytes)
                .map(|r| r.map(|b| b.into_vec()));
        // SAFETY: `T` is `BytesEnvelope` (checked above); moved as above.
        Some(v.map(|v| unsafe {
            core::mem::transmute_copy::<BytesEnvelope, T>(&core::mem::ManuallyDrop::new(v))
        }))
    } else {
        None
    }
}

/// [`decode_bounded`], through the byte-string path where it applies.
fn decode_any<T: DeserializeOwned, const LIMIT: usize>(bytes: &[u8]) -> Result<T> {
    match decode_bytes::<T, LIMIT>(bytes) {
        Some(decoded) => decoded,
        None => decode_bounded::<T, LIMIT>(bytes),
    }
}

impl Codec for Bincode {
    fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<()> {
        if let Some(written) = encode_bytes(value, out) {
            return written;
        }
        bincode::serde::encode_into_writer(value, Append(out), bincode::config::standard())
            .map_err(|e| abi_error(format!("value does not encode: {e}")))
    }

    fn decode<T: DeserializeOwned>(bytes: &[u8], cap: usize) -> Result<T> {
        if bytes.len() > cap.min(MAX_MESSAGE_CAP) {
            return Err(abi_error(format!(
                "message of {} bytes exceeds the cap of {} bytes",
                bytes.len(),
                cap.min(MAX_MESSAGE_CAP)
            )));
        }
        let want = bytes.len().saturating_mul(64);
        if want <= DECODE_BUCKETS[0] {
            decode_any::<T, { DECODE_BUCKETS[0] }>(bytes)
        } else if want <= DECODE_BUCKETS[1] {
            decode_any::<T, { DECODE_BUCKETS[1] }>(bytes)
        } else if want <= DECODE_BUCKETS[2] {
            decode_any::<T, { DECODE_BUCKETS[2] }>(bytes)
        } else {
            decode_any::<T, { DECODE_BUCKETS[3] }>(bytes)
        }
    }
}

/// Encode `value` with the default codec.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    Bincode::encode(value, &mut out)?;
    Ok(out)
}

/// Decode a `T` with the default codec, refusing messages over `cap` bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], cap: usize) -> Result<T> {
    Bincode::decode(bytes, cap)
}

/// The custom sections of a module, `(name, payload)`, in order.
///
/// Walks only the section headers (no validation of other sections); a
/// truncated or malformed header is [`ErrorKind::Abi`].
pub fn custom_sections(wasm: &[u8]) -> Result<Vec<(&str, &[u8])>> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err(abi_error("not a WebAssembly module (bad magic)"));
    }
    let mut out = Vec::new();
    let mut pos = 8usize;
    while pos < wasm.len() {
        let id = wasm[pos];
        pos += 1;
        let size = read_leb_u32(wasm, &mut pos)? as usize;
        let end = pos
            .checked_add(size)
            .filter(|&e| e <= wasm.len())
            .ok_or_else(|| abi_error("section runs past the end of the module"))?;
        if id == 0 {
            let mut p = pos;
            let name_len = read_leb_u32(&wasm[..end], &mut p)? as usize;
            let name_end = p
                .checked_add(name_len)
                .filter(|&e| e <= end)
                .ok_or_else(|| abi_error("custom section name runs past its section"))?;
            let name = core::str::from_utf8(&wasm[p..name_end])
                .map_err(|_| abi_error("custom section name is not UTF-8"))?;
            out.push((name, &wasm[name_end..end]));
        }
        pos = end;
    }
    Ok(out)
}

fn read_leb_u32(bytes: &[u8], pos: &mut usize) -> Result<u32> {
    let mut result: u32 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes
            .get(*pos)
            .ok_or_else(|| abi_error("truncated LEB128 in section header"))?;
        *pos += 1;
        if shift == 28 && byte & 0x70 != 0 {
            return Err(abi_error("LEB128 in section header overflows u32"));
        }
        result |= u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(result);
        }
    }
    Err(abi_error("LEB128 in section header is too long"))
}

/// The single custom section `name`, if present; more than one is an error.
pub fn single_section<'a>(wasm: &'a [u8], name: &str) -> Result<Option<&'a [u8]>> {
    let mut found = None;
    for (n, data) in custom_sections(wasm)? {
        if n == name {
            if found.is_some() {
                return Err(abi_error(format!(
                    "custom section `{name}` appears more than once"
                )));
            }
            found = Some(data);
        }
    }
    Ok(found)
}

/// The ABI version a module declares, checked to be one this host speaks
/// ([`MIN_ABI_VERSION`] to [`ABI_VERSION`]).
pub fn check_abi_version(wasm: &[u8]) -> Result<u32> {
    let data = single_section(wasm, ABI_SECTION)?.ok_or_else(|| {
        abi_error(format!(
            "not an anywasm plugin: no `{ABI_SECTION}` custom section"
        ))
    })?;
    let bytes: [u8; 4] = data.try_into().map_err(|_| {
        abi_error(format!(
            "`{ABI_SECTION}` section must be 4 bytes, found {}",
            data.len()
        ))
    })?;
    let version = u32::from_le_bytes(bytes);
    if !(MIN_ABI_VERSION..=ABI_VERSION).contains(&version) {
        return Err(abi_error(format!(
            "plugin uses ABI version {version}, this host supports versions {MIN_ABI_VERSION} to {ABI_VERSION}"
        )));
    }
    Ok(version)
}

/// The manifest text a module embeds, if any.
pub fn manifest_text(wasm: &[u8]) -> Result<Option<&str>> {
    match single_section(wasm, MANIFEST_SECTION)? {
        None => Ok(None),
        Some(data) if data.len() > MAX_MANIFEST_BYTES => Err(abi_error(format!(
            "`{MANIFEST_SECTION}` section is {} bytes, at most {MAX_MANIFEST_BYTES} allowed",
            data.len()
        ))),
        Some(data) => core::str::from_utf8(data)
            .map(Some)
            .map_err(|_| abi_error(format!("`{MANIFEST_SECTION}` section is not UTF-8"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    /// What bincode writes for `value` element by element (no fast path).
    fn plain<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
        bincode::serde::encode_to_vec(value, bincode::config::standard()).unwrap()
    }

    #[test]
    fn byte_vectors_take_the_byte_string_path_with_the_same_wire_format() {
        for len in [0usize, 1, 127, 128, 300, 70_000] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let wire = encode(&bytes).unwrap();
            assert_eq!(wire, plain(&bytes), "Vec<u8> of {len}");
            assert_eq!(encode(bytes.as_slice()).unwrap(), wire, "[u8] of {len}");
            assert_eq!(decode::<Vec<u8>>(&wire, usize::MAX).unwrap(), bytes);
            let ok: core::result::Result<Vec<u8>, GuestError> = Ok(bytes.clone());
            let wire = encode(&ok).unwrap();
            assert_eq!(wire, plain(&ok), "envelope of {len}");
            assert_eq!(
                decode::<core::result::Result<Vec<u8>, GuestError>>(&wire, usize::MAX).unwrap(),
                ok
            );
        }
        let err: core::result::Result<Vec<u8>, GuestError> = Err(GuestError::new("no"));
        let wire = encode(&err).unwrap();
        assert_eq!(wire, plain(&err));
        assert_eq!(
            decode::<core::result::Result<Vec<u8>, GuestError>>(&wire, 100).unwrap(),
            err
        );
        // Other sequences of bytes are not byte vectors: unchanged.
        let words: Vec<u16> = vec![1, 2, 300];
        assert_eq!(encode(&words).unwrap(), plain(&words));
    }

    #[test]
    fn byte_vectors_keep_every_bound() {
        // A short message claiming 2^40 bytes: refused, nothing allocated.
        // (A length prefix is a varint, encoded as a u64 is.)
        let mut lie = plain(&(1u64 << 40));
        lie.extend_from_slice(b"abc");
        assert_eq!(
            decode::<Vec<u8>>(&lie, 1 << 20).unwrap_err().kind(),
            ErrorKind::Abi
        );
        // Over the caller's cap.
        let wire = encode(&vec![7u8; 100]).unwrap();
        assert_eq!(
            decode::<Vec<u8>>(&wire, 50).unwrap_err().kind(),
            ErrorKind::Abi
        );
        // Trailing bytes.
        let mut long = wire.clone();
        long.push(0);
        assert!(decode::<Vec<u8>>(&long, usize::MAX).is_err());
        // Truncated.
        assert!(decode::<Vec<u8>>(&wire[..50], usize::MAX).is_err());
    }

    #[test]
    fn pack_round_trips_full_range() {
        for (p, l) in [(0, 0), (1, 2), (u32::MAX, u32::MAX), (0x8000_0000, 7)] {
            assert_eq!(unpack(pack(p, l)), (p, l));
        }
    }

    #[test]
    fn envelope_bytes_match_the_spec() {
        let ok: core::result::Result<String, GuestError> = Ok("hi".to_string());
        assert_eq!(encode(&ok).unwrap(), vec![0x00, 0x02, b'h', b'i']);
        let err: core::result::Result<String, GuestError> = Err(GuestError::new("bad"));
        assert_eq!(encode(&err).unwrap(), vec![0x01, 0x03, b'b', b'a', b'd']);
    }

    #[test]
    fn huge_length_prefix_is_refused() {
        // Vec<u8> claiming 2^40 bytes: 0xFD then u64 little endian.
        let mut msg = vec![0xFD];
        msg.extend_from_slice(&(1u64 << 40).to_le_bytes());
        let err = decode::<Vec<u8>>(&msg, DEFAULT_MESSAGE_CAP).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Abi);
    }

    #[test]
    fn trailing_bytes_and_oversize_are_refused() {
        assert_eq!(
            decode::<u8>(&[1, 2], 100).unwrap_err().kind(),
            ErrorKind::Abi
        );
        assert_eq!(
            decode::<Vec<u8>>(&[0; 10], 5).unwrap_err().kind(),
            ErrorKind::Abi
        );
    }

    #[test]
    fn custom_sections_are_found() {
        // header + custom section "anywasm:abi" with 01 00 00 00.
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        let name = ABI_SECTION.as_bytes();
        m.push(0);
        m.push((1 + name.len() + 4) as u8);
        m.push(name.len() as u8);
        m.extend_from_slice(name);
        m.extend_from_slice(&1u32.to_le_bytes());
        assert_eq!(check_abi_version(&m).unwrap(), 1);
        let n = m.len();
        let mut v2 = m.clone();
        v2[n - 4] = 2;
        assert_eq!(check_abi_version(&v2).unwrap(), 2);
        for version in [0, 3] {
            let mut bad = m.clone();
            bad[n - 4] = version;
            assert_eq!(check_abi_version(&bad).unwrap_err().kind(), ErrorKind::Abi);
        }
        assert_eq!(
            custom_sections(&m[..m.len() - 1]).unwrap_err().kind(),
            ErrorKind::Abi
        );
    }
}
