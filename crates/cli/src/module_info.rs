//! What a plugin file contains, read without compiling it: the facts
//! `anywasm build` checks and `anywasm inspect` prints.

use std::fmt;

use anywasm::abi;
use anywasm_plugin::{HostCtx, Manifest, define_services};
use wasmparser::{ExternalKind, FuncType, Parser, Payload, TypeRef};

/// One import and the capability the plugin manager gates it with.
#[derive(Debug)]
pub struct Import {
    pub module: String,
    pub name: String,
    /// `func (i32, i32) -> i64`, `memory 1..`, ...
    pub ty: String,
    pub capability: Capability,
}

/// Who decides whether an import may be linked.
#[derive(Debug, PartialEq, Eq)]
pub enum Capability {
    /// One of the plugin manager's host services, behind this capability.
    Service(String),
    /// In module `anywasm` but not a manager service: the host defines it
    /// and picks its capability (`PluginManagerBuilder::host_functions`).
    HostDefined,
    /// Not an anywasm host function at all: the host must provide it.
    Foreign,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::Service(c) => write!(f, "{c}"),
            Capability::HostDefined => f.write_str("(host-defined)"),
            Capability::Foreign => f.write_str("(not an anywasm import)"),
        }
    }
}

#[derive(Debug)]
pub struct Export {
    pub name: String,
    pub kind: &'static str,
    /// For functions, the signature.
    pub ty: Option<String>,
    /// `(i32, i32) -> i64`: callable as an entry point.
    pub abi_entry: bool,
}

#[derive(Debug)]
pub struct Memory {
    pub initial_bytes: u64,
    pub maximum_bytes: Option<u64>,
    pub memory64: bool,
}

/// Everything `inspect` shows.
#[derive(Debug)]
pub struct ModuleInfo {
    pub abi_version: u32,
    pub manifest_text: Option<String>,
    pub manifest: Option<Result<Manifest, String>>,
    pub imports: Vec<Import>,
    pub exports: Vec<Export>,
    pub memories: Vec<Memory>,
    /// `anywasm::initial_memory_bytes`: what every instance allocates first.
    pub initial_memory_bytes: u64,
    pub custom_sections: Vec<(String, usize)>,
}

/// Why a file is not a plugin.
pub fn not_a_plugin(wasm: &[u8]) -> Option<String> {
    if !wasm.starts_with(b"\0asm") {
        return Some("not a WebAssembly module (no `\\0asm` header)".into());
    }
    if wasm.get(4..8) != Some(&[1, 0, 0, 0]) {
        return Some(
            "a WebAssembly component or a module of an unknown version, not a core module".into(),
        );
    }
    match abi::check_abi_version(wasm) {
        Ok(_) => None,
        Err(e) => Some(format!(
            "a WebAssembly module but not an anywasm plugin: {e}"
        )),
    }
}

fn signature(ty: &FuncType) -> String {
    let list = |types: &[wasmparser::ValType]| {
        types
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(ty.params()), list(ty.results()))
}

fn is_abi_entry(ty: &FuncType) -> bool {
    use wasmparser::ValType::{I32, I64};
    ty.params() == [I32, I32] && ty.results() == [I64]
}

fn pages(n: u64) -> u64 {
    n.saturating_mul(anywasm::PAGE_BYTES)
}

impl ModuleInfo {
    /// Read `wasm`, which must be a plugin (see [`not_a_plugin`]).
    pub fn read(wasm: &[u8]) -> Result<Self, String> {
        if let Some(why) = not_a_plugin(wasm) {
            return Err(why);
        }
        let abi_version = abi::check_abi_version(wasm).map_err(|e| e.to_string())?;
        let manifest_text = abi::manifest_text(wasm)
            .map_err(|e| e.to_string())?
            .map(str::to_string);
        let manifest = manifest_text
            .as_deref()
            .map(|t| Manifest::parse(t, "the embedded manifest").map_err(|e| e.to_string()));
        let mut services = anywasm::Linker::<HostCtx>::new();
        define_services(&mut services);
        let bad = |e: wasmparser::BinaryReaderError| format!("malformed module: {e}");

        let mut types: Vec<FuncType> = Vec::new();
        let mut funcs: Vec<u32> = Vec::new();
        let mut info = ModuleInfo {
            abi_version,
            manifest_text,
            manifest,
            imports: Vec::new(),
            exports: Vec::new(),
            memories: Vec::new(),
            initial_memory_bytes: anywasm::initial_memory_bytes(wasm)
                .map_err(|e| e.to_string())?
                .unwrap_or(0),
            custom_sections: Vec::new(),
        };
        let memory = |m: wasmparser::MemoryType| Memory {
            initial_bytes: pages(m.initial),
            maximum_bytes: m.maximum.map(pages),
            memory64: m.memory64,
        };
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(bad)? {
                Payload::TypeSection(reader) => {
                    for ty in reader.into_iter_err_on_gc_types() {
                        types.push(ty.map_err(bad)?);
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader {
                        let import = import.map_err(bad)?;
                        let ty = match import.ty {
                            TypeRef::Func(t) => {
                                funcs.push(t);
                                types
                                    .get(t as usize)
                                    .map_or("func".into(), |f| format!("func {}", signature(f)))
                            }
                            TypeRef::Memory(m) => {
                                info.memories.push(memory(m));
                                "memory".into()
                            }
                            TypeRef::Table(_) => "table".into(),
                            TypeRef::Global(_) => "global".into(),
                            TypeRef::Tag(_) => "tag".into(),
                        };
                        let capability = if import.module != abi::HOST_MODULE {
                            Capability::Foreign
                        } else {
                            match services
                                .get(import.module, import.name)
                                .and_then(|f| f.capability())
                            {
                                Some(c) => Capability::Service(c.to_string()),
                                None => Capability::HostDefined,
                            }
                        };
                        info.imports.push(Import {
                            module: import.module.into(),
                            name: import.name.into(),
                            ty,
                            capability,
                        });
                    }
                }
                Payload::FunctionSection(reader) => {
                    for f in reader {
                        funcs.push(f.map_err(bad)?);
                    }
                }
                Payload::MemorySection(reader) => {
                    for m in reader {
                        info.memories.push(memory(m.map_err(bad)?));
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export.map_err(bad)?;
                        let func = (export.kind == ExternalKind::Func)
                            .then(|| funcs.get(export.index as usize))
                            .flatten()
                            .and_then(|t| types.get(*t as usize));
                        info.exports.push(Export {
                            name: export.name.into(),
                            kind: match export.kind {
                                ExternalKind::Func => "func",
                                ExternalKind::Memory => "memory",
                                ExternalKind::Table => "table",
                                ExternalKind::Global => "global",
                                ExternalKind::Tag => "tag",
                            },
                            ty: func.map(signature),
                            abi_entry: func.is_some_and(is_abi_entry),
                        });
                    }
                }
                Payload::CustomSection(reader) => {
                    info.custom_sections
                        .push((reader.name().into(), reader.data().len()));
                }
                _ => {}
            }
        }
        Ok(info)
    }

    /// The entry points: the manifest's `entry_points` if it lists them,
    /// else every exported function with the ABI signature except the
    /// allocator pair and the lifecycle exports.
    pub fn entry_points(&self) -> Vec<String> {
        if let Some(Ok(m)) = &self.manifest
            && !m.entry_points.is_empty()
        {
            return m.entry_points.clone();
        }
        const NOT_ENTRIES: [&str; 6] = [
            abi::ALLOC_EXPORT,
            abi::FREE_EXPORT,
            anywasm_plugin::INIT_EXPORT,
            anywasm_plugin::SHUTDOWN_EXPORT,
            anywasm_plugin::HEALTH_EXPORT,
            anywasm_plugin::MESSAGE_EXPORT,
        ];
        self.exports
            .iter()
            .filter(|e| e.abi_entry && !NOT_ENTRIES.contains(&e.name.as_str()))
            .map(|e| e.name.clone())
            .collect()
    }

    /// The capabilities its imports need, sorted, without repeats.
    pub fn needed_capabilities(&self) -> Vec<String> {
        let mut caps: Vec<String> = self
            .imports
            .iter()
            .filter_map(|i| match &i.capability {
                Capability::Service(c) => Some(c.clone()),
                _ => None,
            })
            .collect();
        caps.sort_unstable();
        caps.dedup();
        caps
    }

    /// Everything that keeps this module from loading as a plugin in the
    /// manager: ABI exports, manifest, entry points, capabilities the
    /// manifest does not ask for.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let export = |name: &str| self.exports.iter().find(|e| e.name == name);
        match export(abi::MEMORY_EXPORT) {
            Some(e) if e.kind == "memory" => {}
            _ => out.push("no exported `memory`".to_string()),
        }
        let mut required = vec![
            (abi::ALLOC_EXPORT, "(i32) -> (i32)"),
            (abi::FREE_EXPORT, "(i32, i32) -> ()"),
        ];
        if self.abi_version >= 2 {
            required.push((abi::V2_EXPORT, "() -> (i64)"));
        }
        for (name, sig) in required {
            if export(name).and_then(|e| e.ty.as_deref()) != Some(sig) {
                out.push(format!("no exported function `{name}` {sig}"));
            }
        }
        // Optional, but refused at load when mistyped.
        if self.abi_version >= 2
            && let Some(e) = export(abi::V2_REPLIES_EXPORT)
            && e.ty.as_deref() != Some("() -> (i64)")
        {
            out.push(format!(
                "exported `{}` is not a function () -> (i64)",
                abi::V2_REPLIES_EXPORT
            ));
        }
        let manifest = match &self.manifest {
            None => {
                out.push("no `anywasm:manifest` section (hosts then need a sidecar .toml)".into());
                None
            }
            Some(Err(e)) => {
                out.push(e.clone());
                None
            }
            Some(Ok(m)) => Some(m),
        };
        for entry in self.entry_points() {
            match export(&entry) {
                Some(e) if e.abi_entry => {}
                Some(_) => out.push(format!(
                    "entry point `{entry}` is not a function (i32, i32) -> (i64)"
                )),
                None => out.push(format!("entry point `{entry}` is not exported")),
            }
        }
        if let Some(m) = manifest {
            for import in &self.imports {
                if let Capability::Service(c) = &import.capability
                    && !m.capabilities.iter().any(|asked| asked == c)
                {
                    out.push(format!(
                        "it imports `{}::{}` (capability `{c}`), but its manifest does not ask for `{c}`: every host will refuse it; add it to `capabilities`",
                        import.module, import.name
                    ));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version 2 plugin whose reply-area export has the type `replies`
    /// (a function type in wat), or none.
    fn v2_plugin(replies: Option<&str>) -> Vec<u8> {
        let replies = replies
            .map(|ty| format!("(func (export \"anywasm_abi_v2_replies\") {ty} unreachable)"))
            .unwrap_or_default();
        wat::parse_str(format!(
            r#"(module
              (memory (export "memory") 1)
              (func (export "anywasm_alloc") (param i32) (result i32) unreachable)
              (func (export "anywasm_free") (param i32 i32))
              (func (export "anywasm_abi_v2") (result i64) unreachable)
              {replies}
              (@custom "anywasm:abi" "\02\00\00\00")
              (@custom "anywasm:manifest" "name = \"p\"\nversion = \"1.0.0\"\n"))"#
        ))
        .unwrap()
    }

    #[test]
    fn a_mistyped_reply_area_export_is_a_problem_and_a_missing_one_is_not() {
        let about_replies = |wasm: Vec<u8>| -> Vec<String> {
            ModuleInfo::read(&wasm)
                .unwrap()
                .problems()
                .into_iter()
                .filter(|p| p.contains(abi::V2_REPLIES_EXPORT))
                .collect()
        };
        assert_eq!(about_replies(v2_plugin(None)), Vec::<String>::new());
        assert_eq!(
            about_replies(v2_plugin(Some("(result i64)"))),
            Vec::<String>::new()
        );
        assert_eq!(
            about_replies(v2_plugin(Some("(result i32)"))),
            ["exported `anywasm_abi_v2_replies` is not a function () -> (i64)"]
        );
    }
}
