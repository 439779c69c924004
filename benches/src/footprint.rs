//! The `footprint` report's data: host memory per plugin instance, per
//! engine, as the `footprint` binary measures it and `bench-report` shows it.

use anywasm::BackendKind;
use serde::{Deserialize, Serialize};

/// Guests measured: `echo` (the smallest SDK plugin), `abi` (the conformance
/// SDK plugin), `minimal` (hand-written from docs/abi.md).
pub const CASES: [&str; 3] = ["echo", "abi", "minimal"];
/// What is kept alive per instance: `idle` (a `Plugin` after a no-op call),
/// `call64k` (after a 64 KiB echo), `manager` (a plugin in a `PluginManager`).
pub const METRICS: [&str; 3] = ["idle", "call64k", "manager"];
/// Engines, in report order.
pub const ENGINES: [BackendKind; 3] = [
    BackendKind::Wasmtime,
    BackendKind::Wasmer,
    BackendKind::Wasmi,
];

/// One measured (case, metric, engine).
#[derive(Debug, Serialize, Deserialize)]
pub struct Sample {
    /// `footprint/<case>-<metric>/<engine>`.
    pub id: String,
    /// One of [`CASES`].
    pub case: String,
    /// One of [`METRICS`].
    pub metric: String,
    /// The engine's name.
    pub engine: String,
    /// Resident set growth per instance.
    pub bytes_per_instance: f64,
}

/// What `footprint.json` holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    /// Instances made per sample.
    pub instances: usize,
    /// Initial linear memory each case's guest asks for, bytes.
    pub initial_memory: Vec<(String, u64)>,
    /// Every sample.
    pub samples: Vec<Sample>,
}

/// The table `footprint` prints (and `bench-report` repeats).
pub fn markdown(report: &Report) -> String {
    let mut out = format!(
        "Host memory per instance (KiB, resident set growth / {} instances):\n\n| case | wasmtime | wasmer | wasmi |\n|---|---|---|---|\n",
        report.instances
    );
    for metric in METRICS {
        for case in CASES {
            out.push_str(&format!("| {case}-{metric} |"));
            for engine in ENGINES {
                let kib = report
                    .samples
                    .iter()
                    .find(|s| s.case == case && s.metric == metric && s.engine == engine.name())
                    .map_or_else(
                        || "-".into(),
                        |s| format!("{:.0}", s.bytes_per_instance / 1024.0),
                    );
                out.push_str(&format!(" {kib} |"));
            }
            out.push('\n');
        }
    }
    out.push_str("\nInitial linear memory the guest asks for: ");
    let sizes: Vec<String> = report
        .initial_memory
        .iter()
        .map(|(case, bytes)| format!("{case} {} KiB", bytes / 1024))
        .collect();
    out.push_str(&sizes.join(", "));
    out.push('\n');
    out
}
