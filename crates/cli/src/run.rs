//! `anywasm run`: run a WASI command (the default), or call one export of a
//! module (`--invoke NAME`), on a chosen engine.
//!
//! The flags follow other runtimes (`--dir HOST::GUEST`, `--env K=V`), so
//! scripts written for them work. Everything after the module file goes to
//! the guest unchanged, flags included. The process exits with the guest's
//! exit status; a trap exits with 134 (as an abort would), any other
//! failure (a bad file, a missing export) with 1.
//!
//! Compiled code is kept in the user's module cache (`anywasm-cache`), so
//! running a module again on wasmtime or wasmer skips compiling it. The
//! cache is a convenience, never a reason to fail: one it cannot use is
//! reported in one line on stderr and the module is compiled as usual.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anywasm::{Config, DynModule, DynRuntime, ErrorKind, ExternType, Limits, Linker, Val, ValType};
use anywasm_cache::{Miss, ModuleCache, Outcome};
use anywasm_wasi::{DirPerms, ModuleKind, Output, Stdin, WasiCtx, add_to_linker};

/// Options of `anywasm run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Engine: wasmtime, wasmer or wasmi.
    #[arg(
        long,
        short = 'e',
        visible_alias = "backend",
        default_value = "wasmtime"
    )]
    engine: String,
    /// Grant a host directory: HOST::GUEST maps HOST to the guest path GUEST,
    /// HOST alone keeps its name. Read-write. Repeatable.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    /// Set an environment variable for the guest. Repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    envs: Vec<String>,
    /// Fuel budget (enables metering).
    #[arg(long)]
    fuel: Option<u64>,
    /// Wall-clock timeout in milliseconds.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Memory cap in bytes.
    #[arg(long)]
    max_memory: Option<u64>,
    /// Refuse a module larger than BYTES before compiling it, or `none`
    /// [default: 64 MiB].
    #[arg(long, value_name = "BYTES", value_parser = bound::<u64>)]
    max_module_bytes: Option<Bound<u64>>,
    /// Refuse a module defining more than N functions before compiling it,
    /// or `none` [default: 20000; whole language runtimes may define more].
    #[arg(long, value_name = "N", value_parser = bound::<u32>)]
    max_functions: Option<Bound<u32>>,
    /// Call this export with ARGS parsed by its parameter types and print
    /// its results, instead of running the module as a WASI command.
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,
    /// Keep compiled modules in DIR [default: $ANYWASM_CACHE_DIR, else
    /// $XDG_CACHE_HOME/anywasm/modules, else ~/.cache/anywasm/modules]. It
    /// must be yours alone (not writable by group or others).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile the module without reading or writing the module cache.
    #[arg(long)]
    no_cache: bool,
    /// The module (.wasm or .wat), then the arguments for the guest, passed
    /// unchanged even when they start with `-`.
    #[arg(
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "FILE [ARGS]..."
    )]
    command: Vec<String>,
}

/// A compile-time bound given on the command line: a number, or `none`.
#[derive(Clone, Copy, Debug)]
struct Bound<T>(Option<T>);

fn bound<T: std::str::FromStr>(s: &str) -> Result<Bound<T>, String>
where
    T::Err: std::fmt::Display,
{
    if s == "none" {
        return Ok(Bound(None));
    }
    s.parse()
        .map(|n| Bound(Some(n)))
        .map_err(|e| format!("{e} (a number, or `none` for no bound)"))
}

/// Why `run` failed, and the exit status it maps to.
enum Failure {
    Trap(anywasm::Error),
    Other(String),
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Other(e.to_string())
    }
}

fn anywasm_failure(e: anywasm::Error) -> Failure {
    match e.kind() {
        ErrorKind::Trap(_) => Failure::Trap(e),
        _ => Failure::Other(e.to_string()),
    }
}

pub fn main(args: Args) -> ExitCode {
    match go(&args) {
        Ok(code) => code,
        Err(Failure::Trap(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(134)
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn go(args: &Args) -> Result<ExitCode, Failure> {
    let (file, guest_args) = args
        .command
        .split_first()
        .ok_or_else(|| Failure::Other("no module given".into()))?;
    let bytes = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
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
    if let Some(Bound(b)) = args.max_module_bytes {
        config = config.max_module_bytes(b);
    }
    if let Some(Bound(n)) = args.max_functions {
        config = config.max_functions(n);
    }
    let engine = anywasm::engine_by_name::<WasiCtx>(&args.engine, &config)?;
    let module = compile(&*engine, &wasm, file, args).map_err(|e| match e.kind() {
        ErrorKind::LimitExceeded(anywasm::Resource::ModuleBytes) => {
            Failure::Other(format!("{e} (raise it with --max-module-bytes)"))
        }
        ErrorKind::LimitExceeded(anywasm::Resource::Functions) => {
            Failure::Other(format!("{e} (raise it with --max-functions)"))
        }
        _ => Failure::from(e),
    })?;
    let kind = anywasm_wasi::module_kind(module.exports())?;
    let ctx = wasi_ctx(file, guest_args, args)?;
    let mut linker = Linker::new();
    add_to_linker(&mut linker);
    // What a `Sandbox` does, minus compiling (the module is at hand) and
    // the capability check: the command line is the grant, every WASI
    // function is linked and the context built from the flags decides
    // what they reach.
    limits
        .check_initial_memory(&wasm)
        .map_err(|e| anywasm_failure(e.with_backend(engine.backend())))?;
    let mut store = engine.store(ctx, &limits).map_err(anywasm_failure)?;
    let instance = store
        .instantiate(&module, &linker)
        .map_err(anywasm_failure)?;
    match (&args.invoke, kind) {
        (Some(name), _) => {
            anywasm_wasi::initialize(&mut *store, instance, module.exports())
                .map_err(anywasm_failure)?;
            let ty = module
                .exports()
                .iter()
                .find_map(|e| match (&e.ty, e.name == *name) {
                    (ExternType::Func(f), true) => Some(f.clone()),
                    _ => None,
                })
                .ok_or_else(|| format!("no exported function `{name}`"))?;
            if ty.params().len() != guest_args.len() {
                return Err(Failure::Other(format!(
                    "`{name}` takes {} arguments ({ty}), got {}",
                    ty.params().len(),
                    guest_args.len()
                )));
            }
            let vals = ty
                .params()
                .iter()
                .zip(guest_args)
                .map(|(t, s)| parse(*t, s))
                .collect::<Result<Vec<_>, _>>()?;
            match store.call_export(instance, name, &vals) {
                Ok(results) => {
                    let shown: Vec<String> = results.iter().map(show).collect();
                    println!("{}", shown.join(" "));
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => match e.exit_code() {
                    Some(code) => Ok(ExitCode::from(code as u8)),
                    None => Err(anywasm_failure(e)),
                },
            }
        }
        (None, ModuleKind::Command) => {
            let code = anywasm_wasi::run_command(&mut *store, instance).map_err(anywasm_failure)?;
            // `proc_exit` statuses are below 126 (larger ones trap).
            Ok(ExitCode::from(code as u8))
        }
        (None, _) => Err(Failure::Other(format!(
            "{file} exports no `_start`, so it is not a WASI command; call one of its exports with --invoke NAME"
        ))),
    }
}

/// `wasm` (read from `file`) compiled by `engine`: from the module cache
/// when there is one to use, else compiled. Only compiling can fail; every
/// cache problem is one line on stderr.
fn compile(
    engine: &dyn DynRuntime<WasiCtx>,
    wasm: &[u8],
    file: &str,
    args: &Args,
) -> anywasm::Result<DynModule> {
    // wasmi compiles lazily and has nothing to cache: no directory to open.
    if args.no_cache || engine.artifact_format().is_none() {
        return engine.compile(wasm);
    }
    let cache = match open_cache(args.cache_dir.as_deref(), file) {
        Ok(cache) => cache,
        Err(why) => {
            eprintln!("warning: {why}; compiling without the cache");
            return engine.compile(wasm);
        }
    };
    let cached = cache.load(engine, wasm)?;
    if let Outcome::Compiled { why, stored } = &cached.outcome {
        match why {
            Miss::Rejected(r) => eprintln!("warning: module cache: entry refused, recompiled: {r}"),
            Miss::Unreadable(e) => eprintln!("warning: {e}; recompiled"),
            _ => {}
        }
        if let Err(e) = stored {
            eprintln!("warning: {e}; the module was compiled but not cached");
        }
    }
    Ok(cached.module)
}

/// The module cache in `dir`, or the user's default one.
///
/// Refused when it is the directory `file` lies in or one above it: whoever
/// can put a module there could put compiled code beside it, and compiled
/// code is loaded almost as is. (A cache somewhere below the module's
/// directory is fine: the default one under `~/.cache` is below `~`, where
/// modules often are, and `ModuleCache::open` checks that the cache
/// directory itself is this user's alone.)
fn open_cache(dir: Option<&Path>, file: &str) -> Result<ModuleCache, String> {
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => ModuleCache::default_dir().ok_or(
            "module cache: no cache directory (set XDG_CACHE_HOME or HOME, or pass --cache-dir)",
        )?,
    };
    // A cache directory that does not exist yet cannot hold the module.
    if let Ok(real) = dir.canonicalize() {
        let module_dirs = [
            std::path::absolute(file).ok(),
            Path::new(file).canonicalize().ok(),
        ];
        let holds_module = module_dirs.iter().flatten().any(|m| {
            m.parent()
                .and_then(|d| d.canonicalize().ok())
                .is_some_and(|d| d.starts_with(&real))
        });
        if holds_module {
            return Err(format!(
                "module cache: {} holds the module itself, and compiled code is never read \
                 from where modules come from",
                dir.display()
            ));
        }
    }
    ModuleCache::open(&dir).map_err(|e| e.to_string())
}

/// The guest's WASI context: its name and arguments, the granted
/// directories and variables, the process's stdio, real clocks and OS
/// randomness.
fn wasi_ctx(file: &str, guest_args: &[String], args: &Args) -> Result<WasiCtx, Failure> {
    let name = Path::new(file)
        .file_name()
        .map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned());
    let mut b = WasiCtx::builder()
        .arg(name)
        .args(guest_args)
        .stdin(Stdin::Inherit)
        .stdout(Output::Inherit)
        .stderr(Output::Inherit)
        .clocks()
        .os_random();
    for kv in &args.envs {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--env {kv}: expected KEY=VALUE"))?;
        b = b.env(k, v);
    }
    for d in &args.dirs {
        let (host, guest) = d.split_once("::").unwrap_or((d, d));
        b = b
            .preopen_dir(PathBuf::from(host), guest, DirPerms::ReadWrite)
            .map_err(|e| format!("--dir {d}: {host}: {e}"))?;
    }
    Ok(b.build())
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
