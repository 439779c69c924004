//! Script values: `.wast` arguments become [`Val`]s, and results are matched
//! against the script's patterns (exact bits, `nan:canonical`,
//! `nan:arithmetic`, per-lane v128 patterns, reference patterns, `either`).
//!
//! Floats are compared bit for bit, never as floats: `(f32.const -0)` must not
//! match `+0`, and a NaN result must match its pattern's payload rules.

use anywasm::{ExternRef, Val};
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::{WastArg, WastRet};

/// Convert a script argument; `Err` names what the contract cannot express.
pub(crate) fn arg(a: &WastArg<'_>) -> Result<Val, String> {
    let core = match a {
        WastArg::Core(c) => c,
        _ => return Err("component-model argument".into()),
    };
    Ok(match core {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(ht) => match null_kind(ht) {
            Some(RefKind::Func) => Val::FuncRef(None),
            Some(RefKind::Extern) => Val::ExternRef(None),
            None => return Err(format!("null reference of heap type {ht:?}")),
        },
        WastArgCore::RefExtern(n) => Val::ExternRef(Some(ExternRef(*n))),
        WastArgCore::RefHost(_) => return Err("host (any) reference argument".into()),
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RefKind {
    Func,
    Extern,
}

fn null_kind(ht: &HeapType<'_>) -> Option<RefKind> {
    match ht {
        HeapType::Abstract { ty, .. } => match ty {
            AbstractHeapType::Func | AbstractHeapType::NoFunc => Some(RefKind::Func),
            AbstractHeapType::Extern | AbstractHeapType::NoExtern => Some(RefKind::Extern),
            _ => None,
        },
        _ => Some(RefKind::Func),
    }
}

/// Check `got` against the expected pattern; `Err` says how it differs.
pub(crate) fn check(got: &Val, want: &WastRet<'_>) -> Result<(), String> {
    match want {
        WastRet::Core(core) => {
            if matches(got, core) {
                Ok(())
            } else {
                Err(format!("got {}, want {}", show(got), show_pattern(core)))
            }
        }
        _ => Err("component-model result".into()),
    }
}

fn matches(got: &Val, want: &WastRetCore<'_>) -> bool {
    match (want, got) {
        (WastRetCore::I32(w), Val::I32(g)) => w == g,
        (WastRetCore::I64(w), Val::I64(g)) => w == g,
        (WastRetCore::F32(p), Val::F32(g)) => f32_matches(p, *g),
        (WastRetCore::F64(p), Val::F64(g)) => f64_matches(p, *g),
        (WastRetCore::V128(p), Val::V128(g)) => v128_matches(p, *g),
        (WastRetCore::RefNull(ht), Val::FuncRef(None)) => ht
            .as_ref()
            .is_none_or(|h| null_kind(h) == Some(RefKind::Func)),
        (WastRetCore::RefNull(ht), Val::ExternRef(None)) => ht
            .as_ref()
            .is_none_or(|h| null_kind(h) == Some(RefKind::Extern)),
        (WastRetCore::RefExtern(w), Val::ExternRef(Some(g))) => w.is_none_or(|w| w == g.0),
        (WastRetCore::RefFunc(_), Val::FuncRef(Some(_))) => true,
        (WastRetCore::Either(alts), g) => alts.iter().any(|w| matches(g, w)),
        _ => false,
    }
}

fn f32_matches(p: &NanPattern<wast::token::F32>, bits: u32) -> bool {
    let nan = bits & 0x7f80_0000 == 0x7f80_0000 && bits & 0x007f_ffff != 0;
    match p {
        NanPattern::CanonicalNan => nan && bits & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => nan && bits & 0x0040_0000 != 0,
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn f64_matches(p: &NanPattern<wast::token::F64>, bits: u64) -> bool {
    let exp = 0x7ff0_0000_0000_0000u64;
    let frac = 0x000f_ffff_ffff_ffffu64;
    let nan = bits & exp == exp && bits & frac != 0;
    match p {
        NanPattern::CanonicalNan => nan && bits & !(1 << 63) == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => nan && bits & 0x0008_0000_0000_0000 != 0,
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn v128_matches(p: &V128Pattern, got: u128) -> bool {
    let b = got.to_le_bytes();
    let lane = |i: usize, n: usize| -> u64 {
        let mut out = [0u8; 8];
        out[..n].copy_from_slice(&b[i * n..i * n + n]);
        u64::from_le_bytes(out)
    };
    match p {
        V128Pattern::I8x16(w) => (0..16).all(|i| lane(i, 1) as u8 == w[i] as u8),
        V128Pattern::I16x8(w) => (0..8).all(|i| lane(i, 2) as u16 == w[i] as u16),
        V128Pattern::I32x4(w) => (0..4).all(|i| lane(i, 4) as u32 == w[i] as u32),
        V128Pattern::I64x2(w) => (0..2).all(|i| lane(i, 8) == w[i] as u64),
        V128Pattern::F32x4(w) => (0..4).all(|i| f32_matches(&w[i], lane(i, 4) as u32)),
        V128Pattern::F64x2(w) => (0..2).all(|i| f64_matches(&w[i], lane(i, 8))),
    }
}

/// A value for failure messages: floats as bits and as numbers.
pub(crate) fn show(v: &Val) -> String {
    match v {
        Val::F32(b) => format!("f32 {} (0x{b:08x})", f32::from_bits(*b)),
        Val::F64(b) => format!("f64 {} (0x{b:016x})", f64::from_bits(*b)),
        Val::V128(b) => format!("v128 0x{b:032x}"),
        other => format!("{other:?}"),
    }
}

fn show_pattern(p: &WastRetCore<'_>) -> String {
    match p {
        WastRetCore::F32(NanPattern::Value(v)) => {
            format!("f32 {} (0x{:08x})", f32::from_bits(v.bits), v.bits)
        }
        WastRetCore::F64(NanPattern::Value(v)) => {
            format!("f64 {} (0x{:016x})", f64::from_bits(v.bits), v.bits)
        }
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_patterns_follow_the_spec() {
        let canon = NanPattern::CanonicalNan;
        let arith = NanPattern::ArithmeticNan;
        assert!(f32_matches(&canon, 0x7fc0_0000));
        assert!(f32_matches(&canon, 0xffc0_0000));
        assert!(!f32_matches(&canon, 0x7fc0_0001));
        assert!(f32_matches(&arith, 0x7fc0_0001));
        assert!(!f32_matches(&arith, 0x7f80_0001));
        assert!(!f32_matches(&arith, 0x7f80_0000));
        assert!(f64_matches(
            &NanPattern::CanonicalNan,
            0xfff8_0000_0000_0000
        ));
        assert!(!f64_matches(
            &NanPattern::ArithmeticNan,
            0x7ff0_0000_0000_0001
        ));
    }
}
