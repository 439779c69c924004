//! WASI filesystem sandboxing, tried on every engine: escapes from a
//! preopen (`..`, absolute paths, symlinks out, a symlink swapped while the
//! guest opens through it), read-only preopens, and `fd_readdir` with tiny
//! buffers.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anywasm_wasi::abi::{Errno, oflags, rights};
use anywasm_wasi::{DirPerms, WasiCtx};

use super::check;
use super::wasi_guest::{DATA, Guest, OUT, PATH, PATH2, i};
use crate::harness::expect_eq;
use crate::{Check, Ctx};

const READ: u64 = rights::FD_READ;

/// `errno` must be one of `allowed`.
pub(crate) fn expect_errno(what: &str, got: u16, allowed: &[Errno]) -> Result<(), String> {
    if allowed.iter().any(|e| e.0 == got) {
        Ok(())
    } else {
        Err(format!(
            "{what}: errno {got} ({}), want one of {allowed:?}",
            Errno(got).name()
        ))
    }
}

/// A sandbox layout: `<tmp>/inside` (preopened as `/`, holding `file`
/// = "inside" and an empty directory `d`) and `<tmp>/secret` = "SECRET"
/// beside it.
fn layout() -> Result<tempfile::TempDir, String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let inside = tmp.path().join("inside");
    std::fs::create_dir(&inside).map_err(|e| e.to_string())?;
    std::fs::write(inside.join("file"), "inside").map_err(|e| e.to_string())?;
    std::fs::create_dir(inside.join("d")).map_err(|e| e.to_string())?;
    std::fs::write(tmp.path().join("secret"), "SECRET").map_err(|e| e.to_string())?;
    Ok(tmp)
}

fn guest(cx: &Ctx, root: &Path, perms: DirPerms) -> Result<Guest, String> {
    let ctx = WasiCtx::builder()
        .preopen_dir(root.join("inside"), "/", perms)
        .map_err(|e| e.to_string())?
        .build();
    Guest::new(cx, ctx)
}

const ESCAPE: &[Errno] = &[Errno::PERM, Errno::NOTCAPABLE];

fn escapes(cx: &Ctx) -> Result<(), String> {
    let tmp = layout()?;
    let mut g = guest(cx, tmp.path(), DirPerms::ReadWrite)?;
    for path in [
        "../secret",
        "/secret",
        "d/../../secret",
        "./../inside/../secret",
    ] {
        let r = g.open(3, path, 0, READ)?;
        expect_errno(path, r.err().unwrap_or(0), ESCAPE)?;
    }
    let absolute = tmp.path().join("secret");
    let r = g.open(3, &absolute.to_string_lossy(), 0, READ)?;
    expect_errno("absolute host path", r.err().unwrap_or(0), ESCAPE)?;
    let r = g.open(3, "../created", oflags::CREAT as u32, rights::FD_WRITE)?;
    expect_errno("create ../created", r.err().unwrap_or(0), ESCAPE)?;
    expect_eq(
        "nothing created outside",
        tmp.path().join("created").exists(),
        false,
    )?;
    let e = g.path_call("path_create_directory", 3, "../made")?;
    expect_errno("mkdir ../made", e, ESCAPE)?;
    expect_eq(
        "no directory outside",
        tmp.path().join("made").exists(),
        false,
    )?;
    // Inside still works.
    let fd = g
        .open(3, "file", 0, READ)?
        .map_err(|e| format!("open file: errno {e}"))?;
    let data = g.read(fd, 64)?.map_err(|e| format!("read: errno {e}"))?;
    expect_eq("inside content", data.as_slice(), b"inside")
}

fn symlinks_out(cx: &Ctx) -> Result<(), String> {
    let tmp = layout()?;
    let inside = tmp.path().join("inside");
    std::os::unix::fs::symlink(tmp.path(), inside.join("abs")).map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink("..", inside.join("up")).map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink("../secret", inside.join("leak")).map_err(|e| e.to_string())?;
    let mut g = guest(cx, tmp.path(), DirPerms::ReadWrite)?;
    for path in ["abs/secret", "up/secret", "leak"] {
        let r = g.open(3, path, 0, READ)?;
        expect_errno(path, r.err().unwrap_or(0), ESCAPE)?;
        g.put(PATH, path.as_bytes())?;
        let e = g.call(
            "path_filestat_get",
            &[i(3), i(1), i(PATH), i(path.len() as u32), i(DATA)],
        )?;
        expect_errno(&format!("stat {path}"), e, ESCAPE)?;
    }
    // A guest-made symlink pointing out is no way out either.
    let (target, link) = ("../secret", "mine");
    g.put(PATH2, target.as_bytes())?;
    g.put(PATH, link.as_bytes())?;
    let e = g.call(
        "path_symlink",
        &[
            i(PATH2),
            i(target.len() as u32),
            i(3),
            i(PATH),
            i(link.len() as u32),
        ],
    )?;
    if e == 0 {
        let r = g.open(3, link, 0, READ)?;
        expect_errno(
            "open through a guest symlink out",
            r.err().unwrap_or(0),
            ESCAPE,
        )?;
    } else {
        expect_errno("symlink to ../secret", e, ESCAPE)?;
    }
    // An absolute target is refused outright.
    let target = "/etc";
    g.put(PATH2, target.as_bytes())?;
    let e = g.call("path_symlink", &[i(PATH2), i(4), i(3), i(PATH), i(4)])?;
    expect_errno("symlink to /etc", e, ESCAPE)
}

/// A host thread flips `inside/flip` between `sub` (inside) and the
/// directory holding `secret` (outside) while the guest opens
/// `flip/secret` over and over: whatever the interleaving, the guest never
/// reads "SECRET".
fn symlink_swap(cx: &Ctx) -> Result<(), String> {
    let tmp = layout()?;
    let inside = tmp.path().join("inside");
    std::fs::create_dir(inside.join("sub")).map_err(|e| e.to_string())?;
    std::fs::write(inside.join("sub/secret"), "decoy").map_err(|e| e.to_string())?;
    let link = inside.join("flip");
    std::os::unix::fs::symlink("sub", &link).map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (stop, link, out, tmp) = (
            stop.clone(),
            link.clone(),
            tmp.path().to_path_buf(),
            inside.clone(),
        );
        std::thread::spawn(move || {
            let staged = tmp.join("flip.new");
            let mut outward = true;
            while !stop.load(Ordering::Relaxed) {
                let _ = std::fs::remove_file(&staged);
                let target: &Path = if outward { &out } else { Path::new("sub") };
                if std::os::unix::fs::symlink(target, &staged).is_ok() {
                    let _ = std::fs::rename(&staged, &link);
                }
                outward = !outward;
            }
        })
    };
    let mut g = guest(cx, tmp.path(), DirPerms::ReadWrite)?;
    let mut result = Ok(());
    for n in 0..300 {
        match g.open(3, "flip/secret", 0, READ) {
            Ok(Ok(fd)) => {
                let data = g.read(fd, 64)?.unwrap_or_default();
                g.call("fd_close", &[i(fd)])?;
                if data == b"SECRET" {
                    result = Err(format!("attempt {n} read the file outside the preopen"));
                    break;
                }
            }
            Ok(Err(_)) => {}
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = flipper.join();
    result
}

fn read_only(cx: &Ctx) -> Result<(), String> {
    let tmp = layout()?;
    let mut g = guest(cx, tmp.path(), DirPerms::ReadOnly)?;
    let cases: [(&str, u32, u64); 4] = [
        ("file", oflags::TRUNC as u32, READ),
        ("file", 0, rights::FD_WRITE),
        ("new", oflags::CREAT as u32, READ),
        ("new", (oflags::CREAT | oflags::EXCL) as u32, READ),
    ];
    for (path, of, r) in cases {
        let got = g.open(3, path, of, r)?;
        expect_errno(
            &format!("open {path} oflags {of:#x}"),
            got.err().unwrap_or(0),
            &[Errno::PERM],
        )?;
    }
    for call in [
        "path_create_directory",
        "path_unlink_file",
        "path_remove_directory",
    ] {
        let e = g.path_call(call, 3, "file")?;
        expect_errno(call, e, &[Errno::PERM])?;
    }
    g.put(PATH, b"file")?;
    g.put(PATH2, b"moved")?;
    let e = g.call("path_rename", &[i(3), i(PATH), i(4), i(3), i(PATH2), i(5)])?;
    expect_errno("rename", e, &[Errno::PERM])?;
    // Reading still works, and nothing changed on the host.
    let fd = g
        .open(3, "file", 0, READ)?
        .map_err(|e| format!("open: errno {e}"))?;
    let e = g.call("fd_filestat_set_size", &[i(fd), anywasm::Val::I64(0)])?;
    expect_errno(
        "set_size on a read-only file",
        e,
        &[Errno::BADF, Errno::PERM],
    )?;
    let data = g.read(fd, 64)?.map_err(|e| format!("read: errno {e}"))?;
    expect_eq("content", data.as_slice(), b"inside")?;
    expect_eq("no new file", tmp.path().join("inside/new").exists(), false)
}

/// Page through a directory of five entries with buffers of 0, 1, 23, 24,
/// 25 and 40 bytes: the buffer is always filled exactly, and resuming from
/// the last complete entry's `d_next` yields every entry once.
fn readdir_tiny(cx: &Ctx) -> Result<(), String> {
    let tmp = layout()?;
    for n in ["aa", "bb"] {
        std::fs::write(tmp.path().join("inside").join(n), "").map_err(|e| e.to_string())?;
    }
    let mut g = guest(cx, tmp.path(), DirPerms::ReadOnly)?;
    for len in [0u32, 1, 23, 24, 25] {
        let e = g.call(
            "fd_readdir",
            &[i(3), i(DATA), i(len), anywasm::Val::I64(0), i(OUT)],
        )?;
        expect_errno(&format!("readdir into {len} bytes"), e, &[Errno::SUCCESS])?;
        expect_eq(&format!("bufused for {len} bytes"), g.u32_at(OUT)?, len)?;
    }
    let mut names = Vec::new();
    let mut cookie = 0u64;
    for _ in 0..100 {
        let e = g.call(
            "fd_readdir",
            &[
                i(3),
                i(DATA),
                i(40),
                anywasm::Val::I64(cookie as i64),
                i(OUT),
            ],
        )?;
        expect_errno("readdir page", e, &[Errno::SUCCESS])?;
        let used = g.u32_at(OUT)? as usize;
        let buf = g.get(DATA, used)?;
        let mut at = 0;
        while at + 24 <= used {
            let next = u64::from_le_bytes(buf[at..at + 8].try_into().unwrap_or_default());
            let namlen =
                u32::from_le_bytes(buf[at + 16..at + 20].try_into().unwrap_or_default()) as usize;
            if at + 24 + namlen > used {
                break;
            }
            names.push(String::from_utf8_lossy(&buf[at + 24..at + 24 + namlen]).into_owned());
            cookie = next;
            at += 24 + namlen;
        }
        if used < 40 {
            break;
        }
    }
    names.sort();
    expect_eq(
        "entries",
        names,
        vec![".", "..", "aa", "bb", "d", "file"]
            .into_iter()
            .map(String::from)
            .collect(),
    )
}

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "wasi/path_escape",
            "`..`, absolute and host paths out of a preopen are EPERM; nothing outside is created",
            escapes
        ),
        check!(
            "wasi/symlink_escape",
            "symlinks leading out of a preopen (absolute, relative, guest-made) are EPERM",
            symlinks_out
        ),
        check!(
            "wasi/symlink_swap",
            "a symlink swapped between inside and outside during opens never leaks an outside file",
            symlink_swap
        ),
        check!(
            "wasi/read_only_preopen",
            "a read-only preopen refuses create, truncate, write, mkdir, unlink, rename with EPERM",
            read_only
        ),
        check!(
            "wasi/readdir_tiny_buffers",
            "fd_readdir fills 0/1/23/24/25-byte buffers exactly and pages through every entry",
            readdir_tiny
        ),
    ]
}
