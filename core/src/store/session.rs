//! The sessions of a [`Store`]: subscriptions and consumer-group members, over either face.

use std::sync::Arc;
use std::time::Duration;

use super::{Face, Held, Store, MAX_HELD};
use crate::error::{Error, Result};
use crate::runtime::{self, blocking_section, Cancel, Next};
#[cfg(feature = "client")]
use crate::{ClientGroupMember, ClientSubscription};
use crate::{
    Delivery, GroupMember, NackAction, RecordedEvent, SubscribeOptions, Subscription, SubscriptionMessage,
};

/// A catch-up subscription of a [`Store`]: history, then live events, with one caught-up
/// marker between them. It never ends silently: a failure comes as an error from `next`, after
/// which `next` returns [`Next::Ended`].
pub struct StoreSubscription {
    face: tokio::sync::Mutex<Option<SubscriptionFace>>,
    cancel: Cancel,
    /// The store's: pulled when it closes.
    closed: Cancel,
}

enum SubscriptionFace {
    Embedded(Subscription),
    #[cfg(feature = "client")]
    Cluster(ClientSubscription),
}

impl StoreSubscription {
    pub(super) async fn to_stream(store: &Store, stream: &str, options: SubscribeOptions) -> Result<Self> {
        let face = match &store.face {
            Face::Embedded(db) => SubscriptionFace::Embedded(db.subscribe_to_stream(stream, options)?),
            #[cfg(feature = "client")]
            Face::Cluster(c) => SubscriptionFace::Cluster(c.subscribe_to_stream(stream, options).await?),
        };
        Ok(StoreSubscription::new(face, store))
    }

    pub(super) async fn to_all(store: &Store, options: SubscribeOptions) -> Result<Self> {
        let face = match &store.face {
            Face::Embedded(db) => SubscriptionFace::Embedded(db.subscribe_to_all(options)?),
            #[cfg(feature = "client")]
            Face::Cluster(c) => SubscriptionFace::Cluster(c.subscribe_to_all(options).await?),
        };
        Ok(StoreSubscription::new(face, store))
    }

    fn new(face: SubscriptionFace, store: &Store) -> StoreSubscription {
        StoreSubscription {
            face: tokio::sync::Mutex::new(Some(face)),
            cancel: Cancel::new(),
            closed: store.shared.closed.clone(),
        }
    }

    /// The next message, waiting at most `timeout` (`None`: as long as it takes).
    /// [`Next::Ended`] once the subscription was cancelled, or after it reported an error.
    pub async fn next(&self, timeout: Option<Duration>) -> Result<Next<SubscriptionMessage>> {
        let next = while_open(
            &self.closed,
            runtime::wait(&self.cancel, timeout, async {
                let mut face = self.face.lock().await;
                let message = match face.as_mut() {
                    None => None,
                    Some(SubscriptionFace::Embedded(s)) => s.next().await,
                    #[cfg(feature = "client")]
                    Some(SubscriptionFace::Cluster(s)) => s.next().await,
                };
                if !matches!(message, Some(Ok(_))) {
                    *face = None;
                }
                message
            }),
        )
        .await?;
        match next {
            Next::Item(Some(Ok(message))) => Ok(Next::Item(message)),
            Next::Item(Some(Err(e))) => Err(e),
            Next::Timeout => Ok(Next::Timeout),
            Next::Item(None) | Next::Ended => {
                self.release();
                Ok(Next::Ended)
            }
        }
    }

    /// [`StoreSubscription::next`], blocking this thread.
    pub fn next_blocking(&self, timeout: Option<Duration>) -> Result<Next<SubscriptionMessage>> {
        runtime::block_on_shared(self.next(timeout))
    }

    /// Ends the subscription for good, from any thread: a `next` waiting now returns
    /// [`Next::Ended`], and so does every later one.
    pub fn cancel(&self) {
        self.cancel.cancel();
        self.release();
    }

    /// Lets the session go (a cluster subscription's call ends) unless a `next` holds it, which
    /// then ends it itself.
    fn release(&self) {
        if let Ok(mut face) = self.face.try_lock() {
            face.take();
        }
    }
}

/// One event handed to a [`StoreMember`], named by `id` when it is settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreDelivery {
    /// Names the delivery in acks and nacks, through any member of the group joined through the
    /// same store. A redelivery of the same event has the same id; a replayed parked event has
    /// another id than its first delivery. The same ids a node sends on the wire.
    pub id: u64,
    /// The event as it was appended to its stream, also when it is a replayed parked event.
    pub event: RecordedEvent,
    /// 1 for the first delivery (and for the first delivery of a replay).
    pub attempt: u32,
    /// The revision of its copy in the group's parked stream when this is a parked event handed
    /// back by a replay; `None` for an event of the target.
    pub parked_revision: Option<u64>,
}

/// A member of a consumer group, through a [`Store`]. Dropping it leaves the group: its
/// unsettled deliveries go to the other members.
pub struct StoreMember {
    face: MemberFace,
    /// The group's deliveries handed out through this store, shared with its other members.
    held: Arc<Held>,
    group: String,
    cancel: Cancel,
    /// The store's: pulled when it closes.
    closed: Cancel,
}

enum MemberFace {
    Embedded(GroupMember),
    #[cfg(feature = "client")]
    Cluster(Box<ClientGroupMember>),
}

impl StoreMember {
    pub(super) async fn join(store: &Store, group: &str, member: &str) -> Result<StoreMember> {
        let face = match &store.face {
            Face::Embedded(db) => MemberFace::Embedded(db.join_group(group, member)?),
            #[cfg(feature = "client")]
            Face::Cluster(c) => MemberFace::Cluster(Box::new(c.join_group(group, member).await?)),
        };
        Ok(StoreMember {
            face,
            held: store.held(group),
            group: group.to_owned(),
            cancel: Cancel::new(),
            closed: store.shared.closed.clone(),
        })
    }

    /// The next delivery, waiting at most `timeout` (`None`: as long as it takes).
    /// [`Next::Ended`] once the member was cancelled. Errors: NOT_FOUND when the group was
    /// deleted, CLOSED when the store closed, UNAVAILABLE when a cluster session dropped (join
    /// again: unsettled events are delivered again).
    pub async fn next(&self, timeout: Option<Duration>) -> Result<Next<StoreDelivery>> {
        let next = while_open(
            &self.closed,
            runtime::wait(&self.cancel, timeout, async {
                match &self.face {
                    MemberFace::Embedded(member) => {
                        let delivery = member.next().await?;
                        let out = StoreDelivery {
                            id: delivery.id(),
                            event: delivery.event.clone(),
                            attempt: delivery.attempt,
                            parked_revision: delivery.parked_revision(),
                        };
                        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
                        held.insert(out.id, Some(delivery));
                        while held.len() > MAX_HELD {
                            held.pop_first();
                        }
                        Ok(out)
                    }
                    #[cfg(feature = "client")]
                    MemberFace::Cluster(member) => {
                        let d = member.next().await?;
                        Ok(StoreDelivery {
                            id: d.id,
                            event: d.event,
                            attempt: d.attempt,
                            parked_revision: d.parked_revision,
                        })
                    }
                }
            }),
        )
        .await?;
        match next {
            Next::Item(Ok(delivery)) => Ok(Next::Item(delivery)),
            Next::Item(Err(e)) => Err(e),
            Next::Timeout => Ok(Next::Timeout),
            Next::Ended => Ok(Next::Ended),
        }
    }

    /// [`StoreMember::next`], blocking this thread.
    pub fn next_blocking(&self, timeout: Option<Duration>) -> Result<Next<StoreDelivery>> {
        runtime::block_on_shared(self.next(timeout))
    }

    /// Acknowledges the deliveries `ids` in one commit, returned once durable. Works while
    /// another thread waits in `next`, and through any member of the group joined through the
    /// same store. A delivery settled already (late, or twice) is passed over: harmless. An id
    /// never handed out refuses the whole call with INVALID_ARGUMENT, settling nothing.
    pub async fn ack(&self, ids: &[u64]) -> Result<()> {
        self.settle(ids, None, true).await
    }

    /// Nacks the deliveries `ids` with `action` (see [`GroupMember::nack_all`]); ids as in
    /// [`StoreMember::ack`].
    pub async fn nack(&self, ids: &[u64], action: NackAction) -> Result<()> {
        self.settle(ids, Some(action), true).await
    }

    /// [`StoreMember::ack`], blocking this thread.
    pub fn ack_blocking(&self, ids: &[u64]) -> Result<()> {
        runtime::block_on_shared(self.settle(ids, None, false))
    }

    /// [`StoreMember::nack`], blocking this thread.
    pub fn nack_blocking(&self, ids: &[u64], action: NackAction) -> Result<()> {
        runtime::block_on_shared(self.settle(ids, Some(action), false))
    }

    /// Ends the member's waits for good, from any thread: a `next` waiting now returns
    /// [`Next::Ended`], and so does every later one. Settling still works until it is dropped.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Leaves the group now, as dropping the member does, even while calls through it are in
    /// flight: its unsettled deliveries go to the other members. Its waits end as after
    /// [`cancel`](StoreMember::cancel); what it settles from then on is refused.
    pub fn leave(&self) {
        self.cancel.cancel();
        match &self.face {
            MemberFace::Embedded(member) => member.leave(),
            #[cfg(feature = "client")]
            MemberFace::Cluster(member) => member.leave(),
        }
    }

    async fn settle(&self, ids: &[u64], action: Option<NackAction>, in_async: bool) -> Result<()> {
        if self.closed.is_cancelled() {
            return Err(Error::Closed);
        }
        match &self.face {
            MemberFace::Embedded(member) => {
                let deliveries = self.outstanding(ids)?;
                if deliveries.is_empty() {
                    return Ok(());
                }
                // One commit for all of them, however many.
                let commit = || match action {
                    None => member.ack_all(&deliveries),
                    Some(action) => member.nack_all(&deliveries, action),
                };
                if in_async {
                    blocking_section(commit)?;
                } else {
                    commit()?;
                }
                let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
                for delivery in deliveries {
                    // A redelivery handed out meanwhile has the same id and a later attempt: it
                    // stays outstanding, to be settled on its own.
                    let id = delivery.id();
                    if held.get(&id) == Some(&Some(delivery)) {
                        held.insert(id, None);
                    }
                }
                Ok(())
            }
            #[cfg(feature = "client")]
            MemberFace::Cluster(member) => match action {
                None => member.ack_ids(ids).await,
                Some(action) => member.nack_ids(ids, action).await,
            },
        }
    }

    /// The outstanding deliveries of `ids`, once every id is known.
    fn outstanding(&self, ids: &[u64]) -> Result<Vec<Delivery>> {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let mut deliveries = Vec::with_capacity(ids.len());
        for id in ids {
            match held.get(id) {
                Some(Some(delivery)) => deliveries.push(delivery.clone()),
                Some(None) => {}
                None => {
                    return Err(Error::InvalidArgument(format!(
                    "delivery {id} is not outstanding in group '{}' (never handed out through this store, \
                         or settled too long ago to be remembered)",
                    self.group
                )))
                }
            }
        }
        Ok(deliveries)
    }
}

/// `wait`, unless the store closes first (or has closed): then CLOSED.
async fn while_open<T>(closed: &Cancel, wait: impl std::future::Future<Output = T>) -> Result<T> {
    if closed.is_cancelled() {
        return Err(Error::Closed);
    }
    let closing = std::pin::pin!(closed.cancelled());
    let wait = std::pin::pin!(wait);
    match futures_util::future::select(closing, wait).await {
        futures_util::future::Either::Left(_) => Err(Error::Closed),
        futures_util::future::Either::Right((value, _)) => Ok(value),
    }
}
