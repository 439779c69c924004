//! Requests, responses and host calls: what the macros expand to, also
//! usable by hand for raw exports.

use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::fmt::Display;
use core::ops::Deref;
use core::sync::atomic::{AtomicBool, Ordering};

use anywasm_core::abi::{self, Bincode, Codec, GuestError, MAX_MESSAGE_CAP};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::buffer::{self, Buffer};

/// Bytes in the scratch area a version 2 host writes requests of up to this
/// size into (docs/abi.md §3.2); larger ones still come through
/// `anywasm_alloc`. Zero-initialised, so it costs no bytes in the module.
pub const SCRATCH_LEN: usize = 16 << 10;

/// Bytes in the reply area a host writes host function responses of up to
/// this size into (docs/abi.md §6.1); larger ones come through
/// `anywasm_alloc`. Small: most host responses are a few bytes, and it sits
/// in the plugin's first memory page beside the scratch area and stack.
pub const REPLY_LEN: usize = 4 << 10;

/// A response buffer over this capacity is released at the next response
/// instead of being kept for reuse.
const KEEP_RESPONSE: usize = 64 << 10;

#[repr(C, align(8))]
struct Scratch(UnsafeCell<[u8; SCRATCH_LEN]>);

// SAFETY: the host writes the area only while no guest code runs, and the
// guest only reads it, in `request`, before the entry point runs any code
// that could call the host (and so re-enter). A wasm instance is single
// threaded; on other targets nothing but a test calls the entry points.
unsafe impl Sync for Scratch {}

static SCRATCH: Scratch = Scratch(UnsafeCell::new([0; SCRATCH_LEN]));

#[repr(C, align(8))]
struct Replies(UnsafeCell<[u8; REPLY_LEN]>);

// SAFETY: the host writes the area only inside a host import call, and the
// guest reads it only in `call_host`, right after that call returned and
// before anything else can call the host.
unsafe impl Sync for Replies {}

static REPLIES: Replies = Replies(UnsafeCell::new([0; REPLY_LEN]));

/// Whether the host selected ABI version 2 (by calling `anywasm_abi_v2`).
static V2: AtomicBool = AtomicBool::new(false);

/// The last version 2 response: the host reads it before anything else runs
/// in the instance, so the next response may replace it.
struct ResponseSlot {
    locked: AtomicBool,
    buf: UnsafeCell<Vec<u8>>,
}

// SAFETY: `buf` is only reached through `with`, which holds `locked`.
unsafe impl Sync for ResponseSlot {}

impl ResponseSlot {
    fn with<R>(&self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        // SAFETY: the lock gives exclusive access until it is released.
        let out = f(unsafe { &mut *self.buf.get() });
        self.locked.store(false, Ordering::Release);
        out
    }
}

static RESPONSE: ResponseSlot = ResponseSlot {
    locked: AtomicBool::new(false),
    buf: UnsafeCell::new(Vec::new()),
};

fn scratch_ptr() -> *mut u8 {
    SCRATCH.0.get().cast()
}

/// `anywasm_abi_v2`: select ABI version 2 for this instance and return the
/// scratch area, packed.
pub(crate) fn abi_v2_export() -> i64 {
    V2.store(true, Ordering::Relaxed);
    abi::pack(buffer::to_addr(scratch_ptr()) as u32, SCRATCH_LEN as u32)
}

/// `anywasm_abi_v2_replies`: the reply area for host function responses,
/// packed.
pub(crate) fn abi_v2_replies_export() -> i64 {
    abi::pack(
        buffer::to_addr(REPLIES.0.get().cast()) as u32,
        REPLY_LEN as u32,
    )
}

/// A request an entry point received: in the scratch area (borrowed until
/// the entry point returns or calls the host) or in a buffer the host
/// allocated (owned, freed on drop). Dereferences to the bytes.
pub struct Request {
    inner: RequestBytes,
}

enum RequestBytes {
    Scratch(usize),
    Owned(Buffer),
}

impl Deref for Request {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.inner {
            // SAFETY: `len <= SCRATCH_LEN` (checked in `request`) and the
            // host does not write the area while guest code runs.
            RequestBytes::Scratch(len) => unsafe {
                core::slice::from_raw_parts(scratch_ptr(), *len)
            },
            RequestBytes::Owned(b) => b,
        }
    }
}

impl core::fmt::Debug for Request {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Request").field("len", &self.len()).finish()
    }
}

/// Take the request `(ptr, len)` an entry point was called with, under
/// either ABI version: in the scratch area (version 2, small requests) or in
/// a buffer from `anywasm_alloc` that this entry point now owns. Read it
/// (decode it) before calling any host function: a nested call may reuse
/// the scratch area.
///
/// # Safety
///
/// `(ptr, len)` are exactly what the host passed to this entry point, and
/// this is called once for them.
pub unsafe fn request(ptr: i32, len: i32) -> Request {
    let n = len as u32 as usize;
    let inner = if n != 0 && n <= SCRATCH_LEN && buffer::from_addr(ptr) == scratch_ptr() {
        RequestBytes::Scratch(n)
    } else {
        // SAFETY: not the scratch area, so a buffer the host allocated with
        // `anywasm_alloc(len)` and gave up (the caller's promise).
        RequestBytes::Owned(unsafe { Buffer::from_raw(ptr, len) })
    };
    Request { inner }
}

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

/// Encode a response envelope after `out`'s contents (never fails, as
/// [`encode_envelope`]).
fn encode_envelope_into<T: Serialize>(envelope: &Result<T, GuestError>, out: &mut Vec<u8>) {
    let start = out.len();
    if let Err(e) = Bincode::encode(envelope, out) {
        out.truncate(start);
        let err: Result<(), GuestError> = Err(GuestError::new(format!(
            "response does not encode: {}",
            e.message()
        )));
        Bincode::encode(&err, out).expect("a GuestError always encodes");
    }
}

/// Encode a response envelope and return it packed, ready to be an entry
/// point's result, following the ABI version the host selected: under
/// version 2 into the instance's response buffer, which stays valid until
/// the next response; under version 1 into a buffer the host frees.
pub fn respond<T: Serialize>(envelope: &Result<T, GuestError>) -> i64 {
    if V2.load(Ordering::Relaxed) {
        RESPONSE.with(|buf| {
            if buf.capacity() > KEEP_RESPONSE {
                *buf = Vec::new();
            }
            buf.clear();
            encode_envelope_into(envelope, buf);
            abi::pack(buffer::to_addr(buf.as_mut_ptr()) as u32, buf.len() as u32)
        })
    } else {
        Buffer::from_slice(&encode_envelope(envelope)).into_packed()
    }
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

/// An entry point: take the request, decode it, release it, run `f`,
/// respond.
///
/// # Safety
///
/// `(ptr, len)` is the request the host gave this entry point (see
/// [`request`]).
pub(crate) unsafe fn entry<Req, T, F>(ptr: i32, len: i32, f: F) -> i64
where
    Req: DeserializeOwned,
    T: Serialize,
    F: FnOnce(Req) -> Result<T, GuestError>,
{
    // SAFETY: forwarded.
    let request = unsafe { request(ptr, len) };
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
/// in the reply area or in a buffer it allocated with `anywasm_alloc` (or
/// `len == 0`).
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
    let replies: *mut u8 = REPLIES.0.get().cast();
    let envelope: Result<Result<Resp, GuestError>, _> =
        if rlen as usize <= REPLY_LEN && buffer::from_addr(rptr as i32) == replies {
            // SAFETY: the host wrote `rlen <= REPLY_LEN` bytes into the reply
            // area during the call and nothing writes it again before the
            // next host call, after this decode.
            let response = unsafe { core::slice::from_raw_parts(replies, rlen as usize) };
            abi::decode(response, MAX_MESSAGE_CAP)
        } else {
            // SAFETY: not the reply area, so (the caller's promise) a buffer
            // the host allocated with anywasm_alloc and gave up.
            let response = unsafe { Buffer::from_raw(rptr as i32, rlen as i32) };
            abi::decode(&response, MAX_MESSAGE_CAP)
        };
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
