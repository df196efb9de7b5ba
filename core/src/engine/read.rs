//! Reads: on the caller's thread, inside one LMDB read transaction, records checked and read
//! in place, copied only into the events returned.

use std::ops::Bound;

use heed::RoTxn;
use uuid::Uuid;

use super::format::{self, index_key, u64_key, ArchivedEventRecord, StreamState};
use super::{now_micros, Store};
use crate::error::{Error, Result};
use crate::types::{Direction, ReadAllOptions, ReadOptions, RecordedEvent, Snapshot, StreamInfo};

fn to_event(position: u64, record: &ArchivedEventRecord) -> RecordedEvent {
    RecordedEvent {
        stream: record.stream.as_str().to_owned(),
        revision: record.revision.to_native(),
        position,
        id: Uuid::from_bytes(record.id),
        event_type: record.event_type.as_str().to_owned(),
        content_type: record.content_type.as_str().to_owned(),
        data: record.data.as_slice().to_vec(),
        metadata: record.metadata.as_slice().to_vec(),
        timestamp: record.timestamp.to_native(),
        shredded: false,
    }
}

/// The state of a stream that may be read: NOT_FOUND / STREAM_DELETED otherwise.
fn readable_state(store: &Store, txn: &RoTxn, stream: &str) -> Result<StreamState> {
    match store.stream_state(txn, stream)? {
        None => Err(Error::NotFound(format!("stream '{stream}' does not exist"))),
        Some(s) if s.tombstoned => Err(Error::StreamDeleted { stream: stream.to_string() }),
        Some(s) => Ok(s),
    }
}

pub(crate) fn stream_info(store: &Store, stream: &str) -> Result<StreamInfo> {
    let txn = store.env.read_txn()?;
    let state = readable_state(store, &txn, stream)?;
    Ok(StreamInfo {
        current: state.current(),
        next_revision: state.next_revision,
        deleted: state.deleted,
        metadata: state.metadata(),
    })
}

pub(crate) fn read_stream(store: &Store, stream: &str, options: ReadOptions) -> Result<Vec<RecordedEvent>> {
    let txn = store.env.read_txn()?;
    let state = readable_state(store, &txn, stream)?;
    if state.current() == crate::types::CurrentRevision::NoStream {
        return Err(Error::NotFound(format!("stream '{stream}' has no events")));
    }
    let first_visible = state.first_visible();
    let end = state.next_revision; // exclusive
    let min_timestamp =
        state.max_age_micros.map(|age| now_micros().saturating_sub(age.min(i64::MAX as u64) as i64));
    let (lo, hi) = match options.direction {
        Direction::Forwards => (options.from.unwrap_or(0).max(first_visible), end),
        Direction::Backwards => {
            let top = options.from.map_or(end, |from| from.saturating_add(1).min(end));
            (first_visible, top)
        }
    };
    let capacity = options.limit.min(hi.saturating_sub(lo)).min(4096) as usize;
    let mut out = Vec::with_capacity(capacity);
    if lo >= hi || options.limit == 0 {
        return Ok(out);
    }
    let range =
        (Bound::Included(&index_key(state.id, lo)[..]), Bound::Excluded(&index_key(state.id, hi)[..]));
    let mut visit = |position_bytes: &[u8]| -> Result<bool> {
        let position = format::decode_u64_key(position_bytes)?;
        let Some(bytes) = store.events.get(&txn, &u64_key(position))? else {
            return Err(format::corrupt("the stream index points to a missing event"));
        };
        let record = format::access_event(bytes)?;
        if min_timestamp.is_some_and(|min| record.timestamp.to_native() < min) {
            // Timestamps never decrease along a stream: forwards, later events may qualify;
            // backwards, nothing older can.
            return Ok(options.direction == Direction::Forwards);
        }
        out.push(to_event(position, record));
        Ok((out.len() as u64) < options.limit)
    };
    match options.direction {
        Direction::Forwards => {
            for item in store.stream_index.range(&txn, &range)? {
                if !visit(item?.1)? {
                    break;
                }
            }
        }
        Direction::Backwards => {
            for item in store.stream_index.rev_range(&txn, &range)? {
                if !visit(item?.1)? {
                    break;
                }
            }
        }
    }
    Ok(out)
}

pub(crate) fn read_all(store: &Store, options: &ReadAllOptions) -> Result<Vec<RecordedEvent>> {
    let txn = store.env.read_txn()?;
    let mut out = Vec::with_capacity(options.limit.min(4096) as usize);
    if options.limit == 0 {
        return Ok(out);
    }
    let filter = &options.filter;
    let filtered = !filter.is_empty();
    let mut visit = |key: &[u8], bytes: &[u8]| -> Result<bool> {
        let record = format::access_event(bytes)?;
        if !filtered || filter.matches(record.stream.as_str(), record.event_type.as_str()) {
            out.push(to_event(format::decode_u64_key(key)?, record));
        }
        Ok((out.len() as u64) < options.limit)
    };
    match options.direction {
        Direction::Forwards => {
            let from = u64_key(options.from.unwrap_or(0));
            for item in store.events.range(&txn, &(Bound::Included(&from[..]), Bound::Unbounded))? {
                let (key, bytes) = item?;
                if !visit(key, bytes)? {
                    break;
                }
            }
        }
        Direction::Backwards => {
            let upper = options.from.map(u64_key);
            let range: (Bound<&[u8]>, Bound<&[u8]>) =
                (Bound::Unbounded, upper.as_ref().map_or(Bound::Unbounded, |k| Bound::Included(&k[..])));
            for item in store.events.rev_range(&txn, &range)? {
                let (key, bytes) = item?;
                if !visit(key, bytes)? {
                    break;
                }
            }
        }
    }
    Ok(out)
}

pub(crate) fn get_snapshot(store: &Store, stream: &str) -> Result<Option<Snapshot>> {
    let txn = store.env.read_txn()?;
    let state = match store.stream_state(&txn, stream)? {
        None => return Ok(None),
        Some(s) if s.tombstoned => return Err(Error::StreamDeleted { stream: stream.to_string() }),
        Some(s) => s,
    };
    let Some(bytes) = store.snapshots.get(&txn, &u64_key(state.id))? else {
        return Ok(None);
    };
    let record = format::access_snapshot(bytes)?;
    Ok(Some(Snapshot {
        stream: stream.to_string(),
        revision: record.revision.to_native(),
        data: record.data.as_slice().to_vec(),
        timestamp: record.timestamp.to_native(),
    }))
}
