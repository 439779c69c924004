//! Values and types between anywasm and wasmtime.
//!
//! Floats cross as raw bits (wasmtime's `Val::F32/F64` hold bits too), so NaN
//! payloads survive. `externref`s carry a `u32` host payload; `funcref`s are
//! indices into the store's [`FuncTable`](crate::store::FuncTable).
//!
//! anywasm's value model knows two reference types. wasmtime's function
//! hierarchy (`funcref`, `(ref $t)`, `nullfuncref`, ...) maps to
//! [`ValType::FuncRef`] and its extern hierarchy to [`ValType::ExternRef`];
//! the GC (`anyref`, `eqref`, structs, arrays), exception (`exnref`) and
//! continuation hierarchies have no anywasm type.

use anywasm_core::{
    Error, ErrorKind, ExternRef, ExternType, FuncRef, FuncType, GlobalType, MemoryType, TableType,
    Val, ValType,
};
use wasmtime::{AsContextMut, HeapType, StoreContextMut};

use crate::error::err;
use crate::store::StoreData;

/// The anywasm type of a wasmtime value type, if it has one.
pub(crate) fn val_type(ty: &wasmtime::ValType) -> Option<ValType> {
    Some(match ty {
        wasmtime::ValType::I32 => ValType::I32,
        wasmtime::ValType::I64 => ValType::I64,
        wasmtime::ValType::F32 => ValType::F32,
        wasmtime::ValType::F64 => ValType::F64,
        wasmtime::ValType::V128 => ValType::V128,
        wasmtime::ValType::Ref(r) => ref_type(r)?,
    })
}

/// The anywasm type of a wasmtime reference type, if it has one.
pub(crate) fn ref_type(ty: &wasmtime::RefType) -> Option<ValType> {
    match ty.heap_type().top() {
        HeapType::Func => Some(ValType::FuncRef),
        HeapType::Extern => Some(ValType::ExternRef),
        _ => None,
    }
}

/// Used in type listings for types anywasm cannot name (see module docs).
fn val_type_lossy(ty: &wasmtime::ValType) -> ValType {
    val_type(ty).unwrap_or(ValType::ExternRef)
}

/// The anywasm signature of a wasmtime function type, if every parameter
/// and result has an anywasm type.
pub(crate) fn func_type(ty: &wasmtime::FuncType) -> Option<FuncType> {
    let params = ty
        .params()
        .map(|t| val_type(&t))
        .collect::<Option<Vec<_>>>()?;
    let results = ty
        .results()
        .map(|t| val_type(&t))
        .collect::<Option<Vec<_>>>()?;
    Some(FuncType::new(params, results))
}

fn func_type_lossy(ty: &wasmtime::FuncType) -> FuncType {
    FuncType::new(
        ty.params().map(|t| val_type_lossy(&t)),
        ty.results().map(|t| val_type_lossy(&t)),
    )
}

/// The anywasm view of an import or export type, for module listings.
/// `None` for tags, which anywasm does not model.
pub(crate) fn extern_type(ty: &wasmtime::ExternType) -> Option<ExternType> {
    Some(match ty {
        wasmtime::ExternType::Func(f) => ExternType::Func(func_type_lossy(f)),
        wasmtime::ExternType::Global(g) => ExternType::Global(GlobalType {
            content: val_type_lossy(g.content()),
            mutable: g.mutability() == wasmtime::Mutability::Var,
        }),
        wasmtime::ExternType::Memory(m) => ExternType::Memory(MemoryType {
            minimum: m.minimum(),
            maximum: m.maximum(),
            memory64: m.is_64(),
            shared: m.is_shared(),
        }),
        wasmtime::ExternType::Table(t) => ExternType::Table(TableType {
            element: ref_type(t.element()).unwrap_or(ValType::ExternRef),
            minimum: t.minimum(),
            maximum: t.maximum(),
        }),
        wasmtime::ExternType::Tag(_) => return None,
    })
}

/// Short name of an import kind, for messages.
pub(crate) fn kind_name(ty: &wasmtime::ExternType) -> &'static str {
    match ty {
        wasmtime::ExternType::Func(_) => "function",
        wasmtime::ExternType::Global(_) => "global",
        wasmtime::ExternType::Memory(_) => "memory",
        wasmtime::ExternType::Table(_) => "table",
        wasmtime::ExternType::Tag(_) => "tag",
    }
}

fn unsupported(what: &str) -> Error {
    err(
        ErrorKind::Unsupported,
        format!("{what} has no anywasm representation (only funcref and externref are supported)"),
    )
}

/// A wasmtime value as an anywasm value. Function references are entered
/// into the store's funcref table.
pub(crate) fn from_engine<T: 'static>(
    cx: &mut StoreContextMut<'_, StoreData<T>>,
    val: &wasmtime::Val,
) -> Result<Val, Error> {
    Ok(match val {
        wasmtime::Val::I32(x) => Val::I32(*x),
        wasmtime::Val::I64(x) => Val::I64(*x),
        wasmtime::Val::F32(x) => Val::F32(*x),
        wasmtime::Val::F64(x) => Val::F64(*x),
        wasmtime::Val::V128(x) => Val::V128(x.as_u128()),
        wasmtime::Val::FuncRef(None) => Val::FuncRef(None),
        wasmtime::Val::FuncRef(Some(f)) => Val::FuncRef(Some(intern_func(cx, f)?)),
        wasmtime::Val::ExternRef(None) => Val::ExternRef(None),
        wasmtime::Val::ExternRef(Some(r)) => Val::ExternRef(Some(extern_payload(cx, r)?)),
        wasmtime::Val::AnyRef(_) => return Err(unsupported("an anyref value")),
        wasmtime::Val::ExnRef(_) => return Err(unsupported("an exnref value")),
        wasmtime::Val::ContRef(_) => return Err(unsupported("a contref value")),
    })
}

/// A wasmtime reference as an anywasm value.
pub(crate) fn from_engine_ref<T: 'static>(
    cx: &mut StoreContextMut<'_, StoreData<T>>,
    r: &wasmtime::Ref,
) -> Result<Val, Error> {
    Ok(match r {
        wasmtime::Ref::Func(None) => Val::FuncRef(None),
        wasmtime::Ref::Func(Some(f)) => Val::FuncRef(Some(intern_func(cx, f)?)),
        wasmtime::Ref::Extern(None) => Val::ExternRef(None),
        wasmtime::Ref::Extern(Some(r)) => Val::ExternRef(Some(extern_payload(cx, r)?)),
        _ => return Err(unsupported("this reference")),
    })
}

fn intern_func<T: 'static>(
    cx: &mut StoreContextMut<'_, StoreData<T>>,
    f: &wasmtime::Func,
) -> Result<FuncRef, Error> {
    let addr = f.to_raw(cx.as_context_mut()) as usize;
    cx.data_mut()
        .funcs
        .intern(f, addr)
        .map(FuncRef)
        .ok_or_else(|| {
            err(
                ErrorKind::Engine,
                "too many function references in one store",
            )
        })
}

fn extern_payload<T: 'static>(
    cx: &mut StoreContextMut<'_, StoreData<T>>,
    r: &wasmtime::Rooted<wasmtime::ExternRef>,
) -> Result<ExternRef, Error> {
    let data = r
        .data(&*cx)
        .map_err(|e| err(ErrorKind::Engine, crate::error::chain_message(&e)))?;
    match data.and_then(|d| d.downcast_ref::<u32>()) {
        Some(n) => Ok(ExternRef(*n)),
        None => Err(unsupported("an externref not created by anywasm")),
    }
}

/// An anywasm value as a wasmtime value of type `ty` (which `val` must
/// already match at the anywasm level; reference subtyping is checked here).
pub(crate) fn to_engine<T: 'static>(
    cx: &mut StoreContextMut<'_, StoreData<T>>,
    val: &Val,
    ty: &wasmtime::ValType,
) -> Result<wasmtime::Val, Error> {
    let v = match *val {
        Val::I32(x) => wasmtime::Val::I32(x),
        Val::I64(x) => wasmtime::Val::I64(x),
        Val::F32(x) => wasmtime::Val::F32(x),
        Val::F64(x) => wasmtime::Val::F64(x),
        Val::V128(x) => wasmtime::Val::V128(x.into()),
        Val::FuncRef(f) => wasmtime::Val::FuncRef(func_in(cx, f)?),
        Val::ExternRef(r) => wasmtime::Val::ExternRef(extern_in(cx, r)?),
    };
    if let wasmtime::ValType::Ref(_) = ty {
        let ok = v
            .matches_ty(&*cx, ty)
            .map_err(|e| err(ErrorKind::Engine, crate::error::chain_message(&e)))?;
        if !ok {
            return Err(err(
                ErrorKind::TypeMismatch,
                format!("{val:?} is not a value of type {ty}"),
            ));
        }
    }
    Ok(v)
}

/// An anywasm value as a wasmtime reference of type `ty`.
pub(crate) fn to_engine_ref<T: 'static>(
    cx: &mut StoreContextMut<'_, StoreData<T>>,
    val: &Val,
    ty: &wasmtime::RefType,
) -> Result<wasmtime::Ref, Error> {
    let r = match *val {
        Val::FuncRef(f) => wasmtime::Ref::Func(func_in(cx, f)?),
        Val::ExternRef(r) => wasmtime::Ref::Extern(extern_in(cx, r)?),
        _ => {
            return Err(err(
                ErrorKind::TypeMismatch,
                format!("{} is not a reference", val.ty()),
            ));
        }
    };
    let ok = r
        .matches_ty(&*cx, ty)
        .map_err(|e| err(ErrorKind::Engine, crate::error::chain_message(&e)))?;
    if !ok {
        return Err(err(
            ErrorKind::TypeMismatch,
            format!("{val:?} is not a value of type {ty}"),
        ));
    }
    Ok(r)
}

fn func_in<T: 'static>(
    cx: &mut StoreContextMut<'_, StoreData<T>>,
    f: Option<FuncRef>,
) -> Result<Option<wasmtime::Func>, Error> {
    match f {
        None => Ok(None),
        Some(FuncRef(i)) => cx.data().funcs.get(i).map(Some).ok_or_else(|| {
            err(
                ErrorKind::TypeMismatch,
                format!("FuncRef({i}) was not handed out by this store"),
            )
        }),
    }
}

fn extern_in<T: 'static>(
    cx: &mut StoreContextMut<'_, StoreData<T>>,
    r: Option<ExternRef>,
) -> Result<Option<wasmtime::Rooted<wasmtime::ExternRef>>, Error> {
    match r {
        None => Ok(None),
        Some(ExternRef(n)) => wasmtime::ExternRef::new(cx.as_context_mut(), n)
            .map(Some)
            .map_err(|e| err(ErrorKind::Engine, crate::error::chain_message(&e))),
    }
}
