//! # A plugin on bare metal
//!
//! Firmware for QEMU's RISC-V `virt` machine (`riscv32imac`, machine mode,
//! no operating system, no `std`) that runs an anywasm plugin on the wasmi
//! interpreter through the typed ABI, the same [`Plugin`] API a server uses:
//!
//! 1. typed calls (strings, a struct, a host function the firmware grants
//!    under the capability `sensor`), each result printed on the UART;
//! 2. a runaway call (an infinite loop) stopped by its gas budget with
//!    `Trap(OutOfFuel)`, after which the plugin answers again;
//! 3. hostile behaviour failing with typed errors: a response pointer outside
//!    the guest's memory (`Abi`), and the plugin instantiated without the
//!    capability it imports (`CapabilityDenied`, before any of its code runs);
//! 4. a second plugin from the same compiled module, with its own state;
//! 5. what it all costs: heap for the engine, the compiled plugin and each
//!    instance, measured by a counting global allocator (src/heap.rs), and
//!    the stack's high-water mark (src/stack.rs);
//!
//! then it ends the run through QEMU's test finisher: exit status 0 if every
//! outcome was the expected one, 1 otherwise (101 on a panic, 102 on a CPU
//! exception). Each checked outcome is one `ok ...` or `FAIL ...` line; CI
//! runs the firmware and checks those lines and the exit status
//! (`.ci/firmware`).
//!
//! The plugin is `plugin/`, written with the guest SDK, built for
//! `wasm32-unknown-unknown` by this crate's build script and embedded in the
//! image with `include_bytes!`.
//!
//! ## Build and run
//!
//! ```text
//! rustup component add rust-src
//! rustup target add wasm32-unknown-unknown
//! apt-get install qemu-system-misc          # provides qemu-system-riscv32
//! cd examples/riscv-virt
//! RUSTC_BOOTSTRAP=1 cargo run --release -Zbuild-std=core,alloc
//! ```
//!
//! `-Zbuild-std=core,alloc` builds `core` and `alloc` for
//! `riscv32imac-unknown-none-elf` from the `rust-src` component, so no
//! prebuilt standard library for the target is needed; `RUSTC_BOOTSTRAP=1`
//! allows that flag on a stable toolchain. Where rustup offers the target's
//! library (`rustup target add riscv32imac-unknown-none-elf`), a plain
//! `cargo run --release` does the same. The runner in `.cargo/config.toml`
//! is
//!
//! ```text
//! qemu-system-riscv32 -machine virt -m 16M -bios none -display none -serial stdio -monitor none -kernel <elf>
//! ```
//!
//! `memory.x` lays out a board with 2 MiB of flash and 1 MiB of RAM: the
//! link fails if the image or the RAM (heap, stack, statics) does not fit.
//!
//! ## The budget
//!
//! Runaway calls are bounded with anywasm's engine-neutral gas
//! ([`Config::gas`] and a gas amount set before each call): the plugin is
//! instrumented when it is compiled and counts its own gas from one cost
//! table, so each call below uses exactly the gas it uses on wasmtime or
//! wasmer on a server, and the runaway stops at the same instruction on
//! every run. A timeout would need a clock
//! (`anywasm_wasmi::Engine::with_clock`); gas needs none.

#![no_std]
#![no_main]

extern crate alloc;

#[macro_use]
mod board;
mod heap;
mod protocol;
mod stack;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use anywasm::{
    BackendKind, Capabilities, Config, Error, ErrorKind, HostError, Limits, Linker, Plugin,
    TrapCode, abi,
};

use protocol::Summary;

/// The plugin, built from `plugin/` by the build script.
static PLUGIN: &[u8] = include_bytes!(env!("THERMO_PLUGIN_WASM"));

/// Gas for one call: plenty for the typed calls, and what the runaway
/// burns before it is stopped.
const GAS_PER_CALL: u64 = 1_000_000;

/// Largest request or response, either way. The ABI's default (16 MiB) is
/// for servers; a microcontroller bounds it by what it can spare.
const MESSAGE_CAP: usize = 4 << 10;

/// What each plugin's store holds: the (simulated) temperature sensor.
#[derive(Debug, Default)]
struct Sensor {
    /// Readings taken so far.
    reads: u32,
}

impl Sensor {
    /// The next reading of `channel` in m°C: a fixed, repeating waveform,
    /// so the output is the same on every run.
    fn read(&mut self, channel: u8) -> i32 {
        const WAVE: [i32; 8] = [
            21_500, 21_750, 22_000, 22_500, 23_250, 22_750, 22_250, 21_750,
        ];
        let reading = WAVE[self.reads as usize % WAVE.len()] + i32::from(channel) * 1_000;
        self.reads += 1;
        reading
    }
}

#[riscv_rt::entry]
fn main() -> ! {
    stack::paint();
    board::exit(run())
}

/// Every step; `Err(1)` if any outcome was not the expected one.
fn run() -> Result<(), u16> {
    let mut report = Report::default();
    println!(
        "anywasm on riscv32imac, QEMU virt: wasmi backend, {} byte plugin, {} heap",
        PLUGIN.len(),
        kib(heap::ARENA_BYTES)
    );

    let config = Config::new().gas(true).max_stack_bytes(64 << 10);
    let engine = anywasm::engine::<Sensor>(BackendKind::Wasmi, &config)
        .map_err(|e| Report::fatal("create the engine", &e))?;
    let limits = Limits::new()
        .memory_bytes(4 * 65_536)
        .initial_memory_bytes(65_536)
        .instances(4)
        .gas(GAS_PER_CALL);
    let linker = sensor_linker();
    let granted = Capabilities::none().grant("sensor");
    let engine_bytes = heap::used();

    // Compile once, instantiate per plugin: wasmi's engine keeps the code
    // of every module it compiles until the engine is dropped, so a host
    // with little RAM compiles each plugin once. (`Plugin::load` does these
    // checks and the compile in one call.)
    let module = abi::check_abi_version(PLUGIN)
        .and_then(|_| limits.check_initial_memory(PLUGIN))
        .and_then(|()| engine.compile(PLUGIN))
        .map_err(|e| Report::fatal("compile the plugin", &e))?;
    let module_bytes = heap::used() - engine_bytes;
    let manifest = abi::manifest_text(PLUGIN).ok().flatten().map(String::from);
    let instantiate = |granted: &Capabilities, manifest: Option<String>| {
        Plugin::from_module(
            &*engine,
            &module,
            manifest,
            &linker,
            granted,
            Sensor::default(),
            &limits,
        )
        .map(|plugin| plugin.with_message_cap(MESSAGE_CAP))
    };
    let mut plugin =
        instantiate(&granted, manifest).map_err(|e| Report::fatal("instantiate the plugin", &e))?;
    let instance_bytes = heap::used() - engine_bytes - module_bytes;
    let manifest = plugin.manifest().unwrap_or("").lines();
    let manifest: Vec<&str> = manifest.filter(|l| !l.starts_with("description")).collect();
    println!("loaded {}", manifest.join(", "));
    println!(
        "heap: engine {}, compiled plugin {}, one instance {}; high-water {}",
        kib(engine_bytes),
        kib(module_bytes),
        kib(instance_bytes),
        kib(heap::high_water())
    );

    typed_calls(&mut report, &mut plugin);
    misbehaviour(&mut report, &mut plugin);

    // Hostile: a plugin importing a capability it was not granted never runs.
    let denied = instantiate(&Capabilities::none(), None);
    report.check(
        denied.as_ref().err().map(Error::kind) == Some(ErrorKind::CapabilityDenied),
        format!(
            "hostile: load without `sensor` = {}",
            shown(denied.as_ref().map(|_| &"loaded"))
        ),
    );
    drop(denied);

    // A second plugin from the same compiled module: its own store, memory
    // and host state, and the same cost as the first.
    let before = heap::used();
    let mut second = instantiate(&granted, None)
        .map_err(|e| Report::fatal("instantiate a second plugin", &e))?;
    let second_bytes = heap::used() - before;
    let sampled = call::<_, Summary>(&mut second, "sample", &(1u8, 4u32));
    let reads = second.data().reads;
    report.check(
        sampled.ok() == Some(&summary(4, 22_500, 23_500, 22_937))
            && reads == 4
            && second_bytes >= 65_536,
        format!(
            "second plugin: sample((1, 4)) = {}, its sensor read {reads} times, \
             instance {} (its 64 KiB of linear memory included)",
            sampled.show(),
            kib(second_bytes)
        ),
    );
    drop((second, plugin));

    let stack = stack::high_water();
    report.check(
        stack < stack::size(),
        format!(
            "memory: heap high-water {} of {}, stack high-water {} of {}",
            kib(heap::high_water()),
            kib(heap::ARENA_BYTES),
            kib(stack),
            kib(stack::size())
        ),
    );

    report.finish()
}

/// Typed requests and responses: a string, a struct, a call into the host,
/// and a guest error.
fn typed_calls(report: &mut Report, plugin: &mut Plugin<Sensor>) {
    let greeting = call::<_, String>(plugin, "greet", "riscv32imac");
    report.check(
        greeting.ok().map(String::as_str) == Some("hello riscv32imac, from a wasm plugin"),
        format!("greet(\"riscv32imac\") = {}", greeting.show()),
    );
    println!("heap after a call: {}", heap_use());

    let window = vec![21_500, 22_000, 23_250];
    let summarized = call::<_, Summary>(plugin, "summarize", &window);
    report.check(
        summarized.ok() == Some(&summary(3, 21_500, 23_250, 22_250)),
        format!("summarize({window:?}) = {}", summarized.show()),
    );

    let sampled = call::<_, Summary>(plugin, "sample", &(0u8, 8u32));
    let reads = plugin.data().reads;
    report.check(
        sampled.ok() == Some(&summary(8, 21_500, 23_250, 22_218)) && reads == 8,
        format!(
            "sample((0, 8)) = {}, the host read its sensor {reads} times",
            sampled.show()
        ),
    );

    let empty = call::<_, Summary>(plugin, "summarize", &Vec::<i32>::new());
    report.check(
        empty.kind() == Some(ErrorKind::Guest),
        format!("summarize([]) = {}", empty.show()),
    );
}

/// A runaway stopped by its budget, the plugin answering again, and a
/// hostile response refused.
fn misbehaviour(report: &mut Report, plugin: &mut Plugin<Sensor>) {
    let runaway = call::<_, ()>(plugin, "spin", &());
    report.check(
        runaway.kind() == Some(ErrorKind::Trap(TrapCode::OutOfFuel)),
        format!("runaway: spin() = {}", runaway.show()),
    );
    // The next call runs on a fresh instance in the same store (the trapped
    // one's memory is freed with the plugin).
    let again = call::<_, String>(plugin, "greet", "again");
    report.check(
        again.ok().map(String::as_str) == Some("hello again, from a wasm plugin"),
        format!("recovered: greet(\"again\") = {}", again.show()),
    );

    // A response pointer outside the guest's memory is refused, not read.
    let escape = call::<_, Vec<u8>>(plugin, "escape", &());
    report.check(
        escape.kind() == Some(ErrorKind::Abi),
        format!("hostile: escape() = {}", escape.show()),
    );
}

const fn summary(count: u32, min: i32, max: i32, mean: i32) -> Summary {
    Summary {
        count,
        min,
        max,
        mean,
    }
}

/// The heap now, and its high-water mark so far.
fn heap_use() -> String {
    format!(
        "{} in use, high-water {}",
        kib(heap::used()),
        kib(heap::high_water())
    )
}

/// The firmware's host functions: `anywasm::read_sensor`, importable only by
/// plugins granted `sensor`.
fn sensor_linker() -> Linker<Sensor> {
    let mut linker = Linker::<Sensor>::new();
    linker
        .abi_func("read_sensor", |caller, channel: u8| match channel {
            0..=3 => Ok(caller.data_mut().read(channel)),
            _ => Err(HostError::new(format!("no sensor channel {channel}"))),
        })
        .capability("sensor")
        .message_cap(64);
    linker
}

/// One typed call with a fresh gas budget.
fn call<Req: serde::Serialize + ?Sized, Resp: serde::de::DeserializeOwned>(
    plugin: &mut Plugin<Sensor>,
    name: &str,
    request: &Req,
) -> Outcome<Resp> {
    let refill = plugin.store_mut().set_gas(GAS_PER_CALL);
    let result = refill.and_then(|()| plugin.call(name, request));
    let left = plugin.store_mut().gas().unwrap_or(0);
    Outcome {
        result,
        gas: GAS_PER_CALL - left,
    }
}

/// A call's result and the gas it used.
struct Outcome<T> {
    result: anywasm::Result<T>,
    gas: u64,
}

impl<T: core::fmt::Debug> Outcome<T> {
    fn ok(&self) -> Option<&T> {
        self.result.as_ref().ok()
    }

    fn kind(&self) -> Option<ErrorKind> {
        self.result.as_ref().err().map(Error::kind)
    }

    fn show(&self) -> String {
        format!("{} (gas {})", shown(self.result.as_ref()), self.gas)
    }
}

/// A result as the log shows it: the value with `{:?}`, an error as its
/// matchable kind and then its message.
fn shown<T: core::fmt::Debug>(result: Result<&T, &Error>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(e) => format!("{:?}: {e}", e.kind()),
    }
}

/// `bytes` in KiB with one decimal.
fn kib(bytes: usize) -> String {
    format!("{}.{} KiB", bytes >> 10, ((bytes & 1023) * 10) >> 10)
}

/// Each step's line on the UART, `ok` or `FAIL`, and the verdict.
#[derive(Debug, Default)]
struct Report {
    passed: u32,
    failed: u32,
}

impl Report {
    fn check(&mut self, ok: bool, line: String) {
        if ok {
            self.passed += 1;
            println!("ok {line}");
        } else {
            self.failed += 1;
            println!("FAIL {line}");
        }
    }

    /// A step the rest depends on failed: say so; the run fails.
    fn fatal(what: &str, e: &Error) -> u16 {
        println!("FAIL could not {what}: {:?}: {e}", e.kind());
        1
    }

    fn finish(self) -> Result<(), u16> {
        println!("{} passed, {} failed", self.passed, self.failed);
        if self.failed == 0 { Ok(()) } else { Err(1) }
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("FAIL panic: {info}");
    board::exit(Err(101))
}

/// A CPU exception (illegal instruction, access fault, ...): report the
/// cause and where, and fail the run instead of hanging.
#[unsafe(export_name = "ExceptionHandler")]
fn exception(frame: &riscv_rt::TrapFrame) -> ! {
    let mcause: usize;
    let mepc: usize;
    let mtval: usize;
    // SAFETY: reading machine-mode CSRs in the machine-mode trap handler has
    // no side effect; the firmware runs in M-mode throughout (`-bios none`).
    unsafe {
        core::arch::asm!("csrr {0}, mcause", "csrr {1}, mepc", "csrr {2}, mtval",
            out(reg) mcause, out(reg) mepc, out(reg) mtval, options(nomem, nostack));
    }
    println!(
        "FAIL CPU exception: mcause {mcause:#x} at mepc {mepc:#x}, mtval {mtval:#x}, ra {:#x}",
        frame.ra
    );
    board::exit(Err(102))
}
