//! `anywasm conformance`: the case x engine table.

use std::process::ExitCode;

use anywasm_conformance::{Backend, Outcome, backends, checks, run};
use comfy_table::{Cell, Color, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};

/// Options of `anywasm conformance`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only these engines (repeatable); default: every compiled-in engine.
    #[arg(long = "backend", short = 'b')]
    backends: Vec<String>,
    /// Only checks whose name contains this text.
    #[arg(long, short = 'f')]
    filter: Option<String>,
    /// Print the failure messages in full instead of truncating them.
    #[arg(long)]
    verbose: bool,
}

pub fn main(args: Args) -> ExitCode {
    let mut selected: Vec<Backend> = backends();
    if !args.backends.is_empty() {
        for name in &args.backends {
            let kind = match name.parse::<anywasm::BackendKind>() {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            if !selected.iter().any(|b| b.kind == kind) {
                eprintln!(
                    "error: backend `{kind}` is not compiled into this build (enable the `{kind}` feature)"
                );
                return ExitCode::from(2);
            }
        }
        selected.retain(|b| {
            args.backends
                .iter()
                .any(|n| n.eq_ignore_ascii_case(b.kind.name()))
        });
    }
    let checks: Vec<_> = checks()
        .into_iter()
        .filter(|c| args.filter.as_deref().is_none_or(|f| c.name.contains(f)))
        .collect();

    let bar = ProgressBar::new((checks.len() * selected.len()) as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut rows = Vec::new();
    for check in &checks {
        let mut row = Vec::new();
        for backend in &selected {
            bar.set_message(format!("{}/{}", backend.kind, check.name));
            row.push(run(backend, check));
            bar.inc(1);
        }
        rows.push((check, row));
    }
    bar.finish_and_clear();

    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_content_arrangement(ContentArrangement::Dynamic);
    let mut header = vec![Cell::new("check")];
    header.extend(selected.iter().map(|b| Cell::new(b.kind.name())));
    table.set_header(header);
    let (mut passed, mut failed, mut unsupported) = (0, 0, 0);
    for (check, outcomes) in &rows {
        let mut cells = vec![Cell::new(check.name)];
        for outcome in outcomes {
            cells.push(match outcome {
                Outcome::Pass => {
                    passed += 1;
                    Cell::new("pass").fg(Color::Green)
                }
                Outcome::NotSupported(why) => {
                    unsupported += 1;
                    Cell::new(format!("not supported: {}", shorten(why, args.verbose)))
                        .fg(Color::Yellow)
                }
                Outcome::Fail(msg) => {
                    failed += 1;
                    Cell::new(format!("FAIL: {}", shorten(msg, args.verbose))).fg(Color::Red)
                }
            });
        }
        table.add_row(cells);
    }
    println!("{table}");
    println!(
        "{} checks x {} engines: {passed} passed, {failed} failed, {unsupported} not supported",
        checks.len(),
        selected.len()
    );
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn shorten(msg: &str, verbose: bool) -> String {
    if verbose || msg.chars().count() <= 70 {
        msg.to_string()
    } else {
        let mut s: String = msg.chars().take(67).collect();
        s.push_str("...");
        s
    }
}
