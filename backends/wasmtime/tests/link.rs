//! Compiling, module listings, register, the dynamic layer.

mod common;

use anywasm_core::{
    Config, DynRuntime, ErrorKind, ExportType, ExternType, FuncType, GlobalType, HostError,
    ImportType, Limits, Linker, MemoryType, Module as _, Runtime, Store as _, TableType, Val,
    ValType,
};
use anywasm_wasmtime::Engine;
use common::*;

#[test]
fn compile_errors() {
    let engine = engine();
    assert_kind(engine.compile(b"not wasm"), ErrorKind::Compile);
    assert_kind(engine.compile(b""), ErrorKind::Compile);
    // The text format is not accepted (no `wat` feature).
    assert_kind(engine.compile(b"(module)"), ErrorKind::Compile);
    // Well-formed binary failing validation: `() -> i32` returning an i64.
    let bad = [
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
        0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: () -> i32
        0x03, 0x02, 0x01, 0x00, // func 0 : type 0
        0x0a, 0x06, 0x01, 0x04, 0x00, 0x42, 0x01, 0x0b, // body: i64.const 1
    ];
    assert_kind(engine.compile(&bad), ErrorKind::Compile);
    // Truncated module.
    let ok = wasm("(module (func (export \"f\")))");
    assert_kind(engine.compile(&ok[..ok.len() - 2]), ErrorKind::Compile);
}

#[test]
fn imports_and_exports_are_listed_in_order() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module
          (import "env" "f" (func (param i32) (result f64)))
          (import "env" "mem" (memory 1 4))
          (import "env" "tab" (table 2 externref))
          (import "env" "g" (global (mut i64)))
          (memory (export "memory") 2)
          (table (export "table") 3 10 funcref)
          (global (export "glob") f32 (f32.const 0))
          (func (export "run") (param v128) (result i32 i64) (i32.const 0) (i64.const 0)))"#,
    );
    assert_eq!(
        module.imports(),
        vec![
            ImportType {
                module: "env".into(),
                name: "f".into(),
                ty: ExternType::Func(FuncType::new([ValType::I32], [ValType::F64])),
            },
            ImportType {
                module: "env".into(),
                name: "mem".into(),
                ty: ExternType::Memory(MemoryType {
                    minimum: 1,
                    maximum: Some(4),
                    memory64: false,
                    shared: false
                }),
            },
            ImportType {
                module: "env".into(),
                name: "tab".into(),
                ty: ExternType::Table(TableType {
                    element: ValType::ExternRef,
                    minimum: 2,
                    maximum: None
                }),
            },
            ImportType {
                module: "env".into(),
                name: "g".into(),
                ty: ExternType::Global(GlobalType {
                    content: ValType::I64,
                    mutable: true
                }),
            },
        ]
    );
    assert_eq!(
        module.exports(),
        vec![
            ExportType {
                name: "memory".into(),
                ty: ExternType::Memory(MemoryType {
                    minimum: 2,
                    maximum: None,
                    memory64: false,
                    shared: false
                }),
            },
            ExportType {
                name: "table".into(),
                ty: ExternType::Table(TableType {
                    element: ValType::FuncRef,
                    minimum: 3,
                    maximum: Some(10)
                }),
            },
            ExportType {
                name: "glob".into(),
                ty: ExternType::Global(GlobalType {
                    content: ValType::F32,
                    mutable: false
                }),
            },
            ExportType {
                name: "run".into(),
                ty: ExternType::Func(FuncType::new([ValType::V128], [ValType::I32, ValType::I64])),
            },
        ]
    );
}

const LIB: &str = r#"(module
  (memory (export "memory") 1)
  (table (export "table") 2 funcref)
  (global (export "counter") (mut i32) (i32.const 0))
  (global (export "const") i32 (i32.const 10))
  (func $inc (export "inc") (result i32)
    (global.set 0 (i32.add (global.get 0) (i32.const 1)))
    (global.get 0))
  (func $forty (result i32) i32.const 40)
  (elem (i32.const 0) func $forty))"#;

#[test]
fn register_shares_funcs_memories_tables_globals() {
    let engine = engine();
    let lib = compile(&engine, LIB);
    let user = compile(
        &engine,
        r#"(module
          (type $i (func (result i32)))
          (import "lib" "inc" (func $inc (result i32)))
          (import "lib" "memory" (memory 1))
          (import "lib" "table" (table 1 funcref))
          (import "lib" "counter" (global $c (mut i32)))
          (import "lib" "const" (global $k i32))
          (func (export "run") (result i32)
            (drop (call $inc))
            (i32.store (i32.const 8) (i32.const 1234))
            (i32.add (i32.add (global.get $c) (global.get $k))
                     (call_indirect (type $i) (i32.const 0)))))"#,
    );
    let mut store = engine.store((), &Limits::new()).unwrap();
    let lib_inst = store.instantiate(&lib, &Linker::new()).unwrap();
    store.register("lib", &lib_inst).unwrap();
    let user_inst = store.instantiate(&user, &Linker::new()).unwrap();
    assert_eq!(
        call(&mut store, &user_inst, "run", &[]).unwrap(),
        [Val::I32(51)]
    );
    assert_eq!(store.global_get(&lib_inst, "counter").unwrap(), Val::I32(1));
    let mut b = [0u8; 4];
    store.memory_read(&lib_inst, "memory", 8, &mut b).unwrap();
    assert_eq!(i32::from_le_bytes(b), 1234);
}

#[test]
fn registered_exports_are_type_checked() {
    let engine = engine();
    let lib = compile(&engine, LIB);
    let mut store = engine.store((), &Limits::new()).unwrap();
    let lib_inst = store.instantiate(&lib, &Linker::new()).unwrap();
    store.register("lib", &lib_inst).unwrap();

    for (src, what) in [
        (
            r#"(module (import "lib" "inc" (func (param i32))))"#,
            "lib::inc",
        ),
        (
            r#"(module (import "lib" "memory" (memory 2)))"#,
            "lib::memory",
        ),
        (
            r#"(module (import "lib" "counter" (global i32)))"#,
            "lib::counter",
        ),
        (
            r#"(module (import "lib" "const" (global (mut i32))))"#,
            "lib::const",
        ),
        (
            r#"(module (import "lib" "table" (table 5 funcref)))"#,
            "lib::table",
        ),
        (r#"(module (import "lib" "memory" (func)))"#, "lib::memory"),
        (
            r#"(module (import "lib" "missing" (func)))"#,
            "lib::missing",
        ),
    ] {
        let m = compile(&engine, src);
        let e = assert_kind(store.instantiate(&m, &Linker::new()), ErrorKind::Unlinkable);
        assert!(e.message().contains(what), "{src}: {e}");
    }
}

#[test]
fn registered_instance_wins_over_linker_and_linker_is_fallback() {
    let engine = engine();
    let lib = compile(
        &engine,
        r#"(module (func (export "f") (result i32) i32.const 1))"#,
    );
    let user = compile(
        &engine,
        r#"(module
          (import "lib" "f" (func $f (result i32)))
          (import "lib" "g" (func $g (result i32)))
          (func (export "run") (result i32) (i32.add (call $f) (call $g))))"#,
    );
    let mut linker = Linker::<()>::new();
    let ty = FuncType::new([], [ValType::I32]);
    linker.func("lib", "f", ty.clone(), |_, _, r| {
        r[0] = Val::I32(100);
        Ok(())
    });
    linker.func("lib", "g", ty, |_, _, r| {
        r[0] = Val::I32(10);
        Ok(())
    });
    let mut store = engine.store((), &Limits::new()).unwrap();
    let lib_inst = store.instantiate(&lib, &Linker::new()).unwrap();
    store.register("lib", &lib_inst).unwrap();
    let inst = store.instantiate(&user, &linker).unwrap();
    assert_eq!(call(&mut store, &inst, "run", &[]).unwrap(), [Val::I32(11)]);
}

#[test]
fn reregistering_replaces() {
    let engine = engine();
    let one = compile(
        &engine,
        r#"(module (func (export "v") (result i32) i32.const 1))"#,
    );
    let two = compile(
        &engine,
        r#"(module (func (export "v") (result i32) i32.const 2))"#,
    );
    let user = compile(
        &engine,
        r#"(module (import "m" "v" (func $v (result i32))) (func (export "run") (result i32) (call $v)))"#,
    );
    let mut store = engine.store((), &Limits::new()).unwrap();
    let i1 = store.instantiate(&one, &Linker::new()).unwrap();
    let i2 = store.instantiate(&two, &Linker::new()).unwrap();
    store.register("m", &i1).unwrap();
    let u1 = store.instantiate(&user, &Linker::new()).unwrap();
    store.register("m", &i2).unwrap();
    let u2 = store.instantiate(&user, &Linker::new()).unwrap();
    assert_eq!(call(&mut store, &u1, "run", &[]).unwrap(), [Val::I32(1)]);
    assert_eq!(call(&mut store, &u2, "run", &[]).unwrap(), [Val::I32(2)]);
}

#[test]
fn host_functions_of_a_registered_instance_keep_their_caller() {
    // A host function imported by `lib` and re-exported to `user` still
    // sees `lib` as its caller when `lib` calls it.
    let engine = engine();
    let lib = compile(
        &engine,
        r#"(module
          (import "env" "peek" (func $peek (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "\2a")
          (func (export "go") (result i32) (call $peek)))"#,
    );
    let user = compile(
        &engine,
        r#"(module (import "lib" "go" (func $go (result i32))) (func (export "run") (result i32) (call $go)))"#,
    );
    let mut linker = Linker::<()>::new();
    linker.func(
        "env",
        "peek",
        FuncType::new([], [ValType::I32]),
        |caller, _, r| {
            let mut b = [0u8];
            caller
                .read_memory(0, &mut b)
                .map_err(|e| HostError::new(e.to_string()))?;
            r[0] = Val::I32(b[0] as i32);
            Ok(())
        },
    );
    let mut store = engine.store((), &Limits::new()).unwrap();
    let l = store.instantiate(&lib, &linker).unwrap();
    store.register("lib", &l).unwrap();
    let u = store.instantiate(&user, &Linker::new()).unwrap();
    assert_eq!(call(&mut store, &u, "run", &[]).unwrap(), [Val::I32(42)]);
}

#[test]
fn dynamic_layer_works() {
    let engine: Box<dyn DynRuntime<u64>> =
        Box::new(Engine::new(&Config::new().consume_fuel(true)).unwrap());
    assert_eq!(engine.backend(), anywasm_core::BackendKind::Wasmtime);
    let module = engine
        .compile(&wasm(
            r#"(module
              (import "env" "tick" (func $t))
              (func (export "run") (param i32) (result i32)
                (call $t) (i32.mul (local.get 0) (i32.const 3))))"#,
        ))
        .unwrap();
    let mut linker = Linker::<u64>::new();
    linker.func("env", "tick", FuncType::new([], []), |c, _, _| {
        *c.data_mut() += 1;
        Ok(())
    });
    let mut store = engine.store(0, &Limits::new().fuel(1_000_000)).unwrap();
    let inst = store.instantiate(&module, &linker).unwrap();
    assert_eq!(
        store.call_export(inst, "run", &[Val::I32(7)]).unwrap(),
        [Val::I32(21)]
    );
    assert_eq!(*store.data(), 1);
    assert!(store.fuel().unwrap() < 1_000_000);
    let e = store.call_export(inst, "nope", &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ExportNotFound);
}

#[test]
fn engine_is_clone_send_sync_and_default() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Engine>();
    assert_traits::<anywasm_wasmtime::Module>();
    assert_traits::<anywasm_wasmtime::Instance>();
    assert_traits::<anywasm_wasmtime::Func>();
    fn assert_send<T: Send>() {}
    assert_send::<anywasm_wasmtime::Store<std::cell::Cell<u8>>>();
    let e = Engine::default();
    assert_eq!(e.config(), &Config::default());
    assert_eq!(Engine::BACKEND, anywasm_core::BackendKind::Wasmtime);
    let _: &anywasm_wasmtime::raw::Engine = e.raw();
}
