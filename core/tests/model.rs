//! Property tests of the concurrency and lifecycle rules of the embedded engine against a small
//! in-memory model written from docs/semantics.md.
//!
//! `engine_matches_model` runs random sequences of operations over three prefix-related stream
//! names on a real store and on the model, and compares every result: values, error codes and
//! the typed fields of errors. `concurrent_exact_appenders` races threads appending with exact
//! expected versions and checks the outcome is linearizable and gapless.
//!
//! Where docs/semantics.md leaves room, the model takes these readings:
//! - idempotent retry: the ids must be consecutive revisions of the stream, in order; nothing
//!   is asked of their positions, so a retry may span several appends with other streams'
//!   events between them, and a part of one append is recognised too; the result spans exactly
//!   the events of the retry;
//! - every check on a stream name comes first, for every method; reads (read_stream,
//!   stream_info, get_stream_metadata, get_snapshot) of a reserved `$` name are allowed;
//! - a snapshot stays readable when metadata later hides its revision (only a soft delete
//!   removes it); a snapshot larger than `max_event_size` is INVALID_ARGUMENT before any check
//!   of the stream's state;
//! - setting metadata, even empty, makes a stream known (stream_info, delete) without events;
//!   a soft delete keeps the stream's metadata.
//!
//! `PROPTEST_CASES` changes the number of cases of both properties.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Instant;

use graveyard::{
    AppendResult, CurrentRevision, Db, Direction, Durability, Error, ErrorCode, EventData, ExpectedVersion,
    Filter, Options, ReadAllOptions, ReadOptions, RecordedEvent, Snapshot, StreamInfo, StreamMetadata, Uuid,
    CONTENT_TYPE_BINARY, CONTENT_TYPE_JSON,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

/// Prefix-related on purpose: "a" must never see the events of "a-1" or "ab".
const STREAMS: [&str; 3] = ["a", "a-1", "ab"];
const PREFIXES: [&str; 5] = ["a", "a-", "ab", "b", ""];
const TYPES: [&str; 3] = ["Placed", "Paid", "Shipped"];
/// Small, so that events and snapshots right at and just over the limit are cheap to build.
const MAX_EVENT_SIZE: usize = 512;

fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default_cases);
    // No regression files: failures are reported with their shrunk case instead.
    Config { cases, failure_persistence: None, ..Config::default() }
}

fn open(path: &Path) -> Db {
    open_with(path, Durability::NoFsyncUnsafe)
}

fn open_with(path: &Path, durability: Durability) -> Db {
    let options = Options::new(path).durability(durability).max_event_size(MAX_EVENT_SIZE);
    Db::open_with(options).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

// ------------------------------------------------------------------------------------------
// Outcomes: what an operation returned, comparable between the store and the model.
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome<T> {
    Ok(T),
    WrongExpectedVersion {
        stream: String,
        expected: ExpectedVersion,
        actual: CurrentRevision,
    },
    StreamDeleted {
        stream: String,
    },
    /// Any other error: only its code is part of the contract.
    Failed(ErrorCode),
}

fn outcome<T>(result: Result<T, Error>) -> Outcome<T> {
    match result {
        Ok(value) => Outcome::Ok(value),
        Err(Error::WrongExpectedVersion { stream, expected, actual }) => {
            Outcome::WrongExpectedVersion { stream, expected, actual }
        }
        Err(Error::StreamDeleted { stream }) => Outcome::StreamDeleted { stream },
        Err(e) => Outcome::Failed(e.code()),
    }
}

impl<T> Outcome<T> {
    fn map_ok<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Ok(value) => Outcome::Ok(f(value)),
            Outcome::WrongExpectedVersion { stream, expected, actual } => {
                Outcome::WrongExpectedVersion { stream, expected, actual }
            }
            Outcome::StreamDeleted { stream } => Outcome::StreamDeleted { stream },
            Outcome::Failed(code) => Outcome::Failed(code),
        }
    }
}

/// The outcome without its value, for operations whose value is checked elsewhere.
fn strip<T>(outcome: Outcome<T>) -> Outcome<()> {
    outcome.map_ok(drop)
}

fn invalid<T>() -> Outcome<T> {
    Outcome::Failed(ErrorCode::InvalidArgument)
}

fn not_found<T>() -> Outcome<T> {
    Outcome::Failed(ErrorCode::NotFound)
}

fn deleted<T>(stream: &str) -> Outcome<T> {
    Outcome::StreamDeleted { stream: stream.to_string() }
}

// ------------------------------------------------------------------------------------------
// The model.
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct StreamModel {
    /// Had an event or metadata at some time: stream_info and delete see it.
    known: bool,
    /// The revision the next event gets; revisions continue after a soft delete.
    next: u64,
    /// Soft-deleted and not written since.
    deleted: bool,
    /// Revisions below this were written before the last soft delete and stay hidden.
    visible_from: u64,
    tombstoned: bool,
    metadata: StreamMetadata,
    snapshot: Option<(u64, Vec<u8>)>,
    /// Global position of each revision.
    positions: Vec<u64>,
}

impl StreamModel {
    fn current(&self) -> CurrentRevision {
        if self.deleted || self.next == 0 {
            CurrentRevision::NoStream
        } else {
            CurrentRevision::Revision(self.next - 1)
        }
    }

    /// The lowest revision reads may return: deletion, truncate_before and max_count together.
    fn visible_floor(&self) -> u64 {
        let by_count = self.metadata.max_count.map_or(0, |n| self.next.saturating_sub(n));
        self.visible_from.max(self.metadata.truncate_before.unwrap_or(0)).max(by_count)
    }

    fn is_visible(&self, revision: u64) -> bool {
        !self.deleted && revision < self.next && revision >= self.visible_floor()
    }
}

/// The request an append step resolved to, kept so later steps can retry it.
#[derive(Debug, Clone)]
struct AppendRequest {
    stream: String,
    expected: ExpectedVersion,
    events: Vec<EventData>,
}

enum AppendPlan {
    /// Rejected: the store must fail the same way and write nothing.
    Reject(Outcome<AppendResult>),
    /// A recognised retry: the original result, nothing written.
    Retry(AppendResult),
    /// Written with this result.
    Write(AppendResult),
}

#[derive(Debug, Default)]
struct Model {
    log: Vec<RecordedEvent>,
    ids: HashMap<Uuid, u64>,
    streams: HashMap<String, StreamModel>,
}

fn valid_stream_name(stream: &str) -> bool {
    (1..=graveyard::MAX_STREAM_NAME_LEN).contains(&stream.len()) && !stream.contains('\0')
}

fn user_stream_name(stream: &str) -> bool {
    valid_stream_name(stream) && !stream.starts_with('$')
}

fn valid_event(event: &EventData) -> bool {
    let size = event.event_type.len() + event.data.len() + event.metadata.len() + event.content_type.len();
    (1..=graveyard::MAX_EVENT_TYPE_LEN).contains(&event.event_type.len())
        && !event.event_type.contains('\0')
        && (1..=graveyard::MAX_CONTENT_TYPE_LEN).contains(&event.content_type.len())
        && event.id != Some(Uuid::nil())
        && size <= MAX_EVENT_SIZE
        && (event.content_type != CONTENT_TYPE_JSON
            || event.data.is_empty()
            || serde_json::from_slice::<serde_json::Value>(&event.data).is_ok())
}

impl Model {
    fn stream(&self, stream: &str) -> StreamModel {
        self.streams.get(stream).cloned().unwrap_or_default()
    }

    /// docs/semantics.md, "Order of checks for an append".
    fn plan_append(&self, request: &AppendRequest) -> AppendPlan {
        let AppendRequest { stream, expected, events } = request;
        let ids: Vec<Uuid> = events.iter().filter_map(|e| e.id).collect();
        let distinct: HashSet<Uuid> = ids.iter().copied().collect();
        if !user_stream_name(stream)
            || events.is_empty()
            || !events.iter().all(valid_event)
            || distinct.len() != ids.len()
        {
            return AppendPlan::Reject(invalid());
        }
        let s = self.stream(stream);
        if s.tombstoned {
            return AppendPlan::Reject(deleted(stream));
        }
        if let Some(original) = self.idempotent_result(request) {
            return AppendPlan::Retry(original);
        }
        if !s.current().satisfies(*expected) {
            return AppendPlan::Reject(Outcome::WrongExpectedVersion {
                stream: stream.clone(),
                expected: *expected,
                actual: s.current(),
            });
        }
        if ids.iter().any(|id| self.ids.contains_key(id)) {
            return AppendPlan::Reject(invalid());
        }
        let n = events.len() as u64;
        let head = self.log.len() as u64;
        AppendPlan::Write(AppendResult {
            first_revision: s.next,
            last_revision: s.next + n - 1,
            first_position: head,
            last_position: head + n - 1,
        })
    }

    /// Every id already stored, as consecutive revisions of this stream in the same order (and,
    /// for Exact(n), starting at n + 1): the result of the events originally written. Their
    /// positions need not be consecutive: semantics.md asks for consecutive revisions only.
    fn idempotent_result(&self, request: &AppendRequest) -> Option<AppendResult> {
        let positions = request
            .events
            .iter()
            .map(|e| e.id.and_then(|id| self.ids.get(&id).copied()))
            .collect::<Option<Vec<u64>>>()?;
        let stored: Vec<&RecordedEvent> = positions.iter().map(|&p| &self.log[p as usize]).collect();
        let first = stored[0].revision;
        let in_place = stored
            .iter()
            .enumerate()
            .all(|(i, e)| e.stream == request.stream && e.revision == first + i as u64);
        let exact_ok = match request.expected {
            ExpectedVersion::Exact(n) => n.checked_add(1) == Some(first),
            _ => true,
        };
        (in_place && exact_ok).then(|| AppendResult {
            first_revision: first,
            last_revision: stored[stored.len() - 1].revision,
            first_position: positions[0],
            last_position: positions[positions.len() - 1],
        })
    }

    fn commit(&mut self, stream: &str, written: Vec<RecordedEvent>) {
        let s = self.streams.entry(stream.to_string()).or_default();
        for event in written {
            s.positions.push(event.position);
            s.next = event.revision + 1;
            self.ids.insert(event.id, event.position);
            self.log.push(event);
        }
        s.known = true;
        s.deleted = false;
    }

    fn read_stream(&self, stream: &str, options: ReadOptions) -> Outcome<Vec<RecordedEvent>> {
        if !valid_stream_name(stream) {
            return invalid();
        }
        let s = self.stream(stream);
        if s.tombstoned {
            return deleted(stream);
        }
        if s.next == 0 || s.deleted {
            return not_found();
        }
        let floor = s.visible_floor();
        let limit = usize::try_from(options.limit).unwrap_or(usize::MAX);
        let revisions: Vec<u64> = match options.direction {
            Direction::Forwards => (options.from.unwrap_or(0).max(floor)..s.next).take(limit).collect(),
            Direction::Backwards => {
                let start = options.from.unwrap_or(s.next - 1).min(s.next - 1);
                if start < floor {
                    Vec::new()
                } else {
                    (floor..=start).rev().take(limit).collect()
                }
            }
        };
        Outcome::Ok(
            revisions.into_iter().map(|r| self.log[s.positions[r as usize] as usize].clone()).collect(),
        )
    }

    fn read_all(&self, options: &ReadAllOptions) -> Vec<RecordedEvent> {
        let limit = usize::try_from(options.limit).unwrap_or(usize::MAX);
        let matching = |e: &&RecordedEvent| options.filter.matches(&e.stream, &e.event_type);
        match options.direction {
            Direction::Forwards => {
                let from =
                    usize::try_from(options.from.unwrap_or(0)).unwrap_or(usize::MAX).min(self.log.len());
                self.log[from..].iter().filter(matching).take(limit).cloned().collect()
            }
            Direction::Backwards => {
                let Some(last) = self.log.len().checked_sub(1) else { return Vec::new() };
                let start = usize::try_from(options.from.unwrap_or(u64::MAX)).unwrap_or(usize::MAX).min(last);
                self.log[..=start].iter().rev().filter(matching).take(limit).cloned().collect()
            }
        }
    }

    /// Also get_stream_metadata, which `Db` answers from stream_info: a read, so allowed on a
    /// reserved name.
    fn stream_info(&self, stream: &str) -> Outcome<StreamInfo> {
        if !valid_stream_name(stream) {
            return invalid();
        }
        let s = self.stream(stream);
        if s.tombstoned {
            return deleted(stream);
        }
        if !s.known {
            return not_found();
        }
        Outcome::Ok(StreamInfo {
            current: s.current(),
            next_revision: s.next,
            deleted: s.deleted,
            shredded: false,
            metadata: s.metadata,
        })
    }

    fn set_stream_metadata(&mut self, stream: &str, metadata: StreamMetadata) -> Outcome<()> {
        if !user_stream_name(stream) {
            return invalid();
        }
        let s = self.streams.entry(stream.to_string()).or_default();
        if s.tombstoned {
            return deleted(stream);
        }
        s.known = true;
        s.metadata = metadata;
        Outcome::Ok(())
    }

    fn delete_stream(&mut self, stream: &str, expected: ExpectedVersion, tombstone: bool) -> Outcome<()> {
        if !user_stream_name(stream) {
            return invalid();
        }
        let s = self.streams.entry(stream.to_string()).or_default();
        if s.tombstoned {
            return deleted(stream);
        }
        if !tombstone && !s.known {
            return not_found();
        }
        if !s.current().satisfies(expected) {
            return Outcome::WrongExpectedVersion {
                stream: stream.to_string(),
                expected,
                actual: s.current(),
            };
        }
        if tombstone {
            s.tombstoned = true;
        } else {
            s.deleted = true;
            s.visible_from = s.next;
            s.snapshot = None;
        }
        Outcome::Ok(())
    }

    fn save_snapshot(&mut self, stream: &str, revision: u64, data: &[u8]) -> Outcome<()> {
        if !user_stream_name(stream) || data.len() > MAX_EVENT_SIZE {
            return invalid();
        }
        let s = self.streams.entry(stream.to_string()).or_default();
        if s.tombstoned {
            return deleted(stream);
        }
        if !s.is_visible(revision) {
            return not_found();
        }
        s.snapshot = Some((revision, data.to_vec()));
        Outcome::Ok(())
    }

    /// Stream, revision and data of the snapshot. semantics.md hides it only through a soft
    /// delete (which removes it) or a tombstone, not when metadata later hides its revision:
    /// saving a snapshot and then truncating the events it covers is how snapshots are used.
    /// Reading a reserved name's snapshot is a read (allowed, none there), like reading its
    /// metadata.
    fn get_snapshot(&self, stream: &str) -> Outcome<Option<(String, u64, Vec<u8>)>> {
        if !valid_stream_name(stream) {
            return invalid();
        }
        let s = self.stream(stream);
        if s.tombstoned {
            return deleted(stream);
        }
        Outcome::Ok(s.snapshot.map(|(revision, data)| (stream.to_string(), revision, data)))
    }
}

// ------------------------------------------------------------------------------------------
// Operations, as generated: indices and offsets resolved against the state when they run, so
// that every shrunk sequence is still meaningful.
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Exp {
    Any,
    NoStream,
    StreamExists,
    /// Exact(last revision + offset), the last revision counted even after a soft delete.
    Near(i8),
    At(u8),
    /// Exact(u64::MAX): never the current revision; must not overflow anything.
    Max,
}

#[derive(Debug, Clone, Copy)]
enum Id {
    Fresh,
    /// No id: the store generates one.
    Generated,
    /// The id of the event at this index (modulo) of the log: idempotency and duplicates.
    Reuse(usize),
}

#[derive(Debug, Clone, Copy)]
enum Body {
    Json(u8),
    EmptyJson,
    Binary(u8),
    /// type + data + metadata + content type exactly `max_event_size`.
    MaxSize,
}

#[derive(Debug, Clone, Copy)]
struct Ev {
    id: Id,
    event_type: u8,
    body: Body,
    metadata: bool,
}

#[derive(Debug, Clone, Copy)]
/// Requests at or over the limits of docs/semantics.md; the model judges which are valid.
enum Edge {
    NoEvents,
    NilId,
    SameIdTwice,
    NotJson,
    EmptyType,
    NulInType,
    LongType,
    EmptyContentType,
    LongContentType,
    OverMaxSize,
    ReservedStream,
    EmptyStream,
    LongStream,
    NulInStream,
    TypeAtLimit,
    ContentTypeAtLimit,
    StreamAtLimit,
}

#[derive(Debug, Clone, Copy)]
enum Name {
    /// `$a`: reserved for the system; reading it is allowed, writing it is not.
    Reserved,
    Empty,
    TooLong,
    Nul,
}

impl Name {
    fn text(self) -> String {
        match self {
            Name::Reserved => "$a".to_string(),
            Name::Empty => String::new(),
            Name::TooLong => "a".repeat(graveyard::MAX_STREAM_NAME_LEN + 1),
            Name::Nul => "a\0".to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Method {
    ReadStream,
    StreamInfo,
    GetStreamMetadata,
    SetStreamMetadata,
    Delete,
    Tombstone,
    SaveSnapshot,
    GetSnapshot,
}

fn name() -> impl Strategy<Value = Name> {
    prop_oneof![Just(Name::Reserved), Just(Name::Empty), Just(Name::TooLong), Just(Name::Nul)]
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::ReadStream),
        Just(Method::StreamInfo),
        Just(Method::GetStreamMetadata),
        Just(Method::SetStreamMetadata),
        Just(Method::Delete),
        Just(Method::Tombstone),
        Just(Method::SaveSnapshot),
        Just(Method::GetSnapshot),
    ]
}

#[derive(Debug, Clone, Copy)]
enum SnapshotData {
    Small(u8),
    Max,
    OverMax,
}

#[derive(Debug, Clone)]
enum Op {
    Append {
        stream: usize,
        expected: Exp,
        events: Vec<Ev>,
    },
    /// Sends an earlier append request again, maybe only part of it, maybe with another
    /// expected version or stream.
    Retry {
        request: usize,
        part: Option<(u8, u8)>,
        expected: Option<Exp>,
        stream: Option<usize>,
    },
    /// Appends again, with their ids, `len` consecutive events of $all (which may span several
    /// appends and streams) or, with `source`, of one stream's revisions (which may span
    /// several appends, so positions with gaps).
    Replay {
        source: Option<usize>,
        position: usize,
        len: u8,
        expected: Exp,
        stream: Option<usize>,
    },
    AppendEdge {
        stream: usize,
        expected: Exp,
        edge: Edge,
        valid: Vec<Ev>,
    },
    ReadStream {
        stream: usize,
        backwards: bool,
        from: Option<u64>,
        limit: Option<u8>,
    },
    /// An operation on a reserved or malformed stream name.
    Name {
        name: Name,
        method: Method,
    },
    ReadAll {
        backwards: bool,
        from: Option<u64>,
        limit: Option<u8>,
        prefixes: Vec<usize>,
        event_types: Vec<u8>,
    },
    Info {
        stream: usize,
    },
    Delete {
        stream: usize,
        expected: Exp,
    },
    Tombstone {
        stream: usize,
        expected: Exp,
    },
    SetMetadata {
        stream: usize,
        truncate_before: Option<u8>,
        max_count: Option<u8>,
    },
    SaveSnapshot {
        stream: usize,
        revision: i8,
        data: SnapshotData,
    },
    GetSnapshot {
        stream: usize,
    },
    Reopen,
}

fn exp() -> impl Strategy<Value = Exp> {
    prop_oneof![
        3 => Just(Exp::Any),
        1 => Just(Exp::NoStream),
        1 => Just(Exp::StreamExists),
        4 => Just(Exp::Near(0)),
        2 => (-2i8..=1).prop_map(Exp::Near),
        1 => (0u8..6).prop_map(Exp::At),
        1 => Just(Exp::Max),
    ]
}

fn ev() -> impl Strategy<Value = Ev> {
    let id =
        prop_oneof![6 => Just(Id::Fresh), 2 => Just(Id::Generated), 2 => any::<usize>().prop_map(Id::Reuse)];
    let body = prop_oneof![
        4 => any::<u8>().prop_map(Body::Json),
        1 => Just(Body::EmptyJson),
        2 => (0u8..16).prop_map(Body::Binary),
        1 => Just(Body::MaxSize),
    ];
    (id, 0u8..3, body, any::<bool>()).prop_map(|(id, event_type, body, metadata)| Ev {
        id,
        event_type,
        body,
        metadata,
    })
}

fn edge() -> impl Strategy<Value = Edge> {
    prop_oneof![
        Just(Edge::NoEvents),
        Just(Edge::NilId),
        Just(Edge::SameIdTwice),
        Just(Edge::NotJson),
        Just(Edge::EmptyType),
        Just(Edge::NulInType),
        Just(Edge::LongType),
        Just(Edge::EmptyContentType),
        Just(Edge::LongContentType),
        Just(Edge::OverMaxSize),
        Just(Edge::ReservedStream),
        Just(Edge::EmptyStream),
        Just(Edge::LongStream),
        Just(Edge::NulInStream),
        Just(Edge::TypeAtLimit),
        Just(Edge::ContentTypeAtLimit),
        Just(Edge::StreamAtLimit),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let stream = 0..STREAMS.len();
    let small = || option::weighted(0.6, 0u8..8);
    let from = |below: u64| option::weighted(0.6, prop_oneof![8 => 0..below, 1 => Just(u64::MAX)]);
    prop_oneof![
        12 => (stream.clone(), exp(), vec(ev(), 1..4))
            .prop_map(|(stream, expected, events)| Op::Append { stream, expected, events }),
        4 => (
            any::<usize>(),
            option::weighted(0.3, (0u8..3, 1u8..3)),
            option::weighted(0.5, exp()),
            option::weighted(0.2, stream.clone())
        )
            .prop_map(|(request, part, expected, stream)| Op::Retry { request, part, expected, stream }),
        3 => (
            option::weighted(0.6, stream.clone()),
            any::<usize>(),
            1u8..4,
            exp(),
            option::weighted(0.2, stream.clone())
        )
            .prop_map(|(source, position, len, expected, stream)| Op::Replay {
                source,
                position,
                len,
                expected,
                stream
            }),
        2 => (stream.clone(), exp(), edge(), vec(ev(), 0..2))
            .prop_map(|(stream, expected, edge, valid)| Op::AppendEdge { stream, expected, edge, valid }),
        5 => (stream.clone(), any::<bool>(), from(8), option::weighted(0.5, 0u8..4))
            .prop_map(|(stream, backwards, from, limit)| Op::ReadStream { stream, backwards, from, limit }),
        2 => (name(), method()).prop_map(|(name, method)| Op::Name { name, method }),
        2 => (
            any::<bool>(),
            from(24),
            option::weighted(0.5, 0u8..6),
            vec(0..PREFIXES.len(), 0..3),
            vec(0u8..3, 0..3),
        )
            .prop_map(|(backwards, from, limit, prefixes, event_types)| Op::ReadAll {
                backwards,
                from,
                limit,
                prefixes,
                event_types
            }),
        2 => stream.clone().prop_map(|stream| Op::Info { stream }),
        2 => (stream.clone(), exp()).prop_map(|(stream, expected)| Op::Delete { stream, expected }),
        1 => (stream.clone(), exp()).prop_map(|(stream, expected)| Op::Tombstone { stream, expected }),
        2 => (stream.clone(), small(), option::weighted(0.4, 1u8..4)).prop_map(
            |(stream, truncate_before, max_count)| Op::SetMetadata { stream, truncate_before, max_count }
        ),
        2 => (
            stream.clone(),
            -3i8..=1,
            prop_oneof![
                6 => (0u8..8).prop_map(SnapshotData::Small),
                1 => Just(SnapshotData::Max),
                1 => Just(SnapshotData::OverMax),
            ]
        )
            .prop_map(|(stream, revision, data)| Op::SaveSnapshot { stream, revision, data }),
        2 => stream.prop_map(|stream| Op::GetSnapshot { stream }),
        1 => Just(Op::Reopen),
    ]
}

// ------------------------------------------------------------------------------------------
// Running a sequence on the store and on the model.
// ------------------------------------------------------------------------------------------

struct Harness {
    dir: tempfile::TempDir,
    db: Db,
    model: Model,
    requests: Vec<AppendRequest>,
    /// Disambiguates generated payloads, so that comparing data means something.
    counter: u64,
}

fn fail(context: &str, message: String) -> TestCaseError {
    TestCaseError::fail(format!("{context}: {message}"))
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open(dir.path());
        Harness { dir, db, model: Model::default(), requests: Vec::new(), counter: 0 }
    }

    fn resolve(&self, exp: Exp, stream: &str) -> ExpectedVersion {
        match exp {
            Exp::Any => ExpectedVersion::Any,
            Exp::NoStream => ExpectedVersion::NoStream,
            Exp::StreamExists => ExpectedVersion::StreamExists,
            Exp::Near(offset) => {
                let last = self.model.stream(stream).next as i64 - 1;
                ExpectedVersion::Exact((last + i64::from(offset)).max(0) as u64)
            }
            Exp::At(n) => ExpectedVersion::Exact(u64::from(n)),
            Exp::Max => ExpectedVersion::Exact(u64::MAX),
        }
    }

    fn event(&mut self, ev: Ev) -> EventData {
        self.counter += 1;
        let event_type = TYPES[ev.event_type as usize];
        let metadata = if ev.metadata { format!("m{}", self.counter).into_bytes() } else { Vec::new() };
        let mut event = match ev.body {
            Body::Json(v) => {
                EventData::json_bytes(event_type, format!(r#"{{"v":{v},"n":{}}}"#, self.counter))
            }
            Body::EmptyJson => EventData::json_bytes(event_type, Vec::new()),
            Body::Binary(len) => {
                let mut data = self.counter.to_le_bytes().to_vec();
                data.resize(usize::from(len), 0xa5);
                EventData::binary(event_type, data)
            }
            Body::MaxSize => {
                let len = MAX_EVENT_SIZE - event_type.len() - CONTENT_TYPE_BINARY.len() - metadata.len();
                let mut data = self.counter.to_le_bytes().to_vec();
                data.resize(len, 0x5a);
                EventData::binary(event_type, data)
            }
        }
        .with_metadata(metadata);
        event.id = match ev.id {
            Id::Fresh => Some(Uuid::new_v4()),
            Id::Generated => None,
            Id::Reuse(_) if self.model.log.is_empty() => Some(Uuid::new_v4()),
            Id::Reuse(i) => Some(self.model.log[i % self.model.log.len()].id),
        };
        event
    }

    fn edge_request(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        edge: Edge,
        valid: &[Ev],
    ) -> AppendRequest {
        let mut events: Vec<EventData> = valid.iter().map(|&ev| self.event(ev)).collect();
        let plain =
            |counter: u64| EventData::binary("Edge", counter.to_le_bytes().to_vec()).with_id(Uuid::new_v4());
        self.counter += 1;
        let mut stream = stream.to_string();
        let mut probe = plain(self.counter);
        match edge {
            Edge::NoEvents => events.clear(),
            Edge::NilId => probe.id = Some(Uuid::nil()),
            Edge::SameIdTwice => {
                let twin = plain(self.counter).with_id(probe.id.expect("set above"));
                events.push(twin);
            }
            Edge::NotJson => {
                probe = EventData::json_bytes("Edge", &b"{\"not\": json"[..]).with_id(Uuid::new_v4())
            }
            Edge::EmptyType => probe.event_type = String::new(),
            Edge::NulInType => probe.event_type = "Ba\0d".to_string(),
            Edge::LongType => probe.event_type = "t".repeat(graveyard::MAX_EVENT_TYPE_LEN + 1),
            Edge::EmptyContentType => probe.content_type = String::new(),
            Edge::LongContentType => probe.content_type = "c".repeat(graveyard::MAX_CONTENT_TYPE_LEN + 1),
            Edge::OverMaxSize => {
                probe.data = vec![1; MAX_EVENT_SIZE + 1 - probe.event_type.len() - CONTENT_TYPE_BINARY.len()]
            }
            Edge::ReservedStream => stream = format!("${stream}"),
            Edge::EmptyStream => stream = String::new(),
            Edge::LongStream => stream = "s".repeat(graveyard::MAX_STREAM_NAME_LEN + 1),
            Edge::NulInStream => stream = format!("{stream}\0x"),
            Edge::TypeAtLimit => probe.event_type = "t".repeat(graveyard::MAX_EVENT_TYPE_LEN),
            Edge::ContentTypeAtLimit => probe.content_type = "c".repeat(graveyard::MAX_CONTENT_TYPE_LEN),
            Edge::StreamAtLimit => stream = "s".repeat(graveyard::MAX_STREAM_NAME_LEN),
        }
        if !matches!(edge, Edge::NoEvents) {
            events.push(probe);
        }
        AppendRequest { stream, expected, events }
    }

    fn step(&mut self, op: &Op, context: &str) -> Result<(), TestCaseError> {
        match *op {
            Op::Append { stream, expected, ref events } => {
                let stream = STREAMS[stream];
                let expected = self.resolve(expected, stream);
                let events = events.iter().map(|&ev| self.event(ev)).collect();
                let request = AppendRequest { stream: stream.to_string(), expected, events };
                self.requests.push(request.clone());
                self.append(&request, context)
            }
            Op::Retry { request, part, expected, stream } => {
                if self.requests.is_empty() {
                    return Ok(());
                }
                let mut request = self.requests[request % self.requests.len()].clone();
                if let Some((skip, take)) = part {
                    let skip = usize::from(skip).min(request.events.len() - 1);
                    request.events = request.events.into_iter().skip(skip).take(usize::from(take)).collect();
                }
                if let Some(stream) = stream {
                    request.stream = STREAMS[stream].to_string();
                }
                if let Some(expected) = expected {
                    request.expected = self.resolve(expected, &request.stream);
                }
                let context = format!("{context} as {request:?}");
                self.append(&request, &context)
            }
            Op::Replay { source, position, len, expected, stream } => {
                let positions: Vec<u64> = match source {
                    Some(source) => self.model.stream(STREAMS[source]).positions,
                    None => (0..self.model.log.len() as u64).collect(),
                };
                if positions.is_empty() {
                    return Ok(());
                }
                let first = position % positions.len();
                let span: Vec<&RecordedEvent> = positions
                    [first..(first + usize::from(len)).min(positions.len())]
                    .iter()
                    .map(|&p| &self.model.log[p as usize])
                    .collect();
                let events = span
                    .iter()
                    .map(|e| EventData {
                        id: Some(e.id),
                        event_type: e.event_type.clone(),
                        data: e.data.clone(),
                        metadata: e.metadata.clone(),
                        content_type: e.content_type.clone(),
                    })
                    .collect();
                let stream = stream.map_or(span[0].stream.clone(), |s| STREAMS[s].to_string());
                let expected = self.resolve(expected, &stream);
                let request = AppendRequest { stream, expected, events };
                let context = format!("{context} as {request:?}");
                self.append(&request, &context)
            }
            Op::AppendEdge { stream, expected, edge, ref valid } => {
                let stream = STREAMS[stream];
                let expected = self.resolve(expected, stream);
                let request = self.edge_request(stream, expected, edge, valid);
                let context = format!("{context} as {request:?}");
                self.append(&request, &context)
            }
            Op::ReadStream { stream, backwards, from, limit } => {
                let stream = STREAMS[stream];
                let mut options = if backwards { ReadOptions::backwards() } else { ReadOptions::forwards() };
                options.from = from;
                options.limit = limit.map_or(u64::MAX, u64::from);
                let got = outcome(self.db.read_stream(stream, options));
                let want = self.model.read_stream(stream, options);
                prop_assert_eq!(got, want, "{}: read_stream({}, {:?})", context, stream, options);
                Ok(())
            }
            Op::Name { name, method } => self.name_op(name, method, context),
            Op::ReadAll { backwards, from, limit, ref prefixes, ref event_types } => {
                let mut options =
                    if backwards { ReadAllOptions::backwards() } else { ReadAllOptions::forwards() };
                options.from = from;
                options.limit = limit.map_or(u64::MAX, u64::from);
                options.filter = Filter {
                    stream_prefixes: prefixes.iter().map(|&p| PREFIXES[p].to_string()).collect(),
                    event_types: event_types.iter().map(|&t| TYPES[usize::from(t)].to_string()).collect(),
                };
                let got = outcome(self.db.read_all(options.clone()));
                let want = Outcome::Ok(self.model.read_all(&options));
                prop_assert_eq!(got, want, "{}: read_all({:?})", context, options);
                Ok(())
            }
            Op::Info { stream } => self.check_info(STREAMS[stream], context),
            Op::Delete { stream, expected } | Op::Tombstone { stream, expected } => {
                let tombstone = matches!(op, Op::Tombstone { .. });
                let stream = STREAMS[stream];
                let expected = self.resolve(expected, stream);
                let got = outcome(if tombstone {
                    self.db.tombstone_stream(stream, expected)
                } else {
                    self.db.delete_stream(stream, expected)
                });
                let want = self.model.delete_stream(stream, expected, tombstone);
                prop_assert_eq!(
                    got,
                    want,
                    "{}: {}({}, {:?})",
                    context,
                    if tombstone { "tombstone" } else { "delete" },
                    stream,
                    expected
                );
                self.check_head(context)
            }
            Op::SetMetadata { stream, truncate_before, max_count } => {
                let stream = STREAMS[stream];
                let metadata = StreamMetadata {
                    max_count: max_count.map(u64::from),
                    max_age: None,
                    truncate_before: truncate_before.map(u64::from),
                };
                let got = outcome(self.db.set_stream_metadata(stream, metadata));
                let want = self.model.set_stream_metadata(stream, metadata);
                prop_assert_eq!(got, want, "{}: set_stream_metadata({}, {:?})", context, stream, metadata);
                let got = outcome(self.db.get_stream_metadata(stream));
                let want = match self.model.stream_info(stream) {
                    Outcome::Ok(info) => Outcome::Ok(info.metadata),
                    Outcome::StreamDeleted { stream } => Outcome::StreamDeleted { stream },
                    other => panic!("the model lost metadata it just set: {other:?}"),
                };
                prop_assert_eq!(got, want, "{}: get_stream_metadata({})", context, stream);
                self.check_head(context)
            }
            Op::SaveSnapshot { stream, revision, data } => {
                let stream = STREAMS[stream];
                let revision =
                    (self.model.stream(stream).next as i64 - 1 + i64::from(revision)).max(0) as u64;
                self.counter += 1;
                let mut bytes = self.counter.to_le_bytes().to_vec();
                bytes.resize(
                    match data {
                        SnapshotData::Small(len) => usize::from(len),
                        SnapshotData::Max => MAX_EVENT_SIZE,
                        SnapshotData::OverMax => MAX_EVENT_SIZE + 1,
                    },
                    0x33,
                );
                let got = outcome(self.db.save_snapshot(stream, revision, bytes.clone()));
                let want = self.model.save_snapshot(stream, revision, &bytes);
                prop_assert_eq!(
                    got,
                    want,
                    "{}: save_snapshot({}, {}, {} bytes)",
                    context,
                    stream,
                    revision,
                    bytes.len()
                );
                self.check_head(context)
            }
            Op::GetSnapshot { stream } => self.check_snapshot(STREAMS[stream], context),
            Op::Reopen => self.reopen(context),
        }
    }

    fn name_op(&mut self, name: Name, method: Method, context: &str) -> Result<(), TestCaseError> {
        let stream = name.text();
        let stream = stream.as_str();
        let context = format!("{context}: {method:?} on {stream:?}");
        let (got, want) = match method {
            Method::ReadStream => (
                outcome(self.db.read_stream(stream, ReadOptions::forwards()).map(|_| ())),
                strip(self.model.read_stream(stream, ReadOptions::forwards())),
            ),
            Method::StreamInfo => {
                (outcome(self.db.stream_info(stream).map(|_| ())), strip(self.model.stream_info(stream)))
            }
            Method::GetStreamMetadata => (
                outcome(self.db.get_stream_metadata(stream).map(|_| ())),
                strip(self.model.stream_info(stream)),
            ),
            Method::SetStreamMetadata => (
                outcome(self.db.set_stream_metadata(stream, StreamMetadata::default())),
                self.model.set_stream_metadata(stream, StreamMetadata::default()),
            ),
            Method::Delete => (
                outcome(self.db.delete_stream(stream, ExpectedVersion::Any)),
                self.model.delete_stream(stream, ExpectedVersion::Any, false),
            ),
            Method::Tombstone => (
                outcome(self.db.tombstone_stream(stream, ExpectedVersion::Any)),
                self.model.delete_stream(stream, ExpectedVersion::Any, true),
            ),
            Method::SaveSnapshot => (
                outcome(self.db.save_snapshot(stream, 0, Vec::new())),
                self.model.save_snapshot(stream, 0, &[]),
            ),
            Method::GetSnapshot => {
                let got = outcome(self.db.get_snapshot(stream).map(|s| s.is_some()));
                let want = match self.model.get_snapshot(stream) {
                    Outcome::Ok(snapshot) => Outcome::Ok(snapshot.is_some()),
                    other => strip(other).map_ok(|()| false),
                };
                prop_assert_eq!(got, want, "{}", context);
                return self.check_head(&context);
            }
        };
        prop_assert_eq!(got, want, "{}", context);
        self.check_head(&context)
    }

    fn append(&mut self, request: &AppendRequest, context: &str) -> Result<(), TestCaseError> {
        let plan = self.model.plan_append(request);
        let head = self.model.log.len() as u64;
        let got = outcome(self.db.append(&request.stream, request.expected, request.events.clone()));
        match plan {
            AppendPlan::Reject(want) => {
                prop_assert_eq!(got, want, "{}: append", context);
                self.check_head(context)
            }
            AppendPlan::Retry(original) => {
                prop_assert_eq!(got, Outcome::Ok(original), "{}: append recognised as a retry", context);
                self.check_head(context)
            }
            AppendPlan::Write(want) => {
                prop_assert_eq!(got, Outcome::Ok(want), "{}: append", context);
                self.learn_written(request, want, head, context)
            }
        }
    }

    /// Reads back what an append wrote: checks it against the request and records the
    /// generated ids and the timestamps in the model.
    fn learn_written(
        &mut self,
        request: &AppendRequest,
        result: AppendResult,
        head: u64,
        context: &str,
    ) -> Result<(), TestCaseError> {
        let n = request.events.len();
        let written = self
            .db
            .read_all(ReadAllOptions::forwards().from(head).limit(n as u64 + 1))
            .map_err(|e| fail(context, format!("reading back the append: {e}")))?;
        prop_assert_eq!(written.len(), n, "{}: events in $all after the append", context);
        let last_timestamp = self.model.log.last().map_or(i64::MIN, |e| e.timestamp);
        for (i, (event, sent)) in written.iter().zip(&request.events).enumerate() {
            let i = i as u64;
            let want = RecordedEvent {
                stream: request.stream.clone(),
                revision: result.first_revision + i,
                position: head + i,
                id: sent.id.unwrap_or(event.id),
                event_type: sent.event_type.clone(),
                content_type: sent.content_type.clone(),
                data: sent.data.clone(),
                metadata: sent.metadata.clone(),
                timestamp: event.timestamp,
                shredded: false,
                schema_version: None,
            };
            prop_assert_eq!(event, &want, "{}: event {} as read back", context, i);
            if sent.id.is_none() {
                prop_assert!(
                    event.id.get_version_num() == 7 && !self.model.ids.contains_key(&event.id),
                    "{}: generated id {} is not a fresh UUIDv7",
                    context,
                    event.id
                );
            }
            prop_assert!(event.timestamp >= last_timestamp, "{}: timestamp decreases along the log", context);
        }
        let distinct: HashSet<Uuid> = written.iter().map(|e| e.id).collect();
        prop_assert_eq!(distinct.len(), n, "{}: generated ids repeat within the append", context);
        self.model.commit(&request.stream, written);
        self.check_head(context)
    }

    fn check_head(&self, context: &str) -> Result<(), TestCaseError> {
        let got = outcome(self.db.head_position());
        prop_assert_eq!(got, Outcome::Ok(self.model.log.len() as u64), "{}: head position", context);
        Ok(())
    }

    fn check_info(&self, stream: &str, context: &str) -> Result<(), TestCaseError> {
        let got = outcome(self.db.stream_info(stream));
        prop_assert_eq!(got, self.model.stream_info(stream), "{}: stream_info({})", context, stream);
        Ok(())
    }

    fn check_snapshot(&self, stream: &str, context: &str) -> Result<(), TestCaseError> {
        let got = self.db.get_snapshot(stream);
        if let Ok(Some(snapshot)) = &got {
            prop_assert!(snapshot.timestamp > 0, "{}: snapshot timestamp {}", context, snapshot.timestamp);
        }
        let got =
            outcome(got.map(|s| s.map(|Snapshot { stream, revision, data, .. }| (stream, revision, data))));
        prop_assert_eq!(got, self.model.get_snapshot(stream), "{}: get_snapshot({})", context, stream);
        Ok(())
    }

    /// Everything observable, compared in full.
    fn check_all(&self, context: &str) -> Result<(), TestCaseError> {
        self.check_head(context)?;
        let forwards = outcome(self.db.read_all(ReadAllOptions::forwards()));
        prop_assert_eq!(forwards, Outcome::Ok(self.model.log.clone()), "{}: all of $all", context);
        let backwards = outcome(self.db.read_all(ReadAllOptions::backwards()));
        let reversed: Vec<RecordedEvent> = self.model.log.iter().rev().cloned().collect();
        prop_assert_eq!(backwards, Outcome::Ok(reversed), "{}: all of $all backwards", context);
        for stream in STREAMS {
            self.check_info(stream, context)?;
            for options in [ReadOptions::forwards(), ReadOptions::backwards()] {
                let got = outcome(self.db.read_stream(stream, options));
                prop_assert_eq!(
                    got,
                    self.model.read_stream(stream, options),
                    "{}: read_stream({}, {:?})",
                    context,
                    stream,
                    options
                );
            }
            self.check_snapshot(stream, context)?;
        }
        Ok(())
    }

    fn reopen(&mut self, context: &str) -> Result<(), TestCaseError> {
        self.db.close();
        let event = EventData::binary("Late", Vec::new());
        let after_close = [
            ("append", self.db.append("a", ExpectedVersion::Any, vec![event]).map(|_| ())),
            ("read_all", self.db.read_all(ReadAllOptions::forwards()).map(|_| ())),
            ("read_stream", self.db.read_stream("a", ReadOptions::forwards()).map(|_| ())),
            ("stream_info", self.db.stream_info("a").map(|_| ())),
            ("get_snapshot", self.db.get_snapshot("a").map(|_| ())),
            ("head_position", self.db.head_position().map(|_| ())),
        ];
        for (method, result) in after_close {
            prop_assert_eq!(
                outcome(result),
                Outcome::Failed(ErrorCode::Closed),
                "{}: {} after close",
                context,
                method
            );
        }
        self.db = open(self.dir.path());
        self.check_all(&format!("{context} (after reopening)"))
    }
}

fn run_ops(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut harness = Harness::new();
    for (i, op) in ops.iter().enumerate() {
        harness.step(op, &format!("step {i} {op:?}"))?;
    }
    harness.check_all("at the end")?;
    harness.db.close();
    Ok(())
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn engine_matches_model(ops in vec(op(), 1..40)) {
        run_ops(&ops)?;
    }
}

// ------------------------------------------------------------------------------------------
// Concurrent appenders with exact expected versions on one stream.
// ------------------------------------------------------------------------------------------

const RACED: &str = "race";
/// Written concurrently with `Any`, so that the raced stream's positions interleave with it.
const NOISE: &str = "race-1";

#[derive(Debug)]
struct Attempt {
    writer: usize,
    expected: ExpectedVersion,
    ids: Vec<Uuid>,
    started: Instant,
    ended: Instant,
    outcome: Outcome<AppendResult>,
}

fn race(
    db: &Db,
    writer: usize,
    attempts: usize,
    batch: usize,
    initial: CurrentRevision,
    barrier: &Barrier,
) -> Vec<Attempt> {
    let mut current = initial;
    let mut log = Vec::with_capacity(attempts);
    barrier.wait();
    for _ in 0..attempts {
        let expected = match current {
            CurrentRevision::NoStream => ExpectedVersion::NoStream,
            CurrentRevision::Revision(r) => ExpectedVersion::Exact(r),
        };
        let events: Vec<EventData> = (0..batch)
            .map(|_| EventData::binary("Raced", writer.to_le_bytes().to_vec()).with_id(Uuid::new_v4()))
            .collect();
        let ids = events.iter().map(|e| e.id.expect("ids are set")).collect();
        let started = Instant::now();
        let outcome = outcome(db.append(RACED, expected, events));
        let ended = Instant::now();
        match &outcome {
            Outcome::Ok(result) => current = CurrentRevision::Revision(result.last_revision),
            Outcome::WrongExpectedVersion { actual, .. } => current = *actual,
            _ => {}
        }
        log.push(Attempt { writer, expected, ids, started, ended, outcome });
    }
    log
}

fn run_race(
    writers: usize,
    attempts: usize,
    batch: usize,
    pre: u64,
    noise: bool,
    durability: Durability,
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_with(dir.path(), durability);
    for _ in 0..pre {
        db.append(RACED, ExpectedVersion::Any, vec![EventData::binary("Before", Vec::new())])
            .expect("setup append");
    }
    let initial = pre.checked_sub(1).map_or(CurrentRevision::NoStream, CurrentRevision::Revision);
    let barrier = Arc::new(Barrier::new(writers + usize::from(noise)));
    let handles: Vec<_> = (0..writers)
        .map(|writer| {
            let (db, barrier) = (db.clone(), barrier.clone());
            thread::spawn(move || race(&db, writer, attempts, batch, initial, &barrier))
        })
        .collect();
    let noise_writer = noise.then(|| {
        let (db, barrier) = (db.clone(), barrier.clone());
        thread::spawn(move || {
            barrier.wait();
            for _ in 0..attempts * 2 {
                db.append(NOISE, ExpectedVersion::Any, vec![EventData::binary("Noise", Vec::new())])
                    .expect("noise append");
            }
            attempts * 2
        })
    });
    let attempts: Vec<Attempt> = handles.into_iter().flat_map(|h| h.join().expect("writer thread")).collect();
    let noise_events = noise_writer.map_or(0, |h| h.join().expect("noise thread")) as u64;

    // Successes tile the revisions after the initial ones exactly, each where it expected.
    let mut successes: Vec<(&Attempt, AppendResult)> = Vec::new();
    for attempt in &attempts {
        match &attempt.outcome {
            Outcome::Ok(result) => {
                let first = match attempt.expected {
                    ExpectedVersion::Exact(n) => n + 1,
                    _ => 0,
                };
                prop_assert_eq!(result.first_revision, first, "{:?}", attempt);
                prop_assert_eq!(
                    result.last_revision + 1 - result.first_revision,
                    batch as u64,
                    "{:?}",
                    attempt
                );
                prop_assert_eq!(
                    result.last_position + 1 - result.first_position,
                    batch as u64,
                    "{:?}",
                    attempt
                );
                successes.push((attempt, *result));
            }
            Outcome::WrongExpectedVersion { stream, expected, actual } => {
                prop_assert_eq!(stream.as_str(), RACED, "{:?}", attempt);
                prop_assert_eq!(*expected, attempt.expected, "{:?}", attempt);
                prop_assert!(
                    !actual.satisfies(*expected),
                    "conflict with a satisfied expectation: {:?}",
                    attempt
                );
            }
            other => prop_assert!(false, "unexpected outcome {:?} of {:?}", other, attempt),
        }
    }
    successes.sort_by_key(|(_, r)| r.first_revision);
    let mut next = pre;
    for (attempt, result) in &successes {
        prop_assert_eq!(result.first_revision, next, "revisions overlap or leave a gap at {:?}", attempt);
        next = result.last_revision + 1;
    }
    let info = db.stream_info(RACED);
    let current = info.as_ref().map(|i| i.current).map_err(|e| e.code());
    let final_current =
        if next == 0 { CurrentRevision::NoStream } else { CurrentRevision::Revision(next - 1) };
    prop_assert_eq!(
        current,
        Ok(final_current),
        "final revision vs {} successes of {} events",
        successes.len(),
        batch
    );

    // Every conflict reports a revision the stream really had at some instant of the call:
    // the one written by an append that started before the call ended, and not yet replaced
    // by an append that had ended before the call started.
    for attempt in &attempts {
        let Outcome::WrongExpectedVersion { actual, .. } = attempt.outcome else { continue };
        let (set_by, replaced_by) = match actual {
            CurrentRevision::NoStream => {
                prop_assert_eq!(pre, 0, "conflict reports no stream on a stream with events: {:?}", attempt);
                (None, successes.first())
            }
            CurrentRevision::Revision(r) if r + 1 == pre => (None, successes.first()),
            CurrentRevision::Revision(r) => {
                let index = successes.iter().position(|(_, s)| s.last_revision == r);
                prop_assert!(
                    index.is_some(),
                    "conflict reports revision {} that no append ended at: {:?}",
                    r,
                    attempt
                );
                let index = index.unwrap_or_default();
                (Some(successes[index].0), successes.get(index + 1))
            }
        };
        if let Some(set_by) = set_by {
            prop_assert!(
                set_by.started <= attempt.ended,
                "conflict reports a revision written after it: {:?}",
                attempt
            );
        }
        if let Some((replaced_by, _)) = replaced_by {
            prop_assert!(
                replaced_by.ended >= attempt.started,
                "conflict reports a stale revision, replaced by {:?} before the call: {:?}",
                replaced_by,
                attempt
            );
        }
    }

    // Each writer sees the stream only move forwards.
    for writer in 0..writers {
        let seen: Vec<Option<u64>> = attempts
            .iter()
            .filter(|a| a.writer == writer)
            .filter_map(|a| match a.outcome {
                Outcome::Ok(result) => Some(Some(result.last_revision)),
                Outcome::WrongExpectedVersion { actual: CurrentRevision::Revision(r), .. } => Some(Some(r)),
                Outcome::WrongExpectedVersion { actual: CurrentRevision::NoStream, .. } => Some(None),
                _ => None,
            })
            .collect();
        prop_assert!(
            seen.windows(2).all(|w| w[0] <= w[1]),
            "writer {} saw the stream go back: {:?}",
            writer,
            seen
        );
    }

    // What was written: the stream gapless with the successes' ids in place, $all gapless.
    let events =
        db.read_stream(RACED, ReadOptions::forwards()).map_err(|e| fail("read_stream", e.to_string()))?;
    let revisions: Vec<u64> = events.iter().map(|e| e.revision).collect();
    prop_assert_eq!(revisions, (0..next).collect::<Vec<u64>>(), "revisions of the raced stream");
    for (attempt, result) in &successes {
        let got: Vec<Uuid> = events[result.first_revision as usize..=result.last_revision as usize]
            .iter()
            .map(|e| e.id)
            .collect();
        prop_assert_eq!(&got, &attempt.ids, "events of {:?}", attempt);
        for event in &events[result.first_revision as usize..=result.last_revision as usize] {
            prop_assert_eq!(
                event.position,
                result.first_position + event.revision - result.first_revision,
                "{:?}",
                attempt
            );
        }
    }
    let all = db.read_all(ReadAllOptions::forwards()).map_err(|e| fail("read_all", e.to_string()))?;
    let positions: Vec<u64> = all.iter().map(|e| e.position).collect();
    let total = next + noise_events;
    prop_assert_eq!(positions, (0..total).collect::<Vec<u64>>(), "positions of $all");
    prop_assert_eq!(db.head_position().map_err(|e| e.code()), Ok(total), "head position");
    db.close();
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn concurrent_exact_appenders(
        writers in 2usize..9,
        attempts in 1usize..40,
        batch in 1usize..4,
        pre in 0u64..3,
        noise in any::<bool>(),
        // Sometimes real fsyncs, so that commits group as they do in production.
        fsync in proptest::bool::weighted(0.1),
    ) {
        let durability = if fsync { Durability::Fsync } else { Durability::NoFsyncUnsafe };
        run_race(writers, attempts, batch, pre, noise, durability)?;
    }
}
