//! The wire conversions: every error rebuilt exactly, every model type both ways.

use std::time::Duration;

use graveyard::schema::{CompatibilityMode, Field, FieldType, ObjectType, Schema, Violation, ViolationRule};
use graveyard::wire;
use graveyard::wire::v1 as pb;
use graveyard::{
    CurrentRevision, Error, ErrorCode, ExpectedVersion, GroupSettings, GroupStrategy, GroupTarget,
    NackAction, StreamMetadata, SubscriptionStart,
};
use tonic::Code;

fn every_error() -> Vec<Error> {
    vec![
        Error::WrongExpectedVersion {
            stream: "s".into(),
            expected: ExpectedVersion::Exact(4),
            actual: CurrentRevision::Revision(7),
        },
        Error::WrongExpectedVersion {
            stream: "t".into(),
            expected: ExpectedVersion::StreamExists,
            actual: CurrentRevision::NoStream,
        },
        Error::StreamDeleted { stream: "gone".into() },
        Error::SchemaViolation {
            schema: "Order".into(),
            version: 3,
            event: 2,
            violations: vec![
                Violation {
                    path: "items[2].qty".into(),
                    rule: ViolationRule::Min,
                    value: serde_json::json!(-1),
                    message: "must be at least 0".into(),
                },
                Violation {
                    path: String::new(),
                    rule: ViolationRule::NotAnObject,
                    value: serde_json::json!([1, "two", null]),
                    message: "must be a JSON object".into(),
                },
            ],
        },
        Error::InvalidSchema { schema: "Order".into(), problems: vec!["a".into(), "b".into()] },
        Error::InvalidArgument("bad".into()),
        Error::NotFound("nothing".into()),
        Error::Encryption("wrong key".into()),
        Error::Unauthenticated("no token".into()),
        Error::PermissionDenied("not yours".into()),
        Error::Unavailable("later".into()),
        Error::Closed,
        Error::Corruption("bits".into()),
        Error::IncompatibleFormat("v9".into()),
        Error::Io("disk".into()),
        Error::Internal("bug".into()),
        Error::Unsupported("not here".into()),
    ]
}

#[test]
fn every_error_is_rebuilt_exactly_from_its_status() {
    for error in every_error() {
        let status = wire::error_to_status(&error);
        assert_eq!(status.code(), wire::grpc_code(error.code()));
        assert_eq!(status.message(), error.to_string());
        let detail = wire::status_detail(&status).expect("a detail");
        assert_eq!(detail.code, error.code().as_str());
        let rebuilt = wire::status_to_error(&status);
        assert_eq!(format!("{rebuilt:?}"), format!("{error:?}"));
    }
}

#[test]
fn a_status_as_a_message_keeps_its_own_code_and_message_and_comes_back_typed() {
    for error in every_error() {
        let status = wire::error_to_status(&error);
        let rebuilt = wire::status_from_message(&wire::status_to_message(&status));
        assert_eq!((rebuilt.code(), rebuilt.message()), (status.code(), status.message()));
        assert_eq!(format!("{:?}", wire::status_to_error(&rebuilt)), format!("{error:?}"));
    }
    // A status whose envelope disagrees with it (a relay rewrote the code): the status's own
    // code and message win, the details are kept.
    let inner = wire::error_to_status(&Error::NotFound("x".into()));
    let relayed = tonic::Status::with_details(Code::Unavailable, "relayed", inner.details().to_vec().into());
    let message = wire::status_to_message(&relayed);
    assert_eq!((message.code, message.message.as_str()), (Code::Unavailable as i32, "relayed"));
    assert_eq!(wire::status_detail(&wire::status_from_message(&message)).unwrap().code, "NOT_FOUND");
    // No details at all.
    let bare = wire::status_to_message(&tonic::Status::aborted("gone"));
    assert_eq!((bare.code, bare.message.as_str(), bare.details.len()), (Code::Aborted as i32, "gone", 0));
}

#[test]
fn the_details_are_a_standard_google_rpc_status() {
    use prost::Message;
    let status = wire::error_to_status(&Error::NotFound("x".into()));
    let envelope = graveyard::wire::google::rpc::Status::decode(status.details()).unwrap();
    assert_eq!(envelope.code, Code::NotFound as i32);
    assert_eq!(envelope.details.len(), 1);
    assert_eq!(envelope.details[0].type_url, wire::ERROR_DETAIL_TYPE_URL);
    let detail = pb::ErrorDetail::decode(envelope.details[0].value.as_slice()).unwrap();
    assert_eq!((detail.code.as_str(), detail.message.as_str()), ("NOT_FOUND", "x"));
}

#[test]
fn grpc_codes_follow_the_table() {
    let table = [
        (ErrorCode::WrongExpectedVersion, Code::FailedPrecondition),
        (ErrorCode::StreamDeleted, Code::FailedPrecondition),
        (ErrorCode::SchemaViolation, Code::InvalidArgument),
        (ErrorCode::InvalidSchema, Code::InvalidArgument),
        (ErrorCode::InvalidArgument, Code::InvalidArgument),
        (ErrorCode::NotFound, Code::NotFound),
        (ErrorCode::Encryption, Code::DataLoss),
        (ErrorCode::Unauthenticated, Code::Unauthenticated),
        (ErrorCode::PermissionDenied, Code::PermissionDenied),
        (ErrorCode::Unavailable, Code::Unavailable),
        (ErrorCode::Closed, Code::Unavailable),
        (ErrorCode::Corruption, Code::DataLoss),
        (ErrorCode::IncompatibleFormat, Code::FailedPrecondition),
        (ErrorCode::Io, Code::Internal),
        (ErrorCode::Internal, Code::Internal),
        (ErrorCode::Unsupported, Code::Unimplemented),
    ];
    assert_eq!(table.len(), ErrorCode::ALL.len());
    for (code, grpc) in table {
        assert_eq!(wire::grpc_code(code), grpc, "{code}");
    }
}

#[test]
fn every_code_has_a_core_variant_and_comes_back_typed() {
    // Every code of the core (ALL is exhaustive) survives the wire as itself.
    assert_eq!(
        every_error().iter().map(Error::code).collect::<std::collections::HashSet<_>>().len(),
        ErrorCode::ALL.len()
    );
    let status = wire::code_status(ErrorCode::Unauthenticated, "no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(wire::status_detail(&status).unwrap().code, "UNAUTHENTICATED");
    let error = wire::status_to_error(&status);
    assert_eq!(error.code(), ErrorCode::Unauthenticated);
    assert!(error.to_string().contains("no token"), "{error}");
}

#[test]
fn statuses_without_a_detail_are_mapped_by_their_grpc_code() {
    let cases = [
        (Code::Unavailable, ErrorCode::Unavailable),
        (Code::DeadlineExceeded, ErrorCode::Unavailable),
        (Code::ResourceExhausted, ErrorCode::InvalidArgument),
        (Code::NotFound, ErrorCode::NotFound),
        (Code::DataLoss, ErrorCode::Corruption),
        (Code::Unauthenticated, ErrorCode::Unauthenticated),
        (Code::PermissionDenied, ErrorCode::PermissionDenied),
        (Code::Unimplemented, ErrorCode::Internal),
    ];
    for (grpc, code) in cases {
        let error = wire::status_to_error(&tonic::Status::new(grpc, "text"));
        assert_eq!(error.code(), code, "{grpc:?}");
        assert!(error.to_string().contains("text"));
    }
}

#[test]
fn events_from_the_wire() {
    let id = graveyard::Uuid::new_v4();
    let events = wire::events_from_wire(vec![
        pb::EventData { id: id.as_bytes().to_vec(), r#type: "A".into(), ..Default::default() },
        pb::EventData { r#type: "B".into(), content_type: Some("text/plain".into()), ..Default::default() },
    ])
    .unwrap();
    assert_eq!(events[0].id, Some(id));
    assert_eq!(events[0].content_type, graveyard::CONTENT_TYPE_JSON);
    assert_eq!((events[1].id, events[1].content_type.as_str()), (None, "text/plain"));
    let back = pb::EventData::from(events[0].clone());
    assert_eq!(back.id, id.as_bytes().to_vec());

    let bad = pb::EventData { id: vec![1; 17], ..Default::default() };
    let error = wire::events_from_wire(vec![pb::EventData::default(), bad]).unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidArgument);
    assert!(error.to_string().contains("event 1: id is 17 bytes"), "{error}");
}

#[test]
fn model_types_both_ways() {
    for expected in [
        ExpectedVersion::Any,
        ExpectedVersion::NoStream,
        ExpectedVersion::StreamExists,
        ExpectedVersion::Exact(0),
        ExpectedVersion::Exact(u64::MAX),
    ] {
        assert_eq!(ExpectedVersion::try_from(pb::ExpectedVersion::from(expected)).unwrap(), expected);
    }
    assert_eq!(wire::expected_from_wire(None).unwrap(), ExpectedVersion::Any);
    for start in [SubscriptionStart::Start, SubscriptionStart::End, SubscriptionStart::After(9)] {
        assert_eq!(wire::start_from_wire(Some(start.into())).unwrap(), start);
    }
    assert_eq!(wire::start_from_wire(None).unwrap(), SubscriptionStart::Start);
    for current in [CurrentRevision::NoStream, CurrentRevision::Revision(0), CurrentRevision::Revision(5)] {
        assert_eq!(CurrentRevision::from(pb::CurrentRevision::from(current)), current);
    }
    let metadata = StreamMetadata {
        max_count: Some(3),
        max_age: Some(Duration::from_millis(1_500)),
        truncate_before: Some(2),
    };
    assert_eq!(StreamMetadata::from(pb::StreamMetadata::from(metadata)), metadata);
    // Durations cross in whole milliseconds, rounded up: an age never shrinks on the way.
    let finer = StreamMetadata { max_age: Some(Duration::from_micros(1_500_001)), ..metadata };
    assert_eq!(
        StreamMetadata::from(pb::StreamMetadata::from(finer)).max_age,
        Some(Duration::from_millis(1_501))
    );
    for target in [GroupTarget::Stream("s".into()), GroupTarget::All(graveyard::Filter::stream_prefix("a-"))]
    {
        assert_eq!(wire::group_target_from_wire(Some(target.clone().into())).unwrap(), target);
    }
    let settings = GroupSettings {
        max_retries: 0,
        ack_timeout: Duration::from_millis(2500),
        max_in_flight: 7,
        strategy: GroupStrategy::PinnedByStream,
    };
    assert_eq!(wire::group_settings_from_wire(Some(settings.clone().into())).unwrap(), settings);
    assert_eq!(wire::group_settings_from_wire(None).unwrap(), GroupSettings::default());
    let sub_millisecond =
        GroupSettings { ack_timeout: Duration::from_micros(10), ..GroupSettings::default() };
    assert_eq!(pb::GroupSettings::from(sub_millisecond).ack_timeout_ms, Some(1), "rounded up, never to zero");
    for action in [NackAction::Retry, NackAction::Park, NackAction::Skip] {
        assert_eq!(wire::nack_action_from_wire(wire::nack_action_to_wire(action)).unwrap(), action);
    }
    assert!(wire::nack_action_from_wire(0).is_err());
}

fn every_kind_of_schema() -> Schema {
    Schema::new("Order")
        .description("an order")
        .field(
            Field::new("id", FieldType::String)
                .required()
                .pattern("[A-Z]{3}-[0-9]+")
                .min_length(5)
                .max_length(20),
        )
        .field(Field::new("total", FieldType::Number).min(0.0).max(1e9).description("in cents"))
        .field(Field::new("count", FieldType::Integer).nullable().default(serde_json::json!(1)))
        .field(Field::new("paid", FieldType::Boolean))
        .field(Field::new("state", FieldType::enumeration(["open", "closed"])))
        .field(Field::new("tags", FieldType::array(FieldType::String)).max_length(10))
        .field(Field::new(
            "address",
            FieldType::Object(
                ObjectType::new(vec![Field::new("zip", FieldType::String).required()])
                    .reject_unknown_fields(),
            ),
        ))
        .field(Field::new("customer", FieldType::reference_version("Customer", 2)))
        .field(Field::new("parent", FieldType::reference("Order")))
        .field(Field::new("matrix", FieldType::array(FieldType::array(FieldType::Integer))))
        .field(
            Field::new("meta", FieldType::object(vec![])).default(serde_json::json!({"a": [1, "x", null]})),
        )
        .reject_unknown_fields()
        .compatibility(CompatibilityMode::Full)
}

#[test]
fn schemas_both_ways() {
    let schema = every_kind_of_schema();
    let wire_form = pb::Schema::from(&schema);
    assert_eq!(wire::schema_from_wire(wire_form).unwrap(), schema);
    for mode in [CompatibilityMode::None, CompatibilityMode::Backward, CompatibilityMode::Forward] {
        let schema = Schema::new("S").compatibility(mode);
        assert_eq!(wire::schema_from_wire(pb::Schema::from(&schema)).unwrap(), schema);
    }
    let registered = graveyard::schema::RegisteredSchema { version: 4, schema: schema.clone() };
    let back =
        graveyard::schema::RegisteredSchema::try_from(pb::RegisteredSchema::from(&registered)).unwrap();
    assert_eq!(back, registered);
}

#[test]
fn every_problem_of_a_wire_schema_is_named() {
    let schema = pb::Schema {
        name: "Broken".into(),
        compatibility: 17,
        fields: vec![
            pb::SchemaField { name: "untyped".into(), ..Default::default() },
            pb::SchemaField {
                name: "scalar".into(),
                r#type: Some(pb::FieldType { kind: Some(pb::field_type::Kind::Scalar(0)) }),
                ..Default::default()
            },
            pb::SchemaField {
                name: "obj".into(),
                r#type: Some(pb::FieldType {
                    kind: Some(pb::field_type::Kind::Object(pb::ObjectType {
                        fields: vec![pb::SchemaField {
                            name: "inner".into(),
                            r#type: Some(pb::FieldType { kind: None }),
                            default_json: Some("{nope".into()),
                            ..Default::default()
                        }],
                        unknown_fields: 0,
                    })),
                }),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    match wire::schema_from_wire(schema).unwrap_err() {
        Error::InvalidSchema { schema, problems } => {
            assert_eq!(schema, "Broken");
            let text = problems.join("\n");
            for needle in [
                "unknown compatibility mode 17",
                "field 'untyped': has no type",
                "field 'scalar': unknown scalar type 0",
                "field 'obj.inner': has a type with no kind",
                "field 'obj.inner': default_json is not JSON",
            ] {
                assert!(text.contains(needle), "'{needle}' missing from:\n{text}");
            }
            assert_eq!(problems.len(), 5);
        }
        other => panic!("expected INVALID_SCHEMA, got {other:?}"),
    }
}

#[test]
fn oversized_details_are_cut_to_fit_the_trailers_and_say_so() {
    let huge = Error::SchemaViolation {
        schema: "S".into(),
        version: 1,
        event: 0,
        violations: (0..100)
            .map(|i| Violation {
                path: format!("items[{i}]"),
                rule: ViolationRule::MaxLength,
                value: serde_json::Value::String("v".repeat(10_000)),
                message: "too long".into(),
            })
            .collect(),
    };
    let status = wire::error_to_status(&huge);
    assert!(status.details().len() < 9 * 1024, "{} bytes of details", status.details().len());
    assert!(status.message().len() <= 1024 && status.message().ends_with("(truncated)"));
    let detail = wire::status_detail(&status).unwrap();
    assert_eq!(detail.violations.len() as u32 + detail.violations_omitted, 100);
    assert!(detail.violations.iter().all(|v| v.value_truncated && v.value_json.len() <= 256));
    assert_eq!(detail.violations[0].path, "items[0]", "the first violations are kept");
    match wire::status_to_error(&status) {
        Error::SchemaViolation { violations, .. } => {
            assert_eq!(violations.len(), detail.violations.len());
            assert!(violations[0].value.is_string());
        }
        other => panic!("{other:?}"),
    }

    let many_problems = Error::InvalidSchema { schema: "S".into(), problems: vec!["p".repeat(300); 200] };
    let detail = wire::status_detail(&wire::error_to_status(&many_problems)).unwrap();
    assert_eq!(detail.problems.len() as u32 + detail.problems_omitted, 200);
    assert!(detail.problems_omitted > 0);

    // Small details are untouched.
    let small =
        wire::status_detail(&wire::error_to_status(&Error::InvalidArgument("x".repeat(500)))).unwrap();
    assert_eq!(small.message, "x".repeat(500));
}
