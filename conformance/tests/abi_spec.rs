//! docs/abi.md matches the implementation: messages built by hand, byte by
//! byte, from the spec's layouts decode to the values they describe, and the
//! host encodes those values to the same bytes.

use std::collections::BTreeMap;

use anywasm::abi::{self, GuestError};
use anywasm_test_types::{Record, Shape};

/// varint per docs/abi.md §5.
fn varint(out: &mut Vec<u8>, v: u64) {
    match v {
        0..=250 => out.push(v as u8),
        251..=0xFFFF => {
            out.push(0xFB);
            out.extend_from_slice(&(v as u16).to_le_bytes());
        }
        0x1_0000..=0xFFFF_FFFF => {
            out.push(0xFC);
            out.extend_from_slice(&(v as u32).to_le_bytes());
        }
        _ => {
            out.push(0xFD);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[test]
fn a_record_built_from_the_spec_decodes() {
    // Record { id: 300, name: "ü", score: 1.5, tags: ["a"], attrs: {"k": -2},
    //          shape: Rect(3, 70000), children: [] } inside Ok(..).
    let mut m = Vec::new();
    varint(&mut m, 0); // envelope: Ok
    varint(&mut m, 300); // id
    string(&mut m, "ü"); // name
    m.extend_from_slice(&1.5f64.to_le_bytes()); // score
    varint(&mut m, 1); // tags: 1 element
    string(&mut m, "a");
    varint(&mut m, 1); // attrs: 1 entry
    string(&mut m, "k");
    varint(&mut m, zigzag(-2));
    varint(&mut m, 1); // shape: variant 1 = Rect
    varint(&mut m, 3);
    varint(&mut m, 70000);
    varint(&mut m, 0); // children: empty
    assert_eq!(
        &m[..4],
        &[0x00, 0xFB, 0x2C, 0x01],
        "varint of 300 per the spec table"
    );

    let want = Record {
        id: 300,
        name: "ü".into(),
        score: 1.5,
        tags: vec!["a".into()],
        attrs: BTreeMap::from([("k".to_string(), -2)]),
        shape: Shape::Rect(3, 70000),
        children: vec![],
    };
    let got: Result<Record, GuestError> = abi::decode(&m, abi::DEFAULT_MESSAGE_CAP).unwrap();
    assert_eq!(got, Ok(want.clone()));
    assert_eq!(abi::encode(&Ok::<_, GuestError>(want)).unwrap(), m);
}

#[test]
fn a_guest_error_built_from_the_spec_decodes() {
    let mut m = Vec::new();
    varint(&mut m, 1); // envelope: Err
    string(&mut m, "nope");
    let got: Result<u32, GuestError> = abi::decode(&m, abi::DEFAULT_MESSAGE_CAP).unwrap();
    assert_eq!(got, Err(GuestError::new("nope")));
}

#[test]
fn packed_results_follow_the_spec() {
    assert_eq!(abi::pack(0x10, 0x20), 0x0000_0010_0000_0020);
    assert_eq!(abi::unpack(-1), (u32::MAX, u32::MAX));
}
