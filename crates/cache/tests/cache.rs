//! The module cache on real engines: hits, and every way an entry can be
//! bad (corrupt, another engine version, another configuration,
//! truncated, not a file, a read-only directory) ending in a compiled
//! module that works and a typed reason, never in a loaded bad entry.

use std::path::Path;

use anywasm::{BackendKind, Capabilities, Config, DynRuntime, Limits, Linker, Plugin, abi};
use anywasm_cache::{CacheError, Miss, ModuleCache, Outcome, Rejected};
use anywasm_conformance::guests::{ABI_GUEST, ECHO_GUEST};

/// The engines that have artifacts.
const JIT: [BackendKind; 2] = [BackendKind::Wasmtime, BackendKind::Wasmer];

fn engine(kind: BackendKind, config: &Config) -> Box<dyn DynRuntime<()>> {
    anywasm::engine(kind, config).expect("engine")
}

/// The echo guest from `module` answers a call: the module is sound.
fn works(engine: &dyn DynRuntime<()>, module: &anywasm::DynModule) {
    let mut plugin = Plugin::from_module(
        engine,
        module,
        abi::manifest_text(ECHO_GUEST).unwrap().map(str::to_string),
        &Linker::new(),
        &Capabilities::none(),
        (),
        &Limits::new(),
    )
    .expect("instantiate");
    let back: Vec<u8> = plugin.call("echo", &vec![1u8, 2, 3]).expect("echo");
    assert_eq!(back, [1, 2, 3]);
}

fn cache(dir: &Path) -> ModuleCache {
    ModuleCache::open(dir.join("modules")).expect("open cache")
}

/// Load once so the entry exists; its path.
fn populated(cache: &ModuleCache, engine: &dyn DynRuntime<()>) -> std::path::PathBuf {
    let first = cache.load(engine, ECHO_GUEST).expect("load");
    assert!(
        matches!(
            first.outcome,
            Outcome::Compiled {
                why: Miss::Absent,
                stored: Ok(())
            }
        ),
        "{:?}",
        first.outcome
    );
    cache.entry_path(engine, ECHO_GUEST).expect("entry path")
}

/// Load after damaging the entry: compiled (never loaded), the reason as
/// expected, the module sound, and the entry rewritten so the next load hits.
fn expect_rejected(
    cache: &ModuleCache,
    engine: &dyn DynRuntime<()>,
    want: impl Fn(&Rejected) -> bool,
) {
    let before = cache.stats();
    let again = cache.load(engine, ECHO_GUEST).expect("load");
    let reason = again.outcome.rejected().cloned();
    assert!(
        reason.as_ref().is_some_and(&want),
        "{}: unexpected outcome {:?}",
        engine.backend(),
        again.outcome
    );
    works(engine, &again.module);
    let after = cache.stats();
    assert_eq!(after.rejected, before.rejected + 1);
    assert_eq!(after.hits, before.hits);
    assert!(
        cache.load(engine, ECHO_GUEST).unwrap().outcome.is_hit(),
        "the rewritten entry is used"
    );
}

#[test]
fn miss_then_hit_on_every_jit_engine() {
    for kind in JIT {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
        let engine = engine(kind, &Config::new());
        populated(&cache, &*engine);
        // A new engine, as in a new process: the entry serves it.
        let fresh = self::engine(kind, &Config::new());
        let hit = cache.load(&*fresh, ECHO_GUEST).unwrap();
        assert!(hit.outcome.is_hit(), "{kind}: {:?}", hit.outcome);
        works(&*fresh, &hit.module);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.stored), (1, 1, 1));
    }
}

#[test]
fn corrupted_entry_is_recompiled_never_loaded() {
    for kind in JIT {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
        let engine = engine(kind, &Config::new());
        let path = populated(&cache, &*engine);
        let mut bytes = std::fs::read(&path).unwrap();
        // A flipped bit in the middle of the machine code.
        let middle = bytes.len() - (bytes.len() - 256) / 2;
        bytes[middle] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        expect_rejected(&cache, &*engine, |r| matches!(r, Rejected::Corrupt(_)));
    }
}

#[test]
fn entry_from_another_engine_version_is_recompiled() {
    for kind in JIT {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
        let engine = engine(kind, &Config::new());
        let path = populated(&cache, &*engine);
        // Rewrite the version named in the header as an older release's
        // (same length), as if an older wasmtime or wasmer had written it.
        let version = engine
            .artifact_format()
            .unwrap()
            .engine_version()
            .to_string();
        let older = format!("{}{}", (version.as_bytes()[0] - 1) as char, &version[1..]);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes[..1024]
            .windows(version.len())
            .position(|w| w == version.as_bytes())
            .expect("the version is in the header");
        bytes[at..at + version.len()].copy_from_slice(older.as_bytes());
        std::fs::write(&path, &bytes).unwrap();
        expect_rejected(
            &cache,
            &*engine,
            |r| matches!(r, Rejected::OtherEngine { version: v, .. } if *v == older),
        );
    }
}

#[test]
fn entry_from_another_configuration_is_recompiled() {
    for kind in JIT {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
        let plain = engine(kind, &Config::new());
        let fueled = engine(kind, &Config::new().consume_fuel(true));
        // Each configuration has its own entry...
        let plain_entry = populated(&cache, &*plain);
        let fueled_entry = cache.entry_path(&*fueled, ECHO_GUEST).unwrap();
        assert_ne!(plain_entry, fueled_entry);
        // ...and unmetered code found where metered code belongs is refused.
        std::fs::copy(&plain_entry, &fueled_entry).unwrap();
        expect_rejected(&cache, &*fueled, |r| matches!(r, Rejected::OtherConfig));
    }
}

#[test]
fn entry_of_another_module_is_recompiled() {
    for kind in JIT {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
        let engine = engine(kind, &Config::new());
        cache.load(&*engine, ABI_GUEST).unwrap();
        let abi_entry = cache.entry_path(&*engine, ABI_GUEST).unwrap();
        let echo_entry = cache.entry_path(&*engine, ECHO_GUEST).unwrap();
        std::fs::copy(&abi_entry, &echo_entry).unwrap();
        expect_rejected(&cache, &*engine, |r| matches!(r, Rejected::OtherModule));
    }
}

#[test]
fn truncated_entry_is_recompiled() {
    for kind in JIT {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
        let engine = engine(kind, &Config::new());
        let path = populated(&cache, &*engine);
        let len = std::fs::metadata(&path).unwrap().len();
        // In the payload, then inside the header.
        for cut in [len / 2, 40] {
            let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            file.set_len(cut).unwrap();
            drop(file);
            expect_rejected(&cache, &*engine, |r| {
                matches!(r, Rejected::Truncated { .. })
            });
        }
    }
}

#[test]
fn not_an_entry_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(dir.path());
    let engine = engine(BackendKind::Wasmtime, &Config::new());
    let path = cache.entry_path(&*engine, ECHO_GUEST).unwrap();
    // The module itself where its compiled code should be.
    std::fs::write(&path, ECHO_GUEST).unwrap();
    expect_rejected(&cache, &*engine, |r| matches!(r, Rejected::Malformed(_)));
    // A directory in its place is never read, and blocks the write.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    let loaded = cache.load(&*engine, ECHO_GUEST).unwrap();
    assert!(matches!(
        loaded.outcome,
        Outcome::Compiled {
            why: Miss::Rejected(Rejected::Malformed(_)),
            stored: Err(CacheError::Io { .. })
        }
    ));
    works(&*engine, &loaded.module);
}

#[cfg(unix)]
#[test]
fn symlinked_entry_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(dir.path());
    let engine = engine(BackendKind::Wasmtime, &Config::new());
    let good = populated(&cache, &*engine);
    let elsewhere = dir.path().join("elsewhere");
    std::fs::rename(&good, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &good).unwrap();
    expect_rejected(&cache, &*engine, |r| matches!(r, Rejected::Malformed(_)));
}

#[test]
fn oversized_entry_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(BackendKind::Wasmtime, &Config::new());
    let path = populated(&cache(dir.path()), &*engine);
    let size = std::fs::metadata(&path).unwrap().len();
    let small = ModuleCache::open(dir.path().join("modules"))
        .unwrap()
        .max_bytes(size - 1);
    let loaded = small.load(&*engine, ECHO_GUEST).unwrap();
    assert!(matches!(
        loaded.outcome,
        Outcome::Compiled {
            why: Miss::Rejected(Rejected::Oversized { .. }),
            stored: Err(CacheError::TooLarge { .. })
        }
    ));
    works(&*engine, &loaded.module);
}

#[test]
fn least_recently_used_entries_are_evicted_past_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(BackendKind::Wasmtime, &Config::new());
    let probe = populated(&cache(dir.path()), &*engine);
    let one = std::fs::metadata(&probe).unwrap().len();
    std::fs::remove_file(&probe).unwrap();
    // Room for about two entries of this size.
    let cache = cache(dir.path()).max_bytes(one * 5 / 2);
    let modules: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            let mut wasm = ECHO_GUEST.to_vec();
            // A custom section makes each module (and its key) distinct.
            wasm.extend_from_slice(&[0, 3, 1, b'x', i]);
            wasm
        })
        .collect();
    for wasm in &modules {
        cache.load(&*engine, wasm).unwrap();
    }
    assert!(cache.disk_usage().unwrap() <= cache.size_cap());
    assert!(cache.stats().evicted >= 2, "{:?}", cache.stats());
    // The newest survived; the oldest did not.
    assert!(cache.load(&*engine, &modules[3]).unwrap().outcome.is_hit());
    assert!(!cache.load(&*engine, &modules[0]).unwrap().outcome.is_hit());
}

#[test]
fn wasmi_is_compiled_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(dir.path());
    let engine = engine(BackendKind::Wasmi, &Config::new());
    let loaded = cache.load(&*engine, ECHO_GUEST).unwrap();
    assert!(matches!(loaded.outcome, Outcome::NotCacheable));
    works(&*engine, &loaded.module);
    assert_eq!(cache.entry_path(&*engine, ECHO_GUEST), None);
    assert_eq!(cache.disk_usage().unwrap(), 0);
}

#[test]
fn compile_errors_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(dir.path());
    let engine = engine(BackendKind::Wasmtime, &Config::new());
    let err = cache
        .load(&*engine, b"\0asm\x01\0\0\0\x05\xff")
        .unwrap_err();
    assert_eq!(err.kind(), anywasm::ErrorKind::Compile);
    assert_eq!(cache.disk_usage().unwrap(), 0);
}

#[cfg(unix)]
mod unix {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// While alive, file access on this thread is checked as an
    /// unprivileged user, so permission bits bind even when the tests run
    /// as root (root's file capabilities are dropped with the fs uid;
    /// Linux only, and per thread, so other tests are unaffected).
    struct Unprivileged(Option<u32>);

    impl Unprivileged {
        fn new() -> Self {
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } != 0 {
                return Self(None);
            }
            #[cfg(target_os = "linux")]
            {
                // SAFETY: setfsuid only changes this thread's filesystem
                // uid; it is restored in `drop`.
                let old = unsafe { libc::setfsuid(65534) };
                Self(Some(old as u32))
            }
            #[cfg(not(target_os = "linux"))]
            panic!("run this test as an unprivileged user");
        }
    }

    impl Drop for Unprivileged {
        fn drop(&mut self) {
            #[cfg(target_os = "linux")]
            if let Some(old) = self.0 {
                // SAFETY: restores the fs uid saved in `new`.
                unsafe { libc::setfsuid(old) };
            }
        }
    }

    #[test]
    fn read_only_directory_serves_hits_and_reports_failed_writes() {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        let cache = cache(dir.path());
        let engine = engine(BackendKind::Wasmtime, &Config::new());
        let entry = populated(&cache, &*engine);
        chmod(&entry, 0o644);
        chmod(cache.dir(), 0o555);
        {
            let _user = Unprivileged::new();
            let hit = cache.load(&*engine, ECHO_GUEST).unwrap();
            assert!(hit.outcome.is_hit(), "{:?}", hit.outcome);
            let other = cache.load(&*engine, ABI_GUEST).unwrap();
            assert!(
                matches!(
                    other.outcome,
                    Outcome::Compiled {
                        why: Miss::Absent,
                        stored: Err(CacheError::Io { .. })
                    }
                ),
                "{:?}",
                other.outcome
            );
            assert_eq!(cache.stats().store_failures, 1);
            // Still compiled, still nothing written, never a crash.
            let again = cache.load(&*engine, ABI_GUEST).unwrap();
            assert!(!again.outcome.is_hit());
        }
        chmod(cache.dir(), 0o700);
    }

    #[test]
    fn directory_others_can_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        chmod(&shared, 0o777);
        assert!(matches!(
            ModuleCache::open(&shared),
            Err(CacheError::Insecure { .. })
        ));
        chmod(&shared, 0o775);
        assert!(matches!(
            ModuleCache::open(&shared),
            Err(CacheError::Insecure { .. })
        ));
        chmod(&shared, 0o755);
        ModuleCache::open(&shared).unwrap();
    }

    #[test]
    fn a_new_directory_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
        let mode = std::fs::metadata(cache.dir()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(
            ModuleCache::open(&file),
            Err(CacheError::Insecure { .. })
        ));
    }
}
