//! Reads: on the caller's thread, inside one LMDB read transaction, records checked and read
//! in place, copied only into the events returned.

use std::ops::Bound;

use heed::types::Bytes;
use heed::RoTxn;
use uuid::Uuid;

use super::format::{
    self, index_key, u64_key, ArchivedEventRecord, SealedLayout, StreamState, INDEX_CHUNK, NO_POSITION,
};
use super::keys::{DataKey, Keyring};
use super::{now_micros, Store};
use crate::crypto;
use crate::error::{Error, Result};
use crate::types::{
    Direction, EventRef, ListStreamsOptions, ReadAllOptions, ReadOptions, RecordedEvent, Snapshot,
    StreamInfo, StreamSummary, PARKED_STREAM_PREFIX,
};

/// Turns records into events: in place, or opened into a buffer reused for the whole read when
/// they are sealed.
struct Opener<'s> {
    keyring: Option<&'s Keyring>,
    plaintext: Vec<u8>,
    /// The keys this read used last, most recent first: a read meets few streams, and the
    /// keyring's shared cache takes a lock per lookup.
    keys: Vec<(u64, DataKey)>,
}

/// Keys an [`Opener`] keeps at hand.
const OPENER_KEYS: usize = 8;

impl<'s> Opener<'s> {
    fn new(store: &'s Store) -> Opener<'s> {
        Opener { keyring: store.keyring.as_ref(), plaintext: Vec::new(), keys: Vec::new() }
    }

    fn key(&mut self, keyring: &Keyring, key_id: u64) -> Result<DataKey> {
        if let Some(at) = self.keys.iter().position(|(id, _)| *id == key_id) {
            let entry = self.keys.remove(at);
            let key = entry.1.clone();
            self.keys.insert(0, entry);
            return Ok(key);
        }
        let key = keyring.get(key_id)?;
        self.keys.truncate(OPENER_KEYS - 1);
        self.keys.insert(0, (key_id, key.clone()));
        Ok(key)
    }

    /// The event at `position`. A sealed record that does not open (tampered bytes, moved
    /// elsewhere) is ENCRYPTION for this read; one whose key was shredded reads back shredded.
    fn event<'a>(&'a mut self, position: u64, record: &'a ArchivedEventRecord) -> Result<EventRef<'a>> {
        let mut event = EventRef {
            stream: record.stream.as_str(),
            revision: record.revision.to_native(),
            position,
            id: Uuid::from_bytes(record.id),
            event_type: record.event_type.as_str(),
            content_type: record.content_type.as_str(),
            data: record.data.as_slice(),
            metadata: record.metadata.as_slice(),
            timestamp: record.timestamp.to_native(),
            shredded: false,
            schema_version: match record.schema_version.to_native() {
                0 => None,
                version => Some(version),
            },
        };
        let sealed = record.flags.to_native() & format::FLAG_SEALED != 0;
        let keyring = match (self.keyring, sealed) {
            (None, false) => return Ok(event),
            (None, true) => return Err(format::corrupt("a sealed event in a store without encryption")),
            // Every event of an encrypted store is sealed: a cleared flag is tampering.
            (Some(_), false) => {
                return Err(Error::Encryption(format!("the event at position {position} is not sealed")))
            }
            (Some(keyring), true) => keyring,
        };
        let field = record.data.as_slice();
        if field.len() < SealedLayout::len(0, 0) {
            return Err(format::corrupt("a sealed event is shorter than its envelope"));
        }
        let (key_id, sealed) = field.split_at(SealedLayout::KEY_ID);
        let key_id = u64::from_le_bytes(key_id.try_into().expect("KEY_ID bytes"));
        // The key id is outside the additional data: only parked copies may name another
        // stream's key, or a changed id could make an event read as shredded.
        if key_id != record.stream_id.to_native() && !event.stream.starts_with(PARKED_STREAM_PREFIX) {
            return Err(Error::Encryption(format!(
                "the event at position {position} names another stream's key: its bytes were changed"
            )));
        }
        let sealer = match self.key(keyring, key_id)? {
            DataKey::Shredded => {
                event.data = &[];
                event.metadata = &[];
                event.shredded = true;
                return Ok(event);
            }
            DataKey::Live(sealer) => sealer,
        };
        let aad = crypto::event_aad(record.stream_id.to_native(), event.revision, position);
        let plaintext = sealer.open_into(&aad, sealed, &mut self.plaintext).map_err(|_| {
            Error::Encryption(format!(
                "the event at position {position} does not open: its bytes were changed or moved"
            ))
        })?;
        let (len, rest) = plaintext.split_at(SealedLayout::META_LEN);
        let meta_len = u32::from_le_bytes(len.try_into().expect("META_LEN bytes")) as usize;
        if meta_len > rest.len() {
            return Err(format::corrupt("a sealed event's metadata length passes its end"));
        }
        (event.metadata, event.data) = rest.split_at(meta_len);
        Ok(event)
    }
}

/// Collects what a visit emits into owned events.
pub(crate) fn collect(
    capacity_hint: u64,
    visit: impl FnOnce(&mut dyn FnMut(EventRef<'_>) -> bool) -> Result<u64>,
) -> Result<Vec<RecordedEvent>> {
    let mut out = Vec::with_capacity(capacity_hint.min(1 << 16) as usize);
    visit(&mut |event| {
        out.push(event.to_recorded());
        true
    })?;
    Ok(out)
}

/// The state of a stream that may be read: NOT_FOUND / STREAM_DELETED otherwise.
fn readable_state(stream: &str, state: Option<StreamState>) -> Result<StreamState> {
    match state {
        // Users coming from other event stores read the global log as a stream: say where it is.
        None if stream == "$all" => Err(Error::NotFound(
            "stream '$all' does not exist: the global log is read with read_all (ReadAll over gRPC), \
             not as a stream"
                .into(),
        )),
        None => Err(Error::NotFound(format!("stream '{stream}' does not exist"))),
        Some(s) if s.tombstoned => Err(Error::StreamDeleted { stream: stream.to_string() }),
        Some(s) => Ok(s),
    }
}

pub(crate) fn stream_info(store: &Store, stream: &str) -> Result<StreamInfo> {
    let (_txn, state) = store.read_state(stream)?;
    let state = readable_state(stream, state)?;
    Ok(StreamInfo {
        current: state.current(),
        next_revision: state.next_revision,
        deleted: state.deleted,
        shredded: state.shredded,
        metadata: state.metadata(),
    })
}

/// A page of the stream states: names starting with the prefix, after `after`, in byte order
/// (the `streams` table's key order, so a page is one cursor walk, merged with the states
/// written behind, which are newer where a name is in both).
pub(crate) fn list_streams(store: &Store, options: &ListStreamsOptions) -> Result<Vec<StreamSummary>> {
    let prefix = options.prefix.as_bytes();
    // Start at the prefix, or just past `after` when that is further on (LMDB refuses an
    // empty key, so no prefix starts unbounded).
    let start = match &options.after {
        Some(after) if after.as_bytes() >= prefix => Bound::Excluded(after.as_bytes()),
        _ if prefix.is_empty() => Bound::Unbounded,
        _ => Bound::Included(prefix),
    };
    let limit = usize::try_from(options.limit).unwrap_or(usize::MAX);
    // Taken with the transaction opened under the same view, as every read of a state
    // (states.rs): one page is one view of the store.
    let (late, txn) = store.read_with_late(|view| view.range(start, prefix, limit))?;
    let mut late = late.into_iter().peekable();
    let mut rows = store.streams.range(&txn, &(start, Bound::Unbounded))?;
    let mut row = next_row(&mut rows, prefix)?;
    let mut out = Vec::new();
    while out.len() < limit {
        let late_first = match (&row, late.peek()) {
            (None, None) => break,
            (_, None) => false,
            (None, Some(_)) => true,
            (Some((name, _)), Some((late_name, _))) => &late_name[..] <= *name,
        };
        if late_first {
            let (name, state) = late.next().expect("peeked");
            if row.as_ref().is_some_and(|(row_name, _)| *row_name == &name[..]) {
                row = next_row(&mut rows, prefix)?;
            }
            out.push(summary(&name, &state)?);
        } else {
            let (name, state) = row.take().expect("matched");
            out.push(summary(name, &state)?);
            row = next_row(&mut rows, prefix)?;
        }
    }
    Ok(out)
}

/// The next row of the `streams` table while names start with `prefix`.
fn next_row<'t>(
    rows: &mut impl Iterator<Item = heed::Result<(&'t [u8], &'t [u8])>>,
    prefix: &[u8],
) -> Result<Option<(&'t [u8], StreamState)>> {
    match rows.next().transpose()? {
        Some((name, state)) if name.starts_with(prefix) => Ok(Some((name, StreamState::decode(state)?))),
        _ => Ok(None),
    }
}

fn summary(name: &[u8], state: &StreamState) -> Result<StreamSummary> {
    let name = std::str::from_utf8(name)
        .map_err(|_| Error::Corruption("a stream name in the streams table is not UTF-8".into()))?;
    Ok(StreamSummary {
        name: name.to_owned(),
        next_revision: state.next_revision,
        last_position: (state.last_position != NO_POSITION).then_some(state.last_position),
        deleted: state.deleted,
        deleted_before: state.deleted_before,
        tombstoned: state.tombstoned,
        shredded: state.shredded,
    })
}

/// Calls `f` with each event of the stream read, in order, until `f` returns false or the
/// limit is reached; returns how many events `f` saw.
pub(crate) fn visit_stream(
    store: &Store,
    stream: &str,
    options: ReadOptions,
    f: &mut dyn FnMut(EventRef<'_>) -> bool,
) -> Result<u64> {
    let (txn, state) = store.read_state(stream)?;
    let state = readable_state(stream, state)?;
    if state.current() == crate::types::CurrentRevision::NoStream {
        return Err(Error::NotFound(format!("stream '{stream}' has no events")));
    }
    let first_visible = state.first_visible();
    let end = state.next_revision; // exclusive
    let min_timestamp =
        state.max_age_micros.map(|age| now_micros().saturating_sub(age.min(i64::MAX as u64) as i64));
    let too_old =
        |record: &ArchivedEventRecord| min_timestamp.is_some_and(|min| record.timestamp.to_native() < min);
    let (lo, hi) = match options.direction {
        Direction::Forwards => (options.from.unwrap_or(0).max(first_visible), end),
        Direction::Backwards => {
            let top = options.from.map_or(end, |from| from.saturating_add(1).min(end));
            (first_visible, top)
        }
    };
    let limit = options.limit;
    let mut seen = 0u64;
    if lo >= hi || limit == 0 {
        return Ok(seen);
    }
    // Emits one event; false when the visit is over.
    let mut opener = Opener::new(store);
    let mut emit = |position: u64, record: &ArchivedEventRecord| -> Result<bool> {
        seen += 1;
        Ok(f(opener.event(position, record)?) && seen < limit)
    };
    let mut chain = Chain::new(store, &txn, &state);
    match options.direction {
        Direction::Forwards => {
            // Chunk by chunk: locate the chunk's last wanted event, walk the back-links down
            // to the first wanted one, then emit in revision order.
            let mut chunk = Vec::with_capacity(INDEX_CHUNK as usize);
            let mut revision = lo;
            while revision < hi {
                let chunk_last = ((revision / INDEX_CHUNK) * INDEX_CHUNK + INDEX_CHUNK - 1).min(hi - 1);
                let mut at = chain.locate(chunk_last)?;
                chunk.clear();
                loop {
                    chunk.push(at);
                    if at.1.revision.to_native() == revision {
                        break;
                    }
                    at = chain.previous(at.1)?;
                }
                for &(position, record) in chunk.iter().rev() {
                    // Timestamps never decrease along a stream: later events may qualify.
                    if too_old(record) {
                        continue;
                    }
                    if !emit(position, record)? {
                        return Ok(seen);
                    }
                }
                revision = chunk_last + 1;
            }
        }
        Direction::Backwards => {
            let mut at = chain.locate(hi - 1)?;
            loop {
                // Everything further back is older still.
                if too_old(at.1) {
                    break;
                }
                if !emit(at.0, at.1)? || at.1.revision.to_native() == lo {
                    break;
                }
                at = chain.previous(at.1)?;
            }
        }
    }
    Ok(seen)
}

/// Walks one stream's events through the sparse index and the back-links, checking every hop:
/// a record that belongs to another stream or skips a revision is corruption, never silently
/// returned.
struct Chain<'a, 't> {
    store: &'a Store,
    txn: &'t RoTxn<'t>,
    state: &'a StreamState,
    /// A reverse cursor left at the last event fetched. A stream's consecutive events are often
    /// near each other in the log (written in one append, or by one busy writer), so stepping
    /// back a few entries beats a search from the root of the tree for every hop.
    cursor: Option<(u64, heed::RoRevRange<'t, Bytes, Bytes>)>,
}

/// Most entries stepped over before a fresh search is cheaper.
const MAX_CURSOR_STEPS: u64 = 16;

impl<'a, 't> Chain<'a, 't> {
    fn new(store: &'a Store, txn: &'t RoTxn<'t>, state: &'a StreamState) -> Self {
        Chain { store, txn, state, cursor: None }
    }

    fn event_at(&mut self, position: u64) -> Result<(u64, &'t ArchivedEventRecord)> {
        let bytes = match self.step_to(position)? {
            Some(bytes) => bytes,
            None => {
                let key = u64_key(position);
                let mut cursor =
                    self.store.events.rev_range(self.txn, &(Bound::Unbounded, Bound::Included(&key[..])))?;
                let found = match cursor.next().transpose()? {
                    Some((k, v)) if format::decode_u64_key(k)? == position => v,
                    _ => return Err(format::corrupt("a stream link points to a missing event")),
                };
                self.cursor = Some((position, cursor));
                found
            }
        };
        let record = format::access_event(bytes)?;
        if record.stream_id.to_native() != self.state.id {
            return Err(format::corrupt("a stream link points to an event of another stream"));
        }
        Ok((position, record))
    }

    /// The value at `position` reached by stepping the cursor back, if it is close enough.
    fn step_to(&mut self, position: u64) -> Result<Option<&'t [u8]>> {
        let Some((at, cursor)) = self.cursor.as_mut() else { return Ok(None) };
        if *at <= position || *at - position > MAX_CURSOR_STEPS {
            return Ok(None);
        }
        while let Some((k, v)) = cursor.next().transpose()? {
            let key = format::decode_u64_key(k)?;
            *at = key;
            if key == position {
                return Ok(Some(v));
            }
            if key < position {
                break;
            }
        }
        self.cursor = None;
        Ok(None)
    }

    /// The event at `revision`, which must be below the stream's next revision.
    fn locate(&mut self, revision: u64) -> Result<(u64, &'t ArchivedEventRecord)> {
        let chunk = revision / INDEX_CHUNK;
        let chunk_last = chunk * INDEX_CHUNK + INDEX_CHUNK - 1;
        let start = if chunk_last < self.state.next_revision {
            let bytes = self
                .store
                .stream_index
                .get(self.txn, &index_key(self.state.id, chunk))?
                .ok_or_else(|| format::corrupt("the stream index misses a chunk"))?;
            format::decode_u64_key(bytes)?
        } else {
            self.state.last_position
        };
        let mut at = self.event_at(start)?;
        while at.1.revision.to_native() > revision {
            at = self.previous(at.1)?;
        }
        if at.1.revision.to_native() != revision {
            return Err(format::corrupt("a stream's back-links skip a revision"));
        }
        Ok(at)
    }

    /// The stream's event just before `record`.
    fn previous(&mut self, record: &ArchivedEventRecord) -> Result<(u64, &'t ArchivedEventRecord)> {
        let revision = record.revision.to_native();
        let prev = record.prev_position.to_native();
        if revision == 0 || prev == NO_POSITION {
            return Err(format::corrupt("a stream's back-links end before revision 0"));
        }
        let at = self.event_at(prev)?;
        if at.1.revision.to_native() != revision - 1 {
            return Err(format::corrupt("a stream's back-links skip a revision"));
        }
        Ok(at)
    }
}

/// Calls `f` with each event of $all read, in order, until `f` returns false or the limit is
/// reached; returns how many events `f` saw.
/// `head`, taken before the transaction opens, bounds the visit: LMDB may hold events after it
/// whose commit is not yet durable (writer.rs, `commit`).
pub(crate) fn visit_all(
    store: &Store,
    head: u64,
    options: &ReadAllOptions,
    f: &mut dyn FnMut(EventRef<'_>) -> bool,
) -> Result<u64> {
    let txn = store.env.read_txn()?;
    let mut seen = 0u64;
    if options.limit == 0 {
        return Ok(seen);
    }
    let filter = &options.filter;
    let filtered = !filter.is_empty();
    let mut opener = Opener::new(store);
    let mut visit = |key: &[u8], bytes: &[u8]| -> Result<bool> {
        let record = format::access_event(bytes)?;
        if !filtered || filter.matches(record.stream.as_str(), record.event_type.as_str()) {
            seen += 1;
            let event = opener.event(format::decode_u64_key(key)?, record)?;
            return Ok(f(event) && seen < options.limit);
        }
        Ok(true)
    };
    match options.direction {
        Direction::Forwards => {
            let from = u64_key(options.from.unwrap_or(0));
            let end = u64_key(head);
            for item in store.events.range(&txn, &(Bound::Included(&from[..]), Bound::Excluded(&end[..])))? {
                let (key, bytes) = item?;
                if !visit(key, bytes)? {
                    break;
                }
            }
        }
        Direction::Backwards => {
            let upper = match options.from {
                Some(from) if from < head => Bound::Included(u64_key(from)),
                _ => Bound::Excluded(u64_key(head)),
            };
            let range: (Bound<&[u8]>, Bound<&[u8]>) = (Bound::Unbounded, upper.as_ref().map(|k| &k[..]));
            for item in store.events.rev_range(&txn, &range)? {
                let (key, bytes) = item?;
                if !visit(key, bytes)? {
                    break;
                }
            }
        }
    }
    Ok(seen)
}

pub(crate) fn get_snapshot(store: &Store, stream: &str) -> Result<Option<Snapshot>> {
    let (txn, state) = store.read_state(stream)?;
    let state = match state {
        None => return Ok(None),
        Some(s) if s.tombstoned => return Err(Error::StreamDeleted { stream: stream.to_string() }),
        Some(s) if s.shredded => return Ok(None),
        Some(s) => s,
    };
    let Some(bytes) = store.snapshots.get(&txn, &u64_key(state.id))? else {
        return Ok(None);
    };
    let record = format::access_snapshot(bytes)?;
    let revision = record.revision.to_native();
    let data = match &store.keyring {
        None => record.data.as_slice().to_vec(),
        Some(keyring) => match keyring.get(state.id)? {
            // Deleted with the shred; a snapshot left by a shred that did not finish is gone too.
            DataKey::Shredded => return Ok(None),
            DataKey::Live(sealer) => {
                let mut plaintext = Vec::new();
                let len = sealer
                    .open_into(
                        &crypto::snapshot_aad(state.id, revision),
                        record.data.as_slice(),
                        &mut plaintext,
                    )
                    .map_err(|_| {
                        Error::Encryption(format!(
                            "the snapshot of stream '{stream}' does not open: its bytes were changed or moved"
                        ))
                    })?
                    .len();
                plaintext.truncate(len);
                plaintext
            }
        },
    };
    Ok(Some(Snapshot { stream: stream.to_string(), revision, data, timestamp: record.timestamp.to_native() }))
}
