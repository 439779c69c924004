//! The official WASI test suite (wasi-testsuite, `wasm32-wasip1` builds),
//! run through anywasm's own WASI on every engine.
//!
//! The suite is not vendored: it is read from the directory named by the
//! environment variable `ANYWASM_WASI_TESTSUITE`, or else from
//! `../shared/wasi-testsuite` beside the repository. With the variable set,
//! a missing directory is an error; without it, the tests are reported as
//! ignored (a fresh clone without the suite still builds and tests).
//!
//! Each test is a `.wasm` program and an optional `.json` spec (`args`,
//! `env`, `root`, `exit_code`, `stdout`, `stderr`; missing fields take the
//! suite's defaults). The `root` directory is copied to a fresh temporary
//! directory for every run and preopened there as the guest's `/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anywasm::{BackendKind, Config, Limits, Linker, Sandbox};
use anywasm_wasi::{Capture, DirPerms, Output, WasiCtx, add_to_linker, capability, run_command};
use serde::Deserialize;

/// The environment variable naming the suite's directory.
pub const SUITE_ENV: &str = "ANYWASM_WASI_TESTSUITE";

/// The suites and their tests, as pinned (upstream commit e1f53e05): a
/// directory with a test missing, or with one not listed here, is a
/// failure, so a wrong or partial copy cannot pass quietly.
pub const SUITES: &[(&str, &[&str])] = &[
    (
        "rust",
        &[
            "big_random_buf",
            "clock_time_get",
            "close_preopen",
            "dangling_fd",
            "dangling_symlink",
            "dir_fd_op_failures",
            "directory_seek",
            "fd_advise",
            "fd_fdstat_set_rights",
            "fd_filestat_set",
            "fd_flags_set",
            "fd_readdir",
            "file_allocate",
            "file_pread_pwrite",
            "file_seek_tell",
            "file_truncation",
            "file_unbuffered_write",
            "fstflags_validate",
            "interesting_paths",
            "isatty",
            "nofollow_errors",
            "overwrite_preopen",
            "path_exists",
            "path_filestat",
            "path_link",
            "path_open_create_existing",
            "path_open_dirfd_not_dir",
            "path_open_missing",
            "path_open_nonblock",
            "path_open_preopen",
            "path_open_read_write",
            "path_rename",
            "path_rename_dir_trailing_slashes",
            "path_symlink_trailing_slashes",
            "poll_oneoff_stdio",
            "readlink",
            "remove_directory_trailing_slashes",
            "remove_nonempty_directory",
            "renumber",
            "sched_yield",
            "stdio",
            "symlink_create",
            "symlink_filestat",
            "symlink_loop",
            "truncation_rights",
            "unlink_file_trailing_slashes",
        ],
    ),
    (
        "c",
        &[
            "clock_getres-monotonic",
            "clock_getres-realtime",
            "clock_gettime-monotonic",
            "clock_gettime-realtime",
            "fdopendir-with-access",
            "fopen-with-access",
            "fopen-with-no-access",
            "lseek",
            "pread-with-access",
            "pwrite-with-access",
            "pwrite-with-append",
            "sock_shutdown-invalid_fd",
            "sock_shutdown-not_sock",
            "stat-dev-ino",
        ],
    ),
];

/// Where the suite is, or why it is not there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// The suite's directory.
    Found(PathBuf),
    /// `ANYWASM_WASI_TESTSUITE` is set but names no directory: an error.
    Missing(String),
    /// Not set, and not beside the repository: the tests are skipped.
    Absent(String),
}

/// Find the suite (see the module docs).
pub fn locate() -> Location {
    if let Some(dir) = std::env::var_os(SUITE_ENV) {
        let dir = PathBuf::from(dir);
        return if dir.is_dir() {
            Location::Found(dir)
        } else {
            Location::Missing(format!("{SUITE_ENV}={} is not a directory", dir.display()))
        };
    }
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/wasi-testsuite");
    if default.is_dir() {
        Location::Found(default)
    } else {
        Location::Absent(format!(
            "wasi-testsuite not found at {} and {SUITE_ENV} is not set; skipping it",
            default.display()
        ))
    }
}

/// A test's spec; absent fields take the suite's defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Spec {
    args: Vec<String>,
    env: BTreeMap<String, String>,
    root: Option<String>,
    exit_code: u32,
    stdout: Option<String>,
    stderr: Option<String>,
}

/// Every `<suite>/<test>` the directory holds that [`SUITES`] does not
/// list, and every listed one it lacks.
pub fn check_listing(dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for (suite, tests) in SUITES {
        let Ok(entries) = std::fs::read_dir(dir.join(suite)) else {
            problems.push(format!("{suite}: directory missing"));
            continue;
        };
        let found: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".wasm")
                    .map(String::from)
            })
            .collect();
        for t in &found {
            if !tests.contains(&t.as_str()) {
                problems.push(format!("{suite}/{t}: not in the pinned list"));
            }
        }
        for t in *tests {
            if !found.iter().any(|f| f == t) {
                problems.push(format!("{suite}/{t}: missing"));
            }
        }
    }
    problems
}

/// Longest a test may run (a hang is a failure, not a stuck suite).
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Run `<suite>/<test>` of the suite in `dir` on `backend` and check it
/// against its spec.
pub fn run(dir: &Path, backend: BackendKind, suite: &str, test: &str) -> Result<(), String> {
    let base = dir.join(suite);
    let wasm_path = base.join(format!("{test}.wasm"));
    let wasm = std::fs::read(&wasm_path).map_err(|e| format!("{}: {e}", wasm_path.display()))?;
    let spec: Spec = match std::fs::read_to_string(base.join(format!("{test}.json"))) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{test}.json: {e}"))?,
        Err(_) => Spec::default(),
    };
    let stdout = Capture::new(1 << 20);
    let stderr = Capture::new(1 << 20);
    let mut builder = WasiCtx::builder()
        .arg(format!("{test}.wasm"))
        .args(&spec.args)
        .stdout(Output::Capture(stdout.clone()))
        .stderr(Output::Capture(stderr.clone()))
        .clocks()
        .os_random();
    for (k, v) in &spec.env {
        builder = builder.env(k, v);
    }
    // Kept alive until the run ends; removed on drop.
    let scratch = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    if let Some(root) = &spec.root {
        let copy = scratch.path().join("root");
        copy_tree(&base.join(root), &copy).map_err(|e| format!("copying {root}: {e}"))?;
        builder = builder
            .preopen_dir(&copy, "/", DirPerms::ReadWrite)
            .map_err(|e| format!("preopen: {e}"))?;
    }
    let mut linker = Linker::new();
    add_to_linker(&mut linker);
    let engine = anywasm::engine::<WasiCtx>(backend, &Config::new().timeouts(true))
        .map_err(|e| e.to_string())?;
    let limits = Limits::new().timeout(TEST_TIMEOUT);
    let mut sandbox = Sandbox::builder(&*engine)
        .linker(&linker)
        .capabilities(&capability::ALL.into_iter().collect())
        .data(builder.build())
        .limits(&limits)
        .build(&wasm)
        .map_err(|e| format!("instantiate: {e}"))?;
    let instance = sandbox.instance();
    let status = run_command(sandbox.store_mut(), instance)
        .map_err(|e| format!("{e}\nstdout: {}\nstderr: {}", stdout.text(), stderr.text()))?;
    let mut problems = Vec::new();
    if status != spec.exit_code {
        problems.push(format!("exit status {status}, want {}", spec.exit_code));
    }
    if let Some(want) = &spec.stdout
        && stdout.text() != *want
    {
        problems.push(format!("stdout {:?}, want {want:?}", stdout.text()));
    }
    if let Some(want) = &spec.stderr
        && stderr.text() != *want
    {
        problems.push(format!("stderr {:?}, want {want:?}", stderr.text()));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\nstdout: {}\nstderr: {}",
            problems.join("; "),
            stdout.text(),
            stderr.text()
        ))
    }
}

/// Copy a fixture tree, writable (the suite's copy may be read-only), and
/// without the `*.cleanup` files an earlier run may have left.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().ends_with(".cleanup") {
            continue;
        }
        let ty = entry.file_type()?;
        let target = to.join(&name);
        if ty.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if ty.is_file() {
            std::fs::copy(entry.path(), &target)?;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644))?;
        }
    }
    Ok(())
}
