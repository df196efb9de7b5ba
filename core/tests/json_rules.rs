//! The JSON rules of docs/semantics.md ("JSON data") through `Db::append`: data labelled
//! `application/json` that some consumer's parser would refuse is refused at the door, so it can
//! never stall a consumer group (issue 20). The checker's every rule is unit-tested in
//! `core/src/json.rs`; here, what reaches the store and what does not.

use graveyard::schema::{Field, FieldType, Schema};
use graveyard::{
    Db, Durability, Error, ErrorCode, EventData, ExpectedVersion, Filter, GroupSettings, GroupTarget,
    NackAction, Options, ReadOptions, SubscriptionStart, DEFAULT_MAX_JSON_DEPTH,
};

mod common;
use common::open_fast;

fn json(data: impl Into<Vec<u8>>) -> EventData {
    EventData::json_bytes("T", data)
}

/// What the refusal of data nested one level too deep for the default says.
fn too_deep() -> String {
    format!("deeper than {DEFAULT_MAX_JSON_DEPTH} levels")
}

fn nested(depth: usize) -> Vec<u8> {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
}

#[track_caller]
fn refused(result: graveyard::Result<graveyard::AppendResult>, needles: &[&str]) -> Error {
    let err = result.expect_err("must be refused");
    assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
    for needle in needles {
        assert!(err.to_string().contains(needle), "'{err}' does not mention '{needle}'");
    }
    err
}

/// The data of every event of the stream, in order.
fn stored(db: &Db, stream: &str) -> Vec<Vec<u8>> {
    db.read_stream(stream, ReadOptions::forwards()).unwrap().into_iter().map(|e| e.data).collect()
}

/// Each case of issue 20, second in an append after a valid event: the append is refused, the
/// error names the event, what is wrong and where, and nothing of it is written.
#[test]
fn data_that_poisons_consumers_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    db.append("s", ExpectedVersion::NoStream, vec![json(&b"{\"ok\":1}"[..])]).unwrap();
    let too_deep_at = format!("{} at byte {DEFAULT_MAX_JSON_DEPTH}", too_deep());
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        ("invalid UTF-8 in a string", b"\"\xff\xfe\"".to_vec(), vec!["invalid UTF-8 at byte 1"]),
        ("invalid UTF-8 in a member", b"{\"a\":\"\xc3\x28\"}".to_vec(), vec!["invalid UTF-8 at byte 6"]),
        ("a lone high surrogate", br#""\ud800""#.to_vec(), vec!["lone surrogate", "at byte 1"]),
        ("a lone low surrogate", br#""\udc00""#.to_vec(), vec!["lone surrogate", "at byte 1"]),
        ("a high surrogate before a non-surrogate", br#"{"k":"\ud800\u0041"}"#.to_vec(), vec!["at byte 6"]),
        ("a duplicate key", br#"{"a":1,"a":2}"#.to_vec(), vec![r#"duplicate key "a""#, "at byte 7"]),
        (
            "a duplicate key spelt with an escape",
            br#"{"a":1,"\u0061":2}"#.to_vec(),
            vec![r#"duplicate key "a""#],
        ),
        ("nesting 100,000 deep", nested(100_000), vec![&too_deep_at, "max_json_depth"]),
        ("nesting 1,000,000 deep", nested(1_000_000), vec![&too_deep_at]),
    ];
    for (case, data, needles) in cases {
        let events = vec![json(&b"{\"fine\":true}"[..]), json(data)];
        let err = refused(db.append("s", ExpectedVersion::Exact(0), events), &needles);
        assert!(err.to_string().starts_with("invalid argument: event 1: data"), "{case}: {err}");
        assert_eq!(db.head_position().unwrap(), 1, "{case}: nothing written");
        assert_eq!(stored(&db, "s"), vec![b"{\"ok\":1}".to_vec()], "{case}");
    }
    // The refusal is no accident of the first event's presence or of the stream.
    refused(db.append("other", ExpectedVersion::Any, vec![json(&br#"{"a":1,"a":1}"#[..])]), &[]);
    assert_eq!(db.head_position().unwrap(), 1);
}

/// The other side of each rule: what the strictest common parsers read is stored byte for byte.
#[test]
fn valid_json_is_stored_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    let accepted: Vec<Vec<u8>> = vec![
        br#""\ud83d\ude00""#.to_vec(),
        "\"😀 é 中文\"".as_bytes().to_vec(),
        br#"{"a":{"a":1},"b":[{"a":2},{"a":3}]}"#.to_vec(),
        br#"{"a":1,"A":2,"\u0062":3}"#.to_vec(),
        b"1e400".to_vec(),
        b"-0".to_vec(),
        b" [1, 2.5e-3, true, null, \"\\n\"] \n".to_vec(),
        b"".to_vec(),
        nested(DEFAULT_MAX_JSON_DEPTH),
    ];
    let events = accepted.iter().map(|data| json(data.clone())).collect();
    db.append("s", ExpectedVersion::NoStream, events).unwrap();
    assert_eq!(stored(&db, "s"), accepted);
    refused(
        db.append("s", ExpectedVersion::Any, vec![json(nested(DEFAULT_MAX_JSON_DEPTH + 1))]),
        &[&too_deep()],
    );
    // Not labelled JSON: not checked.
    let text = EventData::new("T", b"\"\xff\xfe\"".to_vec(), "text/plain");
    db.append("s", ExpectedVersion::Any, vec![text]).unwrap();
}

#[test]
fn max_json_depth_is_an_option() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options::new(dir.path()).durability(Durability::NoFsyncUnsafe);
    let db = Db::open_with(options.clone().max_json_depth(3)).unwrap();
    db.append("s", ExpectedVersion::Any, vec![json(nested(3)), json(&br#"{"a":{"b":[1]}}"#[..])]).unwrap();
    refused(db.append("s", ExpectedVersion::Any, vec![json(nested(4))]), &["deeper than 3 levels at byte 3"]);
    db.close();
    let db = Db::open_with(options.clone().max_json_depth(2_000_000)).unwrap();
    db.append("s", ExpectedVersion::Any, vec![json(nested(1_000_000))]).unwrap();
    db.close();
    let err = Db::open_with(options.max_json_depth(0)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.to_string().contains("max_json_depth"), "{err}");
}

/// Events whose type has a schema meet the same rules before the schema's fast path, which
/// would otherwise store them as sent (it skips members no field declares, and takes the last
/// of two equal keys). Their depth is bounded by the schema validation's parser too.
#[test]
fn schema_events_meet_the_json_rules_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    db.upsert_schema(
        &Schema::new("S")
            .field(Field::new("n", FieldType::Number))
            .field(Field::new("next", FieldType::reference("S")).nullable()),
    )
    .unwrap();
    let s = |data: Vec<u8>| EventData::json_bytes("S", data);
    let head = db.head_position().unwrap();
    let undeclared = |inner: &[u8]| [&b"{\"n\":1,\"extra\":"[..], inner, b"}"].concat();
    refused(db.append("s", ExpectedVersion::Any, vec![s(undeclared(b"\"\xff\""))]), &["invalid UTF-8"]);
    refused(db.append("s", ExpectedVersion::Any, vec![s(undeclared(br#""\udc00""#))]), &["lone surrogate"]);
    refused(db.append("s", ExpectedVersion::Any, vec![s(br#"{"n":1,"n":2}"#.to_vec())]), &["duplicate key"]);
    refused(
        db.append("s", ExpectedVersion::Any, vec![s(br#"{"n":1,"\u006e":2}"#.to_vec())]),
        &["duplicate key"],
    );
    // Depth: the object itself is level 1, so 126 more levels fit and 127 do not, whether they
    // are undeclared (the fast path would skip them) or declared (its parser would refuse them).
    db.append("s", ExpectedVersion::Any, vec![s(undeclared(&nested(126)))]).unwrap();
    let deep = |levels: usize| {
        format!("{}{{\"n\":0}}{}", r#"{"next":"#.repeat(levels - 1), "}".repeat(levels - 1)).into_bytes()
    };
    db.append("s", ExpectedVersion::Any, vec![s(deep(127))]).unwrap();
    for data in [undeclared(&nested(127)), undeclared(&nested(400)), deep(128)] {
        refused(
            db.append("s", ExpectedVersion::Any, vec![s(data)]),
            &["deeper than 127 levels", "data validated by a schema"],
        );
    }
    // A number beyond f64 in a declared field: grammar-valid, so not "not JSON", but the schema
    // cannot compare it; refused, never a crash.
    refused(
        db.append("s", ExpectedVersion::Any, vec![s(br#"{"n":1e400}"#.to_vec())]),
        &["cannot be read for validation against schema 'S'", "number out of range"],
    );
    assert_eq!(db.head_position().unwrap(), head + 2, "only the two valid appends were written");
}

/// Parked copies repeat data accepted when it was first appended, maybe under other rules:
/// parking must never fail on that data, or the event could be neither processed nor parked.
#[test]
fn parking_data_accepted_under_a_larger_depth_works() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options::new(dir.path()).durability(Durability::NoFsyncUnsafe);
    let db = Db::open_with(options.clone().max_json_depth(1_000)).unwrap();
    db.append("s", ExpectedVersion::Any, vec![json(nested(900))]).unwrap();
    db.close();
    let db = Db::open_with(options).unwrap();
    refused(db.append("s", ExpectedVersion::Any, vec![json(nested(900))]), &[&too_deep()]);
    db.create_group(
        "g",
        GroupTarget::All(Filter::default()),
        SubscriptionStart::Start,
        GroupSettings::default(),
    )
    .unwrap();
    let member = db.join_group("g", "m").unwrap();
    let delivery = member.next_blocking().unwrap();
    member.nack(&delivery, NackAction::Park).unwrap();
    assert_eq!(stored(&db, &graveyard::parked_stream("g")), vec![nested(900)]);
}
