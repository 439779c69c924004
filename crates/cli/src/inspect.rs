//! `anywasm inspect FILE.wasm [--json]`: what a plugin is, asks for and
//! exposes, read without compiling or running it.

use std::path::PathBuf;
use std::process::ExitCode;

use anywasm_plugin::{hex, sha256};
use serde_json::{Value, json};

use crate::module_info::ModuleInfo;

/// Options of `anywasm inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plugin (.wasm).
    file: PathBuf,
    /// Print JSON (one object) instead of text.
    #[arg(long)]
    json: bool,
}

pub fn main(args: Args) -> ExitCode {
    let wasm = match std::fs::read(&args.file) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            return ExitCode::FAILURE;
        }
    };
    let info = match ModuleInfo::read(&wasm) {
        Ok(info) => info,
        Err(why) => {
            eprintln!("error: {} is {why}", args.file.display());
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        let value = to_json(&args.file, &wasm, &info);
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("JSON values serialise")
        );
    } else {
        print_text(&args.file, &wasm, &info);
    }
    ExitCode::SUCCESS
}

fn kib(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

fn print_text(file: &std::path::Path, wasm: &[u8], info: &ModuleInfo) {
    println!(
        "{}: anywasm plugin, ABI version {}",
        file.display(),
        info.abi_version
    );
    println!(
        "size:      {} bytes ({})",
        wasm.len(),
        kib(wasm.len() as u64)
    );
    println!("sha256:    {}", hex(&sha256(wasm)));
    match &info.manifest_text {
        Some(text) => {
            println!("manifest:");
            for line in text.lines() {
                println!("    {line}");
            }
            if let Some(Err(e)) = &info.manifest {
                println!("  (invalid: {e})");
            }
        }
        None => println!("manifest:  none embedded (a host needs a sidecar <name>.toml)"),
    }
    println!("entry points: {}", info.entry_points().join(", "));
    let needed = info.needed_capabilities();
    println!(
        "capabilities its imports need: {}",
        if needed.is_empty() {
            "none".to_string()
        } else {
            needed.join(", ")
        }
    );
    println!("imports:");
    if info.imports.is_empty() {
        println!("    none");
    }
    for i in &info.imports {
        println!(
            "    {}::{}  {}  capability {}",
            i.module, i.name, i.ty, i.capability
        );
    }
    println!("exports:");
    for e in &info.exports {
        println!("    {}  {}", e.name, e.ty.as_deref().unwrap_or(e.kind));
    }
    println!(
        "memory:    {} before any code runs",
        kib(info.initial_memory_bytes)
    );
    for m in &info.memories {
        println!(
            "    initial {} ({} pages), maximum {}{}",
            kib(m.initial_bytes),
            m.initial_bytes / anywasm::PAGE_BYTES,
            m.maximum_bytes.map_or("none declared".into(), kib),
            if m.memory64 { ", 64-bit" } else { "" }
        );
    }
    if let Some(Ok(m)) = &info.manifest {
        let l = &m.limits;
        println!(
            "limits the manifest asks for: memory {}, fuel per call {}, timeout {}, stack {}, instances {}",
            l.memory_bytes.map_or("host default".into(), kib),
            l.fuel.map_or("host default".into(), |f| f.to_string()),
            l.timeout_ms
                .map_or("host default".into(), |t| format!("{t} ms")),
            l.stack_bytes
                .map_or("host default".into(), |s| kib(s as u64)),
            l.instances.map_or("host default".into(), |n| n.to_string()),
        );
    }
    let sections: Vec<String> = info
        .custom_sections
        .iter()
        .map(|(name, len)| format!("{name} ({len} B)"))
        .collect();
    println!("custom sections: {}", sections.join(", "));
    for problem in info.problems() {
        println!("warning: {problem}");
    }
}

fn to_json(file: &std::path::Path, wasm: &[u8], info: &ModuleInfo) -> Value {
    let manifest = match &info.manifest {
        Some(Ok(m)) => json!({
            "text": info.manifest_text,
            "name": m.name,
            "version": m.version.to_string(),
            "description": m.description,
            "entry_points": m.entry_points,
            "capabilities": m.capabilities,
            "subscribes": m.subscribes,
            "min_host_version": m.min_host_version.as_ref().map(|v| v.to_string()),
            "dependencies": m.dependencies.iter()
                .map(|(k, v)| (k.clone(), Value::from(v.to_string())))
                .collect::<serde_json::Map<_, _>>(),
            "config": m.config,
            "limits": {
                "memory_bytes": m.limits.memory_bytes,
                "fuel": m.limits.fuel,
                "timeout_ms": m.limits.timeout_ms,
                "stack_bytes": m.limits.stack_bytes,
                "instances": m.limits.instances,
            },
        }),
        Some(Err(e)) => json!({ "text": info.manifest_text, "error": e }),
        None => Value::Null,
    };
    json!({
        "file": file.display().to_string(),
        "size": wasm.len(),
        "sha256": hex(&sha256(wasm)),
        "abi_version": info.abi_version,
        "manifest": manifest,
        "entry_points": info.entry_points(),
        "capabilities_needed": info.needed_capabilities(),
        "imports": info.imports.iter().map(|i| json!({
            "module": i.module,
            "name": i.name,
            "type": i.ty,
            "capability": match &i.capability {
                crate::module_info::Capability::Service(c) => Value::from(c.as_str()),
                _ => Value::Null,
            },
            "host_defined": i.capability == crate::module_info::Capability::HostDefined,
        })).collect::<Vec<_>>(),
        "exports": info.exports.iter().map(|e| json!({
            "name": e.name,
            "kind": e.kind,
            "type": e.ty,
            "abi_entry": e.abi_entry,
        })).collect::<Vec<_>>(),
        "memories": info.memories.iter().map(|m| json!({
            "initial_bytes": m.initial_bytes,
            "maximum_bytes": m.maximum_bytes,
            "memory64": m.memory64,
        })).collect::<Vec<_>>(),
        "initial_memory_bytes": info.initial_memory_bytes,
        "custom_sections": info.custom_sections.iter()
            .map(|(name, size)| json!({ "name": name, "size": size }))
            .collect::<Vec<_>>(),
        "problems": info.problems(),
    })
}
