//! The runtimes the core's futures run on, written once for the server, the bindings and tests.
//!
//! - [`block_on`] runs a future of the embedded store on the calling thread: its futures
//!   (subscriptions, group members, `Db::append_async`) need no runtime at all.
//! - [`shared`] is the one lazily started tokio runtime of the process, for what needs tokio
//!   (the cluster client's connections, timeouts). A binding may set hooks that run on each of
//!   its threads as they start and stop ([`set_thread_hooks`]): the JNI binding attaches them to
//!   the JVM there, so completing a Java future from them costs no attach per call.
//! - [`block_on_shared`] and [`wait`] run a future on it from a blocking caller, the second with
//!   a timeout and a cancel that another thread can pull ([`Cancel`]).

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures_util::future::{select, Either};
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::error::{Error, Result};

/// Runs a future of the embedded store to completion on this thread, without a runtime.
/// Bindings use it to call the store's futures from plain threads.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// What runs on each thread of the shared runtime as it starts and before it stops.
#[derive(Clone, Copy)]
pub struct ThreadHooks {
    pub on_start: fn(),
    pub on_stop: fn(),
}

static HOOKS: OnceLock<ThreadHooks> = OnceLock::new();
static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Sets the hooks of the shared runtime's threads. Only before the runtime starts (the first
/// call of [`shared`]), and only once: INVALID_ARGUMENT otherwise, since threads already
/// running would never have run them.
pub fn set_thread_hooks(hooks: ThreadHooks) -> Result<()> {
    if RUNTIME.get().is_some() {
        return Err(Error::InvalidArgument(
            "the shared runtime has started: its thread hooks are fixed".into(),
        ));
    }
    HOOKS
        .set(hooks)
        .map_err(|_| Error::InvalidArgument("the shared runtime's thread hooks are already set".into()))
}

/// The shared multi-thread runtime, started on first use; it lives as long as the process.
pub fn shared() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.enable_all().thread_name("graveyard");
        if let Some(hooks) = HOOKS.get().copied() {
            builder.on_thread_start(hooks.on_start).on_thread_stop(hooks.on_stop);
        }
        builder.build().expect("the GraveyardDB runtime could not start its threads")
    })
}

/// Runs `future` to completion on the shared runtime from a blocking caller. Called from inside
/// a multi-thread runtime (a future's continuation calling back into a binding), the worker is
/// handed over to blocking first, so that this neither stalls nor panics that runtime.
pub fn block_on_shared<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| shared().block_on(future))
        }
        // A current-thread runtime cannot give its only thread away: run on a thread of ours.
        Ok(_) => std::thread::scope(|s| s.spawn(|| shared().block_on(future)).join()).unwrap_or_else(|p| {
            std::panic::resume_unwind(p);
        }),
        Err(_) => shared().block_on(future),
    }
}

/// Runs a blocking call of the embedded store from async code: on a multi-thread tokio worker,
/// the worker's other tasks move to another thread meanwhile (`block_in_place`), so an fsync
/// does not stall them; elsewhere the call runs inline.
pub fn blocking_section<T>(f: impl FnOnce() -> T) -> T {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// A cancel flag that wakes whatever waits on it: pulled from any thread, for good.
#[derive(Clone)]
pub struct Cancel(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Cancel {
    fn default() -> Self {
        Cancel(Arc::new(tokio::sync::watch::channel(false).0))
    }
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    pub fn cancel(&self) {
        self.0.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once [`Cancel::cancel`] was called (at once if it already was).
    pub async fn cancelled(&self) {
        let mut receiver = self.0.subscribe();
        let _ = receiver.wait_for(|c| *c).await;
    }
}

/// What a wait for a session's next item gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next<T> {
    Item(T),
    /// Nothing came within the timeout; the session goes on.
    Timeout,
    /// The session was cancelled, closed, or ended after reporting an error.
    Ended,
}

impl<T> Next<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Next<U> {
        match self {
            Next::Item(t) => Next::Item(f(t)),
            Next::Timeout => Next::Timeout,
            Next::Ended => Next::Ended,
        }
    }
}

/// Awaits `future` until it resolves ([`Next::Item`]), `timeout` passes ([`Next::Timeout`]) or
/// `cancel` is pulled ([`Next::Ended`]), whichever comes first. `future` must be cancel-safe:
/// it is dropped unfinished on a timeout or a cancel. The timeout needs a tokio timer (the
/// shared runtime has one).
pub async fn wait<F: Future>(cancel: &Cancel, timeout: Option<Duration>, future: F) -> Next<F::Output> {
    if cancel.is_cancelled() {
        return Next::Ended;
    }
    let cancelled = pin!(cancel.cancelled());
    let work = pin!(async move {
        match timeout {
            Some(t) => tokio::time::timeout(t, future).await.ok(),
            None => Some(future.await),
        }
    });
    match select(cancelled, work).await {
        Either::Left(((), _)) => Next::Ended,
        Either::Right((Some(output), _)) => Next::Item(output),
        Either::Right((None, _)) => Next::Timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_ends_on_its_timeout_or_on_a_cancel_from_another_thread() {
        let cancel = Cancel::new();
        let pending = std::future::pending::<()>;
        let timed_out = block_on_shared(wait(&cancel, Some(Duration::from_millis(20)), pending()));
        assert_eq!(timed_out, Next::Timeout);
        let remote = cancel.clone();
        let puller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            remote.cancel();
        });
        assert_eq!(block_on_shared(wait(&cancel, None, pending())), Next::Ended);
        puller.join().unwrap();
        // Pulled for good: the next wait ends at once, even on a ready future.
        assert_eq!(block_on_shared(wait(&cancel, None, async { 1 })), Next::Ended);
        assert_eq!(block_on_shared(wait(&Cancel::new(), None, async { 1 })), Next::Item(1));
    }

    #[test]
    fn block_on_shared_works_from_inside_runtimes_of_both_flavours() {
        let current = tokio::runtime::Builder::new_current_thread().build().unwrap();
        assert_eq!(current.block_on(async { block_on_shared(async { 2 }) }), 2);
        assert_eq!(shared().block_on(async { block_on_shared(async { 3 }) }), 3);
    }
}
