//! The script runner: executes one `.wast` file's directives, in order, on
//! one engine, through the object-safe contract ([`DynRuntime`]/[`DynStore`])
//! only — never an engine's own API.
//!
//! All instances of a script live in one store (with
//! [`Limits::unlimited`]) so `register` and cross-module imports work as the
//! spec describes, including state shared through registered memories and
//! tables after a failed instantiation. Every directive counts as one
//! assertion: a `module` that fails to instantiate, an `invoke` that traps,
//! a result that does not match its pattern, each is one failure with the
//! script's line number.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use anywasm::{
    BackendKind, Config, DynModule, DynRuntime, DynStore, ErrorKind, InstanceId, Limits, Linker,
    TrapCode, Val,
};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastDirective, WastExecute, WastInvoke, Wat};

use super::{Mode, Report, spectest, trap, value};

/// Fuel given before every action in [`Mode::Fuel`]: far more than any spec
/// script needs, so running out means metering changed a result.
const FUEL_PER_ACTION: u64 = 1 << 40;

/// Run the script `source` on `backend`.
pub(crate) fn run(backend: BackendKind, mode: Mode, source: &str) -> Report {
    let mut report = Report::default();
    let mut runner = match Runner::new(backend, mode) {
        Ok(r) => r,
        Err(e) => {
            report.failures.push(format!("setting up the engine: {e}"));
            return report;
        }
    };
    let mut lexer = wast::lexer::Lexer::new(source);
    lexer.allow_confusing_unicode(true);
    let buf = match ParseBuffer::new_with_lexer(lexer) {
        Ok(b) => b,
        Err(e) => {
            report.failures.push(format!("lexing the script: {e}"));
            return report;
        }
    };
    let script = match parser::parse::<Wast<'_>>(&buf) {
        Ok(s) => s,
        Err(e) => {
            report.failures.push(format!("parsing the script: {e}"));
            return report;
        }
    };
    for directive in script.directives {
        let (line, _) = directive.span().linecol_in(source);
        let outcome = catch_unwind(AssertUnwindSafe(|| runner.directive(directive)));
        match outcome {
            Ok(Step::Pass) => report.passed += 1,
            Ok(Step::Skip) => report.skipped += 1,
            Ok(Step::Fail(msg)) => report.failures.push(format!("line {}: {msg}", line + 1)),
            Err(_) => report.failures.push(format!(
                "line {}: panicked (engine or anywasm bug)",
                line + 1
            )),
        }
    }
    report
}

enum Step {
    Pass,
    Skip,
    Fail(String),
}

impl<E: Into<String>> From<Result<(), E>> for Step {
    fn from(r: Result<(), E>) -> Self {
        match r {
            Ok(()) => Step::Pass,
            Err(e) => Step::Fail(e.into()),
        }
    }
}

struct Runner {
    engine: Box<dyn DynRuntime<()>>,
    store: Box<dyn DynStore<()>>,
    linker: Linker<()>,
    mode: Mode,
    current: Option<InstanceId>,
    instances: HashMap<String, InstanceId>,
    definitions: HashMap<String, DynModule>,
    last_definition: Option<DynModule>,
}

impl Runner {
    fn new(backend: BackendKind, mode: Mode) -> anywasm::Result<Self> {
        let config = Config::new()
            .consume_fuel(mode == Mode::Fuel)
            .gas(mode == Mode::Gas);
        let engine = anywasm::engine::<()>(backend, &config)?;
        let limits = match mode {
            Mode::Plain => Limits::unlimited(),
            Mode::Fuel => Limits::unlimited().fuel(FUEL_PER_ACTION),
            Mode::Gas => Limits::unlimited().gas(FUEL_PER_ACTION),
        };
        let mut store = engine.store((), &limits)?;
        let linker = spectest::linker();
        spectest::install(&*engine, &mut *store, &linker)?;
        Ok(Self {
            engine,
            store,
            linker,
            mode,
            current: None,
            instances: HashMap::new(),
            definitions: HashMap::new(),
            last_definition: None,
        })
    }

    fn directive(&mut self, directive: WastDirective<'_>) -> Step {
        match directive {
            WastDirective::Module(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                Step::from(self.instantiate_quoted(&mut module).map(|inst| {
                    self.current = Some(inst);
                    if let Some(name) = name {
                        self.instances.insert(name, inst);
                    }
                }))
            }
            WastDirective::ModuleDefinition(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                let compiled = encode(&mut module).and_then(|wasm| self.compile(&wasm));
                Step::from(compiled.map(|m| {
                    if let Some(name) = name {
                        self.definitions.insert(name, m.clone());
                    }
                    self.last_definition = Some(m);
                }))
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let def = match module {
                    Some(id) => self.definitions.get(id.name()).cloned(),
                    None => self.last_definition.clone(),
                };
                let Some(def) = def else {
                    return Step::Fail("module instance of an unknown definition".into());
                };
                Step::from(self.instantiate(&def).map(|inst| {
                    self.current = Some(inst);
                    if let Some(id) = instance {
                        self.instances.insert(id.name().to_string(), inst);
                    }
                }))
            }
            WastDirective::Register { name, module, .. } => {
                let registered = self.instance(module.map(|id| id.name())).and_then(|inst| {
                    self.store
                        .register(name, inst)
                        .map_err(|e| format!("register {name}: {e}"))
                });
                Step::from(registered)
            }
            WastDirective::Invoke(invoke) => Step::from(self.invoke(&invoke).map(|_| ())),
            WastDirective::AssertReturn { exec, results, .. } => {
                Step::from(self.execute(exec).and_then(|r| match r {
                    Ok(got) => check_results(&got, &results),
                    Err(e) => Err(format!("expected results, got error {:?}: {e}", e.kind())),
                }))
            }
            WastDirective::AssertTrap { exec, message, .. } => {
                let Some(code) = trap::code_for(message) else {
                    return Step::Fail(format!("no trap code known for spec message `{message}`"));
                };
                Step::from(
                    self.execute(exec)
                        .and_then(|r| expect_error(r, ErrorKind::Trap(code), message)),
                )
            }
            WastDirective::AssertExhaustion { call, message, .. } => {
                let kind = ErrorKind::Trap(TrapCode::StackOverflow);
                Step::from(
                    self.invoke(&call)
                        .and_then(|r| expect_error(r, kind, message)),
                )
            }
            WastDirective::AssertInvalid {
                mut module,
                message,
                ..
            }
            | WastDirective::AssertMalformed {
                mut module,
                message,
                ..
            } => match module.encode() {
                // Rejected by the text parser already: the engine never sees it.
                Err(_) => Step::Pass,
                Ok(wasm) => Step::from(match self.engine.compile(&wasm) {
                    Ok(_) => Err(format!("module compiled, expected rejection: {message}")),
                    Err(e) if e.kind() == ErrorKind::Compile => Ok(()),
                    Err(e) => Err(format!(
                        "expected Compile ({message}), got {:?}: {e}",
                        e.kind()
                    )),
                }),
            },
            WastDirective::AssertUnlinkable {
                mut module,
                message,
                ..
            } => Step::from(
                encode_wat(&mut module)
                    .and_then(|wasm| self.compile(&wasm))
                    .and_then(|m| {
                        self.prepare_fuel()?;
                        let r = self.store.instantiate(&m, &self.linker).map(|_| Vec::new());
                        expect_error(r, ErrorKind::Unlinkable, message)
                    }),
            ),
            // Custom-section well-formedness is not part of the engines'
            // contract (they skip custom sections), nor are threads,
            // exceptions or stack switching part of the covered suite.
            _ => Step::Skip,
        }
    }

    /// Run an action; the outer `Err` is a failure of the script itself
    /// (unknown module, unencodable argument), the inner result the
    /// engine's answer.
    fn execute(&mut self, exec: WastExecute<'_>) -> Result<anywasm::Result<Vec<Val>>, String> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(&invoke),
            WastExecute::Wat(mut wat) => {
                let wasm = encode_wat(&mut wat)?;
                let module = self.compile(&wasm)?;
                self.prepare_fuel()?;
                Ok(self
                    .store
                    .instantiate(&module, &self.linker)
                    .map(|_| Vec::new()))
            }
            WastExecute::Get { module, global, .. } => {
                let inst = self.instance(module.map(|id| id.name()))?;
                Ok(self.store.global_get(inst, global).map(|v| vec![v]))
            }
        }
    }

    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<anywasm::Result<Vec<Val>>, String> {
        let inst = self.instance(invoke.module.map(|id| id.name()))?;
        let args = invoke
            .args
            .iter()
            .map(value::arg)
            .collect::<Result<Vec<_>, _>>()?;
        self.prepare_fuel()?;
        let r = self.store.call_export(inst, invoke.name, &args);
        if let Err(e) = &r
            && e.kind() == ErrorKind::Trap(TrapCode::OutOfFuel)
        {
            return Err(format!(
                "{}: ran out of fuel or gas: metering changed the result",
                invoke.name
            ));
        }
        Ok(r)
    }

    fn instance(&self, name: Option<&str>) -> Result<InstanceId, String> {
        match name {
            Some(n) => self
                .instances
                .get(n)
                .copied()
                .ok_or_else(|| format!("no module named {n}")),
            None => self.current.ok_or_else(|| "no current module".to_string()),
        }
    }

    fn compile(&self, wasm: &[u8]) -> Result<DynModule, String> {
        self.engine
            .compile(wasm)
            .map_err(|e| format!("compile: {:?}: {e}", e.kind()))
    }

    fn instantiate(&mut self, module: &DynModule) -> Result<InstanceId, String> {
        self.prepare_fuel()?;
        self.store
            .instantiate(module, &self.linker)
            .map_err(|e| format!("instantiate: {:?}: {e}", e.kind()))
    }

    fn instantiate_quoted(&mut self, module: &mut QuoteWat<'_>) -> Result<InstanceId, String> {
        let wasm = encode(module)?;
        let module = self.compile(&wasm)?;
        self.instantiate(&module)
    }

    /// In fuel and gas modes, refill the store before every action, so each
    /// action runs with the same ample budget whatever ran before it.
    fn prepare_fuel(&mut self) -> Result<(), String> {
        match self.mode {
            Mode::Plain => Ok(()),
            Mode::Fuel => self
                .store
                .set_fuel(FUEL_PER_ACTION)
                .map_err(|e| format!("set_fuel: {e}")),
            Mode::Gas => self
                .store
                .set_gas(FUEL_PER_ACTION)
                .map_err(|e| format!("set_gas: {e}")),
        }
    }
}

fn encode(module: &mut QuoteWat<'_>) -> Result<Vec<u8>, String> {
    module
        .encode()
        .map_err(|e| format!("encoding the module: {e}"))
}

fn encode_wat(module: &mut Wat<'_>) -> Result<Vec<u8>, String> {
    module
        .encode()
        .map_err(|e| format!("encoding the module: {e}"))
}

fn check_results(got: &[Val], want: &[wast::WastRet<'_>]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("got {} results, want {}", got.len(), want.len()));
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        value::check(g, w).map_err(|e| format!("result {i}: {e}"))?;
    }
    Ok(())
}

fn expect_error(
    r: anywasm::Result<Vec<Val>>,
    kind: ErrorKind,
    message: &str,
) -> Result<(), String> {
    match r {
        Ok(v) => Err(format!(
            "expected {kind:?} ({message}), got {:?}",
            v.iter().map(value::show).collect::<Vec<_>>()
        )),
        Err(e) if e.kind() == kind => Ok(()),
        Err(e) => Err(format!(
            "expected {kind:?} ({message}), got {:?}: {e}",
            e.kind()
        )),
    }
}
