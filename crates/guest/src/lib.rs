//! # anywasm-guest
//!
//! Write anywasm plugins in Rust. This crate is the guest side of the plugin
//! ABI specified in `docs/abi.md`: a plugin is a `cdylib` compiled to
//! `wasm32-unknown-unknown` that declares itself with [`plugin!`], exports
//! typed functions with [`export!`] and calls typed host functions declared
//! with [`host_fn!`]. Requests and responses are any serde types; they travel
//! as bincode (the ABI's wire format) and every response is a
//! `Result<T, GuestError>` envelope.
//!
//! ```no_run
//! use anywasm_guest::{GuestError, export, host_fn, plugin};
//!
//! plugin! {
//!     name: "calc",
//!     version: "0.1.0",
//!     description: "Adds numbers, with some help",
//!     capabilities: ["math"],
//! }
//!
//! // `anywasm::add`, a host function of capability `math`.
//! host_fn!(fn add(req: (i32, i32)) -> i32);
//!
//! export! {
//!     /// `Vec<u8> -> Vec<u8>`; a `Result` whose error is any `Display`.
//!     fn echo(req: Vec<u8>) -> Result<Vec<u8>, GuestError> {
//!         Ok(req)
//!     }
//!
//!     /// A plain return type cannot fail.
//!     fn len(req: String) -> u64 {
//!         req.len() as u64
//!     }
//!
//!     /// A host function's error is a `GuestError`: `?` passes it on.
//!     fn sum(req: Vec<i32>) -> Result<i32, GuestError> {
//!         req.iter().try_fold(0, |acc, &x| add(&(acc, x)))
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! ```toml
//! # Cargo.toml of a plugin
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! anywasm-guest = "0.1"
//! serde = { version = "1", features = ["derive"] }
//!
//! [profile.release]
//! panic = "abort"   # the default on wasm32-unknown-unknown; keeps the module small
//! opt-level = "s"
//! lto = true
//! ```
//!
//! ```rust,ignore
//! // build.rs of a plugin: 32 KiB of shadow stack instead of the toolchain's 1 MiB.
//! fn main() {
//!     if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
//!         println!("cargo:rustc-link-arg-cdylib=-zstack-size=32768");
//!     }
//! }
//! ```
//!
//! `cargo build --release --target wasm32-unknown-unknown` then gives the
//! plugin in `target/wasm32-unknown-unknown/release/<name>.wasm`.
//!
//! ## Memory per instance
//!
//! Every instance of a plugin allocates the module's *initial* linear memory
//! before any guest code runs, and a host keeps one instance per pooled call
//! slot (wasmi, the interpreter meant for small hosts, even writes every byte
//! of it). Rust's wasm32 toolchain reserves 1 MiB of that memory for the
//! shadow stack (locals whose address is taken, large arrays), so a plugin
//! would start at 17 pages (1.06 MiB) however little it does, and Rust's
//! default allocator takes one more page from `memory.grow` on the first
//! allocation. The documented setup fixes both:
//!
//! - the `build.rs` above reserves 32 KiB of stack, so a small plugin's
//!   stack, data and first allocations fit in one 64 KiB page (the SDK's echo
//!   plugin starts with one page instead of seventeen);
//! - the SDK's allocator (feature `allocator`, on by default) serves
//!   allocations from the free end of that page before growing the memory.
//!
//! `anywasm::initial_memory_bytes` and the plugin manager's
//! `PluginInfo::initial_memory_bytes` show what a plugin asks for; hosts can
//! refuse more with `Limits::initial_memory_bytes`.
//!
//! The trade-off is stack depth. A guest that needs more stack than it
//! reserved (deep recursion through functions with large or address-taken
//! locals) traps with `MemoryOutOfBounds` when it overflows: the stack sits
//! below the data and ends at address 0, so an overflow never overwrites
//! data. Recursion that keeps its locals in wasm locals does not use the
//! shadow stack at all and is bounded by the engine's own stack limit. 32 KiB
//! is half the 64 KiB that C toolchains for wasm (wasi-sdk, emscripten)
//! reserve; a plugin that needs more sets a larger `-zstack-size` in its
//! `build.rs` (a multiple of 16), at 64 KiB per extra page on wasmi.
//!
//! ## What the macros generate
//!
//! - [`plugin!`]: the `anywasm:abi` custom section (the ABI version, 4 bytes
//!   little endian), the `anywasm:manifest` section (TOML, built and checked
//!   at compile time from its keys, or a manifest file of the crate taken
//!   as is), the allocator exports `anywasm_alloc` / `anywasm_free` and
//!   `anywasm_abi_v2`, through which a host selects ABI version 2 (one
//!   engine call per round trip; a version 1 host never calls it and gets
//!   the version 1 protocol), and `anywasm_abi_v2_replies`, the 4 KiB area
//!   host functions write responses that fit into (no allocation in the
//!   guest per host call). Use it exactly once per plugin.
//! - [`export!`]: for each function, an export of the same name with the ABI
//!   signature `(i32 ptr, i32 len) -> i64`. It takes the request (from the
//!   scratch area or a buffer it then frees), decodes it, runs the function
//!   and returns the encoded envelope (version 2: in a response buffer
//!   reused from call to call; version 1: in a buffer the host frees). A
//!   request that does not decode is answered with `Err(GuestError)` naming
//!   why; the function does not run.
//! - [`host_fn!`]: an import from module `anywasm` with the ABI signature, and
//!   a safe wrapper `fn name(req: &Req) -> Result<Resp, GuestError>`.
//!
//! For raw exports (hand-built responses, tests of hostile guests), use
//! [`request`], [`decode_request`] and [`respond`] directly: they follow
//! whichever ABI version the host selected.
//!
//! ## Panics and traps
//!
//! A panicking guest must trap (docs/abi.md §7). Plugins that use `std` on
//! `wasm32-unknown-unknown` get this for free: the target's panic strategy
//! is `abort`, and aborting executes `unreachable`, which the host sees as
//! `TrapCode::Unreachable`. Running out of memory aborts the same way. The
//! host then throws the instance away.
//!
//! `no_std` plugins need a `#[panic_handler]`: enable this crate's
//! `panic-handler` feature for one that executes `unreachable` (on wasm32
//! only; never with `std`, which has its own). The global allocator, which
//! `anywasm_alloc` and all buffers use, comes with the SDK (feature
//! `allocator`, see "Memory per instance").
//!
//! ## Outside wasm32
//!
//! The crate builds on any target so that plugin crates can be checked and
//! unit-tested on the host, but the ABI exists only in a wasm32 module: there
//! the generated host function wrappers return an error, and the generated
//! exports must not be called.
//!
//! ## Crate features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `allocator` | yes | the `#[global_allocator]` on `wasm32-unknown-unknown` ([talc](https://docs.rs/talc)), which uses the free end of the initial memory before growing it; turn it off to bring your own (`wasm32-wasip1` plugins keep std's allocator, wasi-libc's malloc) |
//! | `panic-handler` | no | a `#[panic_handler]` that traps, for `no_std` plugins on wasm32 |

#![no_std]
#![deny(missing_docs)]

extern crate alloc;

mod buffer;
// Not on wasm32-wasip1: wasi-libc's malloc owns the memory after
// `__heap_base` there, and two allocators must not share it.
#[cfg(all(
    feature = "allocator",
    target_arch = "wasm32",
    target_os = "unknown",
    not(target_feature = "atomics"),
    not(test)
))]
mod heap;
mod manifest;
mod rt;
pub mod services;

pub use anywasm_core::abi;
pub use anywasm_core::abi::{ABI_VERSION, GuestError, MAX_MESSAGE_CAP, pack, unpack};
pub use buffer::{BUFFER_ALIGN, Buffer};
pub use rt::{REPLY_LEN, Request, SCRATCH_LEN, decode_request, encode_envelope, request, respond};

// `#[link(wasm_import_module = ...)]` needs a literal: keep it in step.
const _: () = assert!(matches!(abi::HOST_MODULE.as_bytes(), b"anywasm"));

#[cfg(all(feature = "panic-handler", target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// Used by the macros; not a stable API.
#[doc(hidden)]
pub mod __private {
    use core::fmt::Display;

    use serde::Serialize;
    use serde::de::DeserializeOwned;

    pub use crate::manifest::{
        Manifest, bytes as manifest_bytes, len as manifest_len, text_bytes as manifest_text_bytes,
        text_len as manifest_text_len,
    };
    use crate::{GuestError, rt};

    /// `anywasm_abi_v2`.
    pub fn abi_v2() -> i64 {
        rt::abi_v2_export()
    }

    /// `anywasm_abi_v2_replies`.
    pub fn abi_v2_replies() -> i64 {
        rt::abi_v2_replies_export()
    }

    /// `anywasm_alloc`.
    pub fn alloc(len: i32) -> i32 {
        rt::alloc_export(len)
    }

    /// `anywasm_free`.
    ///
    /// # Safety
    ///
    /// As the ABI's `anywasm_free`.
    pub unsafe fn free(ptr: i32, len: i32) {
        // SAFETY: forwarded.
        unsafe { rt::free_export(ptr, len) }
    }

    /// An export whose function returns `Result<T, E>`.
    ///
    /// # Safety
    ///
    /// `(ptr, len)` is the request buffer the host passed.
    pub unsafe fn export_result<Req, T, E, F>(ptr: i32, len: i32, f: F) -> i64
    where
        Req: DeserializeOwned,
        T: Serialize,
        E: Display,
        F: FnOnce(Req) -> Result<T, E>,
    {
        // SAFETY: forwarded.
        unsafe { rt::entry(ptr, len, |req| f(req).map_err(rt::guest_error)) }
    }

    /// An export whose function returns a plain `T`.
    ///
    /// # Safety
    ///
    /// `(ptr, len)` is the request buffer the host passed.
    pub unsafe fn export_plain<Req, T, F>(ptr: i32, len: i32, f: F) -> i64
    where
        Req: DeserializeOwned,
        T: Serialize,
        F: FnOnce(Req) -> T,
    {
        // SAFETY: forwarded.
        unsafe { rt::entry(ptr, len, |req| Ok::<T, GuestError>(f(req))) }
    }

    /// Call a host import.
    ///
    /// # Safety
    ///
    /// `import` is an anywasm ABI host function.
    pub unsafe fn call_host<Req, Resp>(
        name: &str,
        request: &Req,
        import: unsafe extern "C" fn(i32, i32) -> i64,
    ) -> Result<Resp, GuestError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        // SAFETY: forwarded.
        unsafe { rt::call_host(name, request, import) }
    }

    /// A host import wrapper outside wasm32.
    pub fn host_unavailable<Resp>(name: &str) -> Result<Resp, GuestError> {
        rt::host_unavailable(name)
    }
}

/// Declare the plugin: emits the `anywasm:abi` and `anywasm:manifest` custom
/// sections and the allocator exports `anywasm_alloc` / `anywasm_free`.
///
/// Two forms. Keys, in this order: `name` (`[a-z0-9_-]+`) and `version` (semver) are
/// required; `description`, `entry_points`, `capabilities` and `wasi` (the
/// WASI access a `wasm32-wasip1` plugin asks for, e.g. `["stdout", "clock"]`;
/// directories go in a sidecar manifest's `[wasi.dirs]`) are optional.
/// Values are constant `&str` expressions (so `env!("CARGO_PKG_VERSION")`
/// works). The manifest is checked at compile time: a bad name or version
/// fails the build.
///
/// ```no_run
/// anywasm_guest::plugin! {
///     name: "echo",
///     version: env!("CARGO_PKG_VERSION"),
///     description: "Echoes its input",
///     entry_points: ["echo"],
///     capabilities: ["log"],
/// }
/// # fn main() {}
/// ```
///
/// The manifest this writes:
///
/// ```toml
/// name = "echo"
/// version = "0.1.0"
/// description = "Echoes its input"
/// entry_points = ["echo"]
/// capabilities = ["log"]
/// ```
///
/// Or `manifest:` with the whole manifest as TOML text, usually a file of
/// the crate, for what the keys above cannot say (`[limits]`, `[config]`,
/// `[dependencies]`, `subscribes`, `min_host_version`; the keys are those
/// of the plugin manager's manifest). The compiler checks only that it is
/// at most 64 KiB with top-level `name` and `version` keys;
/// `anywasm build` and every host check the rest.
///
/// ```no_run
/// anywasm_guest::plugin!(manifest: "name = \"echo\"\nversion = \"0.1.0\"\n[limits]\nfuel = 1000000\n");
/// // In a plugin crate: plugin!(manifest: include_str!("../anywasm.toml"));
/// # fn main() {}
/// ```
///
/// Use it once per plugin: a second use is a duplicate-symbol link error.
#[macro_export]
macro_rules! plugin {
    (manifest: $text:expr $(,)?) => {
        const _: () = {
            const MANIFEST_LEN: usize = $crate::__private::manifest_text_len($text);

            #[cfg_attr(target_arch = "wasm32", unsafe(link_section = "anywasm:manifest"))]
            #[used]
            static MANIFEST_SECTION: [u8; MANIFEST_LEN] =
                $crate::__private::manifest_text_bytes::<MANIFEST_LEN>($text);
        };
        $crate::__plugin_runtime!();
    };
    (
        name: $name:expr,
        version: $version:expr
        $(, description: $description:expr)?
        $(, entry_points: [$($entry:expr),* $(,)?])?
        $(, capabilities: [$($capability:expr),* $(,)?])?
        $(, wasi: [$($wasi:expr),* $(,)?])?
        $(,)?
    ) => {
        const _: () = {
            const MANIFEST: $crate::__private::Manifest<'static> = $crate::__private::Manifest {
                name: $name,
                version: $version,
                description: $crate::__plugin_option!($($description)?),
                entry_points: $crate::__plugin_option!($(&[$($entry),*])?),
                capabilities: &[$($($capability),*)?],
                wasi: $crate::__plugin_option!($(&[$($wasi),*])?),
            };
            const MANIFEST_LEN: usize = $crate::__private::manifest_len(&MANIFEST);

            #[cfg_attr(target_arch = "wasm32", unsafe(link_section = "anywasm:manifest"))]
            #[used]
            static MANIFEST_SECTION: [u8; MANIFEST_LEN] =
                $crate::__private::manifest_bytes::<MANIFEST_LEN>(&MANIFEST);
        };
        $crate::__plugin_runtime!();
    };
}

/// The ABI section and the allocator exports every plugin has.
#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_runtime {
    () => {
        const _: () = {
            #[cfg_attr(target_arch = "wasm32", unsafe(link_section = "anywasm:abi"))]
            #[used]
            static ABI: [u8; 4] = $crate::ABI_VERSION.to_le_bytes();

            /// `anywasm_abi_v2() -> (ptr << 32) | len`: the host selects ABI
            /// version 2 and learns the scratch area for requests.
            #[unsafe(no_mangle)]
            pub extern "C" fn anywasm_abi_v2() -> i64 {
                $crate::__private::abi_v2()
            }

            /// `anywasm_abi_v2_replies() -> (ptr << 32) | len`: the area
            /// host functions write their responses into when they fit.
            #[unsafe(no_mangle)]
            pub extern "C" fn anywasm_abi_v2_replies() -> i64 {
                $crate::__private::abi_v2_replies()
            }

            /// `anywasm_alloc(len) -> ptr`: `len` fresh bytes, 0 on failure.
            #[unsafe(no_mangle)]
            pub extern "C" fn anywasm_alloc(len: i32) -> i32 {
                $crate::__private::alloc(len)
            }

            /// `anywasm_free(ptr, len)`: release a buffer from `anywasm_alloc`
            /// or a response.
            ///
            /// # Safety
            ///
            /// `(ptr, len)` is a live buffer of this allocator.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn anywasm_free(ptr: i32, len: i32) {
                // SAFETY: the caller's promise, per the ABI.
                unsafe { $crate::__private::free(ptr, len) }
            }
        };
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_option {
    () => {
        ::core::option::Option::None
    };
    ($value:expr) => {
        ::core::option::Option::Some($value)
    };
}

/// Export typed functions as plugin entry points.
///
/// Each `fn name(req: Req) -> Resp { .. }` becomes a wasm export `name` with
/// the ABI signature `(i32 ptr, i32 len) -> i64`. `Req` is any
/// `DeserializeOwned` type (`()` for none), the parameter any pattern. The
/// return type is one of:
///
/// - `Result<T, E>` (written literally as `Result<..>`) with `T: Serialize`
///   and `E: Display`: `Err(e)` reaches the host as a guest error whose
///   message is `e.to_string()`;
/// - any other `T: Serialize`, or nothing (`()`): always `Ok`.
///
/// Several functions may go in one invocation; doc comments and attributes
/// are kept. Inside the body, the function's own name refers to the typed
/// function, so it may call itself.
///
/// ```no_run
/// use anywasm_guest::{GuestError, export};
///
/// export! {
///     fn echo(req: Vec<u8>) -> Result<Vec<u8>, GuestError> { Ok(req) }
///     fn parse(text: String) -> Result<u32, core::num::ParseIntError> { text.parse() }
///     fn swap((a, b): (u8, i64)) -> (i64, u8) { (b, a) }
///     fn ping(_: ()) {}
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export {
    () => {};
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident $params:tt -> Result<$ok:ty, $err:ty> $body:block
        $($rest:tt)*
    ) => {
        $crate::__export_one!(export_result [$(#[$meta])*] $name $params [Result<$ok, $err>] $body);
        $crate::export!($($rest)*);
    };
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident $params:tt -> Result<$ok:ty> $body:block
        $($rest:tt)*
    ) => {
        $crate::__export_one!(export_result [$(#[$meta])*] $name $params [Result<$ok>] $body);
        $crate::export!($($rest)*);
    };
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident $params:tt -> $ret:ty $body:block
        $($rest:tt)*
    ) => {
        $crate::__export_one!(export_plain [$(#[$meta])*] $name $params [$ret] $body);
        $crate::export!($($rest)*);
    };
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident $params:tt $body:block
        $($rest:tt)*
    ) => {
        $crate::__export_one!(export_plain [$(#[$meta])*] $name $params [()] $body);
        $crate::export!($($rest)*);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_one {
    ($helper:ident [$($attr:tt)*] $name:ident $params:tt [$($ret:tt)*] $body:block) => {
        $($attr)*
        ///
        /// Plugin entry point (anywasm ABI): `(ptr, len)` is the request (in
        /// the scratch area, or a buffer from `anywasm_alloc` this function
        /// takes ownership of); the result packs the response, `(ptr << 32)
        /// | len`.
        ///
        /// # Safety
        ///
        /// Called by the host per the ABI, never from Rust.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(__anywasm_ptr: i32, __anywasm_len: i32) -> i64 {
            // The typed function; the names above cannot clash with it.
            fn $name $params -> $($ret)* $body
            // SAFETY: the host passes the request per docs/abi.md §3.
            unsafe { $crate::__private::$helper(__anywasm_ptr, __anywasm_len, $name) }
        }
    };
}

/// Declare typed host functions, imported from module `anywasm`.
///
/// `fn name(req: Req) -> Resp` imports `anywasm::name` with the ABI signature
/// `(i32 ptr, i32 len) -> i64` and defines a safe wrapper
/// `fn name(req: &Req) -> Result<Resp, GuestError>`: it encodes the request,
/// calls the host, decodes the response envelope (from the reply area, or
/// from a buffer the host allocated, which it then frees). The host's `Err` comes back as the `GuestError`; a response that
/// does not decode is a `GuestError` too. Without `-> Resp` the response is
/// `()`. `= "import-name"` after the signature imports a name that is not a
/// Rust identifier. Visibility, doc comments and attributes are kept; several
/// declarations are separated by `;`.
///
/// The host grants host functions by capability: the plugin fails to load if
/// it imports one whose capability the host did not grant.
///
/// ```no_run
/// anywasm_guest::host_fn! {
///     /// `anywasm::add`, capability `math`.
///     pub fn add(req: (i32, i32)) -> i32;
///     fn log(line: String);
///     fn kv_get(key: String) -> Option<Vec<u8>> = "kv.get";
/// }
///
/// # fn main() -> Result<(), anywasm_guest::GuestError> {
/// let three = add(&(1, 2))?;
/// log(&format!("1 + 2 = {three}"))?;
/// # Ok(()) }
/// ```
///
/// Outside wasm32 the wrappers exist but return an error (there is no host).
#[macro_export]
macro_rules! host_fn {
    () => {};
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident ( $arg:ident : $req:ty $(,)? ) -> $resp:ty = $import:literal
        $(; $($rest:tt)*)?
    ) => {
        $crate::__host_fn_one!([$(#[$meta])*] $vis $name $arg [$req] [$resp] $import);
        $crate::host_fn!($($($rest)*)?);
    };
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident ( $arg:ident : $req:ty $(,)? ) -> $resp:ty
        $(; $($rest:tt)*)?
    ) => {
        $crate::__host_fn_one!([$(#[$meta])*] $vis $name $arg [$req] [$resp] stringify!($name));
        $crate::host_fn!($($($rest)*)?);
    };
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident ( $arg:ident : $req:ty $(,)? ) = $import:literal
        $(; $($rest:tt)*)?
    ) => {
        $crate::__host_fn_one!([$(#[$meta])*] $vis $name $arg [$req] [()] $import);
        $crate::host_fn!($($($rest)*)?);
    };
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident ( $arg:ident : $req:ty $(,)? )
        $(; $($rest:tt)*)?
    ) => {
        $crate::__host_fn_one!([$(#[$meta])*] $vis $name $arg [$req] [()] stringify!($name));
        $crate::host_fn!($($($rest)*)?);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __host_fn_one {
    ([$($attr:tt)*] $vis:vis $name:ident $arg:ident [$req:ty] [$resp:ty] $import:expr) => {
        $($attr)*
        $vis fn $name($arg: &$req) -> ::core::result::Result<$resp, $crate::GuestError> {
            #[cfg(target_arch = "wasm32")]
            {
                #[link(wasm_import_module = "anywasm")]
                unsafe extern "C" {
                    #[link_name = $import]
                    fn import(ptr: i32, len: i32) -> i64;
                }
                // SAFETY: `import` is a host function of the anywasm ABI
                // (the host links only such functions into module `anywasm`).
                unsafe { $crate::__private::call_host($import, $arg, import) }
            }
            #[cfg(not(target_arch = "wasm32"))]
            {
                let _ = $arg;
                $crate::__private::host_unavailable($import)
            }
        }
    };
}
