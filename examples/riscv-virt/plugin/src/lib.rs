//! The plugin the riscv-virt firmware embeds, written with `anywasm-guest`
//! as any plugin author would: typed exports, and a typed host function the
//! firmware grants under the capability `sensor`. Two exports misbehave on
//! purpose, so the firmware can show that its limits and checks hold on
//! bare metal.
//!
//! | export | request | response |
//! |---|---|---|
//! | `greet` | `String` name | `String` greeting |
//! | `summarize` | `Vec<i32>` readings (m°C) | `Summary`; an empty window is a guest error |
//! | `sample` | `(u8, u32)` channel, count | `Summary` of `count` readings from the host's `read_sensor` |
//! | `spin` | `()` | never returns: a runaway the host's budget must stop |
//! | `escape` | `()` | a response pointer outside linear memory: hostile |

#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use anywasm_guest::{GuestError, export, host_fn, pack, plugin};

#[path = "../../src/protocol.rs"]
mod protocol;

use protocol::Summary;

plugin! {
    name: "thermo",
    version: env!("CARGO_PKG_VERSION"),
    description: "Temperature statistics for the riscv-virt firmware",
    capabilities: ["sensor"],
}

host_fn! {
    /// `anywasm::read_sensor`: one reading of a channel, in m°C (capability `sensor`).
    fn read_sensor(channel: u8) -> i32;
}

export! {
    fn greet(name: String) -> String {
        format!("hello {name}, from a wasm plugin")
    }

    fn summarize(readings: Vec<i32>) -> Result<Summary, GuestError> {
        stats(&readings)
    }

    fn sample((channel, count): (u8, u32)) -> Result<Summary, GuestError> {
        let readings = (0..count)
            .map(|_| read_sensor(&channel))
            .collect::<Result<Vec<i32>, GuestError>>()?;
        stats(&readings)
    }

    /// Loop forever, in a way the optimiser cannot remove.
    fn spin(_req: ()) {
        let mut counter = 0u64;
        loop {
            core::hint::black_box(&mut counter);
            counter = counter.wrapping_add(1);
        }
    }
}

fn stats(readings: &[i32]) -> Result<Summary, GuestError> {
    let (Some(&min), Some(&max)) = (readings.iter().min(), readings.iter().max()) else {
        return Err(GuestError::new("no readings to summarize"));
    };
    let sum: i64 = readings.iter().map(|&r| i64::from(r)).sum();
    Ok(Summary {
        count: readings.len() as u32,
        min,
        max,
        mean: (sum / readings.len() as i64) as i32,
    })
}

/// A raw export (no `export!`) that answers with a response pointer far
/// outside its 64 KiB memory, as a guest probing the host's memory would.
///
/// # Safety
///
/// Called by the host per the ABI.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn escape(ptr: i32, len: i32) -> i64 {
    // SAFETY: what the host passed to this entry point, taken once.
    drop(unsafe { anywasm_guest::request(ptr, len) });
    pack(0xFFFF_0000, 16)
}
