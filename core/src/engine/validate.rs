//! Argument checks. They run on the caller's thread, before a request reaches the writer, so
//! the single writer only does work that needs the write transaction.

use std::collections::HashSet;

use uuid::Uuid;

use super::format::{self, EventRecord};
use crate::error::{Error, Result};
use crate::types::{EventData, CONTENT_TYPE_JSON};
use crate::{MAX_CONTENT_TYPE_LEN, MAX_EVENT_TYPE_LEN, MAX_STREAM_NAME_LEN};

/// An event that passed every check that does not need the store, already encoded as its
/// record (the writer fills in its place in the log with `format::place_event`).
pub(crate) struct PreparedEvent {
    pub id: Uuid,
    /// The engine made the id up: it cannot be stored already.
    pub generated: bool,
    pub record: rkyv::util::AlignedVec,
}

/// Any stream name that may be read.
pub(crate) fn stream_name(stream: &str) -> Result<()> {
    if stream.is_empty() {
        return Err(Error::invalid("stream name is empty"));
    }
    if stream.len() > MAX_STREAM_NAME_LEN {
        return Err(Error::invalid(format!(
            "stream name is {} bytes, longer than {MAX_STREAM_NAME_LEN}",
            stream.len()
        )));
    }
    if stream.contains('\0') {
        return Err(Error::invalid("stream name contains a NUL character"));
    }
    Ok(())
}

/// A stream name a user may write to: `$`-prefixed names belong to the system.
pub(crate) fn user_stream_name(stream: &str) -> Result<()> {
    stream_name(stream)?;
    if stream.starts_with('$') {
        return Err(Error::invalid(format!(
            "stream '{stream}' is reserved: names starting with '$' belong to the system"
        )));
    }
    Ok(())
}

pub(crate) fn prepare_events(
    stream: &str,
    events: Vec<EventData>,
    max_event_size: usize,
) -> Result<Vec<PreparedEvent>> {
    if events.is_empty() {
        return Err(Error::invalid("an append needs at least one event"));
    }
    let mut seen = HashSet::with_capacity(events.len());
    let mut prepared = Vec::with_capacity(events.len());
    for (index, event) in events.into_iter().enumerate() {
        let p = prepare_event(stream, index, event, max_event_size)?;
        if !seen.insert(p.id) {
            return Err(Error::invalid(format!("event {index}: id {} appears twice in the append", p.id)));
        }
        prepared.push(p);
    }
    Ok(prepared)
}

fn prepare_event(
    stream: &str,
    index: usize,
    event: EventData,
    max_event_size: usize,
) -> Result<PreparedEvent> {
    let bad = |what: String| Error::invalid(format!("event {index}: {what}"));
    if event.event_type.is_empty() {
        return Err(bad("event type is empty".into()));
    }
    if event.event_type.len() > MAX_EVENT_TYPE_LEN {
        return Err(bad(format!("event type is longer than {MAX_EVENT_TYPE_LEN} bytes")));
    }
    if event.event_type.contains('\0') {
        return Err(bad("event type contains a NUL character".into()));
    }
    if event.content_type.is_empty() || event.content_type.len() > MAX_CONTENT_TYPE_LEN {
        return Err(bad(format!("content type must be 1 to {MAX_CONTENT_TYPE_LEN} bytes")));
    }
    let size = event.event_type.len() + event.content_type.len() + event.data.len() + event.metadata.len();
    if size > max_event_size {
        return Err(bad(format!("event is {size} bytes, larger than the maximum of {max_event_size}")));
    }
    if event.content_type == CONTENT_TYPE_JSON && !event.data.is_empty() {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&event.data) {
            return Err(bad(format!("data is labelled {CONTENT_TYPE_JSON} but is not valid JSON: {e}")));
        }
    }
    let (id, generated) = match event.id {
        Some(id) if id.is_nil() => return Err(bad("event id is the nil UUID".into())),
        Some(id) => (id, false),
        None => (generated_id(), true),
    };
    let record = format::encode(&EventRecord {
        stream_id: 0,
        revision: 0,
        prev_position: format::NO_POSITION,
        timestamp: 0,
        id: id.into_bytes(),
        flags: 0,
        stream: stream.to_string(),
        event_type: event.event_type,
        content_type: event.content_type,
        metadata: event.metadata,
        data: event.data,
    })?;
    Ok(PreparedEvent { id, generated, record })
}

/// A UUIDv7: time-ordered, so the id index grows at its right edge (random ids would dirty a
/// random B-tree page per event). The random part comes from a per-thread generator rather
/// than the OS: `getrandom` is a syscall per event and showed up as 9% of append CPU.
fn generated_id() -> Uuid {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&fastrand::u64(..).to_le_bytes());
    random[8..].copy_from_slice(&fastrand::u16(..).to_le_bytes());
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}
