//! The `anywasm:manifest` section, built at compile time by [`plugin!`].
//!
//! The text is TOML (docs/abi.md §1.2); strings are written as TOML basic
//! strings with escapes, so a description may hold any text. The name and
//! version are checked at compile time: a bad one fails the build.
//!
//! [`plugin!`]: crate::plugin

use anywasm_core::abi::MAX_MANIFEST_BYTES;

/// What [`plugin!`](crate::plugin) puts in the manifest.
#[derive(Clone, Copy, Debug)]
pub struct Manifest<'a> {
    /// `[a-z0-9_-]+`.
    pub name: &'a str,
    /// Semver `MAJOR.MINOR.PATCH[-pre][+build]`.
    pub version: &'a str,
    /// Written only if present.
    pub description: Option<&'a str>,
    /// Written only if present.
    pub entry_points: Option<&'a [&'a str]>,
    /// Always written (possibly `[]`).
    pub capabilities: &'a [&'a str],
    /// WASI access asked for (`wasi = [...]`, a `wasm32-wasip1` plugin);
    /// written only if present.
    pub wasi: Option<&'a [&'a str]>,
}

/// A writer that counts when its buffer is too small (the first pass sizes
/// the section, the second fills it).
struct Out<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Out<'_> {
    const fn byte(&mut self, b: u8) {
        if self.pos < self.buf.len() {
            self.buf[self.pos] = b;
        }
        self.pos += 1;
    }

    const fn raw(&mut self, s: &str) {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            self.byte(b[i]);
            i += 1;
        }
    }

    /// A TOML basic string: `"..."` with `"`, `\` and control characters
    /// escaped. Other UTF-8 passes through unchanged.
    const fn string(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        self.byte(b'"');
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            match c {
                b'"' => self.raw("\\\""),
                b'\\' => self.raw("\\\\"),
                b'\n' => self.raw("\\n"),
                b'\t' => self.raw("\\t"),
                b'\r' => self.raw("\\r"),
                0..=0x1F | 0x7F => {
                    self.raw("\\u00");
                    self.byte(HEX[(c >> 4) as usize]);
                    self.byte(HEX[(c & 0xF) as usize]);
                }
                _ => self.byte(c),
            }
            i += 1;
        }
        self.byte(b'"');
    }

    const fn list(&mut self, items: &[&str]) {
        self.byte(b'[');
        let mut i = 0;
        while i < items.len() {
            if i > 0 {
                self.raw(", ");
            }
            self.string(items[i]);
            i += 1;
        }
        self.byte(b']');
    }
}

const fn write(m: &Manifest<'_>, out: &mut Out<'_>) {
    out.raw("name = ");
    out.string(m.name);
    out.raw("\nversion = ");
    out.string(m.version);
    if let Some(d) = m.description {
        out.raw("\ndescription = ");
        out.string(d);
    }
    if let Some(e) = m.entry_points {
        out.raw("\nentry_points = ");
        out.list(e);
    }
    out.raw("\ncapabilities = ");
    out.list(m.capabilities);
    if let Some(w) = m.wasi {
        out.raw("\nwasi = ");
        out.list(w);
    }
    out.byte(b'\n');
}

/// Panics (a compile error in const context) if `m` is not a valid manifest.
pub const fn validate(m: &Manifest<'_>) {
    let name = m.name.as_bytes();
    if name.is_empty() {
        panic!("anywasm plugin name must not be empty");
    }
    let mut i = 0;
    while i < name.len() {
        match name[i] {
            b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => {}
            _ => panic!("anywasm plugin name must match [a-z0-9_-]+"),
        }
        i += 1;
    }
    if !is_semver(m.version.as_bytes()) {
        panic!("anywasm plugin version must be semver: MAJOR.MINOR.PATCH[-pre][+build]");
    }
    if let Some(e) = m.entry_points {
        let mut i = 0;
        while i < e.len() {
            if e[i].is_empty() {
                panic!("anywasm plugin entry point names must not be empty");
            }
            i += 1;
        }
    }
    let mut i = 0;
    while i < m.capabilities.len() {
        if m.capabilities[i].is_empty() {
            panic!("anywasm plugin capability names must not be empty");
        }
        i += 1;
    }
    if let Some(w) = m.wasi {
        let mut i = 0;
        while i < w.len() {
            if w[i].is_empty() {
                panic!("anywasm plugin WASI entries must not be empty");
            }
            i += 1;
        }
    }
}

/// Length of `m`'s manifest text. Validates `m` and the size limit.
pub const fn len(m: &Manifest<'_>) -> usize {
    validate(m);
    let mut out = Out {
        buf: &mut [],
        pos: 0,
    };
    write(m, &mut out);
    if out.pos > MAX_MANIFEST_BYTES {
        panic!("anywasm plugin manifest is larger than 64 KiB");
    }
    out.pos
}

/// `m`'s manifest text; `N` must be [`len(m)`](len).
pub const fn bytes<const N: usize>(m: &Manifest<'_>) -> [u8; N] {
    let mut buf = [0u8; N];
    let mut out = Out {
        buf: &mut buf,
        pos: 0,
    };
    write(m, &mut out);
    if out.pos != N {
        panic!("manifest length mismatch");
    }
    buf
}

/// Length of a manifest written as TOML text (`plugin!(manifest: ..)`),
/// after the checks a compiler can make: not empty, at most 64 KiB, and
/// top-level `name` and `version` keys present. The values are checked by
/// `anywasm build` and by hosts when they load the plugin.
pub const fn text_len(text: &str) -> usize {
    let b = text.as_bytes();
    if b.is_empty() {
        panic!("anywasm plugin manifest is empty");
    }
    if b.len() > MAX_MANIFEST_BYTES {
        panic!("anywasm plugin manifest is larger than 64 KiB");
    }
    if !has_top_level_key(b, b"name") {
        panic!("anywasm plugin manifest has no top-level `name = ...`");
    }
    if !has_top_level_key(b, b"version") {
        panic!("anywasm plugin manifest has no top-level `version = ...`");
    }
    b.len()
}

/// The manifest text as a section; `N` must be [`text_len(text)`](text_len).
pub const fn text_bytes<const N: usize>(text: &str) -> [u8; N] {
    let b = text.as_bytes();
    if b.len() != N {
        panic!("manifest length mismatch");
    }
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = b[i];
        i += 1;
    }
    out
}

/// Whether a line before the first `[table]` reads `key = ...` (spaces
/// around the key allowed).
const fn has_top_level_key(text: &[u8], key: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() {
        // Start of a line: skip indentation.
        while i < text.len() && (text[i] == b' ' || text[i] == b'\t') {
            i += 1;
        }
        if i < text.len() && text[i] == b'[' {
            return false;
        }
        let mut k = 0;
        while k < key.len() && i + k < text.len() && text[i + k] == key[k] {
            k += 1;
        }
        if k == key.len() {
            let mut j = i + k;
            while j < text.len() && (text[j] == b' ' || text[j] == b'\t') {
                j += 1;
            }
            if j < text.len() && text[j] == b'=' {
                return true;
            }
        }
        while i < text.len() && text[i] != b'\n' {
            i += 1;
        }
        i += 1;
    }
    false
}

/// `MAJOR.MINOR.PATCH` (no leading zeros), then optional `-pre` and `+build`,
/// dot-separated non-empty identifiers of `[0-9A-Za-z-]`.
const fn is_semver(v: &[u8]) -> bool {
    let mut i = 0;
    let mut part = 0;
    while part < 3 {
        let start = i;
        while i < v.len() && v[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || (v[start] == b'0' && i - start > 1) {
            return false;
        }
        part += 1;
        if part < 3 {
            if i >= v.len() || v[i] != b'.' {
                return false;
            }
            i += 1;
        }
    }
    if i < v.len() && v[i] == b'-' {
        i = match identifiers(v, i + 1) {
            Some(end) => end,
            None => return false,
        };
    }
    if i < v.len() && v[i] == b'+' {
        i = match identifiers(v, i + 1) {
            Some(end) => end,
            None => return false,
        };
    }
    i == v.len()
}

/// Dot-separated non-empty identifiers from `i`; the end, or `None`.
const fn identifiers(v: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let start = i;
        while i < v.len() && (v[i].is_ascii_alphanumeric() || v[i] == b'-') {
            i += 1;
        }
        if i == start {
            return None;
        }
        if i < v.len() && v[i] == b'.' {
            i += 1;
        } else {
            return Some(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: Manifest<'static> = Manifest {
        name: "echo-2_x",
        version: "1.2.0-rc.1+b5",
        description: Some("Says \"hi\"\\ back\n\tüñí\u{1}"),
        entry_points: Some(&["echo", "sum"]),
        capabilities: &["log", "kv"],
        wasi: Some(&["stdout", "clock"]),
    };
    const LEN: usize = len(&M);
    static BYTES: [u8; LEN] = bytes::<LEN>(&M);

    #[test]
    fn text_is_the_expected_toml() {
        let text = core::str::from_utf8(&BYTES).unwrap();
        assert_eq!(
            text,
            "name = \"echo-2_x\"\nversion = \"1.2.0-rc.1+b5\"\n\
             description = \"Says \\\"hi\\\"\\\\ back\\n\\tüñí\\u0001\"\n\
             entry_points = [\"echo\", \"sum\"]\ncapabilities = [\"log\", \"kv\"]\n\
             wasi = [\"stdout\", \"clock\"]\n"
        );
    }

    #[test]
    fn optional_keys_are_left_out() {
        const MIN: Manifest<'static> = Manifest {
            name: "a",
            version: "0.0.0",
            description: None,
            entry_points: None,
            capabilities: &[],
            wasi: None,
        };
        const N: usize = len(&MIN);
        let b = bytes::<N>(&MIN);
        assert_eq!(
            core::str::from_utf8(&b).unwrap(),
            "name = \"a\"\nversion = \"0.0.0\"\ncapabilities = []\n"
        );
    }

    #[test]
    fn text_manifests_need_name_and_version_at_the_top() {
        const TEXT: &str = "# comment\n  name = \"a\"\nversion=\"1.0.0\"\n[limits]\nfuel = 5\n";
        const N: usize = text_len(TEXT);
        assert_eq!(&text_bytes::<N>(TEXT), TEXT.as_bytes());
        assert!(has_top_level_key(TEXT.as_bytes(), b"name"));
        assert!(!has_top_level_key(TEXT.as_bytes(), b"fuel"));
        assert!(!has_top_level_key(b"names = 1\n", b"name"));
        assert!(!has_top_level_key(b"[x]\nname = 1\n", b"name"));
    }

    #[test]
    fn semver_is_checked() {
        for ok in [
            "0.1.0",
            "10.20.30",
            "1.0.0-alpha",
            "1.0.0-a.1-b+x.7",
            "1.0.0+build",
        ] {
            assert!(is_semver(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            "1",
            "1.0",
            "1.0.0.0",
            "01.0.0",
            "1.0.0-",
            "1.0.0+",
            "1.0.0-a..b",
            "v1.0.0",
            "1.0.0 ",
        ] {
            assert!(!is_semver(bad.as_bytes()), "{bad}");
        }
    }
}
