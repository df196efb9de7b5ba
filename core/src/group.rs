//! Consumer groups: durable, shared subscriptions with acknowledgements.
//!
//! A group is a named cursor over $all (optionally filtered) or over one stream. Its members
//! (in this process) share the events: each event goes to one member at a time, who acks it,
//! or nacks it to be retried, parked or skipped. Unacknowledged events come back after the
//! group's ack timeout. Delivery is at least once.
//!
//! Durability: the group's record holds a checkpoint (every cursor below it is settled) and
//! the cursors acknowledged above it. `ack` returns only once that record is committed, so an
//! acknowledged event is never delivered again, even after a crash; an event whose ack was not
//! committed is delivered again. After a restart, delivery resumes at the checkpoint with the
//! backlog, without waiting for a new event.
//!
//! The dispatcher (one per group per process, shared by its members) reads the log ahead into
//! a window of at most `max_in_flight` events, hands them out, and tracks them until settled.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::task::Poll;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::error::{Error, ErrorCode, Result};
use crate::subscription::SubscriptionStart;
use crate::types::{EventData, Filter, ReadAllOptions, ReadOptions, RecordedEvent};

/// What a group consumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupTarget {
    /// The global log, filtered; cursors are positions.
    All(Filter),
    /// One stream; cursors are revisions.
    Stream(String),
}

/// How a group's members share its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupStrategy {
    /// Each event goes to the next member asking for work.
    #[default]
    RoundRobin,
    /// Each stream belongs to one member (by a stable hash over the members), and a stream's
    /// next event is only handed out once its previous one is settled: per-stream order.
    PinnedByStream,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSettings {
    /// Deliveries after the first before an event is parked.
    pub max_retries: u32,
    /// An event not settled this long after delivery is delivered again.
    pub ack_timeout: Duration,
    /// Most events read ahead and in flight at once: bounds the group's memory.
    pub max_in_flight: u32,
    pub strategy: GroupStrategy,
}

impl Default for GroupSettings {
    fn default() -> Self {
        GroupSettings {
            max_retries: 10,
            ack_timeout: Duration::from_secs(30),
            max_in_flight: 256,
            strategy: GroupStrategy::RoundRobin,
        }
    }
}

/// What to do with an event a member could not process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NackAction {
    /// Deliver it again (parked once it has been retried `max_retries` times).
    Retry,
    /// Move a copy to the group's parked stream (`$parked-<group>`) and go on.
    Park,
    /// Settle it without processing.
    Skip,
}

/// The state of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub name: String,
    pub target: GroupTarget,
    pub settings: GroupSettings,
    /// Every cursor below this is settled (durably).
    pub checkpoint: u64,
    /// Events committed to the target beyond the checkpoint (for a filtered $all group,
    /// positions, matching or not).
    pub lag: u64,
    /// Members connected in this process.
    pub members: Vec<String>,
    /// Events delivered and not yet settled.
    pub in_flight: u64,
    /// Events read ahead, waiting for a member. `in_flight + buffered` never exceeds
    /// `max_in_flight`, however long the backlog: that bounds the group's memory.
    pub buffered: u64,
    pub parked_stream: String,
}

/// One event handed to a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event: RecordedEvent,
    /// 1 for the first delivery.
    pub attempt: u32,
    cursor: u64,
}

/// The name of the stream a group parks events in.
pub fn parked_stream(group: &str) -> String {
    format!("$parked-{group}")
}

const MAX_GROUP_NAME_LEN: usize = 128;

fn check_group_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_GROUP_NAME_LEN || name.contains('\0') {
        return Err(Error::InvalidArgument(format!(
            "a consumer group name is 1 to {MAX_GROUP_NAME_LEN} bytes without NUL"
        )));
    }
    Ok(())
}

fn check_settings(settings: &GroupSettings) -> Result<()> {
    if settings.max_in_flight == 0 {
        return Err(Error::InvalidArgument("max_in_flight must be at least 1".into()));
    }
    if settings.ack_timeout.is_zero() {
        return Err(Error::InvalidArgument("ack_timeout must be positive".into()));
    }
    Ok(())
}

// ---- the persisted record -------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum TargetRecord {
    All { stream_prefixes: Vec<String>, event_types: Vec<String> },
    Stream { stream: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SettingsRecord {
    max_retries: u32,
    ack_timeout_ms: u64,
    max_in_flight: u32,
    pinned_by_stream: bool,
}

/// A group as stored in the `groups` database (JSON: small, rarely a hot path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GroupRecord {
    pub target: TargetRecord,
    pub settings: SettingsRecord,
    pub checkpoint: u64,
    pub acked_above: Vec<u64>,
    pub seq: u64,
}

impl GroupRecord {
    fn new(target: &GroupTarget, settings: &GroupSettings) -> GroupRecord {
        let target = match target {
            GroupTarget::All(filter) => TargetRecord::All {
                stream_prefixes: filter.stream_prefixes.clone(),
                event_types: filter.event_types.clone(),
            },
            GroupTarget::Stream(stream) => TargetRecord::Stream { stream: stream.clone() },
        };
        GroupRecord {
            target,
            settings: settings_record(settings),
            checkpoint: 0,
            acked_above: Vec::new(),
            seq: 0,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a group record always serialises")
    }

    pub fn decode(bytes: &[u8]) -> Result<GroupRecord> {
        serde_json::from_slice(bytes).map_err(|e| Error::Corruption(format!("a consumer group record: {e}")))
    }

    fn target(&self) -> GroupTarget {
        match &self.target {
            TargetRecord::All { stream_prefixes, event_types } => GroupTarget::All(Filter {
                stream_prefixes: stream_prefixes.clone(),
                event_types: event_types.clone(),
            }),
            TargetRecord::Stream { stream } => GroupTarget::Stream(stream.clone()),
        }
    }

    fn settings(&self) -> GroupSettings {
        let s = &self.settings;
        GroupSettings {
            max_retries: s.max_retries,
            ack_timeout: Duration::from_millis(s.ack_timeout_ms),
            max_in_flight: s.max_in_flight,
            strategy: if s.pinned_by_stream {
                GroupStrategy::PinnedByStream
            } else {
                GroupStrategy::RoundRobin
            },
        }
    }
}

fn settings_record(settings: &GroupSettings) -> SettingsRecord {
    SettingsRecord {
        max_retries: settings.max_retries,
        ack_timeout_ms: u64::try_from(settings.ack_timeout.as_millis()).unwrap_or(u64::MAX).max(1),
        max_in_flight: settings.max_in_flight,
        pinned_by_stream: settings.strategy == GroupStrategy::PinnedByStream,
    }
}

// ---- the public API on Db -----------------------------------------------------------------

impl Db {
    /// Creates a consumer group. `start` places its checkpoint: the first event, the end of
    /// the target now, or after a cursor (position for $all, revision for a stream).
    pub fn create_group(
        &self,
        name: &str,
        target: GroupTarget,
        start: SubscriptionStart,
        settings: GroupSettings,
    ) -> Result<GroupInfo> {
        check_group_name(name)?;
        check_settings(&settings)?;
        if let GroupTarget::Stream(stream) = &target {
            if stream.is_empty() || stream.len() > crate::MAX_STREAM_NAME_LEN || stream.contains('\0') {
                return Err(Error::InvalidArgument(format!("invalid stream name for group '{name}'")));
            }
        }
        self.engine()?.create_group(name, GroupRecord::new(&target, &settings), start)?;
        self.group_info(name)
    }

    /// Changes a group's settings (not its target). Connected members see the change at once.
    pub fn update_group(&self, name: &str, settings: GroupSettings) -> Result<GroupInfo> {
        check_group_name(name)?;
        check_settings(&settings)?;
        let engine = self.engine()?;
        let current = engine.group_record(name)?.ok_or_else(|| not_found(name))?;
        let record = GroupRecord { settings: settings_record(&settings), ..current };
        engine.update_group(name, record)?;
        if let Some(dispatcher) = engine.live_dispatcher(name) {
            dispatcher.lock().settings = settings;
            dispatcher.wake();
        }
        drop(engine);
        self.group_info(name)
    }

    /// Deletes a group. Connected members get NOT_FOUND from their next call.
    pub fn delete_group(&self, name: &str) -> Result<()> {
        check_group_name(name)?;
        let engine = self.engine()?;
        engine.delete_group(name)?;
        if let Some(dispatcher) = engine.live_dispatcher(name) {
            dispatcher.lock().deleted = true;
            dispatcher.wake();
        }
        Ok(())
    }

    pub fn group_info(&self, name: &str) -> Result<GroupInfo> {
        check_group_name(name)?;
        let engine = self.engine()?;
        let record = engine.group_record(name)?.ok_or_else(|| not_found(name))?;
        let (members, in_flight, buffered) = match engine.live_dispatcher(name) {
            Some(d) => {
                let state = d.lock();
                let members = state.members.iter().map(|m| m.1.clone()).collect();
                (members, state.pending.len() as u64, state.ready.len() as u64)
            }
            None => (Vec::new(), 0, 0),
        };
        let end = match &record.target {
            TargetRecord::All { .. } => engine.head_position(),
            TargetRecord::Stream { stream } => match engine.stream_info(stream) {
                Ok(info) => info.next_revision,
                Err(e) if matches!(e.code(), ErrorCode::NotFound | ErrorCode::StreamDeleted) => 0,
                Err(e) => return Err(e),
            },
        };
        Ok(GroupInfo {
            name: name.to_string(),
            target: record.target(),
            settings: record.settings(),
            checkpoint: record.checkpoint,
            lag: end.saturating_sub(record.checkpoint),
            members,
            in_flight,
            buffered,
            parked_stream: parked_stream(name),
        })
    }

    /// The names of every group.
    pub fn list_groups(&self) -> Result<Vec<String>> {
        self.engine()?.group_names()
    }

    /// Joins group `name` as a member called `member` (names need not be unique; they are
    /// shown by `group_info`). Dropping the member leaves the group: what it had in flight is
    /// delivered again to the others.
    pub fn join_group(&self, name: &str, member: &str) -> Result<GroupMember> {
        check_group_name(name)?;
        let engine = self.engine()?;
        let mut registry = engine.dispatchers.lock().unwrap_or_else(|p| p.into_inner());
        let dispatcher = match registry.get(name).and_then(Weak::upgrade) {
            Some(d) if !d.lock().deleted => d,
            _ => {
                let record = engine.group_record(name)?.ok_or_else(|| not_found(name))?;
                let d = Dispatcher::start(self.clone(), name, record)?;
                registry.insert(name.to_string(), Arc::downgrade(&d));
                d
            }
        };
        drop(registry);
        let id = {
            let mut state = dispatcher.lock();
            let id = state.next_member;
            state.next_member += 1;
            state.members.push((id, member.to_string()));
            id
        };
        dispatcher.wake();
        Ok(GroupMember { head: self.watch_head()?, dispatcher, id })
    }
}

fn not_found(name: &str) -> Error {
    Error::NotFound(format!("consumer group '{name}' does not exist"))
}

// ---- the dispatcher -------------------------------------------------------------------------

struct Item {
    cursor: u64,
    event: RecordedEvent,
    attempt: u32,
}

struct InFlight {
    item: Item,
    member: u64,
    deadline: Instant,
}

struct State {
    settings: GroupSettings,
    /// Next cursor to read from the target.
    read_cursor: u64,
    /// Read, not yet delivered, in delivery order (retries first).
    ready: VecDeque<Item>,
    pending: BTreeMap<u64, InFlight>,
    /// Acknowledged cursors at or above the checkpoint.
    acked_above: BTreeSet<u64>,
    members: Vec<(u64, String)>,
    next_member: u64,
    seq: u64,
    deleted: bool,
    /// Expired deliveries over their retry budget, to park (outside the lock).
    to_park: Vec<Item>,
}

impl State {
    /// Every cursor below this is settled: the lowest one still ready, in flight or waiting to
    /// be parked, else the read cursor (events read and filtered out count as settled). An
    /// event waiting to be parked holds the checkpoint back until its copy is committed, so a
    /// crash in between delivers it again rather than losing it.
    fn checkpoint(&self) -> u64 {
        let ready = self.ready.iter().map(|i| i.cursor).min();
        let pending = self.pending.keys().next().copied();
        let parking = self.to_park.iter().map(|i| i.cursor).min();
        [ready, pending, parking].into_iter().flatten().fold(self.read_cursor, u64::min)
    }
}

pub(crate) struct Dispatcher {
    name: String,
    db: Db,
    target: GroupTarget,
    state: Mutex<State>,
    /// Signals the timer thread and blocking waiters.
    changed: Condvar,
    /// Wakes async waiters.
    notify: tokio::sync::Notify,
}

impl Dispatcher {
    fn start(db: Db, name: &str, record: GroupRecord) -> Result<Arc<Dispatcher>> {
        let dispatcher = Arc::new(Dispatcher {
            name: name.to_string(),
            db,
            target: record.target(),
            state: Mutex::new(State {
                settings: record.settings(),
                read_cursor: record.checkpoint,
                ready: VecDeque::new(),
                pending: BTreeMap::new(),
                acked_above: record.acked_above.iter().copied().filter(|&c| c >= record.checkpoint).collect(),
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

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(&self) {
        self.changed.notify_all();
        self.notify.notify_waiters();
    }

    /// Reads ahead from the target while the window has room.
    fn refill(&self, state: &mut State) -> Result<()> {
        let room =
            (state.settings.max_in_flight as usize).saturating_sub(state.ready.len() + state.pending.len());
        if room == 0 {
            return Ok(());
        }
        let limit = room as u64;
        match &self.target {
            GroupTarget::All(filter) => {
                let State { read_cursor, ready, acked_above, .. } = state;
                self.db.visit_all(&ReadAllOptions::forwards().from(*read_cursor).limit(limit), |e| {
                    *read_cursor = e.position + 1;
                    if filter.matches(e.stream, e.event_type) && !acked_above.contains(&e.position) {
                        ready.push_back(Item { cursor: e.position, event: e.to_recorded(), attempt: 0 });
                    }
                    true
                })?;
            }
            GroupTarget::Stream(stream) => {
                let events = match self
                    .db
                    .read_stream(stream, ReadOptions::forwards().from(state.read_cursor).limit(limit))
                {
                    Ok(events) => events,
                    Err(e) if e.code() == ErrorCode::NotFound => Vec::new(),
                    Err(e) => return Err(e),
                };
                for event in events {
                    state.read_cursor = event.revision + 1;
                    if !state.acked_above.contains(&event.revision) {
                        state.ready.push_back(Item { cursor: event.revision, event, attempt: 0 });
                    }
                }
            }
        }
        Ok(())
    }

    /// Moves deliveries past their deadline back to the front, or to parking when they have
    /// used their retries. Returns the earliest deadline still pending.
    fn expire(state: &mut State, now: Instant) -> Option<Instant> {
        let expired: Vec<u64> =
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
    fn pick(state: &mut State, member: u64) -> Option<Item> {
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

    /// Records `cursor` as settled, and (outside the lock) commits the group's progress with
    /// the events to park. Returns once it is durable.
    fn settle(&self, settled: &[u64], mut parks: Vec<Item>, park_due: bool) -> Result<()> {
        let (seq, checkpoint, acked_above) = {
            let mut state = self.lock();
            if state.deleted {
                return Err(not_found(&self.name));
            }
            // Taken under the same lock as the checkpoint below, so no other settle can see
            // the checkpoint without these events and move it past them first.
            if park_due {
                parks.append(&mut state.to_park);
            }
            if settled.is_empty() && parks.is_empty() {
                return Ok(());
            }
            for &cursor in settled.iter().chain(parks.iter().map(|p| &p.cursor)) {
                state.pending.remove(&cursor);
                state.ready.retain(|i| i.cursor != cursor);
                state.acked_above.insert(cursor);
            }
            let checkpoint = state.checkpoint();
            state.acked_above = state.acked_above.split_off(&checkpoint);
            state.seq += 1;
            (state.seq, checkpoint, state.acked_above.iter().copied().collect::<Vec<_>>())
        };
        self.wake();
        let parks = parks.into_iter().map(|item| park_copy(&self.name, item)).collect::<Result<Vec<_>>>()?;
        self.db.engine()?.settle_group(&self.name, seq, checkpoint, acked_above, parks)
    }

    fn park_due(&self) -> Result<()> {
        self.settle(&[], Vec::new(), true)
    }
}

/// The copy of an event put in the parked stream: same type, data and content type; the
/// metadata says where it came from and carries the original metadata whole: as text in
/// `original_metadata` when it is UTF-8, else as a byte array in `original_metadata_bytes`.
fn park_copy(group: &str, item: Item) -> Result<EventData> {
    let e = item.event;
    let mut metadata = serde_json::json!({
        "parked_from": { "stream": e.stream, "revision": e.revision, "position": e.position, "id": e.id.to_string() },
        "group": group,
        "attempts": item.attempt,
    });
    match String::from_utf8(e.metadata) {
        Ok(text) => metadata["original_metadata"] = text.into(),
        Err(bytes) => metadata["original_metadata_bytes"] = bytes.into_bytes().into(),
    }
    let metadata = serde_json::to_vec(&metadata).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(EventData { id: None, event_type: e.event_type, data: e.data, metadata, content_type: e.content_type })
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

// ---- members --------------------------------------------------------------------------------

/// A member of a consumer group: receives deliveries, settles them.
pub struct GroupMember {
    dispatcher: Arc<Dispatcher>,
    head: tokio::sync::watch::Receiver<u64>,
    id: u64,
}

impl GroupMember {
    /// The next delivery for this member, waiting for one if needed. Errors: NOT_FOUND when
    /// the group was deleted, CLOSED when the store closed.
    pub async fn next(&mut self) -> Result<Delivery> {
        let d = self.dispatcher.clone();
        loop {
            let notified = d.notify.notified();
            let mut notified = pin!(notified);
            notified.as_mut().enable();
            self.head.borrow_and_update();
            if let Some(delivery) = self.try_take()? {
                return Ok(delivery);
            }
            d.park_due()?;
            let mut head_changed = pin!(self.head.changed());
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
    pub fn next_blocking(&mut self) -> Result<Delivery> {
        crate::subscription::block_on(self.next())
    }

    fn try_take(&self) -> Result<Option<Delivery>> {
        let d = &self.dispatcher;
        let mut state = d.lock();
        if state.deleted {
            return Err(not_found(&d.name));
        }
        Dispatcher::expire(&mut state, Instant::now());
        d.refill(&mut state)?;
        let Some(mut item) = Dispatcher::pick(&mut state, self.id) else { return Ok(None) };
        item.attempt += 1;
        let delivery = Delivery { event: item.event.clone(), attempt: item.attempt, cursor: item.cursor };
        let deadline = Instant::now() + state.settings.ack_timeout;
        state.pending.insert(item.cursor, InFlight { item, member: self.id, deadline });
        drop(state);
        // The timer may be asleep until a later deadline than this one.
        d.changed.notify_all();
        Ok(Some(delivery))
    }

    /// Acknowledges a delivery: returns once that is durable. Acknowledging one that was
    /// meanwhile redelivered (after a timeout) settles it too.
    pub fn ack(&self, delivery: &Delivery) -> Result<()> {
        self.dispatcher.settle(&[delivery.cursor], Vec::new(), false)
    }

    pub fn nack(&self, delivery: &Delivery, action: NackAction) -> Result<()> {
        let d = &self.dispatcher;
        match action {
            NackAction::Skip => d.settle(&[delivery.cursor], Vec::new(), false),
            NackAction::Park => {
                let item = Item {
                    cursor: delivery.cursor,
                    event: delivery.event.clone(),
                    attempt: delivery.attempt,
                };
                d.settle(&[], vec![item], false)
            }
            NackAction::Retry => {
                {
                    let mut state = d.lock();
                    if state.deleted {
                        return Err(not_found(&d.name));
                    }
                    if let Some(in_flight) = state.pending.remove(&delivery.cursor) {
                        Dispatcher::requeue(&mut state, in_flight.item);
                    }
                }
                d.wake();
                d.park_due()
            }
        }
    }
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        let d = &self.dispatcher;
        {
            let mut state = d.lock();
            state.members.retain(|m| m.0 != self.id);
            let mine: Vec<u64> =
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

/// The engine side: the registry of live dispatchers, one per group.
pub(crate) type Dispatchers = Mutex<HashMap<String, Weak<Dispatcher>>>;
