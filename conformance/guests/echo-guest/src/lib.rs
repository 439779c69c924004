//! The smallest useful plugin built with `anywasm-guest`, as a plugin author
//! writes it first: a plain `Vec<u8>` echo and a no-op. The footprint
//! benches (`footprint/echo/<engine>`) measure what one instance of it costs
//! the host.

use anywasm_guest::{export, plugin};

plugin! {
    name: "echo",
    version: "0.1.0",
    description: "echoes its request",
}

export! {
    fn noop(_req: ()) {}

    fn echo(req: Vec<u8>) -> Vec<u8> {
        req
    }
}
