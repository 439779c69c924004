//! Hand-written ABI plugins (docs/abi.md) for the manager's tests.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use anywasm::BackendKind;
use anywasm_plugin::{PluginManager, PluginManagerBuilder};

pub fn backends() -> &'static [BackendKind] {
    anywasm::compiled_backends()
}

fn wat_string(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b' '..=b'~' if b != b'"' && b != b'\\' => (b as char).to_string(),
            _ => format!("\\{b:02x}"),
        })
        .collect()
}

/// A plugin module: the allocator pair, `memory`, the ABI section, the
/// manifest (unless empty), then `imports` (names of `anywasm` host
/// functions) and `body` (more module fields).
pub fn module(manifest: &str, imports: &[&str], body: &str) -> Vec<u8> {
    let imports: String = imports
        .iter()
        .map(|i| format!("(import \"anywasm\" \"{i}\" (func ${i} (param i32 i32) (result i64)))\n"))
        .collect();
    let manifest = if manifest.is_empty() {
        String::new()
    } else {
        format!(
            "(@custom \"anywasm:manifest\" \"{}\")",
            wat_string(manifest)
        )
    };
    let text = format!(
        r#"(module
  {imports}
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (func (export "anywasm_alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (block
      (br_if 0 (i32.le_u (i32.add (local.get $p) (local.get $len))
                         (i32.mul (memory.size) (i32.const 65536))))
      (drop (memory.grow (i32.add (i32.shr_u (local.get $len) (i32.const 16)) (i32.const 1)))))
    (global.set $heap (i32.and (i32.add (i32.add (local.get $p) (local.get $len)) (i32.const 7))
                               (i32.const -8)))
    (local.get $p))
  (func (export "anywasm_free") (param i32 i32))
  {body}
  (@custom "anywasm:abi" "\01\00\00\00")
  {manifest}
)"#
    );
    wat::parse_str(&text).unwrap_or_else(|e| panic!("bad test module: {e}\n{text}"))
}

/// An export `name` forwarding its request to the host import `import` and
/// returning the host's response envelope as its own.
pub fn forward(name: &str, import: &str) -> String {
    format!(
        "(func (export \"{name}\") (param i32 i32) (result i64) (call ${import} (local.get 0) (local.get 1)))\n"
    )
}

/// An export `name` answering the fixed envelope `bytes` (placed at `offset`).
pub fn constant(name: &str, offset: u32, bytes: &[u8]) -> String {
    let data: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
    let packed = (u64::from(offset) << 32) | bytes.len() as u64;
    format!(
        "(data (i32.const {offset}) \"{data}\")\n(func (export \"{name}\") (param i32 i32) (result i64) (i64.const {packed}))\n"
    )
}

/// `value`: answers `Ok((u8, u8))`, the first byte from a data segment and
/// the second written by the code, both `value` (< 128): a response mixing
/// two versions would show two different numbers.
pub fn value_export(value: u8) -> String {
    format!(
        "(data (i32.const 64) \"\\00\\{value:02x}\")\n\
         (func (export \"value\") (param i32 i32) (result i64)\n\
           (i32.store8 (i32.const 66) (i32.const {value}))\n\
           (i64.const {}))\n",
        (64u64 << 32) | 3
    )
}

/// `init` answering `Ok(())`, or `Err("init refused")`.
pub fn init_export(ok: bool) -> String {
    if ok {
        constant("init", 128, &[0])
    } else {
        let mut bytes = vec![1, 12];
        bytes.extend_from_slice(b"init refused");
        constant("init", 128, &bytes)
    }
}

/// A manifest with `name`, `version` and extra TOML lines.
pub fn manifest(name: &str, version: &str, extra: &str) -> String {
    format!("name = \"{name}\"\nversion = \"{version}\"\n{extra}\n")
}

/// A plugin with only `value` (and `ping`, answering `Ok(())`).
pub fn value_plugin(name: &str, version: &str, extra: &str, value: u8) -> Vec<u8> {
    let body = format!("{}{}", value_export(value), constant("ping", 200, &[0]));
    module(&manifest(name, version, extra), &[], &body)
}

pub fn builder(dir: &Path, kind: BackendKind) -> PluginManagerBuilder {
    PluginManager::builder()
        .plugin_dir(dir)
        .engine(kind)
        .debounce(Duration::from_millis(30))
}

/// Write `bytes` to `dir/name` atomically (temp file, then rename).
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

/// Poll `cond` until it holds; panic (naming `what`) after a generous
/// liveness timeout. Not a timing assertion: it only bounds a hang.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
