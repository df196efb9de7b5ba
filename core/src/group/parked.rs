//! Parked copies: the events a group gave up on, copied to its parked stream with where they
//! came from, so that a replay can hand the original event back.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::dispatcher::Item;
use crate::error::{Error, Result};
use crate::types::{EventData, RecordedEvent, PARKED_STREAM_PREFIX};

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
pub(super) fn park_copy(group: &str, item: Item) -> Result<(String, EventData)> {
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
pub(super) fn unpark(copy: RecordedEvent) -> Result<RecordedEvent> {
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
