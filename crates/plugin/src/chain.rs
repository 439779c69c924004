//! Plugins calling plugins: the `call_plugin` host service, the chain of
//! plugins a call passes through (refused when it would loop or grow too
//! deep), and its errors.
//!
//! `call_plugin` is an async host function. On engines that suspend guest
//! calls (wasmtime, wasmi) the callee's call is awaited inside it: the
//! caller's call suspends while the callee runs, the callee's own async
//! host functions suspend both, and dropping the caller's call drops the
//! callee's (its instance is discarded). Each level still gets its own
//! stack: a wasmtime guest runs on its call's fiber, a wasmi guest on the
//! interpreter's heap-allocated stack. On wasmer, which cannot suspend, the
//! nested call runs inline on the caller's thread, inside the caller's
//! host function. wasmer runs each call's guest code on a stack of its own
//! (the thread's stack holds only the host frames of the at most
//! [`MAX_PLUGIN_CALL_DEPTH`] levels) and keeps the stores running on one
//! thread as a stack, so a deadline's interrupt stops the store it belongs
//! to, not the one running above it.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use anywasm::{Feature, HostError};

use crate::builder::DEFAULT_CALL_TIMEOUT;
use crate::error::PluginError;
use crate::registry::Inner;
use crate::services::HostCtx;

/// The most plugins one chain of `call_plugin` calls holds, the first
/// caller included: `a -> b -> ... -> h` is 8. One more is refused with
/// [`PluginCallError::TooDeep`].
pub const MAX_PLUGIN_CALL_DEPTH: usize = 8;

/// The capability that lets a plugin call the plugin named after the colon:
/// `plugins:b` lets it call `b`.
pub const PLUGINS_CAPABILITY_PREFIX: &str = "plugins:";

/// Why a `call_plugin` call failed. The caller's guest receives it as its
/// call's error (its `Display` is the message); the callee's own failures
/// (not loaded, no such entry point, a guest error, a trap, a limit) come
/// through [`Callee`](Self::Callee).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginCallError {
    /// The caller was not granted `plugins:<callee>`.
    #[error(
        "plugin `{caller}` may not call plugin `{callee}`: the capability `plugins:{callee}` was not granted"
    )]
    Denied {
        /// The calling plugin.
        caller: String,
        /// The plugin it named.
        callee: String,
    },
    /// The callee is already in the chain: the call would loop.
    #[error("plugin call cycle refused: {}", chain.join(" -> "))]
    Cycle {
        /// The chain, outermost caller first, ending with the refused callee.
        chain: Vec<String>,
    },
    /// The chain would hold more than [`MAX_PLUGIN_CALL_DEPTH`] plugins.
    #[error("plugin call chain refused, deeper than {max} plugins: {}", chain.join(" -> "))]
    TooDeep {
        /// The chain, outermost caller first, ending with the refused callee.
        chain: Vec<String>,
        /// The cap.
        max: usize,
    },
    /// Every instance of the callee stayed in use for half the caller's
    /// remaining call time (without a caller timeout: the manager's call
    /// timeout, or [`DEFAULT_CALL_TIMEOUT`]).
    #[error("plugin `{callee}` stayed busy for {waited:?}: every instance in its pool was in use")]
    Busy {
        /// The plugin called.
        callee: String,
        /// How long the call waited.
        waited: Duration,
    },
    /// No plugin manager serves this store (a plugin run outside one, as in
    /// `anywasm-test`), or it is shutting down.
    #[error("call_plugin needs a running plugin manager")]
    NoManager,
    /// The callee's call failed.
    #[error(transparent)]
    Callee(Box<PluginError>),
}

impl From<PluginCallError> for HostError {
    fn from(e: PluginCallError) -> Self {
        HostError::new(e.to_string())
    }
}

impl PluginCallError {
    fn callee(e: PluginError) -> Self {
        PluginCallError::Callee(Box::new(e))
    }
}

/// The chain a call from `caller` to `callee` would make (`outer` holds
/// the plugins already waiting on `caller`'s call), or why it may not.
fn extend_chain(
    outer: &[Arc<str>],
    caller: &str,
    callee: &str,
) -> Result<Vec<Arc<str>>, PluginCallError> {
    let names = || {
        let mut chain: Vec<String> = outer.iter().map(|p| p.to_string()).collect();
        chain.extend([caller.to_owned(), callee.to_owned()]);
        chain
    };
    if caller == callee || outer.iter().any(|p| &**p == callee) {
        return Err(PluginCallError::Cycle { chain: names() });
    }
    if outer.len() + 2 > MAX_PLUGIN_CALL_DEPTH {
        return Err(PluginCallError::TooDeep {
            chain: names(),
            max: MAX_PLUGIN_CALL_DEPTH,
        });
    }
    let mut chain = outer.to_vec();
    chain.push(caller.into());
    Ok(chain)
}

/// The `call_plugin` host service, started with the caller's state:
/// checks the grant and the chain, and returns the nested call to await
/// (`function` of `callee` with the encoded `request`, answering the
/// encoded response). `remaining` is the caller's time left
/// ([`Caller::remaining_time`](anywasm::Caller::remaining_time)).
pub(crate) fn call_plugin(
    ctx: &HostCtx,
    remaining: Option<Duration>,
    callee: String,
    function: String,
    request: Vec<u8>,
) -> Result<impl Future<Output = Result<Vec<u8>, PluginCallError>> + Send + use<>, PluginCallError>
{
    let inner = ctx
        .services()
        .manager
        .get()
        .and_then(Weak::upgrade)
        .ok_or(PluginCallError::NoManager)?;
    // Waiting for a callee instance uses tokio's timer on engines that
    // suspend: outside a runtime there is nothing to run it.
    tokio::runtime::Handle::try_current().map_err(|_| PluginCallError::NoManager)?;
    let capability = format!("{PLUGINS_CAPABILITY_PREFIX}{callee}");
    if !ctx.capabilities().is_granted(&capability) {
        return Err(PluginCallError::Denied {
            caller: ctx.plugin().into(),
            callee,
        });
    }
    let chain = extend_chain(&ctx.chain, ctx.plugin(), &callee)?;
    let wait = wait_bound(remaining, inner.limits.get_timeout());
    let suspends =
        anywasm::support(inner.engine.backend()).is_some_and(|s| s.supports(Feature::AsyncSuspend));
    let nested = Nested {
        inner,
        chain,
        callee,
        function,
        request,
    };
    Ok(async move {
        if suspends {
            return nested.run(Some(wait)).await;
        }
        // The engine cannot suspend, so this future is polled by a thread
        // blocked in the caller's host function: the nested call runs
        // right here, within this poll (it cannot suspend either: only
        // the wait for an instance can pend).
        let callee = nested.callee.clone();
        block_on(nested.run(None), Some(Instant::now() + wait)).unwrap_or(Err(
            PluginCallError::Busy {
                callee,
                waited: wait,
            },
        ))
    })
}

/// One nested call, checked and ready to run.
struct Nested {
    inner: Arc<Inner>,
    /// The plugins waiting on it, outermost first: the callee's store
    /// holds them for the call.
    chain: Vec<Arc<str>>,
    callee: String,
    function: String,
    request: Vec<u8>,
}

impl Nested {
    /// Wait for a free instance of the callee (for at most `wait`, if
    /// given: then [`PluginCallError::Busy`]) and call it; suspending where
    /// the engine can (`wait` is given exactly then).
    async fn run(self, wait: Option<Duration>) -> Result<Vec<u8>, PluginCallError> {
        let Nested {
            inner,
            chain,
            callee,
            function,
            request,
        } = self;
        let entry = inner.entry(&callee).map_err(PluginCallError::callee)?;
        let version = entry.current();
        version
            .check_entry_point(&function)
            .map_err(PluginCallError::callee)?;
        let acquire = Inner::acquire(&entry, version);
        let turn =
            match wait {
                Some(wait) => tokio::time::timeout(wait, acquire).await.map_err(|_| {
                    PluginCallError::Busy {
                        callee: callee.clone(),
                        waited: wait,
                    }
                })?,
                None => acquire.await,
            }
            .map_err(PluginCallError::callee)?;
        let suspends = wait.is_some();
        let (function, request) = (function.as_str(), request.as_slice());
        inner
            .run_on(&entry, turn, function, async move |instance| {
                instance.data_mut().chain = chain;
                let result = if suspends {
                    instance.call_bytes_async(function, request).await
                } else {
                    instance.call_bytes(function, request)
                };
                instance.data_mut().chain.clear();
                result
            })
            .await
            .map_err(PluginCallError::callee)
    }
}

/// How long a nested call may wait for a free instance of its callee: half
/// the caller's time left, so the caller can still handle the refusal
/// before its own timeout; without a caller deadline, the manager's call
/// timeout (or [`DEFAULT_CALL_TIMEOUT`]).
fn wait_bound(remaining: Option<Duration>, timeout: Option<Duration>) -> Duration {
    match remaining {
        Some(remaining) => remaining / 2,
        None => timeout.unwrap_or(DEFAULT_CALL_TIMEOUT),
    }
}

/// Wakes a thread parked in [`block_on`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Drive `future` on this thread, parking between polls; `None` if it is
/// still pending at `deadline` (it is dropped then). A host function cannot
/// `.await`, and this thread may belong to a current-thread runtime whose
/// `block_on` would refuse to nest; what is awaited here (the callee's
/// semaphore) needs no driver, only a waker.
fn block_on<F: Future>(future: F, deadline: Option<Instant>) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
        match deadline {
            None => std::thread::park(),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                std::thread::park_timeout(deadline - now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_call_waits_half_the_callers_time_left() {
        let second = Duration::from_secs(1);
        assert_eq!(wait_bound(Some(4 * second), None), 2 * second);
        assert_eq!(
            wait_bound(Some(Duration::ZERO), Some(second)),
            Duration::ZERO
        );
        assert_eq!(wait_bound(None, Some(second)), second);
        assert_eq!(wait_bound(None, None), DEFAULT_CALL_TIMEOUT);
    }

    #[test]
    fn chain_refuses_a_loop_and_a_chain_too_deep() {
        let names =
            |n: usize| -> Vec<Arc<str>> { (0..n).map(|i| format!("p{i}").into()).collect() };
        assert_eq!(extend_chain(&[], "a", "b").unwrap(), [Arc::from("a")]);
        assert!(matches!(
            extend_chain(&[], "a", "a"),
            Err(PluginCallError::Cycle { chain }) if chain == ["a", "a"]
        ));
        let outer = names(MAX_PLUGIN_CALL_DEPTH - 2);
        assert_eq!(
            extend_chain(&outer, "x", "y").unwrap().len(),
            MAX_PLUGIN_CALL_DEPTH - 1
        );
        assert!(matches!(
            extend_chain(&outer, "x", "p0"),
            Err(PluginCallError::Cycle { chain }) if chain.len() == MAX_PLUGIN_CALL_DEPTH
        ));
        assert!(matches!(
            extend_chain(&names(MAX_PLUGIN_CALL_DEPTH - 1), "x", "y"),
            Err(PluginCallError::TooDeep {
                max: MAX_PLUGIN_CALL_DEPTH,
                ..
            })
        ));
    }
}
