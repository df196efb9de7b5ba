use serde_json::json;

use crate::error::{Error, ErrorCode};
use crate::schema::{
    schema_stream, CompatibilityMode, Field, FieldType, ObjectType, Schema, SchemaRef, UnknownFields,
};

fn full_schema() -> Schema {
    Schema::new("Order")
        .description("an order")
        .reject_unknown_fields()
        .compatibility(CompatibilityMode::Full)
        .field(
            Field::new("id", FieldType::String).required().pattern("[A-Z]{3}-[0-9]+").description("the id"),
        )
        .field(Field::new("qty", FieldType::Integer).min(1.0).max(99.0).default(json!(1)))
        .field(Field::new("price", FieldType::Number).nullable())
        .field(Field::new("paid", FieldType::Boolean))
        .field(Field::new("currency", FieldType::enumeration(["EUR", "USD"])))
        .field(Field::new("tags", FieldType::array(FieldType::String)).min_length(0).max_length(5))
        .field(Field::new(
            "address",
            FieldType::Object(
                ObjectType::new(vec![Field::new("zip", FieldType::String)]).reject_unknown_fields(),
            ),
        ))
        .field(Field::new("customer", FieldType::reference_version("Customer", 2)))
        .field(Field::new("parent", FieldType::reference("Order")))
}

#[test]
fn json_form_is_snake_case_and_omits_what_is_not_set() {
    let json = serde_json::to_value(full_schema()).unwrap();
    assert_eq!(
        json,
        json!({
            "name": "Order",
            "description": "an order",
            "unknown_fields": "reject",
            "compatibility": "full",
            "fields": [
                {"name": "id", "type": "string", "required": true, "pattern": "[A-Z]{3}-[0-9]+", "description": "the id"},
                {"name": "qty", "type": "integer", "min": 1.0, "max": 99.0, "default": 1},
                {"name": "price", "type": "number", "nullable": true},
                {"name": "paid", "type": "boolean"},
                {"name": "currency", "type": {"enum": ["EUR", "USD"]}},
                {"name": "tags", "type": {"array": "string"}, "min_length": 0, "max_length": 5},
                {"name": "address", "type": {"object": {"fields": [{"name": "zip", "type": "string"}], "unknown_fields": "reject"}}},
                {"name": "customer", "type": {"ref": {"name": "Customer", "version": 2}}},
                {"name": "parent", "type": {"ref": {"name": "Order"}}},
            ],
        })
    );
}

#[test]
fn json_round_trips() {
    let schema = full_schema();
    assert_eq!(Schema::from_json(&schema.to_json()).unwrap(), schema);
}

#[test]
fn json_defaults_are_allow_and_backward() {
    let schema = Schema::from_json(
        br#"{"name": "E", "fields": [{"name": "x", "type": {"array": {"array": "integer"}}}]}"#,
    )
    .unwrap();
    assert_eq!(schema.unknown_fields, UnknownFields::Allow);
    assert_eq!(schema.compatibility, CompatibilityMode::Backward);
    assert_eq!(schema.fields[0].field_type, FieldType::array(FieldType::array(FieldType::Integer)));
    assert!(!schema.fields[0].required && !schema.fields[0].nullable);
    let schema = Schema::from_json(br#"{"name": "Empty"}"#).unwrap();
    assert!(schema.fields.is_empty());
    let reference: SchemaRef = serde_json::from_value(json!({"name": "A"})).unwrap();
    assert_eq!(reference, SchemaRef { name: "A".into(), version: None });
}

#[test]
fn misspelt_or_malformed_definitions_are_invalid_schemas() {
    let err =
        Schema::from_json(br#"{"name": "T", "fields": [{"name": "x", "type": "string", "requried": true}]}"#)
            .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidSchema);
    let Error::InvalidSchema { schema, problems } = err else { panic!() };
    assert_eq!(schema, "T");
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("not a schema definition: unknown field `requried`"), "{problems:?}");

    for bad in
        [&br#"{"name": "T", "fields": [{"name": "x", "type": "text"}]}"#[..], b"{", br#"{"fields": []}"#]
    {
        let err = Schema::from_json(bad).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidSchema, "{err}");
    }
    let negative = br#"{"name": "T", "fields": [{"name": "s", "type": "string", "max_length": -1}]}"#;
    assert_eq!(Schema::from_json(negative).unwrap_err().code(), ErrorCode::InvalidSchema);
}

#[test]
fn schema_streams_are_reserved_names() {
    assert_eq!(schema_stream("Order"), "$schema-Order");
}
