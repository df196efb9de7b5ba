//! A micro-benchmark, not a test: run it in release with
//! `cargo test --release -p graveyard --lib schema -- --ignored --nocapture`.

use std::hint::black_box;
use std::time::Instant;

use serde_json::{json, Value};

use crate::schema::{CompiledSchema, Field, FieldType, Schema, SchemaRegistry, Upsert};

fn scalar_schema() -> Schema {
    Schema::new("OrderPlaced")
        .field(Field::new("order_id", FieldType::String).required().min_length(1).max_length(64))
        .field(Field::new("customer_id", FieldType::Integer).required().min(1.0))
        .field(Field::new("qty", FieldType::Integer).required().min(1.0).max(1000.0))
        .field(Field::new("price", FieldType::Number).required().min(0.0))
        .field(Field::new("currency", FieldType::enumeration(["EUR", "GBP", "USD"])).required())
        .field(Field::new("sku", FieldType::String).required().pattern("[A-Z]{3}-[0-9]{4}"))
        .field(Field::new("gift", FieldType::Boolean))
        .field(Field::new("note", FieldType::String).nullable().max_length(200))
        .field(Field::new("discount", FieldType::Number).min(0.0).max(1.0))
        .field(Field::new("channel", FieldType::String).max_length(16))
}

fn scalar_data() -> Value {
    json!({
        "order_id": "ord-2026-000123", "customer_id": 42, "qty": 3, "price": 19.99, "currency": "EUR",
        "sku": "ABC-1234", "gift": false, "note": null, "discount": 0.1, "channel": "web",
    })
}

fn nested_schema() -> Schema {
    let address = FieldType::object(vec![
        Field::new("zip", FieldType::String).required().max_length(10),
        Field::new("city", FieldType::String).required(),
    ]);
    let line = FieldType::object(vec![
        Field::new("sku", FieldType::String).required(),
        Field::new("qty", FieldType::Integer).required().min(1.0),
    ]);
    Schema::new("OrderShipped")
        .field(Field::new("order_id", FieldType::String).required())
        .field(Field::new("customer_id", FieldType::Integer).required())
        .field(Field::new("total", FieldType::Number).required())
        .field(Field::new("currency", FieldType::enumeration(["EUR", "GBP", "USD"])).required())
        .field(Field::new("express", FieldType::Boolean))
        .field(Field::new("address", address).required())
        .field(Field::new("lines", FieldType::array(line)).required().min_length(1))
        .field(Field::new("tags", FieldType::array(FieldType::String)))
        .field(Field::new("carrier", FieldType::String))
        .field(Field::new("weight", FieldType::Number).min(0.0))
}

fn nested_data() -> Value {
    json!({
        "order_id": "ord-1", "customer_id": 42, "total": 59.97, "currency": "EUR", "express": true,
        "address": {"zip": "75001", "city": "Paris"},
        "lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}, {"sku": "C", "qty": 3}],
        "tags": ["fragile", "gift"], "carrier": "ups", "weight": 1.5,
    })
}

fn ns_per_call(iterations: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iterations / 10 {
        f();
    }
    let started = Instant::now();
    for _ in 0..iterations {
        f();
    }
    started.elapsed().as_nanos() as f64 / f64::from(iterations)
}

#[test]
#[ignore = "micro-benchmark: run in release with --ignored --nocapture"]
fn bench_validation() {
    let scalar = CompiledSchema::compile_standalone(&scalar_schema(), 1).unwrap();
    let mut data = scalar_data();
    scalar.validate(&mut data).unwrap();
    let ns = ns_per_call(2_000_000, || {
        black_box(scalar.validate(black_box(&mut data))).unwrap();
    });
    println!("validate, 10 scalar fields (one pattern, one enum, lengths, ranges): {ns:.0} ns");

    let nested = CompiledSchema::compile_standalone(&nested_schema(), 1).unwrap();
    let mut data = nested_data();
    nested.validate(&mut data).unwrap();
    let ns = ns_per_call(1_000_000, || {
        black_box(nested.validate(black_box(&mut data))).unwrap();
    });
    println!("validate, 10 fields with a nested object and an array of 3 objects: {ns:.0} ns");

    let bytes = serde_json::to_vec(&scalar_data()).unwrap();
    let ns = ns_per_call(500_000, || {
        let mut value: Value = serde_json::from_slice(black_box(&bytes)).unwrap();
        black_box(scalar.validate(&mut value)).unwrap();
    });
    println!("for scale: parse the 10-field object from JSON bytes, then validate: {ns:.0} ns");
    let ns = ns_per_call(500_000, || {
        assert!(scalar.conforms_as_is(black_box(&bytes)));
    });
    println!("the append path: conforms_as_is on the same bytes (parse and check, no value): {ns:.0} ns");
    let nested_bytes = serde_json::to_vec(&nested_data()).unwrap();
    let ns = ns_per_call(500_000, || {
        assert!(nested.conforms_as_is(black_box(&nested_bytes)));
    });
    println!("the append path: conforms_as_is, nested object and array of 3 objects: {ns:.0} ns");
    let ns = ns_per_call(500_000, || {
        black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&bytes))).unwrap();
    });
    println!("baseline of every JSON append: the syntax check of the same bytes: {ns:.0} ns");

    let registry = SchemaRegistry::new();
    let Upsert::New(prepared) = registry.prepare(&scalar_schema()).unwrap() else { unreachable!() };
    registry.install(prepared).unwrap();
    let ns = ns_per_call(2_000_000, || {
        black_box(registry.latest(black_box("OrderPlaced")).unwrap());
    });
    println!("registry.latest(name), compiled already: {ns:.0} ns");
}
