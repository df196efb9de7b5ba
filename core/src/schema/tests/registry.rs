use std::sync::{Arc, Barrier};

use serde_json::json;

use super::{valid, violation, violations};
use crate::error::{Error, ErrorCode};
use crate::schema::{
    CompatibilityMode, CompiledSchema, Field, FieldType, PreparedSchema, Schema, SchemaRegistry, Upsert,
};

fn prepared(registry: &SchemaRegistry, schema: &Schema) -> PreparedSchema {
    match registry.prepare(schema) {
        Ok(Upsert::New(prepared)) => prepared,
        Ok(Upsert::Unchanged(current)) => panic!("unchanged: version {}", current.version()),
        Err(e) => panic!("{e}"),
    }
}

fn upsert(registry: &SchemaRegistry, schema: &Schema) -> Arc<CompiledSchema> {
    registry.install(prepared(registry, schema)).unwrap()
}

fn refused(registry: &SchemaRegistry, schema: &Schema) -> Vec<String> {
    match registry.prepare(schema) {
        Err(Error::InvalidSchema { problems, .. }) => problems,
        Err(other) => panic!("expected INVALID_SCHEMA, got {other}"),
        Ok(_) => panic!("schema '{}' accepted", schema.name),
    }
}

fn address() -> Schema {
    Schema::new("Address").field(Field::new("zip", FieldType::String).required().pattern("[0-9]{5}"))
}

fn order() -> Schema {
    Schema::new("Order")
        .field(Field::new("qty", FieldType::Integer).required().min(1.0))
        .field(Field::new("address", FieldType::reference("Address")))
}

#[test]
fn each_version_compiles_once() {
    let registry = SchemaRegistry::new();
    let first = upsert(&registry, &address());
    assert_eq!(first.version(), 1);
    assert_eq!(registry.compilations(), 1);
    for _ in 0..1000 {
        let latest = registry.latest("Address").unwrap().unwrap();
        assert!(Arc::ptr_eq(&latest, &first));
    }
    assert!(Arc::ptr_eq(&registry.get("Address", 1).unwrap().unwrap(), &first));
    assert_eq!(registry.compilations(), 1);
}

#[test]
fn loaded_versions_compile_lazily_once_with_what_they_refer_to() {
    let registry = SchemaRegistry::new();
    registry.load(1, address()).unwrap();
    let mut stored_order = order();
    stored_order.fields[1].field_type = FieldType::reference_version("Address", 1);
    registry.load(1, stored_order).unwrap();
    assert_eq!(registry.compilations(), 0);

    let order = registry.latest("Order").unwrap().unwrap();
    assert_eq!(registry.compilations(), 2, "Order and the Address it refers to");
    registry.latest("Address").unwrap().unwrap();
    registry.get("Order", 1).unwrap().unwrap();
    assert_eq!(registry.compilations(), 2);
    assert_eq!(
        violations(&order, json!({"qty": 1, "address": {"zip": "x"}})),
        [violation("address.zip", "pattern", json!("x"))]
    );
}

#[test]
fn concurrent_first_use_compiles_once() {
    let registry = SchemaRegistry::new();
    registry.load(1, address()).unwrap();
    let barrier = Barrier::new(8);
    let compiled: Vec<Arc<CompiledSchema>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    registry.latest("Address").unwrap().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(registry.compilations(), 1);
    assert!(compiled.iter().all(|c| Arc::ptr_eq(c, &compiled[0])));
}

#[test]
fn unknown_names_and_versions() {
    let registry = SchemaRegistry::new();
    assert!(registry.latest("Nope").unwrap().is_none());
    upsert(&registry, &address());
    assert!(registry.get("Address", 0).unwrap().is_none());
    assert!(registry.get("Address", 2).unwrap().is_none());
    assert_eq!(registry.latest_version("Address"), Some(1));
    assert_eq!(registry.latest_version("Nope"), None);
    assert_eq!(registry.definition("Address", 1).unwrap().name, "Address");
    assert_eq!(registry.names(), ["Address"]);
}

#[test]
fn versions_count_up_and_an_unchanged_definition_writes_nothing() {
    let registry = SchemaRegistry::new();
    upsert(&registry, &address());
    let v2 = address().field(Field::new("city", FieldType::String));
    assert_eq!(upsert(&registry, &v2).version(), 2);
    match registry.prepare(&v2).unwrap() {
        Upsert::Unchanged(current) => assert_eq!(current.version(), 2),
        Upsert::New(p) => panic!("new version {}", p.version()),
    }
    assert_eq!(registry.latest_version("Address"), Some(2));
}

#[test]
fn invalid_definitions_are_refused_before_anything_changes() {
    let registry = SchemaRegistry::new();
    let broken = Schema::new("Broken").field(Field::new("n", FieldType::Integer).min(2.0).max(1.0));
    assert_eq!(refused(&registry, &broken), ["field 'n': min 2 is above max 1"]);
    assert_eq!(registry.latest_version("Broken"), None);
}

#[test]
fn incompatible_upserts_are_refused_with_every_reason() {
    let registry = SchemaRegistry::new();
    upsert(&registry, &address());
    let breaking = Schema::new("Address")
        .field(Field::new("zip", FieldType::String).required().pattern("[0-9]{4}"))
        .field(Field::new("country", FieldType::String).required());
    let err = registry.prepare(&breaking).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidSchema);
    assert_eq!(
        refused(&registry, &breaking),
        [
            "backward: field 'zip': pattern [0-9]{4} in version 2, [0-9]{5} in version 1",
            "backward: field 'country': required without a default in version 2, absent from version 1",
        ]
    );
    assert_eq!(registry.latest_version("Address"), Some(1));
}

#[test]
fn the_mode_of_the_version_in_force_governs_the_next_upsert() {
    let registry = SchemaRegistry::new();
    upsert(&registry, &address());
    // Declaring mode none does not let this very upsert break the backward mode of version 1...
    let breaking = address().field(Field::new("country", FieldType::String).required());
    refused(&registry, &breaking.clone().compatibility(CompatibilityMode::None));
    // ...relaxing it first, as a version of its own, does.
    upsert(&registry, &address().compatibility(CompatibilityMode::None));
    assert_eq!(upsert(&registry, &breaking.compatibility(CompatibilityMode::Full)).version(), 3);
    let narrower =
        Schema::new("Address").field(Field::new("zip", FieldType::String).required().max_length(2));
    assert_eq!(
        refused(&registry, &narrower),
        [
            "backward: field 'zip': max_length 2 in version 4, none in version 3",
            "forward: field 'zip': pattern [0-9]{5} in version 3, none in version 4",
            "forward: field 'country': required without a default in version 3, absent from version 4",
        ]
    );
}

#[test]
fn references_are_pinned_to_the_latest_version_at_upsert() {
    let registry = SchemaRegistry::new();
    upsert(&registry, &address());
    let order_v1 = upsert(&registry, &order());
    assert_eq!(
        registry.definition("Order", 1).unwrap().fields[1].field_type,
        FieldType::reference_version("Address", 1)
    );

    let address_v2 = address().field(Field::new("country", FieldType::String).max_length(2));
    upsert(&registry, &address_v2);
    // Order version 1 keeps the contract it was written with: country is an unknown member.
    let data = json!({"qty": 1, "address": {"zip": "75001", "country": "France"}});
    valid(&order_v1, data.clone());
    // The same definition upserted again pins Address version 2: a new Order version.
    let order_v2 = upsert(&registry, &order());
    assert_eq!(order_v2.version(), 2);
    assert_eq!(violations(&order_v2, data), [violation("address.country", "max_length", json!("France"))]);
}

#[test]
fn references_to_missing_schemas_or_versions_are_refused() {
    let registry = SchemaRegistry::new();
    assert_eq!(refused(&registry, &order()), ["field 'address': schema 'Address' does not exist"]);
    upsert(&registry, &address());
    let pinned =
        Schema::new("Order").field(Field::new("address", FieldType::reference_version("Address", 5)));
    assert_eq!(
        refused(&registry, &pinned),
        ["field 'address': schema 'Address' has no version 5 (its latest is 1)"]
    );
}

#[test]
fn self_references_stay_unversioned_and_validate_recursive_data() {
    let registry = SchemaRegistry::new();
    let node = Schema::new("Node")
        .field(Field::new("value", FieldType::Integer).required())
        .field(Field::new("next", FieldType::reference("Node")).nullable());
    let compiled = upsert(&registry, &node);
    assert_eq!(registry.definition("Node", 1).unwrap().fields[1].field_type, FieldType::reference("Node"));
    assert_eq!(
        violations(&compiled, json!({"value": 1, "next": {"value": 2, "next": {"next": null}}})),
        [violation("next.next.value", "required", serde_json::Value::Null)]
    );
    // A new version that refers to its predecessor explicitly is not recursive.
    let v2 = node.field(Field::new("previous", FieldType::reference_version("Node", 1)));
    let v2 = upsert(&registry, &v2);
    valid(&v2, json!({"value": 1, "previous": {"value": 0, "next": null}}));
}

#[test]
fn install_refuses_a_version_overtaken_since_it_was_prepared() {
    let registry = SchemaRegistry::new();
    let first = prepared(&registry, &address());
    let other = address().field(Field::new("city", FieldType::String));
    let second = prepared(&registry, &other);
    registry.install(first).unwrap();
    let err = registry.install(second).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
    assert_eq!(registry.latest_version("Address"), Some(1));
}

/// A version loaded from the store while its upsert was being made (a catch-up of a shared
/// log read it first) is the upsert's own: installing the same definition changes nothing.
#[test]
fn installing_a_version_loaded_meanwhile_is_harmless() {
    let registry = SchemaRegistry::new();
    let upserting = prepared(&registry, &address());
    registry.load(1, address()).unwrap();
    assert_eq!(registry.install(upserting).unwrap().version(), 1);
    assert_eq!(registry.latest_version("Address"), Some(1));
}

#[test]
fn loads_must_come_in_order() {
    let registry = SchemaRegistry::new();
    assert_eq!(registry.load(2, address()).unwrap_err().code(), ErrorCode::Corruption);
    assert_eq!(registry.latest_version("Address"), None);
    registry.load(1, address()).unwrap();
    // The same version again (loaded, then installed or loaded once more) is harmless; another
    // definition under a held version is not.
    registry.load(1, address()).unwrap();
    let other = address().field(Field::new("city", FieldType::String));
    assert_eq!(registry.load(1, other).unwrap_err().code(), ErrorCode::Corruption);
    assert_eq!(registry.latest_version("Address"), Some(1));
}

#[test]
fn a_stored_definition_that_no_longer_compiles_is_corruption() {
    let registry = SchemaRegistry::new();
    registry.load(1, Schema::new("Bad").field(Field::new("n", FieldType::Number).min(1.0).max(0.0))).unwrap();
    let err = registry.latest("Bad").unwrap_err();
    assert_eq!(err.code(), ErrorCode::Corruption);
    assert!(err.to_string().contains("field 'n': min 1 is above max 0"), "{err}");
}

#[test]
fn a_cycle_between_stored_definitions_fails_instead_of_overflowing() {
    let registry = SchemaRegistry::new();
    registry.load(1, Schema::new("A").field(Field::new("b", FieldType::reference_version("B", 1)))).unwrap();
    registry.load(1, Schema::new("B").field(Field::new("a", FieldType::reference_version("A", 1)))).unwrap();
    let err = registry.latest("A").unwrap_err();
    assert_eq!(err.code(), ErrorCode::Corruption);
    assert!(err.to_string().contains("nest deeper than 64"), "{err}");
}
