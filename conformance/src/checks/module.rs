//! Compiling, linking and reflecting modules.

use anywasm::{
    Config, ErrorKind, ExternType, FuncType, Limits, Linker, StoreExt as _, Val, ValType,
};

use super::{HOST, LINK, LINKED, check};
use crate::harness::{expect_eq, expect_kind, ok, wasm};
use crate::{Check, Ctx};

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "module/malformed",
            "garbage and truncated bytes are Compile errors",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                expect_kind(
                    "garbage",
                    engine.compile(b"not wasm at all"),
                    ErrorKind::Compile,
                )?;
                expect_kind("empty", engine.compile(b""), ErrorKind::Compile)?;
                let mut truncated = wasm(HOST);
                truncated.truncate(truncated.len() / 2);
                expect_kind("truncated", engine.compile(&truncated), ErrorKind::Compile)?;
                expect_kind(
                    "bad version",
                    engine.compile(b"\0asm\x02\0\0\0"),
                    ErrorKind::Compile,
                )
            }
        ),
        check!(
            "module/invalid",
            "a well-formed module that fails validation is a Compile error",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                // (func (result i32) i64.const 0): type error, hand-assembled so the text parser cannot reject it first.
                let bytes = [
                    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
                    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: () -> i32
                    0x03, 0x02, 0x01, 0x00, // func 0 has type 0
                    0x0a, 0x06, 0x01, 0x04, 0x00, 0x42, 0x00, 0x0b, // body: i64.const 0; end
                ];
                expect_kind("type error", engine.compile(&bytes), ErrorKind::Compile)
            }
        ),
        check!(
            "module/unlinkable_missing",
            "a missing import fails instantiation as Unlinkable",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let module = ok("compile", engine.compile(&wasm(HOST)))?;
                let mut store = ok("store", engine.store(Default::default(), &Limits::new()))?;
                expect_kind(
                    "no host functions",
                    store.instantiate(&module, &Linker::new()),
                    ErrorKind::Unlinkable,
                )
            }
        ),
        check!(
            "module/unlinkable_signature",
            "a host function of the wrong signature is Unlinkable",
            |cx: &Ctx| {
                let mut linker = Linker::new();
                linker.func("env", "f", FuncType::new([ValType::I64], []), |_, _, _| {
                    Ok(())
                });
                let r = cx.sandbox(
                    r#"(module (import "env" "f" (func (param i32))))"#,
                    &Config::new(),
                    &linker,
                    &Limits::new(),
                );
                expect_kind("wrong signature", r.map(|_| ()), ErrorKind::Unlinkable)
            }
        ),
        check!(
            "module/export_not_found",
            "asking for a missing export is ExportNotFound",
            |cx: &Ctx| {
                let mut sb = ok(
                    "instantiate",
                    cx.sandbox(LINK, &Config::new(), &Linker::new(), &Limits::new()),
                )?;
                expect_kind(
                    "missing func",
                    sb.call("nope", &[]),
                    ErrorKind::ExportNotFound,
                )?;
                expect_kind(
                    "memory is not a func",
                    sb.call("mem", &[]),
                    ErrorKind::ExportNotFound,
                )?;
                let inst = sb.instance();
                expect_kind(
                    "missing global",
                    sb.store_mut().global_get(inst, "nope"),
                    ErrorKind::ExportNotFound,
                )
            }
        ),
        check!(
            "module/reflection",
            "imports and exports are reported with their types",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let module = ok("compile", engine.compile(&wasm(LINKED)))?;
                let imports: Vec<_> = module
                    .imports()
                    .iter()
                    .map(|i| (i.module.as_str(), i.name.as_str()))
                    .collect();
                expect_eq(
                    "imports",
                    imports,
                    vec![
                        ("lib", "five"),
                        ("lib", "mem"),
                        ("lib", "glob"),
                        ("lib", "tab"),
                    ],
                )?;
                expect_eq(
                    "five type",
                    &module.imports()[0].ty,
                    &ExternType::Func(FuncType::new([], [ValType::I32])),
                )?;
                match &module.imports()[1].ty {
                    ExternType::Memory(m) if m.minimum == 1 && m.maximum.is_none() => {}
                    other => return Err(format!("mem import type: {other:?}")),
                }
                match &module.imports()[2].ty {
                    ExternType::Global(g) if g.content == ValType::I32 && g.mutable => {}
                    other => return Err(format!("glob import type: {other:?}")),
                }
                let exports: Vec<_> = module.exports().iter().map(|e| e.name.as_str()).collect();
                expect_eq("exports", exports, vec!["sum", "set_glob"])
            }
        ),
        check!(
            "module/register",
            "instances link against a registered instance's funcs, memory, globals, tables",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let mut store = ok("store", engine.store(Default::default(), &Limits::new()))?;
                let lib = ok(
                    "lib",
                    store.instantiate(&ok("compile", engine.compile(&wasm(LINK)))?, &Linker::new()),
                )?;
                ok("register", store.register("lib", lib))?;
                let user = ok(
                    "linked",
                    store.instantiate(
                        &ok("compile", engine.compile(&wasm(LINKED)))?,
                        &Linker::new(),
                    ),
                )?;
                ok(
                    "write",
                    store.memory_write(lib, "mem", 0, &100i32.to_le_bytes()),
                )?;
                expect_eq(
                    "sum",
                    ok("sum", store.call_export(user, "sum", &[]))?,
                    vec![Val::I32(116)],
                )?;
                ok(
                    "set_glob",
                    store.call_export(user, "set_glob", &[Val::I32(1)]),
                )?;
                expect_eq(
                    "shared global",
                    ok("get", store.global_get(lib, "glob"))?,
                    Val::I32(1),
                )
            }
        ),
        check!(
            "module/dyn_matches_static",
            "the static contract gives the same answers as the dyn layer",
            |cx: &Ctx| {
                let Some(mut results) = static_sum(cx)? else {
                    return Ok(());
                };
                expect_eq("static call", results.pop(), Some(Val::I32(5)))
            }
        ),
    ]
}

/// Run `five` through the statically dispatched API of the backend under test.
fn static_sum(cx: &Ctx) -> Result<Option<Vec<Val>>, String> {
    fn go<R: anywasm::Runtime>() -> Result<Option<Vec<Val>>, String> {
        let engine = ok("engine", R::new(&Config::new()))?;
        let module = ok("compile", engine.compile(&wasm(LINK)))?;
        let mut store = ok("store", engine.store((), &Limits::new()))?;
        let inst = ok(
            "instantiate",
            anywasm::Store::instantiate(&mut store, &module, &Linker::new()),
        )?;
        ok("call", store.call_export(&inst, "five", &[])).map(Some)
    }
    match cx.backend() {
        #[cfg(feature = "wasmtime")]
        anywasm::BackendKind::Wasmtime => go::<anywasm::wasmtime::Engine>(),
        #[cfg(feature = "wasmer")]
        anywasm::BackendKind::Wasmer => go::<anywasm::wasmer::Engine>(),
        #[cfg(feature = "wasmi")]
        anywasm::BackendKind::Wasmi => go::<anywasm::wasmi::Engine>(),
        other => Err(format!("{other} is not compiled in")),
    }
}
