use std::sync::Arc;

use serde_json::json;

use crate::schema::CompatibilityMode::{Backward, Forward, Full, None as NoCheck};
use crate::schema::{check_compatibility, CompatibilityMode, CompiledSchema, Field, FieldType, Schema};

/// The reasons replacing `previous` (version 1) by `next` (version 2) breaks `mode`.
fn reasons(previous: &Schema, next: &Schema, mode: CompatibilityMode) -> Vec<String> {
    let previous = CompiledSchema::compile_standalone(previous, 1).unwrap();
    let next = CompiledSchema::compile_standalone(next, 2).unwrap();
    check_compatibility(&previous, &next, mode)
}

fn order(fields: Vec<Field>) -> Schema {
    fields.into_iter().fold(Schema::new("Order"), Schema::field)
}

fn id() -> Field {
    Field::new("id", FieldType::String).required()
}

fn qty() -> Field {
    Field::new("qty", FieldType::Integer).min(1.0).max(100.0)
}

fn status(variants: &[&str]) -> Field {
    Field::new("status", FieldType::enumeration(variants.iter().copied()))
}

#[test]
fn identical_versions_are_compatible_in_every_mode() {
    let schema = order(vec![id(), qty(), status(&["new", "paid"])]);
    for mode in [NoCheck, Backward, Forward, Full] {
        assert_eq!(reasons(&schema, &schema, mode), Vec::<String>::new());
    }
}

#[test]
fn mode_none_accepts_any_change() {
    let previous = order(vec![id(), qty()]);
    let next = order(vec![
        Field::new("id", FieldType::Integer).required(),
        Field::new("new", FieldType::Boolean).required(),
    ]);
    assert!(reasons(&previous, &next, NoCheck).is_empty());
    assert!(!reasons(&previous, &next, Full).is_empty());
}

#[test]
fn adding_a_required_field_without_default_breaks_backward() {
    let previous = order(vec![id()]);
    let next = order(vec![id(), Field::new("email", FieldType::String).required()]);
    assert_eq!(
        reasons(&previous, &next, Backward),
        ["backward: field 'email': required without a default in version 2, absent from version 1"]
    );
    assert!(reasons(&previous, &next, Forward).is_empty());
}

#[test]
fn adding_an_optional_field_or_a_required_one_with_default_keeps_full() {
    let previous = order(vec![id()]);
    let next = order(vec![
        id(),
        Field::new("note", FieldType::String),
        Field::new("currency", FieldType::String).required().default(json!("EUR")),
    ]);
    assert!(reasons(&previous, &next, Full).is_empty());
}

#[test]
fn narrowing_a_range_breaks_backward_and_widening_breaks_forward() {
    let previous = order(vec![qty()]);
    let narrower = order(vec![Field::new("qty", FieldType::Integer).min(2.0).max(50.0)]);
    assert_eq!(
        reasons(&previous, &narrower, Backward),
        [
            "backward: field 'qty': min 2 in version 2, 1 in version 1",
            "backward: field 'qty': max 50 in version 2, 100 in version 1",
        ]
    );
    assert!(reasons(&previous, &narrower, Forward).is_empty());

    let wider = order(vec![Field::new("qty", FieldType::Integer)]);
    assert!(reasons(&previous, &wider, Backward).is_empty());
    assert_eq!(
        reasons(&previous, &wider, Forward),
        [
            "forward: field 'qty': min 1 in version 1, none in version 2",
            "forward: field 'qty': max 100 in version 1, none in version 2",
        ]
    );
}

#[test]
fn integer_bounds_count_only_integers() {
    // Integers >= 0.5 are exactly the integers >= 1.
    let previous = order(vec![Field::new("n", FieldType::Integer).min(0.5).max(9.5)]);
    let next = order(vec![Field::new("n", FieldType::Integer).min(1.0).max(9.0)]);
    assert!(reasons(&previous, &next, Full).is_empty());
}

#[test]
fn integer_to_number_widens_and_number_to_integer_narrows() {
    let integer = order(vec![Field::new("n", FieldType::Integer)]);
    let number = order(vec![Field::new("n", FieldType::Number)]);
    assert!(reasons(&integer, &number, Backward).is_empty());
    assert_eq!(
        reasons(&integer, &number, Forward),
        ["forward: field 'n': type integer in version 1, number in version 2"]
    );
    assert_eq!(
        reasons(&number, &integer, Backward),
        ["backward: field 'n': type integer in version 2, number in version 1"]
    );
}

#[test]
fn changing_a_type_breaks_both_ways() {
    let previous = order(vec![Field::new("address", FieldType::object(vec![]))]);
    let next = order(vec![Field::new("address", FieldType::String)]);
    assert_eq!(
        reasons(&previous, &next, Full),
        [
            "backward: field 'address': type string in version 2, object in version 1",
            "forward: field 'address': type object in version 1, string in version 2",
        ]
    );
}

#[test]
fn enum_variants_added_break_forward_and_removed_break_backward() {
    let previous = order(vec![status(&["new", "paid"])]);
    let added = order(vec![status(&["new", "paid", "shipped", "lost"])]);
    assert!(reasons(&previous, &added, Backward).is_empty());
    assert_eq!(
        reasons(&previous, &added, Forward),
        ["forward: field 'status': enum variants \"lost\", \"shipped\" of version 2 are not in version 1"]
    );
    let removed = order(vec![status(&["new"])]);
    assert_eq!(
        reasons(&previous, &removed, Backward),
        ["backward: field 'status': enum variants \"paid\" of version 1 are not in version 2"]
    );
}

#[test]
fn enum_to_string_is_checked_against_the_string_rules() {
    let previous = order(vec![status(&["new", "paid"])]);
    assert!(reasons(&previous, &order(vec![Field::new("status", FieldType::String)]), Backward).is_empty());
    let short = order(vec![Field::new("status", FieldType::String).max_length(3)]);
    assert_eq!(
        reasons(&previous, &short, Backward),
        ["backward: field 'status': enum variant \"paid\" of version 1 breaks the max_length 3 of version 2"]
    );
    let patterned = order(vec![Field::new("status", FieldType::String).pattern("n.*")]);
    assert_eq!(
        reasons(&previous, &patterned, Backward),
        ["backward: field 'status': enum variant \"paid\" of version 1 breaks the pattern n.* of version 2"]
    );
    assert_eq!(
        reasons(&order(vec![Field::new("status", FieldType::String)]), &previous, Backward),
        ["backward: field 'status': type enum in version 2, string in version 1"]
    );
}

#[test]
fn nullability_changes() {
    let nullable = order(vec![Field::new("note", FieldType::String).nullable()]);
    let not_nullable = order(vec![Field::new("note", FieldType::String)]);
    assert_eq!(
        reasons(&nullable, &not_nullable, Full),
        ["backward: field 'note': nullable in version 1, not in version 2"]
    );
    assert_eq!(
        reasons(&not_nullable, &nullable, Full),
        ["forward: field 'note': nullable in version 2, not in version 1"]
    );
    // A default replaces null, so data never holds null there.
    let defaulted = order(vec![Field::new("note", FieldType::String).nullable().default(json!(""))]);
    assert!(reasons(&nullable, &defaulted, Backward).is_empty());
    assert!(reasons(&defaulted, &not_nullable, Backward).is_empty());
}

#[test]
fn required_changes() {
    let required = order(vec![id()]);
    let optional = order(vec![Field::new("id", FieldType::String)]);
    assert_eq!(
        reasons(&optional, &required, Full),
        ["backward: field 'id': required without a default in version 2, optional in version 1"]
    );
    assert_eq!(
        reasons(&required, &optional, Full),
        ["forward: field 'id': required without a default in version 1, optional in version 2"]
    );
    // Data written with a default always holds the field.
    let defaulted = order(vec![Field::new("id", FieldType::String).default(json!("none"))]);
    assert!(reasons(&defaulted, &required, Backward).is_empty());
}

#[test]
fn removing_a_field() {
    let previous = order(vec![id(), Field::new("note", FieldType::String)]);
    let next = order(vec![Field::new("note", FieldType::String)]);
    assert!(reasons(&previous, &next, Backward).is_empty());
    assert_eq!(
        reasons(&previous, &next, Forward),
        ["forward: field 'id': required without a default in version 1, absent from version 2"]
    );
}

#[test]
fn rejecting_unknown_fields() {
    let open = order(vec![id(), Field::new("note", FieldType::String)]);
    let closed = order(vec![id()]).reject_unknown_fields();
    assert_eq!(
        reasons(&open, &closed, Backward),
        [
            "backward: the schema: version 2 rejects unknown fields, version 1 allows them",
            "backward: field 'note': declared in version 1, unknown to version 2, which rejects unknown fields",
        ]
    );
    let closed_wider = order(vec![id(), Field::new("email", FieldType::String)]).reject_unknown_fields();
    assert_eq!(
        reasons(&order(vec![id()]).reject_unknown_fields(), &closed_wider, Forward),
        ["forward: field 'email': declared in version 2, unknown to version 1, which rejects unknown fields"]
    );
    assert!(reasons(&order(vec![id()]).reject_unknown_fields(), &closed_wider, Backward).is_empty());
}

#[test]
fn patterns_added_changed_and_removed() {
    let none = order(vec![Field::new("code", FieldType::String)]);
    let upper = order(vec![Field::new("code", FieldType::String).pattern("[A-Z]+")]);
    let alpha = order(vec![Field::new("code", FieldType::String).pattern("[A-Za-z]+")]);
    assert_eq!(
        reasons(&none, &upper, Full),
        ["backward: field 'code': pattern [A-Z]+ in version 2, none in version 1"]
    );
    assert_eq!(
        reasons(&upper, &none, Full),
        ["forward: field 'code': pattern [A-Z]+ in version 1, none in version 2"]
    );
    // Patterns are compared as text: a wider one still counts as a change.
    assert_eq!(
        reasons(&upper, &alpha, Backward),
        ["backward: field 'code': pattern [A-Za-z]+ in version 2, [A-Z]+ in version 1"]
    );
}

#[test]
fn lengths_of_strings_and_arrays() {
    let previous = order(vec![
        Field::new("name", FieldType::String).max_length(10),
        Field::new("tags", FieldType::array(FieldType::String)).max_length(5),
    ]);
    let next = order(vec![
        Field::new("name", FieldType::String).min_length(1).max_length(10),
        Field::new("tags", FieldType::array(FieldType::String)).max_length(3),
    ]);
    assert_eq!(
        reasons(&previous, &next, Full),
        [
            "backward: field 'name': min_length 1 in version 2, none in version 1",
            "backward: field 'tags': max_length 3 in version 2, 5 in version 1",
        ]
    );
}

#[test]
fn nested_objects_and_array_items_report_their_paths() {
    let previous = order(vec![
        Field::new("address", FieldType::object(vec![Field::new("zip", FieldType::String)])),
        Field::new("items", FieldType::array(FieldType::object(vec![qty()]))),
        Field::new("codes", FieldType::array(FieldType::String)),
    ]);
    let next = order(vec![
        Field::new(
            "address",
            FieldType::object(vec![Field::new("zip", FieldType::String).pattern("[0-9]{5}")]),
        ),
        Field::new(
            "items",
            FieldType::array(FieldType::object(vec![Field::new("qty", FieldType::Integer).min(1.0)])),
        ),
        Field::new("codes", FieldType::array(FieldType::Integer)),
    ]);
    assert_eq!(
        reasons(&previous, &next, Full),
        [
            "backward: field 'address.zip': pattern [0-9]{5} in version 2, none in version 1",
            "backward: field 'codes[]': type integer in version 2, string in version 1",
            "forward: field 'items[].qty': max 100 in version 1, none in version 2",
            "forward: field 'codes[]': type string in version 1, integer in version 2",
        ]
    );
}

#[test]
fn full_reports_both_directions() {
    let previous = order(vec![qty(), status(&["new"])]);
    let next =
        order(vec![Field::new("qty", FieldType::Integer).min(1.0).max(50.0), status(&["new", "paid"])]);
    assert_eq!(
        reasons(&previous, &next, Full),
        [
            "backward: field 'qty': max 50 in version 2, 100 in version 1",
            "forward: field 'status': enum variants \"paid\" of version 2 are not in version 1",
        ]
    );
}

#[test]
fn recursive_schemas_are_compared_once_per_object_pair() {
    let node = |max: Option<f64>| {
        let value = Field::new("value", FieldType::Integer);
        Schema::new("Node")
            .field(if let Some(max) = max { value.max(max) } else { value })
            .field(Field::new("next", FieldType::reference("Node")).nullable())
            .field(Field::new("children", FieldType::array(FieldType::reference("Node"))))
    };
    assert_eq!(
        reasons(&node(None), &node(Some(10.0)), Full),
        ["backward: field 'value': max 10 in version 2, none in version 1"]
    );
}

#[test]
fn referenced_schemas_are_compared_by_content() {
    let address_v1 = Arc::new(
        CompiledSchema::compile_standalone(
            &Schema::new("Address").field(Field::new("zip", FieldType::String)),
            1,
        )
        .unwrap(),
    );
    let address_v2 = Arc::new(
        CompiledSchema::compile_standalone(
            &Schema::new("Address").field(Field::new("zip", FieldType::String).max_length(5)),
            2,
        )
        .unwrap(),
    );
    let resolver = |_: &str, version: Option<u32>| match version {
        Some(1) => Ok(Arc::clone(&address_v1)),
        _ => Ok(Arc::clone(&address_v2)),
    };
    let with = |version: u32| {
        Schema::new("Order").field(Field::new("address", FieldType::reference_version("Address", version)))
    };
    let v1 = CompiledSchema::compile(&with(1), 1, &resolver).unwrap();
    let v2 = CompiledSchema::compile(&with(1), 2, &resolver).unwrap();
    let v3 = CompiledSchema::compile(&with(2), 3, &resolver).unwrap();
    assert!(check_compatibility(&v1, &v2, Full).is_empty());
    assert_eq!(
        check_compatibility(&v2, &v3, Full),
        ["backward: field 'address.zip': max_length 5 in version 3, none in version 2"]
    );
    // An inline object with the same fields is the same contract.
    let inline = Schema::new("Order")
        .field(Field::new("address", FieldType::object(vec![Field::new("zip", FieldType::String)])));
    let v4 = CompiledSchema::compile_standalone(&inline, 4).unwrap();
    assert!(check_compatibility(&v1, &v4, Full).is_empty());
}
