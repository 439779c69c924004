//! The value model: bit-exact WebAssembly values and their types.
//!
//! Floats are carried as their IEEE-754 bit patterns (`u32`/`u64`) so that NaN
//! payloads survive every backend unchanged; this is what lets the conformance
//! suite compare results across engines bit for bit.

use alloc::vec::Vec;
use core::fmt;

/// The type of a WebAssembly value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit IEEE-754 float.
    F32,
    /// 64-bit IEEE-754 float.
    F64,
    /// 128-bit SIMD vector.
    V128,
    /// Nullable reference to a function.
    FuncRef,
    /// Nullable reference to a host value.
    ExternRef,
}

impl ValType {
    /// Whether this is a reference type (`funcref` / `externref`).
    pub fn is_ref(self) -> bool {
        matches!(self, ValType::FuncRef | ValType::ExternRef)
    }

    /// The zero value of this type (null for references).
    pub fn default_value(self) -> Val {
        match self {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::FuncRef => Val::FuncRef(None),
            ValType::ExternRef => Val::ExternRef(None),
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        })
    }
}

/// An opaque, non-null function reference.
///
/// Backends hand these out for `funcref` values read from a store (call
/// results, globals, table slots); the number is only meaningful inside the
/// store that produced it, where it can be passed back in as an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FuncRef(pub u32);

/// A non-null host reference (`externref`) carrying a host-chosen `u32`.
///
/// The payload round-trips through every backend unchanged, which is enough
/// for identity comparisons (the spec suite's `ref.extern N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExternRef(pub u32);

/// A WebAssembly value, bit-exact.
///
/// `F32`/`F64` hold raw bits: use [`Val::from`] with an `f32`/`f64` or
/// [`Val::as_f32`]/[`Val::as_f64`] to convert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Val {
    /// 32-bit integer.
    I32(i32),
    /// 64-bit integer.
    I64(i64),
    /// 32-bit float, as IEEE-754 bits.
    F32(u32),
    /// 64-bit float, as IEEE-754 bits.
    F64(u64),
    /// 128-bit vector, little-endian lanes.
    V128(u128),
    /// `funcref`; `None` is `ref.null func`.
    FuncRef(Option<FuncRef>),
    /// `externref`; `None` is `ref.null extern`.
    ExternRef(Option<ExternRef>),
}

impl Val {
    /// The type of this value.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// The `i32` inside, if this is one.
    pub fn as_i32(&self) -> Option<i32> {
        match *self {
            Val::I32(v) => Some(v),
            _ => None,
        }
    }

    /// The `i64` inside, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Val::I64(v) => Some(v),
            _ => None,
        }
    }

    /// The `f32` inside, if this is one.
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            Val::F32(v) => Some(f32::from_bits(v)),
            _ => None,
        }
    }

    /// The `f64` inside, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Val::F64(v) => Some(f64::from_bits(v)),
            _ => None,
        }
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Self {
        Val::I32(v)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::I64(v)
    }
}
impl From<f32> for Val {
    fn from(v: f32) -> Self {
        Val::F32(v.to_bits())
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Self {
        Val::F64(v.to_bits())
    }
}

/// The signature of a function.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct FuncType {
    params: Vec<ValType>,
    results: Vec<ValType>,
}

impl FuncType {
    /// A signature from parameter and result types.
    pub fn new(
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
    ) -> Self {
        Self {
            params: params.into_iter().collect(),
            results: results.into_iter().collect(),
        }
    }

    /// Parameter types.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// Result types.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, p) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        f.write_str(") -> (")?;
        for (i, r) in self.results.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{r}")?;
        }
        f.write_str(")")
    }
}

/// Type of a global.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GlobalType {
    /// Value type.
    pub content: ValType,
    /// Whether `global.set` is allowed.
    pub mutable: bool,
}

/// Type of a linear memory, sizes in 64 KiB pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemoryType {
    /// Initial size in pages.
    pub minimum: u64,
    /// Maximum size in pages, if declared.
    pub maximum: Option<u64>,
    /// 64-bit indices (memory64 proposal).
    pub memory64: bool,
    /// Shared memory (threads proposal).
    pub shared: bool,
}

/// Type of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TableType {
    /// Element type (`funcref` or `externref`).
    pub element: ValType,
    /// Initial number of elements.
    pub minimum: u64,
    /// Maximum number of elements, if declared.
    pub maximum: Option<u64>,
}

/// The type of an import or export.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A global.
    Global(GlobalType),
    /// A linear memory.
    Memory(MemoryType),
    /// A table.
    Table(TableType),
}

/// One export of a module.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExportType {
    /// Export name.
    pub name: alloc::string::String,
    /// What is exported.
    pub ty: ExternType,
}

/// One import of a module.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImportType {
    /// Module name of the import.
    pub module: alloc::string::String,
    /// Field name of the import.
    pub name: alloc::string::String,
    /// What is imported.
    pub ty: ExternType,
}

/// Scratch values for one host-function call in a backend's trampoline: on
/// the stack up to 8, on the heap beyond, so the common call allocates
/// nothing.
#[derive(Debug)]
pub struct ValBuf {
    inline: [Val; ValBuf::INLINE],
    heap: Vec<Val>,
    len: usize,
}

impl ValBuf {
    const INLINE: usize = 8;

    /// `len` values, each `I32(0)` until written.
    pub fn new(len: usize) -> Self {
        let heap = if len > Self::INLINE {
            alloc::vec![Val::I32(0); len]
        } else {
            Vec::new()
        };
        Self {
            inline: [Val::I32(0); Self::INLINE],
            heap,
            len,
        }
    }

    /// The values.
    pub fn as_mut_slice(&mut self) -> &mut [Val] {
        if self.len > Self::INLINE {
            &mut self.heap
        } else {
            &mut self.inline[..self.len]
        }
    }

    /// Run `f` with an argument slice of `params` values and a result
    /// slice of `results` values (each `I32(0)` until written): arrays of
    /// exactly that length for the common arities (up to four parameters
    /// and one result), so a trampoline writes no more slots than the
    /// signature has; [`ValBuf`]s beyond.
    ///
    /// ```
    /// use anywasm_core::{Val, ValBuf};
    /// for (p, r) in [(2, 1), (0, 0), (9, 3)] {
    ///     let lens = ValBuf::with_slices(p, r, |args, results| {
    ///         assert!(args.iter().chain(results.iter()).all(|v| *v == Val::I32(0)));
    ///         (args.len(), results.len())
    ///     });
    ///     assert_eq!(lens, (p, r));
    /// }
    /// ```
    #[inline]
    pub fn with_slices<R>(
        params: usize,
        results: usize,
        f: impl FnOnce(&mut [Val], &mut [Val]) -> R,
    ) -> R {
        macro_rules! exact {
            ($(($p:literal, $r:literal)),*) => {
                match (params, results) {
                    $(($p, $r) => f(&mut [Val::I32(0); $p], &mut [Val::I32(0); $r]),)*
                    _ => {
                        let (mut args, mut outs) = (ValBuf::new(params), ValBuf::new(results));
                        f(args.as_mut_slice(), outs.as_mut_slice())
                    }
                }
            };
        }
        exact!(
            (0, 0),
            (1, 0),
            (2, 0),
            (3, 0),
            (4, 0),
            (0, 1),
            (1, 1),
            (2, 1),
            (3, 1),
            (4, 1)
        )
    }
}
