//! Connections to nodes, shared by [`crate::Client`] and by the nodes themselves when they
//! forward a request to its owner: one place that knows endpoints, TLS, the bearer token and how
//! a failed call becomes a core error.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Status};

use crate::error::{Error, Result};
use crate::wire;
use crate::wire::v1::graveyard_client::GraveyardClient;

/// The header a node sets on a request it forwards to the stream's owner. A node that receives
/// it serves the request itself or fails: a request is never forwarded twice.
pub const FORWARDED_HEADER: &str = "graveyard-forwarded-by";

/// The header naming the member whose log a node-scoped request is about (`$all`, the head
/// position, the stream and group listings, a group created on `$all`). Any member answers it:
/// the member itself, or (with the logs in Cassandra) while it is down the member that took its
/// log over; the others forward it there, so a position stays a position of the same log. Without
/// it, the node asked answers for its own log.
pub const LOG_HEADER: &str = "graveyard-log";

/// Largest message a client (or a node forwarding) sends or accepts: an append of 4 events of
/// the core's default maximum size plus 1 MiB, which a node accepts, with room to spare; a read
/// page is about 1 MiB plus one event.
pub const MAX_MESSAGE_BYTES: usize = 4 * crate::DEFAULT_MAX_EVENT_SIZE + 16 * 1024 * 1024;

/// How to reach nodes.
#[derive(Clone)]
pub struct TransportOptions {
    /// Sent as `authorization: Bearer <token>`. Never logged: `Debug` shows only whether it is set.
    pub token: Option<String>,
    /// PEM certificates trusted for TLS. With them, `host:port` endpoints are dialled over TLS
    /// (`https://`); without them, over plain HTTP/2 unless the endpoint says `https://`.
    pub ca_certificate_pem: Option<Vec<u8>>,
    /// How long a connection attempt may take before the node counts as down. Short, so that a
    /// request for a stream whose owner is down fails fast with UNAVAILABLE.
    pub connect_timeout: Duration,
    /// Longest a unary call may take, or `None` for no limit (streams are never timed out).
    pub request_timeout: Option<Duration>,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            token: None,
            ca_certificate_pem: None,
            connect_timeout: Duration::from_secs(2),
            request_timeout: None,
        }
    }
}

impl fmt::Debug for TransportOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportOptions")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("ca_certificate_pem", &self.ca_certificate_pem.as_ref().map(|c| c.len()))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// Adds the bearer token to every request.
#[derive(Clone)]
pub struct BearerToken(Option<Arc<AsciiMetadataValue>>);

impl Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> std::result::Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", AsciiMetadataValue::clone(value));
        }
        Ok(request)
    }
}

/// The generated gRPC client of one node, with the token added to each call.
pub type NodeClient = GraveyardClient<InterceptedService<Channel, BearerToken>>;

/// A lazily connected client of the node at `endpoint` (`host:port`, or a URL with `http://` or
/// `https://`). Nothing is dialled before the first call, and a lost connection is redialled by
/// the next one.
pub fn node_client(endpoint: &str, options: &TransportOptions) -> Result<NodeClient> {
    let invalid = |why: String| Error::InvalidArgument(format!("endpoint '{endpoint}': {why}"));
    let tls = options.ca_certificate_pem.is_some() || endpoint.starts_with("https://");
    let url = if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        endpoint.to_owned()
    } else if tls {
        format!("https://{endpoint}")
    } else {
        format!("http://{endpoint}")
    };
    let mut builder = Endpoint::from_shared(url.clone())
        .map_err(|e| invalid(format!("not a valid URL ({e})")))?
        .connect_timeout(options.connect_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20))
        .keep_alive_while_idle(true);
    if let Some(timeout) = options.request_timeout {
        builder = builder.timeout(timeout);
    }
    if tls {
        install_crypto_provider();
        let mut config = ClientTlsConfig::new();
        if let Some(pem) = &options.ca_certificate_pem {
            config = config.ca_certificate(Certificate::from_pem(pem));
        }
        if let Some(host) = builder.uri().host() {
            // An IPv6 literal comes bracketed in a URI; a certificate names it bare.
            config = config.domain_name(host.trim_start_matches('[').trim_end_matches(']'));
        }
        builder = builder.tls_config(config).map_err(|e| invalid(format!("TLS: {e}")))?;
    }
    let token = match &options.token {
        Some(token) => {
            let value: AsciiMetadataValue =
                MetadataValue::try_from(format!("Bearer {token}")).map_err(|_| {
                    Error::InvalidArgument("the token holds characters a header cannot carry".into())
                })?;
            Some(Arc::new(value))
        }
        None => None,
    };
    Ok(GraveyardClient::with_interceptor(builder.connect_lazy(), BearerToken(token))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// The core error for a failed call to `node`. A node's own errors carry their typed detail and
/// are rebuilt exactly; a failure without one comes from the transport (the node is down, the
/// connection broke) and is UNAVAILABLE, naming the node, so the caller knows it may retry.
pub fn call_error(node: &str, status: &Status) -> Error {
    if wire::status_detail(status).is_some() {
        return wire::status_to_error(status);
    }
    match status.code() {
        tonic::Code::Unknown | tonic::Code::Unavailable | tonic::Code::Cancelled => {
            Error::Unavailable(format!("node {node} is unreachable: {}", status.message()))
        }
        _ => wire::status_to_error(status),
    }
}

/// Makes ring the process's rustls crypto provider, unless one was chosen already. tonic builds
/// its TLS configurations with the process's provider, which rustls picks by itself only when a
/// build links exactly one: a build that also links the Cassandra driver (whose rustls brings
/// aws-lc-rs) must choose. Called before any TLS configuration is made; harmless to repeat.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
