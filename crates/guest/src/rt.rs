//! Requests, responses and host calls: what the macros expand to, also
//! usable by hand for raw exports.

use alloc::format;
use alloc::string::ToString;
use core::fmt::Display;

use anywasm_core::abi::{self, GuestError, MAX_MESSAGE_CAP};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::buffer::{self, Buffer};

/// Decode a request (bincode, bounded by [`MAX_MESSAGE_CAP`]). A message that
/// does not decode is a [`GuestError`] saying why.
pub fn decode_request<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, GuestError> {
    abi::decode(bytes, MAX_MESSAGE_CAP)
        .map_err(|e| GuestError::new(format!("bad request: {}", e.message())))
}

/// Encode a response envelope. Never fails: a value that does not encode
/// becomes an `Err` envelope saying so.
pub fn encode_envelope<T: Serialize>(envelope: &Result<T, GuestError>) -> alloc::vec::Vec<u8> {
    match abi::encode(envelope) {
        Ok(bytes) => bytes,
        Err(e) => {
            let err: Result<(), GuestError> = Err(GuestError::new(format!(
                "response does not encode: {}",
                e.message()
            )));
            abi::encode(&err).expect("a GuestError always encodes")
        }
    }
}

/// Encode a response envelope into a buffer the host can free and return it
/// packed, ready to be an entry point's result.
pub fn respond<T: Serialize>(envelope: &Result<T, GuestError>) -> i64 {
    Buffer::from_slice(&encode_envelope(envelope)).into_packed()
}

/// `anywasm_alloc`: `len` fresh bytes, or 0. Never panics.
pub(crate) fn alloc_export(len: i32) -> i32 {
    let p = buffer::alloc_raw(len as u32 as usize);
    if p.is_null() {
        return 0;
    }
    let addr = p.expose_provenance();
    match u32::try_from(addr) {
        Ok(a) => a as i32,
        Err(_) => {
            // Unreachable on wasm32; elsewhere the address does not fit.
            // SAFETY: allocated just above with this length.
            unsafe { buffer::free_raw(p, len as u32 as usize) };
            0
        }
    }
}

/// `anywasm_free`.
///
/// # Safety
///
/// As `anywasm_free`: `(ptr, len)` came from `anywasm_alloc(len)` or a
/// response, and is freed once.
pub(crate) unsafe fn free_export(ptr: i32, len: i32) {
    // SAFETY: forwarded.
    unsafe { buffer::free_raw(buffer::from_addr(ptr), len as u32 as usize) }
}

/// An entry point: take the request, decode it, free it, run `f`, respond.
///
/// # Safety
///
/// `(ptr, len)` is a request buffer the host gave this entry point (see
/// [`Buffer::from_raw`]).
pub(crate) unsafe fn entry<Req, T, F>(ptr: i32, len: i32, f: F) -> i64
where
    Req: DeserializeOwned,
    T: Serialize,
    F: FnOnce(Req) -> Result<T, GuestError>,
{
    // SAFETY: forwarded.
    let request = unsafe { Buffer::from_raw(ptr, len) };
    let decoded = decode_request::<Req>(&request);
    drop(request);
    respond(&decoded.and_then(f))
}

/// A guest error from any displayable error.
pub(crate) fn guest_error<E: Display>(e: E) -> GuestError {
    GuestError::new(e.to_string())
}

/// Call a host import following docs/abi.md §6.
///
/// # Safety
///
/// `import` is a host function of the anywasm ABI: it returns a response
/// buffer it allocated with `anywasm_alloc` (or `len == 0`).
pub(crate) unsafe fn call_host<Req, Resp>(
    name: &str,
    request: &Req,
    import: unsafe extern "C" fn(i32, i32) -> i64,
) -> Result<Resp, GuestError>
where
    Req: Serialize + ?Sized,
    Resp: DeserializeOwned,
{
    let bytes = abi::encode(request).map_err(|e| {
        GuestError::new(format!(
            "request to host function `{name}` does not encode: {}",
            e.message()
        ))
    })?;
    // The request stays ours: the host only reads it during the call.
    let (ptr, len) = if bytes.is_empty() {
        (0, 0)
    } else {
        (
            buffer::to_addr(bytes.as_ptr().cast_mut()),
            bytes.len() as u32 as i32,
        )
    };
    // SAFETY: the import has the ABI signature; the pointer is valid for
    // `len` bytes for the duration of the call.
    let packed = unsafe { import(ptr, len) };
    drop(bytes);
    let (rptr, rlen) = abi::unpack(packed);
    if rlen == 0 {
        return Err(GuestError::new(format!(
            "host function `{name}` returned an empty response"
        )));
    }
    // SAFETY: the caller promises the host allocated it with anywasm_alloc.
    let response = unsafe { Buffer::from_raw(rptr as i32, rlen as i32) };
    let envelope: Result<Result<Resp, GuestError>, _> = abi::decode(&response, MAX_MESSAGE_CAP);
    drop(response);
    envelope.map_err(|e| {
        GuestError::new(format!(
            "response of host function `{name}` does not decode: {}",
            e.message()
        ))
    })?
}

/// What a host import wrapper returns outside wasm32, where there is no host.
pub(crate) fn host_unavailable<Resp>(name: &str) -> Result<Resp, GuestError> {
    Err(GuestError::new(format!(
        "host function `{name}` is only available to a wasm32 guest"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn requests_decode_or_say_why() {
        let bytes = abi::encode(&(1u32, String::from("x"))).unwrap();
        assert_eq!(
            decode_request::<(u32, String)>(&bytes).unwrap(),
            (1, "x".into())
        );
        let err = decode_request::<u32>(&[0xFF]).unwrap_err();
        assert!(err.message.starts_with("bad request: "), "{err}");
        // A 2^40 length prefix in a short message.
        let mut huge = vec![0xFD];
        huge.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(decode_request::<Vec<u8>>(&huge).is_err());
        // An empty request is `()`.
        decode_request::<()>(&[]).unwrap();
    }

    #[test]
    fn envelopes_match_the_spec() {
        assert_eq!(encode_envelope::<String>(&Ok("hi".into())), b"\x00\x02hi");
        assert_eq!(
            encode_envelope::<()>(&Err(GuestError::new("bad"))),
            b"\x01\x03bad"
        );
        assert_eq!(encode_envelope(&Ok(())), [0]);
    }

    #[test]
    fn unencodable_responses_become_errors() {
        struct Nope;
        impl Serialize for Nope {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("nope"))
            }
        }
        let bytes = encode_envelope(&Ok(Nope));
        let back: Result<(), GuestError> = abi::decode(&bytes, 100).unwrap();
        assert!(back.unwrap_err().message.contains("does not encode"));
    }

    #[test]
    fn no_host_outside_wasm() {
        let r: Result<u8, _> = host_unavailable("add");
        assert!(r.unwrap_err().message.contains("`add`"));
        assert_eq!(guest_error("x").message, "x");
    }
}
