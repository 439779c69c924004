//! Calling guest functions: shared by [`Store::call`](crate::Store) and
//! re-entrant calls from host functions.

use anywasm_core::{Error, FuncType, Val};
use wasmtime::{AsContextMut, RootScope, StoreContextMut, ValRaw};

use crate::convert::{from_engine, to_engine};
use crate::error::call_error;
use crate::store::{FuncInfo, StoreData};

/// Reusable argument/result buffers, so a call does not allocate.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    args: Vec<wasmtime::Val>,
    results: Vec<wasmtime::Val>,
    raw: Vec<ValRaw>,
}

/// Whether a signature has only numeric and vector types, so calls to it
/// can take the raw path (no references: nothing to root, nothing to GC).
pub(crate) fn is_plain(ty: &FuncType) -> bool {
    ty.params().iter().chain(ty.results()).all(|t| !t.is_ref())
}

pub(crate) fn to_raw(v: &Val) -> ValRaw {
    match *v {
        Val::I32(x) => ValRaw::i32(x),
        Val::I64(x) => ValRaw::i64(x),
        Val::F32(bits) => ValRaw::f32(bits),
        Val::F64(bits) => ValRaw::f64(bits),
        Val::V128(x) => ValRaw::v128(x),
        // Excluded by `is_plain`.
        Val::FuncRef(_) | Val::ExternRef(_) => ValRaw::i32(0),
    }
}

pub(crate) fn from_raw(raw: &ValRaw, ty: anywasm_core::ValType) -> Val {
    use anywasm_core::ValType as T;
    match ty {
        T::I32 => Val::I32(raw.get_i32()),
        T::I64 => Val::I64(raw.get_i64()),
        T::F32 => Val::F32(raw.get_f32()),
        T::F64 => Val::F64(raw.get_f64()),
        T::V128 => Val::V128(raw.get_v128()),
        // Excluded by `is_plain`.
        T::FuncRef => Val::FuncRef(None),
        T::ExternRef => Val::ExternRef(None),
    }
}

/// The fast path for plain signatures: `Func::call_unchecked` on a reused
/// `ValRaw` buffer. `Func::call` would open a GC rooting scope, box-free but
/// still convert every value and re-check the signature on each call; here
/// the signature was checked once by the caller ([`anywasm_core::check_args`])
/// and plain values need no rooting, which makes a no-op call about as cheap
/// as wasmtime's own typed calls.
fn call_plain<T: 'static>(
    mut cx: StoreContextMut<'_, StoreData<T>>,
    func: &wasmtime::Func,
    ty: &FuncType,
    args: &[Val],
    results: &mut [Val],
    scratch: &mut Scratch,
) -> Result<(), Error> {
    scratch.raw.clear();
    scratch.raw.extend(args.iter().map(to_raw));
    scratch
        .raw
        .resize(args.len().max(results.len()).max(1), ValRaw::i32(0));
    let buf: *mut [ValRaw] = &mut scratch.raw[..];
    // SAFETY: `buf` points at a live buffer large enough for the parameters
    // and for the results; the parameters written to it have exactly the
    // types of the function's signature (`check_args` compared `args` with
    // `ty`, which is this function's signature, before we were called); the
    // signature has no reference types, so there is nothing to keep valid
    // for the store; and `func` belongs to this store (the caller checked
    // the store id, or got `func` from this store's caller).
    let outcome = unsafe { func.call_unchecked(&mut cx, buf) };
    match outcome {
        Ok(()) => {
            for ((slot, raw), t) in results.iter_mut().zip(&scratch.raw).zip(ty.results()) {
                *slot = from_raw(raw, *t);
            }
            Ok(())
        }
        Err(e) => Err(call_error(e)),
    }
}

/// Call `func` (of engine type `ty`) with anywasm values. The caller has
/// already checked `args`/`results` against the anywasm signature.
///
/// Runs in its own GC rooting scope: externrefs created for the arguments
/// or read from the results are unrooted when the call returns, so calls in
/// a loop do not accumulate roots.
pub(crate) fn call_func<T: 'static>(
    mut cx: StoreContextMut<'_, StoreData<T>>,
    func: &wasmtime::Func,
    sig: &FuncInfo,
    args: &[Val],
    results: &mut [Val],
    scratch: &mut Scratch,
) -> Result<(), Error> {
    let outcome = call_any(cx.as_context_mut(), func, sig, args, results, scratch);
    match outcome {
        Err(e) if cx.data().gas.is_some() => Err(crate::gas::classify(&mut cx, e)),
        other => other,
    }
}

fn call_any<T: 'static>(
    mut cx: StoreContextMut<'_, StoreData<T>>,
    func: &wasmtime::Func,
    sig: &FuncInfo,
    args: &[Val],
    results: &mut [Val],
    scratch: &mut Scratch,
) -> Result<(), Error> {
    if sig.plain {
        return call_plain(cx, func, &sig.ty, args, results, scratch);
    }
    let ty = &sig.engine_ty;
    let mut scope = RootScope::new(&mut cx);
    let mut cx = scope.as_context_mut();
    scratch.args.clear();
    scratch.results.clear();
    for (a, t) in args.iter().zip(ty.params()) {
        let v = to_engine(&mut cx, a, &t)?;
        scratch.args.push(v);
    }
    scratch.results.resize(results.len(), wasmtime::Val::I32(0));
    let outcome = match func.call(&mut cx, &scratch.args, &mut scratch.results) {
        Ok(()) => results
            .iter_mut()
            .zip(&scratch.results)
            .try_for_each(|(slot, v)| {
                *slot = from_engine(&mut cx, v)?;
                Ok(())
            }),
        Err(e) => Err(call_error(e)),
    };
    scratch.args.clear();
    scratch.results.clear();
    outcome
}
