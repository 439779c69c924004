//! Compile-time rewrites applied to every module this backend compiles.
//!
//! Two module middlewares are pushed into the Cranelift compiler config:
//!
//! - [`StartHook`] (always): removes the module's start function from the
//!   module info and exports it under the hidden name [`START_EXPORT`]
//!   instead. wasmer would run the start function inside `Instance::new`,
//!   before the instance handle exists; running it ourselves right after
//!   instantiation means it is metered against the store's fuel budget, gets
//!   the per-call deadline, and host functions it calls see their calling
//!   instance (memory access, re-entrant calls) like any other call.
//! - [`FuelMetering`] (when `Config::consume_fuel`): wraps
//!   `wasmer_middlewares::Metering`. That middleware keeps the indices of the
//!   globals it injects in its own state and panics when it is asked to
//!   transform a second module, so one instance of it cannot serve an engine
//!   that compiles many modules. The wrapper creates a fresh `Metering` for
//!   every module and [`FuelMetering::lock`] serialises compilations on the
//!   engine, so the per-module state is never shared between two modules
//!   compiling at the same time.
//!
//!   `Metering` charges per operator, so one `memory.fill` of 64 MiB costs
//!   what an `i32.add` costs and a loop of them runs for minutes on a small
//!   budget. The wrapper therefore also charges the size-dependent operators
//!   by their size operand, at the rates of anywasm's gas table
//!   (`anywasm_gas::BYTES_PER_GAS` bytes, `ELEMENT_COST` per element,
//!   `PAGE_COST` per page), against the same points: it copies the size
//!   through a scratch global (a middleware cannot add locals), computes the
//!   charge and traps as `Metering` does when the points do not cover it;
//!   right before a bulk operation, right after a `memory.grow` or
//!   `table.grow` and only if it grew (a grow a limit refuses returns -1 on
//!   every engine, not an out-of-fuel trap).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use wasmer::sys::wasmparser::{BlockType, Operator};
use wasmer::sys::{FunctionMiddleware, MiddlewareError, MiddlewareReaderState, ModuleMiddleware};
use wasmer::{
    ExportIndex, GlobalInit, GlobalType, LocalFunctionIndex, ModuleInfo, Mutability, Type,
};
use wasmer_middlewares::Metering;

/// Hidden export under which [`StartHook`] re-exports the start function.
pub(crate) const START_EXPORT: &str = "\u{0}anywasm:start";
/// Global injected by `wasmer_middlewares::Metering`: points left (`i64`, read unsigned).
pub(crate) const FUEL_REMAINING: &str = "wasmer_metering_remaining_points";
/// Global injected by `wasmer_middlewares::Metering`: 1 once the points ran out.
pub(crate) const FUEL_EXHAUSTED: &str = "wasmer_metering_points_exhausted";

/// Whether `name` is an export this backend injected and hides from users.
pub(crate) fn is_hidden(name: &str, metered: bool) -> bool {
    name == START_EXPORT || (metered && (name == FUEL_REMAINING || name == FUEL_EXHAUSTED))
}

/// A function middleware that changes nothing.
#[derive(Debug)]
struct PassThrough;

impl<'a> FunctionMiddleware<'a> for PassThrough {}

/// Moves the start function out of the way; see the module docs.
#[derive(Debug)]
pub(crate) struct StartHook;

impl ModuleMiddleware for StartHook {
    fn generate_function_middleware<'a>(
        &self,
        _: LocalFunctionIndex,
    ) -> Box<dyn FunctionMiddleware<'a> + 'a> {
        Box::new(PassThrough)
    }

    fn transform_module_info(&self, info: &mut ModuleInfo) -> Result<(), MiddlewareError> {
        if let Some(start) = info.start_function.take() {
            info.exports
                .insert(START_EXPORT.to_string(), ExportIndex::Function(start));
        }
        Ok(())
    }
}

/// One fuel unit per operator.
fn cost(_: &Operator<'_>) -> u64 {
    1
}

type Meter = Metering<fn(&Operator<'_>) -> u64>;

/// Indices of the globals the size charges use, in the module being
/// compiled: `Metering`'s two, then two scratch globals of our own.
#[derive(Clone, Copy, Debug)]
struct BulkGlobals {
    remaining: u32,
    exhausted: u32,
    size: u32,
    charge: u32,
}

/// Per-module `wasmer_middlewares::Metering`; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct FuelMetering {
    /// The `Metering` of the module being compiled, and the size charges'
    /// globals.
    current: Mutex<Option<(Arc<Meter>, BulkGlobals)>>,
    /// Held for a whole compilation.
    compiling: Mutex<()>,
}

impl FuelMetering {
    /// Serialise compilations: hold the guard around `wasmer::Module::new`.
    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        self.compiling
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn current(&self) -> MutexGuard<'_, Option<(Arc<Meter>, BulkGlobals)>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ModuleMiddleware for FuelMetering {
    fn generate_function_middleware<'a>(
        &self,
        index: LocalFunctionIndex,
    ) -> Box<dyn FunctionMiddleware<'a> + 'a> {
        let meter = self.current().clone();
        match meter {
            Some((meter, globals)) => Box::new(SizeCharges {
                inner: meter.generate_function_middleware(index),
                globals,
            }),
            // Unreachable: wasmer transforms the module info before it
            // generates function middlewares. Not metering is the only
            // answer that cannot crash the host.
            None => Box::new(PassThrough),
        }
    }

    fn transform_module_info(&self, info: &mut ModuleInfo) -> Result<(), MiddlewareError> {
        // Initial points 0: every call sets the points from the store's budget first.
        let meter: Arc<Meter> = Arc::new(Metering::new(0, cost as fn(&Operator<'_>) -> u64));
        // `Metering` appends its two globals (remaining points, exhausted)
        // to the module's globals; the scratch globals follow.
        let first = info.globals.len() as u32;
        meter.transform_module_info(info)?;
        info.globals
            .push(GlobalType::new(Type::I32, Mutability::Var));
        info.global_initializers.push(GlobalInit::I32Const(0));
        info.globals
            .push(GlobalType::new(Type::I64, Mutability::Var));
        info.global_initializers.push(GlobalInit::I64Const(0));
        let globals = BulkGlobals {
            remaining: first,
            exhausted: first + 1,
            size: first + 2,
            charge: first + 3,
        };
        *self.current() = Some((meter, globals));
        Ok(())
    }
}

/// `Metering`'s function middleware plus the size charges; see the module
/// docs.
#[derive(Debug)]
struct SizeCharges<'a> {
    inner: Box<dyn FunctionMiddleware<'a> + 'a>,
    globals: BulkGlobals,
}

/// How an operator's size operand is priced, if it has one.
fn size_price(op: &Operator<'_>) -> Option<(u64, bool)> {
    use Operator::*;
    // (multiplier, or divisor when the flag is set)
    match op {
        MemoryFill { .. } | MemoryCopy { .. } | MemoryInit { .. } => {
            Some((anywasm_gas::BYTES_PER_GAS, true))
        }
        TableFill { .. } | TableCopy { .. } | TableInit { .. } | TableGrow { .. } => {
            Some((anywasm_gas::ELEMENT_COST, false))
        }
        MemoryGrow { .. } => Some((anywasm_gas::PAGE_COST, false)),
        _ => None,
    }
}

impl<'a> FunctionMiddleware<'a> for SizeCharges<'a> {
    fn feed(
        &mut self,
        operator: Operator<'a>,
        state: &mut MiddlewareReaderState<'a>,
    ) -> Result<(), MiddlewareError> {
        let Some((rate, per)) = size_price(&operator) else {
            return self.inner.feed(operator, state);
        };
        let g = self.globals;
        let grows = matches!(
            operator,
            Operator::MemoryGrow { .. } | Operator::TableGrow { .. }
        );
        // The size is the last operand: keep a copy, leave it for the operator.
        state.extend([
            Operator::GlobalSet {
                global_index: g.size,
            },
            Operator::GlobalGet {
                global_index: g.size,
            },
        ]);
        if !grows {
            // A bulk operation is charged before it runs.
            state.extend(price(g, rate, per));
            state.extend(charge(g));
            return self.inner.feed(operator, state);
        }
        // A grow is charged after, and only if it grew: one a limit refused
        // returned -1 and costs one point, as on every engine.
        self.inner.feed(operator, state)?;
        state.extend(price(g, rate, per));
        state.extend([
            // The result (-1 or the old size): keep it for the guest, test it.
            Operator::GlobalSet {
                global_index: g.size,
            },
            Operator::GlobalGet {
                global_index: g.size,
            },
            Operator::GlobalGet {
                global_index: g.size,
            },
            Operator::I32Const { value: -1 },
            Operator::I32Ne,
            Operator::If {
                blockty: BlockType::Empty,
            },
        ]);
        state.extend(charge(g));
        state.extend([Operator::End]);
        Ok(())
    }
}

/// `charge = price(size)`, from the size in the `size` global (rate a power
/// of two when it divides).
fn price<'a>(g: BulkGlobals, rate: u64, per: bool) -> Vec<Operator<'a>> {
    let mut ops = vec![
        Operator::GlobalGet {
            global_index: g.size,
        },
        Operator::I64ExtendI32U,
    ];
    if per {
        // ceil(n / rate), rate a power of two.
        ops.extend([
            Operator::I64Const {
                value: rate as i64 - 1,
            },
            Operator::I64Add,
            Operator::I64Const {
                value: i64::from(rate.trailing_zeros()),
            },
            Operator::I64ShrU,
        ]);
    } else {
        ops.extend([Operator::I64Const { value: rate as i64 }, Operator::I64Mul]);
    }
    ops.push(Operator::GlobalSet {
        global_index: g.charge,
    });
    ops
}

/// `if remaining < charge (unsigned) { exhausted = 1; trap }; remaining -= charge`,
/// trapping as `Metering` does when the points run out.
fn charge<'a>(g: BulkGlobals) -> [Operator<'a>; 12] {
    [
        Operator::GlobalGet {
            global_index: g.remaining,
        },
        Operator::GlobalGet {
            global_index: g.charge,
        },
        Operator::I64LtU,
        Operator::If {
            blockty: BlockType::Empty,
        },
        Operator::I32Const { value: 1 },
        Operator::GlobalSet {
            global_index: g.exhausted,
        },
        Operator::Unreachable,
        Operator::End,
        Operator::GlobalGet {
            global_index: g.remaining,
        },
        Operator::GlobalGet {
            global_index: g.charge,
        },
        Operator::I64Sub,
        Operator::GlobalSet {
            global_index: g.remaining,
        },
    ]
}

const _: () = assert!(anywasm_gas::BYTES_PER_GAS.is_power_of_two());
