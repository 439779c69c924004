//! Instantiating one module again: with a changed linker, with another
//! linker, and in a store whose registered instances shadow the linker.
//! Engines may keep work per (module, linker); none of it may show.

use anywasm::{ErrorKind, FuncType, InstanceId, Limits, Linker, Val, ValType};

use super::check;
use crate::harness::{expect_eq, expect_kind, ok, wasm};
use crate::{Check, Ctx, Host};

/// Imports `host::f` and re-exports what it returns as `g`.
const USER: &str = r#"(module
  (import "host" "f" (func $f (result i32)))
  (func (export "g") (result i32) call $f))"#;

/// A linker whose `host::f` returns `n`.
fn returning(n: i32) -> Linker<Host> {
    let mut l = Linker::new();
    define(&mut l, n);
    l
}

/// (Re)define `host::f` in `l` to return `n`.
fn define(l: &mut Linker<Host>, n: i32) {
    l.func(
        "host",
        "f",
        FuncType::new([], [ValType::I32]),
        move |_, _, results| {
            results[0] = Val::I32(n);
            Ok(())
        },
    );
}

fn g(store: &mut dyn anywasm::DynStore<Host>, instance: InstanceId) -> Result<Vec<Val>, String> {
    ok("g", store.call_export(instance, "g", &[]))
}

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "module/relink_changed_linker",
            "a module instantiated again after its linker changed, or with a clone changed since, or with a linker that lacks or mistypes the import, links against that linker as it is now",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&anywasm::Config::new()))?;
                let module = ok("compile", engine.compile(&wasm(USER)))?;
                let mut store = ok("store", engine.store(Host::default(), &Limits::new()))?;
                let mut linker = returning(1);
                let first = ok("first", store.instantiate(&module, &linker))?;
                expect_eq("first", g(&mut *store, first)?, vec![Val::I32(1)])?;

                define(&mut linker, 2);
                let second = ok("second", store.instantiate(&module, &linker))?;
                expect_eq("redefined", g(&mut *store, second)?, vec![Val::I32(2)])?;
                expect_eq(
                    "the first instance keeps its import",
                    g(&mut *store, first)?,
                    vec![Val::I32(1)],
                )?;

                let mut clone = linker.clone();
                let same = ok("clone", store.instantiate(&module, &clone))?;
                expect_eq("clone", g(&mut *store, same)?, vec![Val::I32(2)])?;
                define(&mut clone, 3);
                let changed = ok("changed clone", store.instantiate(&module, &clone))?;
                expect_eq("changed clone", g(&mut *store, changed)?, vec![Val::I32(3)])?;
                let original = ok("original", store.instantiate(&module, &linker))?;
                expect_eq("original", g(&mut *store, original)?, vec![Val::I32(2)])?;

                expect_kind(
                    "no host function",
                    store.instantiate(&module, &Linker::new()),
                    ErrorKind::Unlinkable,
                )?;
                let mut mistyped = Linker::<Host>::new();
                mistyped.func(
                    "host",
                    "f",
                    FuncType::new([], [ValType::I64]),
                    |_, _, results| {
                        results[0] = Val::I64(0);
                        Ok(())
                    },
                );
                expect_kind(
                    "mistyped host function",
                    store.instantiate(&module, &mistyped),
                    ErrorKind::Unlinkable,
                )?;
                let again = ok("after the failures", store.instantiate(&module, &linker))?;
                expect_eq(
                    "after the failures",
                    g(&mut *store, again)?,
                    vec![Val::I32(2)],
                )
            }
        ),
        check!(
            "module/relink_registered_shadows",
            "a registered instance exporting an import takes precedence over the linker even after the module was instantiated with that linker elsewhere; one not exporting it leaves the import to the linker",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&anywasm::Config::new()))?;
                let module = ok("compile", engine.compile(&wasm(USER)))?;
                let linker = returning(1);
                let mut plain = ok("store", engine.store(Host::default(), &Limits::new()))?;
                for _ in 0..2 {
                    let i = ok("plain", plain.instantiate(&module, &linker))?;
                    expect_eq("plain", g(&mut *plain, i)?, vec![Val::I32(1)])?;
                }

                let exporting = ok(
                    "compile",
                    engine.compile(&wasm(
                        r#"(module (func (export "f") (result i32) i32.const 7))"#,
                    )),
                )?;
                let mut shadowed = ok("store", engine.store(Host::default(), &Limits::new()))?;
                let lib = ok("lib", shadowed.instantiate(&exporting, &Linker::new()))?;
                ok("register", shadowed.register("host", lib))?;
                for _ in 0..2 {
                    let i = ok("shadowed", shadowed.instantiate(&module, &linker))?;
                    expect_eq("registered f", g(&mut *shadowed, i)?, vec![Val::I32(7)])?;
                }

                let other = ok(
                    "compile",
                    engine.compile(&wasm(r#"(module (func (export "other")))"#)),
                )?;
                let mut partial = ok("store", engine.store(Host::default(), &Limits::new()))?;
                let lib = ok("lib", partial.instantiate(&other, &Linker::new()))?;
                ok("register", partial.register("host", lib))?;
                let i = ok("partial", partial.instantiate(&module, &linker))?;
                expect_eq("linker f", g(&mut *partial, i)?, vec![Val::I32(1)])
            }
        ),
    ]
}
