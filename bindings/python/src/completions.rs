//! How the asyncio client learns that its calls ended, without a Rust thread ever taking the GIL.
//!
//! uniffi's own coroutines complete through a callback that a runtime thread calls into Python:
//! it takes the GIL and wakes the event loop, once per call, and the call is polled twice. That
//! cost 212 µs per awaited call and kept 64 concurrent appends at 0.11 of the core (issue 16's
//! benchmark). Here a call is started by a plain synchronous call (`*_submit`, a few µs) that
//! spawns its work on the core's runtime under a token; the outcome goes into a queue, and the
//! first outcome queued since the last drain writes one byte to a socket the event loop watches
//! (`loop.add_reader(fd)`). The loop then drains every outcome at once and settles their futures.
//! So a runtime thread only locks a mutex and maybe writes a byte, many completions cost one
//! wake-up, and nothing calls into Python while it finalizes.

use std::collections::HashMap;
use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

use graveyard::{runtime, Error};

use crate::{Buffer, NativeBatch, NativeError, NativeMember, NativeStore, NativeSubscription, Result};

/// What a call gave: one variant per kind of result, or its failure.
#[derive(uniffi::Enum)]
pub enum NativeOutcome {
    Nothing,
    Number {
        value: u64,
    },
    Text {
        value: String,
    },
    Bytes {
        value: Buffer,
    },
    MaybeBytes {
        value: Option<Buffer>,
    },
    Texts {
        value: Vec<String>,
    },
    Batch {
        value: NativeBatch,
    },
    Store {
        value: Arc<NativeStore>,
    },
    Subscription {
        value: Arc<NativeSubscription>,
    },
    Member {
        value: Arc<NativeMember>,
    },
    /// `NativeError::Failure`'s fields: the Python side raises the same exceptions either way.
    Failed {
        code: String,
        message: String,
        details: Option<String>,
    },
}

/// One ended call: the token it was submitted with, and its outcome.
#[derive(uniffi::Record)]
pub struct NativeCompletion {
    pub token: u64,
    pub outcome: NativeOutcome,
}

macro_rules! outcome_from {
    ($($t:ty => $variant:ident),* $(,)?) => {
        $(impl From<$t> for NativeOutcome {
            fn from(value: $t) -> NativeOutcome {
                NativeOutcome::$variant { value }
            }
        })*
    };
}

outcome_from! {
    u64 => Number,
    String => Text,
    Buffer => Bytes,
    Option<Buffer> => MaybeBytes,
    Vec<String> => Texts,
    NativeBatch => Batch,
    Arc<NativeStore> => Store,
    Arc<NativeSubscription> => Subscription,
    Arc<NativeMember> => Member,
}

impl From<()> for NativeOutcome {
    fn from((): ()) -> NativeOutcome {
        NativeOutcome::Nothing
    }
}

impl From<Result<NativeOutcome>> for NativeOutcome {
    fn from(result: Result<NativeOutcome>) -> NativeOutcome {
        match result {
            Ok(outcome) => outcome,
            Err(NativeError::Failure { code, message, details }) => {
                NativeOutcome::Failed { code, message, details }
            }
        }
    }
}

struct Queue {
    done: Mutex<Vec<NativeCompletion>>,
    /// A byte was written since the last drain: later outcomes need not write another.
    signalled: AtomicBool,
    /// The loop watches `wake`'s peer; both ends are non-blocking and live as long as the queue.
    wake: UnixStream,
    watched: UnixStream,
}

impl Queue {
    fn push(&self, token: u64, outcome: NativeOutcome) {
        self.done.lock().unwrap_or_else(PoisonError::into_inner).push(NativeCompletion { token, outcome });
        if !self.signalled.swap(true, Ordering::AcqRel) {
            // WouldBlock means the socket is full of unread bytes: the loop is woken already.
            let _ = (&self.wake).write(&[1]);
        }
    }
}

/// The outcome of a call whose task ended without giving one (it panicked, or the runtime
/// dropped it): pushed when the task's state is dropped.
struct Pending {
    queue: Arc<Queue>,
    token: u64,
    settled: bool,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.settled {
            let e =
                Error::Internal("GraveyardDB's native code panicked or was shut down during the call".into());
            self.queue.push(self.token, Result::<NativeOutcome>::Err(e.into()).into());
        }
    }
}

/// The queue of one event loop's ended calls (the Python side keeps one per loop).
///
/// Calls name their queue by its number, not by the object: an object argument costs uniffi
/// one more crossing per call (to clone its handle), about 5 µs here.
#[derive(uniffi::Object)]
pub struct NativeCompletions {
    id: u64,
    queue: Arc<Queue>,
}

/// The live queues by number.
static QUEUES: LazyLock<Mutex<HashMap<u64, Weak<Queue>>>> = LazyLock::new(Default::default);
static NEXT_QUEUE: AtomicU64 = AtomicU64::new(1);

fn queues() -> std::sync::MutexGuard<'static, HashMap<u64, Weak<Queue>>> {
    QUEUES.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for NativeCompletions {
    fn drop(&mut self) {
        queues().remove(&self.id);
    }
}

#[uniffi::export]
impl NativeCompletions {
    #[uniffi::constructor]
    pub fn new() -> Result<Arc<NativeCompletions>> {
        let io =
            |e: std::io::Error| NativeError::from(Error::Internal(format!("the completion socket: {e}")));
        let (wake, watched) = UnixStream::pair().map_err(io)?;
        wake.set_nonblocking(true).map_err(io)?;
        watched.set_nonblocking(true).map_err(io)?;
        let queue = Arc::new(Queue {
            done: Mutex::new(Vec::new()),
            signalled: AtomicBool::new(false),
            wake,
            watched,
        });
        let id = NEXT_QUEUE.fetch_add(1, Ordering::Relaxed);
        queues().insert(id, Arc::downgrade(&queue));
        Ok(Arc::new(NativeCompletions { id, queue }))
    }

    /// The number calls name this queue by.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The descriptor the event loop watches for reading; it belongs to this object.
    pub fn fd(&self) -> i32 {
        self.queue.watched.as_raw_fd()
    }

    /// Every outcome queued so far (consuming the wake-up bytes first, so that an outcome
    /// queued meanwhile writes a new one).
    pub fn drain(&self) -> Vec<NativeCompletion> {
        let mut sink = [0u8; 64];
        while matches!((&self.queue.watched).read(&mut sink), Ok(n) if n > 0) {}
        self.queue.signalled.store(false, Ordering::Release);
        std::mem::take(&mut *self.queue.done.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Runs `future` on the core's runtime; its outcome is queued under `token` in queue number
/// `queue` (INTERNAL when there is no such queue: nothing is run).
pub(crate) fn spawn<T, E, F>(queue: u64, token: u64, future: F) -> Result<()>
where
    T: Into<NativeOutcome>,
    E: Into<NativeError>,
    F: Future<Output = std::result::Result<T, E>> + Send + 'static,
{
    let Some(queue) = queues().get(&queue).and_then(Weak::upgrade) else {
        return Err(Error::Internal(format!("no completion queue number {queue}")).into());
    };
    let mut pending = Pending { queue, token, settled: false };
    runtime::shared().spawn(async move {
        let outcome: NativeOutcome = future.await.map(Into::into).map_err(Into::into).into();
        pending.settled = true;
        pending.queue.push(pending.token, outcome);
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;

    use super::*;

    /// Waits for the wake-up byte, as the event loop does (which polls instead of sleeping).
    fn wait_readable(c: &NativeCompletions) {
        let start = std::time::Instant::now();
        let mut byte = [0u8; 1];
        loop {
            match (&c.queue.watched).read(&mut byte) {
                Ok(1) => return,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                other => panic!("reading the wake-up socket: {other:?}"),
            }
            assert!(start.elapsed() < std::time::Duration::from_secs(10), "no wake-up byte");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn outcomes_come_back_under_their_tokens_with_one_wake_up() {
        let c = NativeCompletions::new().unwrap();
        for token in 0..100u64 {
            spawn(c.id(), token, async move { Ok::<u64, Error>(token * 2) }).unwrap();
        }
        let mut seen = Vec::new();
        while seen.len() < 100 {
            wait_readable(&c);
            for done in c.drain() {
                match done.outcome {
                    NativeOutcome::Number { value } => assert_eq!(value, done.token * 2),
                    _ => panic!("token {} gave another outcome", done.token),
                }
                seen.push(done.token);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
        // Everything came back once: nothing more is queued (a late wake-up byte may still come:
        // an outcome can be drained before the byte it writes, which costs one empty drain).
        assert!(c.drain().is_empty());
    }

    #[test]
    fn failures_and_panics_are_outcomes() {
        let c = NativeCompletions::new().unwrap();
        spawn(c.id(), 1, async { Err::<u64, Error>(Error::NotFound("no such stream".into())) }).unwrap();
        spawn(c.id(), 2, async {
            if true {
                panic!("self-test panic");
            }
            Ok::<(), Error>(())
        })
        .unwrap();
        let mut outcomes = Vec::new();
        while outcomes.len() < 2 {
            wait_readable(&c);
            outcomes.extend(c.drain());
        }
        outcomes.sort_by_key(|d| d.token);
        match &outcomes[0].outcome {
            NativeOutcome::Failed { code, .. } => assert_eq!(code, "NOT_FOUND"),
            _ => panic!("a failure was not Failed"),
        }
        match &outcomes[1].outcome {
            NativeOutcome::Failed { code, message, .. } => {
                assert_eq!(code, "INTERNAL");
                assert!(message.contains("panicked"), "{message}");
            }
            _ => panic!("a panic was not Failed"),
        }
    }

    #[test]
    fn a_dropped_queue_takes_no_calls() {
        let c = NativeCompletions::new().unwrap();
        let id = c.id();
        drop(c);
        let e = spawn(id, 1, async { Ok::<(), Error>(()) }).unwrap_err();
        let NativeError::Failure { code, .. } = e;
        assert_eq!(code, "INTERNAL");
    }
}
