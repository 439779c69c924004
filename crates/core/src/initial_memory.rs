//! How much linear memory a module asks for before it runs.
//!
//! A module declares an initial size for each of its memories (imported or
//! defined); instantiating it allocates that much on every engine (wasmi
//! zero-fills all of it). [`initial_memory_bytes`] reads those sizes from
//! the binary, without compiling it, so a host can refuse a module that
//! asks for more than it will give ([`Limits::initial_memory_bytes`](crate::Limits::initial_memory_bytes))
//! and tools can show what a plugin costs.

use wasmparser::{Parser, Payload, TypeRef};

use crate::{Config, Error, ErrorKind, Resource, Result};

/// Size of a WebAssembly page in bytes.
pub const PAGE_BYTES: u64 = 65536;

/// The largest initial size among the module's memories (imported and
/// defined), in bytes; `None` for a module without memory.
///
/// Only the import and memory sections are read (no validation); a module
/// those cannot be parsed from is [`ErrorKind::Compile`].
pub fn initial_memory_bytes(wasm: &[u8]) -> Result<Option<u64>> {
    let malformed = |e: wasmparser::BinaryReaderError| {
        Error::new(
            ErrorKind::Compile,
            alloc::format!("reading the module's memories: {e}"),
        )
    };
    let mut largest: Option<u64> = None;
    let mut note = |pages: u64| {
        let bytes = pages.saturating_mul(PAGE_BYTES);
        largest = Some(largest.map_or(bytes, |l| l.max(bytes)));
    };
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(malformed)? {
            Payload::ImportSection(imports) => {
                for import in imports {
                    if let TypeRef::Memory(m) = import.map_err(malformed)?.ty {
                        note(m.initial);
                    }
                }
            }
            Payload::MemorySection(memories) => {
                for memory in memories {
                    note(memory.map_err(malformed)?.initial);
                }
            }
            // Memories come before code: nothing later can add one.
            Payload::CodeSectionStart { .. } | Payload::End(_) => break,
            _ => {}
        }
    }
    Ok(largest)
}

/// Refuse, before any engine compiles it, a module past `config`'s bounds
/// ([`Config::max_module_bytes`], [`Config::max_functions`]): every backend
/// calls this first in `compile`, so an untrusted module cannot make the
/// host spend seconds and hundreds of MiB compiling it (wasmtime needs about
/// 12 KiB of host memory per function while compiling).
///
/// Only the section headers up to the code section are read; a module too
/// malformed to read them from is left to the engine, which reports it as
/// [`ErrorKind::Compile`].
pub fn check_module_bounds(config: &Config, wasm: &[u8]) -> Result<()> {
    if let Some(max) = config.get_max_module_bytes()
        && wasm.len() as u64 > max
    {
        return Err(Error::new(
            ErrorKind::LimitExceeded(Resource::ModuleBytes),
            alloc::format!(
                "the module is {} bytes; Config::max_module_bytes allows {max}",
                wasm.len()
            ),
        ));
    }
    let Some(max) = config.get_max_functions() else {
        return Ok(());
    };
    for payload in Parser::new(0).parse_all(wasm) {
        let (count, last) = match payload {
            Ok(Payload::FunctionSection(functions)) => (functions.count(), false),
            // Nothing after the code section declares functions.
            Ok(Payload::CodeSectionStart { count, .. }) => (count, true),
            Ok(Payload::End(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        if count > max {
            return Err(Error::new(
                ErrorKind::LimitExceeded(Resource::Functions),
                alloc::format!(
                    "the module defines {count} functions; Config::max_functions allows {max}"
                ),
            ));
        }
        if last {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(module (import "env" "m" (memory 3)) (memory 2) (memory 5 9))`,
    /// assembled by hand (multi-memory).
    const THREE_MEMORIES: &[u8] = &[
        0, 97, 115, 109, 1, 0, 0, 0, // header
        2, 10, 1, 3, b'e', b'n', b'v', 1, b'm', 2, 0, 3, // import env.m (memory 3)
        5, 6, 2, 0, 2, 1, 5, 9, // memory 2; memory 5 9
    ];

    #[test]
    fn largest_of_imported_and_defined() {
        assert_eq!(
            initial_memory_bytes(THREE_MEMORIES).unwrap(),
            Some(5 * PAGE_BYTES)
        );
    }

    #[test]
    fn no_memory_is_none() {
        assert_eq!(
            initial_memory_bytes(&[0, 97, 115, 109, 1, 0, 0, 0]).unwrap(),
            None
        );
    }

    #[test]
    fn garbage_is_a_compile_error() {
        let e = initial_memory_bytes(b"\0asm\x01\0\0\0\x05\xff").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Compile);
        assert!(initial_memory_bytes(b"not wasm").is_err());
    }
}
