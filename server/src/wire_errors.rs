//! Requests that fail before they reach the service, in tonic's own decoding: a message that is
//! not valid protobuf of its type (a string field holding invalid UTF-8, say) comes out of tonic
//! as INTERNAL, and one over the size limit as OUT_OF_RANGE, neither logged nor counted. Both
//! are the caller's mistake: they leave here as INVALID_ARGUMENT (gRPC code RESOURCE_EXHAUSTED
//! for the size, by gRPC convention), with an `ErrorDetail` like every other error, counted in
//! `graveyard_errors_total` and logged. A client that retries INTERNAL no longer retries them.
//!
//! Also how every error a request fails with leaves the node: counted, logged by code (never
//! event data) and converted ([`failure`], [`protocol_failure`]), by the service and the cluster
//! alike.

use std::sync::Arc;

use graveyard::wire;
use graveyard::{Error, ErrorCode};
use tonic::{Code, Status};

use crate::metrics::Metrics;

/// What a status of tonic's decoder becomes; `None` for every other status.
pub fn remap(status: &Status) -> Option<Status> {
    let message = status.message();
    match status.code() {
        Code::Internal if message.starts_with("failed to decode Protobuf message") => Some(wire::code_status(
            ErrorCode::InvalidArgument,
            format!("the request is not a valid message of its type (every string field must be UTF-8): {message}"),
        )),
        Code::OutOfRange if message.contains("decoded message length too large") => {
            let status =
                wire::code_status(ErrorCode::InvalidArgument, format!("the request is too large: {message}"));
            Some(Status::with_details(Code::ResourceExhausted, status.message(), status.details().to_vec().into()))
        }
        _ => None,
    }
}

/// [`remap`], counted and logged: for statuses the service sees itself (the messages of a
/// client stream).
pub fn refuse(metrics: &Metrics, status: Status) -> Status {
    match remap(&status) {
        Some(remapped) => {
            metrics.record_error(ErrorCode::InvalidArgument);
            tracing::debug!(code = %ErrorCode::InvalidArgument, error = %status.message(), "request refused in decoding");
            remapped
        }
        None => status,
    }
}

/// The layer over every RPC: a response that tonic made of a decoding status (trailers-only, the
/// status in its headers) is rewritten as [`remap`] says, counted and logged.
pub fn layer(
    metrics: Arc<Metrics>,
) -> tower::util::MapResponseLayer<
    impl Fn(http::Response<tonic::body::Body>) -> http::Response<tonic::body::Body> + Clone,
> {
    tower::util::MapResponseLayer::new(move |response: http::Response<tonic::body::Body>| {
        let Some(status) = Status::from_header_map(response.headers()) else { return response };
        if status.code() == Code::Ok || remap(&status).is_none() {
            return response;
        }
        refuse(&metrics, status).into_http()
    })
}

/// Counts, logs (by code, never event data) and converts an error of the core.
pub fn failure(metrics: &Metrics, error: Error) -> Status {
    // A store of this node is closed only when the node stops or hands a log it took over back
    // to its member: for the caller, the stream is served elsewhere now (CLOSED would say its
    // own client was closed).
    let error = match error {
        Error::Closed => Error::Unavailable(
            "this node no longer serves the stream's log (it is stopping, or the log's member is back): \
             try again, or subscribe again, on the cluster"
                .into(),
        ),
        other => other,
    };
    let code = error.code();
    metrics.record_error(code);
    match code {
        ErrorCode::Internal | ErrorCode::Corruption | ErrorCode::Io | ErrorCode::IncompatibleFormat => {
            tracing::error!(%code, error = %error, "request failed")
        }
        _ => tracing::debug!(%code, error = %error, "request failed"),
    }
    wire::error_to_status(&error)
}

/// A failure that is not an error of the core (a malformed session), counted like one.
pub fn protocol_failure(metrics: &Metrics, code: ErrorCode, message: String) -> Status {
    metrics.record_error(code);
    tracing::debug!(%code, error = %message, "request refused");
    wire::code_status(code, message)
}
