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
//! backlog, without waiting for a new event. `ack_all` settles many deliveries in one commit.
//!
//! Parked events wait in `$parked-<group>` until [`Db::replay_parked`] hands them back. The
//! revisions of that stream are a second cursor space with its own checkpoint in the record,
//! next to the target's: replaying never moves the target's checkpoint, and a crash during a
//! replay resumes it where its settled prefix ends, like the target.
//!
//! The dispatcher (one per group per process, shared by its members) reads the log ahead into
//! a window of at most `max_in_flight` events, hands them out, and tracks them until settled.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::ops::Range;
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::task::Poll;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::Db;
use crate::error::{Error, ErrorCode, Result};
use crate::subscription::SubscriptionStart;
use crate::types::{EventData, Filter, ReadAllOptions, ReadOptions, RecordedEvent};

/// What a group consumes. JSON: `{"stream": "name"}` or `{"all": filter}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupTarget {
    /// The global log, filtered; cursors are positions. Parked copies (streams `$parked-*`)
    /// are never delivered: they copy events already in the log, and a group that received
    /// them could park its own copies again, forever. Target a parked stream to consume it.
    All(Filter),
    /// One stream; cursors are revisions.
    Stream(String),
}

/// How a group's members share its events. JSON: `"round_robin"` or `"pinned_by_stream"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupStrategy {
    /// Each event goes to the next member asking for work.
    #[default]
    RoundRobin,
    /// Each stream belongs to one member (by a stable hash over the members), and a stream's
    /// next event is only handed out once its previous one is settled: per-stream order.
    PinnedByStream,
}

/// JSON: `{"max_retries", "ack_timeout_ms", "max_in_flight", "strategy"}`, each absent one taking
/// its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupSettings {
    /// Deliveries after the first before an event is parked.
    pub max_retries: u32,
    /// An event not settled this long after delivery is delivered again.
    #[serde(rename = "ack_timeout_ms", with = "crate::types::millis")]
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

/// What to do with an event a member could not process. JSON: `"retry"`, `"park"`, `"skip"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NackAction {
    /// Deliver it again (parked once it has been retried `max_retries` times).
    Retry,
    /// Move a copy to the group's parked stream (`$parked-<group>`) and go on; the copy waits
    /// there for [`Db::replay_parked`].
    Park,
    /// Settle it without processing.
    Skip,
}

/// The state of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Parked events waiting in `parked_stream` for a replay (durable count).
    pub parked: u64,
    /// Parked events handed back by a replay and not yet settled again (durable count).
    pub replaying: u64,
}

/// What [`Db::replay_parked`] did. JSON: `{"from", "to", "parked", "replaying"}`, the handed-back
/// revisions being `from..to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayInfo {
    /// The revisions of the parked stream this call handed back, in order; empty when nothing
    /// was waiting.
    pub revisions: Range<u64>,
    /// Parked events still waiting for a replay after this call.
    pub parked: u64,
    /// Parked events handed back (by this call or an earlier one) and not yet settled.
    pub replaying: u64,
}

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
    pub fn parked_revision(&self) -> Option<u64> {
        self.cursor.parked_revision()
    }
}

/// Which cursor space an item belongs to. Each has its own checkpoint, so replaying parked
/// events never moves (or holds back) the target's checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Source {
    /// A position of $all or a revision of the target stream.
    Target,
    /// A revision of the group's parked stream, handed back by a replay.
    Parked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Cursor {
    source: Source,
    at: u64,
}

impl Cursor {
    fn target(at: u64) -> Cursor {
        Cursor { source: Source::Target, at }
    }

    fn parked(at: u64) -> Cursor {
        Cursor { source: Source::Parked, at }
    }

    fn parked_revision(self) -> Option<u64> {
        (self.source == Source::Parked).then_some(self.at)
    }
}

/// One incarnation of a group: its name and the random id its record got at creation, so a
/// delivery of a deleted group is never taken for one of a group created again under its name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupId {
    name: Arc<str>,
    incarnation: u64,
}

pub(crate) const PARKED_STREAM_PREFIX: &str = "$parked-";

/// The name of the stream a group parks events in.
pub fn parked_stream(group: &str) -> String {
    format!("{PARKED_STREAM_PREFIX}{group}")
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

/// How far a group got through one cursor space.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Progress {
    /// Every cursor below this is settled.
    pub checkpoint: u64,
    /// Cursors settled at or above the checkpoint.
    pub acked_above: Vec<u64>,
}

/// The replay of a group's parked stream. Revisions below `end` were handed back by
/// replays; those from `end` on wait for the next one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReplayRecord {
    #[serde(flatten)]
    pub progress: Progress,
    pub end: u64,
}

impl ReplayRecord {
    /// A replay that starts at revision `parked_end`: what is parked before it is not this
    /// group's to replay (it was parked by a deleted group of the same name).
    pub fn starting_at(parked_end: u64) -> ReplayRecord {
        ReplayRecord {
            progress: Progress { checkpoint: parked_end, acked_above: Vec::new() },
            end: parked_end,
        }
    }

    /// Parked events handed back and not settled since.
    pub fn replaying(&self) -> u64 {
        let Progress { checkpoint, acked_above } = &self.progress;
        let settled = acked_above.iter().filter(|&&r| r >= *checkpoint && r < self.end).count() as u64;
        self.end.saturating_sub(*checkpoint).saturating_sub(settled)
    }
}

/// A group as stored in the `groups` database (JSON: small, rarely a hot path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GroupRecord {
    pub target: TargetRecord,
    pub settings: SettingsRecord,
    /// Progress through the target; flattened, so records written before replays existed
    /// read the same.
    #[serde(flatten)]
    pub progress: Progress,
    pub seq: u64,
    /// Absent from records written before replays existed: nothing was replayed yet.
    #[serde(default)]
    pub replay: ReplayRecord,
    /// Random, nonzero, fixed at creation; 0 in records written before it existed.
    #[serde(default)]
    pub incarnation: u64,
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
            progress: Progress::default(),
            seq: 0,
            // The writer moves it to the parked stream's end when it creates the group.
            replay: ReplayRecord::default(),
            incarnation: fastrand::u64(1..),
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

    /// Deletes a group. Connected members get NOT_FOUND from their next call. Its replay state
    /// goes with it; the copies in its parked stream stay readable, and a group created again
    /// under the same name starts with nothing parked and nothing to replay.
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
            TargetRecord::Stream { stream } => stream_end(&engine, stream)?,
        };
        let parked_end = stream_end(&engine, &parked_stream(name))?;
        Ok(GroupInfo {
            name: name.to_string(),
            target: record.target(),
            settings: record.settings(),
            checkpoint: record.progress.checkpoint,
            lag: end.saturating_sub(record.progress.checkpoint),
            members,
            in_flight,
            buffered,
            parked_stream: parked_stream(name),
            parked: parked_end.saturating_sub(record.replay.end),
            replaying: record.replay.replaying(),
        })
    }

    /// Hands the events waiting in the group's parked stream back to the group, oldest first:
    /// all of them, or the first `limit`. They are delivered to its members again (the original
    /// event, rebuilt from the parked copy; see [`Delivery::parked_revision`]) and settled like
    /// any delivery; one that is parked again gets a new copy, which waits for the next replay.
    ///
    /// Returns once the replay is durable: after a crash, the group goes on replaying from
    /// the first parked event not settled, and never hands an event back twice beyond what
    /// at-least-once delivery allows. Replayed events are read ahead before the target's, and
    /// their progress is kept apart from the target's, whose checkpoint they never move.
    /// Nothing parked is not an error: the result says nothing was handed back.
    ///
    /// Errors: NOT_FOUND for an unknown group; INVALID_ARGUMENT for a bad name or a limit of 0.
    pub fn replay_parked(&self, name: &str, limit: Option<u64>) -> Result<ReplayInfo> {
        check_group_name(name)?;
        if limit == Some(0) {
            return Err(Error::InvalidArgument("a replay limit must be at least 1".into()));
        }
        let engine = self.engine()?;
        let info = engine.replay_parked(name, limit)?;
        // After the commit: a dispatcher started before it reads the new end here, one started
        // after it reads it from the record (`join_group` reads the record and registers the
        // dispatcher under the registry lock that `live_dispatcher` takes).
        if let Some(dispatcher) = engine.live_dispatcher(name) {
            let mut state = dispatcher.lock();
            state.replay_end = state.replay_end.max(info.revisions.end);
            drop(state);
            dispatcher.wake();
        }
        Ok(info)
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

/// The next revision of `stream`: 0 when it has none, deleted or not.
fn stream_end(engine: &crate::engine::Engine, stream: &str) -> Result<u64> {
    match engine.stream_info(stream) {
        Ok(info) => Ok(info.next_revision),
        Err(e) if matches!(e.code(), ErrorCode::NotFound | ErrorCode::StreamDeleted) => Ok(0),
        Err(e) => Err(e),
    }
}

// ---- the dispatcher -------------------------------------------------------------------------

struct Item {
    cursor: Cursor,
    event: RecordedEvent,
    attempt: u32,
}

struct InFlight {
    item: Item,
    member: u64,
    deadline: Instant,
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

struct State {
    settings: GroupSettings,
    target: Track,
    parked: Track,
    /// Parked revisions below this were handed back by replays (durably): `parked.read`
    /// never passes it.
    replay_end: u64,
    /// Read, not yet delivered, in delivery order (retries first).
    ready: VecDeque<Item>,
    pending: BTreeMap<Cursor, InFlight>,
    members: Vec<(u64, String)>,
    next_member: u64,
    seq: u64,
    deleted: bool,
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

pub(crate) struct Dispatcher {
    id: GroupId,
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
            id: GroupId { name: name.into(), incarnation: record.incarnation },
            db,
            target: record.target(),
            state: Mutex::new(State {
                settings: record.settings(),
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

    fn name(&self) -> &str {
        &self.id.name
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(&self) {
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
    fn refill(&self, state: &mut State) -> Result<()> {
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
    fn expire(state: &mut State, now: Instant) -> Option<Instant> {
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

    /// Applies `work` to the in-memory state, then (outside the lock) commits the group's
    /// progress in both cursor spaces with the copies of the parked events, in one
    /// transaction. Returns once it is durable; commits nothing when nothing was settled.
    ///
    /// A park of an event already settled (by another member after a timeout, or by an earlier
    /// call) is dropped: it would copy an event that needs nothing more. An acknowledgement of
    /// an event waiting to be parked (its retries ran out) cancels the park: it was processed.
    fn settle(&self, work: Settle<'_>) -> Result<()> {
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
        self.db.engine()?.settle_group(self.name(), seq, target, replay, parks)
    }

    fn park_due(&self) -> Result<()> {
        self.settle(Settle { park_due: true, ..Settle::default() })
    }
}

/// The work of one [`Dispatcher::settle`].
#[derive(Default)]
struct Settle<'a> {
    /// Acknowledged or skipped.
    settled: &'a [Cursor],
    /// To copy to the parked stream.
    parks: Vec<Item>,
    /// In flight, to deliver again (or to park, out of retries).
    retries: &'a [Cursor],
    /// Also park the deliveries the timer found out of retries.
    park_due: bool,
}

/// The metadata of a parked copy: where the event came from and its original metadata whole
/// (as text in `original_metadata` when it is UTF-8, else as a byte array in
/// `original_metadata_bytes`), so that a replay can rebuild the event exactly.
#[derive(Serialize, Deserialize)]
struct ParkedMetadata {
    parked_from: ParkedFrom,
    group: String,
    /// Deliveries of the event before it was parked (of this replay, for a replayed one).
    attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    original_metadata: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    original_metadata_bytes: Option<Vec<u8>>,
    /// The revision of the copy this one replaces, when a replayed event was parked again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replay_of: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct ParkedFrom {
    stream: String,
    revision: u64,
    position: u64,
    id: String,
    /// Absent from copies parked before replays existed: the copy's own timestamp stands in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schema_version: Option<u32>,
}

/// The copy of an event put in the parked stream: same type, data and content type; the
/// metadata is a [`ParkedMetadata`].
/// Also returns the stream the event came from, whose data key seals the copy in an encrypted
/// store (so shredding that stream shreds the copy).
fn park_copy(group: &str, item: Item) -> Result<(String, EventData)> {
    let e = item.event;
    // A copy of a copy (a group consuming a parked stream) is sealed with the key of the
    // stream the first copy came from, so that shredding that stream shreds this copy too.
    let origin = match e.stream.starts_with(PARKED_STREAM_PREFIX) {
        true => serde_json::from_slice::<ParkedMetadata>(&e.metadata)
            .map(|parked| parked.parked_from.stream)
            .unwrap_or_else(|_| e.stream.clone()),
        false => e.stream.clone(),
    };
    let (original_metadata, original_metadata_bytes) = match String::from_utf8(e.metadata) {
        Ok(text) => (Some(text), None),
        Err(bytes) => (None, Some(bytes.into_bytes())),
    };
    let metadata = ParkedMetadata {
        parked_from: ParkedFrom {
            stream: e.stream,
            revision: e.revision,
            position: e.position,
            id: e.id.to_string(),
            timestamp: Some(e.timestamp),
            schema_version: e.schema_version,
        },
        group: group.to_string(),
        attempts: item.attempt,
        original_metadata,
        original_metadata_bytes,
        replay_of: item.cursor.parked_revision(),
    };
    let metadata = serde_json::to_vec(&metadata).map_err(|e| Error::Internal(e.to_string()))?;
    let copy = EventData {
        id: None,
        event_type: e.event_type,
        data: e.data,
        metadata,
        content_type: e.content_type,
    };
    Ok((origin, copy))
}

/// The event a parked copy was made of (see [`park_copy`]).
fn unpark(copy: RecordedEvent) -> Result<RecordedEvent> {
    let damaged = |why: String| {
        Error::Corruption(format!("parked copy at revision {} of {}: {why}", copy.revision, copy.stream))
    };
    let parked: ParkedMetadata =
        serde_json::from_slice(&copy.metadata).map_err(|e| damaged(e.to_string()))?;
    let from = parked.parked_from;
    let id = Uuid::parse_str(&from.id).map_err(|e| damaged(format!("event id: {e}")))?;
    let metadata = match (parked.original_metadata, parked.original_metadata_bytes) {
        (Some(text), None) => text.into_bytes(),
        (None, Some(bytes)) => bytes,
        _ => return Err(damaged("it must hold the original metadata once, as text or as bytes".into())),
    };
    Ok(RecordedEvent {
        stream: from.stream,
        revision: from.revision,
        position: from.position,
        id,
        event_type: copy.event_type,
        content_type: copy.content_type,
        data: copy.data,
        metadata,
        timestamp: from.timestamp.unwrap_or(copy.timestamp),
        shredded: false,
        schema_version: from.schema_version,
    })
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
    pub async fn next(&self) -> Result<Delivery> {
        let d = self.dispatcher.clone();
        // A clone keeps the version seen so far; each call marks what it has seen below.
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
        crate::subscription::block_on(self.next())
    }

    fn try_take(&self) -> Result<Option<Delivery>> {
        let d = &self.dispatcher;
        let mut state = d.lock();
        if state.deleted {
            return Err(not_found(d.name()));
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

impl Drop for GroupMember {
    fn drop(&mut self) {
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

/// The engine side: the registry of live dispatchers, one per group.
pub(crate) type Dispatchers = Mutex<HashMap<String, Weak<Dispatcher>>>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Records written before replays existed have no `replay` nor `incarnation`: they read as
    /// a group with nothing handed back, and keep their progress through the target.
    #[test]
    fn a_record_from_before_replays_reads_as_no_replay_and_round_trips() {
        let old = br#"{"target":{"kind":"stream","stream":"s"},"settings":{"max_retries":3,
            "ack_timeout_ms":500,"max_in_flight":8,"pinned_by_stream":false},
            "checkpoint":7,"acked_above":[9,12],"seq":4}"#;
        let record = GroupRecord::decode(old).unwrap();
        assert_eq!(record.progress, Progress { checkpoint: 7, acked_above: vec![9, 12] });
        assert_eq!((record.replay.clone(), record.incarnation, record.seq), (ReplayRecord::default(), 0, 4));
        assert_eq!(GroupRecord::decode(&record.encode()).unwrap(), record);
        let json: serde_json::Value = serde_json::from_slice(&record.encode()).unwrap();
        assert_eq!((json["checkpoint"].as_u64(), json["replay"]["end"].as_u64()), (Some(7), Some(0)));
    }

    #[test]
    fn replaying_counts_what_was_handed_back_and_not_settled() {
        let replay = ReplayRecord { progress: Progress { checkpoint: 3, acked_above: vec![4, 6] }, end: 8 };
        // 3..8 handed back, 4 and 6 settled: 3, 5 and 7 are not.
        assert_eq!(replay.replaying(), 3);
        assert_eq!(ReplayRecord::starting_at(5).replaying(), 0);
    }
}

impl Serialize for ReplayInfo {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("ReplayInfo", 4)?;
        s.serialize_field("from", &self.revisions.start)?;
        s.serialize_field("to", &self.revisions.end)?;
        s.serialize_field("parked", &self.parked)?;
        s.serialize_field("replaying", &self.replaying)?;
        s.end()
    }
}
