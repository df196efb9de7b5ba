//! The one error type of the core and its stable codes.
//!
//! Every binding maps errors by [`ErrorCode`], never by message text, so the codes and the
//! typed fields of each variant are part of the public contract (docs/boundary.md, "Errors").

use std::fmt;

use crate::schema::Violation;
use crate::types::{CurrentRevision, ExpectedVersion};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Stable, language-neutral error codes. The string forms (`as_str`) cross every FFI boundary
/// and the wire; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    WrongExpectedVersion,
    StreamDeleted,
    SchemaViolation,
    InvalidSchema,
    InvalidArgument,
    NotFound,
    Encryption,
    Unauthenticated,
    PermissionDenied,
    Unavailable,
    Closed,
    Corruption,
    /// The directory holds something this build cannot open: not a GraveyardDB store, or a
    /// store written in a newer on-disk format. Not a corruption: the bytes may be fine.
    IncompatibleFormat,
    Io,
    Internal,
    /// The operation exists, but this kind of store cannot do it (an embedded store has no
    /// cluster members; a cluster client cannot tell whether a node encrypts).
    Unsupported,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::WrongExpectedVersion,
        ErrorCode::StreamDeleted,
        ErrorCode::SchemaViolation,
        ErrorCode::InvalidSchema,
        ErrorCode::InvalidArgument,
        ErrorCode::NotFound,
        ErrorCode::Encryption,
        ErrorCode::Unauthenticated,
        ErrorCode::PermissionDenied,
        ErrorCode::Unavailable,
        ErrorCode::Closed,
        ErrorCode::Corruption,
        ErrorCode::IncompatibleFormat,
        ErrorCode::Io,
        ErrorCode::Internal,
        ErrorCode::Unsupported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::WrongExpectedVersion => "WRONG_EXPECTED_VERSION",
            ErrorCode::StreamDeleted => "STREAM_DELETED",
            ErrorCode::SchemaViolation => "SCHEMA_VIOLATION",
            ErrorCode::InvalidSchema => "INVALID_SCHEMA",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Encryption => "ENCRYPTION",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Closed => "CLOSED",
            ErrorCode::Corruption => "CORRUPTION",
            ErrorCode::IncompatibleFormat => "INCOMPATIBLE_FORMAT",
            ErrorCode::Io => "IO",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::Unsupported => "UNSUPPORTED",
        }
    }

    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every failure of the core. A rejected request has written nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream's current revision did not satisfy the expected version of the request.
    #[error("wrong expected version on stream '{stream}': expected {expected}, actual {actual}")]
    WrongExpectedVersion { stream: String, expected: ExpectedVersion, actual: CurrentRevision },
    /// The stream was tombstoned: its name can never be used again.
    #[error("stream '{stream}' is deleted")]
    StreamDeleted { stream: String },
    /// The data of event `event` (its index in the append) broke the schema named by its type.
    /// `violations` lists each problem (at most [`crate::schema::MAX_VIOLATIONS`]). An append
    /// is checked event by event and refused at the first event that breaks its schema.
    #[error("event {event}: data violates schema '{schema}' version {version}: {}", list(violations))]
    SchemaViolation { schema: String, version: u32, event: usize, violations: Vec<Violation> },
    /// A schema definition was refused. `problems` lists each one (or each reason it breaks the
    /// compatibility mode of the version it would replace).
    #[error("invalid schema '{schema}': {}", list(problems))]
    InvalidSchema { schema: String, problems: Vec<String> },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// A wrong or missing key, or data that fails its authentication tag.
    #[error("encryption: {0}")]
    Encryption(String),
    /// A request without valid credentials (a node configured with a token).
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("the database is closed")]
    Closed,
    #[error("corruption: {0}")]
    Corruption(String),
    #[error("incompatible format: {0}")]
    IncompatibleFormat(String),
    #[error("i/o error: {0}")]
    Io(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::WrongExpectedVersion { .. } => ErrorCode::WrongExpectedVersion,
            Error::StreamDeleted { .. } => ErrorCode::StreamDeleted,
            Error::SchemaViolation { .. } => ErrorCode::SchemaViolation,
            Error::InvalidSchema { .. } => ErrorCode::InvalidSchema,
            Error::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::Encryption(_) => ErrorCode::Encryption,
            Error::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Error::PermissionDenied(_) => ErrorCode::PermissionDenied,
            Error::Unavailable(_) => ErrorCode::Unavailable,
            Error::Closed => ErrorCode::Closed,
            Error::Corruption(_) => ErrorCode::Corruption,
            Error::IncompatibleFormat(_) => ErrorCode::IncompatibleFormat,
            Error::Io(_) => ErrorCode::Io,
            Error::Internal(_) => ErrorCode::Internal,
            Error::Unsupported(_) => ErrorCode::Unsupported,
        }
    }

    /// The typed fields of the error, in the one JSON form every binding and the conformance
    /// scenarios use (docs/boundary.md, "Errors"); `None` for codes without typed fields.
    /// - WRONG_EXPECTED_VERSION: `{"stream", "expected", "actual"}`
    /// - STREAM_DELETED: `{"stream"}`
    /// - SCHEMA_VIOLATION: `{"schema", "version", "event", "violations": [{"path", "rule", "value", "message"}]}`
    /// - INVALID_SCHEMA: `{"schema", "problems": [...]}`
    pub fn details(&self) -> Option<serde_json::Value> {
        use serde_json::json;
        Some(match self {
            Error::WrongExpectedVersion { stream, expected, actual } => {
                json!({ "stream": stream, "expected": expected, "actual": actual })
            }
            Error::StreamDeleted { stream } => json!({ "stream": stream }),
            Error::SchemaViolation { schema, version, event, violations } => {
                json!({ "schema": schema, "version": version, "event": event, "violations": violations })
            }
            Error::InvalidSchema { schema, problems } => json!({ "schema": schema, "problems": problems }),
            _ => return None,
        })
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Error {
        Error::InvalidArgument(msg.into())
    }
}

fn list<T: fmt::Display>(entries: &[T]) -> String {
    entries.iter().map(T::to_string).collect::<Vec<_>>().join("; ")
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

impl From<heed::Error> for Error {
    fn from(e: heed::Error) -> Self {
        use heed::MdbError;
        match e {
            heed::Error::Io(io) => Error::Io(io.to_string()),
            heed::Error::Mdb(MdbError::Invalid) => Error::Corruption(
                "the data file is not an LMDB environment (corrupt, or not a GraveyardDB store)".into(),
            ),
            heed::Error::Mdb(MdbError::Corrupted | MdbError::PageNotFound | MdbError::Panic) => {
                Error::Corruption(format!("storage: {e}"))
            }
            heed::Error::Mdb(MdbError::VersionMismatch) => Error::IncompatibleFormat(format!("storage: {e}")),
            heed::Error::Mdb(MdbError::ReadersFull) => Error::Unavailable(
                "every reader slot is in use; retry, or open with a larger Options::max_readers".into(),
            ),
            heed::Error::Mdb(MdbError::MapFull) => Error::Io(
                "the store reached its configured map size; reopen with a larger Options::map_size".into(),
            ),
            other => Error::Io(format!("storage: {other}")),
        }
    }
}
