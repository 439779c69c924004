//! Integrity: SHA-256 of every module, and optional detached ed25519
//! signatures (`<name>.wasm.sig`: the 64 signature bytes, raw or as 128 hex
//! digits) checked against the host's trusted keys.

use std::path::Path;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::{PluginError, Result};

/// A module's SHA-256.
pub type Checksum = [u8; 32];

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Checksum {
    Sha256::digest(bytes).into()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `N` bytes from exactly `2 * N` hex digits.
pub(crate) fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut raw = [0u8; N];
    for (i, out) in raw.iter_mut().enumerate() {
        *out = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(raw)
}

fn parse_signature(bytes: &[u8]) -> Option<Signature> {
    if let Ok(raw) = <[u8; 64]>::try_from(bytes) {
        return Some(Signature::from_bytes(&raw));
    }
    let text = std::str::from_utf8(bytes).ok()?.trim();
    unhex::<64>(text).map(|raw| Signature::from_bytes(&raw))
}

/// Check the detached signature of `wasm` (the contents of `path`).
///
/// Returns whether the module is signed by a trusted key. A signature that
/// is present but malformed or from no trusted key is always an error; a
/// missing one is an error only if `required`.
pub(crate) fn verify(
    path: &Path,
    wasm: &[u8],
    signature: Option<&[u8]>,
    trusted: &[VerifyingKey],
    required: bool,
) -> Result<bool> {
    let err = |message: String| PluginError::Signature {
        path: path.to_path_buf(),
        message,
    };
    let Some(sig) = signature else {
        return if required {
            Err(err(
                "required by the host's policy, but no `.wasm.sig` file is present".into(),
            ))
        } else {
            Ok(false)
        };
    };
    if trusted.is_empty() {
        return if required {
            Err(err("required, but the host trusts no keys".into()))
        } else {
            Ok(false)
        };
    }
    let sig = parse_signature(sig)
        .ok_or_else(|| err("the `.wasm.sig` file is not 64 bytes or 128 hex digits".into()))?;
    if trusted.iter().any(|k| k.verify(wasm, &sig).is_ok()) {
        Ok(true)
    } else {
        Err(err("does not verify against any trusted key".into()))
    }
}
