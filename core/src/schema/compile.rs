//! Compilation of a definition into a [`CompiledSchema`], refusing invalid definitions.
//!
//! A refused definition reports every problem found, not the first: a schema author fixes
//! them all in one round. Checks that build on a field (its default) are skipped when the
//! field itself is wrong, so one mistake is not reported again in other words.

use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;

use super::compiled::{
    CompiledField, CompiledObject, CompiledSchema, CompiledType, LengthRange, NumberRange, ObjectRef,
    Pattern, StringRules,
};
use super::model::{Field, FieldType, Schema, SchemaRef, UnknownFields};
use super::validate::expand_default;
use super::{join, MAX_SCHEMA_NAME_LEN, MAX_VIOLATIONS};
use crate::error::{Error, Result};

/// Finds the schemas a definition refers to.
pub trait SchemaResolver {
    /// Schema `name` at `version`, or at its latest version when `version` is `None`. The
    /// error says why it cannot be had, as a sentence for the `INVALID_SCHEMA` problems.
    fn resolve(&self, name: &str, version: Option<u32>) -> std::result::Result<Arc<CompiledSchema>, String>;
}

impl<F> SchemaResolver for F
where
    F: Fn(&str, Option<u32>) -> std::result::Result<Arc<CompiledSchema>, String>,
{
    fn resolve(&self, name: &str, version: Option<u32>) -> std::result::Result<Arc<CompiledSchema>, String> {
        self(name, version)
    }
}

/// A resolver for definitions that refer to no other schema: every reference is a problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReferences;

impl SchemaResolver for NoReferences {
    fn resolve(&self, name: &str, _version: Option<u32>) -> std::result::Result<Arc<CompiledSchema>, String> {
        Err(format!("schema '{name}' does not exist"))
    }
}

impl CompiledSchema {
    /// Compiles `schema` as its version `version`. References to other schemas are resolved
    /// through `resolver` and pinned: [`definition`](CompiledSchema::definition) carries the
    /// version each one was resolved to. Fails with `INVALID_SCHEMA` listing every problem.
    pub fn compile(schema: &Schema, version: u32, resolver: &dyn SchemaResolver) -> Result<CompiledSchema> {
        let mut definition = schema.clone();
        let mut compiler = Compiler {
            own_name: &schema.name,
            own_version: version,
            resolver,
            problems: Vec::new(),
            objects: Vec::new(),
            object_paths: Vec::new(),
            defaults: Vec::new(),
        };
        compiler.name();
        let unknown_fields = definition.unknown_fields;
        compiler.object(&mut definition.fields, unknown_fields, "");
        compiler.recursion();
        compiler.defaults();
        if compiler.problems.is_empty() {
            Ok(CompiledSchema { definition, version, objects: compiler.objects })
        } else {
            Err(Error::InvalidSchema { schema: schema.name.clone(), problems: compiler.problems })
        }
    }

    /// [`compile`](CompiledSchema::compile) for a definition without references.
    pub fn compile_standalone(schema: &Schema, version: u32) -> Result<CompiledSchema> {
        CompiledSchema::compile(schema, version, &NoReferences)
    }
}

#[derive(Default)]
struct Constraints {
    range: NumberRange,
    length: LengthRange,
    pattern: Option<Box<Pattern>>,
}

struct Compiler<'a> {
    own_name: &'a str,
    own_version: u32,
    resolver: &'a dyn SchemaResolver,
    problems: Vec<String>,
    objects: Vec<CompiledObject>,
    /// Where each object of `objects` is declared, for messages.
    object_paths: Vec<String>,
    /// Defaults to check once every object exists: (object, field, path of the field).
    defaults: Vec<(usize, usize, String)>,
}

impl Compiler<'_> {
    fn problem(&mut self, problem: String) {
        self.problems.push(problem);
    }

    fn name(&mut self) {
        let name = self.own_name;
        if name.is_empty() {
            self.problem("the schema name is empty".to_owned());
        } else if name.len() > MAX_SCHEMA_NAME_LEN {
            self.problem(format!(
                "the schema name is {} bytes, longer than {MAX_SCHEMA_NAME_LEN} (its stream name must fit)",
                name.len()
            ));
        }
        if name.starts_with('$') {
            self.problem("schema names starting with '$' are reserved for the system".to_owned());
        }
        if name.contains('\0') {
            self.problem("the schema name contains a NUL character".to_owned());
        }
    }

    fn object(&mut self, fields: &mut [Field], unknown_fields: UnknownFields, path: &str) -> usize {
        let index = self.objects.len();
        // Pushed before the fields so that the root is object 0 whatever it contains.
        self.objects.push(CompiledObject {
            fields: Box::new([]),
            reject_unknown: unknown_fields == UnknownFields::Reject,
        });
        self.object_paths.push(path.to_owned());
        self.duplicate_fields(fields, path);
        let mut compiled = Vec::with_capacity(fields.len());
        for field in fields.iter_mut() {
            let field_index = compiled.len();
            compiled.push(self.field(field, path, index, field_index));
        }
        self.objects[index].fields = compiled.into_boxed_slice();
        index
    }

    fn duplicate_fields(&mut self, fields: &[Field], path: &str) {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for field in fields {
            *counts.entry(&field.name).or_default() += 1;
        }
        for field in fields {
            if let Some(count) = counts.remove(field.name.as_str()).filter(|&count| count > 1) {
                self.problem(format!("field '{}' is declared {count} times", join(path, &field.name)));
            }
        }
    }

    fn field(&mut self, field: &mut Field, parent: &str, object: usize, index: usize) -> CompiledField {
        let path = join(parent, &field.name);
        let problems_before = self.problems.len();
        if field.name.is_empty() {
            self.problem(if parent.is_empty() {
                "a field has an empty name".to_owned()
            } else {
                format!("a field of '{parent}' has an empty name")
            });
        }
        if field.required && field.nullable {
            self.problem(format!(
                "field '{path}' is both required and nullable: a required field holds a value (drop one, or \
                 give a default)"
            ));
        }
        let kind = field.field_type.kind();
        let is_number = matches!(field.field_type, FieldType::Number | FieldType::Integer);
        let is_string = matches!(field.field_type, FieldType::String);
        let has_length = is_string || matches!(field.field_type, FieldType::Array(_));
        let constraints = Constraints {
            range: self.range(&path, kind, is_number, field.min, field.max),
            length: self.length(&path, kind, has_length, field.min_length, field.max_length),
            pattern: self.pattern(&path, kind, is_string, field.pattern.as_deref()),
        };
        let ty = self.ty(&mut field.field_type, &path, constraints);
        if let Some(default) = &field.default {
            if default.is_null() {
                self.problem(format!("field '{path}': a null default changes nothing (it replaces null)"));
            } else if self.problems.len() == problems_before {
                self.defaults.push((object, index, path.clone()));
            }
        }
        CompiledField {
            name: field.name.clone(),
            ty,
            default: field.default.clone(),
            required: field.required,
            nullable: field.nullable,
        }
    }

    fn range(
        &mut self,
        path: &str,
        kind: &str,
        applies: bool,
        min: Option<f64>,
        max: Option<f64>,
    ) -> NumberRange {
        for (rule, bound) in [("min", min), ("max", max)] {
            let Some(bound) = bound else { continue };
            if !applies {
                self.problem(format!(
                    "field '{path}': {rule} applies to numbers and integers, not to {kind}"
                ));
            }
            if !bound.is_finite() {
                self.problem(format!("field '{path}': {rule} must be a finite number, not {bound}"));
            }
        }
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                self.problem(format!("field '{path}': min {min} is above max {max}"));
            }
        }
        NumberRange { min, max }
    }

    fn length(
        &mut self,
        path: &str,
        kind: &str,
        applies: bool,
        min: Option<u64>,
        max: Option<u64>,
    ) -> LengthRange {
        for (rule, bound) in [("min_length", min), ("max_length", max)] {
            if bound.is_some() && !applies {
                self.problem(format!("field '{path}': {rule} applies to strings and arrays, not to {kind}"));
            }
        }
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                self.problem(format!("field '{path}': min_length {min} is above max_length {max}"));
            }
        }
        let to_usize = |bound: u64| usize::try_from(bound).unwrap_or(usize::MAX);
        LengthRange { min: min.map(to_usize), max: max.map(to_usize) }
    }

    fn pattern(
        &mut self,
        path: &str,
        kind: &str,
        applies: bool,
        source: Option<&str>,
    ) -> Option<Box<Pattern>> {
        let source = source?;
        if !applies {
            self.problem(format!("field '{path}': pattern applies to strings, not to {kind}"));
        }
        // The pattern must compile alone before it is wrapped: `a)|(b` compiles once wrapped in
        // `\A(?:...)\z` but escapes the anchors, matching any string that starts with `a`.
        let anchored = Regex::new(source).and_then(|_| Regex::new(&format!(r"\A(?:{source})\z")));
        match anchored {
            Ok(regex) => Some(Box::new(Pattern { source: source.to_owned(), regex })),
            Err(e) => {
                self.problem(format!(
                    "field '{path}': pattern {source:?} does not compile: {}",
                    regex_error(&e)
                ));
                None
            }
        }
    }

    fn ty(&mut self, ty: &mut FieldType, path: &str, constraints: Constraints) -> CompiledType {
        match ty {
            FieldType::Number => CompiledType::Number(constraints.range),
            FieldType::Integer => CompiledType::Integer(constraints.range),
            FieldType::String => {
                CompiledType::String(StringRules { length: constraints.length, pattern: constraints.pattern })
            }
            FieldType::Boolean => CompiledType::Boolean,
            FieldType::Enum(variants) => self.enumeration(variants, path),
            FieldType::Array(element) => {
                let element = self.ty(element, &format!("{path}[]"), Constraints::default());
                CompiledType::Array { length: constraints.length, element: Box::new(element) }
            }
            FieldType::Object(object) => {
                let index = self.object(&mut object.fields, object.unknown_fields, path);
                CompiledType::Object(ObjectRef::Local(index))
            }
            FieldType::Ref(reference) => self.reference(reference, path),
        }
    }

    fn enumeration(&mut self, variants: &[String], path: &str) -> CompiledType {
        if variants.is_empty() {
            self.problem(format!("field '{path}': enum has no variants"));
        }
        let mut sorted = variants.to_vec();
        sorted.sort_unstable();
        let mut duplicated: Vec<&String> =
            sorted.windows(2).filter(|w| w[0] == w[1]).map(|w| &w[0]).collect();
        duplicated.dedup();
        for variant in duplicated {
            self.problem(format!("field '{path}': enum variant {variant:?} is listed more than once"));
        }
        sorted.dedup();
        CompiledType::Enum(sorted.into_boxed_slice())
    }

    fn reference(&mut self, reference: &mut SchemaRef, path: &str) -> CompiledType {
        let is_self = reference.name == self.own_name
            && reference.version.is_none_or(|version| version == self.own_version);
        if is_self {
            // Stored without a version: "this version" stays true whatever number it gets.
            reference.version = None;
            return CompiledType::Object(ObjectRef::Local(0));
        }
        match self.resolver.resolve(&reference.name, reference.version) {
            Ok(schema) => {
                reference.version = Some(schema.version());
                CompiledType::Object(ObjectRef::External(schema))
            }
            Err(why) => {
                self.problem(format!("field '{path}': {why}"));
                // The compilation fails anyway; any type will do in the meantime.
                CompiledType::Boolean
            }
        }
    }

    /// Refuses schemas no finite data can satisfy: a chain of links, each required,
    /// non-nullable and without a default (or an array of at least one such object), leading
    /// back to an object of the chain. Only local objects can form one: external references
    /// point to versions that existed before this one, which cannot refer to it.
    fn recursion(&mut self) {
        let mut on_chain = vec![false; self.objects.len()];
        let mut chain = Vec::new();
        self.follow_links(0, &mut on_chain, &mut chain);
    }

    fn follow_links(&mut self, object: usize, on_chain: &mut [bool], chain: &mut Vec<String>) {
        on_chain[object] = true;
        let links: Vec<(usize, String)> = self.objects[object]
            .fields
            .iter()
            .filter(|field| field.required && !field.nullable && field.default.is_none())
            .filter_map(|field| mandatory_object(&field.ty).map(|target| (target, field.name.clone())))
            .collect();
        for (target, name) in links {
            chain.push(format!("'{}'", join(&self.object_paths[object], &name)));
            if on_chain[target] {
                let back_to = if target == 0 {
                    format!("schema '{}'", self.own_name)
                } else {
                    format!("object '{}'", self.object_paths[target])
                };
                self.problem(format!(
                    "endless recursion: the chain of fields {} leads back to {back_to}, and each is required, not \
                     nullable and without a default, so no finite data is valid (make one optional or nullable)",
                    chain.join(" -> ")
                ));
            } else {
                self.follow_links(target, on_chain, chain);
            }
            chain.pop();
        }
        on_chain[object] = false;
    }

    fn defaults(&mut self) {
        let mut expanded = Vec::new();
        for (object, field, path) in std::mem::take(&mut self.defaults) {
            let compiled = &self.objects[object].fields[field];
            let mut value = compiled.default.clone().expect("only fields with a default are listed");
            let check = expand_default(&self.objects, &compiled.ty, &mut value, &path);
            for violation in &check.violations {
                let at =
                    if violation.path == path { String::new() } else { format!(" at '{}'", violation.path) };
                self.problems.push(format!(
                    "field '{path}': default breaks the field{at}: {} ({})",
                    violation.message, violation.rule
                ));
            }
            if check.violations.len() >= MAX_VIOLATIONS {
                self.problems
                    .push(format!("field '{path}': default breaks the field in more ways than listed"));
            }
            if check.endless {
                self.problems.push(format!(
                    "field '{path}': default expands endlessly: filling it fills a default that holds it again"
                ));
            }
            if check.violations.is_empty() && !check.endless {
                expanded.push((object, field, value));
            }
        }
        // Stored only now: every expansion above started from the defaults as written.
        for (object, field, value) in expanded {
            self.objects[object].fields[field].default = Some(value);
        }
    }
}

/// The local object a value of this type must contain at least one of.
fn mandatory_object(ty: &CompiledType) -> Option<usize> {
    match ty {
        CompiledType::Object(ObjectRef::Local(index)) => Some(*index),
        CompiledType::Array { length, element } if length.min.is_some_and(|min| min > 0) => match **element {
            CompiledType::Object(ObjectRef::Local(index)) => Some(index),
            _ => None,
        },
        _ => None,
    }
}

/// The one line of a regex error that says what is wrong (its text is multi-line, with the
/// pattern repeated and a caret under the spot).
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or(&text);
    last.trim().trim_start_matches("error: ").to_owned()
}
