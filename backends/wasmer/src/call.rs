//! Typed calls for the small signatures plugins use most.
//!
//! wasmer's untyped `Function::call` allocates a parameter vector and a
//! boxed result slice on every call and re-checks every value's type; its
//! `TypedFunction` passes native values straight to the trampoline. The
//! shapes below cover the plugin ABI (`anywasm_alloc`, entry points,
//! `anywasm_free`) and no-op/counter exports; any other signature takes the
//! untyped path. Arguments were checked against the signature before a call
//! reaches here (`check_args`).

use anywasm_core::{FuncType, Val, ValType};
use wasmer::{AsStoreMut, AsStoreRef, Function, RuntimeError, TypedFunction};

/// A function's typed handle, when its signature is one of the covered shapes.
#[derive(Clone, Debug)]
pub(crate) enum Typed {
    /// `[] -> []`
    Unit(TypedFunction<(), ()>),
    /// `[] -> [i32]`
    ToI32(TypedFunction<(), i32>),
    /// `[i32] -> []`
    I32(TypedFunction<i32, ()>),
    /// `[i32] -> [i32]`
    I32ToI32(TypedFunction<i32, i32>),
    /// `[i32 i32] -> []`
    I32I32(TypedFunction<(i32, i32), ()>),
    /// `[i32 i32] -> [i32]`
    I32I32ToI32(TypedFunction<(i32, i32), i32>),
    /// `[i32 i32] -> [i64]`
    I32I32ToI64(TypedFunction<(i32, i32), i64>),
    /// `[i64] -> [i64]`
    I64ToI64(TypedFunction<i64, i64>),
}

impl Typed {
    /// The typed handle of `func` (signature `ty`), if its shape is covered.
    pub(crate) fn new(func: &Function, ty: &FuncType, store: &impl AsStoreRef) -> Option<Self> {
        use ValType::{I32, I64};
        Some(match (ty.params(), ty.results()) {
            ([], []) => Self::Unit(func.typed(store).ok()?),
            ([], [I32]) => Self::ToI32(func.typed(store).ok()?),
            ([I32], []) => Self::I32(func.typed(store).ok()?),
            ([I32], [I32]) => Self::I32ToI32(func.typed(store).ok()?),
            ([I32, I32], []) => Self::I32I32(func.typed(store).ok()?),
            ([I32, I32], [I32]) => Self::I32I32ToI32(func.typed(store).ok()?),
            ([I32, I32], [I64]) => Self::I32I32ToI64(func.typed(store).ok()?),
            ([I64], [I64]) => Self::I64ToI64(func.typed(store).ok()?),
            _ => return None,
        })
    }

    /// Call with `args`/`results` already checked against the signature.
    pub(crate) fn call(
        &self,
        store: &mut impl AsStoreMut,
        args: &[Val],
        results: &mut [Val],
    ) -> Result<(), RuntimeError> {
        let i32_at = |n: usize| args.get(n).and_then(Val::as_i32).unwrap_or(0);
        let out = match self {
            Self::Unit(f) => f.call(store).map(|()| None)?,
            Self::ToI32(f) => Some(Val::I32(f.call(store)?)),
            Self::I32(f) => f.call(store, i32_at(0)).map(|()| None)?,
            Self::I32ToI32(f) => Some(Val::I32(f.call(store, i32_at(0))?)),
            Self::I32I32(f) => f.call(store, i32_at(0), i32_at(1)).map(|()| None)?,
            Self::I32I32ToI32(f) => Some(Val::I32(f.call(store, i32_at(0), i32_at(1))?)),
            Self::I32I32ToI64(f) => Some(Val::I64(f.call(store, i32_at(0), i32_at(1))?)),
            Self::I64ToI64(f) => {
                let a = args.first().and_then(Val::as_i64).unwrap_or(0);
                Some(Val::I64(f.call(store, a)?))
            }
        };
        if let (Some(v), Some(slot)) = (out, results.first_mut()) {
            *slot = v;
        }
        Ok(())
    }
}
