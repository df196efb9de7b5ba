//! The boundary's golden vectors (`conformance/boundary_vectors.json`): the packed layouts, the
//! numeric codes and the JSON forms of docs/boundary.md, byte for byte. Every SDK's tests read
//! the same file, so every binding encodes and decodes the same bytes. The Rust side is the
//! reference: `GRAVEYARD_UPDATE_VECTORS=1 cargo test -p graveyard --features boundary --test
//! boundary` rewrites the file after a deliberate change of the layout (which is a change of
//! every SDK).

use std::time::Duration;

use graveyard::boundary::{codes, from_json, packed, to_json};
use graveyard::schema::Violation;
use graveyard::{
    AppendResult, CurrentRevision, Direction, Durability, Error, ErrorCode, EventData, ExpectedVersion,
    Filter, GroupSettings, GroupStrategy, GroupTarget, NackAction, RecordedEvent, Snapshot, StoreDelivery,
    StreamInfo, StreamMetadata, SubscriptionMessage, SubscriptionStart, Uuid,
};
use serde_json::{json, Value};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/boundary_vectors.json");

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn event_json(e: &RecordedEvent) -> Value {
    json!({
        "stream": e.stream, "revision": e.revision, "position": e.position, "timestamp": e.timestamp,
        "id": e.id.to_string(), "type": e.event_type, "content_type": e.content_type,
        "data_hex": hex(&e.data), "metadata_hex": hex(&e.metadata), "shredded": e.shredded,
        "schema_version": e.schema_version,
    })
}

fn recorded(stream: &str, revision: u64, position: u64, id: &str, shredded: bool) -> RecordedEvent {
    RecordedEvent {
        stream: stream.into(),
        revision,
        position,
        id: Uuid::parse_str(id).unwrap(),
        event_type: "OrderPlaced".into(),
        content_type: "application/json".into(),
        data: if shredded { Vec::new() } else { br#"{"qty":2}"#.to_vec() },
        metadata: if shredded { Vec::new() } else { b"m".to_vec() },
        timestamp: 1_733_300_000_000_000,
        shredded,
        schema_version: if shredded { None } else { Some(3) },
    }
}

/// The vectors, as the reference implementation makes them.
fn vectors() -> Value {
    let id = "0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7d";
    let to_append = vec![
        EventData::json_bytes("OrderPlaced", br#"{"qty":2}"#.to_vec())
            .with_id(Uuid::parse_str(id).unwrap())
            .with_metadata(b"m".to_vec()),
        EventData::binary("Raw", vec![0, 1, 255]),
    ];
    let page = vec![
        recorded("order-1", 0, 7, id, false),
        recorded("order-1", 1, 9, "0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7e", true),
    ];
    let result =
        AppendResult { first_revision: 4, last_revision: 5, first_position: 100, last_position: 101 };
    let snapshot =
        Snapshot { stream: "order-1".into(), revision: 12, data: b"state".to_vec(), timestamp: -1 };
    let delivery =
        StoreDelivery { id: (1 << 63) | 2, event: page[0].clone(), attempt: 3, parked_revision: Some(2) };
    let settings = GroupSettings {
        max_retries: 5,
        ack_timeout: Duration::from_millis(1500),
        max_in_flight: 64,
        strategy: GroupStrategy::PinnedByStream,
    };
    let info = StreamInfo {
        current: CurrentRevision::Revision(5),
        next_revision: 6,
        deleted: false,
        shredded: false,
        metadata: StreamMetadata {
            max_count: Some(10),
            max_age: Some(Duration::from_millis(60_000)),
            truncate_before: None,
        },
    };
    let violation = Violation {
        path: "qty".into(),
        rule: graveyard::schema::ViolationRule::Min,
        value: json!(0),
        message: "below 1".into(),
    };
    let expected_versions: Vec<Value> = [
        ExpectedVersion::Any,
        ExpectedVersion::NoStream,
        ExpectedVersion::StreamExists,
        ExpectedVersion::Exact(3),
    ]
    .iter()
    .map(to_json_value)
    .collect();
    let current_revisions: Vec<Value> =
        [CurrentRevision::NoStream, CurrentRevision::Revision(0)].iter().map(to_json_value).collect();
    let targets: Vec<Value> =
        [GroupTarget::Stream("order-1".into()), GroupTarget::All(Filter::event_type("OrderPlaced"))]
            .iter()
            .map(to_json_value)
            .collect();
    let starts: Vec<Value> = [SubscriptionStart::Start, SubscriptionStart::End, SubscriptionStart::After(41)]
        .iter()
        .map(to_json_value)
        .collect();
    let errors: Value = ErrorCode::ALL
        .into_iter()
        .map(|c| (c.as_str().to_owned(), json!(codes::error_code(c))))
        .collect::<serde_json::Map<_, _>>()
        .into();
    json!({
        "about": "Golden vectors of docs/boundary.md. Byte strings are hex; packed is the whole buffer.",
        "append_events": {
            "events": to_append.iter().map(|e| json!({
                "id": e.id.map(|i| i.to_string()), "type": e.event_type, "content_type": e.content_type,
                "data_hex": hex(&e.data), "metadata_hex": hex(&e.metadata),
            })).collect::<Vec<_>>(),
            "packed": hex(&packed::pack_events(&to_append)),
        },
        "append_result": { "result": to_json_value(&result), "packed": hex(&packed::append_result(&result)) },
        "page": { "events": page.iter().map(event_json).collect::<Vec<_>>(), "packed": hex(&packed::events(&page)) },
        "empty_page": { "events": [], "packed": hex(&packed::events(&[])) },
        "snapshot": {
            "stream": snapshot.stream, "revision": snapshot.revision, "timestamp": snapshot.timestamp,
            "data_hex": hex(&snapshot.data), "packed": hex(&packed::snapshot(&snapshot)),
        },
        "caught_up": { "packed": hex(&packed::subscription_message(&SubscriptionMessage::CaughtUp)) },
        "subscription_event": {
            "event": event_json(&page[0]),
            "packed": hex(&packed::subscription_message(&SubscriptionMessage::Event(page[0].clone()))),
        },
        "delivery": {
            "id": delivery.id.to_string(), "attempt": delivery.attempt, "parked_revision": delivery.parked_revision,
            "event": event_json(&delivery.event), "packed": hex(&packed::delivery(&delivery)),
        },
        "codes": {
            "error": errors,
            "expected_version": { "any": 0, "no_stream": 1, "stream_exists": 2, "exact": 3 },
            "direction": { "forwards": codes::direction_code(Direction::Forwards), "backwards": codes::direction_code(Direction::Backwards) },
            "subscription_start": { "start": 0, "end": 1, "after": 2 },
            "nack_action": {
                "retry": codes::nack_action_code(NackAction::Retry), "park": codes::nack_action_code(NackAction::Park),
                "skip": codes::nack_action_code(NackAction::Skip),
            },
            "group_strategy": {
                "round_robin": codes::group_strategy_code(GroupStrategy::RoundRobin),
                "pinned_by_stream": codes::group_strategy_code(GroupStrategy::PinnedByStream),
            },
            "durability": {
                "fsync": codes::durability_code(Durability::Fsync),
                "no_fsync_unsafe": codes::durability_code(Durability::NoFsyncUnsafe),
            },
        },
        "json": {
            "expected_version": expected_versions,
            "current_revision": current_revisions,
            "stream_info": to_json_value(&info),
            "filter": to_json_value(&Filter::stream_prefix("order-").or_event_type("OrderPlaced")),
            "group_target": targets,
            "group_settings": to_json_value(&settings),
            "subscription_start": starts,
            "error_details": {
                "WRONG_EXPECTED_VERSION": Error::WrongExpectedVersion { stream: "s".into(), expected: ExpectedVersion::Exact(1), actual: CurrentRevision::NoStream }.details(),
                "STREAM_DELETED": Error::StreamDeleted { stream: "s".into() }.details(),
                "SCHEMA_VIOLATION": Error::SchemaViolation { schema: "order".into(), version: 2, event: 1, violations: vec![violation] }.details(),
                "INVALID_SCHEMA": Error::InvalidSchema { schema: "order".into(), problems: vec!["no fields".into()] }.details(),
            },
        },
    })
}

fn to_json_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::from_str(&to_json(value)).unwrap()
}

#[test]
fn the_reference_makes_the_committed_vectors() {
    let made = vectors();
    if std::env::var_os("GRAVEYARD_UPDATE_VECTORS").is_some() {
        std::fs::write(VECTORS, serde_json::to_string_pretty(&made).unwrap() + "\n").unwrap();
    }
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(VECTORS).unwrap()).unwrap();
    assert_eq!(made, committed, "the boundary changed: every SDK must change with it (see the file's test)");
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn every_vector_decodes_back_and_every_damage_is_refused() {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(VECTORS).unwrap()).unwrap();
    let bytes = |key: &str| unhex(v[key]["packed"].as_str().unwrap());
    let events = packed::unpack_events(&bytes("append_events")).unwrap();
    assert_eq!(packed::pack_events(&events), bytes("append_events"));
    let page = packed::unpack_page(&bytes("page")).unwrap();
    assert_eq!((page.len(), page[1].shredded, page[0].schema_version), (2, true, Some(3)));
    assert_eq!(packed::events(&page), bytes("page"));
    assert!(packed::unpack_page(&bytes("empty_page")).unwrap().is_empty());
    assert_eq!(
        packed::append_result(&packed::unpack_append_result(&bytes("append_result")).unwrap()),
        bytes("append_result")
    );
    assert_eq!(packed::snapshot(&packed::unpack_snapshot(&bytes("snapshot")).unwrap()), bytes("snapshot"));
    let delivery = packed::unpack_delivery(&bytes("delivery")).unwrap();
    assert_eq!((delivery.attempt, delivery.parked_revision), (3, Some(2)));
    assert_eq!(packed::delivery(&delivery), bytes("delivery"));
    for key in ["caught_up", "subscription_event"] {
        let message = packed::unpack_subscription_message(&bytes(key)).unwrap();
        assert_eq!(packed::subscription_message(&message), bytes(key));
    }

    // Every cut, and a trailing byte, of every buffer is refused: never a read out of bounds.
    type Decode = fn(&[u8]) -> graveyard::Result<()>;
    let decoders: [(&str, Decode); 6] = [
        ("append_events", |b| packed::unpack_events(b).map(drop)),
        ("page", |b| packed::unpack_page(b).map(drop)),
        ("append_result", |b| packed::unpack_append_result(b).map(drop)),
        ("snapshot", |b| packed::unpack_snapshot(b).map(drop)),
        ("delivery", |b| packed::unpack_delivery(b).map(drop)),
        ("subscription_event", |b| packed::unpack_subscription_message(b).map(drop)),
    ];
    for (key, decode) in decoders {
        let whole = bytes(key);
        for cut in 0..whole.len() {
            let error = decode(&whole[..cut]).expect_err(&format!("{key} cut at {cut} was accepted"));
            assert_eq!(error.code(), ErrorCode::InvalidArgument);
        }
        let mut longer = whole.clone();
        longer.push(0);
        assert!(decode(&longer).is_err(), "{key} with a trailing byte was accepted");
    }
    // The index of a page points at each event's fields; a damaged page is not indexed.
    let mut indexed = bytes("page");
    packed::index_page(&mut indexed).unwrap();
    let whole = bytes("page");
    assert_eq!(&indexed[..whole.len()], &whole[..]);
    let index = &indexed[whole.len()..];
    assert_eq!(index.len(), page.len() * 20);
    let u32_at = |at: usize| u32::from_le_bytes(indexed[at..at + 4].try_into().unwrap()) as usize;
    for (i, e) in page.iter().enumerate() {
        let [start, revision, content_type, data, metadata] =
            [0, 1, 2, 3, 4].map(|k| u32_at(whole.len() + i * 20 + k * 4));
        assert_eq!(u32_at(start), e.stream.len());
        assert_eq!(&indexed[start + 4..revision], e.stream.as_bytes());
        assert_eq!(u64::from_le_bytes(indexed[revision..revision + 8].try_into().unwrap()), e.revision);
        assert_eq!(&indexed[revision + 44..content_type], e.event_type.as_bytes());
        assert_eq!(&indexed[content_type + 4..data], e.content_type.as_bytes());
        assert_eq!(&indexed[data + 4..metadata], &e.data[..]);
        assert_eq!(&indexed[metadata + 4..metadata + 4 + u32_at(metadata)], &e.metadata[..]);
    }
    let mut empty = bytes("empty_page");
    packed::index_page(&mut empty).unwrap();
    assert_eq!(empty, bytes("empty_page"));
    for cut in 0..whole.len() {
        assert!(packed::index_page(&mut whole[..cut].to_vec()).is_err(), "page cut at {cut} was indexed");
    }
    let mut longer = whole.clone();
    longer.push(0);
    assert!(packed::index_page(&mut longer).is_err());
    // A count far beyond the buffer is refused before anything is allocated for it.
    assert!(packed::unpack_events(&u32::MAX.to_le_bytes()).is_err());
    assert!(packed::unpack_page(&u32::MAX.to_le_bytes()).is_err());
    // Unknown flag bits and a string that is not UTF-8.
    let mut flags = bytes("append_events");
    flags[4] = 0x80;
    assert!(packed::unpack_events(&flags).is_err());
    let bad_utf8 = [&1u32.to_le_bytes()[..], &[0], &1u32.to_le_bytes(), &[0xff], &[0; 12]].concat();
    assert_eq!(packed::unpack_events(&bad_utf8).unwrap_err().code(), ErrorCode::InvalidArgument);
}

#[test]
fn json_forms_refuse_unknown_fields_values_and_types_never_defaulting() {
    let settings: GroupSettings = from_json("settings", r#"{"max_retries": 2}"#).unwrap();
    assert_eq!(
        settings,
        GroupSettings { max_retries: 2, ..GroupSettings::default() },
        "absent fields take the defaults"
    );
    for bad in [
        r#"{"strategy": "fastest"}"#,
        r#"{"ack_timeout_micros": 5}"#,
        r#"{"max_retries": "2"}"#,
        r#"{"max_retries": -1}"#,
        r#"[]"#,
        r#"{"max_in_flight": 1"#,
    ] {
        let error = from_json::<GroupSettings>("group settings", bad).unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidArgument, "{bad}");
    }
    for bad in [r#"{"max_count": "3"}"#, r#"{"max_age_micros": 3}"#, r#"{"max_age_ms": -3}"#] {
        assert!(from_json::<StreamMetadata>("metadata", bad).is_err(), "{bad}");
    }
    let metadata: StreamMetadata =
        from_json("metadata", r#"{"max_age_ms": 1500, "truncate_before": null}"#).unwrap();
    assert_eq!(metadata, StreamMetadata { max_age: Some(Duration::from_millis(1500)), ..Default::default() });
    for bad in [r#""exactly""#, r#"{"exact": -1}"#, r#"{"after": 1}"#] {
        assert!(from_json::<ExpectedVersion>("expected", bad).is_err(), "{bad}");
    }
    assert!(from_json::<CurrentRevision>("current", r#""none""#).is_err());
    assert!(from_json::<GroupTarget>("target", r#"{"streams": "s"}"#).is_err());
    assert!(from_json::<Filter>("filter", r#"{"prefixes": ["a"]}"#).is_err());
}
