//! Typed host functions over the plugin ABI ([`Linker::abi_func`]).
//!
//! The closure sees a decoded request and returns a response or a
//! [`HostError`]; the ABI plumbing (reading the guest's request buffer,
//! bounded decoding, allocating the response in the guest, packing the
//! result) is done here once, through the engine-agnostic [`Caller`], so it is
//! the same on every backend.

use alloc::format;
use alloc::vec;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::abi::{self, GuestError};
use crate::{Caller, FuncType, HostError, Linker, Val, ValType};

fn protocol(message: impl Into<alloc::string::String>) -> HostError {
    HostError::new(message)
}

impl<T> Linker<T> {
    /// Define the typed host function `anywasm::name` (module
    /// [`abi::HOST_MODULE`]), importable only by guests granted
    /// `capability`. Messages over `message_cap` bytes are refused (use
    /// [`abi::DEFAULT_MESSAGE_CAP`] unless you have a reason).
    ///
    /// The wasm signature is `(i32 ptr, i32 len) -> i64` (docs/abi.md §6).
    /// A request that does not decode, or an `Err` from `func`, reaches the
    /// guest as an `Err(GuestError)` envelope it can handle; a guest that
    /// passes an out-of-bounds buffer, or whose allocator fails, gets a trap
    /// ([`TrapCode::HostError`](crate::TrapCode)), and a panic in `func` is
    /// caught and becomes that trap too.
    pub fn abi_func<Req, Resp, F>(
        &mut self,
        name: &str,
        capability: &str,
        message_cap: usize,
        func: F,
    ) -> &mut Self
    where
        Req: DeserializeOwned,
        Resp: Serialize,
        F: Fn(&mut dyn Caller<T>, Req) -> core::result::Result<Resp, HostError>
            + Send
            + Sync
            + 'static,
    {
        let cap = message_cap.min(abi::MAX_MESSAGE_CAP);
        let ty = FuncType::new([ValType::I32, ValType::I32], [ValType::I64]);
        self.func_with_capability(
            abi::HOST_MODULE,
            name,
            ty,
            capability,
            move |caller, args, results| {
                let ptr = args[0].as_i32().unwrap_or(0) as u32;
                let len = args[1].as_i32().unwrap_or(0) as u32 as usize;
                if len > cap {
                    return Err(protocol(format!(
                        "request of {len} bytes exceeds the message cap of {cap} bytes"
                    )));
                }
                let mut request = vec![0u8; len];
                caller
                    .read_memory(u64::from(ptr), &mut request)
                    .map_err(|e| protocol(format!("request buffer: {}", e.message())))?;
                let outcome: core::result::Result<Resp, GuestError> =
                    match abi::decode::<Req>(&request, cap) {
                        Ok(req) => {
                            func(&mut *caller, req).map_err(|e| GuestError::new(e.message()))
                        }
                        Err(e) => Err(GuestError::new(format!(
                            "request does not decode: {}",
                            e.message()
                        ))),
                    };
                drop(request);
                let response = abi::encode(&outcome).map_err(|e| protocol(e.message()))?;
                if response.len() > cap {
                    return Err(protocol(format!(
                        "response of {} bytes exceeds the message cap of {cap} bytes",
                        response.len()
                    )));
                }
                let mut out = [Val::I32(0)];
                caller
                    .call(
                        abi::ALLOC_EXPORT,
                        &[Val::I32(response.len() as i32)],
                        &mut out,
                    )
                    .map_err(|e| protocol(format!("guest allocator failed: {e}")))?;
                let out_ptr = out[0].as_i32().unwrap_or(0) as u32;
                if out_ptr == 0 {
                    return Err(protocol(format!(
                        "guest allocator returned 0 for {} bytes",
                        response.len()
                    )));
                }
                caller
                    .write_memory(u64::from(out_ptr), &response)
                    .map_err(|e| {
                        protocol(format!(
                            "guest allocator returned a bad pointer: {}",
                            e.message()
                        ))
                    })?;
                results[0] = Val::I64(abi::pack(out_ptr, response.len() as u32));
                Ok(())
            },
        )
    }
}
