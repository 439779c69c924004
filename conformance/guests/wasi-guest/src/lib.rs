//! A plugin built for `wasm32-wasip1`: plain std Rust (`println!`,
//! `std::env`, `std::time`, `std::fs`, std's randomly seeded hash maps)
//! with the anywasm guest SDK. Every std call below is a WASI import the
//! host must grant.
//!
//! | export | request | response |
//! |---|---|---|
//! | `hello` | `String` name | `String`, after printing a line to stdout and one to stderr |
//! | `env_var` | `String` key | `Option<String>` |
//! | `clock` | `()` | `(u64, u64)`: seconds since the epoch, monotonic nanoseconds elapsed over a short spin |
//! | `hash_seed` | `()` | `u64`, from a std `RandomState` (seeded by `random_get`) |
//! | `read_file` | `String` path | `String` contents, or the I/O error |
//! | `write_file` | `(String, String)` path, contents | `()`, or the I/O error |
//! | `list_dir` | `String` path | sorted `Vec<String>` of entry names |
//! | `spam` | `u32` n | prints n lines of 1 KiB to stdout |

use std::hash::{BuildHasher, Hasher};
use std::io::Write;

use anywasm_guest::{GuestError, export, plugin};

plugin! {
    name: "wasi-guest",
    version: "0.1.0",
    description: "std Rust on wasm32-wasip1",
    wasi: ["stdout", "stderr", "env", "clock", "random", "exit", "fs"],
}

fn io(e: std::io::Error) -> GuestError {
    GuestError::new(e.to_string())
}

export! {
    fn hello(name: String) -> String {
        println!("hello, {name}");
        eprintln!("stderr says hi to {name}");
        format!("hi {name}")
    }

    fn env_var(key: String) -> Option<String> {
        std::env::var(key).ok()
    }

    fn clock(_req: ()) -> (u64, u64) {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let start = std::time::Instant::now();
        let mut x = 0u64;
        for i in 0..10_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        (wall, start.elapsed().as_nanos() as u64 + (x & 0))
    }

    fn hash_seed(_req: ()) -> u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(1);
        h.finish()
    }

    fn read_file(path: String) -> Result<String, GuestError> {
        std::fs::read_to_string(path).map_err(io)
    }

    fn write_file(req: (String, String)) -> Result<(), GuestError> {
        std::fs::write(req.0, req.1).map_err(io)
    }

    fn list_dir(path: String) -> Result<Vec<String>, GuestError> {
        let mut names = std::fs::read_dir(path)
            .map_err(io)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(io)?;
        names.sort();
        Ok(names)
    }

    fn spam(n: u32) {
        let line = [b'z'; 1023];
        let mut out = std::io::stdout().lock();
        for _ in 0..n {
            let _ = out.write_all(&line);
            let _ = out.write_all(b"\n");
        }
    }
}
