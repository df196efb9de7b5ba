//! The packed layouts that carry batches across the boundary in one call (mirrored by
//! `sdk-java/src/main/java/io/graveyard/Wire.java`): little-endian integers, strings and byte
//! strings as a u32 length then the bytes, UUIDs as their 16 bytes in RFC 4122 order. Rare
//! structures (stream info, groups, schemas) travel as JSON text instead.

use graveyard::{AppendResult, Error, EventData, EventRef, RecordedEvent, Result, Snapshot, Uuid};

/// Reads the events of an append: `u32 count`, then per event `u8 flags` (bit 0: an id follows),
/// `[16 id]`, `str type`, `str content type`, `bytes data`, `bytes metadata`.
pub fn unpack_events(packed: &[u8]) -> Result<Vec<EventData>> {
    let mut r = Reader { bytes: packed, at: 0 };
    let count = r.u32()? as usize;
    // Each event takes at least 17 bytes: a count larger than that is a damaged buffer.
    if count > packed.len() / 17 + 1 {
        return Err(malformed());
    }
    let mut events = Vec::with_capacity(count);
    for _ in 0..count {
        let flags = r.u8()?;
        let id = if flags & 1 != 0 {
            Some(Uuid::from_bytes(r.take(16)?.try_into().map_err(|_| malformed())?))
        } else {
            None
        };
        let event_type = r.string()?;
        let content_type = r.string()?;
        let data = r.bytes()?.to_vec();
        let metadata = r.bytes()?.to_vec();
        events.push(EventData { id, event_type, data, metadata, content_type });
    }
    if r.at != packed.len() {
        return Err(malformed());
    }
    Ok(events)
}

fn malformed() -> Error {
    Error::InvalidArgument("the packed events of an append are malformed (an SDK bug)".into())
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len()).ok_or_else(malformed)?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| malformed())?))
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::InvalidArgument("a string is not UTF-8".into()))
    }
}

/// `4 x u64`: first revision, last revision, first position, last position.
pub fn append_result(r: &AppendResult) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    for v in [r.first_revision, r.last_revision, r.first_position, r.last_position] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// A page of events: `u32 count` (patched by [`EventsWriter::finish`]) then the events.
pub struct EventsWriter {
    out: Vec<u8>,
    count: u32,
}

impl EventsWriter {
    pub fn new() -> EventsWriter {
        EventsWriter { out: vec![0; 4], count: 0 }
    }

    pub fn push_ref(&mut self, e: &EventRef<'_>) {
        self.count += 1;
        push_event(&mut self.out, e);
    }

    pub fn push(&mut self, e: &RecordedEvent) {
        self.count += 1;
        push_recorded(&mut self.out, e);
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out[..4].copy_from_slice(&self.count.to_le_bytes());
        self.out
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// One event: `str stream, u64 revision, u64 position, i64 timestamp, [16 id], str type,
/// str content type, bytes data, bytes metadata, u8 flags (bit 0 shredded), u32 schema version (0: none)`.
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
    out.push(u8::from(e.shredded));
    out.extend_from_slice(&e.schema_version.unwrap_or(0).to_le_bytes());
}

pub fn push_recorded(out: &mut Vec<u8>, e: &RecordedEvent) {
    push_event(out, &e.as_event_ref());
}

pub fn events(events: &[RecordedEvent]) -> Vec<u8> {
    let mut w = EventsWriter::new();
    for e in events {
        w.push(e);
    }
    w.finish()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_damage_is_refused() {
        let id = Uuid::now_v7();
        let mut packed = 2u32.to_le_bytes().to_vec();
        packed.push(1);
        packed.extend_from_slice(id.as_bytes());
        for field in [&b"Placed"[..], b"application/json", b"{}", b"m"] {
            put_bytes(&mut packed, field);
        }
        packed.push(0);
        for field in [&b"Raw"[..], b"application/octet-stream", b"\x00\x01", b""] {
            put_bytes(&mut packed, field);
        }
        let events = unpack_events(&packed).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            (events[0].id, events[0].event_type.as_str(), events[0].metadata.as_slice()),
            (Some(id), "Placed", &b"m"[..])
        );
        assert_eq!((events[1].id, events[1].data.as_slice()), (None, &[0u8, 1][..]));
        for cut in 0..packed.len() {
            assert!(unpack_events(&packed[..cut]).is_err(), "a buffer cut at {cut} was accepted");
        }
        let mut trailing = packed.clone();
        trailing.push(0);
        assert!(unpack_events(&trailing).is_err());
        assert!(unpack_events(&u32::MAX.to_le_bytes()).is_err());
    }
}
