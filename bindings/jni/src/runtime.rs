//! The one tokio runtime of the process, created on first use. Its threads (workers and the
//! blocking pool) are attached to the JVM when they start, as daemon threads so that they never
//! hold the JVM open at exit, and detached when they stop: a future is completed from them with
//! no attach cost per call.

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::future::{select, Either};
use tokio::runtime::{Handle, Runtime};

use crate::store::Next;

pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("graveyard-jni")
            .on_thread_start(crate::attach_current_thread_as_daemon)
            .on_thread_stop(crate::detach_current_thread)
            .build()
            .expect("the GraveyardDB runtime could not start its threads")
    })
}

/// Runs `future` to completion on the shared runtime from a blocking caller. From inside the
/// runtime (a future's continuation calling back into the SDK), the worker is handed over to
/// blocking first, so that this does not stall or panic the runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    match Handle::try_current() {
        Ok(_) => tokio::task::block_in_place(|| runtime().block_on(future)),
        Err(_) => runtime().block_on(future),
    }
}

/// Like [`block_on`], but gives up after `timeout` ([`Next::Timeout`]) or once `cancel` turns
/// true ([`Next::Ended`]), whichever comes first. `future` must be cancel-safe.
pub fn block_on_cancellable<F: Future>(
    mut cancel: tokio::sync::watch::Receiver<bool>,
    timeout: Option<Duration>,
    future: F,
) -> Next<F::Output> {
    if *cancel.borrow() {
        return Next::Ended;
    }
    block_on(async move {
        let cancelled = pin!(async move {
            let _ = cancel.wait_for(|c| *c).await;
        });
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
    })
}

/// Runs a future of the embedded store on this thread (see [`graveyard::block_on`]).
pub use graveyard::block_on as run_inline;
