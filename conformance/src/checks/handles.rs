//! Memory, table and global handles: resolved once from an instance and an
//! export name, then used for every access (static `Store` and `DynStore`).

use anywasm::{Config, DynStore, ErrorKind, Limits, Linker, Runtime, Store, StoreExt as _, Val};

use super::module::foreign;
use super::{VALUES, check};
use crate::harness::{expect_eq, expect_kind, ok, wasm};
use crate::{Check, Ctx};

/// Run the generic `go::<Engine>(cx)` for the backend under test.
macro_rules! on_backend {
    ($cx:expr, $go:ident) => {
        match $cx.backend() {
            #[cfg(feature = "wasmtime")]
            anywasm::BackendKind::Wasmtime => $go::<anywasm::wasmtime::Engine>($cx),
            #[cfg(feature = "wasmer")]
            anywasm::BackendKind::Wasmer => $go::<anywasm::wasmer::Engine>($cx),
            #[cfg(feature = "wasmi")]
            anywasm::BackendKind::Wasmi => $go::<anywasm::wasmi::Engine>($cx),
            other => Err(format!("{other} is not compiled in")),
        }
    };
}

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "handles/memory",
            "a memory handle resolved once reads, writes and grows, and sees the growth; a missing memory is ExportNotFound as by name",
            |cx: &Ctx| on_backend!(cx, static_memory)
        ),
        check!(
            "handles/global_table",
            "a global handle gets and sets; a table handle reads, writes and grows; the guest sees both",
            |cx: &Ctx| on_backend!(cx, static_global_table)
        ),
        check!(
            "handles/foreign",
            "memory, table and global handles of one store used in another are ForeignHandle, tagged with this backend",
            |cx: &Ctx| on_backend!(cx, static_foreign)
        ),
        check!(
            "handles/dyn",
            "DynStore memory, table and global ids: resolved once, used, stable on re-resolution, ForeignHandle in another store",
            dyn_ids
        ),
    ]
}

/// A store of `R` and its instance of `values.wat`.
type Values<R> = (
    <R as Runtime>::Store<()>,
    <<R as Runtime>::Store<()> as Store<()>>::Instance,
);

/// A store of `R` with one instance of `values.wat`.
fn values<R: Runtime>() -> Result<Values<R>, String> {
    let engine = ok("engine", R::new(&Config::new()))?;
    let module = ok("compile", engine.compile(&wasm(VALUES)))?;
    let mut store = ok("store", engine.store((), &Limits::new()))?;
    let inst = ok("instantiate", store.instantiate(&module, &Linker::new()))?;
    Ok((store, inst))
}

fn static_memory<R: Runtime>(cx: &Ctx) -> Result<(), String> {
    let _backend = crate::harness::expect_backend(cx.backend());
    let (mut store, inst) = values::<R>()?;
    let mem = ok("memory", store.memory(&inst, "memory"))?;
    expect_eq("len", ok("memory_len", store.memory_len(&mem))?, 65536)?;
    ok(
        "write",
        store.write(&mem, 100, &0x1122_3344u32.to_le_bytes()),
    )?;
    expect_eq(
        "guest load of the host write",
        ok(
            "load_i32",
            store.call_export(&inst, "load_i32", &[Val::I32(100)]),
        )?,
        vec![Val::I32(0x1122_3344)],
    )?;
    ok(
        "store_i32",
        store.call_export(&inst, "store_i32", &[Val::I32(200), Val::I32(-2)]),
    )?;
    let mut buf = [0u8; 4];
    ok("read", store.read(&mem, 200, &mut buf))?;
    expect_eq("host read of the guest store", buf, (-2i32).to_le_bytes())?;
    expect_eq("old pages", ok("grow", store.grow(&mem, 2))?, 1)?;
    expect_eq(
        "len after grow, same handle",
        ok("memory_len", store.memory_len(&mem))?,
        3 * 65536,
    )?;
    let top = 3 * 65536 - 4;
    ok(
        "write at the new top",
        store.write(&mem, top, &[7, 0, 0, 0]),
    )?;
    expect_eq(
        "guest load at the new top",
        ok(
            "load_i32",
            store.call_export(&inst, "load_i32", &[Val::I32(top as i32)]),
        )?,
        vec![Val::I32(7)],
    )?;
    expect_kind(
        "read past the grown end",
        store.read(&mem, 3 * 65536 - 2, &mut buf),
        ErrorKind::OutOfBounds,
    )?;
    expect_kind(
        "write past the grown end",
        store.write(&mem, 3 * 65536, &[1]),
        ErrorKind::OutOfBounds,
    )?;
    for name in ["nope", "g_i64", "funcs", "load_i32"] {
        expect_kind(
            &format!("handle to `{name}`"),
            store.memory(&inst, name).map(|_| ()),
            ErrorKind::ExportNotFound,
        )?;
        expect_kind(
            &format!("by name `{name}`"),
            store.memory_size(&inst, name),
            ErrorKind::ExportNotFound,
        )?;
    }
    Ok(())
}

fn static_global_table<R: Runtime>(cx: &Ctx) -> Result<(), String> {
    let _backend = crate::harness::expect_backend(cx.backend());
    let (mut store, inst) = values::<R>()?;
    let g = ok("global", store.global(&inst, "g_i64"))?;
    expect_eq("get", ok("get", store.get(&g))?, Val::I64(7))?;
    ok("set", store.set(&g, Val::I64(-9)))?;
    expect_eq("get after set", ok("get", store.get(&g))?, Val::I64(-9))?;
    expect_eq(
        "guest read",
        ok("read_g_i64", store.call_export(&inst, "read_g_i64", &[]))?,
        vec![Val::I64(-9)],
    )?;
    expect_eq(
        "by name",
        ok("global_get", store.global_get(&inst, "g_i64"))?,
        Val::I64(-9),
    )?;
    expect_kind(
        "wrong type",
        store.set(&g, Val::I32(1)),
        ErrorKind::TypeMismatch,
    )?;
    let c = ok("global", store.global(&inst, "g_const"))?;
    expect_eq("const", ok("get", store.get(&c))?, Val::I32(42))?;
    expect_kind(
        "set immutable",
        store.set(&c, Val::I32(1)),
        ErrorKind::TypeMismatch,
    )?;
    expect_kind(
        "global handle to a memory",
        store.global(&inst, "memory").map(|_| ()),
        ErrorKind::ExportNotFound,
    )?;

    let t = ok("table", store.table(&inst, "funcs"))?;
    expect_eq("len", ok("table_len", store.table_len(&t))?, 2)?;
    expect_eq(
        "null slot",
        ok("table_read", store.table_read(&t, 1))?,
        Val::FuncRef(None),
    )?;
    let f = ok("table_read", store.table_read(&t, 0))?;
    ok("table_write", store.table_write(&t, 1, f))?;
    expect_eq(
        "guest call through the written slot",
        ok(
            "call_table",
            store.call_export(&inst, "call_table", &[Val::I32(1)]),
        )?,
        vec![Val::I32(99)],
    )?;
    expect_eq(
        "old len",
        ok("table_extend", store.table_extend(&t, 3, f))?,
        2,
    )?;
    expect_eq("len after grow", ok("table_len", store.table_len(&t))?, 5)?;
    expect_eq(
        "guest call through a grown slot",
        ok(
            "call_table",
            store.call_export(&inst, "call_table", &[Val::I32(4)]),
        )?,
        vec![Val::I32(99)],
    )?;
    expect_kind(
        "read past end",
        store.table_read(&t, 5),
        ErrorKind::OutOfBounds,
    )?;
    expect_kind(
        "write past end",
        store.table_write(&t, 5, f),
        ErrorKind::OutOfBounds,
    )?;
    expect_kind(
        "table handle to a global",
        store.table(&inst, "g_i64").map(|_| ()),
        ErrorKind::ExportNotFound,
    )
}

fn static_foreign<R: Runtime>(cx: &Ctx) -> Result<(), String> {
    let (mut a, ia) = values::<R>()?;
    // A second store with an instance of the same module: the handles of
    // `a` must not reach its exports.
    let (mut b, ib) = values::<R>()?;
    let mem = ok("memory", a.memory(&ia, "memory"))?;
    let table = ok("table", a.table(&ia, "funcs"))?;
    let global = ok("global", a.global(&ia, "g_i64"))?;
    foreign(
        cx,
        "memory of an instance of another store",
        b.memory(&ia, "memory"),
    )?;
    foreign(
        cx,
        "table of an instance of another store",
        b.table(&ia, "funcs"),
    )?;
    foreign(
        cx,
        "global of an instance of another store",
        b.global(&ia, "g_i64"),
    )?;
    let mut buf = [0u8; 4];
    foreign(cx, "memory_len", b.memory_len(&mem))?;
    foreign(cx, "read", b.read(&mem, 0, &mut buf))?;
    foreign(cx, "write", b.write(&mem, 0, &buf))?;
    foreign(cx, "grow", b.grow(&mem, 1))?;
    foreign(cx, "get", b.get(&global))?;
    foreign(cx, "set", b.set(&global, Val::I64(1)))?;
    foreign(cx, "table_len", b.table_len(&table))?;
    foreign(cx, "table_read", b.table_read(&table, 0))?;
    foreign(
        cx,
        "table_write",
        b.table_write(&table, 1, Val::FuncRef(None)),
    )?;
    foreign(
        cx,
        "table_extend",
        b.table_extend(&table, 1, Val::FuncRef(None)),
    )?;
    // Nothing in `b` changed, and the handles still work in `a`.
    let mb = ok("memory", b.memory(&ib, "memory"))?;
    expect_eq("b's memory", ok("memory_len", b.memory_len(&mb))?, 65536)?;
    expect_eq(
        "b's global",
        ok("global_get", b.global_get(&ib, "g_i64"))?,
        Val::I64(7),
    )?;
    expect_eq(
        "b's table",
        ok("table_size", b.table_size(&ib, "funcs"))?,
        2,
    )?;
    expect_eq("a's memory", ok("memory_len", a.memory_len(&mem))?, 65536)?;
    expect_eq("a's global", ok("get", a.get(&global))?, Val::I64(7))?;
    expect_eq("a's table", ok("table_len", a.table_len(&table))?, 2)
}

fn dyn_ids(cx: &Ctx) -> Result<(), String> {
    let _backend = crate::harness::expect_backend(cx.backend());
    let engine = ok("engine", cx.engine(&Config::new()))?;
    let module = ok("compile", engine.compile(&wasm(VALUES)))?;
    let mut a = ok(
        "store",
        engine.store(crate::Host::default(), &Limits::new()),
    )?;
    let mut b = ok(
        "store",
        engine.store(crate::Host::default(), &Limits::new()),
    )?;
    let ia = ok("instantiate", a.instantiate(&module, &Linker::new()))?;
    let ib = ok("instantiate", b.instantiate(&module, &Linker::new()))?;

    let mem = ok("memory", a.memory(ia, "memory"))?;
    expect_eq(
        "memory resolved again",
        ok("memory", a.memory(ia, "memory"))?,
        mem,
    )?;
    ok("write", a.write(mem, 64, &[1, 2, 3, 4]))?;
    expect_eq(
        "guest load of the host write",
        ok("load_i32", a.call_export(ia, "load_i32", &[Val::I32(64)]))?,
        vec![Val::I32(0x0403_0201)],
    )?;
    expect_eq("old pages", ok("grow", a.grow(mem, 1))?, 1)?;
    expect_eq(
        "len after grow",
        ok("memory_len", a.memory_len(mem))?,
        2 * 65536,
    )?;
    expect_eq(
        "by name after grow",
        ok("memory_size", a.memory_size(ia, "memory"))?,
        2 * 65536,
    )?;
    let mut buf = [0u8; 4];
    ok("read", a.read(mem, 64, &mut buf))?;
    expect_eq("read", buf, [1, 2, 3, 4])?;
    expect_kind(
        "read past the end",
        a.read(mem, 2 * 65536 - 2, &mut buf),
        ErrorKind::OutOfBounds,
    )?;
    expect_kind(
        "missing memory",
        a.memory(ia, "nope"),
        ErrorKind::ExportNotFound,
    )?;
    expect_kind(
        "memory that is a table",
        a.memory(ia, "funcs"),
        ErrorKind::ExportNotFound,
    )?;

    let g = ok("global", a.global(ia, "g_i64"))?;
    expect_eq(
        "global resolved again",
        ok("global", a.global(ia, "g_i64"))?,
        g,
    )?;
    ok("set", a.set(g, Val::I64(11)))?;
    expect_eq(
        "guest read",
        ok("read_g_i64", a.call_export(ia, "read_g_i64", &[]))?,
        vec![Val::I64(11)],
    )?;
    expect_eq("get", ok("get", a.get(g))?, Val::I64(11))?;

    let t = ok("table", a.table(ia, "funcs"))?;
    expect_eq(
        "table resolved again",
        ok("table", a.table(ia, "funcs"))?,
        t,
    )?;
    let f = ok("table_read", a.table_read(t, 0))?;
    ok("table_write", a.table_write(t, 1, f))?;
    expect_eq(
        "guest call through the written slot",
        ok(
            "call_table",
            a.call_export(ia, "call_table", &[Val::I32(1)]),
        )?,
        vec![Val::I32(99)],
    )?;
    expect_eq(
        "old len",
        ok("table_extend", a.table_extend(t, 1, Val::FuncRef(None)))?,
        2,
    )?;
    expect_eq("len", ok("table_len", a.table_len(t))?, 3)?;

    // Ids of `a` in `b`, which has an instance (and so, once resolved,
    // handles) at the same indices.
    let mb = ok("memory", b.memory(ib, "memory"))?;
    ok("global", b.global(ib, "g_i64"))?;
    ok("table", b.table(ib, "funcs"))?;
    foreign(cx, "dyn: memory_len", b.memory_len(mem))?;
    foreign(cx, "dyn: read", b.read(mem, 0, &mut buf))?;
    foreign(cx, "dyn: write", b.write(mem, 0, &buf))?;
    foreign(cx, "dyn: grow", b.grow(mem, 1))?;
    foreign(cx, "dyn: get", b.get(g))?;
    foreign(cx, "dyn: set", b.set(g, Val::I64(1)))?;
    foreign(cx, "dyn: table_len", b.table_len(t))?;
    foreign(cx, "dyn: table_read", b.table_read(t, 0))?;
    foreign(
        cx,
        "dyn: table_write",
        b.table_write(t, 0, Val::FuncRef(None)),
    )?;
    foreign(
        cx,
        "dyn: table_extend",
        b.table_extend(t, 1, Val::FuncRef(None)),
    )?;
    foreign(
        cx,
        "dyn: memory of a foreign instance",
        b.memory(ia, "memory"),
    )?;
    expect_eq(
        "b's memory unchanged",
        ok("memory_len", b.memory_len(mb))?,
        65536,
    )?;
    expect_eq(
        "b's global unchanged",
        ok("global_get", b.global_get(ib, "g_i64"))?,
        Val::I64(7),
    )?;
    check_dyn_trait_object(&mut *b, ib)
}

/// The by-name `DynStore` forms agree with the ids on a fresh instance.
fn check_dyn_trait_object(
    store: &mut dyn DynStore<crate::Host>,
    inst: anywasm::InstanceId,
) -> Result<(), String> {
    let m = ok("memory", store.memory(inst, "memory"))?;
    ok("memory_write", store.memory_write(inst, "memory", 8, &[9]))?;
    let mut one = [0u8];
    ok("read", store.read(m, 8, &mut one))?;
    expect_eq("by-name write seen through the id", one, [9])
}
