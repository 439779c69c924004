//! `register`: instances providing imports to later instantiations.

mod common;

use anywasm_core::{
    Config, ErrorKind, FuncType, HostError, Limits, Linker, Runtime, Store as _, StoreExt, Val,
    ValType,
};
use common::*;

const PROVIDER: &str = r#"
(module
  (memory (export "memory") 1 4)
  (table (export "table") 2 funcref)
  (global (export "g") (mut i32) (i32.const 10))
  (global (export "c") i32 (i32.const 3))
  (func $inc (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (elem (i32.const 0) $inc)
)
"#;

const CONSUMER: &str = r#"
(module
  (import "lib" "inc" (func $inc (param i32) (result i32)))
  (import "lib" "memory" (memory 1))
  (import "lib" "table" (table 1 funcref))
  (import "lib" "g" (global $g (mut i32)))
  (type $t (func (param i32) (result i32)))
  (func (export "run") (param i32) (result i32)
    (i32.store (i32.const 8) (i32.const 99))
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (call_indirect (type $t) (call $inc (local.get 0)) (i32.const 0)))
)
"#;

#[test]
fn register_provides_all_kinds() {
    let engine = engine(Config::default());
    let provider = compile(&engine, PROVIDER);
    let consumer = compile(&engine, CONSUMER);
    let mut store = engine.store((), &Limits::new()).unwrap();
    let lib = store.instantiate(&provider, &Linker::new()).unwrap();
    // Not registered yet.
    assert_kind(
        store.instantiate(&consumer, &Linker::new()),
        ErrorKind::Unlinkable,
    );
    store.register("lib", &lib).unwrap();
    let app = store.instantiate(&consumer, &Linker::new()).unwrap();
    assert_eq!(
        store.call_export(&app, "run", &[Val::I32(1)]).unwrap(),
        vec![Val::I32(3)]
    );
    // Shared state: memory and global of the provider changed.
    assert_eq!(store.memory_read_vec(&lib, "memory", 8, 1).unwrap(), [99]);
    assert_eq!(store.global_get(&lib, "g").unwrap(), Val::I32(11));
}

#[test]
fn registered_exports_take_precedence_over_linker() {
    let engine = engine(Config::default());
    let provider = compile(&engine, PROVIDER);
    let consumer = compile(
        &engine,
        r#"(module (import "lib" "inc" (func $inc (param i32) (result i32)))
                  (import "lib" "host_only" (func $h (result i32)))
                  (func (export "run") (result i32) (i32.add (call $inc (i32.const 1)) (call $h))))"#,
    );
    let mut linker = Linker::<()>::new();
    linker.func(
        "lib",
        "inc",
        FuncType::new([ValType::I32], [ValType::I32]),
        |_, _, _| Err(HostError::new("linker version must not be used")),
    );
    linker.func(
        "lib",
        "host_only",
        FuncType::new([], [ValType::I32]),
        |_, _, r| {
            r[0] = Val::I32(100);
            Ok(())
        },
    );
    let mut store = engine.store((), &Limits::new()).unwrap();
    let lib = store.instantiate(&provider, &Linker::new()).unwrap();
    store.register("lib", &lib).unwrap();
    let app = store.instantiate(&consumer, &linker).unwrap();
    assert_eq!(
        store.call_export(&app, "run", &[]).unwrap(),
        vec![Val::I32(102)]
    );
}

#[test]
fn incompatible_registered_exports() {
    let engine = engine(Config::default());
    let provider = compile(&engine, PROVIDER);
    let mut store = engine.store((), &Limits::new()).unwrap();
    let lib = store.instantiate(&provider, &Linker::new()).unwrap();
    store.register("lib", &lib).unwrap();
    for (wat, what) in [
        (
            r#"(module (import "lib" "inc" (func (param i64))))"#,
            "func signature",
        ),
        (
            r#"(module (import "lib" "memory" (memory 2)))"#,
            "memory too small",
        ),
        (
            r#"(module (import "lib" "memory" (memory 1 2)))"#,
            "memory max too large",
        ),
        (
            r#"(module (import "lib" "table" (table 1 externref)))"#,
            "table element",
        ),
        (
            r#"(module (import "lib" "g" (global i32)))"#,
            "global mutability",
        ),
        (r#"(module (import "lib" "c" (global i64)))"#, "global type"),
        (r#"(module (import "lib" "inc" (memory 1)))"#, "kind"),
        (r#"(module (import "lib" "missing" (func)))"#, "missing"),
        (
            r#"(module (import "other" "inc" (func (param i32) (result i32))))"#,
            "module",
        ),
    ] {
        let m = compile(&engine, wat);
        let e = assert_kind(store.instantiate(&m, &Linker::new()), ErrorKind::Unlinkable);
        assert!(e.message().contains("::"), "{what}: {e}");
    }
    // Compatible subtypes work: smaller minimum, larger maximum.
    let m = compile(&engine, r#"(module (import "lib" "memory" (memory 0 10)))"#);
    store.instantiate(&m, &Linker::new()).unwrap();
    // A memory grown past the import's minimum satisfies it.
    store.memory_grow(&lib, "memory", 1).unwrap();
    let m = compile(&engine, r#"(module (import "lib" "memory" (memory 2)))"#);
    store.instantiate(&m, &Linker::new()).unwrap();
}

#[test]
fn reregistering_replaces() {
    let engine = engine(Config::default());
    let a = compile(
        &engine,
        r#"(module (func (export "v") (result i32) (i32.const 1)))"#,
    );
    let b = compile(
        &engine,
        r#"(module (func (export "v") (result i32) (i32.const 2)))"#,
    );
    let user = compile(
        &engine,
        r#"(module (import "m" "v" (func $v (result i32))) (func (export "run") (result i32) (call $v)))"#,
    );
    let mut store = engine.store((), &Limits::new()).unwrap();
    let ia = store.instantiate(&a, &Linker::new()).unwrap();
    let ib = store.instantiate(&b, &Linker::new()).unwrap();
    store.register("m", &ia).unwrap();
    let u1 = store.instantiate(&user, &Linker::new()).unwrap();
    store.register("m", &ib).unwrap();
    let u2 = store.instantiate(&user, &Linker::new()).unwrap();
    assert_eq!(
        store.call_export(&u1, "run", &[]).unwrap(),
        vec![Val::I32(1)]
    );
    assert_eq!(
        store.call_export(&u2, "run", &[]).unwrap(),
        vec![Val::I32(2)]
    );
}

#[test]
fn host_function_reexported_through_register() {
    let engine = engine(Config::default());
    let reexport = compile(
        &engine,
        r#"(module (import "env" "h" (func $h (result i32))) (export "h" (func $h)))"#,
    );
    let user = compile(
        &engine,
        r#"(module (import "lib" "h" (func $h (result i32))) (func (export "run") (result i32) (call $h)))"#,
    );
    let mut linker = Linker::<u32>::new();
    linker.func(
        "env",
        "h",
        FuncType::new([], [ValType::I32]),
        |caller, _, r| {
            *caller.data_mut() += 1;
            // Called from the user instance: it has no memory.
            assert_eq!(caller.memory_size(), None);
            r[0] = Val::I32(5);
            Ok(())
        },
    );
    let mut store = engine.store(0u32, &Limits::new()).unwrap();
    let lib = store.instantiate(&reexport, &linker).unwrap();
    store.register("lib", &lib).unwrap();
    let u = store.instantiate(&user, &Linker::new()).unwrap();
    assert_eq!(
        store.call_export(&u, "run", &[]).unwrap(),
        vec![Val::I32(5)]
    );
    // Calling the host function directly from the store.
    assert_eq!(
        store.call_export(&lib, "h", &[]).unwrap(),
        vec![Val::I32(5)]
    );
    assert_eq!(*store.data(), 2);
}
