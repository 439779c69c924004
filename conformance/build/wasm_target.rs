//! Making sure a compilation target's standard library is installed before the
//! build script builds the guest plugins for it.
//!
//! Newer rustup versions no longer add the targets named in
//! `rust-toolchain.toml` on their own (not at all when auto-install is off,
//! `RUSTUP_AUTO_INSTALL=0`), so a fresh machine with only rustup and cargo
//! would otherwise fail here after minutes of building the engines. When the
//! compiler belongs to a rustup toolchain, the target is added to that
//! toolchain (as wasm-pack does) and the caller prints one line saying so;
//! without rustup the error says what to install.
//!
//! Shared by `build.rs`, the `build_target` test and the RISC-V firmware's
//! build script (`examples/riscv-virt/build.rs`), which all include this file
//! with `#[path]`, so it depends on `std` only.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The compiler the build uses and, when it comes from rustup, how to reach
/// rustup and which toolchain it is.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// The `rustc` to ask where a target's libraries live.
    pub rustc: OsString,
    /// The `rustup` executable, when there is one.
    pub rustup: Option<PathBuf>,
    /// The rustup toolchain `rustc` belongs to (`stable-x86_64-unknown-linux-gnu`).
    pub name: Option<String>,
}

/// What [`ensure`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The target was installed already; nothing was done.
    Present,
    /// rustup added the target just now.
    Installed {
        /// The line to show the user.
        message: String,
        /// Where the target's libraries now are.
        libdir: PathBuf,
    },
}

impl Toolchain {
    /// The toolchain of the build running this build script: `RUSTC` (set by
    /// cargo), `RUSTUP_TOOLCHAIN` (set by rustup's proxies) or else the
    /// toolchain directory `rustc`'s sysroot sits in, and `rustup` found on
    /// `PATH` or in `$CARGO_HOME/bin`.
    pub fn from_env() -> Self {
        let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let name = env::var("RUSTUP_TOOLCHAIN")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| toolchain_of_sysroot(&rustc));
        Self {
            rustup: find_rustup(),
            rustc,
            name,
        }
    }
}

/// Make sure `target`'s standard library is installed for `tc`, adding it
/// with rustup when it is missing and rustup manages `tc`. The error is a
/// complete message for the user.
pub fn ensure(target: &str, tc: &Toolchain) -> Result<Outcome, String> {
    if installed(&tc.rustc, target) {
        return Ok(Outcome::Present);
    }
    let (Some(rustup), Some(name)) = (&tc.rustup, &tc.name) else {
        return Err(format!(
            "the {target} target is not installed and this compiler is not managed by rustup; \
             install the {target} standard library for it (with rustup: rustup target add {target})"
        ));
    };
    let output = Command::new(rustup)
        .args(["target", "add", "--toolchain", name, target])
        .output()
        .map_err(|e| {
            format!(
                "the {target} target is not installed, and running {} to add it failed: {e}; \
                 run: rustup target add {target}",
                rustup.display()
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "the {target} target is not installed, and `rustup target add --toolchain {name} {target}` \
             failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        ));
    }
    let Some(libdir) = libdir_with_core(&tc.rustc, target) else {
        return Err(format!(
            "`rustup target add --toolchain {name} {target}` succeeded, but {} still has no \
             standard library for {target}; is it the compiler of toolchain {name}?",
            Path::new(&tc.rustc).display()
        ));
    };
    Ok(Outcome::Installed {
        message: format!(
            "installed the {target} target for toolchain {name} with rustup (the guest plugins are built for it)"
        ),
        libdir,
    })
}

/// Whether `rustc` has a standard library (`libcore-*`) for `target`.
pub fn installed(rustc: &OsString, target: &str) -> bool {
    libdir_with_core(rustc, target).is_some()
}

/// `rustc`'s library directory for `target`, if it holds a `libcore-*`.
fn libdir_with_core(rustc: &OsString, target: &str) -> Option<PathBuf> {
    Command::new(rustc)
        .args(["--print", "target-libdir", "--target", target])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|dir| {
            std::fs::read_dir(dir).is_ok_and(|entries| {
                entries
                    .filter_map(Result::ok)
                    .any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
            })
        })
}

/// `<rustup home>/toolchains/<name>` is where rustup keeps a toolchain, so a
/// sysroot whose parent directory is `toolchains` names its toolchain.
fn toolchain_of_sysroot(rustc: &OsString) -> Option<String> {
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let parent = sysroot.parent()?;
    if parent.file_name()? != "toolchains" {
        return None;
    }
    Some(sysroot.file_name()?.to_string_lossy().into_owned())
}

fn find_rustup() -> Option<PathBuf> {
    let exe = format!("rustup{}", env::consts::EXE_SUFFIX);
    let on_path = env::var_os("PATH")
        .into_iter()
        .flat_map(|p| env::split_paths(&p).collect::<Vec<_>>());
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|h| h.join("bin"));
    on_path
        .chain(cargo_home)
        .map(|dir| dir.join(&exe))
        .find(|p| p.is_file())
}
