//! The fast path (`conforms_as_is`) never accepts what the full validation refuses or would
//! change, and it does accept ordinary valid data (else it would be a slow path with extra steps).

use proptest::prelude::*;
use serde_json::{json, Value};

use super::compile;
use crate::schema::{CompiledSchema, Field, FieldType, ObjectType, Schema};

fn order() -> CompiledSchema {
    compile(
        &Schema::new("order")
            .field(Field::new("id", FieldType::String).required().pattern("ord-[0-9]+").max_length(20))
            .field(Field::new("qty", FieldType::Integer).min(1.0).max(100.0))
            .field(Field::new("price", FieldType::Number).min(0.5))
            .field(Field::new("note", FieldType::String).nullable().min_length(2))
            .field(Field::new("status", FieldType::enumeration(["open", "paid"])))
            .field(Field::new("tags", FieldType::array(FieldType::String)).max_length(2))
            .field(Field::new(
                "address",
                FieldType::Object(
                    ObjectType::new(vec![Field::new("zip", FieldType::String).required()])
                        .reject_unknown_fields(),
                ),
            ))
            .field(Field::new("gift", FieldType::Boolean)),
    )
}

fn fast(schema: &CompiledSchema, data: &str) -> bool {
    schema.conforms_as_is(data.as_bytes())
}

#[test]
fn ordinary_valid_data_is_settled_by_the_fast_path() {
    let s = order();
    assert!(fast(&s, r#"{"id":"ord-1"}"#));
    assert!(fast(
        &s,
        r#"{"id":"ord-12","qty":3,"price":9.5,"note":null,"status":"paid","tags":["a","b"],
            "address":{"zip":"75001"},"gift":false,"extra":{"x":[1,{"y":null}]}}"#
    ));
    assert!(fast(&s, r#"{"qty":100,"price":1e3,"id":"ord-\u0031","\u0069d2":"unknown, allowed"}"#));
    assert!(fast(&s, r#" { "id" : "ord-1" } "#), "whitespace around");
}

#[test]
fn anything_doubtful_goes_to_the_full_validation() {
    let s = order();
    for data in [
        r#"{}"#,                                         // required id absent
        r#"{"id":null}"#,                                // required id null
        r#"{"id":"x-1"}"#,                               // pattern
        r#"{"id":"ord-123456789012345678901"}"#,         // max_length
        r#"{"id":"ord-1","qty":0}"#,                     // min
        r#"{"id":"ord-1","qty":101}"#,                   // max
        r#"{"id":"ord-1","qty":3.0}"#,                   // integer written as a fraction
        r#"{"id":"ord-1","qty":"3"}"#,                   // type
        r#"{"id":"ord-1","price":0.25}"#,                // min of a number
        r#"{"id":"ord-1","note":"a"}"#,                  // min_length
        r#"{"id":"ord-1","status":"lost"}"#,             // enum
        r#"{"id":"ord-1","tags":["a","b","c"]}"#,        // array max_length
        r#"{"id":"ord-1","tags":["a",null]}"#,           // null item
        r#"{"id":"ord-1","tags":[1]}"#,                  // item type
        r#"{"id":"ord-1","address":{"zip":"1","x":1}}"#, // unknown member rejected
        r#"{"id":"ord-1","address":{}}"#,                // nested required
        r#"{"id":"ord-1","gift":null}"#,                 // not nullable
        r#"{"id":"ord-1","id":"ord-2"}"#,                // duplicate key
        r#"["ord-1"]"#,                                  // not an object
        r#"{"id":"ord-1"} x"#,                           // trailing garbage
        r#"{"id":"ord-1""#,                              // truncated
        "",
    ] {
        assert!(!fast(&s, data), "{data}");
    }
    // A default to fill means the data cannot be stored as is.
    let with_default =
        compile(&Schema::new("d").field(Field::new("n", FieldType::Integer).default(json!(1))));
    assert!(!fast(&with_default, r#"{}"#));
    assert!(!fast(&with_default, r#"{"n":null}"#));
    assert!(fast(&with_default, r#"{"n":2}"#));
}

// ---------------------------------------------------------------------------------------------
// The property: fast accepts => full validation accepts and fills nothing.

const NAMES: [&str; 3] = ["a", "b", "c"];

fn field_type(depth: u32) -> BoxedStrategy<FieldType> {
    let leaf = prop_oneof![
        Just(FieldType::Number),
        Just(FieldType::Integer),
        Just(FieldType::String),
        Just(FieldType::Boolean),
        Just(FieldType::enumeration(["x", "y"])),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    prop_oneof![
        3 => leaf,
        1 => field_type(depth - 1).prop_map(FieldType::array),
        1 => (fields(depth - 1), any::<bool>()).prop_map(|(fields, reject)| {
            let object = ObjectType::new(fields);
            FieldType::Object(if reject { object.reject_unknown_fields() } else { object })
        }),
    ]
    .boxed()
}

fn field(name: &'static str, depth: u32) -> impl Strategy<Value = Field> {
    (
        field_type(depth),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(-3i64..4),
        proptest::option::of(-3i64..4),
        proptest::option::of(0u64..3),
        proptest::option::of(0u64..3),
        proptest::option::of(prop_oneof![Just("[a-c]+"), Just("x.*")]),
        proptest::option::of(json_value(0)),
    )
        .prop_map(move |(ty, required, nullable, min, max, min_len, max_len, pattern, default)| {
            let is_number = matches!(ty, FieldType::Number | FieldType::Integer);
            let has_length = matches!(ty, FieldType::String | FieldType::Array(_));
            let mut f = Field::new(name, ty.clone());
            f.required = required;
            f.nullable = nullable && !required;
            if is_number {
                f.min = min.map(|n| n as f64 / 2.0);
                f.max = max.map(|n| n as f64 / 2.0);
            }
            if has_length {
                f.min_length = min_len;
                f.max_length = max_len;
            }
            if ty == FieldType::String {
                f.pattern = pattern.map(str::to_owned);
            }
            f.default = default;
            f
        })
}

fn fields(depth: u32) -> impl Strategy<Value = Vec<Field>> {
    proptest::sample::subsequence(NAMES.to_vec(), 0..=NAMES.len())
        .prop_flat_map(move |names| names.into_iter().map(|name| field(name, depth)).collect::<Vec<_>>())
}

fn json_value(depth: u32) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-4i64..5).prop_map(Value::from),
        prop_oneof![Just(json!(0.5)), Just(json!(-1.5)), Just(json!(2.0)), Just(json!(1e300))],
        prop_oneof![Just("a"), Just("abc"), Just("x"), Just("xy"), Just("é"), Just("")].prop_map(Value::from),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    prop_oneof![
        3 => leaf,
        1 => proptest::collection::vec(json_value(depth - 1), 0..4).prop_map(Value::Array),
        1 => proptest::collection::btree_map(
                prop_oneof![Just("a"), Just("b"), Just("c"), Just("d")].prop_map(str::to_owned),
                json_value(depth - 1),
                0..4,
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
    ]
    .boxed()
}

fn object_data() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(
        prop_oneof![Just("a"), Just("b"), Just("c"), Just("d")].prop_map(str::to_owned),
        json_value(2),
        0..4,
    )
    .prop_map(|map| Value::Object(map.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn fast_path_never_accepts_what_full_validation_refuses_or_changes(
        (schema_fields, reject) in (fields(2), any::<bool>()),
        data in object_data(),
    ) {
        let mut schema = Schema::new("p");
        schema.fields = schema_fields;
        if reject {
            schema = schema.reject_unknown_fields();
        }
        // Random definitions are often invalid (a default breaking its rules...): skip those.
        // (Measured when written: about 45% compile, and the fast path accepts the data in
        // about 20% of all cases, so both branches below are well exercised.)
        let Ok(compiled) = CompiledSchema::compile_standalone(&schema, 1) else { return Ok(()) };
        let bytes = serde_json::to_vec(&data).unwrap();
        if compiled.conforms_as_is(&bytes) {
            let mut value = data.clone();
            match compiled.validate(&mut value) {
                Ok(outcome) => prop_assert_eq!(outcome.defaults_filled, 0, "fast path accepted data needing defaults"),
                Err(violations) => prop_assert!(false, "fast path accepted {} refused with {:?}", data, violations),
            }
        } else {
            // The converse holds too for data serialised by serde_json (no duplicate keys,
            // at most 64 fields): refused by the fast path => refused or changed by the full one.
            let mut value = data.clone();
            let accepted_unchanged = matches!(compiled.validate(&mut value), Ok(o) if o.defaults_filled == 0);
            prop_assert!(!accepted_unchanged, "fast path doubted {} that is valid as is", data);
        }
    }
}
