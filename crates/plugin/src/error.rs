//! Typed errors of the plugin manager. Every variant names the plugin (or
//! the file, before a manifest has named the plugin) and what was wrong.

use std::path::PathBuf;

/// Why a plugin did not load, reload or answer a call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The manifest is missing, malformed, or has a bad field.
    #[error("plugin `{plugin}`: manifest field `{field}`: {message}")]
    Manifest {
        /// The plugin's name, or its file name if the manifest has none.
        plugin: String,
        /// The offending field (`manifest` for the whole document).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The module's signature is missing, malformed or not from a trusted key.
    #[error("plugin file {path}: signature: {message}")]
    Signature {
        /// The module file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A signing or public key file is malformed, or no key could be made.
    #[error("{0}")]
    Key(String),
    /// The plugin needs a newer host.
    #[error("plugin `{plugin}` needs host version {required} or newer, this host is {host}")]
    HostVersion {
        /// The plugin.
        plugin: String,
        /// The `min_host_version` it declares.
        required: semver::Version,
        /// This host's version.
        host: semver::Version,
    },
    /// A dependency is missing, of the wrong version, failed to load, or
    /// the dependencies form a cycle.
    #[error("plugin `{plugin}`: {message}")]
    Dependency {
        /// The plugin that could not load.
        plugin: String,
        /// Which dependency, and why (names every plugin involved).
        message: String,
    },
    /// Two files declare the same plugin name.
    #[error("plugin `{plugin}` is declared by both {first} and {second}")]
    Duplicate {
        /// The name.
        plugin: String,
        /// The file loaded (or chosen) first.
        first: PathBuf,
        /// The other file.
        second: PathBuf,
    },
    /// The manager already holds its maximum number of plugins.
    #[error("plugin `{plugin}` not loaded: the manager's limit of {max} plugins is reached")]
    TooManyPlugins {
        /// The plugin refused.
        plugin: String,
        /// The limit.
        max: usize,
    },
    /// Compiling, checking (ABI, capabilities) or instantiating failed.
    #[error("plugin `{plugin}`: {source}")]
    Load {
        /// The plugin.
        plugin: String,
        /// The engine's or the ABI's error; `source.kind()` is matchable
        /// (`CapabilityDenied`, `Abi`, `Compile`, ...).
        source: anywasm::Error,
    },
    /// The plugin's `init` export returned an error or trapped.
    #[error("plugin `{plugin}`: init failed: {source}")]
    Init {
        /// The plugin.
        plugin: String,
        /// What `init` reported.
        source: anywasm::Error,
    },
    /// No plugin of that name is loaded.
    #[error("no plugin `{plugin}` is loaded")]
    NotFound {
        /// The name asked for.
        plugin: String,
    },
    /// The function is not one of the plugin's declared entry points.
    #[error("plugin `{plugin}` has no entry point `{function}`")]
    NoEntryPoint {
        /// The plugin.
        plugin: String,
        /// The function asked for.
        function: String,
    },
    /// A call failed (guest error, trap, limit, ABI violation).
    #[error("plugin `{plugin}`, `{function}`: {source}")]
    Call {
        /// The plugin.
        plugin: String,
        /// The entry point.
        function: String,
        /// The error; `source.kind()` is matchable.
        source: anywasm::Error,
    },
    /// The manager could not be built (no tokio runtime, engine unavailable,
    /// watcher failed).
    #[error("plugin manager: {0}")]
    Setup(String),
}

impl PluginError {
    /// The engine-level error behind a load, init or call failure.
    pub fn engine_error(&self) -> Option<&anywasm::Error> {
        match self {
            PluginError::Load { source, .. }
            | PluginError::Init { source, .. }
            | PluginError::Call { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// `Result` with [`PluginError`].
pub type Result<T, E = PluginError> = std::result::Result<T, E>;
