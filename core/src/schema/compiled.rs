//! The compiled form of one schema version: what validation walks for every event.
//!
//! Everything validation needs is resolved here once (regexes compiled, references replaced by
//! the referenced compiled schemas, enum variants sorted, defaults checked and expanded), so
//! validating an event does no lookup by name, no compilation and, when the data is valid and
//! needs no default, no allocation.

use std::sync::Arc;

use regex::Regex;
use serde_json::Value;

use super::model::{CompatibilityMode, Schema};
use super::validate::{self, ValidationOutcome, Violation};
use crate::error::{Error, Result};

/// A schema version ready to validate data. Immutable; shared as `Arc<CompiledSchema>`.
#[derive(Debug)]
pub struct CompiledSchema {
    pub(super) definition: Schema,
    pub(super) version: u32,
    /// `objects[0]` is the schema's own object; the others are the objects declared inline,
    /// and `ObjectRef::Local` indexes into this list, which is how a schema refers to itself
    /// without a reference cycle between `Arc`s.
    pub(super) objects: Vec<CompiledObject>,
}

impl CompiledSchema {
    pub fn name(&self) -> &str {
        &self.definition.name
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// The definition as stored: references carry the version they were pinned to.
    pub fn definition(&self) -> &Schema {
        &self.definition
    }

    pub fn compatibility(&self) -> CompatibilityMode {
        self.definition.compatibility
    }

    /// Checks `data` and fills the defaults of absent or null fields in place. On failure the
    /// value may hold some defaults already; callers drop it. At most
    /// [`MAX_VIOLATIONS`](super::MAX_VIOLATIONS) violations are reported.
    pub fn validate(&self, data: &mut Value) -> std::result::Result<ValidationOutcome, Vec<Violation>> {
        validate::validate_root(&self.objects, data)
    }

    /// True when `data` (JSON bytes) is one object valid under this schema that needs no
    /// default, so it can be stored byte for byte; checked while parsing, without building a
    /// value. False says nothing about the data: [`validate`](Self::validate) it.
    pub fn conforms_as_is(&self, data: &[u8]) -> bool {
        super::fast::conforms_as_is(&self.objects, data)
    }

    /// [`validate`](Self::validate) with its failure as the `SCHEMA_VIOLATION` error of the
    /// event at index `event` of an append.
    pub fn check(&self, event: usize, data: &mut Value) -> Result<ValidationOutcome> {
        self.validate(data).map_err(|violations| Error::SchemaViolation {
            schema: self.definition.name.clone(),
            version: self.version,
            event,
            violations,
        })
    }

    pub(super) fn root(&self) -> &CompiledObject {
        &self.objects[0]
    }
}

#[derive(Debug)]
pub(super) struct CompiledObject {
    pub fields: Box<[CompiledField]>,
    pub reject_unknown: bool,
}

impl CompiledObject {
    pub fn field(&self, name: &str) -> Option<&CompiledField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

#[derive(Debug)]
pub(super) struct CompiledField {
    pub name: String,
    pub ty: CompiledType,
    /// Already valid for the field and already expanded (its own absent fields that have
    /// defaults are filled), so validation inserts it without looking inside.
    pub default: Option<Value>,
    pub required: bool,
    pub nullable: bool,
}

impl CompiledField {
    /// Data stored under this field can lack it.
    pub fn may_be_absent(&self) -> bool {
        !self.required && self.default.is_none()
    }

    /// Data stored under this field can hold null there.
    pub fn may_be_null(&self) -> bool {
        self.nullable && self.default.is_none()
    }
}

#[derive(Debug)]
pub(super) enum CompiledType {
    Number(NumberRange),
    Integer(NumberRange),
    String(StringRules),
    Boolean,
    /// Sorted and without duplicates, for a binary search.
    Enum(Box<[String]>),
    Array {
        length: LengthRange,
        element: Box<CompiledType>,
    },
    Object(ObjectRef),
}

impl CompiledType {
    pub fn kind(&self) -> &'static str {
        match self {
            CompiledType::Number(_) => "number",
            CompiledType::Integer(_) => "integer",
            CompiledType::String(_) => "string",
            CompiledType::Boolean => "boolean",
            CompiledType::Enum(_) => "enum",
            CompiledType::Array { .. } => "array",
            CompiledType::Object(_) => "object",
        }
    }
}

#[derive(Debug)]
pub(super) enum ObjectRef {
    /// An object of the same compiled schema (inline, or the schema itself).
    Local(usize),
    /// The root object of another compiled schema. References are pinned to versions that
    /// existed before the referring one, so these `Arc`s never form a cycle.
    External(Arc<CompiledSchema>),
}

impl ObjectRef {
    /// The object referred to and the object list its own local references index into.
    pub fn resolve<'a>(&'a self, local: &'a [CompiledObject]) -> (&'a [CompiledObject], &'a CompiledObject) {
        match self {
            ObjectRef::Local(index) => (local, &local[*index]),
            ObjectRef::External(schema) => (&schema.objects, schema.root()),
        }
    }
}

/// Inclusive bounds, finite (checked at compile time).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct NumberRange {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Inclusive bounds of a length: characters of a string, items of an array.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct LengthRange {
    pub min: Option<usize>,
    pub max: Option<usize>,
}

impl LengthRange {
    pub fn holds(self, len: usize) -> bool {
        self.min.is_none_or(|min| len >= min) && self.max.is_none_or(|max| len <= max)
    }

    /// Whether a string of `bytes` UTF-8 bytes is within these limits of characters whatever
    /// its characters: it has at most `bytes` and at least a quarter as many. When false, the
    /// characters must be counted.
    pub fn settled_by_bytes(self, bytes: usize) -> bool {
        self.min.is_none_or(|min| bytes.div_ceil(4) >= min) && self.max.is_none_or(|max| bytes <= max)
    }
}

#[derive(Debug, Default)]
pub(super) struct StringRules {
    pub length: LengthRange,
    pub pattern: Option<Box<Pattern>>,
}

#[derive(Debug)]
pub(super) struct Pattern {
    /// As the user wrote it: what messages show and what compatibility compares.
    pub source: String,
    /// `source` anchored at both ends.
    pub regex: Regex,
}
