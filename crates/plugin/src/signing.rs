//! Signing plugins: ed25519 keys, detached `<name>.wasm.sig` signatures,
//! and verifying a file exactly as the manager does with
//! [`require_signatures`](crate::PluginManagerBuilder::require_signatures).
//!
//! A signature is ed25519 over the whole `.wasm` file, stored next to it as
//! `<name>.wasm.sig`: 128 hex digits (what [`sign`] writes) or the 64 raw
//! bytes. Keys are files of hex digits too: a secret key is its 32-byte
//! seed (64 hex digits; keep it private), a public key its 32 bytes. Raw
//! 32-byte files are accepted as well.
//!
//! ```
//! use anywasm_plugin::signing;
//!
//! let key = signing::generate_key()?;
//! let wasm = b"\0asm\x01\0\0\0";
//! let sig = signing::sign(wasm, &key);
//! signing::verify(wasm, sig.as_bytes(), &[key.verifying_key()])?;
//! assert!(signing::verify(b"\0asm\x01\0\0\0 ", sig.as_bytes(), &[key.verifying_key()]).is_err());
//! # Ok::<(), anywasm_plugin::PluginError>(())
//! ```

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use crate::error::{PluginError, Result};
use crate::integrity;

/// The detached signature file of the module at `wasm`: `<name>.wasm.sig`.
pub fn signature_path(wasm: &Path) -> PathBuf {
    wasm.with_extension("wasm.sig")
}

/// A new secret key from the operating system's generator.
pub fn generate_key() -> Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| PluginError::Key(format!("no randomness for a new key: {e}")))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A secret key as a key file holds it: 64 hex digits and a newline.
pub fn secret_key_text(key: &SigningKey) -> String {
    format!("{}\n", integrity::hex(key.as_bytes()))
}

/// A public key as a key file holds it: 64 hex digits and a newline.
pub fn public_key_text(key: &VerifyingKey) -> String {
    format!("{}\n", integrity::hex(key.as_bytes()))
}

/// 32 bytes from a key file: raw, or 64 hex digits (surrounding
/// whitespace ignored).
fn key_bytes(bytes: &[u8], what: &str) -> Result<[u8; 32]> {
    if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
        return Ok(raw);
    }
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|t| integrity::unhex::<32>(t.trim()))
        .ok_or_else(|| {
            PluginError::Key(format!(
                "a {what} key file holds 64 hex digits (or 32 raw bytes); this one has {} bytes",
                bytes.len()
            ))
        })
}

/// A secret key from a key file's contents.
pub fn parse_secret_key(bytes: &[u8]) -> Result<SigningKey> {
    Ok(SigningKey::from_bytes(&key_bytes(bytes, "secret")?))
}

/// A public key from a key file's contents.
pub fn parse_public_key(bytes: &[u8]) -> Result<VerifyingKey> {
    VerifyingKey::from_bytes(&key_bytes(bytes, "public")?)
        .map_err(|e| PluginError::Key(format!("not an ed25519 public key: {e}")))
}

/// The detached signature of `wasm` by `key`, as the `.wasm.sig` file
/// holds it (128 hex digits and a newline).
pub fn sign(wasm: &[u8], key: &SigningKey) -> String {
    format!("{}\n", integrity::hex(&key.sign(wasm).to_bytes()))
}

/// Check `signature` (a `.wasm.sig` file's contents) over `wasm` against
/// `trusted` keys, as the manager does: a malformed signature, or one no
/// trusted key made, is [`PluginError::Signature`].
pub fn verify(wasm: &[u8], signature: &[u8], trusted: &[VerifyingKey]) -> Result<()> {
    integrity::verify(Path::new("module"), wasm, Some(signature), trusted, true).map(drop)
}

/// Read the module at `path` and its `.wasm.sig` and check them against
/// `trusted` keys: what the manager does before loading the file when it
/// requires signatures (a missing signature file is an error).
pub fn verify_file(path: &Path, trusted: &[VerifyingKey]) -> Result<()> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| PluginError::Io {
            path: p.to_path_buf(),
            source,
        })
    };
    let wasm = read(path)?;
    let sig = match std::fs::read(signature_path(path)) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(PluginError::Io {
                path: signature_path(path),
                source,
            });
        }
    };
    integrity::verify(path, &wasm, sig.as_deref(), trusted, true).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_their_files() {
        let key = generate_key().unwrap();
        let secret = parse_secret_key(secret_key_text(&key).as_bytes()).unwrap();
        assert_eq!(secret.to_bytes(), key.to_bytes());
        let public = parse_public_key(public_key_text(&key.verifying_key()).as_bytes()).unwrap();
        assert_eq!(public, key.verifying_key());
        assert_eq!(
            parse_public_key(key.verifying_key().as_bytes()).unwrap(),
            public
        );
        for bad in [&b"abc"[..], &[b'g'; 64], &[0u8; 31]] {
            assert!(matches!(parse_secret_key(bad), Err(PluginError::Key(_))));
        }
    }

    #[test]
    fn only_the_signed_bytes_and_a_trusted_key_verify() {
        let key = generate_key().unwrap();
        let other = generate_key().unwrap();
        let sig = sign(b"module", &key);
        verify(b"module", sig.as_bytes(), &[key.verifying_key()]).unwrap();
        verify(
            b"module",
            sig.as_bytes(),
            &[other.verifying_key(), key.verifying_key()],
        )
        .unwrap();
        for (wasm, trusted) in [
            (&b"modulE"[..], key.verifying_key()),
            (&b"module"[..], other.verifying_key()),
        ] {
            assert!(matches!(
                verify(wasm, sig.as_bytes(), &[trusted]),
                Err(PluginError::Signature { .. })
            ));
        }
        assert!(verify(b"module", b"not hex", &[key.verifying_key()]).is_err());
    }
}
