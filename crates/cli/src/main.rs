//! `anywasm`: run the conformance suite across engines, or run a module.
//!
//! ```text
//! anywasm conformance [--backend wasmi] [--filter trap/]
//! anywasm run plugin.wasm add 1 2 --backend wasmer
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
    /// Call one export of a module (.wasm or .wat) on an engine.
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
