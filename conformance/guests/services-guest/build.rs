//! The guest SDK's documented setup: 32 KiB of shadow stack instead of the
//! toolchain's 1 MiB, so an instance starts with one page of linear
//! memory rather than seventeen (see the `anywasm-guest` crate docs,
//! "Memory per instance").

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size=32768");
    }
}
