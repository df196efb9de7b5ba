//! Members: what a consumer holds to receive a group's deliveries and settle them.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use super::dispatcher::{Dispatcher, InFlight, Item, Settle};
use super::model::NackAction;
use super::{not_found, Cursor, GroupId};
use crate::error::{Error, Result};
use crate::types::RecordedEvent;

/// One event handed to a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The event as it was appended to its stream, also when it is a replayed parked event.
    pub event: RecordedEvent,
    /// 1 for the first delivery. A replayed parked event starts again at 1, with the group's
    /// whole retry budget: a replay is a new chance, usually after the cause was fixed.
    pub attempt: u32,
    cursor: Cursor,
    /// The group the delivery belongs to: settling it through another group is refused.
    group: GroupId,
}

impl Delivery {
    /// `Some(revision)` of its copy in the group's parked stream when this delivery is a
    /// parked event handed back by [`Db::replay_parked`]; `None` for an event of the target.
    ///
    /// [`Db::replay_parked`]: crate::Db::replay_parked
    pub fn parked_revision(&self) -> Option<u64> {
        self.cursor.parked_revision()
    }

    /// The delivery's id, owned by the core and the same in every binding and on the wire: the
    /// event's position, or, for a parked event handed back by a replay, the top bit set and the
    /// revision of its parked copy in the rest. A redelivery of the same event has the same id;
    /// a replayed parked event has another id than its first delivery.
    pub fn id(&self) -> u64 {
        match self.parked_revision() {
            Some(revision) => REPLAYED | revision,
            None => self.event.position,
        }
    }
}

/// The top bit of the id of a replayed parked event (see [`Delivery::id`]).
const REPLAYED: u64 = 1 << 63;

/// A member of a consumer group: receives deliveries, settles them.
pub struct GroupMember {
    pub(super) dispatcher: Arc<Dispatcher>,
    pub(super) head: tokio::sync::watch::Receiver<u64>,
    pub(super) id: u64,
    /// Set by [`GroupMember::leave`]: nothing more is handed to this member.
    pub(super) left: AtomicBool,
}

impl GroupMember {
    /// The next delivery for this member, waiting for one if needed. Errors: NOT_FOUND when
    /// the group was deleted, CLOSED when the store closed.
    pub async fn next(&self) -> Result<Delivery> {
        let d = self.dispatcher.clone();
        // A clone per call, so that `&self` is enough and another thread can settle through
        // this member while this call waits. Every wait marks the head seen just before it
        // looks for work, so what the clone starts from does not matter.
        let mut head = self.head.clone();
        loop {
            let notified = d.notify.notified();
            let mut notified = pin!(notified);
            notified.as_mut().enable();
            head.borrow_and_update();
            if let Some(delivery) = self.try_take()? {
                return Ok(delivery);
            }
            d.park_due()?;
            let mut head_changed = pin!(head.changed());
            let woke = std::future::poll_fn(|cx| {
                if let Poll::Ready(r) = head_changed.as_mut().poll(cx) {
                    return Poll::Ready(r.is_ok());
                }
                notified.as_mut().poll(cx).map(|()| true)
            })
            .await;
            if !woke {
                return Err(Error::Closed);
            }
        }
    }

    /// [`GroupMember::next`] for threads without an async runtime.
    pub fn next_blocking(&self) -> Result<Delivery> {
        crate::runtime::block_on(self.next())
    }

    fn try_take(&self) -> Result<Option<Delivery>> {
        let d = &self.dispatcher;
        let mut state = d.lock();
        if state.deleted {
            return Err(not_found(d.name()));
        }
        // Read under the lock `leave` takes after setting it: a take after the leave's
        // cleanup sees it, and one before is undone by the cleanup.
        if self.left.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Dispatcher::expire(&mut state, Instant::now());
        d.refill(&mut state)?;
        let Some(mut item) = Dispatcher::pick(&mut state, self.id) else { return Ok(None) };
        item.attempt += 1;
        let delivery = Delivery {
            event: item.event.clone(),
            attempt: item.attempt,
            cursor: item.cursor,
            group: d.id.clone(),
        };
        let deadline = Instant::now() + state.settings.ack_timeout;
        state.pending.insert(item.cursor, InFlight { item, member: self.id, deadline });
        drop(state);
        // The timer may be asleep until a later deadline than this one.
        d.changed.notify_all();
        Ok(Some(delivery))
    }

    /// Acknowledges a delivery: returns once that is durable. Same rules as
    /// [`GroupMember::ack_all`] of one delivery.
    pub fn ack(&self, delivery: &Delivery) -> Result<()> {
        self.ack_all(std::slice::from_ref(delivery))
    }

    /// Acknowledges every delivery of `deliveries` in ONE commit, and returns once it is
    /// durable: a crash leaves all of them acknowledged or none. Cheaper than one `ack` each:
    /// one group record written, one fsync.
    ///
    /// - A delivery of another group (or of a deleted group, even one created again under the
    ///   same name) refuses the whole call with INVALID_ARGUMENT, and nothing is settled.
    /// - A stale delivery is accepted: one settled meanwhile (acknowledged by another member
    ///   after its timeout, skipped, parked, or acknowledged twice in the slice) changes
    ///   nothing; one redelivered meanwhile (after its timeout) is settled for every member;
    ///   one whose retries ran out and that waits to be parked is not parked.
    /// - An empty slice commits nothing.
    ///
    /// Errors: NOT_FOUND when the group was deleted. On an error of the commit itself (I/O),
    /// nothing of the call is known to be durable; its events may be delivered again after a
    /// restart, as at-least-once delivery allows.
    pub fn ack_all(&self, deliveries: &[Delivery]) -> Result<()> {
        let cursors = self.cursors_of(deliveries)?;
        self.dispatcher.settle(Settle { settled: &cursors, ..Settle::default() })
    }

    /// Nacks a delivery. Same rules as [`GroupMember::nack_all`] of one delivery.
    pub fn nack(&self, delivery: &Delivery, action: NackAction) -> Result<()> {
        self.nack_all(std::slice::from_ref(delivery), action)
    }

    /// Nacks every delivery of `deliveries` with `action`, checked like
    /// [`GroupMember::ack_all`] (a delivery of another group refuses the whole call). `Park`
    /// and `Skip` settle them all in ONE commit, returned once durable: a crash leaves all the
    /// copies written and the events settled, or none. `Retry` puts those still in flight back
    /// at the front of the queue, in the order given; those out of retries are parked, in one
    /// commit, before it returns. A park of a delivery already settled writes no copy; a retry
    /// of one no longer in flight does nothing.
    pub fn nack_all(&self, deliveries: &[Delivery], action: NackAction) -> Result<()> {
        let cursors = self.cursors_of(deliveries)?;
        let work = match action {
            NackAction::Skip => Settle { settled: &cursors, ..Settle::default() },
            NackAction::Park => {
                let items = deliveries
                    .iter()
                    .map(|x| Item { cursor: x.cursor, event: x.event.clone(), attempt: x.attempt })
                    .collect();
                Settle { parks: items, ..Settle::default() }
            }
            NackAction::Retry => Settle { retries: &cursors, park_due: true, ..Settle::default() },
        };
        self.dispatcher.settle(work)
    }

    /// The cursors of `deliveries`, once every one is known to come from this member's group:
    /// a call is refused whole rather than settled in part.
    fn cursors_of(&self, deliveries: &[Delivery]) -> Result<Vec<Cursor>> {
        let group = &self.dispatcher.id;
        deliveries
            .iter()
            .map(|delivery| {
                if delivery.group == *group {
                    Ok(delivery.cursor)
                } else {
                    Err(Error::InvalidArgument(format!(
                        "the delivery of event {} is not one of consumer group '{}' (it came from group '{}'{})",
                        delivery.event.id,
                        group.name,
                        delivery.group.name,
                        if delivery.group.name == group.name { ", since deleted" } else { "" },
                    )))
                }
            })
            .collect()
    }
}

impl GroupMember {
    /// Leaves the group now, as dropping the member does, even while calls through it are in
    /// flight (a binding's session cancelled while a wait it started still holds the member):
    /// its unsettled deliveries go to the other members, and it takes nothing more (CLOSED).
    pub fn leave(&self) {
        self.left.store(true, Ordering::Release);
        self.hand_back();
    }

    fn hand_back(&self) {
        let d = &self.dispatcher;
        {
            let mut state = d.lock();
            state.members.retain(|m| m.0 != self.id);
            let mine: Vec<Cursor> =
                state.pending.iter().filter(|(_, p)| p.member == self.id).map(|(c, _)| *c).collect();
            for cursor in mine.into_iter().rev() {
                if let Some(in_flight) = state.pending.remove(&cursor) {
                    state.ready.push_front(in_flight.item);
                }
            }
        }
        d.wake();
    }
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        self.hand_back();
    }
}
