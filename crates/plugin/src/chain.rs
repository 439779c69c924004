//! Plugins calling plugins: the `call_plugin` host service, the chain of
//! plugins a call passes through (refused when it would loop or grow too
//! deep), and its errors.
//!
//! A nested call runs on a thread of tokio's blocking pool, not on the
//! caller's thread: each plugin in a chain gets a fresh native stack (a
//! JIT guest's stack limit is measured from where its call enters, so
//! guests nested on one thread could together overrun it), and each
//! engine sees one call per thread. The caller's thread waits meanwhile.

use std::cell::RefCell;
use std::future::Future;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use anywasm::HostError;

use crate::builder::DEFAULT_CALL_TIMEOUT;
use crate::error::PluginError;
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

thread_local! {
    /// The plugins whose `call_plugin` is waiting on this thread's call,
    /// outermost first (empty on a thread serving a call from the host).
    static CHAIN: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// The chain a call from `caller` to `callee` would make, or why it may not.
fn extend_chain(caller: &str, callee: &str) -> Result<Vec<String>, PluginCallError> {
    let mut chain = CHAIN.with(|c| c.borrow().clone());
    chain.push(caller.to_owned());
    let looped = chain.iter().any(|p| p == callee);
    chain.push(callee.to_owned());
    if looped {
        return Err(PluginCallError::Cycle { chain });
    }
    if chain.len() > MAX_PLUGIN_CALL_DEPTH {
        return Err(PluginCallError::TooDeep {
            chain,
            max: MAX_PLUGIN_CALL_DEPTH,
        });
    }
    chain.pop();
    Ok(chain)
}

/// Holds `CHAIN` for a nested call, and empties it again however the call
/// ends (blocking-pool threads are reused).
struct ChainScope;

impl ChainScope {
    fn enter(chain: Vec<String>) -> Self {
        CHAIN.with(|c| *c.borrow_mut() = chain);
        ChainScope
    }
}

impl Drop for ChainScope {
    fn drop(&mut self) {
        CHAIN.with(|c| c.borrow_mut().clear());
    }
}

/// The `call_plugin` host service: `function` of `callee` with the encoded
/// `request`, answering the encoded response; `remaining` is the caller's
/// time left ([`Caller::remaining_time`](anywasm::Caller::remaining_time)).
pub(crate) fn call_plugin(
    ctx: &HostCtx,
    remaining: Option<Duration>,
    callee: &str,
    function: &str,
    request: Vec<u8>,
) -> Result<Vec<u8>, PluginCallError> {
    let inner = ctx
        .services()
        .manager
        .get()
        .and_then(Weak::upgrade)
        .ok_or(PluginCallError::NoManager)?;
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| PluginCallError::NoManager)?;
    let caller = ctx.plugin();
    let capability = format!("{PLUGINS_CAPABILITY_PREFIX}{callee}");
    if !ctx.capabilities().is_granted(&capability) {
        return Err(PluginCallError::Denied {
            caller: caller.into(),
            callee: callee.into(),
        });
    }
    let chain = extend_chain(caller, callee)?;
    let wait = wait_bound(remaining, inner.limits.get_timeout());
    let (callee, function) = (callee.to_owned(), function.to_owned());
    let task = runtime.spawn_blocking(move || {
        let _scope = ChainScope::enter(chain);
        let call = inner.call_entry_bytes(&callee, &function, &request);
        match block_on(call, Some(Instant::now() + wait)) {
            Some(Ok(response)) => Ok(response),
            Some(Err(e)) => Err(PluginCallError::Callee(Box::new(e))),
            // Only the wait for an instance can pend: the call itself runs
            // within one poll.
            None => Err(PluginCallError::Busy {
                callee,
                waited: wait,
            }),
        }
    });
    match block_on(task, None) {
        Some(Ok(outcome)) => outcome,
        // The blocking pool is shutting down with the runtime, or the
        // nested call panicked (the engines catch host panics, so that is a
        // bug of ours): either way the caller gets an error, not a hang.
        Some(Err(e)) => Err(PluginCallError::Callee(Box::new(PluginError::Setup(
            format!("the nested plugin call did not complete: {e}"),
        )))),
        None => Err(PluginCallError::NoManager),
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
/// `block_on` would refuse to nest; what is awaited here (a semaphore, a
/// blocking-pool task) needs no driver, only a waker.
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
        assert_eq!(extend_chain("a", "b").unwrap(), ["a"]);
        assert!(matches!(
            extend_chain("a", "a"),
            Err(PluginCallError::Cycle { chain }) if chain == ["a", "a"]
        ));
        let outer: Vec<String> = (0..MAX_PLUGIN_CALL_DEPTH - 2)
            .map(|i| format!("p{i}"))
            .collect();
        let _scope = ChainScope::enter(outer);
        assert_eq!(
            extend_chain("x", "y").unwrap().len(),
            MAX_PLUGIN_CALL_DEPTH - 1
        );
        assert!(matches!(
            extend_chain("x", "p0"),
            Err(PluginCallError::Cycle { .. })
        ));
        drop(_scope);
        let _scope = ChainScope::enter(
            (0..MAX_PLUGIN_CALL_DEPTH - 1)
                .map(|i| format!("p{i}"))
                .collect(),
        );
        assert!(matches!(
            extend_chain("x", "y"),
            Err(PluginCallError::TooDeep {
                max: MAX_PLUGIN_CALL_DEPTH,
                ..
            })
        ));
    }
}
