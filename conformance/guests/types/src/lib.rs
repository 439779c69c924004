//! Structured payloads shared by the anywasm conformance checks (host side)
//! and the guest plugins they load, so both ends encode the same types.
//!
//! [`sample_records`] makes deterministic, varied data: nested children,
//! unicode strings, empty and large collections, every [`Shape`] variant, and
//! integers and floats at their extremes (varint and zigzag edge cases, but no
//! NaN, so that `==` after a round trip means bit-for-bit equal data).

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

/// What the bench guest's `parse` found in a JSON-like document (shared so
/// the host decodes exactly the guest's type).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Objects.
    pub objects: u32,
    /// Arrays.
    pub arrays: u32,
    /// Strings, keys included.
    pub strings: u32,
    /// Numbers.
    pub numbers: u32,
    /// Sum of all numbers (integers only in this dialect).
    pub sum: i64,
}

/// A record with every kind of field the ABI's wire format has.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Identifier (large values exercise 9-byte varints).
    pub id: u64,
    /// A name, often with non-ASCII text.
    pub name: String,
    /// A float, never NaN.
    pub score: f64,
    /// Zero or more tags (possibly empty strings).
    pub tags: Vec<String>,
    /// Signed attributes (zigzag varints, including the extremes).
    pub attrs: BTreeMap<String, i64>,
    /// An enum with struct, tuple and unit variants.
    pub shape: Shape,
    /// Nested records.
    pub children: Vec<Record>,
}

/// An enum with each kind of variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Shape {
    /// A struct variant.
    Circle {
        /// Radius.
        radius: f64,
    },
    /// A tuple variant.
    Rect(u32, u32),
    /// A unit variant.
    Empty,
}

const NAMES: [&str; 8] = [
    "alpha",
    "héllo wörld",
    "日本語のテキスト",
    "emoji 🦀🚀",
    "",
    "Ünïcödé \"quoted\" \\ back\\slash\n\ttab",
    "Ελληνικά",
    "a much longer name that goes past two hundred and fifty characters so that its length prefix needs three bytes in the varint encoding: lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.",
];

const SCORES: [f64; 8] = [
    0.0,
    -0.0,
    1.5,
    -273.15,
    f64::MAX,
    f64::MIN_POSITIVE,
    f64::INFINITY,
    core::f64::consts::PI,
];

const ATTR_VALUES: [i64; 8] = [0, -1, 1, 250, -251, 65_536, i64::MIN, i64::MAX];

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn record(rng: &mut Rng, index: usize, depth: u32) -> Record {
    let id = match index % 4 {
        0 => index as u64,
        1 => 1000 + index as u64,
        2 => (1 << 40) + index as u64,
        _ => u64::MAX - index as u64,
    };
    let name = format!("{} #{index}", NAMES[rng.below(NAMES.len())]);
    let score = if rng.below(3) == 0 {
        SCORES[rng.below(SCORES.len())]
    } else {
        (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * 1e6 - 5e5
    };
    let tags = (0..rng.below(5))
        .map(|t| match t % 3 {
            0 => String::new(),
            1 => NAMES[rng.below(NAMES.len())].to_string(),
            _ => format!("tag-{}", rng.next() % 1000),
        })
        .collect();
    let attrs = (0..rng.below(6))
        .map(|a| {
            let key = format!("k{a}-{}", NAMES[rng.below(NAMES.len())]);
            let value = if a % 2 == 0 {
                ATTR_VALUES[rng.below(ATTR_VALUES.len())]
            } else {
                rng.next() as i64
            };
            (key, value)
        })
        .collect();
    let shape = match rng.below(3) {
        0 => Shape::Circle {
            radius: rng.below(10_000) as f64 / 7.0,
        },
        1 => Shape::Rect(rng.next() as u32, rng.below(300) as u32),
        _ => Shape::Empty,
    };
    let children = if depth == 0 {
        Vec::new()
    } else {
        (0..rng.below(4))
            .map(|c| record(rng, index * 10 + c, depth - 1))
            .collect()
    };
    Record {
        id,
        name,
        score,
        tags,
        attrs,
        shape,
        children,
    }
}

/// `n` records, the same for the same `n` on every machine: the first ones
/// of `sample_records(n + 1)` are `sample_records(n)`. Records nest up to
/// two levels of children.
pub fn sample_records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let mut rng = Rng(0xA11C_E5ED ^ (i as u64).wrapping_mul(0x1000_0000_01B3));
            record(&mut rng, i, 2)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_prefix_stable_and_varied() {
        let a = sample_records(20);
        assert_eq!(a, sample_records(20));
        assert_eq!(a[..5], sample_records(5)[..]);
        assert!(a.iter().any(|r| !r.children.is_empty()));
        assert!(
            a.iter()
                .any(|r| r.children.iter().any(|c| !c.children.is_empty()))
        );
        assert!(a.iter().any(|r| matches!(r.shape, Shape::Circle { .. })));
        assert!(a.iter().any(|r| matches!(r.shape, Shape::Rect(..))));
        assert!(a.iter().any(|r| r.shape == Shape::Empty));
        assert!(a.iter().any(|r| !r.name.is_ascii()));
        assert!(a.iter().any(|r| !r.attrs.is_empty()));
        assert!(a.iter().all(|r| !r.score.is_nan()));
    }
}
