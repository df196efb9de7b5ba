//! Bearer-token authentication: every request carries `authorization: Bearer <token>` when the
//! node has a token. The token is compared in constant time and never logged nor echoed.

use std::sync::Arc;

use graveyard::wire::code_status;
use graveyard::ErrorCode;
use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::config::Token;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct BearerAuth {
    /// `None`: authentication is off.
    token: Option<Arc<Token>>,
    metrics: Arc<Metrics>,
}

impl BearerAuth {
    pub fn new(token: Option<Token>, metrics: Arc<Metrics>) -> BearerAuth {
        BearerAuth { token: token.map(Arc::new), metrics }
    }

    fn check(&self, request: &Request<()>) -> Result<(), &'static str> {
        check_bearer(self.token.as_deref(), request.metadata().get("authorization").map(|h| h.as_bytes()))
    }
}

/// Whether an `authorization` header value carries `token` (any header passes when `token` is
/// `None`); the error says what is wrong without telling anything of the token. The gRPC
/// service and the admin HTTP API share it.
pub fn check_bearer(token: Option<&Token>, header: Option<&[u8]>) -> Result<(), &'static str> {
    let Some(token) = token else { return Ok(()) };
    let header = header.ok_or("this node requires a bearer token (authorization: Bearer <token>)")?;
    let presented = header
        .split_first_chunk::<7>()
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(b"bearer "))
        .map(|(_, rest)| rest.trim_ascii())
        .ok_or("the authorization header is not 'Bearer <token>'")?;
    if constant_time_eq(presented, token.as_bytes()) {
        Ok(())
    } else {
        Err("the bearer token is not valid")
    }
}

impl Interceptor for BearerAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        match self.check(&request) {
            Ok(()) => Ok(request),
            Err(why) => {
                self.metrics.record_error(ErrorCode::Unauthenticated);
                tracing::debug!(reason = why, "request refused: unauthenticated");
                Err(code_status(ErrorCode::Unauthenticated, why))
            }
        }
    }
}

/// Equal contents, in a time that depends only on the lengths (which a token does not hide: it
/// is the secret's bytes that must not leak through timing).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn compares_whole_contents() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
