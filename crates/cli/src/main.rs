//! `anywasm`: run the conformance suite across engines, or run a module.
//!
//! ```text
//! anywasm conformance [--backend wasmi] [--filter trap/]
//! anywasm run [--engine wasmer] [--dir HOST::GUEST] [--env K=V] app.wasm [ARGS...]
//! anywasm run --invoke add plugin.wasm 1 2
//! anywasm spec [--backend wasmi] [--fuel | --gas] [--markdown]
//! ```

mod conformance;
mod run;
mod spec;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "anywasm",
    version,
    about = "One guest plugin, any WebAssembly engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run every conformance check on every compiled-in engine and print the case x engine table.
    Conformance(conformance::Args),
    /// Run a WASI command (or, with --invoke, call one export) on an engine.
    Run(run::Args),
    /// Run the WebAssembly spec suite on every compiled-in engine and print the proposal x engine matrix.
    Spec(spec::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Conformance(args) => conformance::main(args),
        Command::Run(args) => run::main(args),
        Command::Spec(args) => spec::main(args),
    }
}
