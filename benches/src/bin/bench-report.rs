//! Turn criterion's output into the benchmark report:
//! `cargo run -p anywasm-benches --bin bench-report [CRITERION_DIR] [OUT_DIR]`
//! (defaults: `target/criterion`, `target/bench-report`).
//!
//! Reads every `new/benchmark.json` + `new/estimates.json` (ids
//! `<group>/<workload>/<engine>[-<path>]`, see the crate docs) and writes
//! `report.md` (engines compared, anywasm over raw, limit costs) and
//! `engines.svg` (each engine's time relative to the fastest, per workload).
//! When `OUT_DIR/footprint.json` exists (the `footprint` binary writes it),
//! its table is appended to the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const ENGINES: [&str; 3] = ["wasmtime", "wasmer", "wasmi"];

/// (group, workload) -> (engine, path) -> mean time in ns.
type Results = BTreeMap<(String, String), BTreeMap<(String, String), f64>>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let target = target_dir();
    let criterion = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("criterion"));
    let out = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("bench-report"));
    let mut results = Results::new();
    collect(&criterion, &mut results);
    if results.is_empty() {
        eprintln!(
            "no criterion results under {}; run `cargo bench -p anywasm-benches` first",
            criterion.display()
        );
        std::process::exit(1);
    }
    let mut markdown = report(&results);
    // The footprint binary's results, when it has run (same directory).
    let footprint = out.join("footprint.json");
    if let Ok(bytes) = std::fs::read(&footprint) {
        match serde_json::from_slice::<anywasm_benches::footprint::Report>(&bytes) {
            Ok(r) => {
                markdown.push_str("\n## Footprint\n\n");
                markdown.push_str(&anywasm_benches::footprint::markdown(&r));
            }
            Err(e) => eprintln!("ignoring {}: {e}", footprint.display()),
        }
    }
    let svg = chart(&results);
    std::fs::create_dir_all(&out).expect("create the output directory");
    std::fs::write(out.join("report.md"), &markdown).expect("write report.md");
    std::fs::write(out.join("engines.svg"), svg).expect("write engines.svg");
    println!("{markdown}");
    eprintln!(
        "wrote {} and {}",
        out.join("report.md").display(),
        out.join("engines.svg").display()
    );
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

fn collect(dir: &Path, results: &mut Results) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            if let Some((id, mean)) = read_one(&path) {
                insert(results, &id, mean);
            }
        } else {
            collect(&path, results);
        }
    }
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// The benchmark's full id and its mean time (ns).
fn read_one(new: &Path) -> Option<(String, f64)> {
    let bench = read_json(&new.join("benchmark.json"))?;
    let estimates = read_json(&new.join("estimates.json"))?;
    let id = bench.get("full_id")?.as_str()?.to_string();
    let mean = estimates.get("mean")?.get("point_estimate")?.as_f64()?;
    Some((id, mean))
}

fn insert(results: &mut Results, id: &str, mean: f64) {
    let mut parts = id.splitn(3, '/');
    let (Some(group), Some(workload), Some(variant)) = (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let (engine, path) = variant.split_once('-').unwrap_or((variant, ""));
    results
        .entry((group.into(), workload.into()))
        .or_default()
        .insert((engine.into(), path.into()), mean);
}

fn fmt_time(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// anywasm's fastest path on an engine: the default one, or `pool` (an
/// engine with [`Config::instance_pool`](anywasm::Config::instance_pool))
/// where that was measured and is faster.
fn fastest_anywasm(row: &BTreeMap<(String, String), f64>, engine: &str) -> Option<(String, f64)> {
    ["", "pool"]
        .iter()
        .filter_map(|p| {
            let t = row.get(&(engine.to_string(), p.to_string()))?;
            Some((p.to_string(), *t))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// The time an engine is compared on: anywasm's fastest path, or the raw
/// one where anywasm has none (precompiled loads).
fn headline(row: &BTreeMap<(String, String), f64>, engine: &str) -> Option<f64> {
    fastest_anywasm(row, engine).map(|(_, t)| t).or_else(|| {
        row.get(&(engine.to_string(), "raw-precompiled".to_string()))
            .copied()
    })
}

/// The fastest raw path of an engine (`raw`, `raw-pre`, `raw-pre-pool`, ...
/// but not `raw-untyped` or `raw-precompiled`, which do other work).
fn fastest_raw(row: &BTreeMap<(String, String), f64>, engine: &str) -> Option<(String, f64)> {
    row.iter()
        .filter(|((e, p), _)| {
            e == engine && (p == "raw" || p.starts_with("raw-pre") && p != "raw-precompiled")
        })
        .map(|((_, p), t)| (p.clone(), *t))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

fn report(results: &Results) -> String {
    let mut md = String::new();
    md.push_str("### Engines compared (anywasm on each engine; ratio to the fastest)\n\n");
    md.push_str("| benchmark | wasmtime | wasmer | wasmi |\n|---|---|---|---|\n");
    for ((group, workload), row) in results {
        if group == "limits" {
            continue;
        }
        let times: Vec<Option<f64>> = ENGINES.iter().map(|e| headline(row, e)).collect();
        let Some(best) = times.iter().flatten().copied().reduce(f64::min) else {
            continue;
        };
        let _ = write!(md, "| {group}/{workload} |");
        for t in &times {
            match t {
                Some(t) => {
                    let _ = write!(md, " {} ({:.2}x) |", fmt_time(*t), t / best);
                }
                None => md.push_str(" — |"),
            }
        }
        md.push('\n');
    }

    md.push_str(
        "\n### anywasm over the raw engine (same module, same work; 1.00x = no overhead)\n\n\
         `anywasm` is the user-facing path (`Plugin` for ABI calls, static `R: Runtime` \
         otherwise); `static` drives the ABI through the generic `Store` API; `dyn` is the \
         object-safe layer. `raw` is the engine's fastest path (typed functions; for \
         instantiation the fastest of plain, pre-linked and pooled), and `anywasm` the \
         fastest of the default engine and one with `Config::instance_pool` (`pool`).\n\n",
    );
    md.push_str(
        "| benchmark | engine | raw | anywasm | x raw | extra | static x raw | dyn x raw |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for ((group, workload), row) in results {
        if group == "limits" || group == "load" {
            continue;
        }
        for engine in ENGINES {
            let Some((raw_path, raw)) = fastest_raw(row, engine) else {
                continue;
            };
            let get = |p: &str| row.get(&(engine.to_string(), p.to_string())).copied();
            let ratio = |t: Option<f64>| t.map_or("—".into(), |t| format!("{:.2}x", t / raw));
            let fastest = fastest_anywasm(row, engine);
            let any = fastest.as_ref().map(|(_, t)| *t);
            let any_label = fastest.map_or("—".into(), |(p, t)| {
                if p.is_empty() {
                    fmt_time(t)
                } else {
                    format!("{} ({p})", fmt_time(t))
                }
            });
            let _ = writeln!(
                md,
                "| {group}/{workload} | {engine} | {} ({raw_path}) | {} | {} | {} | {} | {} |",
                fmt_time(raw),
                any_label,
                ratio(any),
                any.map_or("—".into(), |t| format!("{:+.0} ns", t - raw)),
                ratio(get("static")),
                ratio(get("dyn")),
            );
        }
    }

    md.push_str("\n### Cost of each limit mechanism (anywasm, static; slowdown vs no limits)\n\n");
    md.push_str(
        "fuel is native fuel on wasmtime and wasmi and the metering middleware on wasmer; \
         timeout is epoch interruption (wasmtime), a host interrupt + watchdog (wasmer) and \
         fuel slices checked against the clock (wasmi); memory is the store's memory limiter; \
         gas is the engine-neutral count the guest keeps itself (`anywasm-gas`).\n\n",
    );
    md.push_str(
        "| workload | engine | none | fuel | gas | timeout | memory |\n|---|---|---|---|---|---|---|\n",
    );
    for ((group, workload), row) in results {
        if group != "limits" {
            continue;
        }
        for engine in ENGINES {
            let get = |m: &str| row.get(&(engine.to_string(), m.to_string())).copied();
            let Some(none) = get("none") else { continue };
            let pct = |m: &str| {
                get(m).map_or("—".into(), |t| {
                    format!("{:+.1}%", (t / none - 1.0) * 100.0)
                })
            };
            let _ = writeln!(
                md,
                "| {workload} | {engine} | {} | {} | {} | {} | {} |",
                fmt_time(none),
                pct("fuel"),
                pct("gas"),
                pct("timeout"),
                pct("memory"),
            );
        }
    }
    md
}

/// Horizontal bars: per workload, each engine's time relative to the
/// fastest, on a log scale.
fn chart(results: &Results) -> String {
    let colors = ["#4c72b0", "#dd8452", "#55a868"];
    let rows: Vec<(String, Vec<Option<f64>>)> = results
        .iter()
        .filter(|((group, _), _)| group != "limits")
        .filter_map(|((group, workload), row)| {
            let times: Vec<Option<f64>> = ENGINES.iter().map(|e| headline(row, e)).collect();
            let best = times.iter().flatten().copied().reduce(f64::min)?;
            Some((
                format!("{group}/{workload}"),
                times.iter().map(|t| t.map(|t| t / best)).collect(),
            ))
        })
        .collect();
    let max = rows
        .iter()
        .flat_map(|(_, r)| r.iter().flatten())
        .copied()
        .fold(10.0f64, f64::max);
    let decades = max.log10().ceil().max(1.0);
    let (label_w, plot_w, bar_h, gap, top) = (220.0, 560.0, 7.0, 8.0, 50.0);
    let row_h = bar_h * 3.0 + gap;
    let height = top + row_h * rows.len() as f64 + 40.0;
    let width = label_w + plot_w + 30.0;
    let x = |ratio: f64| label_w + ratio.log10() / decades * plot_w;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="10" y="18" font-size="14">Time relative to the fastest engine (log scale; 1x = fastest)</text>"#
    );
    for (i, (engine, color)) in ENGINES.iter().zip(colors).enumerate() {
        let lx = label_w + i as f64 * 110.0;
        let _ = writeln!(
            svg,
            r#"<rect x="{lx}" y="28" width="10" height="10" fill="{color}"/><text x="{}" y="37">{engine}</text>"#,
            lx + 14.0
        );
    }
    for d in 0..=decades as i32 {
        let gx = x(10f64.powi(d));
        let _ = writeln!(
            svg,
            r##"<line x1="{gx}" y1="{top}" x2="{gx}" y2="{}" stroke="#ccc"/><text x="{gx}" y="{}" text-anchor="middle">{}x</text>"##,
            height - 30.0,
            height - 16.0,
            10f64.powi(d)
        );
    }
    for (i, (label, ratios)) in rows.iter().enumerate() {
        let y = top + i as f64 * row_h;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{label}</text>"#,
            label_w - 6.0,
            y + bar_h * 2.0
        );
        for (j, ratio) in ratios.iter().enumerate() {
            if let Some(r) = ratio {
                let w = (x(*r) - label_w).max(1.5);
                let _ = writeln!(
                    svg,
                    r#"<rect x="{label_w}" y="{}" width="{w:.1}" height="{bar_h}" fill="{}"><title>{} {label}: {r:.2}x</title></rect>"#,
                    y + j as f64 * bar_h,
                    colors[j],
                    ENGINES[j]
                );
            }
        }
    }
    svg.push_str("</svg>\n");
    svg
}
