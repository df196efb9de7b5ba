//! The fast path of validation on append: checks JSON bytes against a compiled schema while
//! parsing them, without building a `serde_json::Value`.
//!
//! Parsing into a `Value` allocates a map and a key per member and costs about five times the
//! validation itself (see `tests/bench.rs`), and appends pay it for every event. Most events are
//! valid and need no default, so this pass answers one question: "can these bytes be stored as
//! they are?". It stops at the first doubt (a broken rule, a default to fill, a duplicate key,
//! anything unusual) and the caller then runs the full validation of [`super::validate`], which
//! stays the authority: it reports the violations, fills defaults and decides. So this module
//! may refuse valid data (costing time) but must never accept data the full validation would
//! refuse; the property test in `tests/fast.rs` holds it to that.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use super::compiled::{CompiledObject, CompiledType, NumberRange, StringRules};
use super::validate::compare_number;

/// True when `bytes` are one JSON object that satisfies the schema whose objects are `objects`
/// (root first) and that needs no default. False says nothing: validate the full way.
pub(super) fn conforms_as_is(objects: &[CompiledObject], bytes: &[u8]) -> bool {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let seed = ObjectSeed { objects, object: &objects[0] };
    seed.deserialize(&mut deserializer).is_ok() && deserializer.end().is_ok()
}

/// The error that stops the pass; its text is never shown.
fn doubt<E: de::Error>() -> E {
    E::custom("not settled by the fast path")
}

struct ObjectSeed<'s> {
    objects: &'s [CompiledObject],
    object: &'s CompiledObject,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let fields = &self.object.fields;
        // Which declared fields were seen. Objects of more than 64 fields are rare enough to
        // leave to the full validation.
        if fields.len() > 64 {
            return Err(doubt());
        }
        let mut seen = 0u64;
        while let Some(Key(key)) = map.next_key()? {
            match fields.iter().position(|field| field.name == *key) {
                Some(index) => {
                    let bit = 1u64 << index;
                    // A duplicate key: the full validation sees only the last value.
                    if seen & bit != 0 {
                        return Err(doubt());
                    }
                    seen |= bit;
                    let field = &fields[index];
                    // A null with a default must be replaced: not "as is".
                    let null_ok = field.nullable && field.default.is_none();
                    map.next_value_seed(ValueSeed { objects: self.objects, ty: &field.ty, null_ok })?;
                }
                None if self.object.reject_unknown => return Err(doubt()),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        for (index, field) in fields.iter().enumerate() {
            if seen & (1u64 << index) == 0 && (field.required || field.default.is_some()) {
                return Err(doubt());
            }
        }
        Ok(())
    }
}

/// A member name, borrowed from the input when it has no escape.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct ValueSeed<'s> {
    objects: &'s [CompiledObject],
    ty: &'s CompiledType,
    null_ok: bool,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ty.kind())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        settled(self.null_ok)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        settled(matches!(self.ty, CompiledType::Boolean))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        self.integer(&Number::from(n))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<(), E> {
        self.integer(&Number::from(n))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<(), E> {
        // Only `number` takes a fraction or an exponent; JSON numbers are always finite.
        match (self.ty, Number::from_f64(n)) {
            (CompiledType::Number(range), Some(n)) => settled(in_range(range, &n)),
            _ => Err(doubt()),
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<(), E> {
        self.string(s)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.string(s)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let CompiledType::Array { length, element } = self.ty else { return Err(doubt()) };
        let mut count = 0usize;
        while seq
            .next_element_seed(ValueSeed { objects: self.objects, ty: element, null_ok: false })?
            .is_some()
        {
            count += 1;
        }
        settled(length.holds(count))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let CompiledType::Object(reference) = self.ty else { return Err(doubt()) };
        let (objects, object) = reference.resolve(self.objects);
        ObjectSeed { objects, object }.visit_map(map)
    }
}

impl ValueSeed<'_> {
    fn integer<E: de::Error>(&self, n: &Number) -> Result<(), E> {
        match self.ty {
            CompiledType::Number(range) | CompiledType::Integer(range) => settled(in_range(range, n)),
            _ => Err(doubt()),
        }
    }

    fn string<E: de::Error>(&self, s: &str) -> Result<(), E> {
        match self.ty {
            CompiledType::String(rules) => settled(string_holds(rules, s)),
            CompiledType::Enum(variants) => settled(variants.binary_search_by(|v| v.as_str().cmp(s)).is_ok()),
            _ => Err(doubt()),
        }
    }
}

fn settled<E: de::Error>(holds: bool) -> Result<(), E> {
    if holds {
        Ok(())
    } else {
        Err(doubt())
    }
}

fn in_range(range: &NumberRange, n: &Number) -> bool {
    range.min.is_none_or(|min| compare_number(n, min) != Ordering::Less)
        && range.max.is_none_or(|max| compare_number(n, max) != Ordering::Greater)
}

fn string_holds(rules: &StringRules, s: &str) -> bool {
    let length = rules.length;
    (length.settled_by_bytes(s.len()) || length.holds(s.chars().count()))
        && rules.pattern.as_ref().is_none_or(|pattern| pattern.regex.is_match(s))
}
