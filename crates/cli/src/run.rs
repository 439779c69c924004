//! `anywasm run`: call one export of a module on a chosen engine.

use std::process::ExitCode;
use std::time::Duration;

use anywasm::{Config, Limits, Linker, Sandbox, Val, ValType};

/// Options of `anywasm run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The module, binary (.wasm) or text (.wat).
    file: std::path::PathBuf,
    /// The export to call.
    function: String,
    /// Arguments, parsed by the export's parameter types.
    args: Vec<String>,
    /// Engine: wasmtime, wasmer or wasmi.
    #[arg(long, short = 'b', default_value = "wasmtime")]
    backend: String,
    /// Fuel budget (enables metering).
    #[arg(long)]
    fuel: Option<u64>,
    /// Wall-clock timeout in milliseconds.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Memory cap in bytes.
    #[arg(long)]
    max_memory: Option<u64>,
}

pub fn main(args: Args) -> ExitCode {
    match go(&args) {
        Ok(results) => {
            let shown: Vec<String> = results.iter().map(show).collect();
            println!("{}", shown.join(" "));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn go(args: &Args) -> Result<Vec<Val>, Box<dyn std::error::Error>> {
    let bytes = std::fs::read(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let wasm = if bytes.starts_with(b"\0asm") {
        bytes
    } else {
        wat::parse_bytes(&bytes)?.into_owned()
    };
    let mut config = Config::new();
    let mut limits = Limits::new();
    if let Some(f) = args.fuel {
        config = config.consume_fuel(true);
        limits = limits.fuel(f);
    }
    if let Some(ms) = args.timeout_ms {
        config = config.timeouts(true);
        limits = limits.timeout(Duration::from_millis(ms));
    }
    if let Some(m) = args.max_memory {
        limits = limits.memory_bytes(m);
    }
    let engine = anywasm::engine_by_name::<()>(&args.backend, &config)?;
    let module = engine.compile(&wasm)?;
    let ty = module
        .exports()
        .iter()
        .find_map(|e| match (&e.ty, e.name == args.function) {
            (anywasm::ExternType::Func(f), true) => Some(f.clone()),
            _ => None,
        })
        .ok_or_else(|| format!("no exported function `{}`", args.function))?;
    if ty.params().len() != args.args.len() {
        return Err(format!(
            "`{}` takes {} arguments ({ty}), got {}",
            args.function,
            ty.params().len(),
            args.args.len()
        )
        .into());
    }
    let vals = ty
        .params()
        .iter()
        .zip(&args.args)
        .map(|(t, s)| parse(*t, s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sandbox = Sandbox::new(&*engine, &wasm, &Linker::new(), (), &limits)?;
    Ok(sandbox.call(&args.function, &vals)?)
}

fn parse(ty: ValType, s: &str) -> Result<Val, String> {
    let bad = |e: &dyn std::fmt::Display| format!("`{s}` is not a {ty}: {e}");
    Ok(match ty {
        ValType::I32 => Val::I32(s.parse::<i64>().map_err(|e| bad(&e))? as i32),
        ValType::I64 => Val::I64(s.parse().map_err(|e| bad(&e))?),
        ValType::F32 => Val::from(s.parse::<f32>().map_err(|e| bad(&e))?),
        ValType::F64 => Val::from(s.parse::<f64>().map_err(|e| bad(&e))?),
        other => {
            return Err(format!(
                "arguments of type {other} cannot be given on the command line"
            ));
        }
    })
}

fn show(v: &Val) -> String {
    match *v {
        Val::I32(x) => x.to_string(),
        Val::I64(x) => x.to_string(),
        Val::F32(b) => f32::from_bits(b).to_string(),
        Val::F64(b) => f64::from_bits(b).to_string(),
        Val::V128(x) => format!("{x:#034x}"),
        Val::FuncRef(r) => format!("{r:?}"),
        Val::ExternRef(r) => format!("{r:?}"),
    }
}
