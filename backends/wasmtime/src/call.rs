//! Calling guest functions: shared by [`Store::call`](crate::Store) and
//! re-entrant calls from host functions.

use anywasm_core::{Error, Val};
use wasmtime::{AsContextMut, RootScope, StoreContextMut};

use crate::convert::{from_engine, to_engine};
use crate::error::call_error;
use crate::limits::StoreData;

/// Reusable argument/result buffers, so a call does not allocate.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    args: Vec<wasmtime::Val>,
    results: Vec<wasmtime::Val>,
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
    ty: &wasmtime::FuncType,
    args: &[Val],
    results: &mut [Val],
    scratch: &mut Scratch,
) -> Result<(), Error> {
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
