//! Compiling, linking and reflecting modules.

use anywasm::{
    Config, DynStore, ErrorKind, ExportType, ExternType, FuncType, GlobalType, HostError,
    ImportType, InstanceId, Limits, Linker, MemoryType, StoreExt as _, TableType, Val, ValType,
};

use super::{HOST, LINK, LINKED, check};
use crate::harness::{expect_eq, expect_kind, ok, wasm};
use crate::{Check, Ctx};

pub(crate) fn checks() -> Vec<Check> {
    let mut all = vec![
        check!(
            "module/malformed",
            "garbage, truncated bytes and the text format are Compile errors, with fuel metering too",
            |cx: &Ctx| {
                for config in [Config::new(), Config::new().consume_fuel(true)] {
                    let engine = ok("engine", cx.engine(&config))?;
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
                    )?;
                    expect_kind(
                        "text format",
                        engine.compile(b"(module)"),
                        ErrorKind::Compile,
                    )?;
                }
                Ok(())
            }
        ),
        check!(
            "module/invalid",
            "a well-formed module that fails validation is a Compile error, with fuel metering too",
            |cx: &Ctx| {
                for config in [Config::new(), Config::new().consume_fuel(true)] {
                    let engine = ok("engine", cx.engine(&config))?;
                    // (func (result i32) i64.const 0): type error, hand-assembled so the text parser cannot reject it first.
                    let bytes = [
                        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
                        0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: () -> i32
                        0x03, 0x02, 0x01, 0x00, // func 0 has type 0
                        0x0a, 0x06, 0x01, 0x04, 0x00, 0x42, 0x00,
                        0x0b, // body: i64.const 0; end
                    ];
                    expect_kind("type error", engine.compile(&bytes), ErrorKind::Compile)?;
                }
                Ok(())
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
                        default.config().get_max_module_bytes(),
                        default.config().get_max_functions(),
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
    ];
    all.extend(link_checks());
    all
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
pub(super) fn foreign<T>(cx: &Ctx, what: &str, r: anywasm::Result<T>) -> Result<(), String> {
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

/// An engine, a store, and the instance registered as `lib` in it.
type Lib = (
    Box<dyn anywasm::DynRuntime<crate::Host>>,
    Box<dyn DynStore<crate::Host>>,
    InstanceId,
);

/// A default engine, a store, and an instance of `lib` registered as `lib`.
fn with_lib(cx: &Ctx, lib: &str) -> Result<Lib, String> {
    let engine = ok("engine", cx.engine(&Config::new()))?;
    let mut store = ok(
        "store",
        engine.store(crate::Host::default(), &Limits::new()),
    )?;
    let module = ok("compile lib", engine.compile(&wasm(lib)))?;
    let inst = ok(
        "instantiate lib",
        store.instantiate(&module, &Linker::new()),
    )?;
    ok("register", store.register("lib", inst))?;
    Ok((engine, store, inst))
}

/// A `lib` exporting one of everything, for the register checks.
const PROVIDER: &str = r#"(module
  (memory (export "memory") 1 4)
  (table (export "table") 2 funcref)
  (global (export "g") (mut i32) (i32.const 10))
  (global (export "c") i32 (i32.const 3))
  (func $inc (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $forty (result i32) i32.const 40)
  (elem (i32.const 0) $inc $forty))"#;

fn i32_result(
    n: i32,
) -> impl Fn(&mut dyn anywasm::Caller<crate::Host>, &[Val], &mut [Val]) -> Result<(), HostError>
+ Send
+ Sync
+ 'static {
    move |_, _, r| {
        r[0] = Val::I32(n);
        Ok(())
    }
}

fn link_checks() -> Vec<Check> {
    vec![
        check!(
            "module/reflection_types",
            "imports and exports of every kind are listed in order with their full types, with fuel metering too",
            |cx: &Ctx| {
                let wat = r#"(module
                  (import "env" "f" (func (param i32) (result f64)))
                  (import "env" "mem" (memory 1 4))
                  (import "env" "tab" (table 2 externref))
                  (import "env" "g" (global (mut i64)))
                  (memory (export "memory") 2)
                  (table (export "table") 3 10 funcref)
                  (global (export "glob") f32 (f32.const 0))
                  (func (export "run") (param v128) (result i32 i64) (i32.const 0) (i64.const 0)))"#;
                let memory = |minimum, maximum| {
                    ExternType::Memory(MemoryType {
                        minimum,
                        maximum,
                        memory64: false,
                        shared: false,
                    })
                };
                let import = |name: &str, ty| ImportType {
                    module: "env".into(),
                    name: name.into(),
                    ty,
                };
                let export = |name: &str, ty| ExportType {
                    name: name.into(),
                    ty,
                };
                for config in [Config::new(), Config::new().consume_fuel(true)] {
                    let engine = ok("engine", cx.engine(&config))?;
                    let module = ok("compile", engine.compile(&wasm(wat)))?;
                    expect_eq(
                        "imports",
                        module.imports(),
                        &[
                            import(
                                "f",
                                ExternType::Func(FuncType::new([ValType::I32], [ValType::F64])),
                            ),
                            import("mem", memory(1, Some(4))),
                            import(
                                "tab",
                                ExternType::Table(TableType {
                                    element: ValType::ExternRef,
                                    minimum: 2,
                                    maximum: None,
                                }),
                            ),
                            import(
                                "g",
                                ExternType::Global(GlobalType {
                                    content: ValType::I64,
                                    mutable: true,
                                }),
                            ),
                        ][..],
                    )?;
                    expect_eq(
                        "exports",
                        module.exports(),
                        &[
                            export("memory", memory(2, None)),
                            export(
                                "table",
                                ExternType::Table(TableType {
                                    element: ValType::FuncRef,
                                    minimum: 3,
                                    maximum: Some(10),
                                }),
                            ),
                            export(
                                "glob",
                                ExternType::Global(GlobalType {
                                    content: ValType::F32,
                                    mutable: false,
                                }),
                            ),
                            export(
                                "run",
                                ExternType::Func(FuncType::new(
                                    [ValType::V128],
                                    [ValType::I32, ValType::I64],
                                )),
                            ),
                        ][..],
                    )?;
                }
                Ok(())
            }
        ),
        check!(
            "module/no_hidden_exports",
            "a module with a start function lists and exposes only its own exports, with fuel metering too",
            |cx: &Ctx| {
                let wat = r#"(module (global $g (mut i32) (i32.const 0))
                  (func $s (global.set $g (i32.const 1))) (start $s)
                  (func (export "x")))"#;
                for (config, limits) in [
                    (Config::new(), Limits::new()),
                    (Config::new().consume_fuel(true), Limits::new().fuel(1000)),
                ] {
                    let engine = ok("engine", cx.engine(&config))?;
                    let module = ok("compile", engine.compile(&wasm(wat)))?;
                    let names: Vec<_> = module.exports().iter().map(|e| e.name.as_str()).collect();
                    expect_eq("exports", names, vec!["x"])?;
                    let mut store = ok("store", engine.store(crate::Host::default(), &limits))?;
                    let inst = ok("instantiate", store.instantiate(&module, &Linker::new()))?;
                    expect_kind(
                        "the start function by any name",
                        store.get_func(inst, "\u{0}anywasm:start"),
                        ErrorKind::ExportNotFound,
                    )?;
                }
                Ok(())
            }
        ),
        check!(
            "module/unlinkable_names",
            "an Unlinkable error names the import (`module::name`); memories, tables and globals never come from a linker",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let mut store = ok(
                    "store",
                    engine.store(crate::Host::default(), &Limits::new()),
                )?;
                let mut wrong = Linker::new();
                wrong.func(
                    "env",
                    "f",
                    FuncType::new([ValType::I64], [ValType::I32]),
                    |_, _, _| Ok(()),
                );
                for (wat, linker, name) in [
                    (
                        r#"(module (import "env" "f" (func (param i32) (result i32))))"#,
                        &Linker::new(),
                        "env::f",
                    ),
                    (
                        r#"(module (import "env" "f" (func (param i32) (result i32))))"#,
                        &wrong,
                        "env::f",
                    ),
                    (
                        r#"(module (import "env" "memory" (memory 1)))"#,
                        &Linker::new(),
                        "env::memory",
                    ),
                    (
                        r#"(module (import "env" "g" (global i32)))"#,
                        &Linker::new(),
                        "env::g",
                    ),
                    (
                        r#"(module (import "env" "t" (table 1 funcref)))"#,
                        &Linker::new(),
                        "env::t",
                    ),
                    (
                        r#"(module (import "env" "f" (memory 1)))"#,
                        &wrong,
                        "env::f",
                    ),
                ] {
                    let module = ok("compile", engine.compile(&wasm(wat)))?;
                    let e = match store.instantiate(&module, linker) {
                        Err(e) => e,
                        Ok(_) => return Err(format!("{wat}: instantiated")),
                    };
                    if !e.message().contains(name) {
                        return Err(format!("{wat}: the error does not name {name}: {e}"));
                    }
                    expect_kind(wat, Err::<(), _>(e), ErrorKind::Unlinkable)?;
                }
                Ok(())
            }
        ),
        check!(
            "module/register_every_kind",
            "a registered instance provides functions, memory, tables (call_indirect), mutable and immutable globals; before register the imports are Unlinkable",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let mut store = ok(
                    "store",
                    engine.store(crate::Host::default(), &Limits::new()),
                )?;
                let lib = ok(
                    "lib",
                    store.instantiate(
                        &ok("compile", engine.compile(&wasm(PROVIDER)))?,
                        &Linker::new(),
                    ),
                )?;
                let consumer = ok(
                    "compile",
                    engine.compile(&wasm(
                        r#"(module
                          (type $t (func (param i32) (result i32)))
                          (type $n (func (result i32)))
                          (import "lib" "inc" (func $inc (param i32) (result i32)))
                          (import "lib" "memory" (memory 1))
                          (import "lib" "table" (table 2 funcref))
                          (import "lib" "g" (global $g (mut i32)))
                          (import "lib" "c" (global $c i32))
                          (func (export "run") (param i32) (result i32)
                            (i32.store (i32.const 8) (i32.const 99))
                            (global.set $g (i32.add (global.get $g) (i32.const 1)))
                            (i32.add
                              (call_indirect (type $t) (call $inc (local.get 0)) (i32.const 0))
                              (global.get $c)))
                          (func (export "forty") (result i32)
                            (call_indirect (type $n) (i32.const 1))))"#,
                    )),
                )?;
                expect_kind(
                    "not registered yet",
                    store.instantiate(&consumer, &Linker::new()),
                    ErrorKind::Unlinkable,
                )?;
                ok("register", store.register("lib", lib))?;
                let app = ok("instantiate", store.instantiate(&consumer, &Linker::new()))?;
                expect_eq(
                    "run",
                    ok("run", store.call_export(app, "run", &[Val::I32(1)]))?,
                    vec![Val::I32(6)],
                )?;
                expect_eq(
                    "forty",
                    ok("forty", store.call_export(app, "forty", &[]))?,
                    vec![Val::I32(40)],
                )?;
                let mut b = [0u8];
                ok("read", store.memory_read(lib, "memory", 8, &mut b))?;
                expect_eq("shared memory", b, [99])?;
                expect_eq(
                    "shared global",
                    ok("get", store.global_get(lib, "g"))?,
                    Val::I32(11),
                )
            }
        ),
        check!(
            "module/register_type_checked",
            "an import a registered export does not match (kind, signature, limits, mutability, type, missing name) is Unlinkable and names it; compatible limits link",
            |cx: &Ctx| {
                let (engine, mut store, lib) = with_lib(cx, PROVIDER)?;
                for (wat, name) in [
                    (
                        r#"(module (import "lib" "inc" (func (param i64))))"#,
                        "lib::inc",
                    ),
                    (
                        r#"(module (import "lib" "memory" (memory 2)))"#,
                        "lib::memory",
                    ),
                    (
                        r#"(module (import "lib" "memory" (memory 1 2)))"#,
                        "lib::memory",
                    ),
                    (r#"(module (import "lib" "memory" (func)))"#, "lib::memory"),
                    (
                        r#"(module (import "lib" "table" (table 5 funcref)))"#,
                        "lib::table",
                    ),
                    (
                        r#"(module (import "lib" "table" (table 1 externref)))"#,
                        "lib::table",
                    ),
                    (r#"(module (import "lib" "g" (global i32)))"#, "lib::g"),
                    (
                        r#"(module (import "lib" "c" (global (mut i32))))"#,
                        "lib::c",
                    ),
                    (r#"(module (import "lib" "c" (global i64)))"#, "lib::c"),
                    (r#"(module (import "lib" "inc" (global i32)))"#, "lib::inc"),
                    (r#"(module (import "lib" "inc" (memory 1)))"#, "lib::inc"),
                    (
                        r#"(module (import "lib" "missing" (func)))"#,
                        "lib::missing",
                    ),
                    (
                        r#"(module (import "other" "inc" (func (param i32) (result i32))))"#,
                        "other::inc",
                    ),
                ] {
                    let m = ok("compile", engine.compile(&wasm(wat)))?;
                    let e = match store.instantiate(&m, &Linker::new()) {
                        Err(e) => e,
                        Ok(_) => return Err(format!("{wat}: instantiated")),
                    };
                    if !e.message().contains(name) {
                        return Err(format!("{wat}: the error does not name {name}: {e}"));
                    }
                    expect_kind(wat, Err::<(), _>(e), ErrorKind::Unlinkable)?;
                }
                for wat in [
                    r#"(module (import "lib" "memory" (memory 0 10)))"#,
                    r#"(module (import "lib" "table" (table 1 funcref)))"#,
                ] {
                    let m = ok("compile", engine.compile(&wasm(wat)))?;
                    ok(wat, store.instantiate(&m, &Linker::new()))?;
                }
                // A memory grown past an import's minimum satisfies it.
                ok("grow", store.memory_grow(lib, "memory", 1))?;
                let m = ok(
                    "compile",
                    engine.compile(&wasm(r#"(module (import "lib" "memory" (memory 2)))"#)),
                )?;
                ok(
                    "memory grown to 2 pages",
                    store.instantiate(&m, &Linker::new()),
                )
                .map(|_| ())
            }
        ),
        check!(
            "module/register_before_linker",
            "imports resolve from a registered instance first, then from the linker for names it does not export",
            |cx: &Ctx| {
                let (engine, mut store, _) = with_lib(cx, PROVIDER)?;
                let mut linker = Linker::new();
                linker.func(
                    "lib",
                    "inc",
                    FuncType::new([ValType::I32], [ValType::I32]),
                    |_, _, _| Err(HostError::new("the linker's inc must not be used")),
                );
                linker.func(
                    "lib",
                    "host_only",
                    FuncType::new([], [ValType::I32]),
                    i32_result(100),
                );
                let m = ok(
                    "compile",
                    engine.compile(&wasm(
                        r#"(module (import "lib" "inc" (func $inc (param i32) (result i32)))
                             (import "lib" "host_only" (func $h (result i32)))
                             (func (export "run") (result i32)
                               (i32.add (call $inc (i32.const 1)) (call $h))))"#,
                    )),
                )?;
                let app = ok("instantiate", store.instantiate(&m, &linker))?;
                expect_eq(
                    "run",
                    ok("run", store.call_export(app, "run", &[]))?,
                    vec![Val::I32(102)],
                )
            }
        ),
        check!(
            "module/register_mismatch_falls_back",
            "a registered export of the wrong type does not shadow a linker function of the right one",
            |cx: &Ctx| {
                let (engine, mut store, _) = with_lib(cx, PROVIDER)?;
                let mut linker = Linker::new();
                linker.func(
                    "lib",
                    "inc",
                    FuncType::new([], [ValType::I64]),
                    |_, _, r| {
                        r[0] = Val::I64(55);
                        Ok(())
                    },
                );
                let m = ok(
                    "compile",
                    engine.compile(&wasm(
                        r#"(module (import "lib" "inc" (func $f (result i64)))
                             (func (export "f") (result i64) call $f))"#,
                    )),
                )?;
                let inst = ok("instantiate", store.instantiate(&m, &linker))?;
                expect_eq(
                    "f",
                    ok("f", store.call_export(inst, "f", &[]))?,
                    vec![Val::I64(55)],
                )
            }
        ),
        check!(
            "module/reregister",
            "registering another instance under a name replaces it for later instantiations only",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                let mut store = ok(
                    "store",
                    engine.store(crate::Host::default(), &Limits::new()),
                )?;
                let v = |n: i32| {
                    wasm(&format!(
                        r#"(module (func (export "v") (result i32) (i32.const {n})))"#
                    ))
                };
                let one = ok(
                    "one",
                    store.instantiate(&ok("compile", engine.compile(&v(1)))?, &Linker::new()),
                )?;
                let two = ok(
                    "two",
                    store.instantiate(&ok("compile", engine.compile(&v(2)))?, &Linker::new()),
                )?;
                let user = ok(
                    "compile",
                    engine.compile(&wasm(
                        r#"(module (import "m" "v" (func $v (result i32)))
                             (func (export "run") (result i32) (call $v)))"#,
                    )),
                )?;
                ok("register one", store.register("m", one))?;
                let u1 = ok("u1", store.instantiate(&user, &Linker::new()))?;
                ok("register two", store.register("m", two))?;
                let u2 = ok("u2", store.instantiate(&user, &Linker::new()))?;
                expect_eq(
                    "u1",
                    ok("run", store.call_export(u1, "run", &[]))?,
                    vec![Val::I32(1)],
                )?;
                expect_eq(
                    "u2",
                    ok("run", store.call_export(u2, "run", &[]))?,
                    vec![Val::I32(2)],
                )
            }
        ),
        check!(
            "module/threads",
            "an engine and a compiled module are shared by stores on several threads; a store moves between threads",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                expect_eq("engine backend", engine.backend(), cx.backend())?;
                let module = ok("compile", engine.compile(&wasm(LINK)))?;
                let results: Vec<Result<Vec<Val>, String>> = std::thread::scope(|s| {
                    let handles: Vec<_> = (0..4)
                        .map(|_| {
                            let (engine, module) = (&engine, module.clone());
                            s.spawn(move || {
                                let mut store = ok(
                                    "store",
                                    engine.store(crate::Host::default(), &Limits::new()),
                                )?;
                                let inst =
                                    ok("instantiate", store.instantiate(&module, &Linker::new()))?;
                                ok("five", store.call_export(inst, "five", &[]))
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
                        .collect()
                });
                for r in results {
                    expect_eq("five on a thread", r?, vec![Val::I32(5)])?;
                }
                let mut store = ok(
                    "store",
                    engine.store(crate::Host::default(), &Limits::new()),
                )?;
                let inst = ok("instantiate", store.instantiate(&module, &Linker::new()))?;
                ok("five", store.call_export(inst, "five", &[]))?;
                let (mut store, out) = std::thread::spawn(move || {
                    let out = store.call_export(inst, "five", &[]);
                    (store, out)
                })
                .join()
                .map_err(|_| "thread panicked".to_string())?;
                expect_eq(
                    "five on another thread",
                    ok("five", out)?,
                    vec![Val::I32(5)],
                )?;
                expect_eq(
                    "five back home",
                    ok("five", store.call_export(inst, "five", &[]))?,
                    vec![Val::I32(5)],
                )
            }
        ),
    ]
}
