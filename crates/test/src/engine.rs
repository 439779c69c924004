//! [`TestEngine`]: one engine with the plugin under test compiled on it,
//! shared by every test of the process.
//!
//! The first test to ask for a plugin on an engine reads and compiles it;
//! the others get the same compiled module (compiling a real plugin takes
//! tens of milliseconds on the JIT engines, instantiating it microseconds),
//! and each test makes its own instances from it, so tests stay
//! independent and run in parallel.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anywasm::{BackendKind, Config, DynModule, DynRuntime, abi};
use anywasm_plugin::{HostCtx, Manifest};

use crate::{Error, PluginBuilder};

/// Where the plugin under test comes from: a `.wasm` file, or bytes
/// compiled into the test (`include_bytes!`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PluginSource {
    /// A `.wasm` file, read when the first test needs it.
    Path(PathBuf),
    /// The module's bytes.
    Bytes(&'static [u8]),
}

impl From<&str> for PluginSource {
    fn from(path: &str) -> Self {
        PluginSource::Path(path.into())
    }
}

impl From<PathBuf> for PluginSource {
    fn from(path: PathBuf) -> Self {
        PluginSource::Path(path)
    }
}

impl From<&Path> for PluginSource {
    fn from(path: &Path) -> Self {
        PluginSource::Path(path.into())
    }
}

impl From<&'static [u8]> for PluginSource {
    fn from(bytes: &'static [u8]) -> Self {
        PluginSource::Bytes(bytes)
    }
}

impl<const N: usize> From<&'static [u8; N]> for PluginSource {
    fn from(bytes: &'static [u8; N]) -> Self {
        PluginSource::Bytes(bytes)
    }
}

/// The engine configuration of every test: fuel metering and interruption
/// compiled in, so any test may set a fuel budget or a timeout.
pub fn test_config() -> Config {
    Config::new().consume_fuel(true).timeouts(true)
}

pub(crate) struct Loaded {
    pub(crate) engine: Box<dyn DynRuntime<HostCtx>>,
    pub(crate) module: DynModule,
    pub(crate) wasm: Vec<u8>,
    pub(crate) manifest: Manifest,
    pub(crate) manifest_text: String,
}

/// One compiled-in engine with the plugin under test compiled on it.
/// Cheap to clone.
#[derive(Clone)]
pub struct TestEngine {
    pub(crate) loaded: Arc<Loaded>,
}

impl std::fmt::Debug for TestEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEngine")
            .field("backend", &self.backend())
            .field("plugin", &self.loaded.manifest.name)
            .finish_non_exhaustive()
    }
}

type Cell = Arc<OnceLock<Result<Arc<Loaded>, String>>>;

fn registry() -> &'static Mutex<HashMap<(PluginSource, BackendKind), Cell>> {
    static LOADED: OnceLock<Mutex<HashMap<(PluginSource, BackendKind), Cell>>> = OnceLock::new();
    LOADED.get_or_init(Default::default)
}

impl TestEngine {
    /// The plugin from `source` compiled on `kind`: read, checked and
    /// compiled by the first caller in the process, shared afterwards.
    ///
    /// Fails (with a message saying what to do) if the file is missing, is
    /// not a plugin, has no valid manifest, or the engine is not compiled in.
    pub fn load(kind: BackendKind, source: impl Into<PluginSource>) -> Result<Self, Error> {
        let source = source.into();
        let cell = registry()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((source.clone(), kind))
            .or_default()
            .clone();
        let loaded = cell.get_or_init(|| load(kind, &source).map(Arc::new));
        match loaded {
            Ok(loaded) => Ok(Self {
                loaded: loaded.clone(),
            }),
            Err(message) => Err(message.clone().into()),
        }
    }

    /// The engine.
    pub fn backend(&self) -> BackendKind {
        self.loaded.engine.backend()
    }

    /// The plugin's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.loaded.manifest
    }

    /// The plugin's bytes.
    pub fn wasm(&self) -> &[u8] {
        &self.loaded.wasm
    }

    /// Start configuring an instance of the plugin: nothing granted, the
    /// manifest's configuration and limits, a fixed clock, seeded random
    /// bytes and a captured log (see [`PluginBuilder`]).
    pub fn plugin(&self) -> PluginBuilder {
        PluginBuilder::new(self.clone())
    }
}

fn load(kind: BackendKind, source: &PluginSource) -> Result<Loaded, String> {
    let (wasm, origin) = match source {
        PluginSource::Path(path) => (
            std::fs::read(path).map_err(|e| {
                format!(
                    "cannot read the plugin {}: {e}; build it first (`anywasm build`)",
                    path.display()
                )
            })?,
            path.display().to_string(),
        ),
        PluginSource::Bytes(bytes) => (bytes.to_vec(), "the plugin's bytes".into()),
    };
    abi::check_abi_version(&wasm).map_err(|e| format!("{origin} is not an anywasm plugin: {e}"))?;
    let manifest_text = abi::manifest_text(&wasm)
        .map_err(|e| format!("{origin}: {e}"))?
        .ok_or_else(|| format!("{origin} has no `anywasm:manifest` section"))?
        .to_string();
    let manifest = Manifest::parse(&manifest_text, &origin).map_err(|e| e.to_string())?;
    let engine = anywasm::engine::<HostCtx>(kind, &test_config()).map_err(|e| e.to_string())?;
    let module = engine
        .compile(&wasm)
        .map_err(|e| format!("{origin} does not compile on {kind}: {e}"))?;
    Ok(Loaded {
        engine,
        module,
        wasm,
        manifest,
        manifest_text,
    })
}
