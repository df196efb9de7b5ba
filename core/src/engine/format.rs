//! The on-disk format (docs/format.md describes it for humans; keep both in step).
//!
//! Integer keys are big-endian so LMDB's byte order is numeric order. Values are rkyv
//! archives in the pinned layout (little-endian, unaligned, 32-bit relative pointers: see the
//! workspace Cargo.toml), checked with bytecheck on every read and read in place.

use rkyv::rancor;
use rkyv::util::AlignedVec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{CurrentRevision, StreamMetadata};

/// Bumped on any change a previous build could misread. Stores of a newer version are
/// refused at open. Versions 3 (no commit log: LMDB synced at every commit) and 4 (log
/// segments without salts, which this build reads as they are; a version-4 build would take a
/// salted segment's name for a stranger in the log directory) are upgraded at open by writing
/// this version; versions 1 (event records without `schema_version`) and 2 (stream states
/// without `shredded`) only existed before the first release, so nothing migrates them.
pub(crate) const FORMAT_VERSION: u32 = 5;
/// The oldest version open upgrades.
pub(crate) const OLDEST_UPGRADED: u32 = 3;
pub(crate) const MAGIC: &[u8] = b"GraveyardDB store";

pub(crate) const META_MAGIC: &[u8] = b"magic";
pub(crate) const META_FORMAT_VERSION: &[u8] = b"format_version";
pub(crate) const META_STORE_ID: &[u8] = b"store_id";
pub(crate) const META_NEXT_STREAM_ID: &[u8] = b"next_stream_id";
/// Present in encrypted stores only: names the scheme (`ENCRYPTION_SCHEME`).
pub(crate) const META_ENCRYPTION: &[u8] = b"encryption";
/// The identity of the commit log a store was created with (`crate::commit_log`); absent for
/// the file log.
pub(crate) const META_COMMIT_LOG: &[u8] = b"commit_log";
pub(crate) const ENCRYPTION_SCHEME: &[u8] = b"aes-256-gcm, data key per stream, keyring v1";

/// Names of the LMDB databases.
pub(crate) const DB_META: &str = "meta";
pub(crate) const DB_EVENTS: &str = "events";
pub(crate) const DB_STREAMS: &str = "streams";
pub(crate) const DB_STREAM_INDEX: &str = "stream_index";
pub(crate) const DB_EVENT_IDS: &str = "event_ids";
pub(crate) const DB_SNAPSHOTS: &str = "snapshots";
pub(crate) const DB_GROUPS: &str = "groups";
/// Stream ids shredded in LMDB whose keyring slots may not be zeroed yet (see `keys.rs`).
pub(crate) const DB_PENDING_SHREDS: &str = "pending_shreds";
/// Room for the databases later features add (keys, cursors, schemas...).
pub(crate) const MAX_DBS: u32 = 32;

pub(crate) fn u64_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

pub(crate) fn decode_u64_key(bytes: &[u8]) -> Result<u64> {
    let arr: [u8; 8] =
        bytes.try_into().map_err(|_| corrupt("an 8-byte key or position has another length"))?;
    Ok(u64::from_be_bytes(arr))
}

/// Revisions per `stream_index` entry.
///
/// The index is sparse: one entry per chunk of `INDEX_CHUNK` revisions, keyed
/// (stream id, chunk number), holding the position of the chunk's last event. Inside a chunk,
/// each event record links to the stream's previous event (`prev_position`), and the stream
/// state holds the position of its last event. So finding any revision is one seek plus at
/// most `INDEX_CHUNK - 1` hops, and a commit that touches many streams dirties one index page
/// per stream only once every `INDEX_CHUNK` appends. A dense index (one entry per event,
/// clustered by stream) dirtied a leaf page per stream in every commit: 7 KB written per
/// event with 64 concurrent single-event writers, and the fsync of those pages bounded
/// throughput.
pub(crate) const INDEX_CHUNK: u64 = 32;

/// Marks "no previous event in this stream".
pub(crate) const NO_POSITION: u64 = u64::MAX;

/// `stream_index` key: (stream id, chunk). Streams are keyed by id, never by name prefix, so
/// stream `a` can never see the events of `a:b`.
pub(crate) fn index_key(stream_id: u64, chunk: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&stream_id.to_be_bytes());
    key[8..].copy_from_slice(&chunk.to_be_bytes());
    key
}

pub(crate) fn corrupt(what: &str) -> Error {
    Error::Corruption(what.to_string())
}

/// Flag bits of [`EventRecord::flags`]; readers refuse unknown bits rather than misread a
/// newer record.
pub(crate) const KNOWN_EVENT_FLAGS: u32 = FLAG_SEALED;
/// The record's `data` is sealed (see [`SealedLayout`]) and its `metadata` is empty: the
/// metadata travels inside the sealed data.
pub(crate) const FLAG_SEALED: u32 = 1;

/// The `data` of a sealed event record: the id of the stream whose data key sealed it
/// (u64 little-endian: the event's own stream, or for a parked copy the stream it was copied
/// from, so shredding that stream shreds its copies too), then `nonce || ciphertext || tag` of
/// the plaintext `metadata length (u32 LE) || metadata || data`, with the event's place as the
/// additional data.
pub(crate) struct SealedLayout;

impl SealedLayout {
    pub const KEY_ID: usize = 8;
    pub const META_LEN: usize = 4;
    /// Bytes of the sealed field for this much metadata and data.
    pub fn len(metadata: usize, data: usize) -> usize {
        Self::KEY_ID + crate::crypto::SEAL_OVERHEAD + Self::META_LEN + metadata + data
    }
}

/// One event in the `events` database, keyed by its global position.
#[derive(rkyv::Archive, rkyv::Serialize)]
pub(crate) struct EventRecord {
    pub stream_id: u64,
    pub revision: u64,
    /// Position of the stream's previous event (revision - 1), or `NO_POSITION`.
    pub prev_position: u64,
    pub timestamp: i64,
    pub id: [u8; 16],
    pub flags: u32,
    /// The version of the schema the data was validated against, 0 when its type named no
    /// schema when it was appended.
    pub schema_version: u32,
    pub stream: String,
    pub event_type: String,
    pub content_type: String,
    pub metadata: Vec<u8>,
    pub data: Vec<u8>,
}

// Records are read in place from LMDB pages, which only guarantee 2-byte alignment.
const _: () = assert!(std::mem::align_of::<ArchivedEventRecord>() == 1);
const _: () = assert!(std::mem::align_of::<ArchivedStreamState>() == 1);
const _: () = assert!(std::mem::align_of::<ArchivedSnapshotRecord>() == 1);

pub(crate) fn encode<T>(value: &T) -> Result<AlignedVec>
where
    T: for<'a> rkyv::Serialize<
        rkyv::api::high::HighSerializer<AlignedVec, rkyv::ser::allocator::ArenaHandle<'a>, rancor::Error>,
    >,
{
    encode_in(value, AlignedVec::new())
}

fn encode_in<T>(value: &T, buffer: AlignedVec) -> Result<AlignedVec>
where
    T: for<'a> rkyv::Serialize<
        rkyv::api::high::HighSerializer<AlignedVec, rkyv::ser::allocator::ArenaHandle<'a>, rancor::Error>,
    >,
{
    rkyv::api::high::to_bytes_in::<_, rancor::Error>(value, buffer)
        .map_err(|e| Error::Internal(format!("encoding a record: {e}")))
}

impl EventRecord {
    /// Encodes the record into one allocation of its final size. Grown from empty, the buffer
    /// was reallocated (and copied) several times per event: 6% of every sample, a sixth of
    /// the callers' time, in bench batch-100.
    pub(crate) fn encode(&self) -> Result<AlignedVec> {
        // With `unaligned`, nothing is padded: the root and each field's bytes (a string of
        // at most 8 bytes is inline, so this may be a few bytes over).
        let len = std::mem::size_of::<ArchivedEventRecord>()
            + self.stream.len()
            + self.event_type.len()
            + self.content_type.len()
            + self.metadata.len()
            + self.data.len();
        encode_in(self, AlignedVec::with_capacity(len))
    }
}

/// Sets the fields only the writer knows in an encoded event record: callers encode records
/// on their own threads with zeros there, so the single writer only patches four integers.
/// rkyv places the root object at the end of the buffer, and in the pinned layout an archived
/// u64/i64 is its 8 little-endian bytes, so each field sits at a fixed offset from the end.
pub(crate) fn place_event(
    bytes: &mut [u8],
    stream_id: u64,
    revision: u64,
    prev_position: u64,
    timestamp: i64,
) {
    use std::mem::{offset_of, size_of};
    let root = bytes.len() - size_of::<ArchivedEventRecord>();
    let mut put =
        |offset: usize, value: [u8; 8]| bytes[root + offset..root + offset + 8].copy_from_slice(&value);
    put(offset_of!(ArchivedEventRecord, stream_id), stream_id.to_le_bytes());
    put(offset_of!(ArchivedEventRecord, revision), revision.to_le_bytes());
    put(offset_of!(ArchivedEventRecord, prev_position), prev_position.to_le_bytes());
    put(offset_of!(ArchivedEventRecord, timestamp), timestamp.to_le_bytes());
}

/// Sets the id of an encoded event record: the writer gives one to each event appended
/// without one (`IdClock`). An archived `[u8; 16]` is its 16 bytes, at a fixed offset from the
/// end as in `place_event`.
pub(crate) fn place_id(bytes: &mut [u8], id: &[u8; 16]) {
    use std::mem::{offset_of, size_of};
    let at = bytes.len() - size_of::<ArchivedEventRecord>() + offset_of!(ArchivedEventRecord, id);
    bytes[at..at + 16].copy_from_slice(id);
}

pub(crate) fn access_event(bytes: &[u8]) -> Result<&ArchivedEventRecord> {
    let record = rkyv::access::<ArchivedEventRecord, rancor::Error>(bytes)
        .map_err(|e| Error::Corruption(format!("an event record fails validation: {e}")))?;
    if record.flags.to_native() & !KNOWN_EVENT_FLAGS != 0 {
        return Err(Error::IncompatibleFormat(
            "an event record carries flags this build does not know".into(),
        ));
    }
    Ok(record)
}

/// Per-stream state in the `streams` database, keyed by the stream name.
#[derive(rkyv::Archive, rkyv::Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamState {
    pub id: u64,
    /// Revision the next event gets; 0 when the stream never had an event.
    pub next_revision: u64,
    /// Position of the stream's last event (revision next_revision - 1), or `NO_POSITION`.
    pub last_position: u64,
    /// Revisions below this are soft-deleted.
    pub deleted_before: u64,
    /// Soft-deleted and not written since: expected-version checks see no stream.
    pub deleted: bool,
    pub tombstoned: bool,
    /// Its data key is destroyed: its events read back without data, and it takes no more.
    pub shredded: bool,
    pub max_count: Option<u64>,
    pub max_age_micros: Option<u64>,
    pub truncate_before: Option<u64>,
}

impl StreamState {
    pub fn new(id: u64) -> StreamState {
        StreamState {
            id,
            next_revision: 0,
            last_position: NO_POSITION,
            deleted_before: 0,
            deleted: false,
            tombstoned: false,
            shredded: false,
            max_count: None,
            max_age_micros: None,
            truncate_before: None,
        }
    }

    pub fn current(&self) -> CurrentRevision {
        if self.deleted || self.next_revision == 0 {
            CurrentRevision::NoStream
        } else {
            CurrentRevision::Revision(self.next_revision - 1)
        }
    }

    /// First revision that soft deletion, truncation and max-count leave visible (max-age
    /// is checked per event, on its timestamp).
    pub fn first_visible(&self) -> u64 {
        let mut first = self.deleted_before.max(self.truncate_before.unwrap_or(0));
        if let Some(max_count) = self.max_count {
            first = first.max(self.next_revision.saturating_sub(max_count));
        }
        first
    }

    pub fn metadata(&self) -> StreamMetadata {
        StreamMetadata {
            max_count: self.max_count,
            max_age: self.max_age_micros.map(std::time::Duration::from_micros),
            truncate_before: self.truncate_before,
        }
    }

    pub fn set_metadata(&mut self, metadata: &StreamMetadata) {
        self.max_count = metadata.max_count;
        self.max_age_micros = metadata.max_age.map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        self.truncate_before = metadata.truncate_before;
    }

    pub fn decode(bytes: &[u8]) -> Result<StreamState> {
        let a = rkyv::access::<ArchivedStreamState, rancor::Error>(bytes)
            .map_err(|e| Error::Corruption(format!("a stream state fails validation: {e}")))?;
        let state = StreamState {
            id: a.id.to_native(),
            next_revision: a.next_revision.to_native(),
            last_position: a.last_position.to_native(),
            deleted_before: a.deleted_before.to_native(),
            deleted: a.deleted,
            tombstoned: a.tombstoned,
            shredded: a.shredded,
            max_count: a.max_count.as_ref().map(|v| v.to_native()),
            max_age_micros: a.max_age_micros.as_ref().map(|v| v.to_native()),
            truncate_before: a.truncate_before.as_ref().map(|v| v.to_native()),
        };
        // Values the writer does arithmetic on: refuse impossible ones here rather than
        // overflow later.
        let linked = (state.next_revision == 0) == (state.last_position == NO_POSITION);
        if state.next_revision == u64::MAX || !linked || state.deleted_before > state.next_revision {
            return Err(corrupt("a stream state holds impossible revisions"));
        }
        Ok(state)
    }
}

/// The latest snapshot of a stream in the `snapshots` database, keyed by stream id.
#[derive(rkyv::Archive, rkyv::Serialize)]
pub(crate) struct SnapshotRecord {
    pub revision: u64,
    pub timestamp: i64,
    pub data: Vec<u8>,
}

pub(crate) fn access_snapshot(bytes: &[u8]) -> Result<&ArchivedSnapshotRecord> {
    rkyv::access::<ArchivedSnapshotRecord, rancor::Error>(bytes)
        .map_err(|e| Error::Corruption(format!("a snapshot record fails validation: {e}")))
}

// ---- consumer groups: JSON records, not rkyv archives (see `GroupRecord`) ----------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum TargetRecord {
    All { stream_prefixes: Vec<String>, event_types: Vec<String> },
    Stream { stream: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SettingsRecord {
    pub max_retries: u32,
    pub ack_timeout_ms: u64,
    pub max_in_flight: u32,
    pub pinned_by_stream: bool,
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
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a group record always serialises")
    }

    pub fn decode(bytes: &[u8]) -> Result<GroupRecord> {
        serde_json::from_slice(bytes).map_err(|e| Error::Corruption(format!("a consumer group record: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placing_an_encoded_event_sets_exactly_the_writer_fields() {
        let record = EventRecord {
            stream_id: 0,
            revision: 0,
            prev_position: NO_POSITION,
            timestamp: 0,
            id: [7; 16],
            flags: 0,
            schema_version: 3,
            stream: "orders-1".into(),
            event_type: "Placed".into(),
            content_type: "application/json".into(),
            metadata: b"meta".to_vec(),
            data: b"{\"a\":1}".to_vec(),
        };
        let mut bytes = record.encode().unwrap();
        assert!(
            bytes.len() <= bytes.capacity() && bytes.capacity() <= bytes.len() + 24,
            "{} of {}",
            bytes.len(),
            bytes.capacity()
        );
        place_event(&mut bytes, 0x0102_0304_0506_0708, u64::MAX - 3, 42, -5);
        let a = access_event(&bytes).unwrap();
        assert_eq!(a.stream_id.to_native(), 0x0102_0304_0506_0708);
        assert_eq!(a.revision.to_native(), u64::MAX - 3);
        assert_eq!(a.prev_position.to_native(), 42);
        assert_eq!(a.timestamp.to_native(), -5);
        assert_eq!(a.id, [7; 16]);
        assert_eq!(a.flags.to_native(), 0);
        assert_eq!(a.schema_version.to_native(), 3);
        assert_eq!(a.stream.as_str(), "orders-1");
        assert_eq!(a.event_type.as_str(), "Placed");
        assert_eq!(a.content_type.as_str(), "application/json");
        assert_eq!(a.metadata.as_slice(), b"meta");
        assert_eq!(a.data.as_slice(), b"{\"a\":1}");
    }

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
