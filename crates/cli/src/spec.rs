//! `anywasm spec`: the WebAssembly spec suite through anywasm, as a
//! proposal x engine compatibility matrix of assertion counts.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anywasm::BackendKind;
use anywasm_conformance::spec::{Mode, Proposal, files, run_file, verdict};
use comfy_table::{Cell, Color, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

/// Options of `anywasm spec`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only these engines (repeatable); default: every compiled-in engine.
    #[arg(long = "backend", short = 'b')]
    backends: Vec<String>,
    /// Run with fuel metering on (results must not change).
    #[arg(long, conflicts_with = "gas")]
    fuel: bool,
    /// Run with every module instrumented for gas (results must not change).
    #[arg(long)]
    gas: bool,
    /// Print the matrix as a Markdown table (for the README).
    #[arg(long)]
    markdown: bool,
    /// List every unexpected failure after the matrix.
    #[arg(long)]
    verbose: bool,
}

/// Assertion counts of one (proposal, engine) cell.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    passed: usize,
    total: usize,
    expected: usize,
    failed: usize,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.total += other.total;
        self.expected += other.expected;
        self.failed += other.failed;
    }

    fn text(&self) -> String {
        let pct = if self.total == 0 {
            100.0
        } else {
            100.0 * self.passed as f64 / self.total as f64
        };
        let mut s = format!("{}/{} ({pct:.2}%)", self.passed, self.total);
        if self.expected > 0 {
            s.push_str(&format!(", {} xfail", self.expected));
        }
        if self.failed > 0 {
            s.push_str(&format!(", {} FAIL", self.failed));
        }
        s
    }
}

pub fn main(args: Args) -> ExitCode {
    let mut selected: Vec<BackendKind> = anywasm::compiled_backends().to_vec();
    if !args.backends.is_empty() {
        let mut wanted = Vec::new();
        for name in &args.backends {
            match name.parse::<BackendKind>() {
                Ok(k) if selected.contains(&k) => wanted.push(k),
                Ok(k) => {
                    eprintln!("error: backend `{k}` is not compiled into this build");
                    return ExitCode::from(2);
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        selected = wanted;
    }
    let mode = if args.fuel {
        Mode::Fuel
    } else if args.gas {
        Mode::Gas
    } else {
        Mode::Plain
    };
    let files = files();

    // One thread per engine: each file's store and engine are independent.
    let results: Vec<(BackendKind, BTreeMap<Proposal, Counts>, Vec<String>)> =
        std::thread::scope(|s| {
            let handles: Vec<_> = selected
                .iter()
                .map(|&backend| {
                    let files = &files;
                    s.spawn(move || {
                        let mut cells: BTreeMap<Proposal, Counts> = BTreeMap::new();
                        let mut problems = Vec::new();
                        for file in files {
                            let report = run_file(backend, mode, file);
                            let failed = report.failures.len();
                            let ok = verdict(backend, mode, file, &report);
                            let c = Counts {
                                passed: report.passed,
                                total: report.total(),
                                expected: if ok.is_ok() { failed } else { 0 },
                                failed: if ok.is_ok() { 0 } else { failed.max(1) },
                            };
                            if let Err(e) = ok {
                                problems.push(format!(
                                    "{}/{}: {e}",
                                    mode.label(backend),
                                    file.path()
                                ));
                            }
                            cells.entry(file.proposal).or_default().add(c);
                        }
                        (backend, cells, problems)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("spec worker panicked"))
                .collect()
        });

    let mut header = vec!["proposal".to_string()];
    header.extend(results.iter().map(|(b, _, _)| mode.label(*b)));
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut totals = vec![Counts::default(); results.len()];
    for proposal in Proposal::ALL {
        let mut row = vec![proposal.name().to_string()];
        for (i, (_, cells, _)) in results.iter().enumerate() {
            let c = cells.get(&proposal).copied().unwrap_or_default();
            totals[i].add(c);
            row.push(c.text());
        }
        rows.push(row);
    }
    let mut total_row = vec!["total".to_string()];
    total_row.extend(totals.iter().map(Counts::text));
    rows.push(total_row);

    if args.markdown {
        println!("| {} |", header.join(" | "));
        println!("|{}", "---|".repeat(header.len()));
        for row in &rows {
            println!("| {} |", row.join(" | "));
        }
    } else {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_content_arrangement(ContentArrangement::Dynamic);
        table.set_header(header);
        for row in rows {
            let failing = row.iter().any(|c| c.contains("FAIL"));
            let cells = row.into_iter().map(|c| {
                let cell = Cell::new(&c);
                if c.contains("FAIL") {
                    cell.fg(Color::Red)
                } else if failing || c.contains("xfail") {
                    cell.fg(Color::Yellow)
                } else {
                    cell
                }
            });
            table.add_row(cells);
        }
        println!("{table}");
    }
    println!(
        "{} files x {} engines; counts are assertions passed / run; xfail = listed in \
         conformance/src/spec/expected.rs",
        files.len(),
        results.len()
    );
    let problems: Vec<&String> = results.iter().flat_map(|(_, _, p)| p).collect();
    if args.verbose {
        for p in &problems {
            println!("{p}");
        }
    }
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("{} files failed (--verbose lists them)", problems.len());
        ExitCode::FAILURE
    }
}
