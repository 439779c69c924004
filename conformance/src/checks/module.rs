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
        check!(
            "module/bounds",
            "a module over Config's size or function bound is LimitExceeded before the engine compiles it; the defaults apply unless changed",
            |cx: &Ctx| {
                let functions = |n: usize| wasm(&format!("(module {})", "(func)".repeat(n)));
                // Garbage past the size bound: refused for its size, so the
                // engine never parsed it.
                let small = ok(
                    "engine",
                    cx.engine(&Config::new().max_module_bytes(Some(64))),
                )?;
                let e = match small.compile(&[0xAB; 65]) {
                    Ok(_) => return Err("65 garbage bytes compiled under a 64-byte bound".into()),
                    Err(e) => e,
                };
                expect_eq(
                    "kind",
                    e.kind(),
                    ErrorKind::LimitExceeded(anywasm::Resource::ModuleBytes),
                )?;
                expect_eq("backend", e.backend(), Some(cx.backend()))?;
                ok("64 bytes", small.compile(&functions(1)).map(|_| ()))?;
                let three = ok("engine", cx.engine(&Config::new().max_functions(Some(3))))?;
                ok("3 functions", three.compile(&functions(3)).map(|_| ()))?;
                expect_kind(
                    "4 functions",
                    three.compile(&functions(4)).map(|_| ()),
                    ErrorKind::LimitExceeded(anywasm::Resource::Functions),
                )?;
                let default = ok("engine", cx.engine(&Config::new()))?;
                expect_eq(
                    "defaults",
                    (
                        default.config().module_bytes_limit(),
                        default.config().function_limit(),
                    ),
                    (
                        Some(anywasm::DEFAULT_MAX_MODULE_BYTES),
                        Some(anywasm::DEFAULT_MAX_FUNCTIONS),
                    ),
                )?;
                expect_kind(
                    "one past the default",
                    default
                        .compile(&functions(anywasm::DEFAULT_MAX_FUNCTIONS as usize + 1))
                        .map(|_| ()),
                    ErrorKind::LimitExceeded(anywasm::Resource::Functions),
                )
            }
        ),
        check!(
            "module/foreign_handles",
            "a module of another engine or backend, an instance or function of another store: ForeignHandle, tagged with this backend (static and dyn API)",
            |cx: &Ctx| {
                let a = ok("engine", cx.engine(&Config::new()))?;
                let b = ok("engine", cx.engine(&Config::new()))?;
                let bytes = wasm(FOREIGN);
                let of_b = ok("compile", b.compile(&bytes))?;
                let mut sa = ok("store", a.store(crate::Host::default(), &Limits::new()))?;
                foreign(
                    cx,
                    "module of another engine",
                    sa.instantiate(&of_b, &Linker::new()),
                )?;
                for &other in anywasm::compiled_backends() {
                    if other != cx.backend() {
                        let engine = ok(
                            "engine",
                            anywasm::engine::<crate::Host>(other, &Config::new()),
                        )?;
                        let m = ok("compile", engine.compile(&bytes))?;
                        foreign(
                            cx,
                            "module of another backend",
                            sa.instantiate(&m, &Linker::new()),
                        )?;
                        foreign(
                            cx,
                            "serialising a module of another backend",
                            a.serialize_module(&m),
                        )?;
                    }
                }
                let of_a = ok("compile", a.compile(&bytes))?;
                let ia = ok("instantiate", sa.instantiate(&of_a, &Linker::new()))?;
                let fa = ok("get_func", sa.get_func(ia, "f"))?;
                // A second store of the same engine, with an instance at the
                // same index: a handle of `sa` must not reach it.
                let mut sb = ok("store", a.store(crate::Host::default(), &Limits::new()))?;
                ok("instantiate", sb.instantiate(&of_a, &Linker::new()))?;
                foreign(cx, "get_func", sb.get_func(ia, "f"))?;
                foreign(cx, "call", sb.call(fa, &[], &mut [Val::I32(0)]))?;
                foreign(cx, "func_type", sb.func_type(fa))?;
                foreign(cx, "memory_size", sb.memory_size(ia, "m"))?;
                foreign(cx, "register", sb.register("x", ia))?;
                static_foreign(cx)
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

/// A module with a memory and a function, for the foreign-handle checks.
const FOREIGN: &str =
    r#"(module (memory (export "m") 1) (func (export "f") (result i32) i32.const 7))"#;

/// Expect [`ErrorKind::ForeignHandle`] tagged with the backend under test.
fn foreign<T>(cx: &Ctx, what: &str, r: anywasm::Result<T>) -> Result<(), String> {
    match r {
        Err(e) if e.kind() == ErrorKind::ForeignHandle => expect_eq(
            &format!("{what}: backend of {e}"),
            e.backend(),
            Some(cx.backend()),
        ),
        Err(e) => Err(format!(
            "{what}: expected ForeignHandle, got {:?}: {e}",
            e.kind()
        )),
        Ok(_) => Err(format!("{what}: expected ForeignHandle, got a result")),
    }
}

/// The foreign-handle rules through the statically dispatched API.
fn static_foreign(cx: &Ctx) -> Result<(), String> {
    fn go<R: anywasm::Runtime>(cx: &Ctx) -> Result<(), String> {
        use anywasm::Store as _;
        let engine = ok("engine", R::new(&Config::new()))?;
        let other = ok("engine", R::new(&Config::new()))?;
        let bytes = wasm(FOREIGN);
        let module = ok("compile", engine.compile(&bytes))?;
        let of_other = ok("compile", other.compile(&bytes))?;
        let mut a = ok("store", engine.store((), &Limits::new()))?;
        let mut b = ok("store", engine.store((), &Limits::new()))?;
        foreign(
            cx,
            "static: module of another engine",
            a.instantiate(&of_other, &Linker::new()),
        )?;
        let ia = ok("instantiate", a.instantiate(&module, &Linker::new()))?;
        ok("instantiate", b.instantiate(&module, &Linker::new()))?;
        let fa = ok("get_func", a.get_func(&ia, "f"))?;
        foreign(cx, "static: call", b.call(&fa, &[], &mut [Val::I32(0)]))?;
        foreign(cx, "static: get_func", b.get_func(&ia, "f"))?;
        foreign(cx, "static: memory_size", b.memory_size(&ia, "m"))?;
        foreign(cx, "static: register", b.register("x", &ia))
    }
    match cx.backend() {
        #[cfg(feature = "wasmtime")]
        anywasm::BackendKind::Wasmtime => go::<anywasm::wasmtime::Engine>(cx),
        #[cfg(feature = "wasmer")]
        anywasm::BackendKind::Wasmer => go::<anywasm::wasmer::Engine>(cx),
        #[cfg(feature = "wasmi")]
        anywasm::BackendKind::Wasmi => go::<anywasm::wasmi::Engine>(cx),
        other => Err(format!("{other} is not compiled in")),
    }
}
