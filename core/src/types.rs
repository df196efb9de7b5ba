//! The model: what users write, what they read back, and the options of each operation.

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::error::{Error, Result};

/// The content type given to events built with [`EventData::json`] and the default one.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// The content type given to events built with [`EventData::binary`].
pub const CONTENT_TYPE_BINARY: &str = "application/octet-stream";

/// An event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventData {
    /// Unique id of the event; generated (UUIDv7, time-ordered) when absent. A retried append
    /// carrying the same ids is recognised and answered with the original result.
    pub id: Option<Uuid>,
    pub event_type: String,
    pub data: Vec<u8>,
    pub metadata: Vec<u8>,
    /// `application/json` (checked to be JSON on append) or any other label.
    pub content_type: String,
}

impl EventData {
    /// A JSON event serialised from `value`.
    pub fn json<T: serde::Serialize + ?Sized>(event_type: impl Into<String>, value: &T) -> Result<EventData> {
        let data = serde_json::to_vec(value)
            .map_err(|e| Error::invalid(format!("event data does not serialise to JSON: {e}")))?;
        Ok(EventData::new(event_type, data, CONTENT_TYPE_JSON))
    }

    /// A JSON event whose bytes the caller already has (checked to be JSON on append).
    pub fn json_bytes(event_type: impl Into<String>, data: impl Into<Vec<u8>>) -> EventData {
        EventData::new(event_type, data.into(), CONTENT_TYPE_JSON)
    }

    /// An event whose data is opaque bytes.
    pub fn binary(event_type: impl Into<String>, data: impl Into<Vec<u8>>) -> EventData {
        EventData::new(event_type, data.into(), CONTENT_TYPE_BINARY)
    }

    pub fn new(event_type: impl Into<String>, data: Vec<u8>, content_type: impl Into<String>) -> EventData {
        EventData {
            id: None,
            event_type: event_type.into(),
            data,
            metadata: Vec::new(),
            content_type: content_type.into(),
        }
    }

    pub fn with_id(mut self, id: Uuid) -> EventData {
        self.id = Some(id);
        self
    }

    pub fn with_metadata(mut self, metadata: impl Into<Vec<u8>>) -> EventData {
        self.metadata = metadata.into();
        self
    }
}

/// An event read back from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub stream: String,
    /// 0-based position of the event in its stream.
    pub revision: u64,
    /// 0-based position of the event in the global log ($all): gapless, in commit order.
    pub position: u64,
    pub id: Uuid,
    pub event_type: String,
    pub content_type: String,
    pub data: Vec<u8>,
    pub metadata: Vec<u8>,
    /// Commit time, unix microseconds. Never decreases along the log.
    pub timestamp: i64,
    /// True when the stream's data key was destroyed: `data` and `metadata` are empty.
    pub shredded: bool,
    /// The version of the schema the data was validated against when it was appended; `None`
    /// when its type named no schema then.
    pub schema_version: Option<u32>,
}

impl RecordedEvent {
    /// A borrowed view, the inverse of [`EventRef::to_recorded`]: one encoder serves both.
    pub fn as_event_ref(&self) -> EventRef<'_> {
        EventRef {
            stream: &self.stream,
            revision: self.revision,
            position: self.position,
            id: self.id,
            event_type: &self.event_type,
            content_type: &self.content_type,
            data: &self.data,
            metadata: &self.metadata,
            timestamp: self.timestamp,
            shredded: self.shredded,
            schema_version: self.schema_version,
        }
    }

    /// Deserialises the JSON data of the event.
    pub fn json<'a, T: serde::Deserialize<'a>>(&'a self) -> Result<T> {
        serde_json::from_slice(&self.data)
            .map_err(|e| Error::invalid(format!("event {} is not the JSON asked for: {e}", self.id)))
    }
}

/// An event read in place: borrows the store's memory, valid only inside the visit callback
/// that received it (see [`crate::Db::visit_stream`]). Nothing is copied until the caller copies
/// it, so scans and encoders (FFI, the wire) pay for one copy at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef<'a> {
    pub stream: &'a str,
    pub revision: u64,
    pub position: u64,
    pub id: Uuid,
    pub event_type: &'a str,
    pub content_type: &'a str,
    pub data: &'a [u8],
    pub metadata: &'a [u8],
    pub timestamp: i64,
    pub shredded: bool,
    pub schema_version: Option<u32>,
}

impl EventRef<'_> {
    /// An owned copy.
    pub fn to_recorded(&self) -> RecordedEvent {
        RecordedEvent {
            stream: self.stream.to_owned(),
            revision: self.revision,
            position: self.position,
            id: self.id,
            event_type: self.event_type.to_owned(),
            content_type: self.content_type.to_owned(),
            data: self.data.to_vec(),
            metadata: self.metadata.to_vec(),
            timestamp: self.timestamp,
            shredded: self.shredded,
            schema_version: self.schema_version,
        }
    }
}

/// The optimistic-concurrency condition of a write. JSON: `"any"`, `"no_stream"`,
/// `"stream_exists"` or `{"exact": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedVersion {
    /// No condition.
    Any,
    /// The stream has no events (never written, or soft-deleted).
    NoStream,
    /// The stream has at least one event.
    StreamExists,
    /// The stream's last revision is exactly this one.
    Exact(u64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::StreamExists => f.write_str("stream exists"),
            ExpectedVersion::Exact(n) => write!(f, "revision {n}"),
        }
    }
}

/// What a stream holds now, as reported by a version conflict. JSON: `"no_stream"` or the
/// revision, an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CurrentRevision {
    /// The stream has no events (never written, or soft-deleted and not written since).
    NoStream,
    /// The revision of the stream's last event.
    Revision(u64),
}

impl CurrentRevision {
    pub fn satisfies(self, expected: ExpectedVersion) -> bool {
        match (expected, self) {
            (ExpectedVersion::Any, _) => true,
            (ExpectedVersion::NoStream, CurrentRevision::NoStream) => true,
            (ExpectedVersion::StreamExists, CurrentRevision::Revision(_)) => true,
            (ExpectedVersion::Exact(n), CurrentRevision::Revision(r)) => n == r,
            _ => false,
        }
    }
}

impl Serialize for CurrentRevision {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            CurrentRevision::NoStream => serializer.serialize_str("no_stream"),
            CurrentRevision::Revision(n) => serializer.serialize_u64(*n),
        }
    }
}

impl<'de> Deserialize<'de> for CurrentRevision {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Revision(u64),
            Word(String),
        }
        match Form::deserialize(deserializer)? {
            Form::Revision(n) => Ok(CurrentRevision::Revision(n)),
            Form::Word(w) if w == "no_stream" => Ok(CurrentRevision::NoStream),
            Form::Word(w) => Err(serde::de::Error::custom(format!(
                "a current revision is \"no_stream\" or an integer, not \"{w}\""
            ))),
        }
    }
}

impl fmt::Display for CurrentRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CurrentRevision::NoStream => f.write_str("no stream"),
            CurrentRevision::Revision(n) => write!(f, "revision {n}"),
        }
    }
}

/// The outcome of a successful append (or of a recognised retry of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendResult {
    /// Revision of the first event written.
    pub first_revision: u64,
    /// Revision of the last event written: the stream's current revision right after.
    pub last_revision: u64,
    /// Global position of the first event written.
    pub first_position: u64,
    /// Global position of the last event written.
    pub last_position: u64,
}

/// JSON: `"forwards"` or `"backwards"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Forwards,
    Backwards,
}

/// Options of [`crate::Db::read_stream`]: `ReadOptions::forwards().from(0).limit(100)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    pub direction: Direction,
    /// First revision to return; `None` is the start (forwards) or the end (backwards).
    pub from: Option<u64>,
    /// Most events to return.
    pub limit: u64,
}

impl ReadOptions {
    pub fn forwards() -> ReadOptions {
        ReadOptions { direction: Direction::Forwards, from: None, limit: u64::MAX }
    }
    pub fn backwards() -> ReadOptions {
        ReadOptions { direction: Direction::Backwards, from: None, limit: u64::MAX }
    }
    pub fn from(mut self, revision: u64) -> ReadOptions {
        self.from = Some(revision);
        self
    }
    pub fn limit(mut self, limit: u64) -> ReadOptions {
        self.limit = limit;
        self
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions::forwards()
    }
}

/// Which events of $all a read or a subscription returns. Empty lists match everything; a
/// list matches when any of its entries does; both lists must match. JSON:
/// `{"stream_prefixes": [...], "event_types": [...]}`, each absent = empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    pub stream_prefixes: Vec<String>,
    pub event_types: Vec<String>,
}

impl Filter {
    pub fn stream_prefix(prefix: impl Into<String>) -> Filter {
        Filter { stream_prefixes: vec![prefix.into()], event_types: Vec::new() }
    }
    pub fn event_type(event_type: impl Into<String>) -> Filter {
        Filter { stream_prefixes: Vec::new(), event_types: vec![event_type.into()] }
    }
    pub fn or_stream_prefix(mut self, prefix: impl Into<String>) -> Filter {
        self.stream_prefixes.push(prefix.into());
        self
    }
    pub fn or_event_type(mut self, event_type: impl Into<String>) -> Filter {
        self.event_types.push(event_type.into());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.stream_prefixes.is_empty() && self.event_types.is_empty()
    }

    pub fn matches(&self, stream: &str, event_type: &str) -> bool {
        (self.stream_prefixes.is_empty()
            || self.stream_prefixes.iter().any(|p| stream.starts_with(p.as_str())))
            && (self.event_types.is_empty() || self.event_types.iter().any(|t| t == event_type))
    }
}

/// Options of [`crate::Db::read_all`]: `ReadAllOptions::forwards().from(0).limit(1000)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAllOptions {
    pub direction: Direction,
    /// First position to return; `None` is the start (forwards) or the end (backwards).
    pub from: Option<u64>,
    pub limit: u64,
    pub filter: Filter,
}

impl ReadAllOptions {
    pub fn forwards() -> ReadAllOptions {
        ReadAllOptions {
            direction: Direction::Forwards,
            from: None,
            limit: u64::MAX,
            filter: Filter::default(),
        }
    }
    pub fn backwards() -> ReadAllOptions {
        ReadAllOptions { direction: Direction::Backwards, ..ReadAllOptions::forwards() }
    }
    pub fn from(mut self, position: u64) -> ReadAllOptions {
        self.from = Some(position);
        self
    }
    pub fn limit(mut self, limit: u64) -> ReadAllOptions {
        self.limit = limit;
        self
    }
    pub fn filter(mut self, filter: Filter) -> ReadAllOptions {
        self.filter = filter;
        self
    }
}

impl Default for ReadAllOptions {
    fn default() -> Self {
        ReadAllOptions::forwards()
    }
}

/// Retention rules of a stream, honoured by stream reads. Events hidden by them stay in the
/// global log ($all) with their positions, so $all stays gapless. JSON:
/// `{"max_count": n, "max_age_ms": n, "truncate_before": n}`, each `null` (or absent) when unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamMetadata {
    /// Only the last `max_count` events are visible.
    pub max_count: Option<u64>,
    /// Events older than this are not visible (microsecond resolution in the store; whole
    /// milliseconds, rounded up, across every boundary).
    #[serde(rename = "max_age_ms", with = "optional_millis")]
    pub max_age: Option<Duration>,
    /// Events below this revision are not visible.
    pub truncate_before: Option<u64>,
}

/// A duration in whole milliseconds, the unit of every duration that crosses a boundary (JSON,
/// the wire; docs/boundary.md). Rounded up, so that a positive duration never becomes zero.
pub fn millis_ceil(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// Serde for a duration as whole milliseconds ([`millis_ceil`]).
pub(crate) mod millis {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_u64(millis_ceil(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

/// Serde for an optional duration as whole milliseconds, `null` when absent.
pub(crate) mod optional_millis {
    use super::*;

    pub fn serialize<S: Serializer>(
        d: &Option<Duration>,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        d.map(millis_ceil).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_millis))
    }
}

/// The state of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// What the stream's expected-version checks see now.
    pub current: CurrentRevision,
    /// The revision the next appended event will get.
    pub next_revision: u64,
    /// Soft-deleted and not written since.
    pub deleted: bool,
    /// Its data key was destroyed ([`crate::Db::shred_stream`]): its events read back with no
    /// data, and appends fail with STREAM_DELETED.
    pub shredded: bool,
    pub metadata: StreamMetadata,
}

/// One stream in a listing ([`crate::Db::list_streams`]): its name and state, tombstoned
/// streams included (a listing shows what the store holds; reading one says STREAM_DELETED).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSummary {
    pub name: String,
    /// The revision the next appended event will get (its event count if never truncated).
    pub next_revision: u64,
    /// The position of its last event in the global log; `None` when it never had one.
    pub last_position: Option<u64>,
    /// Soft-deleted and not written since.
    pub deleted: bool,
    /// Revisions below this were hidden by its last soft delete (0 when never deleted): what
    /// an export needs to repeat a delete that later appends made invisible in `deleted`.
    pub deleted_before: u64,
    pub tombstoned: bool,
    pub shredded: bool,
}

/// Which streams [`crate::Db::list_streams`] returns: names starting with `prefix`, in byte
/// order, after `after` (the last name of the previous page), at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListStreamsOptions {
    pub prefix: String,
    pub after: Option<String>,
    pub limit: u64,
}

impl ListStreamsOptions {
    /// Most streams one page may hold: a page is answered from one read transaction and
    /// crosses the wire as one message.
    pub const MAX_LIMIT: u64 = 10_000;
    /// The page an SDK asks for when its caller names no limit.
    pub const DEFAULT_LIMIT: u64 = 1_000;

    pub fn new(limit: u64) -> ListStreamsOptions {
        ListStreamsOptions { limit, ..ListStreamsOptions::default() }
    }
    pub fn prefix(mut self, prefix: impl Into<String>) -> ListStreamsOptions {
        self.prefix = prefix.into();
        self
    }
    pub fn after(mut self, name: impl Into<String>) -> ListStreamsOptions {
        self.after = Some(name.into());
        self
    }
}

/// The latest snapshot saved for a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub stream: String,
    /// The stream revision the snapshot state includes.
    pub revision: u64,
    pub data: Vec<u8>,
    /// Save time, unix microseconds.
    pub timestamp: i64,
}

/// Where a subscription starts. JSON: `"start"`, `"end"` or `{"after": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStart {
    /// From the first event.
    Start,
    /// Only events committed after the subscription is created.
    End,
    /// After this position of $all (or revision of the stream): the checkpoint a consumer kept
    /// of the last event it processed.
    After(u64),
}

/// What [`crate::Db::replay_parked`] did. JSON: `{"from", "to", "parked", "replaying"}`, the
/// handed-back revisions being `from..to`.
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

impl Serialize for ReplayInfo {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("ReplayInfo", 4)?;
        s.serialize_field("from", &self.revisions.start)?;
        s.serialize_field("to", &self.revisions.end)?;
        s.serialize_field("parked", &self.parked)?;
        s.serialize_field("replaying", &self.replaying)?;
        s.end()
    }
}

pub(crate) const PARKED_STREAM_PREFIX: &str = "$parked-";

/// The name of the stream a group parks events in.
pub fn parked_stream(group: &str) -> String {
    format!("{PARKED_STREAM_PREFIX}{group}")
}
