//! The node's HTTP stack (axum): `/metrics` on `--metrics-listen`, and on `--admin-listen` the
//! read-only admin API (`/api/...`, JSON, behind the node's token) and the web console (`/`: a
//! page, a script and a style sheet compiled into the binary; nothing is fetched from elsewhere).
//!
//! The API reads through a cluster client connected to this node (`graveyard::Store`), as the
//! command line does: requests about a stream reach its owner, groups are found on the member
//! that holds them, and listings visit every member. Nothing in it writes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next as Middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use graveyard::client::TransportOptions;
use graveyard::cluster::Ring;
use graveyard::runtime::Next;
use graveyard::{
    ClientOptions, Db, Direction, Error, ErrorCode, Filter, ListStreamsOptions, ReadAllOptions, ReadOptions,
    RecordedEvent, Store, SubscribeOptions, SubscriptionMessage,
};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::cli::events::EventLine;
use crate::config::Token;
use crate::metrics::Metrics;

/// Most events or streams one API page holds.
const MAX_PAGE: u64 = 1000;
const DEFAULT_PAGE: u64 = 100;
/// How long the node page waits for a member's answer before calling it unreachable.
const MEMBER_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves `GET /metrics` on `listener` until `stop`.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    db: Db,
    data: PathBuf,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let router = Router::new().route(
        "/metrics",
        get(move || async move {
            // The head, the groups and the size on disk are quick reads, but reads all the same.
            let body = tokio::task::block_in_place(|| metrics.render(&db, &data));
            ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body)
        }),
    );
    if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(stop).await {
        tracing::warn!(error = %e, "metrics: serving failed");
    }
}

/// What the admin API needs of the node.
pub struct Admin {
    /// This node, as a cluster client sees it; connected at the first request.
    pub store: tokio::sync::OnceCell<Store>,
    /// This node's gRPC endpoint, as the members list it.
    pub endpoint: String,
    pub transport: TransportOptions,
    pub token: Option<Token>,
    pub metrics: Arc<Metrics>,
    /// The node's own store, for its `$all`.
    pub db: Db,
    pub node_id: String,
    pub ring: Ring,
    pub draining: watch::Receiver<bool>,
}

impl Admin {
    async fn store(&self) -> Result<&Store, ApiError> {
        self.store
            .get_or_try_init(|| async {
                let options = ClientOptions { transport: self.transport.clone(), ..ClientOptions::default() };
                Store::connect(std::slice::from_ref(&self.endpoint), options).await
            })
            .await
            .map_err(ApiError::from)
    }
}

/// Serves the admin API and the console on `listener` until `stop`: over TLS with the node's
/// certificate when it has one, plain HTTP otherwise.
pub async fn serve_admin(
    listener: tokio::net::TcpListener,
    admin: Arc<Admin>,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let router = router(admin);
    let Some(tls) = tls else {
        if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(stop).await {
            tracing::warn!(error = %e, "admin: serving failed");
        }
        return;
    };
    // axum::serve speaks plain TCP only: each connection goes through the TLS handshake first,
    // then to hyper with the same router.
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::pin!(stop);
    loop {
        let (socket, peer) = tokio::select! {
            () = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "admin: accept failed");
                    continue;
                }
            },
        };
        let (acceptor, router) = (acceptor.clone(), router.clone());
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(socket)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "admin: TLS handshake failed"),
                Err(_) => return tracing::debug!(%peer, "admin: TLS handshake timed out"),
            };
            let service = hyper_util::service::TowerToHyperService::new(router);
            let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            if let Err(e) = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await {
                tracing::debug!(%peer, error = %e, "admin: connection ended with an error");
            }
        });
    }
}

/// The TLS configuration of the admin listener from the node's PEM certificate chain and key.
pub fn tls_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the certificate chain is not PEM: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("the key is not a PEM private key: {e}"))?;
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| format!("the certificate and key do not make a TLS identity: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

pub fn router(admin: Arc<Admin>) -> Router {
    let api = Router::new()
        .route("/node", get(node))
        .route("/metrics", get(metrics))
        .route("/streams", get(streams))
        .route("/streams/{stream}", get(stream_info))
        .route("/streams/{stream}/events", get(stream_events))
        .route("/all", get(all_events))
        .route("/all/live", get(live))
        .route("/schemas", get(schemas))
        .route("/schemas/{name}", get(schema))
        .route("/groups", get(groups))
        .route("/groups/{name}", get(group))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such API path") })
        .layer(axum::middleware::from_fn_with_state(admin.clone(), authenticate))
        .with_state(admin);
    Router::new()
        .route("/", get(|| asset("text/html; charset=utf-8", include_str!("../console/index.html"))))
        .route("/app.js", get(|| asset("text/javascript; charset=utf-8", include_str!("../console/app.js"))))
        .route("/style.css", get(|| asset("text/css; charset=utf-8", include_str!("../console/style.css"))))
        .nest("/api", api)
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Everything comes from the node itself; no inline script runs.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The node's token, as on gRPC: `authorization: Bearer <token>` on every API request.
async fn authenticate(State(admin): State<Arc<Admin>>, request: Request, next: Middleware) -> Response {
    let header = request.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
    match crate::auth::check_bearer(admin.token.as_ref(), header) {
        Ok(()) => next.run(request).await,
        Err(why) => {
            admin.metrics.record_error(ErrorCode::Unauthenticated);
            ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", why).into_response()
        }
    }
}

/// An API error: an HTTP status, the error code of docs/semantics.md, a message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let status = match e.code() {
            ErrorCode::InvalidArgument | ErrorCode::InvalidSchema | ErrorCode::SchemaViolation => {
                StatusCode::BAD_REQUEST
            }
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::StreamDeleted => StatusCode::GONE,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorCode::Unavailable | ErrorCode::Closed => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unsupported => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError { status, code: e.code().as_str(), message: e.to_string() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": { "code": self.code, "message": self.message } })))
            .into_response()
    }
}

type ApiResult<T = Json<Value>> = Result<T, ApiError>;

/// The query of a request: every parameter must be one the endpoint knows.
struct Params(HashMap<String, String>);

impl Params {
    fn take(query: HashMap<String, String>, known: &[&str]) -> Result<Params, ApiError> {
        if let Some(unknown) = query.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(ApiError::bad(format!(
                "unknown parameter '{unknown}' (this endpoint takes: {})",
                known.join(", ")
            )));
        }
        Ok(Params(query))
    }

    fn number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(text) => text
                .parse::<u64>()
                .map(Some)
                .map_err(|_| ApiError::bad(format!("{name} '{text}' is not a whole number"))),
        }
    }

    fn limit(&self) -> Result<u64, ApiError> {
        match self.number("limit")? {
            None => Ok(DEFAULT_PAGE),
            Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::bad(format!("limit {n} is out of range: 1 to {MAX_PAGE} a page"))),
        }
    }

    fn direction(&self) -> Result<Direction, ApiError> {
        match self.0.get("direction").map(String::as_str) {
            None | Some("forwards") => Ok(Direction::Forwards),
            Some("backwards") => Ok(Direction::Backwards),
            Some(other) => Err(ApiError::bad(format!("direction '{other}' is not forwards or backwards"))),
        }
    }

    /// `type` and `prefix`, each a comma-separated list.
    fn filter(&self) -> Filter {
        let list = |name: &str| -> Vec<String> {
            self.0
                .get(name)
                .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        Filter { stream_prefixes: list("prefix"), event_types: list("type") }
    }
}

/// A page of events and where the next one starts (`None`: this was the last).
#[derive(Serialize)]
struct EventsPage {
    /// In the JSON line form, so data keeps its bytes (`12.50` stays `12.50`).
    events: Vec<EventLine>,
    next: Option<u64>,
}

fn events_page(
    events: &[RecordedEvent],
    limit: u64,
    direction: Direction,
    by_position: bool,
) -> Json<EventsPage> {
    let at = |e: &RecordedEvent| if by_position { e.position } else { e.revision };
    let next = match (events.last(), events.len() as u64 == limit) {
        (Some(last), true) => match direction {
            Direction::Forwards => Some(at(last) + 1),
            Direction::Backwards => at(last).checked_sub(1),
        },
        _ => None,
    };
    Json(EventsPage { events: events.iter().map(EventLine::from_event).collect(), next })
}

async fn node(State(admin): State<Arc<Admin>>) -> ApiResult {
    let store = admin.store().await?;
    let mut members = Vec::new();
    for (member, share) in admin.ring.ownership() {
        let this = member.id == admin.node_id;
        // The member itself, never another serving its log: an answer says it is up.
        let asked = async {
            let client = store
                .client()
                .ok_or_else(|| Error::Internal("the console's store is not a client".into()))?;
            client.on_node(&member.id)?.node_health().await
        };
        let (healthy, head_position, error) = match tokio::time::timeout(MEMBER_TIMEOUT, asked).await {
            Ok(Ok(health)) => {
                let unwell = match (&health.stopped, health.draining) {
                    (Some(why), _) => Some(format!("takes no writes: {why}")),
                    (None, true) => Some("shutting down".to_owned()),
                    (None, false) => None,
                };
                (unwell.is_none(), Some(health.head_position), unwell)
            }
            Ok(Err(e)) => (false, None, Some(e.to_string())),
            Err(_) => (false, None, Some(format!("no answer within {MEMBER_TIMEOUT:?}"))),
        };
        members.push(json!({
            "id": member.id, "endpoint": member.endpoint, "share": share, "this": this,
            "healthy": healthy, "head_position": head_position, "error": error,
        }));
    }
    Ok(Json(json!({
        "node_id": admin.node_id,
        "version": env!("CARGO_PKG_VERSION"),
        "draining": *admin.draining.borrow(),
        "virtual_nodes": admin.ring.vnodes(),
        "members": members,
    })))
}

async fn metrics(State(admin): State<Arc<Admin>>) -> ApiResult {
    let head_position = admin.db.head_position()?;
    Ok(Json(json!({ "head_position": head_position, "counters": admin.metrics.summary() })))
}

#[derive(Serialize)]
struct StreamRow {
    #[serde(flatten)]
    summary: graveyard::StreamSummary,
    node: Option<String>,
}

/// Streams under a prefix after a cursor, of every member, merged in name order.
async fn streams(State(admin): State<Arc<Admin>>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let params = Params::take(query, &["prefix", "after", "limit"])?;
    let limit = params.limit()?;
    let options = ListStreamsOptions {
        prefix: params.0.get("prefix").cloned().unwrap_or_default(),
        after: params.0.get("after").cloned().filter(|a| !a.is_empty()),
        limit,
    };
    let store = admin.store().await?;
    let mut rows = Vec::new();
    let client = store
        .client()
        .ok_or_else(|| ApiError::from(Error::Internal("the admin API needs a client".into())))?;
    for member in client.members() {
        let page = store.on_node(&member.id)?.list_streams(&options).await?;
        rows.extend(page.into_iter().map(|summary| StreamRow { summary, node: Some(member.id.clone()) }));
    }
    rows.sort_by(|a, b| a.summary.name.cmp(&b.summary.name));
    let full = rows.len() as u64 >= limit;
    rows.truncate(limit as usize);
    let next = if full { rows.last().map(|r| r.summary.name.clone()) } else { None };
    Ok(Json(json!({ "streams": rows, "next": next })))
}

async fn stream_info(State(admin): State<Arc<Admin>>, Path(stream): Path<String>) -> ApiResult {
    let store = admin.store().await?;
    let info = store.stream_info(&stream).await?;
    let owner = store.client().map(|c| c.owner(&stream).id);
    Ok(Json(json!({ "stream": stream, "info": info, "owner": owner })))
}

async fn stream_events(
    State(admin): State<Arc<Admin>>,
    Path(stream): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<EventsPage>> {
    let params = Params::take(query, &["from", "limit", "direction"])?;
    let (limit, direction) = (params.limit()?, params.direction()?);
    let options = ReadOptions { direction, from: params.number("from")?, limit };
    let events = admin.store().await?.read_stream(&stream, options).await?;
    Ok(events_page(&events, limit, direction, false))
}

async fn all_events(
    State(admin): State<Arc<Admin>>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<EventsPage>> {
    let params = Params::take(query, &["from", "limit", "direction", "type", "prefix"])?;
    let (limit, direction) = (params.limit()?, params.direction()?);
    let options = ReadAllOptions { direction, from: params.number("from")?, limit, filter: params.filter() };
    // $all is the log of this node (docs/semantics.md, "Cluster").
    let events = admin.db.read_all(options)?;
    Ok(events_page(&events, limit, direction, true))
}

/// `$all` of this node as it grows, as server-sent events: `event` (an event's JSON line form),
/// `caught_up`, and `error` before the stream ends (it never ends silently). `after` resumes
/// after a position (a paused console resumes where it stopped).
async fn live(
    State(admin): State<Arc<Admin>>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>>> {
    let params = Params::take(query, &["after", "type", "prefix"])?;
    let options = match params.number("after")? {
        Some(position) => SubscribeOptions::after(position),
        None => SubscribeOptions::from_end(),
    }
    .filter(params.filter());
    let subscription = graveyard::Store::from_db(admin.db.clone()).subscribe_to_all(options).await?;
    let draining = admin.draining.clone();
    let events = futures_util::stream::unfold(Some(subscription), move |state| {
        let mut draining = draining.clone();
        async move {
            let subscription = state?;
            let next = tokio::select! {
                next = subscription.next(None) => next,
                _ = draining.wait_for(|&d| d) => Err(Error::Unavailable("the node is shutting down".into())),
            };
            let event = match next {
                Ok(Next::Item(SubscriptionMessage::Event(e))) => Event::default()
                    .event("event")
                    .data(serde_json::to_string(&EventLine::from_event(&e)).unwrap_or_default()),
                Ok(Next::Item(SubscriptionMessage::CaughtUp)) => {
                    Event::default().event("caught_up").data("{}")
                }
                Ok(Next::Timeout) => Event::default().comment("waiting"),
                Ok(Next::Ended) => {
                    let error = json!({ "code": "UNAVAILABLE", "message": "the subscription ended" });
                    return Some((Ok(Event::default().event("error").data(error.to_string())), None));
                }
                Err(e) => {
                    let error = json!({ "code": e.code().as_str(), "message": e.to_string() });
                    return Some((Ok(Event::default().event("error").data(error.to_string())), None));
                }
            };
            Some((Ok(event), Some(subscription)))
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

async fn schemas(State(admin): State<Arc<Admin>>) -> ApiResult {
    let list = admin.store().await?.list_schemas().await?;
    Ok(Json(json!({ "schemas": list })))
}

/// Every version of a schema, oldest first (the console shows the difference between two).
async fn schema(State(admin): State<Arc<Admin>>, Path(name): Path<String>) -> ApiResult {
    let store = admin.store().await?;
    let latest = store.get_schema(&name, None).await?;
    let mut versions = Vec::new();
    for version in 1..=latest.version {
        versions.push(store.get_schema(&name, Some(version)).await?);
    }
    Ok(Json(json!({ "name": name, "versions": versions })))
}

async fn groups(State(admin): State<Arc<Admin>>) -> ApiResult {
    let store = admin.store().await?;
    let mut groups = Vec::new();
    for name in store.list_groups().await? {
        groups.push(store.group_info(&name).await?);
    }
    Ok(Json(json!({ "groups": groups })))
}

async fn group(State(admin): State<Arc<Admin>>, Path(name): Path<String>) -> ApiResult {
    let info = admin.store().await?.group_info(&name).await?;
    Ok(Json(json!({ "group": info })))
}
