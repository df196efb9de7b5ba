//! Sessions as the bindings of languages with an event loop hand them out (N-API, uniffi): every
//! message ready at once crosses in one call, and cancelling lets the session go at once.
//!
//! A batch is `u32 count`, then `count` times a `u32` length and a packed item (a subscription
//! message or a delivery, docs/boundary.md). A failure met after items of the same batch is kept
//! and reported by the next call, so that it is neither lost nor reported before those items.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::packed;
use crate::error::{Error, Result};
use crate::group::NackAction;
use crate::runtime::Next;
use crate::store::{StoreMember, StoreSubscription};

/// What one `next` of a batched session gives.
#[derive(Debug)]
pub enum Batch {
    /// One or more packed items.
    Items(Vec<u8>),
    /// Nothing came within the timeout; the session goes on.
    Timeout,
    /// The session is over: cancelled, or it reported the failure that ended it.
    Ended,
}

/// A failure kept for the next call.
type Failed = Arc<Mutex<Option<Error>>>;

/// A session's handle until [`cancel`](Batched::cancel): cancelling drops it, so that the
/// session ends at once (a member leaves its group, a cluster stream closes) rather than when
/// the binding's object is collected. Calls in flight hold their own reference and finish first.
struct Batched<S> {
    session: Mutex<Option<Arc<S>>>,
    failed: Failed,
}

impl<S> Batched<S> {
    fn new(session: S) -> Batched<S> {
        Batched { session: Mutex::new(Some(Arc::new(session))), failed: Failed::default() }
    }

    fn get(&self) -> Option<Arc<S>> {
        self.session.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn take(&self) -> Option<Arc<S>> {
        self.session.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Waits for the session's next item (at most `timeout`), then takes those ready at once, up to
/// `max` (at least one).
async fn next_batch<T, F, Fut>(
    failed: &Failed,
    max: u32,
    timeout: Option<Duration>,
    next: F,
    pack: fn(&T) -> Vec<u8>,
) -> Result<Batch>
where
    F: Fn(Option<Duration>) -> Fut,
    Fut: Future<Output = Result<Next<T>>>,
{
    if let Some(e) = failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }
    let first = match next(timeout).await? {
        Next::Item(item) => item,
        Next::Timeout => return Ok(Batch::Timeout),
        Next::Ended => return Ok(Batch::Ended),
    };
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut count = 1u32;
    put_item(&mut out, &pack(&first));
    while count < max.max(1) {
        match next(Some(Duration::ZERO)).await {
            Ok(Next::Item(item)) => {
                put_item(&mut out, &pack(&item));
                count += 1;
            }
            Ok(Next::Timeout | Next::Ended) => break,
            Err(e) => {
                *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                break;
            }
        }
    }
    out[..4].copy_from_slice(&count.to_le_bytes());
    Ok(Batch::Items(out))
}

fn put_item(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).expect("an item under 4 GiB").to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A subscription handing out batches of packed messages.
pub struct BatchedSubscription(Batched<StoreSubscription>);

impl BatchedSubscription {
    pub fn new(sub: StoreSubscription) -> BatchedSubscription {
        BatchedSubscription(Batched::new(sub))
    }

    /// Up to `max` messages, waiting at most `timeout` for the first (`None`: as long as it
    /// takes). The future owns what it needs: spawn it anywhere.
    pub fn next(
        &self,
        max: u32,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<Batch>> + Send + 'static {
        let (sub, failed) = (self.0.get(), self.0.failed.clone());
        async move {
            match sub {
                Some(sub) => {
                    next_batch(&failed, max, timeout, |t| sub.next(t), packed::subscription_message).await
                }
                None => Ok(Batch::Ended),
            }
        }
    }

    /// Ends the subscription: a waiting and every later `next` says ended.
    pub fn cancel(&self) {
        if let Some(sub) = self.0.take() {
            sub.cancel();
        }
    }
}

/// A member of a consumer group handing out batches of packed deliveries.
pub struct BatchedMember(Batched<StoreMember>);

impl BatchedMember {
    pub fn new(member: StoreMember) -> BatchedMember {
        BatchedMember(Batched::new(member))
    }

    /// Up to `max` deliveries, waiting at most `timeout` for the first.
    pub fn next(
        &self,
        max: u32,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<Batch>> + Send + 'static {
        let (member, failed) = (self.0.get(), self.0.failed.clone());
        async move {
            match member {
                Some(member) => next_batch(&failed, max, timeout, |t| member.next(t), packed::delivery).await,
                None => Ok(Batch::Ended),
            }
        }
    }

    /// Acknowledges deliveries by id, in one commit. CLOSED once the member left (as through a
    /// freed handle of the C ABI).
    pub fn ack(&self, ids: Vec<u64>) -> impl Future<Output = Result<()>> + Send + 'static {
        let member = self.0.get();
        async move { member.ok_or(Error::Closed)?.ack(&ids).await }
    }

    /// Settles deliveries by id with `action`, in one commit.
    pub fn nack(
        &self,
        ids: Vec<u64>,
        action: NackAction,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let member = self.0.get();
        async move { member.ok_or(Error::Closed)?.nack(&ids, action).await }
    }

    /// Leaves the group: a waiting and every later `next` says ended, settling is CLOSED; what
    /// it held unsettled is delivered again.
    pub fn cancel(&self) {
        if let Some(member) = self.0.take() {
            // Leave now, not when a wait in flight lets its reference go: the caller may ask
            // the group who its members are next.
            member.leave();
        }
    }
}
