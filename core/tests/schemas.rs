//! Schemas through `Db`: upserts stored as events of `$schema-<name>`, validation on append,
//! the version recorded per event, and everything surviving a reopen. The rules of the schema
//! model itself are unit-tested in `core/src/schema/tests/`; the language-neutral cases are in
//! `conformance/schemas*.json`.

use std::sync::{Arc, Barrier};

use graveyard::schema::{CompatibilityMode, Field, FieldType, Schema, ViolationRule};
use graveyard::{Db, Error, ErrorCode, EventData, ExpectedVersion, ReadAllOptions, ReadOptions};
use serde_json::{json, Value};

mod common;
use common::{block_on, open_fast};

fn user_v1() -> Schema {
    Schema::new("user")
        .field(Field::new("name", FieldType::String).required().min_length(1).max_length(50))
        .field(Field::new("age", FieldType::Integer).min(0.0).max(150.0))
        .field(Field::new("email", FieldType::String).pattern("[^@]+@[^@]+"))
        .field(Field::new("plan", FieldType::Enum(vec!["free".into(), "pro".into()])).default(json!("free")))
}

fn user(data: Value) -> EventData {
    EventData::json("user", &data).unwrap()
}

fn violations(e: Error) -> (String, u32, usize, Vec<(String, ViolationRule)>) {
    match e {
        Error::SchemaViolation { schema, version, event, violations } => {
            (schema, version, event, violations.into_iter().map(|v| (v.path, v.rule)).collect())
        }
        other => panic!("expected SCHEMA_VIOLATION, got {other:?}"),
    }
}

#[test]
fn upsert_stores_versions_as_events_and_identical_upserts_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    let first = db.upsert_schema(&user_v1()).unwrap();
    assert_eq!((first.name.as_str(), first.version, first.changed), ("user", 1, true));
    let head = db.head_position().unwrap();
    let again = db.upsert_schema(&user_v1()).unwrap();
    assert_eq!((again.version, again.changed), (1, false));
    assert_eq!(db.head_position().unwrap(), head, "an identical upsert writes nothing");

    let v2 = user_v1().field(Field::new("nickname", FieldType::String));
    assert_eq!(db.upsert_schema(&v2).unwrap().version, 2);

    let history = db.read_stream("$schema-user", ReadOptions::forwards()).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(Schema::from_json(&history[0].data).unwrap(), user_v1());
    assert_eq!(Schema::from_json(&history[1].data).unwrap(), v2);
    assert_eq!(db.get_schema("user", None).unwrap().version, 2);
    assert_eq!(db.get_schema("user", Some(1)).unwrap().schema, user_v1());
    assert_eq!(db.get_schema("user", Some(3)).unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(db.get_schema("nobody", None).unwrap_err().code(), ErrorCode::NotFound);

    db.upsert_schema(&Schema::new("address").field(Field::new("zip", FieldType::String))).unwrap();
    let listed: Vec<(String, u32)> =
        db.list_schemas().unwrap().into_iter().map(|s| (s.schema.name, s.version)).collect();
    assert_eq!(listed, vec![("address".to_owned(), 1), ("user".to_owned(), 2)]);
}

#[test]
fn schema_streams_are_read_only_for_users() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    db.upsert_schema(&user_v1()).unwrap();
    let ev = || EventData::json("$schema", &json!({"name": "user"})).unwrap();
    assert_eq!(
        db.append("$schema-user", ExpectedVersion::Any, vec![ev()]).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        db.delete_stream("$schema-user", ExpectedVersion::Any).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        db.tombstone_stream("$schema-user", ExpectedVersion::Any).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        db.set_stream_metadata("$schema-user", Default::default()).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(db.read_stream("$schema-user", ReadOptions::forwards()).unwrap().len(), 1);
    // Schema names follow the same rule.
    let err = db.upsert_schema(&Schema::new("$system")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidSchema);
}

#[test]
fn appends_are_validated_against_the_latest_version_and_record_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    // Before a schema exists, anything goes and no version is recorded.
    db.append("u-0", ExpectedVersion::Any, vec![user(json!({"age": "old"}))]).unwrap();
    db.upsert_schema(&user_v1()).unwrap();

    db.append("u-1", ExpectedVersion::NoStream, vec![user(json!({"name": "Ada", "age": 36}))]).unwrap();
    let read = db.read_stream("u-1", ReadOptions::forwards()).unwrap();
    assert_eq!(read[0].schema_version, Some(1));
    // The default was filled in and stored.
    assert_eq!(read[0].json::<Value>().unwrap(), json!({"name": "Ada", "age": 36, "plan": "free"}));
    assert_eq!(db.read_stream("u-0", ReadOptions::forwards()).unwrap()[0].schema_version, None);

    // Data that needs no default is stored byte for byte.
    let exact = br#"{"plan":"pro",   "name":"Bob"}"#.to_vec();
    db.append("u-2", ExpectedVersion::NoStream, vec![EventData::json_bytes("user", exact.clone())]).unwrap();
    assert_eq!(db.read_stream("u-2", ReadOptions::forwards()).unwrap()[0].data, exact);

    let v2 = user_v1().field(Field::new("nickname", FieldType::String).max_length(3));
    db.upsert_schema(&v2).unwrap();
    let err = db
        .append("u-1", ExpectedVersion::Exact(0), vec![user(json!({"name": "Ada", "nickname": "Countess"}))])
        .unwrap_err();
    assert_eq!(violations(err), ("user".into(), 2, 0, vec![("nickname".into(), ViolationRule::MaxLength)]));
    db.append("u-1", ExpectedVersion::Exact(0), vec![user(json!({"name": "Ada", "nickname": "Ada"}))])
        .unwrap();
    assert_eq!(db.read_stream("u-1", ReadOptions::forwards()).unwrap()[1].schema_version, Some(2));
    // Other types are not affected.
    db.append("u-1", ExpectedVersion::Any, vec![EventData::binary("Avatar", vec![0xff, 0])]).unwrap();
}

#[test]
fn a_violation_refuses_the_whole_append_and_names_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    db.upsert_schema(&user_v1()).unwrap();
    let head = db.head_position().unwrap();
    let err = db
        .append(
            "u-1",
            ExpectedVersion::Any,
            vec![
                user(json!({"name": "Ada"})),
                EventData::json("other", &json!(1)).unwrap(),
                user(json!({"name": "", "age": -1, "email": "nope", "plan": "gold"})),
            ],
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SchemaViolation);
    let (schema, version, event, found) = violations(err);
    assert_eq!((schema.as_str(), version, event), ("user", 1, 2));
    assert_eq!(
        found,
        vec![
            ("name".into(), ViolationRule::MinLength),
            ("age".into(), ViolationRule::Min),
            ("email".into(), ViolationRule::Pattern),
            ("plan".into(), ViolationRule::Enum),
        ]
    );
    assert_eq!(db.head_position().unwrap(), head, "nothing of a refused append is written");
    assert_eq!(db.read_stream("u-1", ReadOptions::forwards()).unwrap_err().code(), ErrorCode::NotFound);

    // Data of a schema'd type must be a JSON object labelled JSON; bytes that are not JSON are
    // refused as for any JSON event.
    let err =
        db.append("u-1", ExpectedVersion::Any, vec![EventData::binary("user", b"{}".to_vec())]).unwrap_err();
    assert_eq!(violations(err).3, vec![(String::new(), ViolationRule::ContentType)]);
    let err = db.append("u-1", ExpectedVersion::Any, vec![user(json!([1]))]).unwrap_err();
    assert_eq!(violations(err).3, vec![(String::new(), ViolationRule::NotAnObject)]);
    let err =
        db.append("u-1", ExpectedVersion::Any, vec![EventData::json_bytes("user", Vec::new())]).unwrap_err();
    assert_eq!(violations(err).3, vec![(String::new(), ViolationRule::NotAnObject)]);
    let err = db.append("u-1", ExpectedVersion::Any, vec![EventData::json_bytes("user", b"{nope".to_vec())]);
    assert_eq!(err.unwrap_err().code(), ErrorCode::InvalidArgument);
    // The async path validates the same way.
    let err = block_on(db.append_async("u-1", ExpectedVersion::Any, vec![user(json!({}))]));
    assert_eq!(violations(err.unwrap_err()).3, vec![("name".into(), ViolationRule::Required)]);
    assert_eq!(db.head_position().unwrap(), head);
}

#[test]
fn unknown_fields_are_allowed_unless_the_schema_rejects_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    db.upsert_schema(&Schema::new("open").field(Field::new("a", FieldType::Integer))).unwrap();
    db.upsert_schema(
        &Schema::new("closed").field(Field::new("a", FieldType::Integer)).reject_unknown_fields(),
    )
    .unwrap();
    db.append("s", ExpectedVersion::Any, vec![EventData::json("open", &json!({"a": 1, "b": 2})).unwrap()])
        .unwrap();
    let err = db
        .append("s", ExpectedVersion::Any, vec![EventData::json("closed", &json!({"a": 1, "b": 2})).unwrap()])
        .unwrap_err();
    assert_eq!(violations(err).3, vec![("b".into(), ViolationRule::UnknownField)]);
}

#[test]
fn incompatible_and_invalid_upserts_are_refused_with_every_reason_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    db.upsert_schema(&user_v1()).unwrap();
    let head = db.head_position().unwrap();
    // Backward (the default): a new required field without a default breaks old events.
    let breaking = user_v1().field(Field::new("country", FieldType::String).required());
    match db.upsert_schema(&breaking).unwrap_err() {
        Error::InvalidSchema { schema, problems } => {
            assert_eq!(schema, "user");
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(problems[0].contains("country"), "{problems:?}");
        }
        other => panic!("{other:?}"),
    }
    let invalid = Schema::new("bad")
        .field(Field::new("n", FieldType::Integer).min(5.0).max(1.0))
        .field(Field::new("s", FieldType::String).pattern("("));
    match db.upsert_schema(&invalid).unwrap_err() {
        Error::InvalidSchema { problems, .. } => assert_eq!(problems.len(), 2, "{problems:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(db.head_position().unwrap(), head);
    assert_eq!(db.get_schema("user", None).unwrap().version, 1);
    // With compatibility none, anything valid goes.
    let loose = user_v1().compatibility(CompatibilityMode::None);
    assert_eq!(db.upsert_schema(&loose).unwrap().version, 2);
    assert_eq!(db.upsert_schema(&breaking).unwrap().version, 3);
}

#[test]
fn schemas_and_references_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path()).unwrap();
        db.upsert_schema(
            &Schema::new("address")
                .field(Field::new("zip", FieldType::String).pattern("[0-9]{5}"))
                .compatibility(CompatibilityMode::None),
        )
        .unwrap();
        let customer = Schema::new("customer").field(Field::new(
            "address",
            FieldType::Ref(graveyard::schema::SchemaRef { name: "address".into(), version: None }),
        ));
        db.upsert_schema(&customer).unwrap();
        // A newer address does not change what customer version 1 means: it was pinned.
        db.upsert_schema(
            &Schema::new("address").field(Field::new("zip", FieldType::String).pattern("[0-9]{5}|[A-Z]{2}")),
        )
        .unwrap();
        db.close();
    }
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(db.get_schema("address", None).unwrap().version, 2);
    let customer = db.get_schema("customer", None).unwrap().schema;
    assert_eq!(
        customer.fields[0].field_type,
        FieldType::Ref(graveyard::schema::SchemaRef { name: "address".into(), version: Some(1) })
    );
    let err = db
        .append(
            "c",
            ExpectedVersion::Any,
            vec![EventData::json("customer", &json!({"address": {"zip": "AB"}})).unwrap()],
        )
        .unwrap_err();
    assert_eq!(violations(err).3, vec![("address.zip".into(), ViolationRule::Pattern)]);
    db.append("c", ExpectedVersion::Any, vec![EventData::json("address", &json!({"zip": "AB"})).unwrap()])
        .unwrap();
    // Version 2 keeps the default mode (backward): changing a field's type breaks it.
    let retyped = Schema::new("address").field(Field::new("zip", FieldType::Integer));
    assert_eq!(db.upsert_schema(&retyped).unwrap_err().code(), ErrorCode::InvalidSchema);
    let v3 = db
        .upsert_schema(
            &Schema::new("address")
                .field(Field::new("zip", FieldType::String))
                .compatibility(CompatibilityMode::None),
        )
        .unwrap();
    assert_eq!(v3.version, 3, "versions continue after a reopen");
}

#[test]
fn concurrent_upserts_never_fork_a_schema() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (db, barrier) = (db.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut versions = Vec::new();
                for i in 0..10 {
                    // Every thread adds its own optional field: each is backward compatible.
                    let schema = Schema::new("grow")
                        .compatibility(CompatibilityMode::None)
                        .field(Field::new(format!("f{t}_{i}"), FieldType::Integer));
                    versions.push(db.upsert_schema(&schema).unwrap().version);
                }
                versions
            })
        })
        .collect();
    let mut all: Vec<u32> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort_unstable();
    all.dedup();
    let latest = db.get_schema("grow", None).unwrap().version;
    assert_eq!(all.last(), Some(&latest));
    let history = db.read_stream("$schema-grow", ReadOptions::forwards()).unwrap();
    assert_eq!(history.len() as u32, latest, "one event per version, no fork");
    // Every append of a schema'd type records a version that existed when it was received.
    db.append("g", ExpectedVersion::Any, vec![EventData::json("grow", &json!({})).unwrap()]).unwrap();
    let all = db.read_all(ReadAllOptions::backwards().limit(1)).unwrap();
    assert_eq!(all[0].schema_version, Some(latest));
}
