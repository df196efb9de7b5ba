use std::sync::Arc;

use serde_json::json;

use super::{compile, problems, valid};
use crate::error::{Error, ErrorCode};
use crate::schema::{CompiledSchema, Field, FieldType, ObjectType, Schema, MAX_SCHEMA_NAME_LEN};

fn one_field(field: Field) -> Vec<String> {
    problems(&Schema::new("T").field(field))
}

const ENDLESS_TAIL: &str =
    ", and each is required, not nullable and without a default, so no finite data is valid \
                            (make one optional or nullable)";

#[test]
fn min_above_max() {
    assert_eq!(
        one_field(Field::new("n", FieldType::Integer).min(5.0).max(1.0)),
        ["field 'n': min 5 is above max 1"]
    );
    assert_eq!(
        one_field(Field::new("s", FieldType::String).min_length(5).max_length(1)),
        ["field 's': min_length 5 is above max_length 1"]
    );
    assert_eq!(
        one_field(Field::new("a", FieldType::array(FieldType::Boolean)).min_length(2).max_length(1)),
        ["field 'a': min_length 2 is above max_length 1"]
    );
}

#[test]
fn bounds_must_be_finite() {
    assert_eq!(
        one_field(Field::new("n", FieldType::Number).min(f64::NAN).max(f64::INFINITY)),
        [
            "field 'n': min must be a finite number, not NaN",
            "field 'n': max must be a finite number, not inf"
        ]
    );
}

#[test]
fn pattern_that_does_not_compile() {
    assert_eq!(
        one_field(Field::new("s", FieldType::String).pattern("(a")),
        ["field 's': pattern \"(a\" does not compile: unclosed group"]
    );
}

#[test]
fn pattern_that_would_escape_its_anchors_is_refused() {
    // Compiles once wrapped as `\A(?:a)|(b)\z`, which would accept "abc".
    let found = one_field(Field::new("s", FieldType::String).pattern("a)|(b"));
    assert_eq!(found.len(), 1);
    assert!(found[0].starts_with("field 's': pattern \"a)|(b\" does not compile: "), "{found:?}");
}

#[test]
fn rules_on_types_they_do_not_apply_to() {
    assert_eq!(
        one_field(Field::new("n", FieldType::Number).min_length(1).max_length(2)),
        [
            "field 'n': min_length applies to strings and arrays, not to number",
            "field 'n': max_length applies to strings and arrays, not to number",
        ]
    );
    assert_eq!(
        one_field(Field::new("s", FieldType::String).min(1.0).max(2.0)),
        [
            "field 's': min applies to numbers and integers, not to string",
            "field 's': max applies to numbers and integers, not to string",
        ]
    );
    assert_eq!(
        one_field(Field::new("i", FieldType::Integer).pattern("[0-9]+")),
        ["field 'i': pattern applies to strings, not to integer"]
    );
    assert_eq!(
        one_field(Field::new("e", FieldType::enumeration(["a"])).max_length(3).pattern("a")),
        [
            "field 'e': max_length applies to strings and arrays, not to enum",
            "field 'e': pattern applies to strings, not to enum"
        ]
    );
    assert_eq!(
        one_field(Field::new("b", FieldType::Boolean).max(1.0)),
        ["field 'b': max applies to numbers and integers, not to boolean"]
    );
    assert_eq!(
        one_field(Field::new("a", FieldType::array(FieldType::Integer)).min(0.0).pattern("x")),
        [
            "field 'a': min applies to numbers and integers, not to array",
            "field 'a': pattern applies to strings, not to array"
        ]
    );
    assert_eq!(
        one_field(Field::new("o", FieldType::object(vec![])).min_length(1)),
        ["field 'o': min_length applies to strings and arrays, not to object"]
    );
}

#[test]
fn required_together_with_nullable() {
    assert_eq!(
        one_field(Field::new("x", FieldType::String).required().nullable()),
        ["field 'x' is both required and nullable: a required field holds a value (drop one, or give a default)"]
    );
}

#[test]
fn empty_and_duplicated_enums() {
    assert_eq!(
        one_field(Field::new("c", FieldType::enumeration(Vec::<String>::new()))),
        ["field 'c': enum has no variants"]
    );
    assert_eq!(
        one_field(Field::new("c", FieldType::enumeration(["b", "a", "b", "a", "b", "c"]))),
        [
            "field 'c': enum variant \"a\" is listed more than once",
            "field 'c': enum variant \"b\" is listed more than once"
        ]
    );
}

#[test]
fn duplicated_field_names_at_every_level() {
    let address = FieldType::object(vec![
        Field::new("zip", FieldType::String),
        Field::new("zip", FieldType::Integer),
        Field::new("zip", FieldType::Boolean),
    ]);
    assert_eq!(
        problems(
            &Schema::new("T")
                .field(Field::new("a", FieldType::String))
                .field(Field::new("address", address))
                .field(Field::new("a", FieldType::Number))
        ),
        ["field 'a' is declared 2 times", "field 'address.zip' is declared 3 times"]
    );
}

#[test]
fn empty_names() {
    assert_eq!(
        problems(&Schema::new("").field(Field::new("x", FieldType::String))),
        ["the schema name is empty"]
    );
    assert_eq!(
        problems(
            &Schema::new("T")
                .field(Field::new("", FieldType::String))
                .field(Field::new("o", FieldType::object(vec![Field::new("", FieldType::Boolean)])))
        ),
        ["a field has an empty name", "a field of 'o' has an empty name"]
    );
}

#[test]
fn schema_names_must_fit_their_stream() {
    let longest = "n".repeat(MAX_SCHEMA_NAME_LEN);
    compile(&Schema::new(longest.clone()));
    let too_long = format!("{longest}n");
    assert_eq!(
        problems(&Schema::new(too_long)),
        ["the schema name is 249 bytes, longer than 248 (its stream name must fit)"]
    );
    assert_eq!(problems(&Schema::new("a\0b")), ["the schema name contains a NUL character"]);
}

#[test]
fn references_to_schemas_that_do_not_exist() {
    let schema = Schema::new("Order")
        .field(Field::new("billing", FieldType::reference("Address")))
        .field(Field::new("items", FieldType::array(FieldType::reference_version("Item", 3))));
    assert_eq!(
        problems(&schema),
        ["field 'billing': schema 'Address' does not exist", "field 'items[]': schema 'Item' does not exist"]
    );
}

#[test]
fn problems_of_array_element_types_name_the_element() {
    let schema = Schema::new("T")
        .field(Field::new("tags", FieldType::array(FieldType::enumeration(Vec::<String>::new()))))
        .field(Field::new(
            "rows",
            FieldType::array(FieldType::object(vec![Field::new("x", FieldType::String).min(1.0)])),
        ));
    assert_eq!(
        problems(&schema),
        [
            "field 'tags[]': enum has no variants",
            "field 'rows[].x': min applies to numbers and integers, not to string"
        ]
    );
}

#[test]
fn required_self_reference_is_endless_recursion() {
    let schema = Schema::new("Node").field(Field::new("next", FieldType::reference("Node")).required());
    assert_eq!(
        problems(&schema),
        [format!("endless recursion: the chain of fields 'next' leads back to schema 'Node'{ENDLESS_TAIL}")]
    );
}

#[test]
fn endless_recursion_through_inline_objects_and_arrays() {
    let wrapper = FieldType::object(vec![Field::new("inner", FieldType::reference("Node")).required()]);
    let schema = Schema::new("Node")
        .field(Field::new("wrapper", wrapper).required())
        .field(Field::new("kids", FieldType::array(FieldType::reference("Node"))).required().min_length(1));
    assert_eq!(
        problems(&schema),
        [
            format!("endless recursion: the chain of fields 'wrapper' -> 'wrapper.inner' leads back to schema 'Node'{ENDLESS_TAIL}"),
            format!("endless recursion: the chain of fields 'kids' leads back to schema 'Node'{ENDLESS_TAIL}"),
        ]
    );
}

#[test]
fn recursion_with_an_optional_or_nullable_link_is_allowed() {
    for link in [
        Field::new("next", FieldType::reference("Node")),
        Field::new("next", FieldType::reference("Node")).nullable(),
        Field::new("next", FieldType::array(FieldType::reference("Node"))).required(),
        Field::new("next", FieldType::object(vec![Field::new("inner", FieldType::reference("Node"))]))
            .required(),
    ] {
        compile(&Schema::new("Node").field(Field::new("v", FieldType::Integer)).field(link));
    }
    let list = compile(
        &Schema::new("Node")
            .field(Field::new("v", FieldType::Integer).required())
            .field(Field::new("next", FieldType::reference("Node")).nullable()),
    );
    valid(&list, json!({"v": 1, "next": {"v": 2, "next": null}}));
}

#[test]
fn defaults_that_break_their_field() {
    assert_eq!(
        one_field(Field::new("qty", FieldType::Integer).min(1.0).default(json!(0))),
        ["field 'qty': default breaks the field: must be at least 1 (min)"]
    );
    assert_eq!(
        one_field(Field::new("qty", FieldType::Integer).default(json!("1"))),
        ["field 'qty': default breaks the field: must be an integer, not a string (type)"]
    );
    assert_eq!(
        one_field(Field::new("c", FieldType::enumeration(["EUR"])).default(json!("USD"))),
        ["field 'c': default breaks the field: must be one of: EUR (enum)"]
    );
    assert_eq!(
        one_field(Field::new("s", FieldType::String).pattern("[a-z]+").default(json!("ABC"))),
        ["field 's': default breaks the field: must match the pattern [a-z]+ (pattern)"]
    );
    assert_eq!(
        one_field(Field::new("x", FieldType::String).nullable().default(serde_json::Value::Null)),
        ["field 'x': a null default changes nothing (it replaces null)"]
    );
}

#[test]
fn object_defaults_are_checked_inside() {
    let address = FieldType::object(vec![
        Field::new("zip", FieldType::String).required(),
        Field::new("city", FieldType::String).max_length(3),
    ]);
    let strict = FieldType::Object(ObjectType::new(vec![]).reject_unknown_fields());
    let schema = Schema::new("T")
        .field(Field::new("address", address).default(json!({"city": "Paris"})))
        .field(Field::new("tags", FieldType::array(FieldType::String)).default(json!(["a", 1])))
        .field(Field::new("strict", strict).default(json!({"x": 1})));
    assert_eq!(
        problems(&schema),
        [
            "field 'address': default breaks the field at 'address.zip': is required (required)",
            "field 'address': default breaks the field at 'address.city': must have at most 3 characters (has 5) (max_length)",
            "field 'tags': default breaks the field at 'tags[1]': must be a string, not a number (type)",
            "field 'strict': default breaks the field at 'strict.x': is not a declared field, and unknown fields are rejected (unknown_field)",
        ]
    );
}

#[test]
fn a_field_with_a_problem_does_not_get_its_default_checked_too() {
    assert_eq!(
        one_field(Field::new("n", FieldType::Integer).min(5.0).max(1.0).default(json!(3))),
        ["field 'n': min 5 is above max 1"]
    );
}

#[test]
fn defaults_that_expand_endlessly() {
    // Filling `child` fills a Node whose own `child` gets the same default, and so on.
    let schema = Schema::new("Node")
        .field(Field::new("name", FieldType::String))
        .field(Field::new("child", FieldType::reference("Node")).default(json!({"name": "leaf"})));
    assert_eq!(
        problems(&schema),
        ["field 'child': default expands endlessly: filling it fills a default that holds it again"]
    );
}

#[test]
fn branching_default_expansion_is_bounded() {
    // Each default holds two more: without a bound on the work, 2^64 expansions.
    let schema = Schema::new("Tree")
        .field(Field::new("left", FieldType::reference("Tree")).default(json!({})))
        .field(Field::new("right", FieldType::reference("Tree")).default(json!({})));
    let started = std::time::Instant::now();
    let found = problems(&schema);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|p| p.contains("default expands endlessly")));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn a_default_on_a_recursive_link_never_ends() {
    // Every Node gets a `first`, which is a Node: null is replaced by the default too.
    let schema = Schema::new("Node").field(Field::new("name", FieldType::String)).field(
        Field::new("first", FieldType::reference("Node"))
            .nullable()
            .default(json!({"name": "x", "first": {"name": "y", "first": null}})),
    );
    assert_eq!(
        problems(&schema),
        ["field 'first': default expands endlessly: filling it fills a default that holds it again"]
    );
}

#[test]
fn recursive_schemas_with_finite_defaults_compile() {
    let schema = Schema::new("Node")
        .field(Field::new("name", FieldType::String).default(json!("anonymous")))
        .field(Field::new("children", FieldType::array(FieldType::reference("Node"))).default(json!([{}])))
        .field(Field::new("next", FieldType::reference("Node")).nullable());
    let found = problems(&schema);
    // `[{}]` holds a Node, whose `children` default holds a Node again: endless.
    assert_eq!(
        found,
        ["field 'children': default expands endlessly: filling it fills a default that holds it again"]
    );

    let schema = Schema::new("Node")
        .field(Field::new("name", FieldType::String).default(json!("anonymous")))
        .field(Field::new("children", FieldType::array(FieldType::reference("Node"))).default(json!([])))
        .field(Field::new("next", FieldType::reference("Node")).nullable());
    let s = compile(&schema);
    assert_eq!(valid(&s, json!({})), json!({"name": "anonymous", "children": []}));
    assert_eq!(
        valid(&s, json!({"next": {"children": [{"name": "c"}]}})),
        json!({
            "name": "anonymous",
            "children": [],
            "next": {"name": "anonymous", "children": [{"name": "c", "children": []}]},
        })
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let schema = Schema::new("Everything")
        .field(Field::new("a", FieldType::Integer).min(10.0).max(1.0))
        .field(Field::new("b", FieldType::String).pattern("[").min(1.0))
        .field(Field::new("c", FieldType::Number).max_length(3))
        .field(Field::new("d", FieldType::Boolean).required().nullable())
        .field(Field::new("e", FieldType::enumeration(["x", "x"])))
        .field(Field::new("a", FieldType::Boolean))
        .field(Field::new("f", FieldType::reference("Missing")))
        .field(Field::new("g", FieldType::Integer).max(5.0).default(json!(6)))
        .field(Field::new("self", FieldType::reference("Everything")).required());
    let err = CompiledSchema::compile_standalone(&schema, 1).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidSchema);
    let Error::InvalidSchema { schema: name, problems } = &err else { panic!("{err:?}") };
    assert_eq!(name, "Everything");
    assert_eq!(
        problems,
        &[
            "field 'a' is declared 2 times".to_owned(),
            "field 'a': min 10 is above max 1".to_owned(),
            "field 'b': min applies to numbers and integers, not to string".to_owned(),
            "field 'b': pattern \"[\" does not compile: unclosed character class".to_owned(),
            "field 'c': max_length applies to strings and arrays, not to number".to_owned(),
            "field 'd' is both required and nullable: a required field holds a value (drop one, or give a default)"
                .to_owned(),
            "field 'e': enum variant \"x\" is listed more than once".to_owned(),
            "field 'f': schema 'Missing' does not exist".to_owned(),
            format!("endless recursion: the chain of fields 'self' leads back to schema 'Everything'{ENDLESS_TAIL}"),
            "field 'g': default breaks the field: must be at most 5 (max)".to_owned(),
        ]
    );
    let text = err.to_string();
    assert!(
        text.starts_with("invalid schema 'Everything': field 'a' is declared 2 times; field 'a': min 10"),
        "{text}"
    );
    assert_eq!(text.matches("; ").count(), problems.len() - 1);
}

#[test]
fn references_resolve_through_the_resolver_and_are_pinned() {
    let address = Arc::new(CompiledSchema::compile_standalone(&Schema::new("Address"), 7).unwrap());
    let resolver = |name: &str, version: Option<u32>| match (name, version) {
        ("Address", None | Some(7)) => Ok(Arc::clone(&address)),
        ("Address", Some(v)) => Err(format!("schema 'Address' has no version {v}")),
        _ => Err(format!("schema '{name}' does not exist")),
    };
    let order = Schema::new("Order")
        .field(Field::new("a", FieldType::reference("Address")))
        .field(Field::new("b", FieldType::reference_version("Address", 7)))
        .field(Field::new("me", FieldType::reference_version("Order", 2)));
    let compiled = CompiledSchema::compile(&order, 2, &resolver).unwrap();
    let pinned: Vec<_> = compiled
        .definition()
        .fields
        .iter()
        .map(|f| match &f.field_type {
            FieldType::Ref(r) => (r.name.as_str(), r.version),
            other => panic!("{other:?}"),
        })
        .collect();
    // The self reference is stored without a version: it means "this version".
    assert_eq!(pinned, [("Address", Some(7)), ("Address", Some(7)), ("Order", None)]);

    let wrong = Schema::new("Order").field(Field::new("a", FieldType::reference_version("Address", 3)));
    let Err(Error::InvalidSchema { problems, .. }) = CompiledSchema::compile(&wrong, 1, &resolver) else {
        panic!()
    };
    assert_eq!(problems, ["field 'a': schema 'Address' has no version 3"]);
}
