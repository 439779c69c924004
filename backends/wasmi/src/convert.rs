//! Conversions between anywasm and wasmi: types and values. Errors are
//! mapped in `error.rs`.

use alloc::format;

use anywasm_core::{
    Error, ErrorKind, ExternRef, ExternType, FuncRef, FuncType, GlobalType, MemoryType, TableType,
    Val, ValType,
};
use wasmi::{AsContextMut, Nullable};

use crate::store::StoreData;

// ---------------------------------------------------------------- types

pub(crate) fn val_type(ty: wasmi::ValType) -> ValType {
    match ty {
        wasmi::ValType::I32 => ValType::I32,
        wasmi::ValType::I64 => ValType::I64,
        wasmi::ValType::F32 => ValType::F32,
        wasmi::ValType::F64 => ValType::F64,
        wasmi::ValType::V128 => ValType::V128,
        wasmi::ValType::FuncRef => ValType::FuncRef,
        wasmi::ValType::ExternRef => ValType::ExternRef,
    }
}

pub(crate) fn to_val_type(ty: ValType) -> wasmi::ValType {
    match ty {
        ValType::I32 => wasmi::ValType::I32,
        ValType::I64 => wasmi::ValType::I64,
        ValType::F32 => wasmi::ValType::F32,
        ValType::F64 => wasmi::ValType::F64,
        ValType::V128 => wasmi::ValType::V128,
        ValType::FuncRef => wasmi::ValType::FuncRef,
        ValType::ExternRef => wasmi::ValType::ExternRef,
    }
}

fn ref_type(ty: wasmi::RefType) -> ValType {
    match ty {
        wasmi::RefType::Func => ValType::FuncRef,
        wasmi::RefType::Extern => ValType::ExternRef,
    }
}

pub(crate) fn func_type(ty: &wasmi::FuncType) -> FuncType {
    FuncType::new(
        ty.params().iter().copied().map(val_type),
        ty.results().iter().copied().map(val_type),
    )
}

pub(crate) fn global_type(ty: &wasmi::GlobalType) -> GlobalType {
    GlobalType {
        content: val_type(ty.content()),
        mutable: ty.mutability().is_mut(),
    }
}

pub(crate) fn memory_type(ty: &wasmi::MemoryType) -> MemoryType {
    MemoryType {
        minimum: ty.minimum(),
        maximum: ty.maximum(),
        memory64: ty.is_64(),
        shared: false,
    }
}

pub(crate) fn table_type(ty: &wasmi::TableType) -> TableType {
    TableType {
        element: ref_type(ty.element()),
        minimum: ty.minimum(),
        maximum: ty.maximum(),
    }
}

pub(crate) fn extern_type(ty: &wasmi::ExternType) -> ExternType {
    match ty {
        wasmi::ExternType::Func(f) => ExternType::Func(func_type(f)),
        wasmi::ExternType::Global(g) => ExternType::Global(global_type(g)),
        wasmi::ExternType::Memory(m) => ExternType::Memory(memory_type(m)),
        wasmi::ExternType::Table(t) => ExternType::Table(table_type(t)),
    }
}

// ---------------------------------------------------------------- values

/// An engine value to an anywasm value. Function references are entered
/// into the store's funcref table.
pub(crate) fn from_wasmi<T>(
    ctx: &mut impl AsContextMut<Data = StoreData<T>>,
    val: &wasmi::Val,
) -> anywasm_core::Result<Val> {
    Ok(match val {
        wasmi::Val::I32(v) => Val::I32(*v),
        wasmi::Val::I64(v) => Val::I64(*v),
        wasmi::Val::F32(v) => Val::F32(v.to_bits()),
        wasmi::Val::F64(v) => Val::F64(v.to_bits()),
        wasmi::Val::V128(v) => Val::V128(v.as_u128()),
        wasmi::Val::FuncRef(f) => Val::FuncRef(from_funcref(ctx, f)),
        wasmi::Val::ExternRef(e) => Val::ExternRef(from_externref(ctx, e)?),
    })
}

/// An anywasm value to an engine value.
pub(crate) fn to_wasmi<T>(
    ctx: &mut impl AsContextMut<Data = StoreData<T>>,
    val: Val,
) -> anywasm_core::Result<wasmi::Val> {
    Ok(match val {
        Val::I32(v) => wasmi::Val::I32(v),
        Val::I64(v) => wasmi::Val::I64(v),
        Val::F32(v) => wasmi::Val::F32(wasmi::F32::from_bits(v)),
        Val::F64(v) => wasmi::Val::F64(wasmi::F64::from_bits(v)),
        #[cfg(feature = "simd")]
        Val::V128(v) => wasmi::Val::V128(wasmi::V128::from(v)),
        #[cfg(not(feature = "simd"))]
        Val::V128(_) => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "v128 values need anywasm-wasmi's `simd` feature",
            ));
        }
        Val::FuncRef(f) => wasmi::Val::FuncRef(to_funcref(ctx, f)?),
        Val::ExternRef(e) => wasmi::Val::ExternRef(to_externref(ctx, e)),
    })
}

/// An engine reference (table element) to an anywasm value.
pub(crate) fn from_ref<T>(
    ctx: &mut impl AsContextMut<Data = StoreData<T>>,
    r: &wasmi::Ref,
) -> anywasm_core::Result<Val> {
    Ok(match r {
        wasmi::Ref::Func(f) => Val::FuncRef(from_funcref(ctx, f)),
        wasmi::Ref::Extern(e) => Val::ExternRef(from_externref(ctx, e)?),
    })
}

/// An anywasm reference value to an engine reference.
pub(crate) fn to_ref<T>(
    ctx: &mut impl AsContextMut<Data = StoreData<T>>,
    val: Val,
) -> anywasm_core::Result<wasmi::Ref> {
    match val {
        Val::FuncRef(f) => Ok(wasmi::Ref::Func(to_funcref(ctx, f)?)),
        Val::ExternRef(e) => Ok(wasmi::Ref::Extern(to_externref(ctx, e))),
        other => Err(Error::new(
            ErrorKind::TypeMismatch,
            format!("expected a reference, got a {}", other.ty()),
        )),
    }
}

fn from_funcref<T>(
    ctx: &mut impl AsContextMut<Data = StoreData<T>>,
    f: &Nullable<wasmi::Func>,
) -> Option<FuncRef> {
    match f {
        Nullable::Null => None,
        Nullable::Val(func) => Some(ctx.as_context_mut().data_mut().funcs.intern(*func)),
    }
}

fn to_funcref<T>(
    ctx: &mut impl AsContextMut<Data = StoreData<T>>,
    f: Option<FuncRef>,
) -> anywasm_core::Result<Nullable<wasmi::Func>> {
    match f {
        None => Ok(Nullable::Null),
        Some(r) => match ctx.as_context_mut().data().funcs.get(r) {
            Some(func) => Ok(Nullable::Val(func)),
            None => Err(Error::new(
                ErrorKind::TypeMismatch,
                format!("funcref {} was not handed out by this store", r.0),
            )),
        },
    }
}

fn from_externref<T>(
    ctx: &mut impl AsContextMut<Data = StoreData<T>>,
    e: &Nullable<wasmi::ExternRef>,
) -> anywasm_core::Result<Option<ExternRef>> {
    match e {
        Nullable::Null => Ok(None),
        Nullable::Val(r) => match r.data(&*ctx).downcast_ref::<u32>() {
            Some(n) => Ok(Some(ExternRef(*n))),
            None => Err(Error::new(
                ErrorKind::Engine,
                "externref payload is not an anywasm ExternRef",
            )),
        },
    }
}

fn to_externref<T>(
    ctx: &mut impl AsContextMut<Data = StoreData<T>>,
    e: Option<ExternRef>,
) -> Nullable<wasmi::ExternRef> {
    let Some(ExternRef(n)) = e else {
        return Nullable::Null;
    };
    // wasmi never frees extern objects: reuse one engine object per payload.
    if let Some(r) = ctx.as_context_mut().data().externs.get(&n) {
        return Nullable::Val(*r);
    }
    let r = wasmi::ExternRef::new(&mut *ctx, n);
    ctx.as_context_mut().data_mut().externs.insert(n, r);
    Nullable::Val(r)
}
