//! Schemas: named contracts for the JSON data of events.
//!
//! A [`Schema`] names the event type it governs and declares its fields. It is checked and
//! compiled once per version into a [`CompiledSchema`] (regexes compiled, references resolved,
//! defaults checked), which validates data with [`CompiledSchema::validate`]: every problem
//! becomes a [`Violation`] with its path, its rule and the offending value, and absent or null
//! fields that have a default receive it. [`SchemaRegistry`] holds every version, compiles each
//! once and hands out `Arc<CompiledSchema>`; [`check_compatibility`] decides whether a new
//! version keeps the [`CompatibilityMode`] of the one it replaces.
//!
//! Semantics worth knowing:
//! - `required` means present and not null; it cannot be combined with `nullable`. A default
//!   replaces absent and null values (nullable or not), so a required field with a default
//!   never fails.
//! - Patterns match the whole string.
//! - References to other schemas are pinned to a version when the referring schema is
//!   upserted, so a stored version keeps its meaning; a schema that references its own name
//!   refers to itself (recursive data), which is refused only when no finite data can satisfy
//!   it.
//! - Each version is compatible with its predecessor by the predecessor's mode.

mod compat;
mod compile;
mod compiled;
mod fast;
mod model;
mod registry;
mod validate;

pub use compat::check_compatibility;
pub use compile::{NoReferences, SchemaResolver};
pub use compiled::CompiledSchema;
pub use model::{CompatibilityMode, Field, FieldType, ObjectType, Schema, SchemaRef, UnknownFields};
pub use registry::{PreparedSchema, SchemaRegistry, Upsert};
pub use validate::{ValidationOutcome, Violation, ViolationRule, MAX_VIOLATIONS};

use crate::MAX_STREAM_NAME_LEN;

/// The versions of schema `<name>` are the events of stream `$schema-<name>`.
pub const SCHEMA_STREAM_PREFIX: &str = "$schema-";

/// Longest schema name, in bytes: its stream name must fit in [`MAX_STREAM_NAME_LEN`].
pub const MAX_SCHEMA_NAME_LEN: usize = MAX_STREAM_NAME_LEN - SCHEMA_STREAM_PREFIX.len();

/// The stream holding the versions of schema `name`.
pub fn schema_stream(name: &str) -> String {
    format!("{SCHEMA_STREAM_PREFIX}{name}")
}

/// What [`crate::Db::upsert_schema`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchemaUpsert {
    pub name: String,
    /// The version now latest: the new one, or the existing one when nothing changed.
    pub version: u32,
    /// False when the definition equalled the latest version, and nothing was written.
    pub changed: bool,
}

/// One stored version of a schema. JSON: `{"name", "version", "schema"}`, `schema` the
/// definition in its own JSON form.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredSchema {
    pub version: u32,
    /// As stored: references to other schemas carry the version they were pinned to.
    pub schema: Schema,
}

impl serde::Serialize for RegisteredSchema {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("RegisteredSchema", 3)?;
        s.serialize_field("name", &self.schema.name)?;
        s.serialize_field("version", &self.version)?;
        s.serialize_field("schema", &self.schema)?;
        s.end()
    }
}

/// `parent.name`, or `name` at the top.
fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

#[cfg(test)]
mod tests;
