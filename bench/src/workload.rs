//! What each workload does, and how big it is in a full or a `--quick` run.

use std::time::Duration;

use crate::stores::Peer;

/// Every workload, in the order a run executes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload {
    Append1,
    Append8,
    Append64,
    Append64Tasks,
    Batch100,
    Race64,
    ReadStream,
    ScanAll,
    CatchUp,
    Live,
    SchemaBatch100,
    SchemaAppend64,
    SealedAppend64,
    SealedAppend64Large,
    SealedScanAll,
    SealedScanAllLarge,
}

impl Workload {
    /// The stores a workload runs on, the one the ratio column divides by the others first.
    pub fn peers(self) -> &'static [Peer] {
        match self.kind() {
            Kind::Validated { .. } => &[Peer::GraveyardValidated, Peer::Graveyard],
            Kind::Sealed { .. } | Kind::SealedScan { .. } => &[Peer::GraveyardEncrypted, Peer::Graveyard],
            _ => &Peer::ALL,
        }
    }

    pub const ALL: [Workload; 16] = [
        Workload::Append1,
        Workload::Append8,
        Workload::Append64,
        Workload::Append64Tasks,
        Workload::Batch100,
        Workload::Race64,
        Workload::ReadStream,
        Workload::ScanAll,
        Workload::CatchUp,
        Workload::Live,
        Workload::SchemaBatch100,
        Workload::SchemaAppend64,
        Workload::SealedAppend64,
        Workload::SealedAppend64Large,
        Workload::SealedScanAll,
        Workload::SealedScanAllLarge,
    ];

    /// The name `--only` takes and the tables show.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Append1 => "append-1",
            Workload::Append8 => "append-8",
            Workload::Append64 => "append-64",
            Workload::Append64Tasks => "append-64-tasks",
            Workload::Batch100 => "batch-100",
            Workload::Race64 => "race-64",
            Workload::ReadStream => "read-stream",
            Workload::ScanAll => "scan-all",
            Workload::CatchUp => "catch-up",
            Workload::Live => "live",
            Workload::SchemaBatch100 => "schema-batch-100",
            Workload::SchemaAppend64 => "schema-append-64",
            Workload::SealedAppend64 => "encrypted-append-64",
            Workload::SealedAppend64Large => "encrypted-append-64-4k",
            Workload::SealedScanAll => "encrypted-read-all",
            Workload::SealedScanAllLarge => "encrypted-read-all-4k",
        }
    }

    pub fn parse(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    pub fn kind(self) -> Kind {
        match self {
            Workload::Append1 => Kind::Append { threads: 1, events_per_append: 1 },
            Workload::Append8 => Kind::Append { threads: 8, events_per_append: 1 },
            Workload::Append64 => Kind::Append { threads: 64, events_per_append: 1 },
            Workload::Append64Tasks => Kind::AppendTasks { tasks: 64 },
            Workload::Batch100 => Kind::Append { threads: 8, events_per_append: 100 },
            Workload::Race64 => Kind::Race { threads: 64 },
            Workload::ReadStream => Kind::ReadStream,
            Workload::ScanAll => Kind::ScanAll,
            Workload::CatchUp => Kind::CatchUp,
            Workload::Live => Kind::Live,
            Workload::SchemaBatch100 => Kind::Validated { threads: 8, events_per_append: 100 },
            Workload::SchemaAppend64 => Kind::Validated { threads: 64, events_per_append: 1 },
            Workload::SealedAppend64 => Kind::Sealed { threads: 64, size: Size::Small },
            Workload::SealedAppend64Large => Kind::Sealed { threads: 64, size: Size::Large },
            Workload::SealedScanAll => Kind::SealedScan { size: Size::Small },
            Workload::SealedScanAllLarge => Kind::SealedScan { size: Size::Large },
        }
    }

    /// One line saying what is measured, for the table header.
    pub fn describe(self, scale: &Scale) -> String {
        let secs = scale.write_time.as_secs_f64();
        match self.kind() {
            Kind::Append { threads, events_per_append } => format!(
                "{} per append, {} each on its own stream, expected version checked; {secs:.1} s per \
                 store; latency per append",
                plural(events_per_append as u64, "event"),
                plural(threads as u64, "writer thread"),
            ),
            Kind::Validated { threads, events_per_append } => format!(
                "The cost of schema validation: {} per append of a {}-byte JSON object with 10 fields, {}, \
                 each on its own stream; the same events against a 10-field schema (types, bounds, lengths, \
                 patterns, an enum, a nested object) and with no schema; ratio = validated ÷ unvalidated; \
                 {secs:.1} s per store",
                plural(events_per_append as u64, "event"),
                payload10(0).len(),
                plural(threads as u64, "writer thread"),
            ),
            Kind::Sealed { threads, size } => format!(
                "The cost of encryption at rest on writes: 1 event of {} bytes per append, {}, each on its \
                 own stream, expected version checked, with and without a master key; ratio = encrypted ÷ \
                 plain; {secs:.1} s per store",
                size.payload()(0).len(),
                plural(threads as u64, "writer thread"),
            ),
            Kind::SealedScan { size } => format!(
                "The cost of encryption at rest on reads: read a global log of {} events of {} bytes forward \
                 with `read_all` (owned events, as the server and the bindings read) in pages of {}, repeated, \
                 with and without a master key; ratio = encrypted ÷ plain; latency per page",
                grouped(size.log_events(scale)),
                size.payload()(0).len(),
                grouped(scale.page)
            ),
            Kind::AppendTasks { tasks } => format!(
                "1 event per append, {tasks} async tasks on a 2-thread tokio runtime, each on its own stream, \
                 expected version checked; {secs:.1} s per store; latency per append"
            ),
            Kind::Race { threads } => format!(
                "{threads} threads on ONE stream, each reading the current revision then appending one event \
                 with Exact(revision); events/s counts successful appends only; top thread: share of them \
                 made by the luckiest thread; {secs:.1} s per store; latency per attempt (read + append)"
            ),
            Kind::ReadStream => format!(
                "Read one stream of {} events forward, whole stream per read, repeated; latency per whole read",
                grouped(scale.stream_events)
            ),
            Kind::CatchUp => format!(
                "A subscription to $all from the start delivers a preloaded log of {} events; latency per \
                 page of {} deliveries",
                grouped(scale.stream_events),
                grouped(scale.page)
            ),
            Kind::Live => format!(
                "A live subscription to $all while one writer appends single events (fsync); latency from \
                 issuing the append to the subscriber receiving the event; {secs:.1} s per store"
            ),
            Kind::ScanAll => format!(
                "Scan the global log of {} events forward in pages of {}, repeated; latency per page",
                grouped(scale.log_events),
                grouped(scale.page)
            ),
        }
    }
}

/// `1 event`, `100 events`.
fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", grouped(n))
    }
}

/// `1000000` -> `1,000,000`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The shape of a workload, which decides how it is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Append {
        threads: usize,
        events_per_append: usize,
    },
    /// Appends of [`payload10`] events, with and without a schema: only GraveyardDB, twice.
    Validated {
        threads: usize,
        events_per_append: usize,
    },
    /// Appends of [`Size`] events, with and without a master key: only GraveyardDB, twice.
    Sealed {
        threads: usize,
        size: Size,
    },
    /// Scans of a log of [`Size`] events, with and without a master key.
    SealedScan {
        size: Size,
    },
    /// Async appends from tasks: only stores with an async API take part.
    AppendTasks {
        tasks: usize,
    },
    Race {
        threads: usize,
    },
    ReadStream,
    ScanAll,
    /// A subscription from the start over a preloaded log: delivery throughput.
    CatchUp,
    /// A live subscription behind a durable single-event writer: append-to-delivery latency.
    Live,
}

/// Sizes and times of a run.
#[derive(Debug, Clone)]
pub struct Scale {
    /// How long each write workload runs against each store.
    pub write_time: Duration,
    /// Events in the stream of `read-stream`.
    pub stream_events: u64,
    /// Events in the global log of `scan-all`.
    pub log_events: u64,
    /// Page size of `scan-all`.
    pub page: u64,
    /// Streams the `scan-all` log is spread over (so its records name different streams).
    pub log_streams: u64,
    /// Events per append while preloading read workloads.
    pub preload_batch: u64,
    /// Read workloads repeat until they have run this long ...
    pub read_time: Duration,
    /// ... and at least this many times, so p50/p99 have a few samples.
    pub read_min_reps: u32,
}

impl Scale {
    pub fn full() -> Scale {
        Scale {
            write_time: Duration::from_secs(5),
            stream_events: 100_000,
            log_events: 1_000_000,
            page: 10_000,
            log_streams: 100,
            preload_batch: 1_000,
            read_time: Duration::from_secs(2),
            read_min_reps: 3,
        }
    }

    /// Small enough for CI: the whole run stays well under 30 s on 2 cores.
    pub fn quick() -> Scale {
        Scale {
            write_time: Duration::from_millis(300),
            stream_events: 2_000,
            log_events: 20_000,
            page: 10_000,
            log_streams: 10,
            preload_batch: 1_000,
            read_time: Duration::from_millis(100),
            read_min_reps: 2,
        }
    }
}

/// Event sizes of the encryption workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// [`payload`]: about 100 bytes.
    Small,
    /// [`payload4k`]: 4 KiB.
    Large,
}

impl Size {
    pub fn payload(self) -> fn(u64) -> Vec<u8> {
        match self {
            Size::Small => payload,
            Size::Large => payload4k,
        }
    }

    /// Events in the scanned log: 4 KiB events get a 20th of the log, so both logs stay a few
    /// hundred MB at most.
    pub fn log_events(self, scale: &Scale) -> u64 {
        match self {
            Size::Small => scale.log_events,
            Size::Large => scale.log_events / 20,
        }
    }
}

/// A JSON object of exactly 4,096 bytes, different for every `seq`: [`payload`]'s fields and
/// a string of pseudo-random hex digits.
pub fn payload4k(seq: u64) -> Vec<u8> {
    let head = payload(seq);
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(&head[..head.len() - 1]);
    out.extend_from_slice(br#","blob":""#);
    let mut state = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while out.len() < 4096 - 2 {
        // xorshift: cheap, and no two events share their bytes.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push(b"0123456789abcdef"[(state & 15) as usize]);
    }
    out.extend_from_slice(b"\"}");
    out
}

/// The event type of every benchmark event.
pub const EVENT_TYPE: &str = "Bench";

/// A JSON object of about 100 bytes, different for every `seq` so no store can dedupe or
/// compress runs of identical values. Fixed-width numbers keep the size constant.
pub fn payload(seq: u64) -> Vec<u8> {
    format!(
        r#"{{"order_id":"ord-{seq:012}","customer":"cust-{:06}","amount_cents":{},"currency":"EUR","items":{}}}"#,
        seq % 1_000_000,
        // JSON numbers cannot have leading zeros: keep 8 digits by starting at 10,000,000.
        10_000_000 + seq.wrapping_mul(7919) % 90_000_000,
        1 + seq % 9
    )
    .into_bytes()
}

/// A JSON object with 10 fields, for the schema workloads; different for every `seq`.
pub fn payload10(seq: u64) -> Vec<u8> {
    format!(
        r#"{{"order_id":"ord-{seq:012}","customer":"cust-{:06}","email":"c{:06}@example.com","amount_cents":{},"currency":"EUR","items":{},"express":{},"status":"{}","address":{{"zip":"{:05}","city":"Lyon"}},"tags":["web","promo"]}}"#,
        seq % 1_000_000,
        seq % 1_000_000,
        10_000_000 + seq.wrapping_mul(7919) % 90_000_000,
        1 + seq % 9,
        seq.is_multiple_of(2),
        ["placed", "paid", "shipped"][(seq % 3) as usize],
        seq % 100_000,
    )
    .into_bytes()
}

/// The schema every [`payload10`] event satisfies: one rule of each kind a user would write.
pub fn schema10() -> graveyard::schema::Schema {
    use graveyard::schema::{Field, FieldType, Schema};
    Schema::new(EVENT_TYPE)
        .field(Field::new("order_id", FieldType::String).required().pattern("ord-[0-9]{12,}"))
        .field(Field::new("customer", FieldType::String).required().min_length(1).max_length(64))
        .field(Field::new("email", FieldType::String).pattern("[^@ ]+@[^@ ]+"))
        .field(Field::new("amount_cents", FieldType::Integer).required().min(0.0).max(1e12))
        .field(Field::new("currency", FieldType::String).min_length(3).max_length(3))
        .field(Field::new("items", FieldType::Integer).min(1.0).max(1000.0))
        .field(Field::new("express", FieldType::Boolean))
        .field(Field::new("status", FieldType::enumeration(["placed", "paid", "shipped"])).required())
        .field(Field::new(
            "address",
            FieldType::object(vec![
                Field::new("zip", FieldType::String).required().pattern("[0-9]{5}"),
                Field::new("city", FieldType::String).max_length(100),
            ]),
        ))
        .field(Field::new("tags", FieldType::array(FieldType::String)).max_length(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_json_of_about_100_bytes() {
        for seq in [0, 1, 99, 123_456_789, 63 << 40 | 12_345] {
            let p = payload(seq);
            assert!((95..=110).contains(&p.len()), "{} bytes", p.len());
            let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
            assert!(v.is_object());
        }
    }

    #[test]
    fn payload10_satisfies_schema10() {
        let schema = graveyard::schema::CompiledSchema::compile_standalone(&schema10(), 1).unwrap();
        for seq in [0, 1, 2, 99, 123_456_789, 63 << 40 | 12_345] {
            let mut value: serde_json::Value = serde_json::from_slice(&payload10(seq)).unwrap();
            assert_eq!(value.as_object().map(|o| o.len()), Some(10));
            let outcome = schema.validate(&mut value).unwrap();
            assert_eq!(outcome.defaults_filled, 0);
        }
    }

    #[test]
    fn names_round_trip() {
        for w in Workload::ALL {
            assert_eq!(Workload::parse(w.name()), Some(w));
        }
        assert_eq!(Workload::parse("nope"), None);
    }
}
