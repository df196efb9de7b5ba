use std::sync::Arc;

use serde_json::{json, Number, Value};

use super::{compile, valid, violation, violations};
use crate::error::{Error, ErrorCode};
use crate::schema::validate::compare_number;
use crate::schema::{CompiledSchema, Field, FieldType, ObjectType, Schema, MAX_VIOLATIONS};

fn one_field(field: Field) -> CompiledSchema {
    compile(&Schema::new("T").field(field))
}

#[test]
fn number_accepts_integers_and_fractions_within_bounds() {
    let s = one_field(Field::new("x", FieldType::Number).min(-1.5).max(10.0));
    for ok in [json!(-1.5), json!(0), json!(3.25), json!(10), json!(10.0)] {
        valid(&s, json!({ "x": ok }));
    }
    assert_eq!(violations(&s, json!({"x": -1.6})), [violation("x", "min", json!(-1.6))]);
    assert_eq!(violations(&s, json!({"x": 10.01})), [violation("x", "max", json!(10.01))]);
    assert_eq!(violations(&s, json!({"x": "1"})), [violation("x", "type", json!("1"))]);
    assert_eq!(violations(&s, json!({"x": true})), [violation("x", "type", json!(true))]);
}

#[test]
fn integer_refuses_fractions_and_exponents() {
    let s = one_field(Field::new("n", FieldType::Integer).min(1.0).max(100.0));
    for ok in [json!(1), json!(50), json!(100)] {
        valid(&s, json!({ "n": ok }));
    }
    assert_eq!(violations(&s, json!({"n": 0})), [violation("n", "min", json!(0))]);
    assert_eq!(violations(&s, json!({"n": 101})), [violation("n", "max", json!(101))]);
    assert_eq!(violations(&s, json!({"n": 1.5})), [violation("n", "type", json!(1.5))]);
    assert_eq!(violations(&s, json!({"n": 3.0})), [violation("n", "type", json!(3.0))]);
    let exponent: Value = serde_json::from_str(r#"{"n": 1e1}"#).unwrap();
    assert_eq!(violations(&s, exponent), [violation("n", "type", json!(10.0))]);
    assert_eq!(violations(&s, json!({"n": "5"})), [violation("n", "type", json!("5"))]);
}

#[test]
fn integer_without_bounds_takes_the_whole_u64_and_i64_range() {
    let s = one_field(Field::new("n", FieldType::Integer));
    valid(&s, json!({"n": u64::MAX}));
    valid(&s, json!({"n": i64::MIN}));
}

#[test]
fn bounds_compare_large_integers_exactly() {
    // 2^53 + 1 rounds to 2^53 as a double; the comparison must not round it.
    let s = one_field(Field::new("n", FieldType::Integer).max(9_007_199_254_740_992.0));
    valid(&s, json!({"n": 9_007_199_254_740_992_u64}));
    assert_eq!(
        violations(&s, json!({"n": 9_007_199_254_740_993_u64})),
        [violation("n", "max", json!(9_007_199_254_740_993_u64))]
    );
    let s = one_field(Field::new("n", FieldType::Integer).min(-9_007_199_254_740_992.0));
    assert_eq!(
        violations(&s, json!({"n": -9_007_199_254_740_993_i64})),
        [violation("n", "min", json!(-9_007_199_254_740_993_i64))]
    );
}

#[test]
fn compare_number_handles_fractional_and_out_of_range_bounds() {
    use std::cmp::Ordering::*;
    let n = |v: Value| match v {
        Value::Number(n) => n,
        _ => unreachable!(),
    };
    assert_eq!(compare_number(&n(json!(0)), 0.5), Less);
    assert_eq!(compare_number(&n(json!(1)), 0.5), Greater);
    assert_eq!(compare_number(&n(json!(-1)), -0.5), Less);
    assert_eq!(compare_number(&n(json!(0)), -0.5), Greater);
    assert_eq!(compare_number(&n(json!(7)), 7.0), Equal);
    assert_eq!(compare_number(&n(json!(i64::MAX)), 1e19), Less);
    assert_eq!(compare_number(&n(json!(i64::MIN)), -1e19), Greater);
    assert_eq!(compare_number(&n(json!(u64::MAX)), 1e30), Less);
    assert_eq!(compare_number(&n(json!(u64::MAX)), 1e19), Greater);
    assert_eq!(compare_number(&n(json!(u64::MAX)), -1.0), Greater);
    assert_eq!(compare_number(&Number::from_f64(2.5).unwrap(), 2.5), Equal);
    assert_eq!(compare_number(&Number::from_f64(2.4).unwrap(), 2.5), Less);
}

#[test]
fn string_lengths_count_characters_not_bytes() {
    let s = one_field(Field::new("s", FieldType::String).min_length(2).max_length(3));
    valid(&s, json!({"s": "ab"}));
    valid(&s, json!({"s": "héé"})); // 5 bytes, 3 characters
    valid(&s, json!({"s": "🦀🦀"})); // 8 bytes, 2 characters
    assert_eq!(violations(&s, json!({"s": "a"})), [violation("s", "min_length", json!("a"))]);
    assert_eq!(violations(&s, json!({"s": "🦀"})), [violation("s", "min_length", json!("🦀"))]);
    assert_eq!(violations(&s, json!({"s": "abcd"})), [violation("s", "max_length", json!("abcd"))]);
    assert_eq!(violations(&s, json!({"s": "éééé"})), [violation("s", "max_length", json!("éééé"))]);
    assert_eq!(violations(&s, json!({"s": 12})), [violation("s", "type", json!(12))]);
}

#[test]
fn length_messages_give_the_limit_and_the_actual_length() {
    let s = one_field(Field::new("s", FieldType::String).max_length(2));
    let mut data = json!({"s": "abc"});
    let found = s.validate(&mut data).unwrap_err();
    assert_eq!(found[0].message, "must have at most 2 characters (has 3)");
    assert_eq!(found[0].to_string(), "s: must have at most 2 characters (has 3) (max_length)");
}

#[test]
fn pattern_must_match_the_whole_string() {
    let s = one_field(Field::new("s", FieldType::String).pattern("a+"));
    valid(&s, json!({"s": "a"}));
    valid(&s, json!({"s": "aaa"}));
    for bad in ["baa", "aab", "", "a\n"] {
        assert_eq!(violations(&s, json!({ "s": bad })), [violation("s", "pattern", json!(bad))], "{bad:?}");
    }
}

#[test]
fn pattern_alternatives_are_anchored_as_a_whole() {
    let s = one_field(Field::new("s", FieldType::String).pattern("cat|dog"));
    valid(&s, json!({"s": "cat"}));
    valid(&s, json!({"s": "dog"}));
    for bad in ["cats", "hotdog", "catdog"] {
        assert_eq!(violations(&s, json!({ "s": bad })), [violation("s", "pattern", json!(bad))], "{bad:?}");
    }
}

#[test]
fn pattern_flags_inside_the_pattern_do_not_unanchor_it() {
    let s = one_field(Field::new("s", FieldType::String).pattern("(?m)^a$"));
    assert_eq!(violations(&s, json!({"s": "a\nb"})), [violation("s", "pattern", json!("a\nb"))]);
    let s = one_field(Field::new("s", FieldType::String).pattern("(?i)abc"));
    valid(&s, json!({"s": "ABC"}));
}

#[test]
fn string_reports_length_and_pattern_together() {
    let s = one_field(Field::new("zip", FieldType::String).pattern("[0-9]+").max_length(5));
    assert_eq!(
        violations(&s, json!({"zip": "123456x"})),
        [violation("zip", "max_length", json!("123456x")), violation("zip", "pattern", json!("123456x"))]
    );
}

#[test]
fn boolean_accepts_only_booleans() {
    let s = one_field(Field::new("b", FieldType::Boolean));
    valid(&s, json!({"b": true}));
    valid(&s, json!({"b": false}));
    assert_eq!(violations(&s, json!({"b": "true"})), [violation("b", "type", json!("true"))]);
    assert_eq!(violations(&s, json!({"b": 1})), [violation("b", "type", json!(1))]);
}

#[test]
fn enum_accepts_only_its_variants() {
    let s = one_field(Field::new("c", FieldType::enumeration(["EUR", "USD", "GBP"])));
    for ok in ["EUR", "USD", "GBP"] {
        valid(&s, json!({ "c": ok }));
    }
    assert_eq!(violations(&s, json!({"c": "eur"})), [violation("c", "enum", json!("eur"))]);
    assert_eq!(violations(&s, json!({"c": "JPY"})), [violation("c", "enum", json!("JPY"))]);
    assert_eq!(violations(&s, json!({"c": 1})), [violation("c", "type", json!(1))]);
    let mut data = json!({"c": "JPY"});
    assert_eq!(s.validate(&mut data).unwrap_err()[0].message, "must be one of: EUR, GBP, USD");

    let many = one_field(Field::new("c", FieldType::enumeration((0..25).map(|i| format!("v{i:02}")))));
    let mut data = json!({"c": "x"});
    let message = &many.validate(&mut data).unwrap_err()[0].message;
    assert!(message.starts_with("must be one of: v00, v01,"), "{message}");
    assert!(message.ends_with("v19 (and 5 more)"), "{message}");
}

#[test]
fn array_checks_length_and_every_item() {
    let s = one_field(Field::new("tags", FieldType::array(FieldType::String)).min_length(1).max_length(3));
    valid(&s, json!({"tags": ["a"]}));
    valid(&s, json!({"tags": ["a", "b", "c"]}));
    assert_eq!(violations(&s, json!({"tags": []})), [violation("tags", "min_length", json!([]))]);
    assert_eq!(
        violations(&s, json!({"tags": ["a", "b", "c", "d"]})),
        [violation("tags", "max_length", json!(["a", "b", "c", "d"]))]
    );
    assert_eq!(
        violations(&s, json!({"tags": ["a", 2, null]})),
        [violation("tags[1]", "type", json!(2)), violation("tags[2]", "nullable", Value::Null)]
    );
    assert_eq!(violations(&s, json!({"tags": "a"})), [violation("tags", "type", json!("a"))]);
}

#[test]
fn arrays_of_arrays_and_of_enums_report_nested_indexes() {
    let s = compile(
        &Schema::new("T")
            .field(Field::new("m", FieldType::array(FieldType::array(FieldType::Integer))))
            .field(Field::new("e", FieldType::array(FieldType::enumeration(["x", "y"])))),
    );
    valid(&s, json!({"m": [[1, 2], []], "e": ["x", "y", "x"]}));
    assert_eq!(
        violations(&s, json!({"m": [[1], [2, 2.5]], "e": ["x", "z"]})),
        [violation("m[1][1]", "type", json!(2.5)), violation("e[1]", "enum", json!("z"))]
    );
}

#[test]
fn required_nullable_and_optional_fields() {
    let s = compile(
        &Schema::new("T")
            .field(Field::new("id", FieldType::String).required())
            .field(Field::new("note", FieldType::String).nullable())
            .field(Field::new("tag", FieldType::String)),
    );
    valid(&s, json!({"id": "1"}));
    valid(&s, json!({"id": "1", "note": null, "tag": "x"}));
    assert_eq!(violations(&s, json!({})), [violation("id", "required", Value::Null)]);
    assert_eq!(violations(&s, json!({"id": null})), [violation("id", "nullable", Value::Null)]);
    assert_eq!(violations(&s, json!({"id": "1", "tag": null})), [violation("tag", "nullable", Value::Null)]);
}

#[test]
fn data_that_is_not_an_object_is_refused_at_the_root() {
    let s = one_field(Field::new("x", FieldType::Number));
    for bad in [json!([1]), json!("x"), json!(1), Value::Null, json!(true)] {
        assert_eq!(violations(&s, bad.clone()), [violation("", "not_an_object", bad)]);
    }
    let mut data = json!([]);
    let found = s.validate(&mut data).unwrap_err();
    assert_eq!(found[0].to_string(), "must be a JSON object, not an array (not_an_object)");
}

#[test]
fn unknown_fields_are_kept_by_default() {
    let s = one_field(Field::new("x", FieldType::Number));
    assert_eq!(
        valid(&s, json!({"x": 1, "extra": {"any": "thing"}})),
        json!({"x": 1, "extra": {"any": "thing"}})
    );
}

#[test]
fn unknown_fields_are_refused_when_rejected() {
    let s = compile(
        &Schema::new("T")
            .field(Field::new("x", FieldType::Number))
            .field(Field::new("y", FieldType::Number).default(json!(0)))
            .reject_unknown_fields(),
    );
    valid(&s, json!({"x": 1}));
    valid(&s, json!({}));
    assert_eq!(
        violations(&s, json!({"x": 1, "b": [1], "a": "z"})),
        [violation("a", "unknown_field", json!("z")), violation("b", "unknown_field", json!([1]))]
    );
    // A filled default is a declared member, not an unknown one.
    assert_eq!(violations(&s, json!({"q": 1})), [violation("q", "unknown_field", json!(1))]);
}

#[test]
fn unknown_field_modes_apply_per_object() {
    let strict = ObjectType::new(vec![Field::new("zip", FieldType::String)]).reject_unknown_fields();
    let s = compile(
        &Schema::new("T")
            .field(Field::new("strict", FieldType::Object(strict)))
            .field(Field::new("open", FieldType::object(vec![Field::new("zip", FieldType::String)]))),
    );
    valid(&s, json!({"root_extra": 1, "open": {"zip": "1", "extra": 2}}));
    assert_eq!(
        violations(&s, json!({"strict": {"zip": "1", "extra": 2}})),
        [violation("strict.extra", "unknown_field", json!(2))]
    );
}

#[test]
fn defaults_fill_absent_and_null_fields_and_keep_given_values() {
    let s = compile(
        &Schema::new("T")
            .field(
                Field::new("currency", FieldType::enumeration(["EUR", "USD"]))
                    .required()
                    .default(json!("EUR")),
            )
            .field(Field::new("qty", FieldType::Integer).nullable().default(json!(1)))
            .field(Field::new("note", FieldType::String)),
    );
    let mut data = json!({});
    let outcome = s.validate(&mut data).unwrap();
    assert_eq!(data, json!({"currency": "EUR", "qty": 1}));
    assert_eq!(outcome.defaults_filled, 2);
    assert!(outcome.changed());

    let mut data = json!({"currency": null, "qty": null, "note": "n"});
    assert_eq!(s.validate(&mut data).unwrap().defaults_filled, 2);
    assert_eq!(data, json!({"currency": "EUR", "qty": 1, "note": "n"}));

    let mut data = json!({"currency": "USD", "qty": 7});
    let outcome = s.validate(&mut data).unwrap();
    assert_eq!(data, json!({"currency": "USD", "qty": 7}));
    assert!(!outcome.changed());
}

#[test]
fn object_defaults_are_stored_expanded_with_their_nested_defaults() {
    let shipping = FieldType::object(vec![
        Field::new("method", FieldType::String).default(json!("post")),
        Field::new("days", FieldType::Integer).default(json!(3)),
    ]);
    let s = compile(&Schema::new("T").field(Field::new("shipping", shipping).default(json!({"days": 1}))));
    assert_eq!(valid(&s, json!({})), json!({"shipping": {"method": "post", "days": 1}}));
    assert_eq!(valid(&s, json!({"shipping": {}})), json!({"shipping": {"method": "post", "days": 3}}));
}

#[test]
fn inline_objects_report_nested_paths() {
    let address = FieldType::object(vec![
        Field::new("street", FieldType::String).required(),
        Field::new("zip", FieldType::String).required().pattern("[0-9]{5}"),
    ]);
    let s = compile(&Schema::new("T").field(Field::new("address", address).required()));
    valid(&s, json!({"address": {"street": "Main", "zip": "12345"}}));
    assert_eq!(
        violations(&s, json!({"address": {"zip": "1234"}})),
        [
            violation("address.street", "required", Value::Null),
            violation("address.zip", "pattern", json!("1234"))
        ]
    );
    assert_eq!(violations(&s, json!({"address": "Main 1"})), [violation("address", "type", json!("Main 1"))]);
    assert_eq!(violations(&s, json!({})), [violation("address", "required", Value::Null)]);
}

#[test]
fn named_objects_are_validated_by_the_referenced_schema() {
    let address = Arc::new(compile(
        &Schema::new("Address")
            .field(Field::new("zip", FieldType::String).required().pattern("[0-9]{5}"))
            .field(Field::new("country", FieldType::String).default(json!("FR"))),
    ));
    let resolver = |name: &str, _version: Option<u32>| {
        if name == "Address" {
            Ok(Arc::clone(&address))
        } else {
            Err(format!("schema '{name}' does not exist"))
        }
    };
    let order = Schema::new("Order")
        .field(Field::new("billing", FieldType::reference("Address")).required())
        .field(Field::new("shipping", FieldType::reference("Address")).nullable());
    let s = CompiledSchema::compile(&order, 1, &resolver).unwrap();
    assert_eq!(
        valid(&s, json!({"billing": {"zip": "75001"}, "shipping": null})),
        json!({"billing": {"zip": "75001", "country": "FR"}, "shipping": null})
    );
    assert_eq!(
        violations(&s, json!({"billing": {"zip": "7500"}, "shipping": {}})),
        [
            violation("billing.zip", "pattern", json!("7500")),
            violation("shipping.zip", "required", Value::Null)
        ]
    );
}

#[test]
fn arrays_of_objects_report_the_item_index() {
    let item = FieldType::object(vec![
        Field::new("sku", FieldType::String).required(),
        Field::new("qty", FieldType::Integer).required().min(1.0),
    ]);
    let s = compile(&Schema::new("Order").field(Field::new("items", FieldType::array(item)).required()));
    valid(&s, json!({"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]}));
    assert_eq!(
        violations(
            &s,
            json!({"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 1}, {"sku": "c", "qty": 0}, 7]})
        ),
        [violation("items[2].qty", "min", json!(0)), violation("items[3]", "type", json!(7))]
    );
}

#[test]
fn recursive_data_is_validated_to_any_depth() {
    let s = compile(
        &Schema::new("Node")
            .field(Field::new("value", FieldType::Integer).required())
            .field(Field::new("next", FieldType::reference("Node")).nullable())
            .field(Field::new("children", FieldType::array(FieldType::reference("Node")))),
    );
    valid(&s, json!({"value": 1, "next": {"value": 2, "next": {"value": 3, "next": null}}}));
    assert_eq!(
        violations(
            &s,
            json!({"value": 1, "next": {"value": 2, "next": {"value": "3"}}, "children": [{"value": 4}, {}]})
        ),
        [
            violation("next.next.value", "type", json!("3")),
            violation("children[1].value", "required", Value::Null)
        ]
    );
}

#[test]
fn every_violation_is_reported_in_field_order() {
    let s = compile(
        &Schema::new("T")
            .field(Field::new("a", FieldType::Integer).required())
            .field(Field::new("b", FieldType::String).max_length(1))
            .field(Field::new("c", FieldType::Boolean))
            .field(Field::new("d", FieldType::enumeration(["x"])))
            .reject_unknown_fields(),
    );
    assert_eq!(
        violations(&s, json!({"b": "long", "c": 0, "d": "y", "e": 1})),
        [
            violation("a", "required", Value::Null),
            violation("b", "max_length", json!("long")),
            violation("c", "type", json!(0)),
            violation("d", "enum", json!("y")),
            violation("e", "unknown_field", json!(1)),
        ]
    );
}

#[test]
fn violations_stop_at_the_cap() {
    let s = one_field(Field::new("xs", FieldType::array(FieldType::Integer)));
    let data = json!({ "xs": vec!["not a number"; 1000] });
    let found = violations(&s, data);
    assert_eq!(found.len(), MAX_VIOLATIONS);
    assert_eq!(found[99], violation("xs[99]", "type", json!("not a number")));
}

#[test]
fn check_reports_schema_violation_with_name_version_and_violations() {
    let schema = Schema::new("Order").field(Field::new("qty", FieldType::Integer).min(1.0).required());
    let s = CompiledSchema::compile_standalone(&schema, 4).unwrap();
    let err = s.check(2, &mut json!({"qty": 0})).unwrap_err();
    assert_eq!(err.code(), ErrorCode::SchemaViolation);
    assert_eq!(
        err.to_string(),
        "event 2: data violates schema 'Order' version 4: qty: must be at least 1 (min)"
    );
    match err {
        Error::SchemaViolation { schema, version, event, violations } => {
            assert_eq!((schema.as_str(), version, event), ("Order", 4, 2));
            assert_eq!(violations.len(), 1);
            assert_eq!(violations[0].value, json!(0));
        }
        other => panic!("{other:?}"),
    }
    assert!(s.check(0, &mut json!({"qty": 1})).is_ok());
}

#[test]
fn violations_serialise_with_snake_case_rules() {
    let s = one_field(Field::new("n", FieldType::Integer).max(1.0));
    let mut data = json!({"n": 2});
    let found = s.validate(&mut data).unwrap_err();
    assert_eq!(
        serde_json::to_value(&found[0]).unwrap(),
        json!({"path": "n", "rule": "max", "value": 2, "message": "must be at most 1"})
    );
    let rules = [
        ("required", json!("required")),
        ("min_length", json!("min_length")),
        ("unknown_field", json!("unknown_field")),
        ("not_an_object", json!("not_an_object")),
    ];
    for (name, value) in rules {
        let rule: crate::schema::ViolationRule = serde_json::from_value(value).unwrap();
        assert_eq!(rule.as_str(), name);
    }
}
