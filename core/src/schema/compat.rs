//! Whether a new schema version keeps the compatibility mode of the version it replaces.
//!
//! Both directions reduce to one question: can data valid under a *writer* version be invalid
//! under a *reader* version? Backward asks it with the previous version as writer and the new
//! one as reader; forward the other way round. The answer is conservative where deciding is
//! not practical: two different patterns count as a break even when one happens to accept
//! everything the other does.
//!
//! Members no field declares are outside the contract: a writer that allows unknown fields
//! could have stored a member of any name, and counting that against every field a reader
//! adds would make adding an optional field a break under the default settings. Only the
//! switch of an object from allowing unknown fields to rejecting them is a break.

use std::collections::HashSet;

use super::compiled::{
    CompiledField, CompiledObject, CompiledSchema, CompiledType, LengthRange, NumberRange, StringRules,
};
use super::join;
use super::model::CompatibilityMode;

/// Every reason why replacing `previous` by `next` breaks `mode`; empty when it keeps it.
/// Each reason names its direction (`backward:` or `forward:`) and the field it concerns.
pub fn check_compatibility(
    previous: &CompiledSchema,
    next: &CompiledSchema,
    mode: CompatibilityMode,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if matches!(mode, CompatibilityMode::Backward | CompatibilityMode::Full) {
        Comparison::new("backward", next, previous, &mut reasons).run();
    }
    if matches!(mode, CompatibilityMode::Forward | CompatibilityMode::Full) {
        Comparison::new("forward", previous, next, &mut reasons).run();
    }
    reasons
}

struct Comparison<'a> {
    direction: &'static str,
    reader: &'a CompiledSchema,
    writer: &'a CompiledSchema,
    /// Pairs of objects (reader, writer) already compared or being compared: recursive
    /// schemas would otherwise be compared forever.
    seen: HashSet<(usize, usize)>,
    reasons: &'a mut Vec<String>,
}

impl<'a> Comparison<'a> {
    fn new(
        direction: &'static str,
        reader: &'a CompiledSchema,
        writer: &'a CompiledSchema,
        reasons: &'a mut Vec<String>,
    ) -> Comparison<'a> {
        Comparison { direction, reader, writer, seen: HashSet::new(), reasons }
    }

    fn run(&mut self) {
        let (reader, writer) = (self.reader, self.writer);
        self.objects((&reader.objects, reader.root()), (&writer.objects, writer.root()), "");
    }

    fn reason(&mut self, path: &str, detail: String) {
        let subject = if path.is_empty() { "the schema".to_owned() } else { format!("field '{path}'") };
        self.reasons.push(format!("{}: {subject}: {detail}", self.direction));
    }

    fn versions(&self) -> (u32, u32) {
        (self.reader.version(), self.writer.version())
    }

    fn objects(
        &mut self,
        (reader_objects, reader): (&[CompiledObject], &CompiledObject),
        (writer_objects, writer): (&[CompiledObject], &CompiledObject),
        path: &str,
    ) {
        let key = (reader as *const CompiledObject as usize, writer as *const CompiledObject as usize);
        if key.0 == key.1 || !self.seen.insert(key) {
            return;
        }
        let (r, w) = self.versions();
        if reader.reject_unknown && !writer.reject_unknown {
            self.reason(path, format!("version {r} rejects unknown fields, version {w} allows them"));
        }
        for reader_field in reader.fields.iter() {
            let field_path = join(path, &reader_field.name);
            match writer.field(&reader_field.name) {
                Some(writer_field) => {
                    self.field((reader_objects, reader_field), (writer_objects, writer_field), &field_path)
                }
                None if reader_field.required && reader_field.default.is_none() => self.reason(
                    &field_path,
                    format!("required without a default in version {r}, absent from version {w}"),
                ),
                None => {}
            }
        }
        if reader.reject_unknown {
            for writer_field in writer.fields.iter().filter(|f| reader.field(&f.name).is_none()) {
                self.reason(
                    &join(path, &writer_field.name),
                    format!("declared in version {w}, unknown to version {r}, which rejects unknown fields"),
                );
            }
        }
    }

    fn field(
        &mut self,
        (reader_objects, reader): (&[CompiledObject], &CompiledField),
        (writer_objects, writer): (&[CompiledObject], &CompiledField),
        path: &str,
    ) {
        let (r, w) = self.versions();
        let reader_fills = reader.default.is_some();
        if writer.may_be_absent() && reader.required && !reader_fills {
            self.reason(path, format!("required without a default in version {r}, optional in version {w}"));
        }
        if writer.may_be_null() && !reader.nullable && !reader_fills {
            self.reason(path, format!("nullable in version {w}, not in version {r}"));
        }
        self.types((reader_objects, &reader.ty), (writer_objects, &writer.ty), path);
    }

    fn types(
        &mut self,
        (reader_objects, reader): (&[CompiledObject], &CompiledType),
        (writer_objects, writer): (&[CompiledObject], &CompiledType),
        path: &str,
    ) {
        let (r, w) = self.versions();
        match (reader, writer) {
            (CompiledType::Number(reader_range), CompiledType::Number(writer_range)) => {
                self.ranges(*reader_range, *writer_range, path)
            }
            (
                CompiledType::Number(reader_range) | CompiledType::Integer(reader_range),
                CompiledType::Integer(writer_range),
            ) => {
                // Integers between non-integer bounds: only the integers within count.
                let writer_range = NumberRange {
                    min: writer_range.min.map(f64::ceil),
                    max: writer_range.max.map(f64::floor),
                };
                self.ranges(*reader_range, writer_range, path)
            }
            (CompiledType::String(reader_rules), CompiledType::String(writer_rules)) => {
                self.lengths(reader_rules.length, writer_rules.length, path);
                if let Some(reader_pattern) = &reader_rules.pattern {
                    let writer_pattern = writer_rules.pattern.as_ref().map(|p| p.source.as_str());
                    if writer_pattern != Some(reader_pattern.source.as_str()) {
                        self.reason(
                            path,
                            format!(
                                "pattern {} in version {r}, {} in version {w}",
                                reader_pattern.source,
                                writer_pattern.unwrap_or("none")
                            ),
                        );
                    }
                }
            }
            (CompiledType::String(reader_rules), CompiledType::Enum(writer_variants)) => {
                for variant in writer_variants.iter() {
                    if let Some(rule) = string_breaks(reader_rules, variant) {
                        self.reason(
                            path,
                            format!(
                                "enum variant {variant:?} of version {w} breaks the {rule} of version {r}"
                            ),
                        );
                    }
                }
            }
            (CompiledType::Boolean, CompiledType::Boolean) => {}
            (CompiledType::Enum(reader_variants), CompiledType::Enum(writer_variants)) => {
                let missing: Vec<String> = writer_variants
                    .iter()
                    .filter(|v| reader_variants.binary_search(v).is_err())
                    .map(|v| format!("{v:?}"))
                    .collect();
                if !missing.is_empty() {
                    self.reason(
                        path,
                        format!("enum variants {} of version {w} are not in version {r}", missing.join(", ")),
                    );
                }
            }
            (
                CompiledType::Array { length: reader_length, element: reader_element },
                CompiledType::Array { length: writer_length, element: writer_element },
            ) => {
                self.lengths(*reader_length, *writer_length, path);
                self.types(
                    (reader_objects, reader_element),
                    (writer_objects, writer_element),
                    &format!("{path}[]"),
                );
            }
            (CompiledType::Object(reader_object), CompiledType::Object(writer_object)) => self.objects(
                reader_object.resolve(reader_objects),
                writer_object.resolve(writer_objects),
                path,
            ),
            _ => self.reason(
                path,
                format!("type {} in version {r}, {} in version {w}", reader.kind(), writer.kind()),
            ),
        }
    }

    fn ranges(&mut self, reader: NumberRange, writer: NumberRange, path: &str) {
        let (r, w) = self.versions();
        let shown = |bound: Option<f64>| bound.map_or_else(|| "none".to_owned(), |b| b.to_string());
        if let Some(min) = reader.min.filter(|&min| writer.min.is_none_or(|writer_min| writer_min < min)) {
            self.reason(path, format!("min {min} in version {r}, {} in version {w}", shown(writer.min)));
        }
        if let Some(max) = reader.max.filter(|&max| writer.max.is_none_or(|writer_max| writer_max > max)) {
            self.reason(path, format!("max {max} in version {r}, {} in version {w}", shown(writer.max)));
        }
    }

    fn lengths(&mut self, reader: LengthRange, writer: LengthRange, path: &str) {
        let (r, w) = self.versions();
        let shown = |bound: Option<usize>| bound.map_or_else(|| "none".to_owned(), |b| b.to_string());
        if let Some(min) = reader.min.filter(|&min| writer.min.unwrap_or(0) < min) {
            self.reason(
                path,
                format!("min_length {min} in version {r}, {} in version {w}", shown(writer.min)),
            );
        }
        if let Some(max) = reader.max.filter(|&max| writer.max.is_none_or(|writer_max| writer_max > max)) {
            self.reason(
                path,
                format!("max_length {max} in version {r}, {} in version {w}", shown(writer.max)),
            );
        }
    }
}

/// The rule of `rules` that `s` breaks, if any.
fn string_breaks(rules: &StringRules, s: &str) -> Option<String> {
    let chars = s.chars().count();
    if let Some(min) = rules.length.min.filter(|&min| chars < min) {
        return Some(format!("min_length {min}"));
    }
    if let Some(max) = rules.length.max.filter(|&max| chars > max) {
        return Some(format!("max_length {max}"));
    }
    match &rules.pattern {
        Some(pattern) if !pattern.regex.is_match(s) => Some(format!("pattern {}", pattern.source)),
        _ => None,
    }
}
