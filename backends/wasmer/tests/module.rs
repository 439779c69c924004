//! Compiling, reflecting, linking, registering; handles and the dyn layer.

mod common;

use anywasm_core::{
    BackendKind, Config, ErrorKind, ExternType, FuncType, Limits, Linker, Module as _, Runtime,
    Store as _, StoreExt, Val, ValType,
};
use anywasm_wasmer::Engine;
use common::{assert_kind, wasm};

const LINK: &str = r#"(module
  (func (export "five") (result i32) i32.const 5)
  (memory (export "mem") 1)
  (global (export "glob") (mut i32) (i32.const 11))
  (table (export "tab") 2 funcref))"#;

const LINKED: &str = r#"(module
  (import "lib" "five" (func $five (result i32)))
  (import "lib" "mem" (memory 1))
  (import "lib" "glob" (global $g (mut i32)))
  (import "lib" "tab" (table 2 funcref))
  (func (export "sum") (result i32)
    call $five global.get $g i32.add i32.const 0 i32.load i32.add)
  (func (export "set_glob") (param i32) local.get 0 global.set $g))"#;

#[test]
fn malformed_and_invalid_modules() {
    let engine = Engine::new(&Config::new()).unwrap();
    assert_kind(engine.compile(b"not wasm at all"), ErrorKind::Compile);
    assert_kind(engine.compile(b""), ErrorKind::Compile);
    let mut truncated = wasm(LINKED);
    truncated.truncate(truncated.len() / 2);
    assert_kind(engine.compile(&truncated), ErrorKind::Compile);
    assert_kind(engine.compile(b"\0asm\x02\0\0\0"), ErrorKind::Compile);
    // Text is not accepted (binary only).
    assert_kind(engine.compile(b"(module)"), ErrorKind::Compile);
    let invalid = [
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,
        0x03, 0x02, 0x01, 0x00, 0x0a, 0x06, 0x01, 0x04, 0x00, 0x42, 0x00, 0x0b,
    ];
    assert_kind(engine.compile(&invalid), ErrorKind::Compile);
    // The same with fuel metering compiled in.
    let engine = Engine::new(&Config::new().consume_fuel(true)).unwrap();
    assert_kind(engine.compile(&invalid), ErrorKind::Compile);
    assert_kind(engine.compile(&truncated), ErrorKind::Compile);
    assert!(engine.compile(&wasm(LINK)).is_ok());
}

#[test]
fn reflection() {
    for config in [Config::new(), Config::new().consume_fuel(true)] {
        let engine = Engine::new(&config).unwrap();
        let module = engine.compile(&wasm(LINKED)).unwrap();
        let imports: Vec<_> = module
            .imports()
            .iter()
            .map(|i| (i.module.clone(), i.name.clone()))
            .collect();
        assert_eq!(
            imports,
            [
                ("lib", "five"),
                ("lib", "mem"),
                ("lib", "glob"),
                ("lib", "tab")
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(
            module.imports()[0].ty,
            ExternType::Func(FuncType::new([], [ValType::I32]))
        );
        match &module.imports()[1].ty {
            ExternType::Memory(m) => assert!(m.minimum == 1 && m.maximum.is_none() && !m.shared),
            other => panic!("{other:?}"),
        }
        match &module.imports()[2].ty {
            ExternType::Global(g) => assert!(g.content == ValType::I32 && g.mutable),
            other => panic!("{other:?}"),
        }
        match &module.imports()[3].ty {
            ExternType::Table(t) => {
                assert!(t.element == ValType::FuncRef && t.minimum == 2 && t.maximum.is_none())
            }
            other => panic!("{other:?}"),
        }
        let exports: Vec<_> = module.exports().iter().map(|e| e.name.clone()).collect();
        assert_eq!(exports, ["sum", "set_glob"]);
        // Injected exports (start hook, metering) stay hidden.
        let with_start = engine
            .compile(&wasm(
                r#"(module (func $s) (start $s) (func (export "x")))"#,
            ))
            .unwrap();
        let names: Vec<_> = with_start
            .exports()
            .iter()
            .map(|e| e.name.clone())
            .collect();
        assert_eq!(names, ["x"]);
    }
}

#[test]
fn register_links_every_kind() {
    let engine = Engine::new(&Config::new()).unwrap();
    let mut store = engine.store((), &Limits::new()).unwrap();
    let lib = store
        .instantiate(&engine.compile(&wasm(LINK)).unwrap(), &Linker::new())
        .unwrap();
    store.register("lib", &lib).unwrap();
    let user = store
        .instantiate(&engine.compile(&wasm(LINKED)).unwrap(), &Linker::new())
        .unwrap();
    store
        .memory_write(&lib, "mem", 0, &100i32.to_le_bytes())
        .unwrap();
    assert_eq!(
        store.call_export(&user, "sum", &[]).unwrap(),
        [Val::I32(116)]
    );
    store
        .call_export(&user, "set_glob", &[Val::I32(1)])
        .unwrap();
    assert_eq!(store.global_get(&lib, "glob").unwrap(), Val::I32(1));
}

#[test]
fn registered_instance_beats_linker_and_mismatches_fall_through() {
    let engine = Engine::new(&Config::new()).unwrap();
    let mut store = engine.store((), &Limits::new()).unwrap();
    let lib = store
        .instantiate(&engine.compile(&wasm(LINK)).unwrap(), &Linker::new())
        .unwrap();
    store.register("lib", &lib).unwrap();
    let mut linker = Linker::<()>::new();
    linker.func(
        "lib",
        "five",
        FuncType::new([], [ValType::I32]),
        |_, _, r| {
            r[0] = Val::I32(500);
            Ok(())
        },
    );
    linker.func(
        "lib",
        "six",
        FuncType::new([], [ValType::I64]),
        |_, _, r| {
            r[0] = Val::I64(6);
            Ok(())
        },
    );
    // `five` comes from the registered instance; `six` is not exported by it.
    let m = engine
        .compile(&wasm(
            r#"(module (import "lib" "five" (func $f (result i32)))
                 (import "lib" "six" (func $s (result i64)))
                 (func (export "f") (result i32) call $f)
                 (func (export "s") (result i64) call $s))"#,
        ))
        .unwrap();
    let inst = store.instantiate(&m, &linker).unwrap();
    assert_eq!(store.call_export(&inst, "f", &[]).unwrap(), [Val::I32(5)]);
    assert_eq!(store.call_export(&inst, "s", &[]).unwrap(), [Val::I64(6)]);
    // A registered export of the wrong type falls through to the linker.
    let mut linker = Linker::<()>::new();
    linker.func(
        "lib",
        "five",
        FuncType::new([], [ValType::I64]),
        |_, _, r| {
            r[0] = Val::I64(55);
            Ok(())
        },
    );
    let m = engine
        .compile(&wasm(
            r#"(module (import "lib" "five" (func $f (result i64)))
                 (func (export "f") (result i64) call $f))"#,
        ))
        .unwrap();
    let inst = store.instantiate(&m, &linker).unwrap();
    assert_eq!(store.call_export(&inst, "f", &[]).unwrap(), [Val::I64(55)]);
    // ... and without a linker entry it is Unlinkable.
    assert_kind(store.instantiate(&m, &Linker::new()), ErrorKind::Unlinkable);
    // A registered global of the wrong type is Unlinkable.
    let m = engine
        .compile(&wasm(r#"(module (import "lib" "glob" (global i64)))"#))
        .unwrap();
    assert_kind(store.instantiate(&m, &Linker::new()), ErrorKind::Unlinkable);
    let m = engine
        .compile(&wasm(r#"(module (import "lib" "mem" (memory 5)))"#))
        .unwrap();
    assert_kind(store.instantiate(&m, &Linker::new()), ErrorKind::Unlinkable);
    let m = engine
        .compile(&wasm(r#"(module (import "lib" "five" (global i32)))"#))
        .unwrap();
    assert_kind(store.instantiate(&m, &Linker::new()), ErrorKind::Unlinkable);
}

#[test]
fn export_not_found() {
    let engine = Engine::new(&Config::new()).unwrap();
    let mut store = engine.store((), &Limits::new()).unwrap();
    let inst = store
        .instantiate(&engine.compile(&wasm(LINK)).unwrap(), &Linker::new())
        .unwrap();
    assert_kind(
        store.call_export(&inst, "nope", &[]),
        ErrorKind::ExportNotFound,
    );
    assert_kind(
        store.call_export(&inst, "mem", &[]),
        ErrorKind::ExportNotFound,
    );
    assert_kind(store.global_get(&inst, "nope"), ErrorKind::ExportNotFound);
    assert_kind(
        store.get_func(&inst, "\u{0}anywasm:start"),
        ErrorKind::ExportNotFound,
    );
}

#[test]
fn metering_globals_are_hidden() {
    let engine = Engine::new(&Config::new().consume_fuel(true)).unwrap();
    let mut store = engine.store((), &Limits::new().fuel(1000)).unwrap();
    let inst = store
        .instantiate(&engine.compile(&wasm(LINK)).unwrap(), &Linker::new())
        .unwrap();
    assert_kind(
        store.global_get(&inst, "wasmer_metering_remaining_points"),
        ErrorKind::ExportNotFound,
    );
    assert_kind(
        store.global_set(&inst, "wasmer_metering_points_exhausted", Val::I32(0)),
        ErrorKind::ExportNotFound,
    );
}

#[test]
fn many_modules_one_engine() {
    // Modules compiled in parallel on one metering engine each get their own metering.
    let engine = Engine::new(&Config::new().consume_fuel(true)).unwrap();
    let handles: Vec<_> = (0..8)
        .map(|n| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let wat = format!(
                    r#"(module (global $g (mut i32) (i32.const {n}))
                         (func (export "n") (result i32) global.get $g))"#
                );
                let module = engine.compile(&wasm(&wat)).unwrap();
                let mut store = engine.store((), &Limits::new().fuel(100)).unwrap();
                let inst = store.instantiate(&module, &Linker::new()).unwrap();
                assert_eq!(store.call_export(&inst, "n", &[]).unwrap(), [Val::I32(n)]);
                assert!(store.fuel().unwrap() < 100);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn module_is_shared_between_stores_and_threads() {
    let engine = Engine::default();
    let module = engine.compile(&wasm(LINK)).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (engine, module) = (engine.clone(), module.clone());
            std::thread::spawn(move || {
                let mut store = engine.store((), &Limits::new()).unwrap();
                let inst = store.instantiate(&module, &Linker::new()).unwrap();
                store.call_export(&inst, "five", &[]).unwrap()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), [Val::I32(5)]);
    }
}

#[test]
fn store_moves_between_threads() {
    let engine = Engine::default();
    let module = engine.compile(&wasm(LINK)).unwrap();
    let mut store = engine.store(0u64, &Limits::new()).unwrap();
    let inst = store.instantiate(&module, &Linker::new()).unwrap();
    store.call_export(&inst, "five", &[]).unwrap();
    let (store, out) = std::thread::spawn(move || {
        let out = store.call_export(&inst, "five", &[]).unwrap();
        (store, out)
    })
    .join()
    .unwrap();
    assert_eq!(out, [Val::I32(5)]);
    drop(store);
}

#[test]
fn dyn_layer() {
    use anywasm_core::DynRuntime;
    let engine: Box<dyn DynRuntime<()>> = Box::new(Engine::new(&Config::new()).unwrap());
    assert_eq!(engine.backend(), BackendKind::Wasmer);
    let module = engine.compile(&wasm(LINK)).unwrap();
    let mut store = engine.store((), &Limits::new()).unwrap();
    assert_eq!(store.backend(), BackendKind::Wasmer);
    let inst = store.instantiate(&module, &Linker::new()).unwrap();
    assert_eq!(store.call_export(inst, "five", &[]).unwrap(), [Val::I32(5)]);
    assert_eq!(Engine::BACKEND, BackendKind::Wasmer);
    assert_eq!(<Engine as Runtime>::BACKEND, BackendKind::Wasmer);
}
