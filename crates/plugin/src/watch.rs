//! Hot reload: a `notify` watcher on the plugin directory, debounced.
//!
//! Events are collected until the directory has been quiet for the debounce
//! interval, then each touched plugin file is handled once: a `.wasm` that
//! exists is loaded or replaced (read completely, verified, compiled,
//! instantiated and init'ed before it replaces the running version; a
//! failure leaves the running version and is kept in its status), one that
//! is gone is unloaded after its in-flight calls finish. A change to a
//! sidecar `.toml` or a `.wasm.sig` reloads its `.wasm`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use crate::error::{PluginError, Result};
use crate::registry::Inner;

/// The `.wasm` a changed file belongs to, if any.
fn plugin_file(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with('.') {
        return None;
    }
    if name.ends_with(".wasm") {
        Some(path.to_path_buf())
    } else if let Some(stem) = name.strip_suffix(".wasm.sig") {
        Some(path.with_file_name(format!("{stem}.wasm")))
    } else {
        name.strip_suffix(".toml")
            .map(|stem| path.with_file_name(format!("{stem}.wasm")))
    }
}

pub(crate) fn start(
    handle: &tokio::runtime::Handle,
    dir: &Path,
    debounce: Duration,
    inner: Weak<Inner>,
) -> Result<notify::RecommendedWatcher> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            for path in event.paths {
                let _ = tx.send(path);
            }
        }
    })
    .map_err(|e| PluginError::Setup(format!("file watcher: {e}")))?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|e| PluginError::Setup(format!("watching {}: {e}", dir.display())))?;
    handle.spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut touched = BTreeSet::new();
            touched.extend(plugin_file(&first));
            loop {
                match tokio::time::timeout(debounce, rx.recv()).await {
                    Ok(Some(path)) => touched.extend(plugin_file(&path)),
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            let Some(inner) = inner.upgrade() else { return };
            let _ops = inner.ops().await;
            for path in touched {
                if path.is_file() {
                    let i = inner.clone();
                    let p = path.clone();
                    // Compiling and init run off the runtime's workers.
                    let outcome = tokio::task::spawn_blocking(move || i.load_path(&p, false)).await;
                    if let Ok(Err(e)) = outcome {
                        tracing::warn!(path = %path.display(), "hot reload: {e}");
                    }
                } else {
                    inner.unload_path(&path).await;
                }
            }
        }
    });
    Ok(watcher)
}
