//! `anywasm keygen`, `anywasm sign`, `anywasm verify`: ed25519 detached
//! signatures, the scheme the plugin manager checks
//! (`anywasm_plugin::signing`; a host trusts the public key with
//! `PluginManagerBuilder::trust_key` and `require_signatures`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anywasm_plugin::signing;

/// Options of `anywasm keygen`.
#[derive(clap::Args, Debug)]
pub struct KeygenArgs {
    /// The secret key file to write (the public key goes to `<out>.pub`).
    #[arg(long, default_value = "anywasm.key")]
    out: PathBuf,
    /// Replace existing key files.
    #[arg(long)]
    force: bool,
}

/// Options of `anywasm sign`.
#[derive(clap::Args, Debug)]
pub struct SignArgs {
    /// The plugin to sign; the signature goes to `<file>.sig`.
    file: PathBuf,
    /// The secret key file (from `anywasm keygen`).
    #[arg(long)]
    key: PathBuf,
}

/// Options of `anywasm verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The plugin; its signature is read from `<file>.sig`.
    file: PathBuf,
    /// A trusted public key file (repeat for several).
    #[arg(long = "pubkey", required = true)]
    pubkeys: Vec<PathBuf>,
}

type Result<T> = std::result::Result<T, String>;

fn run(f: impl FnOnce() -> Result<()>) -> ExitCode {
    match f() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Write a new file (mode 0600 on unix for secrets), refusing to replace
/// one unless `force`.
fn create(path: &Path, contents: &str, secret: bool, force: bool) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    if secret {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    let _ = secret;
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{} exists; pass --force to replace it", path.display())
        } else {
            format!("{}: {e}", path.display())
        }
    })?;
    file.write_all(contents.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub fn keygen(args: KeygenArgs) -> ExitCode {
    run(|| {
        let key = signing::generate_key().map_err(|e| e.to_string())?;
        let public = args.out.with_extension(match args.out.extension() {
            Some(ext) => format!("{}.pub", ext.to_string_lossy()),
            None => "pub".into(),
        });
        create(&args.out, &signing::secret_key_text(&key), true, args.force)?;
        let text = signing::public_key_text(&key.verifying_key());
        create(&public, &text, false, args.force)?;
        println!("secret key: {} (keep it private)", args.out.display());
        println!("public key: {} ({})", public.display(), text.trim());
        Ok(())
    })
}

pub fn sign(args: SignArgs) -> ExitCode {
    run(|| {
        let key = signing::parse_secret_key(&read(&args.key)?)
            .map_err(|e| format!("{}: {e}", args.key.display()))?;
        let wasm = read(&args.file)?;
        let sig_path = signing::signature_path(&args.file);
        std::fs::write(&sig_path, signing::sign(&wasm, &key))
            .map_err(|e| format!("{}: {e}", sig_path.display()))?;
        println!(
            "signed {} -> {} (public key {})",
            args.file.display(),
            sig_path.display(),
            signing::public_key_text(&key.verifying_key()).trim()
        );
        Ok(())
    })
}

pub fn verify(args: VerifyArgs) -> ExitCode {
    run(|| {
        let mut trusted = Vec::new();
        for path in &args.pubkeys {
            trusted.push(
                signing::parse_public_key(&read(path)?)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
            );
        }
        signing::verify_file(&args.file, &trusted).map_err(|e| e.to_string())?;
        println!("{}: signature verified", args.file.display());
        Ok(())
    })
}
