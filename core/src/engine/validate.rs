//! Argument checks. They run on the caller's thread, before a request reaches the writer, so
//! the single writer only does work that needs the write transaction.

use std::collections::HashSet;
use std::sync::Arc;

use uuid::Uuid;

use serde_json::Value;

use super::format::{self, EventRecord};
use crate::error::{Error, Result};
use crate::json::{self, JsonError, JsonErrorKind};
use crate::schema::{CompiledSchema, SchemaRegistry, Violation, ViolationRule};
use crate::types::{EventData, CONTENT_TYPE_JSON};
use crate::{MAX_CONTENT_TYPE_LEN, MAX_EVENT_TYPE_LEN, MAX_STREAM_NAME_LEN};

/// An event that passed every check that does not need the store, already encoded as its
/// record (the writer fills in its place in the log with `format::place_event`).
pub(crate) struct PreparedEvent {
    pub id: Uuid,
    /// Appended without an id: the writer makes one up (nil until then), which cannot be
    /// stored already.
    pub generated: bool,
    pub record: rkyv::util::AlignedVec,
    /// In an encrypted store: where in `record` the sealed field lies (its plaintext in place,
    /// see `format::SealedLayout`); the writer seals it there once it knows the event's place.
    pub seal_at: Option<std::ops::Range<usize>>,
    /// The stream whose data key seals this event when it is not the event's own: the origin
    /// of a parked copy.
    pub key_owner: Option<String>,
    /// Set by the writer once it sealed the field: the key and additional data to open it
    /// again if the commit fails and the job is applied anew.
    pub sealed_with: Option<(std::sync::Arc<crate::crypto::Sealer>, [u8; 32])>,
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

/// A listing's page: a bounded positive limit, and a prefix and cursor that could be names.
pub(crate) fn list_streams(options: &crate::types::ListStreamsOptions) -> Result<()> {
    let max = crate::types::ListStreamsOptions::MAX_LIMIT;
    if options.limit == 0 || options.limit > max {
        return Err(Error::invalid(format!(
            "a stream listing's limit is {}: expected 1 to {max} streams a page",
            options.limit
        )));
    }
    if options.prefix.len() > MAX_STREAM_NAME_LEN || options.prefix.contains('\0') {
        return Err(Error::invalid(format!(
            "a stream listing's prefix must be at most {MAX_STREAM_NAME_LEN} bytes without NUL characters"
        )));
    }
    if let Some(after) = &options.after {
        stream_name(after).map_err(|e| match e {
            Error::InvalidArgument(why) => Error::invalid(format!("a stream listing's cursor: {why}")),
            other => other,
        })?;
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

/// The deepest nesting the schema validation can read: `serde_json` refuses a 128th level of
/// arrays and objects (its recursion limit), and the full validation parses into a `Value`.
/// Held here, before the fast path, so that whether such data is accepted never depends on
/// which path settled it (the fast path skips members no field declares without that limit).
pub(crate) const SCHEMA_MAX_JSON_DEPTH: usize = 127;

/// Who writes an append, which decides how its data is checked.
#[derive(Clone, Copy)]
pub(crate) enum Author<'a> {
    /// A user: an event whose type names a schema is validated against it, and data labelled
    /// JSON meets `crate::json`'s strict rules with arrays and objects nested at most
    /// `max_json_depth` levels.
    User { schemas: &'a SchemaRegistry, max_json_depth: usize },
    /// The engine: schema versions (serialised by us) and parked copies, which keep the data
    /// that was checked when it was first appended, whatever the rules (schemas, the JSON rules,
    /// `max_json_depth`) have become since, so that parking an event never fails on its data.
    /// JSON data gets the syntax check only.
    System,
}

/// Checks and encodes the events of an append. For a user, an event whose type names a schema
/// is validated against its latest version (defaults filled in) and records that version. Each
/// event type is resolved once per append, so the events of one type in one append are all held
/// to the same version even if an upsert lands meanwhile.
pub(crate) fn prepare_events(
    stream: &str,
    events: Vec<EventData>,
    max_event_size: usize,
    author: Author<'_>,
    sealed: bool,
) -> Result<Vec<PreparedEvent>> {
    if events.is_empty() {
        return Err(Error::invalid("an append needs at least one event"));
    }
    let mut seen = HashSet::with_capacity(events.len());
    let mut prepared = Vec::with_capacity(events.len());
    let registry = match author {
        Author::User { schemas, .. } => Some(schemas),
        Author::System => None,
    };
    let mut lookup = SchemaLookup { registry, resolved: Vec::new() };
    for (index, event) in events.into_iter().enumerate() {
        let p = prepare_event(stream, index, event, max_event_size, author, &mut lookup, sealed)?;
        if !p.generated && !seen.insert(p.id) {
            return Err(Error::invalid(format!("event {index}: id {} appears twice in the append", p.id)));
        }
        prepared.push(p);
    }
    Ok(prepared)
}

/// The schemas of the event types of one append, each looked up once.
struct SchemaLookup<'a> {
    registry: Option<&'a SchemaRegistry>,
    /// (event type, its latest schema when first seen); appends hold few distinct types.
    resolved: Vec<(String, Option<Arc<CompiledSchema>>)>,
}

impl SchemaLookup<'_> {
    fn schema_of(&mut self, event_type: &str) -> Result<Option<Arc<CompiledSchema>>> {
        let Some(registry) = self.registry else { return Ok(None) };
        if let Some((_, schema)) = self.resolved.iter().find(|(t, _)| t == event_type) {
            return Ok(schema.clone());
        }
        let schema = registry.latest(event_type)?;
        self.resolved.push((event_type.to_owned(), schema.clone()));
        Ok(schema)
    }
}

fn prepare_event(
    stream: &str,
    index: usize,
    mut event: EventData,
    max_event_size: usize,
    author: Author<'_>,
    schemas: &mut SchemaLookup<'_>,
    sealed: bool,
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
    let size = |event: &EventData| {
        event.event_type.len() + event.content_type.len() + event.data.len() + event.metadata.len()
    };
    let too_big =
        |size: usize| bad(format!("event is {size} bytes, larger than the maximum of {max_event_size}"));
    if size(&event) > max_event_size {
        return Err(too_big(size(&event)));
    }
    let schema_version = match schemas.schema_of(&event.event_type)? {
        Some(schema) => {
            // Only users' events meet schemas (`SchemaLookup` has no registry for the system).
            let max_json_depth = match author {
                Author::User { max_json_depth, .. } => max_json_depth,
                Author::System => SCHEMA_MAX_JSON_DEPTH,
            };
            conform(index, &schema, &mut event, max_json_depth)?;
            // Filled defaults make the data longer; the limit holds for what is stored.
            if size(&event) > max_event_size {
                return Err(too_big(size(&event)));
            }
            schema.version()
        }
        None => {
            if event.content_type == CONTENT_TYPE_JSON && !event.data.is_empty() {
                match author {
                    Author::User { max_json_depth, .. } => {
                        json::check(&event.data, max_json_depth)
                            .map_err(|e| refused_json(index, e, "the store's max_json_depth"))?;
                    }
                    Author::System => {
                        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&event.data) {
                            return Err(not_json(index, e));
                        }
                    }
                }
            }
            0
        }
    };
    let (id, generated) = match event.id {
        Some(id) if id.is_nil() => return Err(bad("event id is the nil UUID".into())),
        Some(id) => (id, false),
        // The writer gives it its id (`IdClock`), in the order it commits.
        None => (Uuid::nil(), true),
    };
    let (flags, metadata, data) = if sealed {
        (format::FLAG_SEALED, Vec::new(), sealed_field(&event.metadata, &event.data)?)
    } else {
        (0, event.metadata, event.data)
    };
    let record = EventRecord {
        stream_id: 0,
        revision: 0,
        prev_position: format::NO_POSITION,
        timestamp: 0,
        id: id.into_bytes(),
        flags,
        schema_version,
        stream: stream.to_string(),
        event_type: event.event_type,
        content_type: event.content_type,
        metadata,
        data,
    }
    .encode()?;
    let seal_at = if sealed {
        // SAFETY: `record` is what `rkyv::to_bytes` made of an `EventRecord` just above, in the
        // layout the archive type describes; validating it again (bytecheck) would only cost
        // the append path time to find where its data field lies.
        let field = unsafe { rkyv::access_unchecked::<format::ArchivedEventRecord>(&record) }.data.as_slice();
        let start = field.as_ptr() as usize - record.as_ptr() as usize;
        Some(start..start + field.len())
    } else {
        None
    };
    Ok(PreparedEvent { id, generated, record, seal_at, key_owner: None, sealed_with: None })
}

/// The sealed field of an event before sealing: room for the key id and the nonce, the
/// plaintext, room for the tag (see `format::SealedLayout`).
fn sealed_field(metadata: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    use format::SealedLayout as L;
    let meta_len = u32::try_from(metadata.len()).map_err(|_| Error::invalid("metadata is over 4 GiB"))?;
    let mut field = Vec::with_capacity(L::len(metadata.len(), data.len()));
    field.resize(L::KEY_ID + crate::crypto::NONCE_LEN, 0);
    field.extend_from_slice(&meta_len.to_le_bytes());
    field.extend_from_slice(metadata);
    field.extend_from_slice(data);
    field.resize(field.len() + crate::crypto::TAG_LEN, 0);
    Ok(field)
}

fn not_json(index: usize, e: serde_json::Error) -> Error {
    Error::invalid(format!("event {index}: data is labelled {CONTENT_TYPE_JSON} but is not valid JSON: {e}"))
}

/// The refusal of data labelled JSON by `crate::json::check`; `depth_limit` says where the
/// depth limit it ran with comes from.
fn refused_json(index: usize, e: JsonError, depth_limit: &str) -> Error {
    if e.is_syntax() {
        return Error::invalid(format!(
            "event {index}: data is labelled {CONTENT_TYPE_JSON} but is not valid JSON: {e}"
        ));
    }
    let why = match e.kind {
        JsonErrorKind::TooDeep { .. } => format!(" ({depth_limit})"),
        JsonErrorKind::DuplicateKey(_) => " (JSON parsers disagree on which of its values wins)".to_owned(),
        _ => String::new(),
    };
    Error::invalid(format!("event {index}: data labelled {CONTENT_TYPE_JSON} is refused: {e}{why}"))
}

/// Validates the data of event `index` against `schema`, filling its defaults. The data must be
/// a JSON object labelled JSON. Data that breaks the JSON rules (`crate::json`, arrays and
/// objects nested at most `max_json_depth` levels) is INVALID_ARGUMENT, as for any event
/// labelled JSON; JSON that breaks the schema is SCHEMA_VIOLATION.
///
/// When defaults were filled, the stored data is the re-serialised value: members are then in
/// key order, and numbers too large for an i64/u64/f64 keep only f64 precision. Data that needs
/// no default is stored byte for byte as sent.
fn conform(
    index: usize,
    schema: &CompiledSchema,
    event: &mut EventData,
    max_json_depth: usize,
) -> Result<()> {
    let refuse = |rule: ViolationRule, value: Value, message: String| Error::SchemaViolation {
        schema: schema.name().to_owned(),
        version: schema.version(),
        event: index,
        violations: vec![Violation { path: String::new(), rule, value, message }],
    };
    if event.content_type != CONTENT_TYPE_JSON {
        return Err(refuse(
            ViolationRule::ContentType,
            Value::String(event.content_type.clone()),
            format!(
                "events of type '{}' have a schema, so their data must be {CONTENT_TYPE_JSON}",
                schema.name()
            ),
        ));
    }
    // Before the fast path, which takes duplicate keys and skips undeclared members unchecked.
    if !event.data.is_empty() {
        let (depth, limit) = match max_json_depth > SCHEMA_MAX_JSON_DEPTH {
            true => (
                SCHEMA_MAX_JSON_DEPTH,
                "the limit of data validated by a schema, whose parser reads no deeper",
            ),
            false => (max_json_depth, "the store's max_json_depth"),
        };
        json::check(&event.data, depth).map_err(|e| refused_json(index, e, limit))?;
    }
    // Most events are valid and need no default: settle those without building a value.
    if schema.conforms_as_is(&event.data) {
        return Ok(());
    }
    if event.data.is_empty() {
        return Err(refuse(
            ViolationRule::NotAnObject,
            Value::Null,
            "must be a JSON object, not empty".into(),
        ));
    }
    // The data is strict JSON nested within `serde_json`'s limit: what can still fail here is a
    // number beyond f64 (`1e400`), which the validation cannot compare.
    let mut value: Value = serde_json::from_slice(&event.data).map_err(|e| {
        Error::invalid(format!(
            "event {index}: data labelled {CONTENT_TYPE_JSON} cannot be read for validation against schema '{}': {e}",
            schema.name()
        ))
    })?;
    if schema.check(index, &mut value)?.changed() {
        event.data = serde_json::to_vec(&value)
            .map_err(|e| Error::Internal(format!("re-serialising validated data: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SCHEMA_MAX_JSON_DEPTH` is what serde_json reads into a `Value` (the full validation) and
    /// through the fast path's nested seeds; a serde_json that reads deeper or less deep must
    /// move it.
    #[test]
    fn the_schema_depth_limit_is_serde_json_s() {
        let nested =
            |depth: usize| format!("{}{}", r#"{"a":"#.repeat(depth - 1) + "{}", "}".repeat(depth - 1));
        assert!(serde_json::from_str::<Value>(&nested(SCHEMA_MAX_JSON_DEPTH)).is_ok());
        let err = serde_json::from_str::<Value>(&nested(SCHEMA_MAX_JSON_DEPTH + 1)).unwrap_err();
        assert!(err.to_string().contains("recursion limit exceeded"), "{err}");
        assert_eq!(json::check(nested(SCHEMA_MAX_JSON_DEPTH).as_bytes(), SCHEMA_MAX_JSON_DEPTH), Ok(()));
    }
}
