//! A std Rust plugin built for `wasm32-wasip1` (guests/wasi-guest), loaded
//! with `anywasm::Plugin` on every engine: its `println!`, `std::env`,
//! `std::time`, `std::fs` and hash-map seeding go through anywasm's WASI.

use anywasm::{Capabilities, Config, ErrorKind, Limits, Linker, Plugin};
use anywasm_wasi::{Capture, DirPerms, Output, WasiCtx, add_to_linker, capability};

use super::check;
use crate::guests::WASI_GUEST;
use crate::harness::{expect_eq, ok};
use crate::{Check, Ctx};

fn all_wasi() -> Capabilities {
    capability::ALL
        .iter()
        .fold(Capabilities::none(), |c, name| c.grant(name))
}

fn load(cx: &Ctx, ctx: WasiCtx, granted: &Capabilities) -> anywasm::Result<Plugin<WasiCtx>> {
    let mut linker = Linker::new();
    add_to_linker(&mut linker);
    let engine = anywasm::engine::<WasiCtx>(cx.backend(), &Config::new())?;
    Plugin::load(&*engine, WASI_GUEST, &linker, granted, ctx, &Limits::new())
}

fn std_io(cx: &Ctx) -> Result<(), String> {
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (out, err) = (Capture::new(1 << 16), Capture::new(1 << 16));
    let ctx = WasiCtx::builder()
        .stdout(Output::Capture(out.clone()))
        .stderr(Output::Capture(err.clone()))
        .env("GREETING", "hej")
        .clocks()
        .seeded_random(7)
        .preopen_dir(data.path(), "/data", DirPerms::ReadWrite)
        .map_err(|e| e.to_string())?
        .build();
    let mut p = ok("load", load(cx, ctx, &all_wasi()))?;
    let hi: String = ok("hello", p.call("hello", "anywasm"))?;
    expect_eq("hello", hi.as_str(), "hi anywasm")?;
    expect_eq("stdout", out.text().as_str(), "hello, anywasm\n")?;
    expect_eq("stderr", err.text().as_str(), "stderr says hi to anywasm\n")?;
    let v: Option<String> = ok("env_var", p.call("env_var", "GREETING"))?;
    expect_eq("GREETING", v.as_deref(), Some("hej"))?;
    let v: Option<String> = ok("env_var", p.call("env_var", "HOME"))?;
    expect_eq("HOME (not granted)", v, None)?;
    let (wall, _): (u64, u64) = ok("clock", p.call("clock", &()))?;
    if wall < 1_600_000_000 {
        return Err(format!("wall clock says {wall} s since the epoch"));
    }
    let () = ok(
        "write_file",
        p.call("write_file", &("/data/x.txt", "written by the guest")),
    )?;
    let host = std::fs::read_to_string(data.path().join("x.txt")).map_err(|e| e.to_string())?;
    expect_eq("host sees", host.as_str(), "written by the guest")?;
    let back: String = ok("read_file", p.call("read_file", "/data/x.txt"))?;
    expect_eq("read back", back.as_str(), "written by the guest")?;
    let names: Vec<String> = ok("list_dir", p.call("list_dir", "/data"))?;
    expect_eq("listing", names, vec!["x.txt".to_string()])?;
    match p.call::<_, String>("read_file", "/etc/passwd") {
        Err(e) if e.kind() == ErrorKind::Guest => {}
        other => return Err(format!("reading /etc/passwd: {other:?}")),
    }
    // Seeded randomness reaches std: two plugins with one seed agree.
    let a: u64 = ok("hash_seed", p.call("hash_seed", &()))?;
    let ctx = WasiCtx::builder().seeded_random(7).build();
    let mut q = ok("load again", load(cx, ctx, &all_wasi()))?;
    let b: u64 = ok("hash_seed", q.call("hash_seed", &()))?;
    expect_eq("hash seeds from one random seed", a, b)
}

fn capture_cap(cx: &Ctx) -> Result<(), String> {
    let out = Capture::new(1 << 16);
    let ctx = WasiCtx::builder()
        .stdout(Output::Capture(out.clone()))
        .build();
    let mut p = ok("load", load(cx, ctx, &all_wasi()))?;
    let () = ok("spam", p.call("spam", &1000u32))?;
    expect_eq("captured", out.contents().len(), 1 << 16)?;
    expect_eq("truncated", out.truncated(), true)
}

fn denied(cx: &Ctx) -> Result<(), String> {
    let granted = Capabilities::none().grant(capability::FD);
    match load(cx, WasiCtx::denied(), &granted) {
        Err(e) if e.kind() == ErrorKind::CapabilityDenied && e.message().contains("`wasi:") => {
            Ok(())
        }
        Err(e) => Err(format!(
            "expected CapabilityDenied naming a wasi capability, got {e}"
        )),
        Ok(_) => Err("a WASI plugin loaded without its capabilities".into()),
    }
}

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "wasi/plugin_std_io",
            "a wasm32-wasip1 std plugin prints, reads env, clocks, files and seeded randomness through anywasm's WASI",
            std_io
        ),
        check!(
            "wasi/plugin_capture_cap",
            "a wasm32-wasip1 plugin printing 1 MiB into a 64 KiB capture fills it and no more",
            capture_cap
        ),
        check!(
            "wasi/plugin_denied",
            "a wasm32-wasip1 plugin without its WASI capabilities fails at load, naming one",
            denied
        ),
    ]
}
