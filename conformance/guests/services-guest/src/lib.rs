//! The plugin `anywasm-test`'s own tests load: what a plugin author's tests
//! exercise, in one module.
//!
//! | export | request | response |
//! |---|---|---|
//! | `init` | config map | `Err` without a non-empty `greeting` |
//! | `greet` | `String` name | `"<greeting>, <name>!"`, also logged (`log`) |
//! | `now` | `()` | the host's clock (`clock`) |
//! | `roll` | `u32` n | n bytes from the host (`random`) |
//! | `count` | `String` key | a counter kept in the host's key-value store, incremented (`kv`) |
//! | `ask` | `String` key | `Option<String>` from the host function `anywasm::lookup` (`lookup`) |
//! | `spin` | `()` | never returns (fuel, timeout) |
//! | `hog` | `u32` n | allocates and keeps n MiB (memory limit) |
//! | `greet_via` | `(String plugin, String name)` | what `greet` of that plugin answers for `name` (`plugins:greeter`) |

use std::cell::RefCell;
use std::collections::BTreeMap;

use anywasm_guest::{GuestError, export, host_fn, plugin, services};

plugin!(manifest: include_str!("../anywasm.toml"));

host_fn! {
    /// `anywasm::lookup`, capability `lookup`: defined by the host (a test
    /// mocks it).
    fn lookup(key: String) -> Option<String>;
}

thread_local! {
    static GREETING: RefCell<String> = const { RefCell::new(String::new()) };
}

export! {
    fn init(config: BTreeMap<String, String>) -> Result<(), GuestError> {
        let greeting = config
            .get("greeting")
            .filter(|g| !g.is_empty())
            .ok_or_else(|| GuestError::new("the configuration has no `greeting`"))?;
        GREETING.with(|g| *g.borrow_mut() = greeting.clone());
        Ok(())
    }

    fn greet(name: String) -> Result<String, GuestError> {
        let line = GREETING.with(|g| format!("{}, {name}!", g.borrow()));
        services::log(&line)?;
        Ok(line)
    }

    fn now(_req: ()) -> Result<u64, GuestError> {
        services::clock(&())
    }

    fn roll(n: u32) -> Result<Vec<u8>, GuestError> {
        services::random(&n)
    }

    fn count(key: String) -> Result<u64, GuestError> {
        let old = services::kv_get(&key)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map_or(0, u64::from_le_bytes);
        services::kv_set(&(key, (old + 1).to_le_bytes().to_vec()))?;
        Ok(old + 1)
    }

    fn ask(key: String) -> Result<Option<String>, GuestError> {
        lookup(&key)
    }

    fn greet_via((plugin, name): (String, String)) -> Result<String, GuestError> {
        services::call(&plugin, "greet", &name)
    }

    fn spin(_req: ()) {
        let mut x: u64 = 1;
        loop {
            x = core::hint::black_box(x.wrapping_mul(3));
        }
    }

    fn hog(mib: u32) -> u32 {
        let mut kept = Vec::new();
        for i in 0..mib {
            kept.push(core::hint::black_box(vec![(i as u8) | 1; 1 << 20]));
        }
        kept.len() as u32
    }
}
