//! The packed layouts (docs/boundary.md, "Packed layouts"): little-endian integers; `str` and
//! `bytes` are a `u32` length then the bytes (a `str` is UTF-8); a UUID is its 16 bytes in
//! RFC 4122 order. A batch of events crosses in one call, a read page comes back in one buffer.
//! Decoders check every length against the buffer and refuse trailing bytes: a damaged buffer
//! is INVALID_ARGUMENT, never a read out of bounds.

use crate::error::{Error, Result};
use crate::{
    AppendResult, EventData, EventRef, RecordedEvent, Snapshot, StoreDelivery, SubscriptionMessage, Uuid,
};

/// Flag bit of an event to append: an id follows.
const HAS_ID: u8 = 1;
/// Flag bit of a read event: its data key was destroyed.
const SHREDDED: u8 = 1;
/// Tags of a subscription message.
pub const CAUGHT_UP: u8 = 0;
pub const EVENT: u8 = 1;

// ---- events to append -------------------------------------------------------------------------

/// The events of an append: `u32 count`, then per event `u8 flags` (bit 0: an id follows),
/// `[16 id]`, `str type`, `str content_type`, `bytes data`, `bytes metadata`.
pub fn pack_events(events: &[EventData]) -> Vec<u8> {
    let size: usize = events
        .iter()
        .map(|e| 17 + 16 + e.event_type.len() + e.content_type.len() + e.data.len() + e.metadata.len())
        .sum();
    let mut out = Vec::with_capacity(4 + size);
    out.extend_from_slice(&u32::try_from(events.len()).expect("fewer than 2^32 events").to_le_bytes());
    for e in events {
        match e.id {
            Some(id) => {
                out.push(HAS_ID);
                out.extend_from_slice(id.as_bytes());
            }
            None => out.push(0),
        }
        put_bytes(&mut out, e.event_type.as_bytes());
        put_bytes(&mut out, e.content_type.as_bytes());
        put_bytes(&mut out, &e.data);
        put_bytes(&mut out, &e.metadata);
    }
    out
}

/// Reads what [`pack_events`] writes.
pub fn unpack_events(packed: &[u8]) -> Result<Vec<EventData>> {
    let mut r = Reader::new(packed, "the packed events of an append");
    let count = r.u32()? as usize;
    // Each event takes at least 17 bytes: a larger count is a damaged buffer, refused before
    // anything is allocated for it.
    if count > packed.len() / 17 {
        return Err(r.malformed());
    }
    let mut events = Vec::with_capacity(count);
    for _ in 0..count {
        let flags = r.u8()?;
        if flags & !HAS_ID != 0 {
            return Err(r.malformed());
        }
        let id = if flags & HAS_ID != 0 { Some(r.uuid()?) } else { None };
        let event_type = r.string()?;
        let content_type = r.string()?;
        let data = r.bytes()?.to_vec();
        let metadata = r.bytes()?.to_vec();
        events.push(EventData { id, event_type, data, metadata, content_type });
    }
    r.finish()?;
    Ok(events)
}

// ---- results ------------------------------------------------------------------------------------

/// `u64 first_revision, u64 last_revision, u64 first_position, u64 last_position`.
pub fn append_result(r: &AppendResult) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    for v in [r.first_revision, r.last_revision, r.first_position, r.last_position] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Reads what [`append_result`] writes.
pub fn unpack_append_result(packed: &[u8]) -> Result<AppendResult> {
    let mut r = Reader::new(packed, "a packed append result");
    let result = AppendResult {
        first_revision: r.u64()?,
        last_revision: r.u64()?,
        first_position: r.u64()?,
        last_position: r.u64()?,
    };
    r.finish()?;
    Ok(result)
}

/// A page of events: `u32 count` (patched by [`EventsWriter::finish`]), then the events
/// ([`push_event`]), written straight from the store's pages when read in place.
pub struct EventsWriter {
    out: Vec<u8>,
    count: u32,
}

impl Default for EventsWriter {
    fn default() -> Self {
        EventsWriter { out: vec![0; 4], count: 0 }
    }
}

impl EventsWriter {
    pub fn new() -> EventsWriter {
        EventsWriter::default()
    }

    pub fn push_ref(&mut self, e: &EventRef<'_>) {
        self.count += 1;
        push_event(&mut self.out, e);
    }

    pub fn push(&mut self, e: &RecordedEvent) {
        self.push_ref(&e.as_event_ref());
    }

    /// Events written so far.
    pub fn len(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes written so far.
    pub fn size(&self) -> usize {
        self.out.len()
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out[..4].copy_from_slice(&self.count.to_le_bytes());
        self.out
    }
}

/// A page of owned events.
pub fn events(events: &[RecordedEvent]) -> Vec<u8> {
    let mut w = EventsWriter::new();
    for e in events {
        w.push(e);
    }
    w.finish()
}

/// One read event: `str stream, u64 revision, u64 position, i64 timestamp, [16 id], str type,
/// str content_type, bytes data, bytes metadata, u8 flags (bit 0: shredded), u32 schema_version
/// (0: none)`.
pub fn push_event(out: &mut Vec<u8>, e: &EventRef<'_>) {
    out.reserve(
        64 + e.stream.len() + e.event_type.len() + e.content_type.len() + e.data.len() + e.metadata.len(),
    );
    put_bytes(out, e.stream.as_bytes());
    out.extend_from_slice(&e.revision.to_le_bytes());
    out.extend_from_slice(&e.position.to_le_bytes());
    out.extend_from_slice(&e.timestamp.to_le_bytes());
    out.extend_from_slice(e.id.as_bytes());
    put_bytes(out, e.event_type.as_bytes());
    put_bytes(out, e.content_type.as_bytes());
    put_bytes(out, e.data);
    put_bytes(out, e.metadata);
    out.push(if e.shredded { SHREDDED } else { 0 });
    out.extend_from_slice(&e.schema_version.unwrap_or(0).to_le_bytes());
}

/// Reads a page that [`EventsWriter`] wrote.
pub fn unpack_page(packed: &[u8]) -> Result<Vec<RecordedEvent>> {
    let mut r = Reader::new(packed, "a packed page of events");
    let count = r.u32()? as usize;
    // Each event takes at least 73 bytes.
    if count > packed.len() / 73 {
        return Err(r.malformed());
    }
    let events = (0..count).map(|_| r.event()).collect::<Result<Vec<_>>>()?;
    r.finish()?;
    Ok(events)
}

/// Appends to a page (`u32 count`, then the events) the index of its events: per event five
/// `u32` offsets from the start of the page, of its stream's length (where it starts), its
/// revision, its content type's length, its data's length and its metadata's length. What a
/// decoder in a language where reading a length costs a call (Python) needs to reach any
/// field without walking the event; see docs/boundary.md, "Indexed page". Checks the page as
/// [`unpack_page`] does, without allocating its events.
pub fn index_page(page: &mut Vec<u8>) -> Result<()> {
    let mut r = Reader::new(page, "a packed page of events");
    let count = r.u32()? as usize;
    if count > page.len() / 73 {
        return Err(r.malformed());
    }
    let mut index = Vec::with_capacity(count * 20);
    for _ in 0..count {
        let start = r.at;
        r.skip_bytes()?;
        let revision = r.at;
        r.take(8 + 8 + 8 + 16)?;
        r.skip_bytes()?;
        let content_type = r.at;
        r.skip_bytes()?;
        let data = r.at;
        r.skip_bytes()?;
        let metadata = r.at;
        r.skip_bytes()?;
        if r.u8()? & !SHREDDED != 0 {
            return Err(r.malformed());
        }
        r.u32()?;
        for offset in [start, revision, content_type, data, metadata] {
            let offset = u32::try_from(offset).map_err(|_| r.malformed())?;
            index.extend_from_slice(&offset.to_le_bytes());
        }
    }
    r.finish()?;
    page.extend_from_slice(&index);
    Ok(())
}

/// `str stream, u64 revision, i64 timestamp, bytes data`.
pub fn snapshot(s: &Snapshot) -> Vec<u8> {
    let mut out = Vec::with_capacity(28 + s.stream.len() + s.data.len());
    put_bytes(&mut out, s.stream.as_bytes());
    out.extend_from_slice(&s.revision.to_le_bytes());
    out.extend_from_slice(&s.timestamp.to_le_bytes());
    put_bytes(&mut out, &s.data);
    out
}

/// Reads what [`snapshot`] writes.
pub fn unpack_snapshot(packed: &[u8]) -> Result<Snapshot> {
    let mut r = Reader::new(packed, "a packed snapshot");
    let snapshot =
        Snapshot { stream: r.string()?, revision: r.u64()?, timestamp: r.i64()?, data: r.bytes()?.to_vec() };
    r.finish()?;
    Ok(snapshot)
}

// ---- sessions -----------------------------------------------------------------------------------

/// A subscription message: `u8 tag` ([`CAUGHT_UP`], or [`EVENT`] then the event).
pub fn subscription_message(message: &SubscriptionMessage) -> Vec<u8> {
    match message {
        SubscriptionMessage::CaughtUp => vec![CAUGHT_UP],
        SubscriptionMessage::Event(e) => {
            let mut out = vec![EVENT];
            push_event(&mut out, &e.as_event_ref());
            out
        }
    }
}

/// Reads what [`subscription_message`] writes.
pub fn unpack_subscription_message(packed: &[u8]) -> Result<SubscriptionMessage> {
    let mut r = Reader::new(packed, "a packed subscription message");
    let message = match r.u8()? {
        CAUGHT_UP => SubscriptionMessage::CaughtUp,
        EVENT => SubscriptionMessage::Event(r.event()?),
        _ => return Err(r.malformed()),
    };
    r.finish()?;
    Ok(message)
}

/// A delivery to a group member: `u64 id, u32 attempt, i64 parked_revision (-1: none)`, then
/// the event.
pub fn delivery(d: &StoreDelivery) -> Vec<u8> {
    let mut out = Vec::with_capacity(20 + 64 + d.event.data.len());
    out.extend_from_slice(&d.id.to_le_bytes());
    out.extend_from_slice(&d.attempt.to_le_bytes());
    let parked = d.parked_revision.map_or(-1, |r| i64::try_from(r).unwrap_or(i64::MAX));
    out.extend_from_slice(&parked.to_le_bytes());
    push_event(&mut out, &d.event.as_event_ref());
    out
}

/// Reads what [`delivery`] writes.
pub fn unpack_delivery(packed: &[u8]) -> Result<StoreDelivery> {
    let mut r = Reader::new(packed, "a packed delivery");
    let id = r.u64()?;
    let attempt = r.u32()?;
    let parked_revision = match r.i64()? {
        -1 => None,
        n => Some(u64::try_from(n).map_err(|_| r.malformed())?),
    };
    let event = r.event()?;
    r.finish()?;
    Ok(StoreDelivery { id, event, attempt, parked_revision })
}

// ---- primitives ---------------------------------------------------------------------------------

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Every field is bounded well below 4 GiB by the store's own limits.
    out.extend_from_slice(&u32::try_from(bytes.len()).expect("a field under 4 GiB").to_le_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { bytes, at: 0, what }
    }

    fn malformed(&self) -> Error {
        Error::InvalidArgument(format!("{} are malformed at byte {} (a binding bug)", self.what, self.at))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end =
            self.at.checked_add(n).filter(|&end| end <= self.bytes.len()).ok_or_else(|| self.malformed())?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    /// Steps over a `u32` length and its bytes.
    fn skip_bytes(&mut self) -> Result<()> {
        let n = self.u32()? as usize;
        self.take(n).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let slice = self.take(N)?;
        Ok(slice.try_into().expect("take returns N bytes"))
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn uuid(&mut self) -> Result<Uuid> {
        Ok(Uuid::from_bytes(self.array()?))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn string(&mut self) -> Result<String> {
        let at = self.at;
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| {
            Error::InvalidArgument(format!("{}: the string at byte {at} is not UTF-8", self.what))
        })
    }

    fn event(&mut self) -> Result<RecordedEvent> {
        let stream = self.string()?;
        let revision = self.u64()?;
        let position = self.u64()?;
        let timestamp = self.i64()?;
        let id = self.uuid()?;
        let event_type = self.string()?;
        let content_type = self.string()?;
        let data = self.bytes()?.to_vec();
        let metadata = self.bytes()?.to_vec();
        let flags = self.u8()?;
        if flags & !SHREDDED != 0 {
            return Err(self.malformed());
        }
        let schema_version = Some(self.u32()?).filter(|&v| v != 0);
        Ok(RecordedEvent {
            stream,
            revision,
            position,
            id,
            event_type,
            content_type,
            data,
            metadata,
            timestamp,
            shredded: flags & SHREDDED != 0,
            schema_version,
        })
    }

    fn finish(&self) -> Result<()> {
        if self.at != self.bytes.len() {
            return Err(self.malformed());
        }
        Ok(())
    }
}
