//! The node's log lines and, opt-in (`--otlp-endpoint`), its traces over OTLP/gRPC.
//!
//! Spans are `tracing` spans of target [`TARGET`], turned into OpenTelemetry spans by
//! tracing-opentelemetry and sent in batches by the OTLP exporter (on tonic, the node's own
//! gRPC stack). The log lines never see them, so without `--otlp-endpoint` no layer wants them
//! and each span macro costs one cached check of its call site: nothing on the append path.
//!
//! What is traced, each span carrying `graveyard.node` (this node's id) and, where there is one,
//! `graveyard.stream`:
//! - the RPCs that move events (Append, ReadStream, ReadAll, SubscribeToStream, SubscribeToAll,
//!   Consume), as server spans named after the method; a read's span lasts until its last page
//!   is sent; a failure sets the span's status to ERROR with the gRPC and GraveyardDB codes;
//! - `forward`, a client span around each request this node hands to the stream's owner, whose
//!   W3C `traceparent` travels with the request, so the owner's span joins the same trace;
//! - `deliver`, one span per event a subscription or a group member hands to its client, linked
//!   to the span of the call that opened the subscription, with the event's position, type and
//!   its lag behind its commit.
//!
//! A request that carries a `traceparent` continues the caller's trace (and follows the caller's
//! sampling decision); the others start a trace sampled at `--otlp-sample-ratio`.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{
    Link, SpanContext, SpanKind, TraceContextExt, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry::{Key, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample};
use opentelemetry_sdk::Resource;
use tonic::metadata::{KeyRef, MetadataKey, MetadataMap, MetadataValue};
use tonic::{Response, Status};
use tracing::field::Empty;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{filter_fn, FilterExt, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{Otlp, Settings};

/// The target of every span sent over OTLP, and of nothing else.
pub const TARGET: &str = "graveyard::trace";

/// How long a node waits at shutdown for its last spans to reach the collector.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The installed trace pipeline; [`Telemetry::shutdown`] sends what is still batched.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

/// Installs the node's subscriber: log lines on stderr, filtered by `--log`, and with
/// `--otlp-endpoint` the trace exporter. Runs inside the node's runtime: the exporter's channel
/// lives on it.
pub fn install(settings: &Settings) -> Result<Telemetry, String> {
    let is_traced = |metadata: &tracing::Metadata<'_>| metadata.target() == TARGET;
    // The hints keep the global level at what the filters let through (a filter_fn has none,
    // and an `and` without one would let every debug! and trace! of the tree reach its check).
    let untraced = filter_fn(move |m| !is_traced(m)).with_max_level_hint(LevelFilter::TRACE);
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(EnvFilter::new(&settings.log_filter).and(untraced));
    let Some(otlp) = &settings.otlp else {
        tracing_subscriber::registry().with(logs).init();
        return Ok(Telemetry { provider: None });
    };
    let provider = provider(otlp, &settings.node_id)?;
    let tracer = provider.tracer("graveyard");
    // The attributes are the ones named here: no source locations, threads or busy/idle times
    // (the last would read the clock at every poll of every traced future).
    let traces = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_filter(filter_fn(is_traced).with_max_level_hint(LevelFilter::INFO));
    tracing_subscriber::registry().with(logs).with(traces).init();
    Ok(Telemetry { provider: Some(provider) })
}

fn provider(otlp: &Otlp, node_id: &str) -> Result<SdkTracerProvider, String> {
    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(&otlp.endpoint);
    if otlp.https {
        let tls = tonic::transport::ClientTlsConfig::new();
        let tls = match &otlp.ca_pem {
            Some(pem) => tls.ca_certificate(tonic::transport::Certificate::from_pem(pem)),
            None => tls.with_native_roots(),
        };
        exporter = exporter.with_tls_config(tls);
    }
    let exporter = exporter
        .build()
        .map_err(|e| format!("cannot send traces to '{}' (--otlp-endpoint): {e}", otlp.endpoint))?;
    // The standard variables (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) still apply; the
    // service is named here only when they do not name it (the SDK then says unknown_service).
    let mut resource = Resource::builder().with_attributes([
        KeyValue::new("service.instance.id", node_id.to_owned()),
        KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
    ]);
    let named = Resource::builder()
        .build()
        .get(&Key::from_static_str("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    if !named {
        resource = resource.with_service_name("graveyard");
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampling(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(otlp.sample_ratio)))))
        .with_resource(resource.build())
        .build())
}

/// The node's sampler: a span in a trace follows its parent's decision, a trace that starts here
/// is recorded at the configured ratio (the standard parent-based sampler), except that a root
/// span linked to a recorded span is recorded: a delivery follows the decision taken for the
/// call that opened its subscription, whatever the ratio.
#[derive(Debug, Clone)]
struct Sampling(Sampler);

impl ShouldSample for Sampling {
    fn should_sample(
        &self,
        parent_context: Option<&opentelemetry::Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let root = !parent_context.is_some_and(opentelemetry::Context::has_active_span);
        if root && links.iter().any(|link| link.span_context.is_sampled()) {
            return SamplingResult {
                decision: SamplingDecision::RecordAndSample,
                attributes: Vec::new(),
                trace_state: TraceState::default(),
            };
        }
        self.0.should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

impl Telemetry {
    /// Sends the spans still batched, waiting at most [`FLUSH_TIMEOUT`]. On a blocking thread:
    /// the exporter's own tasks need the runtime's workers meanwhile.
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else { return };
        let flushed =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(FLUSH_TIMEOUT)).await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "traces: the last spans may not have been sent"),
            Err(e) => tracing::warn!(error = %e, "traces: flushing failed"),
        }
    }
}

/// The span of an RPC served here, named after its method: a child of the caller's trace when
/// the request carries a W3C `traceparent`.
pub fn serve(method: &'static str, metadata: &MetadataMap, node: &str, stream: Option<&str>) -> Span {
    let span = tracing::info_span!(
        target: TARGET,
        "rpc",
        otel.name = method,
        otel.kind = "server",
        otel.status_code = Empty,
        otel.status_description = Empty,
        rpc.system = "grpc",
        rpc.service = "graveyard.v1.Graveyard",
        rpc.method = method,
        rpc.grpc.status_code = Empty,
        graveyard.node = node,
        graveyard.stream = stream,
        graveyard.group = Empty,
        graveyard.error_code = Empty,
        graveyard.events = Empty,
    );
    if !span.is_disabled() {
        let parent = TraceContextPropagator::new().extract(&MetadataCarrier(metadata));
        if parent.span().span_context().is_valid() {
            // Fails only when no OpenTelemetry layer is installed, and then nothing is traced.
            let _ = span.set_parent(parent);
        }
    }
    span
}

/// Runs an RPC's `call` in `span`, and marks the span failed when the call fails.
pub async fn traced<T>(
    span: Span,
    call: impl Future<Output = Result<Response<T>, Status>>,
) -> Result<Response<T>, Status> {
    let result = call.instrument(span.clone()).await;
    if let Err(status) = &result {
        failed(&span, status);
    }
    result
}

/// Marks `span` failed with `status`: its gRPC code and, when the status carries one, the
/// GraveyardDB error code.
pub fn failed(span: &Span, status: &Status) {
    if span.is_disabled() {
        return;
    }
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_description", status.message());
    span.record("rpc.grpc.status_code", status.code() as i64);
    if let Some(detail) = graveyard::wire::status_detail(status) {
        span.record("graveyard.error_code", detail.code.as_str());
    }
}

/// The span of a request this node forwards to `peer`, the owner of what it asks about
/// (`method`, the RPC's name in the generated client); its trace context goes into `metadata`,
/// the forwarded request's.
pub fn forward(method: &'static str, node: &str, peer: &str, metadata: &mut MetadataMap) -> Span {
    let span = tracing::info_span!(
        target: TARGET,
        "forward",
        otel.kind = "client",
        rpc.method = method,
        otel.status_code = Empty,
        otel.status_description = Empty,
        rpc.grpc.status_code = Empty,
        graveyard.node = node,
        graveyard.peer = peer,
        graveyard.error_code = Empty,
    );
    if !span.is_disabled() {
        TraceContextPropagator::new().inject_context(&span.context(), &mut MetadataCarrier(metadata));
    }
    span
}

/// The context of the current span, for [`deliver`] to link to; `None` when nothing is traced.
pub fn current_context() -> Option<SpanContext> {
    let span = Span::current();
    if span.is_disabled() {
        return None;
    }
    let context = span.context().span().span_context().clone();
    context.is_valid().then_some(context)
}

/// What a delivered event is, for its span.
pub struct Delivered<'a> {
    pub stream: &'a str,
    pub position: u64,
    pub revision: u64,
    pub event_type: &'a str,
    /// Commit time, unix microseconds.
    pub timestamp: i64,
}

impl<'a> From<&'a graveyard::RecordedEvent> for Delivered<'a> {
    fn from(event: &'a graveyard::RecordedEvent) -> Delivered<'a> {
        Delivered {
            stream: &event.stream,
            position: event.position,
            revision: event.revision,
            event_type: &event.event_type,
            timestamp: event.timestamp,
        }
    }
}

/// A span for one event handed to a subscriber (`kind` "stream" or "all") or to a member of
/// consumer group `group`, linked to `opened`, the span of the call that opened the subscription.
pub fn deliver(
    kind: &'static str,
    group: Option<&str>,
    node: &str,
    event: Delivered<'_>,
    opened: Option<&SpanContext>,
) -> Span {
    // Recorded only for a subscription whose opening call was: its caller's sampling decision
    // (or this node's ratio) holds for what it receives, and every link leads somewhere.
    let Some(opened) = opened.filter(|opened| opened.is_sampled()) else { return Span::none() };
    let span = tracing::info_span!(
        target: TARGET,
        "deliver",
        otel.kind = "producer",
        graveyard.node = node,
        graveyard.subscription = kind,
        graveyard.group = group,
        graveyard.stream = event.stream,
        graveyard.position = event.position,
        graveyard.revision = event.revision,
        graveyard.event_type = event.event_type,
        graveyard.attempt = Empty,
        graveyard.lag_ms = Empty,
    );
    if span.is_disabled() {
        return span;
    }
    // How long after its commit the event left: what a subscriber's lag is made of.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64);
    span.record("graveyard.lag_ms", now.saturating_sub(event.timestamp).max(0) as f64 / 1000.0);
    span.add_link(opened.clone());
    span
}

/// gRPC metadata as a carrier of W3C trace context (`traceparent`, `tracestate`).
struct MetadataCarrier<M>(M);

impl Extractor for MetadataCarrier<&MetadataMap> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|key| match key {
                KeyRef::Ascii(key) => Some(key.as_str()),
                KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

impl Injector for MetadataCarrier<&mut MetadataMap> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) =
            (MetadataKey::from_bytes(key.as_bytes()), MetadataValue::try_from(value))
        {
            self.0.insert(key, value);
        }
    }
}
