//! `anywasm plugins DIR`: load a directory with the plugin manager, as a
//! host would, and report what loaded (status, checksum, capabilities,
//! limits, where the code came from) and what did not, and why.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anywasm_cache::ModuleCache;
use anywasm_plugin::{CapabilityPolicy, PluginInfo, PluginManager, Status, signing};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

/// Options of `anywasm plugins`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plugin directory (`.wasm` files, optional `.toml` sidecars and `.wasm.sig` signatures).
    dir: PathBuf,
    /// Engine: wasmtime, wasmer or wasmi.
    #[arg(long, short = 'e', default_value = "wasmtime")]
    engine: String,
    /// Grant a capability to every plugin that asks for it (repeatable).
    #[arg(long = "grant", value_name = "CAPABILITY")]
    grants: Vec<String>,
    /// Trust signatures by this public key file (repeatable).
    #[arg(long = "trust-key", value_name = "PUBKEY")]
    trust_keys: Vec<PathBuf>,
    /// Refuse plugins without a valid signature from a trusted key.
    #[arg(long)]
    require_signatures: bool,
    /// Keep compiled code in this directory (see anywasm-cache); never inside DIR.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
}

pub fn main(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(report(&args)) {
        Ok(all_loaded) if all_loaded => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Whether every plugin file loaded.
async fn report(args: &Args) -> Result<bool, String> {
    let mut policy = CapabilityPolicy::new();
    for capability in &args.grants {
        policy = policy.grant_all(capability);
    }
    let mut builder = PluginManager::builder()
        .plugin_dir(&args.dir)
        .engine_name(&args.engine)
        .capabilities(policy)
        .require_signatures(args.require_signatures);
    for path in &args.trust_keys {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let key =
            signing::parse_public_key(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        builder = builder.trust_key(key);
    }
    if let Some(dir) = &args.cache_dir {
        let cache = ModuleCache::open(dir).map_err(|e| e.to_string())?;
        builder = builder.module_cache(Arc::new(cache));
    }
    let manager = builder.build().map_err(|e| e.to_string())?;
    let report = manager.discover().await.map_err(|e| e.to_string())?;

    println!(
        "{}: {} loaded, {} failed (engine {})",
        args.dir.display(),
        report.loaded.len(),
        report.failed.len(),
        manager.backend()
    );
    for loaded in &report.loaded {
        println!(
            "  loaded  {} {} ({})",
            loaded.name,
            loaded.version,
            loaded.path.display()
        );
    }
    for (path, error) in &report.failed {
        println!("  failed  {}: {error}", path.display());
    }
    let plugins = manager.list_plugins();
    if !plugins.is_empty() {
        println!("{}", table(&plugins));
    }
    Ok(report.failed.is_empty())
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

fn table(plugins: &[PluginInfo]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "plugin",
        "status",
        "sha256",
        "signed",
        "code",
        "capabilities (granted / asked)",
        "limits",
    ]);
    for p in plugins {
        let status = match p.status {
            Status::Running => "running".to_string(),
            _ => format!(
                "update failed: {}",
                p.last_error.as_deref().unwrap_or("unknown")
            ),
        };
        let granted = if p.capabilities.is_empty() {
            "none asked".to_string()
        } else {
            format!(
                "{} / {}",
                if p.granted.is_empty() {
                    "-".to_string()
                } else {
                    p.granted.join(", ")
                },
                p.capabilities.join(", ")
            )
        };
        let l = &p.limits;
        let limits = format!(
            "memory {}, initial {}, fuel/call {}, timeout {}, {} instances",
            l.get_memory_bytes().map_or("-".into(), size),
            size(p.initial_memory_bytes),
            l.get_fuel().map_or("-".into(), |f| f.to_string()),
            l.get_timeout()
                .map_or("-".into(), |t| format!("{} ms", t.as_millis())),
            p.instances,
        );
        table.add_row([
            format!("{} {}", p.name, p.version),
            status,
            p.sha256[..16].to_string(),
            if p.signed { "yes" } else { "no" }.to_string(),
            format!("{:?}", p.code).to_lowercase(),
            granted,
            limits,
        ]);
    }
    table
}
