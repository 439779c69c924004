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
    table.set_width(TABLE_WIDTH);
    let mut header = vec![Cell::new("check")];
    header.extend(selected.iter().map(|b| Cell::new(b.kind.name())));
    table.set_header(header);
    // Reasons and failure messages are footnotes below the table, numbered in
    // order of first use, one per distinct text, so the table stays narrow.
    let mut notes: Vec<(bool, String)> = Vec::new();
    let mut note = |failed: bool, text: &str| -> usize {
        let at = notes
            .iter()
            .position(|(f, t)| *f == failed && t == text)
            .unwrap_or_else(|| {
                notes.push((failed, text.to_string()));
                notes.len() - 1
            });
        at + 1
    };
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
                    Cell::new(format!("n/s [{}]", note(false, why))).fg(Color::Yellow)
                }
                Outcome::Fail(msg) => {
                    failed += 1;
                    Cell::new(format!("FAIL [{}]", note(true, msg))).fg(Color::Red)
                }
            });
        }
        table.add_row(cells);
    }
    println!("{table}");
    for (i, (is_failure, text)) in notes.iter().enumerate() {
        let (label, text) = if *is_failure {
            ("failed", shorten(text, args.verbose))
        } else {
            ("not supported", text.clone())
        };
        print!("{}", footnote(&format!("[{}] {label}: ", i + 1), &text));
    }
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

/// The table's width in columns, whatever the terminal (or none, when piped).
const TABLE_WIDTH: u16 = 100;

/// Failure messages longer than this are cut unless `--verbose`.
const FAILURE_CHARS: usize = 240;

fn shorten(msg: &str, verbose: bool) -> String {
    if verbose || msg.chars().count() <= FAILURE_CHARS {
        msg.to_string()
    } else {
        let mut s: String = msg.chars().take(FAILURE_CHARS - 3).collect();
        s.push_str("...");
        s
    }
}

/// `label` then `text`, word-wrapped to the table's width with continuation
/// lines indented under the text.
fn footnote(label: &str, text: &str) -> String {
    let width = usize::from(TABLE_WIDTH);
    let indent = label.chars().count();
    let mut out = String::from(label);
    let mut col = indent;
    for (n, line) in text.lines().enumerate() {
        if n > 0 {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent));
            col = indent;
        }
        let mut first = true;
        for word in line.split(' ') {
            let len = word.chars().count();
            if !first && col + 1 + len > width {
                out.push('\n');
                out.extend(std::iter::repeat_n(' ', indent));
                col = indent;
            } else if !first {
                out.push(' ');
                col += 1;
            }
            out.push_str(word);
            col += len;
            first = false;
        }
    }
    out.push('\n');
    out
}
