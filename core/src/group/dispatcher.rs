//! The dispatcher: one per group per process, shared by its members. It reads ahead into the
//! window, hands events out, tracks them until settled, and commits the group's progress.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::model::{GroupSettings, GroupStrategy, GroupTarget};
use super::parked::{park_copy, unpark};
use super::{not_found, Cursor, GroupId, Source};
use crate::db::Db;
use crate::engine::{Engine, GroupRecord, Progress};
use crate::error::{Error, ErrorCode, Result};
use crate::types::{parked_stream, ReadAllOptions, ReadOptions, RecordedEvent, PARKED_STREAM_PREFIX};

pub(super) struct Item {
    pub(super) cursor: Cursor,
    pub(super) event: RecordedEvent,
    pub(super) attempt: u32,
}

pub(super) struct InFlight {
    pub(super) item: Item,
    pub(super) member: u64,
    pub(super) deadline: Instant,
}

/// Events read per page when refilling the window.
const READ_PAGE: u64 = 512;

/// The dispatcher's side of one cursor space.
struct Track {
    /// Next cursor to read.
    read: u64,
    /// Settled cursors at or above the checkpoint.
    acked_above: BTreeSet<u64>,
}

impl Track {
    fn resume(progress: &Progress) -> Track {
        Track {
            read: progress.checkpoint,
            acked_above: progress.acked_above.iter().copied().filter(|&c| c >= progress.checkpoint).collect(),
        }
    }
}

pub(super) struct State {
    pub(super) settings: GroupSettings,
    target: Track,
    parked: Track,
    /// Parked revisions below this were handed back by replays (durably): `parked.read`
    /// never passes it.
    pub(super) replay_end: u64,
    /// Read, not yet delivered, in delivery order (retries first).
    pub(super) ready: VecDeque<Item>,
    pub(super) pending: BTreeMap<Cursor, InFlight>,
    pub(super) members: Vec<(u64, String)>,
    pub(super) next_member: u64,
    seq: u64,
    pub(super) deleted: bool,
    /// Expired deliveries over their retry budget, to park (outside the lock).
    to_park: Vec<Item>,
}

impl State {
    fn track(&self, source: Source) -> &Track {
        match source {
            Source::Target => &self.target,
            Source::Parked => &self.parked,
        }
    }

    fn track_mut(&mut self, source: Source) -> &mut Track {
        match source {
            Source::Target => &mut self.target,
            Source::Parked => &mut self.parked,
        }
    }

    /// Every cursor of `source` below this is settled: the lowest one still ready, in flight or
    /// waiting to be parked, else the read cursor (events read and filtered out count as
    /// settled). An event waiting to be parked holds the checkpoint back until its copy is
    /// committed, so a crash in between delivers it again rather than losing it.
    fn checkpoint(&self, source: Source) -> u64 {
        let of_source = |c: &Cursor| (c.source == source).then_some(c.at);
        let ready = self.ready.iter().filter_map(|i| of_source(&i.cursor)).min();
        // Sorted by source, then cursor: the first at or after (source, 0) is its lowest.
        let pending = self.pending.range(Cursor { source, at: 0 }..).next().and_then(|(c, _)| of_source(c));
        let parking = self.to_park.iter().filter_map(|i| of_source(&i.cursor)).min();
        [ready, pending, parking].into_iter().flatten().fold(self.track(source).read, u64::min)
    }

    /// The progress to persist for `source`; forgets the acknowledgements below its checkpoint.
    fn progress(&mut self, source: Source) -> Progress {
        let checkpoint = self.checkpoint(source);
        let track = self.track_mut(source);
        track.acked_above = track.acked_above.split_off(&checkpoint);
        Progress { checkpoint, acked_above: track.acked_above.iter().copied().collect() }
    }

    /// Whether the event at `cursor` needs nothing more: read and no longer ready, in flight or
    /// waiting to be parked, or acknowledged ahead of the read.
    fn is_settled(&self, cursor: Cursor) -> bool {
        let track = self.track(cursor.source);
        if cursor.at >= track.read {
            return track.acked_above.contains(&cursor.at);
        }
        !(self.pending.contains_key(&cursor)
            || self.ready.iter().any(|i| i.cursor == cursor)
            || self.to_park.iter().any(|i| i.cursor == cursor))
    }
}

pub(super) struct Dispatcher {
    pub(super) id: GroupId,
    db: Db,
    target: GroupTarget,
    state: Mutex<State>,
    /// Signals the timer thread and blocking waiters.
    pub(super) changed: Condvar,
    /// Wakes async waiters.
    pub(super) notify: tokio::sync::Notify,
}

impl Dispatcher {
    pub(super) fn start(db: Db, name: &str, record: GroupRecord) -> Result<Arc<Dispatcher>> {
        let dispatcher = Arc::new(Dispatcher {
            id: GroupId { name: name.into(), incarnation: record.incarnation },
            db,
            target: GroupTarget::from(&record.target),
            state: Mutex::new(State {
                settings: GroupSettings::from(&record.settings),
                target: Track::resume(&record.progress),
                parked: Track::resume(&record.replay.progress),
                replay_end: record.replay.end,
                ready: VecDeque::new(),
                pending: BTreeMap::new(),
                members: Vec::new(),
                next_member: 0,
                seq: record.seq,
                deleted: false,
                to_park: Vec::new(),
            }),
            changed: Condvar::new(),
            notify: tokio::sync::Notify::new(),
        });
        let weak = Arc::downgrade(&dispatcher);
        std::thread::Builder::new()
            .name(format!("graveyard-group-{name}"))
            .spawn(move || timer(weak))
            .map_err(|e| Error::Internal(format!("starting the group timer: {e}")))?;
        Ok(dispatcher)
    }

    /// The dispatcher registered for group `name` in `engine`, if it is still alive.
    pub(super) fn live(engine: &Engine, name: &str) -> Option<Arc<Dispatcher>> {
        engine.live_dispatcher(name).and_then(Dispatcher::downcast)
    }

    /// The engine's registry holds dispatchers type-erased, so that the engine does not depend
    /// on this module; only dispatchers are ever registered, so this is never `None` for one.
    pub(super) fn downcast(entry: Arc<dyn Any + Send + Sync>) -> Option<Arc<Dispatcher>> {
        entry.downcast().ok()
    }

    pub(super) fn name(&self) -> &str {
        &self.id.name
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn wake(&self) {
        self.changed.notify_all();
        self.notify.notify_waiters();
    }

    /// Reads ahead while the window has room: events handed back by replays first (a replay is
    /// an explicit request, bounded by its limit, while the target's backlog may be endless),
    /// then the target.
    ///
    /// Events passed over (filtered out, parked copies, settled already) do not fill the
    /// window, so each source is read page after page until the window is full or the source
    /// is exhausted: stopping after one page of them would leave the members waiting for an
    /// append while a backlog remains.
    pub(super) fn refill(&self, state: &mut State) -> Result<()> {
        let room =
            (state.settings.max_in_flight as usize).saturating_sub(state.ready.len() + state.pending.len());
        if room == 0 {
            return Ok(());
        }
        let room = room - self.refill_replay(state, room)?;
        if room > 0 {
            self.refill_target(state, room)?;
        }
        Ok(())
    }

    /// Reads up to `room` events of the target not settled yet. Returns how many it queued.
    fn refill_target(&self, state: &mut State, room: usize) -> Result<usize> {
        let mut queued = 0;
        loop {
            let seen = match &self.target {
                GroupTarget::All(filter) => {
                    let State { target, ready, .. } = &mut *state;
                    let page = ReadAllOptions::forwards().from(target.read).limit(READ_PAGE);
                    self.db.visit_all(&page, |e| {
                        target.read = e.position + 1;
                        // A shredded event has nothing left to process: passed over, settled.
                        let wanted = filter.matches(e.stream, e.event_type)
                            && !e.stream.starts_with(PARKED_STREAM_PREFIX)
                            && !e.shredded;
                        if wanted && !target.acked_above.contains(&e.position) {
                            let cursor = Cursor::target(e.position);
                            ready.push_back(Item { cursor, event: e.to_recorded(), attempt: 0 });
                            queued += 1;
                        }
                        queued < room
                    })?
                }
                GroupTarget::Stream(stream) => {
                    let page = ReadOptions::forwards().from(state.target.read).limit(READ_PAGE);
                    let events = match self.db.read_stream(stream, page) {
                        Ok(events) => events,
                        Err(e) if e.code() == ErrorCode::NotFound => Vec::new(),
                        Err(e) => return Err(e),
                    };
                    let seen = events.len() as u64;
                    for event in events {
                        if queued == room {
                            break;
                        }
                        state.target.read = event.revision + 1;
                        if !event.shredded && !state.target.acked_above.contains(&event.revision) {
                            state.ready.push_back(Item {
                                cursor: Cursor::target(event.revision),
                                event,
                                attempt: 0,
                            });
                            queued += 1;
                        }
                    }
                    seen
                }
            };
            if queued == room || seen < READ_PAGE {
                return Ok(queued);
            }
        }
    }

    /// Reads up to `room` parked copies handed back by replays and not settled yet, as the
    /// events they copy. Returns how many it queued.
    fn refill_replay(&self, state: &mut State, room: usize) -> Result<usize> {
        let stream = parked_stream(self.name());
        let mut queued = 0;
        while queued < room && state.parked.read < state.replay_end {
            let want = (state.replay_end - state.parked.read).min(READ_PAGE);
            let copies =
                self.db.read_stream(&stream, ReadOptions::forwards().from(state.parked.read).limit(want))?;
            // The parked stream is append-only and only its group writes it: a revision a
            // replay handed back that cannot be read is damage, reported rather than skipped.
            if copies.first().map(|c| c.revision) != Some(state.parked.read) {
                return Err(Error::Corruption(format!(
                    "revision {} of {stream} was handed back by a replay and cannot be read",
                    state.parked.read
                )));
            }
            for copy in copies {
                if queued == room {
                    break;
                }
                let revision = copy.revision;
                // The copy of an event of a stream shredded since: nothing left to hand back.
                if copy.shredded {
                    state.parked.read = revision + 1;
                    continue;
                }
                // Rebuilt before the read cursor moves: a copy that cannot be rebuilt stops the
                // replay there (and says so on every call) instead of being passed over.
                let event = unpark(copy)?;
                state.parked.read = revision + 1;
                if !state.parked.acked_above.contains(&revision) {
                    state.ready.push_back(Item { cursor: Cursor::parked(revision), event, attempt: 0 });
                    queued += 1;
                }
            }
        }
        Ok(queued)
    }

    /// Moves deliveries past their deadline back to the front, or to parking when they have
    /// used their retries. Returns the earliest deadline still pending.
    pub(super) fn expire(state: &mut State, now: Instant) -> Option<Instant> {
        let expired: Vec<Cursor> =
            state.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(c, _)| *c).collect();
        for cursor in expired.into_iter().rev() {
            if let Some(in_flight) = state.pending.remove(&cursor) {
                Self::requeue(state, in_flight.item);
            }
        }
        state.pending.values().map(|p| p.deadline).min()
    }

    /// An unsettled item goes back to the front of the queue, or to parking when it has had
    /// its retries.
    fn requeue(state: &mut State, item: Item) {
        if item.attempt > state.settings.max_retries {
            state.to_park.push(item);
        } else {
            state.ready.push_front(item);
        }
    }

    /// The next item for `member`, by the group's strategy.
    pub(super) fn pick(state: &mut State, member: u64) -> Option<Item> {
        let index = match state.settings.strategy {
            GroupStrategy::RoundRobin => (!state.ready.is_empty()).then_some(0),
            GroupStrategy::PinnedByStream => {
                let mut members: Vec<u64> = state.members.iter().map(|m| m.0).collect();
                members.sort_unstable();
                let owner = |stream: &str| {
                    members[(crate::hash::stable_hash(stream.as_bytes()) % members.len() as u64) as usize]
                };
                // A stream with an event in flight, or an earlier ready event skipped for
                // another member, is busy: its next event must wait, to keep its order.
                let mut busy: std::collections::HashSet<&str> =
                    state.pending.values().map(|p| p.item.event.stream.as_str()).collect();
                let mut found = None;
                for (i, item) in state.ready.iter().enumerate() {
                    let stream = item.event.stream.as_str();
                    if busy.contains(stream) {
                        continue;
                    }
                    if owner(stream) == member {
                        found = Some(i);
                        break;
                    }
                    busy.insert(stream);
                }
                found
            }
        };
        index.and_then(|i| state.ready.remove(i))
    }

    /// Applies `work` to the in-memory state, then (outside the lock) commits the group's
    /// progress in both cursor spaces with the copies of the parked events, in one
    /// transaction. Returns once it is durable; commits nothing when nothing was settled.
    ///
    /// A park of an event already settled (by another member after a timeout, or by an earlier
    /// call) is dropped: it would copy an event that needs nothing more. An acknowledgement of
    /// an event waiting to be parked (its retries ran out) cancels the park: it was processed.
    pub(super) fn settle(&self, work: Settle<'_>) -> Result<()> {
        let Settle { settled, mut parks, retries, park_due } = work;
        let (seq, target, replay) = {
            let mut state = self.lock();
            if state.deleted {
                return Err(not_found(self.name()));
            }
            let mut parking = HashSet::new();
            parks.retain(|p| !state.is_settled(p.cursor) && parking.insert(p.cursor));
            // Retries out of budget are parked by this call, not left to the timer, so the
            // call returns once their copies are durable.
            let retried: Vec<Item> =
                retries.iter().filter_map(|c| state.pending.remove(c)).map(|p| p.item).collect();
            let max_retries = state.settings.max_retries;
            let (spent, again): (Vec<Item>, Vec<Item>) =
                retried.into_iter().partition(|i| i.attempt > max_retries);
            // Each goes to the front, the last first, so they keep the order given.
            for item in again.into_iter().rev() {
                state.ready.push_front(item);
            }
            parks.extend(spent);
            // All taken under the same lock as the checkpoint below, so no other settle can
            // see the checkpoint without these events and move it past them first.
            if park_due {
                parks.append(&mut state.to_park);
            }
            if settled.is_empty() && parks.is_empty() {
                drop(state);
                if !retries.is_empty() {
                    self.wake();
                }
                return Ok(());
            }
            let done: HashSet<Cursor> =
                settled.iter().copied().chain(parks.iter().map(|p| p.cursor)).collect();
            state.pending.retain(|c, _| !done.contains(c));
            state.ready.retain(|i| !done.contains(&i.cursor));
            state.to_park.retain(|i| !done.contains(&i.cursor));
            for cursor in &done {
                state.track_mut(cursor.source).acked_above.insert(cursor.at);
            }
            let target = state.progress(Source::Target);
            let replay = state.progress(Source::Parked);
            state.seq += 1;
            (state.seq, target, replay)
        };
        self.wake();
        let parks = parks.into_iter().map(|item| park_copy(self.name(), item)).collect::<Result<Vec<_>>>()?;
        self.db.engine()?.settle_group(self.name(), self.id.incarnation, seq, target, replay, parks)
    }

    pub(super) fn park_due(&self) -> Result<()> {
        self.settle(Settle { park_due: true, ..Settle::default() })
    }
}

/// The work of one [`Dispatcher::settle`].
#[derive(Default)]
pub(super) struct Settle<'a> {
    /// Acknowledged or skipped.
    pub(super) settled: &'a [Cursor],
    /// To copy to the parked stream.
    pub(super) parks: Vec<Item>,
    /// In flight, to deliver again (or to park, out of retries).
    pub(super) retries: &'a [Cursor],
    /// Also park the deliveries the timer found out of retries.
    pub(super) park_due: bool,
}

/// Expires deliveries at their deadlines and parks what ran out of retries, while the group
/// has a dispatcher; wakes the members so they pick the redeliveries up.
fn timer(dispatcher: Weak<Dispatcher>) {
    loop {
        let Some(d) = dispatcher.upgrade() else { return };
        let next = {
            let mut state = d.lock();
            if state.deleted {
                return;
            }
            let before = (state.ready.len(), state.to_park.len());
            let next = Dispatcher::expire(&mut state, Instant::now());
            let expired = (state.ready.len(), state.to_park.len()) != before;
            drop(state);
            if expired {
                d.wake();
            }
            next
        };
        if let Err(e) = d.park_due() {
            // The members see the same failure on their own calls; nothing is lost: the
            // events stay unsettled and will be expired again.
            let _ = e;
        }
        // Sleep until the next deadline, a change, or a second (to notice the dispatcher
        // going away).
        let wait = next.map_or(Duration::from_secs(1), |t| t.saturating_duration_since(Instant::now()));
        let state = d.lock();
        let _ = d.changed.wait_timeout(state, wait.min(Duration::from_secs(1)));
    }
}
