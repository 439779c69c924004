//! Compute workloads for the anywasm benches (`benches/`), as a plugin
//! built with `anywasm-guest`. Each is plain Rust with no dependencies, so
//! every engine runs the same instructions; the host checks each result.
//! No host imports, so raw engine hosts need no linker.
//!
//! Exports (each `(i32 ptr, i32 len) -> i64`, request -> response):
//!
//! | export | request | response |
//! |---|---|---|
//! | `noop` | `()` | `()` |
//! | `echo_bytes` | `Vec<u8>` | the same bytes |
//! | `echo_buf` | `serde_bytes::ByteBuf` (same wire format as `Vec<u8>`) | the same bytes |
//! | `echo_records` | `Vec<Record>` | the same records |
//! | `fib` | `u32` n | `u64`: fib(n), computed by naive recursion |
//! | `sha256` | `(u32 rounds, Vec<u8> data)` | `Vec<u8>`: `d = sha256(data)`, then `rounds - 1` times `d = sha256(d ++ data)` |
//! | `matmul` | `u32` n | `f64`: sum of `A * B` for the n x n matrices `A[i][j] = (i*n + j) % 7`, `B[i][j] = (i + 2j) % 5` |
//! | `sieve` | `u32` n | `u32`: how many primes are below n (sieve of Eratosthenes) |
//! | `parse` | `String` JSON text | [`Summary`] of what it holds, from a tree built by a recursive-descent parser |

use anywasm_guest::{GuestError, export, plugin};
use anywasm_test_types::{Record, Summary};
use serde::{Deserialize, Serialize};

plugin! {
    name: "bench-guest",
    version: "0.1.0",
    description: "anywasm bench workloads",
}

export! {
    fn noop(_req: ()) {}

    fn echo_bytes(req: Vec<u8>) -> Vec<u8> {
        req
    }

    fn echo_buf(req: serde_bytes::ByteBuf) -> serde_bytes::ByteBuf {
        req
    }

    fn echo_records(req: Vec<Record>) -> Vec<Record> {
        req
    }

    fn fib(n: u32) -> u64 {
        fib_rec(n)
    }

    fn sha256(req: (u32, Vec<u8>)) -> Vec<u8> {
        let (rounds, data) = req;
        let mut digest = Sha256::digest(&[&data]);
        for _ in 1..rounds {
            digest = Sha256::digest(&[&digest, &data]);
        }
        digest.to_vec()
    }

    fn matmul(n: u32) -> f64 {
        let n = n as usize;
        let a: Vec<f64> = (0..n * n).map(|k| ((k / n) * n + k % n) as f64 % 7.0).collect();
        let b: Vec<f64> = (0..n * n).map(|k| ((k / n + 2 * (k % n)) % 5) as f64).collect();
        let mut c = vec![0.0f64; n * n];
        for i in 0..n {
            for k in 0..n {
                let aik = a[i * n + k];
                for j in 0..n {
                    c[i * n + j] += aik * b[k * n + j];
                }
            }
        }
        c.iter().sum()
    }

    fn sieve(n: u32) -> u32 {
        let n = n as usize;
        if n < 3 {
            return 0;
        }
        let mut composite = vec![false; n];
        let mut count = 0;
        for i in 2..n {
            if !composite[i] {
                count += 1;
                let mut j = i.saturating_mul(i);
                while j < n {
                    composite[j] = true;
                    j += i;
                }
            }
        }
        count
    }

    fn parse(text: String) -> Result<Summary, GuestError> {
        let mut p = Parser { bytes: text.as_bytes(), pos: 0 };
        let value = p.value().map_err(GuestError::new)?;
        p.skip_ws();
        if p.pos != p.bytes.len() {
            return Err(GuestError::new("trailing characters"));
        }
        let mut summary = Summary::default();
        value.summarise(&mut summary);
        Ok(summary)
    }
}

fn fib_rec(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fib_rec(n - 1) + fib_rec(n - 2)
    }
}

/// FIPS 180-4 SHA-256, over the concatenation of some slices.
struct Sha256;

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

impl Sha256 {
    fn digest(parts: &[&[u8]]) -> [u8; 32] {
        let mut h: [u32; 8] = [
            0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
            0x5be0cd19,
        ];
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut block = [0u8; 64];
        let mut fill = 0;
        for part in parts {
            for &byte in *part {
                block[fill] = byte;
                fill += 1;
                if fill == 64 {
                    compress(&mut h, &block);
                    fill = 0;
                }
            }
        }
        block[fill] = 0x80;
        fill += 1;
        if fill > 56 {
            block[fill..].fill(0);
            compress(&mut h, &block);
            fill = 0;
        }
        block[fill..56].fill(0);
        block[56..].copy_from_slice(&((total as u64) * 8).to_be_bytes());
        compress(&mut h, &block);
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

fn compress(h: &mut [u32; 8], block: &[u8; 64]) {
    let mut w = [0u32; 64];
    for (i, chunk) in block.chunks_exact(4).enumerate() {
        w[i] = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    for i in 16..64 {
        let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
        let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16]
            .wrapping_add(s0)
            .wrapping_add(w[i - 7])
            .wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = *h;
    for i in 0..64 {
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = hh
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(K[i])
            .wrapping_add(w[i]);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        hh = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    for (slot, v) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
        *slot = slot.wrapping_add(v);
    }
}

/// A JSON-like value: JSON with integer numbers only.
enum Value {
    Null,
    Bool(#[allow(dead_code)] bool),
    Num(i64),
    Str(#[allow(dead_code)] String),
    Arr(Vec<Value>),
    Obj(Vec<(String, Value)>),
}

impl Value {
    fn summarise(&self, s: &mut Summary) {
        match self {
            Value::Null | Value::Bool(_) => {}
            Value::Num(n) => {
                s.numbers += 1;
                s.sum = s.sum.wrapping_add(*n);
            }
            Value::Str(_) => s.strings += 1,
            Value::Arr(items) => {
                s.arrays += 1;
                items.iter().for_each(|v| v.summarise(s));
            }
            Value::Obj(fields) => {
                s.objects += 1;
                for (_, v) in fields {
                    s.strings += 1;
                    v.summarise(s);
                }
            }
        }
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), &'static str> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err("unexpected character")
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value, &'static str> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err("bad literal")
        }
    }

    fn value(&mut self) -> Result<Value, &'static str> {
        match self.peek().ok_or("unexpected end")? {
            b'{' => {
                self.pos += 1;
                let mut fields = Vec::new();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Value::Obj(fields));
                }
                loop {
                    let key = self.string()?;
                    self.expect(b':')?;
                    fields.push((key, self.value()?));
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Value::Obj(fields));
                        }
                        _ => return Err("expected , or }"),
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Value::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::Arr(items));
                        }
                        _ => return Err("expected , or ]"),
                    }
                }
            }
            b'"' => Ok(Value::Str(self.string()?)),
            b't' => self.literal(b"true", Value::Bool(true)),
            b'f' => self.literal(b"false", Value::Bool(false)),
            b'n' => self.literal(b"null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err("unexpected character"),
        }
    }

    fn number(&mut self) -> Result<Value, &'static str> {
        let negative = self.bytes[self.pos] == b'-';
        if negative {
            self.pos += 1;
        }
        let start = self.pos;
        let mut n: i64 = 0;
        while let Some(&d @ b'0'..=b'9') = self.bytes.get(self.pos) {
            n = n.wrapping_mul(10).wrapping_add(i64::from(d - b'0'));
            self.pos += 1;
        }
        if self.pos == start {
            return Err("bad number");
        }
        Ok(Value::Num(if negative { n.wrapping_neg() } else { n }))
    }

    fn string(&mut self) -> Result<String, &'static str> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let &b = self.bytes.get(self.pos).ok_or("unterminated string")?;
            self.pos += 1;
            match b {
                b'"' => return Ok(out),
                b'\\' => {
                    let &e = self.bytes.get(self.pos).ok_or("unterminated escape")?;
                    self.pos += 1;
                    out.push(match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        _ => return Err("unknown escape"),
                    });
                }
                _ => {
                    // Copy a run of plain bytes at once (UTF-8 stays intact).
                    let start = self.pos - 1;
                    while let Some(&c) = self.bytes.get(self.pos) {
                        if c == b'"' || c == b'\\' {
                            break;
                        }
                        self.pos += 1;
                    }
                    let run = core::str::from_utf8(&self.bytes[start..self.pos])
                        .map_err(|_| "invalid UTF-8")?;
                    out.push_str(run);
                }
            }
        }
    }
}
