//! Unit tests of the schema engine. Violations are compared as (path, rule, value) triples:
//! those are the contract; messages are for people and only checked where they carry meaning.

mod bench;
mod compat;
mod fast;
mod invalid;
mod model;
mod registry;
mod validate;

use serde_json::Value;

use super::{CompiledSchema, Schema};
use crate::error::Error;

fn compile(schema: &Schema) -> CompiledSchema {
    CompiledSchema::compile_standalone(schema, 1).unwrap_or_else(|e| panic!("{e}"))
}

/// The problems an invalid definition is refused with.
fn problems(schema: &Schema) -> Vec<String> {
    match CompiledSchema::compile_standalone(schema, 1) {
        Err(Error::InvalidSchema { schema: name, problems }) => {
            assert_eq!(name, schema.name);
            problems
        }
        Err(other) => panic!("expected INVALID_SCHEMA, got {other}"),
        Ok(_) => panic!("schema '{}' compiled, expected it refused", schema.name),
    }
}

/// Validates `data`, which must pass, and returns it with its defaults.
fn valid(schema: &CompiledSchema, mut data: Value) -> Value {
    if let Err(violations) = schema.validate(&mut data) {
        panic!("expected valid, got {violations:#?}");
    }
    data
}

/// The violations of `data`, which must fail, as (path, rule, value).
fn violations(schema: &CompiledSchema, mut data: Value) -> Vec<(String, &'static str, Value)> {
    match schema.validate(&mut data) {
        Ok(_) => panic!("expected violations, the data is valid: {data}"),
        Err(violations) => violations.into_iter().map(|v| (v.path, v.rule.as_str(), v.value)).collect(),
    }
}

/// One expected violation, written briefly.
fn violation(path: &str, rule: &'static str, value: Value) -> (String, &'static str, Value) {
    (path.to_owned(), rule, value)
}
