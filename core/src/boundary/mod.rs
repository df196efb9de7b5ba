//! What every language binding needs besides the [`Store`](crate::Store) façade, written once:
//! the packed layouts that carry batches of events and pages of reads across in one call
//! ([`packed`]), the numeric codes of every enum that crosses ([`codes`]), the one JSON form of
//! the model types ([`to_json`], [`from_json`]: serde on the core's own types, in the shape of
//! the conformance files), the options made from what bindings receive ([`args`]) and batched
//! sessions ([`batch`]). A binding converts, maps errors and owns handles; it decides nothing.
//! Specified byte by byte in `docs/boundary.md`; the golden vectors of
//! `conformance/boundary_vectors.json` hold every SDK to the same bytes.

pub mod args;
pub mod batch;
pub mod codes;
pub mod packed;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// The JSON form of a model type (stream info, metadata, group settings and info, schemas...).
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("the model types always serialise")
}

/// A model type from its JSON form. Unknown fields, unknown enum values and wrong types are
/// INVALID_ARGUMENT naming `what`, never a silent default. No input of the boundary is a list,
/// so a top-level array is refused too (serde would read it as a struct's fields in order).
pub fn from_json<T: DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::InvalidArgument(format!("{what}: {e}")))?;
    if value.is_array() {
        return Err(Error::InvalidArgument(format!(
            "{what}: a JSON array where an object or a value belongs"
        )));
    }
    serde_json::from_value(value).map_err(|e| Error::InvalidArgument(format!("{what}: {e}")))
}
