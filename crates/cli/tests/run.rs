//! `anywasm run` as a user runs it: the real binary, a `wasm32-wasip1`
//! hello-world command, on every engine.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anywasm_conformance::guests::HELLO_WASI;

/// The binary, with its default module cache in the target directory
/// rather than the user's (tests that look at the cache give it their own).
fn anywasm() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_anywasm"));
    cmd.env_remove("ANYWASM_CACHE_DIR")
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"));
    cmd
}

/// `hello.wasm` written into a new directory.
fn hello_module() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("hello.wasm");
    std::fs::write(&wasm, HELLO_WASI).unwrap();
    (dir, wasm)
}

/// `anywasm run --engine ENGINE <flags> hello.wasm one two` with the
/// default module cache under `cache_home`, checked to have run.
fn run_hello(engine: &str, cache_home: &Path, flags: &[&OsStr], wasm: &Path) -> Output {
    let out = anywasm()
        .env("XDG_CACHE_HOME", cache_home)
        .args(["run", "--engine", engine])
        .args(flags)
        .arg(wasm)
        .args(["one", "two"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello, world\none\ntwo\n",
        "{engine}: stderr: {stderr}"
    );
    assert_eq!(out.status.code(), Some(2), "{engine}: stderr: {stderr}");
    out
}

/// The names of the files in `dir` (none if it does not exist).
fn files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn hello_world_prints_and_exits_with_its_status_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("hello.wasm");
    std::fs::write(&wasm, HELLO_WASI).unwrap();
    for engine in anywasm::compiled_backends() {
        let out = anywasm()
            .args(["run", "--engine", engine.name()])
            .arg(&wasm)
            .args(["plain", "-x", "--dir", "a b"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout,
            "hello, world\nplain\n-x\n--dir\na b\n",
            "{engine}: stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(4), "{engine}");
    }
}

#[test]
fn version_names_the_binary() {
    let out = anywasm().arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("anywasm {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn invoke_calls_one_export() {
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("add.wat");
    std::fs::write(
        &wat,
        r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#,
    )
    .unwrap();
    let out = anywasm()
        .args([
            "run",
            "--invoke",
            "add",
            "-e",
            anywasm::compiled_backends()[0].name(),
        ])
        .arg(&wat)
        .args(["40", "-2"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "38\n");
    assert!(out.status.success());
}

/// The file's inode number (unix; `None` elsewhere).
fn inode(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    return Some(std::os::unix::fs::MetadataExt::ino(
        &std::fs::metadata(path).unwrap(),
    ));
    #[cfg(not(unix))]
    return None;
}

/// The engines compiled in that cache compiled code (wasmi has none).
fn caching_engines() -> impl Iterator<Item = &'static str> {
    anywasm::compiled_backends()
        .iter()
        .map(|b| b.name())
        .filter(|&name| name != "wasmi")
}

#[test]
fn cache_dir_keeps_the_compiled_module_for_the_next_run() {
    let (_module_dir, wasm) = hello_module();
    let home = tempfile::tempdir().unwrap();
    for engine in caching_engines() {
        let cache = tempfile::tempdir().unwrap();
        let flags = ["--cache-dir".as_ref(), cache.path().as_os_str()];
        let first = run_hello(engine, home.path(), &flags, &wasm);
        assert!(first.stderr.is_empty(), "{engine}: {first:?}");
        let entries = files(cache.path());
        assert_eq!(entries.len(), 1, "{engine}: {entries:?}");
        assert!(entries[0].ends_with(".artifact"), "{engine}: {entries:?}");
        let entry = cache.path().join(&entries[0]);
        let written = inode(&entry);
        let second = run_hello(engine, home.path(), &flags, &wasm);
        assert!(second.stderr.is_empty(), "{engine}: {second:?}");
        assert_eq!(files(cache.path()), entries, "{engine}");
        // Read, not rewritten: a miss would rename a new file into place.
        assert_eq!(inode(&entry), written, "{engine}: the entry was rewritten");
    }
    assert_eq!(
        files(home.path()),
        Vec::<String>::new(),
        "default cache used"
    );
}

#[test]
fn default_cache_is_under_xdg_cache_home() {
    let (_module_dir, wasm) = hello_module();
    let home = tempfile::tempdir().unwrap();
    for engine in caching_engines() {
        let out = run_hello(engine, home.path(), &[], &wasm);
        assert!(out.stderr.is_empty(), "{engine}: {out:?}");
    }
    let entries = files(&home.path().join("anywasm/modules"));
    assert_eq!(entries.len(), caching_engines().count(), "{entries:?}");
}

#[test]
fn no_cache_reads_and_writes_no_cache() {
    let (_module_dir, wasm) = hello_module();
    let home = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    for engine in anywasm::compiled_backends() {
        let out = run_hello(engine.name(), home.path(), &["--no-cache".as_ref()], &wasm);
        assert!(out.stderr.is_empty(), "{engine}: {out:?}");
        let flags = [
            "--no-cache".as_ref(),
            "--cache-dir".as_ref(),
            cache.path().as_os_str(),
        ];
        let out = run_hello(engine.name(), home.path(), &flags, &wasm);
        assert!(out.stderr.is_empty(), "{engine}: {out:?}");
    }
    assert_eq!(files(cache.path()), Vec::<String>::new());
    assert_eq!(files(home.path()), Vec::<String>::new());
}

/// The one line a run prints about a cache it could not use.
fn one_warning(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("warning: module cache: "), "{stderr}");
    assert!(
        stderr.ends_with("; compiling without the cache\n"),
        "{stderr}"
    );
    stderr
}

#[test]
fn an_unusable_cache_dir_is_reported_and_the_module_still_runs() {
    let (_module_dir, wasm) = hello_module();
    let home = tempfile::tempdir().unwrap();
    let not_a_dir = home.path().join("file");
    std::fs::write(&not_a_dir, b"").unwrap();
    let mut unusable = vec![(not_a_dir, "not a directory")];
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let shared = home.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        unusable.push((shared, "other users can write it"));
    }
    for engine in caching_engines() {
        for (dir, why) in &unusable {
            let flags = ["--cache-dir".as_ref(), dir.as_os_str()];
            let out = run_hello(engine, home.path(), &flags, &wasm);
            let warning = one_warning(&out);
            assert!(warning.contains(why), "{engine}: {warning}");
        }
    }
    assert_eq!(files(&home.path().join("shared")), Vec::<String>::new());
}

#[test]
fn the_module_directory_is_never_read_as_the_cache() {
    let (module_dir, wasm) = hello_module();
    let home = tempfile::tempdir().unwrap();
    let inside = module_dir.path().join("sub");
    std::fs::create_dir(&inside).unwrap();
    std::fs::rename(&wasm, inside.join("hello.wasm")).unwrap();
    let wasm = inside.join("hello.wasm");
    for engine in caching_engines() {
        // The module's own directory, and one above it.
        for dir in [inside.as_path(), module_dir.path()] {
            let flags = ["--cache-dir".as_ref(), dir.as_os_str()];
            let warning = one_warning(&run_hello(engine, home.path(), &flags, &wasm));
            assert!(warning.contains("holds the module itself"), "{warning}");
        }
    }
    assert_eq!(files(&inside), ["hello.wasm"]);
    assert_eq!(files(module_dir.path()), ["sub"]);
}

/// `--max-functions` and `--max-module-bytes` set the bounds checked
/// before compiling: a module over one is refused, naming the flag that
/// raises it, and `none` lifts it.
#[test]
fn compile_bounds_come_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("two.wat");
    std::fs::write(
        &wat,
        r#"(module
             (func $one (result i32) i32.const 1)
             (func (export "two") (result i32) call $one call $one i32.add))"#,
    )
    .unwrap();
    let run = |flags: &[&str]| {
        anywasm()
            .args(["run", "--no-cache", "--invoke", "two", "-e"])
            .arg(anywasm::compiled_backends()[0].name())
            .args(flags)
            .arg(&wat)
            .output()
            .unwrap()
    };
    for flags in [
        &[][..],
        &["--max-functions", "2"],
        &["--max-functions", "none"],
        &["--max-module-bytes", "none"],
    ] {
        let out = run(flags);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "2\n", "{flags:?}");
        assert!(out.status.success(), "{flags:?}");
    }
    for (flags, says) in [
        (["--max-functions", "1"], "(raise it with --max-functions)"),
        (
            ["--max-module-bytes", "8"],
            "(raise it with --max-module-bytes)",
        ),
    ] {
        let out = run(&flags);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{flags:?}: {stderr}");
        assert_eq!(out.status.code(), Some(1), "{flags:?}: {stderr}");
    }
    let out = run(&["--max-functions", "lots"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`none` for no bound"), "{stderr}");
    assert!(!out.status.success());
}
