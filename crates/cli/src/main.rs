//! `anywasm`: run the conformance suite across engines, or run a module.
//!
//! ```text
//! anywasm conformance [--backend wasmi] [--filter trap/]
//! anywasm run [--engine wasmer] [--dir HOST::GUEST] [--env K=V] app.wasm [ARGS...]
//! anywasm run --invoke add plugin.wasm 1 2
//! anywasm spec [--backend wasmi] [--fuel | --gas] [--markdown]
//! anywasm new demo && cd demo && anywasm build --release && cargo test
//! anywasm inspect plugin.wasm [--json]
//! anywasm keygen --out me.key; anywasm sign plugin.wasm --key me.key
//! anywasm verify plugin.wasm --pubkey me.key.pub
//! anywasm plugins DIR [--engine wasmi] [--grant log]
//! ```

#![forbid(unsafe_code)]

mod build;
mod conformance;
mod inspect;
mod module_info;
mod new;
mod plugins;
mod run;
mod sign;
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
    /// Create a plugin crate: manifest, entry point, build script, tests on every engine, README.
    New(new::Args),
    /// Build the plugin crate here for wasm32, check it, print its size and SHA-256.
    Build(build::Args),
    /// Show a plugin's ABI version, manifest, entry points, imports and the capabilities they need, exports, memory, size, SHA-256.
    Inspect(inspect::Args),
    /// Make an ed25519 key pair for signing plugins.
    Keygen(sign::KeygenArgs),
    /// Write FILE.wasm.sig, the detached signature the plugin manager checks.
    Sign(sign::SignArgs),
    /// Check FILE.wasm.sig against trusted public keys, as the plugin manager does.
    Verify(sign::VerifyArgs),
    /// Load a plugin directory with the plugin manager and report each plugin (exit 2 if any failed).
    Plugins(plugins::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Conformance(args) => conformance::main(args),
        Command::Run(args) => run::main(args),
        Command::Spec(args) => spec::main(args),
        Command::New(args) => new::main(args),
        Command::Build(args) => build::main(args),
        Command::Inspect(args) => inspect::main(args),
        Command::Keygen(args) => sign::keygen(args),
        Command::Sign(args) => sign::sign(args),
        Command::Verify(args) => sign::verify(args),
        Command::Plugins(args) => plugins::main(args),
    }
}
