//! One call on a plugin version: a permit, an instance from the pool (or
//! a new one), the call with its budgets refilled, the instance back.

use std::sync::Arc;
use std::time::Instant;

use anywasm::{ErrorKind, Plugin, abi};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{PluginError, Result};
use crate::services::HostCtx;
use crate::version::Version;

use crate::manager::{blocking, kind_label};
use crate::registry::{Entry, Inner};

/// A call's permit on one version of a plugin.
pub(crate) struct Turn {
    permit: tokio::sync::OwnedSemaphorePermit,
    version: Arc<Version>,
}

impl Inner {
    pub(crate) async fn call_on<Req, Resp>(
        &self,
        entry: &Entry,
        version: Arc<Version>,
        function: &str,
        request: &Req,
    ) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        // Suspends while the plugin's async host functions await (wasmtime,
        // wasmi); on wasmer, blocks this worker under `block_in_place`.
        self.call_with(entry, version, function, async |instance| {
            instance.call_async::<Req, Resp>(function, request).await
        })
        .await
    }

    /// One call on `version` (or its replacement, if it is retired while
    /// the call waits for a permit): `invoke` runs on a pooled instance
    /// with its budgets refilled; metrics are recorded, and an instance
    /// that trapped is discarded. If the returned future is dropped while
    /// `invoke` is pending, the instance goes with it (never back to the
    /// pool) and the permit is released.
    async fn call_with<R>(
        &self,
        entry: &Entry,
        version: Arc<Version>,
        function: &str,
        invoke: impl AsyncFnOnce(&mut Plugin<HostCtx>) -> anywasm::Result<R>,
    ) -> Result<R> {
        let turn = Self::acquire(entry, version).await?;
        self.run_on(entry, turn, function, invoke).await
    }

    /// Wait for a permit to call `version`, or its replacement if it is
    /// retired while the call waits.
    pub(crate) async fn acquire(entry: &Entry, mut version: Arc<Version>) -> Result<Turn> {
        loop {
            match version.pool.permits.clone().acquire_owned().await {
                Ok(permit) => return Ok(Turn { permit, version }),
                // Retired while we waited: the replacement serves the call.
                Err(_) => {
                    let current = entry.current();
                    if Arc::ptr_eq(&current, &version) {
                        return Err(PluginError::NotFound {
                            plugin: version.manifest.name.clone(),
                        });
                    }
                    version = current;
                }
            }
        }
    }

    /// The call itself, once [`acquire`](Self::acquire) gave it its turn.
    pub(crate) async fn run_on<R>(
        &self,
        entry: &Entry,
        turn: Turn,
        function: &str,
        invoke: impl AsyncFnOnce(&mut Plugin<HostCtx>) -> anywasm::Result<R>,
    ) -> Result<R> {
        let Turn { permit, version } = turn;
        let name = version.manifest.name.clone();
        let start = Instant::now();
        let mut instance = match version.pool.take() {
            Some(i) => i,
            None => match blocking(|| self.instantiate(&version)) {
                Ok(i) => i,
                Err(e) => {
                    entry
                        .metrics
                        .record(start.elapsed(), Some("instantiate".into()), 0, None);
                    return Err(e);
                }
            },
        };
        if let Some(g) = version.limits.get_gas() {
            let _ = instance.store_mut().set_gas(g);
        }
        let before = match version.fuel_per_call {
            Some(f) => instance.store_mut().set_fuel(f).ok().map(|()| f),
            None => instance.store_mut().fuel().ok(),
        };
        let result = invoke(&mut instance).await;
        let after = instance.store_mut().fuel().ok();
        let fuel = match (before, after) {
            (Some(b), Some(a)) => b.saturating_sub(a),
            _ => 0,
        };
        let memory = {
            let id = instance.instance();
            instance
                .store_mut()
                .memory_size(id, abi::MEMORY_EXPORT)
                .ok()
        };
        let trapped = result
            .as_ref()
            .is_err_and(|e| matches!(e.kind(), ErrorKind::Trap(_)));
        entry.metrics.record(
            start.elapsed(),
            result.as_ref().err().map(kind_label),
            fuel,
            memory,
        );
        if !trapped {
            version.pool.put(instance);
        }
        drop(permit);
        result.map_err(|source| PluginError::Call {
            plugin: name,
            function: function.into(),
            source,
        })
    }
}

/// Give `plugin` its per-call budgets again: fuel and gas are per call in a
/// manager (the host's `Limits::gas` with `Config::gas`).
pub(crate) fn refill(version: &Version, plugin: &mut Plugin<HostCtx>) {
    if let Some(f) = version.fuel_per_call {
        let _ = plugin.store_mut().set_fuel(f);
    }
    if let Some(g) = version.limits.get_gas() {
        let _ = plugin.store_mut().set_gas(g);
    }
}
