//! Serialised modules: what a JIT engine writes out with
//! `serialize_module` loads back without compiling and behaves exactly like
//! the module it came from, on a fresh engine of the same configuration,
//! with the limits, the start function and the exports anywasm hides.
//! Engines without artifacts say so and refuse as `Unsupported`.

use anywasm::{Config, DynModule, DynRuntime, ErrorKind, Limits, Linker, TrapCode, Val};

use super::check;
use crate::harness::{Host, expect_eq, expect_kind, expect_trap, ok, wasm};
use crate::{Capability, Check, Ctx};

/// A start function that sets a global, a call that reads it, and a loop
/// that runs until the fuel runs out.
const MODULE: &str = r#"
(module
  (global $started (mut i32) (i32.const 0))
  (func $start (global.set $started (i32.const 41)))
  (start $start)
  (func (export "started") (result i32) (i32.add (global.get $started) (i32.const 1)))
  (func (export "spin") (loop br 0)))
"#;

fn round_trip(cx: &Ctx, config: &Config) -> Result<(Box<dyn DynRuntime<Host>>, DynModule), String> {
    let writer = ok("engine", cx.engine(config))?;
    let compiled = ok("compile", writer.compile(&wasm(MODULE)))?;
    let bytes = ok("serialize", writer.serialize_module(&compiled))?;
    let reader = ok("second engine", cx.engine(config))?;
    expect_eq(
        "formats of two engines configured alike",
        reader.artifact_format(),
        writer.artifact_format(),
    )?;
    // SAFETY: `bytes` are what `serialize_module` just returned, unmodified,
    // and the two engines' artifact formats are equal (checked above).
    let module = ok("deserialize", unsafe { reader.deserialize_module(&bytes) })?;
    expect_eq("exports", module.exports(), compiled.exports())?;
    expect_eq("imports", module.imports(), compiled.imports())?;
    Ok((reader, module))
}

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "artifact/round_trip",
            "a serialised module loads on a fresh engine of the same configuration, runs its start function and calls like the compiled one",
            requires Capability::Artifacts,
            |cx: &Ctx| {
                let (engine, module) = round_trip(cx, &Config::new())?;
                let mut store = ok("store", engine.store(Host::default(), &Limits::new()))?;
                let i = ok("instantiate", store.instantiate(&module, &Linker::new()))?;
                let out = ok("started", store.call_export(i, "started", &[]))?;
                expect_eq("start function ran", out, vec![Val::I32(42)])
            }
        ),
        check!(
            "artifact/fuel",
            "a serialised module of an engine with fuel is metered: its fuel is used and runs out",
            requires Capability::Artifacts,
            |cx: &Ctx| {
                let config = Config::new().consume_fuel(true);
                let (engine, module) = round_trip(cx, &config)?;
                let mut store =
                    ok("store", engine.store(Host::default(), &Limits::new().fuel(10_000)))?;
                let i = ok("instantiate", store.instantiate(&module, &Linker::new()))?;
                ok("started", store.call_export(i, "started", &[]))?;
                let left = ok("fuel", store.fuel())?;
                if left >= 10_000 {
                    return Err(format!("no fuel was used: {left} left of 10000"));
                }
                expect_trap("spin", store.call_export(i, "spin", &[]), TrapCode::OutOfFuel)
            }
        ),
        check!(
            "artifact/gas",
            "a serialised gas-instrumented module counts the same gas as the compiled one and runs out; gas changes the format",
            requires Capability::Artifacts,
            |cx: &Ctx| {
                let config = Config::new().gas(true);
                let budget = Limits::new().gas(10_000);
                let compiled_engine = ok("engine", cx.engine(&config))?;
                let compiled = ok("compile", compiled_engine.compile(&wasm(MODULE)))?;
                let mut store = ok("store", compiled_engine.store(Host::default(), &budget))?;
                let i = ok("instantiate", store.instantiate(&compiled, &Linker::new()))?;
                ok("started", store.call_export(i, "started", &[]))?;
                let compiled_left = ok("gas", store.gas())?;

                let (engine, module) = round_trip(cx, &config)?;
                let mut store = ok("store", engine.store(Host::default(), &budget))?;
                let i = ok("instantiate", store.instantiate(&module, &Linker::new()))?;
                ok("started", store.call_export(i, "started", &[]))?;
                expect_eq("gas left after `started`", ok("gas", store.gas())?, compiled_left)?;
                if compiled_left >= 10_000 {
                    return Err("no gas was used".into());
                }
                expect_trap("spin", store.call_export(i, "spin", &[]), TrapCode::OutOfFuel)?;
                let plain = ok("engine", cx.engine(&Config::new()))?;
                if plain.artifact_format() == engine.artifact_format() {
                    return Err("engines with and without gas share an artifact format".into());
                }
                Ok(())
            }
        ),
        check!(
            "artifact/format",
            "the artifact format names the engine and changes with the configuration that shapes code (fuel)",
            requires Capability::Artifacts,
            |cx: &Ctx| {
                let plain = ok("engine", cx.engine(&Config::new()))?;
                let fueled = ok("engine", cx.engine(&Config::new().consume_fuel(true)))?;
                let (Some(a), Some(b)) = (plain.artifact_format(), fueled.artifact_format()) else {
                    return Err("an engine with artifacts has no artifact format".into());
                };
                expect_eq("backend", a.backend(), cx.backend())?;
                if a.engine_version().is_empty() {
                    return Err("the engine version is empty".into());
                }
                if a == b {
                    return Err("engines with and without fuel share an artifact format".into());
                }
                Ok(())
            }
        ),
        check!(
            "artifact/declared",
            "an engine has an artifact format exactly when it declares artifacts; without, serialising is Unsupported",
            |cx: &Ctx| {
                let engine = ok("engine", cx.engine(&Config::new()))?;
                // The engine and the facade read the same declaration.
                expect_eq(
                    "DynRuntime::support",
                    Some(engine.support()),
                    anywasm::support(cx.backend()),
                )?;
                let lacks = engine.support().lacks(Capability::Artifacts);
                let module = ok("compile", engine.compile(&wasm(MODULE)))?;
                match (lacks, engine.artifact_format()) {
                    (Some(_), None) => expect_kind(
                        "serialize",
                        engine.serialize_module(&module),
                        ErrorKind::Unsupported,
                    ),
                    (None, Some(_)) => ok("serialize", engine.serialize_module(&module)).map(drop),
                    (Some(_), Some(_)) => Err("declares no artifacts but has a format".into()),
                    (None, None) => Err("declares artifacts but has no format".into()),
                }
            }
        ),
    ]
}
