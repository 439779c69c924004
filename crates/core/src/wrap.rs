//! Typed host functions over wasm values ([`Linker::func_wrap`]).
//!
//! [`Linker::func`] takes a signature and a closure over `&[Val]`; most host
//! functions are better written with Rust types, and the signature then
//! follows from them:
//!
//! ```
//! use anywasm_core::{FuncType, HostError, Linker, ValType};
//! let mut linker = Linker::<u64>::new();
//! linker.func_wrap("env", "add", |_, (a, b): (i32, i32)| Ok(a.wrapping_add(b)));
//! linker.func_wrap("env", "tick", |caller, (): ()| {
//!     *caller.data_mut() += 1;
//!     Ok(())
//! });
//! linker.func_wrap("env", "checked_div", |_, (a, b): (i64, i64)| {
//!     a.checked_div(b).ok_or_else(|| HostError::new("division by zero"))
//! });
//! linker.func_wrap("env", "swap", |_, (x, y): (f32, f64)| Ok((y, x))).capability("math");
//!
//! use ValType::*;
//! assert_eq!(linker.get("env", "add").unwrap().ty(), &FuncType::new([I32, I32], [I32]));
//! assert_eq!(linker.get("env", "tick").unwrap().ty(), &FuncType::new([], []));
//! assert_eq!(linker.get("env", "swap").unwrap().ty(), &FuncType::new([F32, F64], [F64, F32]));
//! assert_eq!(linker.get("env", "swap").unwrap().capability(), Some("math"));
//! ```
//!
//! # Why the parameters are one tuple
//!
//! The closure takes the [`Caller`] and *one* argument, the parameters as a
//! tuple (`(a, b): (i32, i32)`, `x: i32`, `(): ()`), and returns
//! `Result<R, HostError>` where `R` is `()`, one value or a tuple. With that
//! shape `func_wrap` can bound the closure by a plain
//! `Fn(&mut dyn Caller<T>, P) -> Result<R, HostError>`, so the compiler gives
//! the caller argument its type from the bound and user code never spells
//! `&mut dyn Caller<T>`. A closure of any arity (`|caller, a: i32, b: i64|`)
//! would need a trait implemented for each arity, and rustc does not infer a
//! closure's argument types through such a trait: every closure would have
//! to annotate its caller, as wasmtime's `func_wrap` users do. The tuple
//! annotation is needed anyway, since it is what the signature is derived
//! from; it is the same shape as [`Linker::abi_func`]'s requests.
//!
//! # Cost
//!
//! A typed function keeps its typed form ([`HostFunc::native`]) beside a
//! raw [`Linker::func`]-style adapter. wasmtime, wasmer and wasmi call the
//! typed form directly for the shapes most host functions have (up to four
//! `i32` or `i64` parameters, no result or one `i32` or `i64`,
//! [`native_shapes!`](crate::native_shapes)): the engine passes native
//! values, with no `Val` in between. Other shapes go through the adapter: the arguments are read out of the `Val`
//! slice (the engines have already checked them against the derived
//! signature) and the results written back, a few moves per call. Either
//! way, returning `Err` traps the guest with
//! [`TrapCode::HostError`](crate::TrapCode), like a panic in the closure.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use alloc::sync::Arc;

use crate::{Caller, FuncType, HostError, HostFunc, Linker, NativeFn, Val, ValType};

mod sealed {
    /// The wasm value types.
    pub trait Sealed {}
    /// The parameter lists: a backend's native trampoline relies on
    /// `Native` matching `types()`, so only this module defines them.
    pub trait Params {}
    /// The result lists, sealed for the same reason.
    pub trait Results {}
}

/// A Rust type that is one wasm value: `i32`, `u32` (as `i32`), `i64`, `u64`
/// (as `i64`), `f32`, `f64`. Floats cross bit-exactly, NaN payloads included.
pub trait WasmTy: sealed::Sealed + Copy + Send + Sync + 'static {
    /// The wasm type.
    const TYPE: ValType;
    /// The Rust type a backend passes for it: `i32`, `i64`, `f32` or `f64`
    /// (`u32` travels as `i32`, `u64` as `i64`).
    type Native: WasmTy;
    /// From the value as a backend passes it, bit for bit.
    fn from_native(native: Self::Native) -> Self;
    /// As a backend passes it, bit for bit.
    fn into_native(self) -> Self::Native;
    /// The value, if `val` has type [`TYPE`](Self::TYPE).
    fn from_val(val: Val) -> Option<Self>;
    /// As a wasm value.
    fn into_val(self) -> Val;
}

macro_rules! wasm_ty {
    ($($ty:ty => $vt:ident as $native:ty, |$v:ident| $from:expr, |$s:ident| $into:expr;)*) => {$(
        impl sealed::Sealed for $ty {}
        impl WasmTy for $ty {
            const TYPE: ValType = ValType::$vt;
            type Native = $native;
            #[inline]
            #[allow(clippy::unnecessary_cast)]
            fn from_native(native: $native) -> Self {
                native as $ty
            }
            #[inline]
            #[allow(clippy::unnecessary_cast)]
            fn into_native(self) -> $native {
                self as $native
            }
            fn from_val(val: Val) -> Option<Self> {
                match val {
                    Val::$vt($v) => Some($from),
                    _ => None,
                }
            }
            fn into_val(self) -> Val {
                let $s = self;
                Val::$vt($into)
            }
        }
    )*};
}

wasm_ty! {
    i32 => I32 as i32, |v| v, |s| s;
    u32 => I32 as i32, |v| v as u32, |s| s as i32;
    i64 => I64 as i64, |v| v, |s| s;
    u64 => I64 as i64, |v| v as u64, |s| s as i64;
    f32 => F32 as f32, |v| f32::from_bits(v), |s| s.to_bits();
    f64 => F64 as f64, |v| f64::from_bits(v), |s| s.to_bits();
}

/// The parameters of a typed host function: `()`, one [`WasmTy`], or a
/// tuple of up to 8 of them. Sealed: these are all the parameter lists.
/// A backend calls a typed host function with `Native` values in the order
/// of `types()`, so an outside implementation could not be trusted to keep
/// them in step; it does not compile:
///
/// ```compile_fail
/// use anywasm_core::{Val, ValType, WasmParams};
/// struct Pair(i32, i32);
/// impl WasmParams for Pair {
///     type Native = (i32, i32);
///     fn types() -> Vec<ValType> {
///         vec![ValType::I32, ValType::I32]
///     }
///     fn from_vals(args: &[Val]) -> Option<Self> {
///         <(i32, i32)>::from_vals(args).map(|(a, b)| Pair(a, b))
///     }
///     fn from_native((a, b): (i32, i32)) -> Self {
///         Pair(a, b)
///     }
/// }
/// ```
pub trait WasmParams: sealed::Params + Sized {
    /// The parameters as a backend passes them: a tuple of
    /// [`WasmTy::Native`] types (`()` for none, `(i32,)` for one `u32`).
    type Native: WasmParams + 'static;
    /// The wasm parameter types, in order.
    fn types() -> Vec<ValType>;
    /// The parameters, if `args` has exactly [`types`](Self::types).
    fn from_vals(args: &[Val]) -> Option<Self>;
    /// The parameters from their native form, bit for bit.
    fn from_native(native: Self::Native) -> Self;
}

/// The results of a typed host function: `()`, one [`WasmTy`], or a tuple
/// of up to 8 of them. Sealed: these are all the result lists.
pub trait WasmResults: sealed::Results {
    /// The results as a backend takes them: `()`, one [`WasmTy::Native`]
    /// type, or a tuple of them.
    type Native: WasmResults + 'static;
    /// The wasm result types, in order.
    fn types() -> Vec<ValType>;
    /// Write the results into `out` (of length `types().len()`).
    fn write_vals(self, out: &mut [Val]);
    /// The results in their native form, bit for bit.
    fn into_native(self) -> Self::Native;
}

impl<X: WasmTy> sealed::Params for X {}
impl<X: WasmTy> sealed::Results for X {}

impl<X: WasmTy> WasmParams for X {
    type Native = (X::Native,);
    fn types() -> Vec<ValType> {
        alloc::vec![X::TYPE]
    }
    fn from_vals(args: &[Val]) -> Option<Self> {
        match args {
            [a] => X::from_val(*a),
            _ => None,
        }
    }
    #[inline]
    fn from_native((x,): Self::Native) -> Self {
        X::from_native(x)
    }
}

impl<X: WasmTy> WasmResults for X {
    type Native = X::Native;
    fn types() -> Vec<ValType> {
        alloc::vec![X::TYPE]
    }
    fn write_vals(self, out: &mut [Val]) {
        if let Some(slot) = out.first_mut() {
            *slot = self.into_val();
        }
    }
    #[inline]
    fn into_native(self) -> Self::Native {
        WasmTy::into_native(self)
    }
}

macro_rules! tuples {
    ($($n:literal: ($($t:ident),*);)*) => {$(
        impl<$($t: WasmTy),*> sealed::Params for ($($t,)*) {}
        impl<$($t: WasmTy),*> sealed::Results for ($($t,)*) {}

        impl<$($t: WasmTy),*> WasmParams for ($($t,)*) {
            type Native = ($($t::Native,)*);
            fn types() -> Vec<ValType> {
                alloc::vec![$($t::TYPE),*]
            }
            #[allow(non_snake_case)]
            fn from_vals(args: &[Val]) -> Option<Self> {
                match *args {
                    [$($t),*] => Some(($($t::from_val($t)?,)*)),
                    _ => None,
                }
            }
            #[inline]
            #[allow(non_snake_case, clippy::unused_unit)]
            fn from_native(($($t,)*): Self::Native) -> Self {
                ($(WasmTy::from_native($t),)*)
            }
        }

        impl<$($t: WasmTy),*> WasmResults for ($($t,)*) {
            type Native = ($($t::Native,)*);
            #[inline]
            #[allow(non_snake_case, clippy::unused_unit)]
            fn into_native(self) -> Self::Native {
                let ($($t,)*) = self;
                ($(WasmTy::into_native($t),)*)
            }
            fn types() -> Vec<ValType> {
                alloc::vec![$($t::TYPE),*]
            }
            #[allow(non_snake_case, unused_mut, unused_variables)]
            fn write_vals(self, out: &mut [Val]) {
                let ($($t,)*) = self;
                let mut slots = out.iter_mut();
                $(if let Some(slot) = slots.next() {
                    *slot = $t.into_val();
                })*
            }
        }
    )*};
}

tuples! {
    0: ();
    1: (A);
    2: (A, B);
    3: (A, B, C);
    4: (A, B, C, D);
    5: (A, B, C, D, E);
    6: (A, B, C, D, E, F);
    7: (A, B, C, D, E, F, G);
    8: (A, B, C, D, E, F, G, H);
}

impl<T: 'static> Linker<T> {
    /// Define (or replace) the host function `module::name` from a typed
    /// closure; its wasm signature is derived from the closure's parameter
    /// tuple `P` and result `R` (the module docs show the shape and say why).
    ///
    /// Ungated, like [`func`](Self::func): every guest may import it. Chain
    /// [`capability`](FuncDef::capability) to deny it to guests not granted
    /// one. A module importing it with another signature fails to
    /// instantiate with [`ErrorKind::Unlinkable`](crate::ErrorKind).
    pub fn func_wrap<P, R, F>(&mut self, module: &str, name: &str, func: F) -> FuncDef<'_, T>
    where
        P: WasmParams,
        R: WasmResults,
        F: Fn(&mut dyn Caller<T>, P) -> core::result::Result<R, HostError> + Send + Sync + 'static,
    {
        let ty = FuncType::new(P::types(), R::types());
        let native: Arc<NativeFn<T, P::Native, R::Native>> =
            Arc::new(move |caller: &mut dyn Caller<T>, params: P::Native| {
                func(caller, P::from_native(params)).map(R::into_native)
            });
        FuncDef {
            entry: self.insert_native(module, name, ty, None, native),
        }
    }
}

/// A host function just defined by [`Linker::func_wrap`]; its methods
/// change how it is defined. The function is in the linker already, so
/// dropping this (or never chaining) loses nothing; it only holds the
/// linker's borrow.
pub struct FuncDef<'a, T> {
    entry: &'a mut HostFunc<T>,
}

impl<T> FuncDef<'_, T> {
    /// Importable only by guests granted `capability` (checked by
    /// [`check_capabilities`](crate::check_capabilities) before
    /// instantiation, as for [`Linker::func_with_capability`]).
    pub fn capability(self, capability: &str) -> Self {
        self.entry.set_capability(Some(String::from(capability)));
        self
    }

    /// The definition as it stands.
    pub fn get(&self) -> &HostFunc<T> {
        self.entry
    }
}

impl<T> fmt::Debug for FuncDef<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FuncDef").field(&*self.entry).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_and_results_convert_both_ways() {
        let args = [
            Val::I32(-1),
            Val::I64(7),
            Val::F32(0x7fa0_0001),
            Val::F64(1),
        ];
        let (a, b, c, d) = <(u32, i64, f32, f64)>::from_vals(&args).unwrap();
        assert_eq!(
            (a, b, c.to_bits(), d.to_bits()),
            (u32::MAX, 7, 0x7fa0_0001, 1)
        );
        assert!(<(i32, i32)>::from_vals(&args[..2]).is_none());
        assert!(<(i32,)>::from_vals(&[]).is_none());
        assert!(<()>::from_vals(&[Val::I32(0)]).is_none());
        let mut out = [Val::I32(0), Val::I32(0)];
        (u64::MAX, f32::from_bits(0xffc0_0001)).write_vals(&mut out);
        assert_eq!(out, [Val::I64(-1), Val::F32(0xffc0_0001)]);
    }

    #[test]
    fn the_wrapper_passes_values_and_refuses_wrong_arguments() {
        let mut linker = Linker::<()>::new();
        linker.func_wrap("env", "sub", |_, (a, b): (i64, i64)| Ok(a - b));
        let f = linker.get("env", "sub").unwrap();
        assert_eq!(
            f.ty(),
            &FuncType::new([ValType::I64, ValType::I64], [ValType::I64])
        );
        assert_eq!(f.capability(), None);
        let mut out = [Val::I64(0)];
        let mut caller = NoCaller(());
        f.invoke(&mut caller, &[Val::I64(50), Val::I64(8)], &mut out)
            .unwrap();
        assert_eq!(out, [Val::I64(42)]);
        let e = f
            .invoke(&mut caller, &[Val::I32(50), Val::I64(8)], &mut out)
            .unwrap_err();
        assert!(e.message().contains("typed host function"), "{e}");
    }

    /// A caller with no guest behind it, for calling a wrapper directly.
    struct NoCaller(());

    impl Caller<()> for NoCaller {
        fn backend(&self) -> crate::BackendKind {
            crate::BackendKind::Wasmi
        }
        fn data(&self) -> &() {
            &self.0
        }
        fn data_mut(&mut self) -> &mut () {
            &mut self.0
        }
        fn memory_size(&mut self) -> Option<u64> {
            None
        }
        fn read_memory(&mut self, _: u64, _: &mut [u8]) -> crate::Result<()> {
            unimplemented!("not used by these tests")
        }
        fn write_memory(&mut self, _: u64, _: &[u8]) -> crate::Result<()> {
            unimplemented!("not used by these tests")
        }
        fn call(&mut self, _: &str, _: &[Val], _: &mut [Val]) -> crate::Result<()> {
            unimplemented!("not used by these tests")
        }
        fn remaining_time(&self) -> Option<core::time::Duration> {
            None
        }
    }
}
