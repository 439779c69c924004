//! Conversions between anywasm's types and wasmer's: value types, extern
//! types and values (bit-exact). Errors are mapped in `error.rs`.

use anywasm_core::{
    Error, ErrorKind, ExternRef, ExternType, FuncRef, FuncType, GlobalType, MemoryType, TableType,
    Val, ValType,
};
use wasmer::{AsStoreMut, AsStoreRef, Mutability, Type, Value};

use crate::error::err;
use crate::store::StoreData;

/// wasmer value type -> anywasm; `None` for types anywasm does not model
/// (exception references; the exceptions proposal is disabled).
pub(crate) fn val_type(ty: Type) -> Option<ValType> {
    Some(match ty {
        Type::I32 => ValType::I32,
        Type::I64 => ValType::I64,
        Type::F32 => ValType::F32,
        Type::F64 => ValType::F64,
        Type::V128 => ValType::V128,
        Type::FuncRef => ValType::FuncRef,
        Type::ExternRef => ValType::ExternRef,
        Type::ExceptionRef => return None,
    })
}

/// anywasm value type -> wasmer.
pub(crate) fn wasmer_type(ty: ValType) -> Type {
    match ty {
        ValType::I32 => Type::I32,
        ValType::I64 => Type::I64,
        ValType::F32 => Type::F32,
        ValType::F64 => Type::F64,
        ValType::V128 => Type::V128,
        ValType::FuncRef => Type::FuncRef,
        ValType::ExternRef => Type::ExternRef,
    }
}

/// wasmer signature -> anywasm.
pub(crate) fn func_type(ty: &wasmer::FunctionType) -> Option<FuncType> {
    let params = ty
        .params()
        .iter()
        .map(|t| val_type(*t))
        .collect::<Option<Vec<_>>>()?;
    let results = ty
        .results()
        .iter()
        .map(|t| val_type(*t))
        .collect::<Option<Vec<_>>>()?;
    Some(FuncType::new(params, results))
}

/// anywasm signature -> wasmer.
pub(crate) fn wasmer_func_type(ty: &FuncType) -> wasmer::FunctionType {
    wasmer::FunctionType::new(
        ty.params()
            .iter()
            .map(|t| wasmer_type(*t))
            .collect::<Vec<_>>(),
        ty.results()
            .iter()
            .map(|t| wasmer_type(*t))
            .collect::<Vec<_>>(),
    )
}

/// wasmer extern type -> anywasm; `None` for tags and exception references.
pub(crate) fn extern_type(ty: &wasmer::ExternType) -> Option<ExternType> {
    Some(match ty {
        wasmer::ExternType::Function(f) => ExternType::Func(func_type(f)?),
        wasmer::ExternType::Global(g) => ExternType::Global(GlobalType {
            content: val_type(g.ty)?,
            mutable: g.mutability == Mutability::Var,
        }),
        wasmer::ExternType::Memory(m) => ExternType::Memory(MemoryType {
            minimum: u64::from(m.minimum.0),
            maximum: m.maximum.map(|p| u64::from(p.0)),
            memory64: false,
            shared: m.shared,
        }),
        wasmer::ExternType::Table(t) => ExternType::Table(TableType {
            element: val_type(t.ty)?,
            minimum: u64::from(t.minimum),
            maximum: t.maximum.map(u64::from),
        }),
        wasmer::ExternType::Tag(_) => return None,
    })
}

/// anywasm value -> wasmer value. `FuncRef(Some(n))` must name a function in
/// the store's funcref table (else `TypeMismatch`); an `ExternRef(Some(n))`
/// becomes a new wasmer externref holding `n`.
pub(crate) fn to_value<T>(
    data: &StoreData<T>,
    store: &mut impl AsStoreMut,
    v: &Val,
) -> Result<Value, Error> {
    Ok(match *v {
        Val::I32(x) => Value::I32(x),
        Val::I64(x) => Value::I64(x),
        Val::F32(bits) => Value::F32(f32::from_bits(bits)),
        Val::F64(bits) => Value::F64(f64::from_bits(bits)),
        Val::V128(x) => Value::V128(x),
        Val::FuncRef(None) => Value::FuncRef(None),
        Val::FuncRef(Some(FuncRef(n))) => {
            let f = data.funcs.get(n as usize).ok_or_else(|| {
                err(
                    ErrorKind::TypeMismatch,
                    format!("funcref {n} does not belong to this store"),
                )
            })?;
            Value::FuncRef(Some(f.clone()))
        }
        Val::ExternRef(None) => Value::ExternRef(None),
        Val::ExternRef(Some(ExternRef(n))) => {
            Value::ExternRef(Some(wasmer::ExternRef::new(store, n)))
        }
    })
}

/// Convert several values, into a fresh vector.
pub(crate) fn to_values<T>(
    data: &StoreData<T>,
    store: &mut impl AsStoreMut,
    vals: &[Val],
) -> Result<Vec<Value>, Error> {
    vals.iter().map(|v| to_value(data, store, v)).collect()
}

/// wasmer value -> anywasm value. Function references are entered into the
/// store's funcref table (deduplicated by the engine's function pointer).
pub(crate) fn from_value<T>(
    data: &mut StoreData<T>,
    store: &impl AsStoreRef,
    v: &Value,
) -> Result<Val, Error> {
    Ok(match v {
        Value::I32(x) => Val::I32(*x),
        Value::I64(x) => Val::I64(*x),
        Value::F32(x) => Val::F32(x.to_bits()),
        Value::F64(x) => Val::F64(x.to_bits()),
        Value::V128(x) => Val::V128(*x),
        Value::FuncRef(None) => Val::FuncRef(None),
        Value::FuncRef(Some(f)) => Val::FuncRef(Some(data.intern_func(store, f)?)),
        Value::ExternRef(None) => Val::ExternRef(None),
        Value::ExternRef(Some(r)) => match r.downcast::<u32>(store) {
            Some(n) => Val::ExternRef(Some(ExternRef(*n))),
            None => {
                return Err(err(
                    ErrorKind::TypeMismatch,
                    "externref does not hold an anywasm payload",
                ));
            }
        },
        Value::ExceptionRef(_) => {
            return Err(err(
                ErrorKind::Unsupported,
                "exception references are not supported",
            ));
        }
    })
}

/// Convert results into `out` (same length as `values`, checked by callers).
pub(crate) fn from_values_into<T>(
    data: &mut StoreData<T>,
    store: &impl AsStoreRef,
    values: &[Value],
    out: &mut [Val],
) -> Result<(), Error> {
    if values.len() != out.len() {
        return Err(err(
            ErrorKind::Engine,
            format!(
                "engine returned {} results, expected {}",
                values.len(),
                out.len()
            ),
        ));
    }
    for (slot, v) in out.iter_mut().zip(values) {
        *slot = from_value(data, store, v)?;
    }
    Ok(())
}
