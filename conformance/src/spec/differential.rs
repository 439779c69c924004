//! Differential fuzzing: one generated module, every backend, same answers.
//!
//! [`generate`] turns arbitrary bytes into a valid module with wasm-smith,
//! configured so the comparison is meaningful:
//!
//! - wasm 2.0 features plus SIMD (what all three engines implement), no
//!   imports, every item exported;
//! - NaNs canonicalised by the generator (`canonicalize_nans`), so float
//!   results are deterministic; the oracle still compares NaNs as "a NaN",
//!   whatever the payload, as a second line of defence;
//! - termination ensured by wasm-smith's own fuel global
//!   (`ensure_termination`): every loop head and function entry takes one
//!   unit and traps with `unreachable` when none is left, identically on
//!   every engine — engine fuel units differ, so anywasm's own metering is
//!   not used here;
//! - memories capped by the store's limits, so `memory.grow` fails the same
//!   way everywhere.
//!
//! [`Oracle::check`] runs the module on every backend through the contract
//! (`DynRuntime`/`DynStore`) and compares a [`Trace`]: compile and
//! instantiation outcome, each exported function's results or trap code
//! (called in export order with deterministic arguments), then every
//! exported global, memory (contents) and table (size). It does so twice:
//! once as generated, once with every module instrumented for gas
//! (`Config::gas`), where the trace also holds the gas left after
//! instantiation and after every call, so the engine-neutral gas count is
//! compared too (it must be identical, not just close). A stack overflow
//! on any engine makes the module inconclusive: stack depth is an engine
//! property, not a semantic one.

use anywasm::{
    BackendKind, Config, DynRuntime, DynStore, ErrorKind, ExternType, FuncRef, InstanceId, Limits,
    Linker, TrapCode, Val, ValType,
};
use arbitrary::Unstructured;

/// Units of wasm-smith's termination fuel per module (loop iterations plus
/// function entries, across all calls).
pub const TERMINATION_FUEL: u32 = 1_000;
/// Memory cap of every store, in bytes.
pub const MEMORY_CAP: u64 = 16 << 20;
/// Gas budget of every metered store: ample for [`TERMINATION_FUEL`] loop
/// turns of `max_instructions`-long bodies, small enough that size-dependent
/// charges (a `memory.fill` of the whole memory costs 262 144) can run out.
pub const GAS_BUDGET: u64 = 5_000_000;

/// The generator configuration (see the module docs).
pub fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        max_imports: 0,
        export_everything: true,
        canonicalize_nans: true,
        allow_start_export: true,
        // What every backend implements: wasm 2.0 + SIMD.
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        simd_enabled: true,
        relaxed_simd_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        tail_call_enabled: false,
        threads_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        custom_page_sizes_enabled: false,
        max_memories: 1,
        max_tables: 2,
        max_memory32_bytes: MEMORY_CAP,
        max_table_elements: 1_000,
        max_funcs: 20,
        max_instructions: 200,
        ..wasm_smith::Config::default()
    }
}

/// A module from arbitrary bytes, or `None` if wasm-smith needs more input.
pub fn generate(data: &[u8]) -> Option<Vec<u8>> {
    let mut u = Unstructured::new(data);
    let mut module = wasm_smith::Module::new(smith_config(), &mut u).ok()?;
    module.ensure_termination(TERMINATION_FUEL).ok()?;
    Some(module.to_bytes())
}

/// Deterministic input bytes for `seed` (splitmix64), 1–5 KiB long.
pub fn seed_bytes(seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let len = 1024 + (next() % 4096) as usize;
    (0..len.div_ceil(8))
        .flat_map(|_| next().to_le_bytes())
        .take(len)
        .collect()
}

/// One observable step of running a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The module did not compile (error kind).
    Rejected(ErrorKind),
    /// Instantiation outcome.
    Instantiated(Result<(), ErrorKind>),
    /// An exported function's results, or its error kind.
    Call(String, Result<Vec<Val>, ErrorKind>),
    /// An exported global's value after all calls.
    Global(String, Result<Val, ErrorKind>),
    /// An exported memory's size and FNV-1a hash of its contents.
    Memory(String, Result<(u64, u64), ErrorKind>),
    /// An exported table's size.
    Table(String, Result<u64, ErrorKind>),
    /// Gas left in the store (metered runs only), after instantiation and
    /// after each call.
    Gas(u64),
}

/// Everything one backend did with one module.
pub type Trace = Vec<Event>;

/// The result of comparing one module across backends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every backend produced the same trace.
    Agree,
    /// A backend overflowed its stack: not comparable.
    Inconclusive,
}

/// Engines of every compiled-in backend, reused across modules: one plain
/// and one metering gas per backend.
pub struct Oracle {
    engines: Vec<Box<dyn DynRuntime<()>>>,
    metered: Vec<Box<dyn DynRuntime<()>>>,
}

impl std::fmt::Debug for Oracle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<BackendKind> = self.engines.iter().map(|e| e.backend()).collect();
        f.debug_struct("Oracle").field("engines", &kinds).finish()
    }
}

impl Oracle {
    /// A default-configured engine and a gas-metering one
    /// (`Config::gas(true)`) per compiled-in backend.
    pub fn new() -> anywasm::Result<Self> {
        let make = |config: Config| {
            anywasm::compiled_backends()
                .iter()
                .map(|&b| anywasm::engine::<()>(b, &config))
                .collect::<anywasm::Result<Vec<_>>>()
        };
        Ok(Self {
            engines: make(Config::new())?,
            metered: make(Config::new().gas(true))?,
        })
    }

    /// Run `wasm` on every backend, plain and metered; `Err` describes the
    /// first divergence.
    pub fn check(&self, wasm: &[u8]) -> Result<Verdict, String> {
        let plain = compare(&self.engines, wasm, None)?;
        let metered =
            compare(&self.metered, wasm, Some(GAS_BUDGET)).map_err(|e| format!("with gas: {e}"))?;
        Ok(
            if plain == Verdict::Inconclusive || metered == Verdict::Inconclusive {
                Verdict::Inconclusive
            } else {
                Verdict::Agree
            },
        )
    }
}

/// Run `wasm` on every engine of one configuration and compare the traces.
fn compare(
    engines: &[Box<dyn DynRuntime<()>>],
    wasm: &[u8],
    gas: Option<u64>,
) -> Result<Verdict, String> {
    let traces: Vec<(BackendKind, Trace)> = engines
        .iter()
        .map(|e| (e.backend(), trace_with(&**e, wasm, gas)))
        .collect();
    let overflowed = traces.iter().any(|(_, t)| t.iter().any(is_stack_overflow));
    if overflowed {
        return Ok(Verdict::Inconclusive);
    }
    let (first, reference) = &traces[0];
    for (backend, t) in &traces[1..] {
        if let Some(i) = (0..reference.len().max(t.len())).find(|&i| reference.get(i) != t.get(i)) {
            return Err(format!(
                "{first} and {backend} diverge at step {i}:\n  {first}: {:?}\n  {backend}: {:?}",
                reference.get(i),
                t.get(i)
            ));
        }
    }
    Ok(Verdict::Agree)
}

/// Run `wasm` on one engine and record what it observably did.
pub fn trace(engine: &dyn DynRuntime<()>, wasm: &[u8]) -> Trace {
    trace_with(engine, wasm, None)
}

/// [`trace`] with a gas budget (the engine must have `Config::gas`): the gas
/// left is recorded after instantiation and after every call.
pub fn trace_with(engine: &dyn DynRuntime<()>, wasm: &[u8], gas: Option<u64>) -> Trace {
    let mut out = Vec::new();
    let module = match engine.compile(wasm) {
        Ok(m) => m,
        Err(e) => {
            out.push(Event::Rejected(e.kind()));
            return out;
        }
    };
    let mut limits = Limits::unlimited()
        .memory_bytes(MEMORY_CAP)
        .table_elements(10_000);
    if let Some(budget) = gas {
        limits = limits.gas(budget);
    }
    let mut store = match engine.store((), &limits) {
        Ok(s) => s,
        Err(e) => {
            out.push(Event::Instantiated(Err(e.kind())));
            return out;
        }
    };
    let record_gas = |store: &mut dyn DynStore<()>, out: &mut Trace| {
        if gas.is_some() {
            // Cannot fail on a metering engine; a failure is a divergence.
            out.push(Event::Gas(store.gas().unwrap_or(u64::MAX)));
        }
    };
    let instance = match store.instantiate(&module, &Linker::new()) {
        Ok(i) => {
            out.push(Event::Instantiated(Ok(())));
            record_gas(&mut *store, &mut out);
            i
        }
        Err(e) => {
            out.push(Event::Instantiated(Err(e.kind())));
            record_gas(&mut *store, &mut out);
            return out;
        }
    };
    let exports = module.exports().to_vec();
    for export in &exports {
        if let ExternType::Func(ty) = &export.ty {
            let args: Vec<Val> = ty
                .params()
                .iter()
                .enumerate()
                .map(|(i, t)| arg(*t, i))
                .collect();
            let r = store
                .call_export(instance, &export.name, &args)
                .map(|vals| vals.iter().map(normalize).collect())
                .map_err(|e| e.kind());
            out.push(Event::Call(export.name.clone(), r));
            record_gas(&mut *store, &mut out);
        }
    }
    for export in &exports {
        let name = export.name.clone();
        match &export.ty {
            ExternType::Global(_) => {
                let v = store.global_get(instance, &name).map(|v| normalize(&v));
                out.push(Event::Global(name, v.map_err(|e| e.kind())));
            }
            ExternType::Memory(_) => {
                let m = memory_digest(&mut *store, instance, &name);
                out.push(Event::Memory(name, m.map_err(|e| e.kind())));
            }
            ExternType::Table(_) => {
                let t = store.table_size(instance, &name);
                out.push(Event::Table(name, t.map_err(|e| e.kind())));
            }
            ExternType::Func(_) => {}
        }
    }
    out
}

fn is_stack_overflow(e: &Event) -> bool {
    let overflow = ErrorKind::Trap(TrapCode::StackOverflow);
    match e {
        Event::Instantiated(Err(k)) | Event::Call(_, Err(k)) => *k == overflow,
        _ => false,
    }
}

/// Deterministic argument `i` of type `ty`: a few interesting values.
fn arg(ty: ValType, i: usize) -> Val {
    const INTS: [i64; 5] = [0, 1, -1, i64::MIN, 0x7fff_ffff];
    let n = INTS[i % INTS.len()];
    match ty {
        ValType::I32 => Val::I32(n as i32),
        ValType::I64 => Val::I64(n),
        ValType::F32 => Val::from(n as f32 * 0.5),
        ValType::F64 => Val::from(n as f64 * 0.5),
        ValType::V128 => Val::V128((n as u128) << 64 | (n as u64 as u128)),
        ValType::FuncRef => Val::FuncRef(None),
        ValType::ExternRef => Val::ExternRef(None),
    }
}

/// NaNs compare as "a NaN"; function references only as null / non-null
/// (their numbers are per store).
fn normalize(v: &Val) -> Val {
    match *v {
        Val::F32(b) if f32::from_bits(b).is_nan() => Val::F32(0x7fc0_0000),
        Val::F64(b) if f64::from_bits(b).is_nan() => Val::F64(0x7ff8_0000_0000_0000),
        Val::FuncRef(Some(_)) => Val::FuncRef(Some(FuncRef(0))),
        other => other,
    }
}

fn memory_digest(
    store: &mut dyn DynStore<()>,
    instance: InstanceId,
    name: &str,
) -> anywasm::Result<(u64, u64)> {
    let size = store.memory_size(instance, name)?;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut buf = vec![0u8; 64 << 10];
    let mut offset = 0;
    while offset < size {
        let n = (size - offset).min(buf.len() as u64) as usize;
        store.memory_read(instance, name, offset, &mut buf[..n])?;
        for b in &buf[..n] {
            hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        offset += n as u64;
    }
    Ok((size, hash))
}
