//! Blocking on a future from synchronous code (std): the thread parks until
//! the future's waker unparks it, for at most a deadline.

use alloc::sync::Arc;
use core::future::Future;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::task::Wake;
use std::thread::{self, Thread};
use std::time::Instant;

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Poll `fut` on this thread until it is ready, parking in between; `None`
/// if `within` passes first (the future is then dropped). For backends
/// running an async call from a synchronous one, and for synchronous callers
/// of async host functions.
///
/// The future's wakers must be driven from elsewhere (a tokio timer is
/// driven by the runtime's own threads), as nothing else runs on this one.
pub fn block_on<F: Future>(fut: F, within: Option<Duration>) -> Option<F::Output> {
    let deadline = within.map(|d| Instant::now() + d);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = core::pin::pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Some(out);
        }
        match deadline {
            None => thread::park(),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                thread::park_timeout(deadline - now);
            }
        }
    }
}
