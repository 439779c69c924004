//! Host memory per plugin instance, per engine: the `footprint` report.
//!
//! ```sh
//! cargo run --release -p anywasm-benches --bin footprint            # every case, 500 instances each
//! cargo run --release -p anywasm-benches --bin footprint -- --instances 100
//! ```
//!
//! Ids are `footprint/<case>-<metric>/<engine>` like the criterion benches':
//!
//! | case | guest |
//! |---|---|
//! | `echo` | `conformance/guests/echo-guest`, the smallest SDK plugin, built as the SDK documents |
//! | `abi` | `conformance/guests/abi-guest`, the conformance suite's SDK plugin (every ABI feature) |
//! | `minimal` | [`MINIMAL_WAT`], a plugin written by hand from docs/abi.md: one page, a bump allocator |
//!
//! | metric | what is kept alive, per instance |
//! |---|---|
//! | `idle` | an [`anywasm::Plugin`] (its own store and instance) after one no-op call |
//! | `call64k` | the same after one 64 KiB echo instead |
//! | `manager` | a plugin loaded into a `PluginManager` (its pooled instance) after one no-op call |
//!
//! Each (case, metric, engine) runs in a fresh child process: it compiles the
//! guest once, warms up with one plugin, reads the resident set size
//! (`VmRSS`), makes `--instances` more and reads it again; the difference
//! divided by the count is the cost of one instance. The engine's own
//! one-off costs (code, caches, threads) fall before the first reading.
//! Results go to stdout as a table and to `target/bench-report/footprint.json`,
//! which `bench-report` includes. Linux only (it reads `/proc/self/status`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anywasm::{BackendKind, Capabilities, Config, Limits, Plugin};
use anywasm_benches::footprint::{CASES, ENGINES, METRICS, Report, Sample, markdown};

/// A plugin written by hand from docs/abi.md: one 64 KiB page, a bump
/// allocator that starts over when everything is freed, `noop` and `echo`
/// (the request's bincode bytes after an `Ok` tag are the response).
pub const MINIMAL_WAT: &str = r#"
(module
  (@custom "anywasm:abi" "\01\00\00\00")
  (@custom "anywasm:manifest" "name = \"minimal\"\nversion = \"0.1.0\"\n")
  (memory (export "memory") 1)
  (global $base i32 (i32.const 16))
  (global $next (mut i32) (i32.const 16))
  (global $live (mut i32) (i32.const 0))
  (func $alloc (export "anywasm_alloc") (param $len i32) (result i32)
    (local $p i32) (local $end i32) (local $pages i32)
    (local.set $p (global.get $next))
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (local.set $pages
          (i32.sub
            (i32.shr_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 16))
            (memory.size)))
        (if (i32.eq (memory.grow (local.get $pages)) (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $next (local.get $end))
    (global.set $live (i32.add (global.get $live) (i32.const 1)))
    (local.get $p))
  (func $free (export "anywasm_free") (param i32 i32)
    (global.set $live (i32.sub (global.get $live) (i32.const 1)))
    (if (i32.eqz (global.get $live)) (then (global.set $next (global.get $base)))))
  (func $reply (param $ptr i32) (param $len i32) (result i64)
    (local $out i32)
    (local.set $out (call $alloc (i32.add (local.get $len) (i32.const 1))))
    (if (i32.eqz (local.get $out)) (then unreachable))
    (i32.store8 (local.get $out) (i32.const 0))
    (memory.copy (i32.add (local.get $out) (i32.const 1)) (local.get $ptr) (local.get $len))
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
      (i64.extend_i32_u (i32.add (local.get $len) (i32.const 1)))))
  (func (export "noop") (param $ptr i32) (param $len i32) (result i64)
    (local $r i64)
    (local.set $r (call $reply (local.get $ptr) (i32.const 0)))
    (call $free (local.get $ptr) (local.get $len))
    (local.get $r))
  (func (export "echo") (param $ptr i32) (param $len i32) (result i64)
    (local $r i64)
    (local.set $r (call $reply (local.get $ptr) (local.get $len)))
    (call $free (local.get $ptr) (local.get $len))
    (local.get $r)))
"#;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        let [_, case, metric, engine, n] = args.as_slice() else {
            fail("usage: footprint --one CASE METRIC ENGINE INSTANCES");
        };
        let n: usize = n.parse().unwrap_or_else(|_| fail("INSTANCES is a number"));
        let engine: BackendKind = engine.parse().unwrap_or_else(|e| fail(&format!("{e}")));
        match measure(case, metric, engine, n) {
            Ok(bytes) => println!("{bytes}"),
            Err(e) => fail(&e),
        }
        return;
    }
    let instances = match args.as_slice() {
        [] => 500,
        [flag, n] if flag == "--instances" => n
            .parse()
            .unwrap_or_else(|_| fail("--instances takes a number")),
        _ => fail("usage: footprint [--instances N]"),
    };
    if !cfg!(target_os = "linux") {
        fail("footprint reads /proc/self/status: Linux only");
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| fail(&format!("own path: {e}")));
    let mut samples = Vec::new();
    for metric in METRICS {
        for case in CASES {
            for engine in ENGINES {
                let out = Command::new(&exe)
                    .args(["--one", case, metric, engine.name(), &instances.to_string()])
                    .output()
                    .unwrap_or_else(|e| fail(&format!("run {}: {e}", exe.display())));
                let text = String::from_utf8_lossy(&out.stdout);
                let Some(bytes) = text
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|_| out.status.success())
                else {
                    fail(&format!(
                        "{case}-{metric}/{engine} failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                };
                let id = format!("footprint/{case}-{metric}/{}", engine.name());
                eprintln!("{id}: {:.1} KiB", bytes / 1024.0);
                samples.push(Sample {
                    id,
                    case: case.into(),
                    metric: metric.into(),
                    engine: engine.name().into(),
                    bytes_per_instance: bytes,
                });
            }
        }
    }
    let report = Report {
        instances,
        initial_memory: CASES
            .iter()
            .map(|c| (c.to_string(), initial_memory(&guest(c))))
            .collect(),
        samples,
    };
    println!("{}", markdown(&report));
    let dir = target_dir().join("bench-report");
    let path = dir.join("footprint.json");
    let json = serde_json::to_string_pretty(&report).expect("the report serialises");
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, json)) {
        fail(&format!("write {}: {e}", path.display()));
    }
    eprintln!("wrote {}", path.display());
}

fn guest(case: &str) -> Vec<u8> {
    match case {
        "echo" => anywasm_conformance::guests::ECHO_GUEST.to_vec(),
        "abi" => anywasm_conformance::guests::ABI_GUEST.to_vec(),
        "minimal" => wat::parse_str(MINIMAL_WAT).expect("MINIMAL_WAT parses"),
        other => fail(&format!("unknown case `{other}` (echo, abi, minimal)")),
    }
}

/// The first memory's initial size, from the module's memory section.
fn initial_memory(wasm: &[u8]) -> u64 {
    anywasm::initial_memory_bytes(wasm)
        .ok()
        .flatten()
        .unwrap_or(0)
}

/// Resident set size of this process, bytes.
fn rss() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| "no VmRSS in /proc/self/status".into())
}

/// Bytes of resident memory one more instance costs.
fn measure(case: &str, metric: &str, kind: BackendKind, n: usize) -> Result<f64, String> {
    let wasm = guest(case);
    if metric == "manager" {
        return measure_manager(&wasm, kind, n);
    }
    let request: Vec<u8> = match metric {
        "idle" => Vec::new(),
        "call64k" => vec![7; 64 << 10],
        other => return Err(format!("unknown metric `{other}` (idle, call64k, manager)")),
    };
    let engine = anywasm::engine::<()>(kind, &Config::new()).map_err(|e| e.to_string())?;
    let module = engine.compile(&wasm).map_err(|e| e.to_string())?;
    let manifest = anywasm::abi::manifest_text(&wasm)
        .map_err(|e| e.to_string())?
        .map(str::to_string);
    let linker = anywasm_benches::abi_linker();
    let granted = Capabilities::none().grant("math");
    let limits = Limits::new();
    let one = || -> Result<Plugin<()>, String> {
        let mut p = Plugin::from_module(
            &*engine,
            &module,
            manifest.clone(),
            &linker,
            &granted,
            (),
            &limits,
        )
        .map_err(|e| e.to_string())?;
        if request.is_empty() {
            p.call::<_, ()>("noop", &()).map_err(|e| e.to_string())?;
        } else {
            let back: Vec<u8> = p
                .call(echo_export(case), &request)
                .map_err(|e| e.to_string())?;
            if back != request {
                return Err("the echo came back different".into());
            }
        }
        Ok(p)
    };
    let warm = one()?;
    let before = rss()?;
    let kept = (0..n).map(|_| one()).collect::<Result<Vec<_>, _>>()?;
    let after = rss()?;
    drop((warm, kept));
    Ok(after.saturating_sub(before) as f64 / n as f64)
}

fn echo_export(case: &str) -> &'static str {
    if case == "abi" { "echo_bytes" } else { "echo" }
}

/// A manager with `n + 1` copies of the guest, each named by a sidecar
/// manifest, each called once.
fn measure_manager(wasm: &[u8], kind: BackendKind, n: usize) -> Result<f64, String> {
    use anywasm_plugin::{CapabilityPolicy, HostCtx, PluginManager};
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let write = |i: usize| -> Result<PathBuf, String> {
        let name = format!("copy{i}");
        let wasm_path = dir.path().join(format!("{name}.wasm"));
        std::fs::write(&wasm_path, wasm).map_err(|e| e.to_string())?;
        let manifest =
            format!("name = \"{name}\"\nversion = \"0.1.0\"\ncapabilities = [\"math\"]\n");
        std::fs::write(dir.path().join(format!("{name}.toml")), manifest)
            .map_err(|e| e.to_string())?;
        Ok(wasm_path)
    };
    let paths = (0..=n).map(write).collect::<Result<Vec<_>, _>>()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let manager = PluginManager::builder()
            .plugin_dir(dir.path())
            .engine(kind)
            .max_plugins(n + 1)
            .capabilities(CapabilityPolicy::new().grant_all("math"))
            .host_functions(|linker: &mut anywasm::Linker<HostCtx>| {
                linker
                    .abi_func("add", |_, (a, b): (i32, i32)| Ok(a.wrapping_add(b)))
                    .capability("math");
            })
            .build()
            .map_err(|e| e.to_string())?;
        let load = |path: &Path| {
            let manager = &manager;
            let path = path.to_path_buf();
            async move {
                let name = manager.load(&path).await.map_err(|e| e.to_string())?;
                manager
                    .call::<_, ()>(&name, "noop", &())
                    .await
                    .map_err(|e| e.to_string())
            }
        };
        load(&paths[0]).await?;
        let before = rss()?;
        for path in &paths[1..] {
            load(path).await?;
        }
        let after = rss()?;
        Ok(after.saturating_sub(before) as f64 / n as f64)
    })
}

/// `CARGO_TARGET_DIR`, else the workspace's `target/`.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return dir.into();
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|root| root.join("target"))
        .unwrap_or_else(|| "target".into())
}

fn fail(message: &str) -> ! {
    eprintln!("footprint: {message}");
    std::process::exit(1)
}
