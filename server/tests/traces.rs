//! Traces over OTLP: real nodes send their spans to a collector run here (the OTLP TraceService
//! on tonic, keeping what it receives), and the spans are checked as a trace backend would read
//! them: names, kinds, attributes, status, parents across a forward, links, sampling.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::*;
use graveyard::cluster::{Member, Ring, DEFAULT_VNODES};
use graveyard::wire::v1 as pb;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

/// A span as received, with its resource's attributes.
#[derive(Debug, Clone)]
struct Received {
    name: String,
    kind: i32,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent: Vec<u8>,
    attributes: HashMap<String, String>,
    resource: HashMap<String, String>,
    status: Option<i32>,
    links: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Received {
    fn get(&self, key: &str) -> &str {
        self.attributes
            .get(key)
            .map_or_else(|| panic!("span {} has no {key}: {self:?}", self.name), String::as_str)
    }
}

fn text(attributes: &[KeyValue]) -> HashMap<String, String> {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.clone(),
                Some(Value::IntValue(i)) => i.to_string(),
                Some(Value::DoubleValue(d)) => d.to_string(),
                Some(Value::BoolValue(b)) => b.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let resource = text(&resource_spans.resource.map(|r| r.attributes).unwrap_or_default());
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push(Received {
                        name: span.name,
                        kind: span.kind,
                        trace_id: span.trace_id,
                        span_id: span.span_id,
                        parent: span.parent_span_id,
                        attributes: text(&span.attributes),
                        resource: resource.clone(),
                        status: span.status.map(|s| s.code),
                        links: span.links.into_iter().map(|l| (l.trace_id, l.span_id)).collect(),
                    });
                }
            }
        }
        Ok(Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

impl Collector {
    /// Serves on a free loopback port, over TLS with `identity`; returns the port.
    async fn serve(&self, identity: Option<Identity>) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut server = Server::builder();
        if let Some(identity) = identity {
            graveyard::client::install_crypto_provider();
            server = server.tls_config(ServerTlsConfig::new().identity(identity)).unwrap();
        }
        let router = server.add_service(TraceServiceServer::new(self.clone()));
        tokio::spawn(router.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)));
        port
    }

    fn spans(&self) -> Vec<Received> {
        self.spans.lock().unwrap().clone()
    }

    fn named(&self, name: &str) -> Vec<Received> {
        self.spans().into_iter().filter(|s| s.name == name).collect()
    }
}

fn traced(port: u16) -> NodeOptions {
    NodeOptions {
        args: vec!["--otlp-endpoint".into(), format!("http://127.0.0.1:{port}")],
        ..Default::default()
    }
}

/// A sampled W3C trace context of a made-up caller: (header, trace id, span id).
fn caller(n: u8) -> (String, Vec<u8>, Vec<u8>) {
    let trace_id = vec![n; 16];
    let span_id = vec![n.wrapping_add(1); 8];
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    (format!("00-{}-{}-01", hex(&trace_id), hex(&span_id)), trace_id, span_id)
}

fn with_parent<T>(message: T, traceparent: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("traceparent", traceparent.parse().unwrap());
    request
}

fn append_request(stream: &str, events: usize) -> pb::AppendRequest {
    pb::AppendRequest {
        stream: stream.into(),
        expected: None,
        events: (0..events).map(|i| json_event("Placed", &format!("{{\"n\":{i}}}"))).collect(),
    }
}

/// Stops the node gracefully (it sends what it still holds) and waits for it.
async fn stop(node: &mut Node) {
    node.terminate();
    assert!(node.wait_exit().await.success(), "the node failed:\n{}", node.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_traces_appends_reads_and_deliveries() {
    let collector = Collector::default();
    let port = collector.serve(None).await;
    let mut node = Node::start_with(traced(port)).await;
    let mut client = node.client().await;

    // An append that continues a caller's trace.
    let (traceparent, trace_id, parent_id) = caller(7);
    client.append(with_parent(append_request("order-1", 3), &traceparent)).await.unwrap();
    // One that starts a trace, and one that fails.
    client.append(append_request("order-2", 1)).await.unwrap();
    let conflict = pb::AppendRequest { expected: exact(9), ..append_request("order-1", 1) };
    let status = client.append(conflict).await.unwrap_err();
    detail(&status, "WRONG_EXPECTED_VERSION");
    // A read, and a subscription that delivers history and a live event.
    assert_eq!(read_stream(&mut client, "order-1").await.unwrap().len(), 3);
    let request = pb::SubscribeToStreamRequest { stream: "order-1".into(), start: None, page_size: None };
    let mut subscription = client.subscribe_to_stream(request).await.unwrap().into_inner();
    client.append(append_request("order-1", 1)).await.unwrap();
    let mut delivered = 0;
    while delivered < 4 {
        let message = subscription.message().await.unwrap().expect("the subscription goes on");
        if let Some(pb::subscribe_response::Message::Event(_)) = message.message {
            delivered += 1;
        }
    }
    drop(subscription);
    stop(&mut node).await;

    let appends = collector.named("Append");
    assert_eq!(appends.len(), 4, "{appends:#?}");
    let first = appends.iter().find(|s| s.trace_id == trace_id).expect("the caller's trace goes on");
    assert_eq!(first.parent, parent_id);
    assert_eq!(first.kind, SpanKind::Server as i32);
    assert_eq!(first.get("graveyard.stream"), "order-1");
    assert_eq!(first.get("graveyard.node"), "node-1");
    assert_eq!(first.get("graveyard.events"), "3");
    assert_eq!(first.get("rpc.system"), "grpc");
    assert_eq!(first.resource.get("service.name").map(String::as_str), Some("graveyard"));
    assert_eq!(first.resource.get("service.instance.id").map(String::as_str), Some("node-1"));
    let fresh = appends.iter().find(|s| s.get("graveyard.stream") == "order-2").unwrap();
    assert!(fresh.parent.is_empty(), "a request without a trace context starts one");
    let failed: Vec<_> = appends.iter().filter(|s| s.status == Some(StatusCode::Error as i32)).collect();
    assert_eq!(failed.len(), 1, "{appends:#?}");
    assert_eq!(failed[0].get("graveyard.error_code"), "WRONG_EXPECTED_VERSION");
    assert_eq!(failed[0].get("rpc.grpc.status_code"), (tonic::Code::FailedPrecondition as i32).to_string());

    let read = collector.named("ReadStream");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].get("graveyard.stream"), "order-1");
    let opened = collector.named("SubscribeToStream");
    assert_eq!(opened.len(), 1);
    let deliveries = collector.named("deliver");
    assert_eq!(deliveries.len(), 4, "{deliveries:#?}");
    let mut positions: Vec<_> = deliveries.iter().map(|d| d.get("graveyard.position").to_owned()).collect();
    positions.sort();
    assert_eq!(positions, ["0", "1", "2", "4"]);
    for delivery in &deliveries {
        assert_eq!(delivery.get("graveyard.stream"), "order-1");
        assert_eq!(delivery.get("graveyard.subscription"), "stream");
        assert_eq!(delivery.get("graveyard.node"), "node-1");
        assert!(delivery.get("graveyard.lag_ms").parse::<f64>().unwrap() >= 0.0);
        assert_eq!(delivery.links, [(opened[0].trace_id.clone(), opened[0].span_id.clone())]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_request_is_one_trace_across_nodes() {
    let collector = Collector::default();
    let port = collector.serve(None).await;
    let mut cluster = TestCluster::start(2, traced(port)).await;
    let ring = Ring::new(
        cluster
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| Member::new(format!("n{}", i + 1), n.endpoint()))
            .collect(),
        DEFAULT_VNODES,
    )
    .unwrap();
    let stream = (0..).map(|i| format!("wallet-{i}")).find(|s| ring.owner(s).id == "n2").unwrap();
    let mut client = cluster.node("n1").client().await;
    let (traceparent, trace_id, parent_id) = caller(21);
    client.append(with_parent(append_request(&stream, 2), &traceparent)).await.unwrap();
    for node in &mut cluster.nodes {
        stop(node).await;
    }

    let trace: Vec<_> = collector.spans().into_iter().filter(|s| s.trace_id == trace_id).collect();
    let on = |name: &str, node: &str| {
        trace
            .iter()
            .find(|s| s.name == name && s.get("graveyard.node") == node)
            .unwrap_or_else(|| panic!("no {name} span of {node} in {trace:#?}"))
    };
    let received = on("Append", "n1");
    let forward = on("forward", "n1");
    let served = on("Append", "n2");
    assert_eq!(received.parent, parent_id);
    assert_eq!(forward.parent, received.span_id, "the forward is part of the request it forwards");
    assert_eq!(forward.kind, SpanKind::Client as i32);
    assert_eq!(forward.get("graveyard.peer"), "n2");
    assert_eq!(forward.get("rpc.method"), "append");
    assert_eq!(served.parent, forward.span_id, "the owner continues the forwarding node's trace");
    assert_eq!(served.get("graveyard.stream"), stream);
    assert_eq!(served.resource.get("service.instance.id").map(String::as_str), Some("n2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_follows_the_ratio_and_the_callers_decision() {
    let collector = Collector::default();
    let port = collector.serve(None).await;
    let mut options = traced(port);
    options.args.extend(["--otlp-sample-ratio".into(), "0".into()]);
    let mut node = Node::start_with(options).await;
    let mut client = node.client().await;
    for _ in 0..20 {
        client.append(append_request("unsampled", 1)).await.unwrap();
    }
    let (traceparent, trace_id, _) = caller(40);
    client.append(with_parent(append_request("sampled", 1), &traceparent)).await.unwrap();
    // Deliveries follow the decision taken for the subscription: none for one opened without a
    // trace context (ratio 0), every one for one opened in the caller's sampled trace.
    let subscribe =
        || pb::SubscribeToStreamRequest { stream: "sampled".into(), start: None, page_size: None };
    let mut unsampled = client.subscribe_to_stream(subscribe()).await.unwrap().into_inner();
    let (traceparent, subscribed_in, _) = caller(50);
    let mut sampled =
        client.subscribe_to_stream(with_parent(subscribe(), &traceparent)).await.unwrap().into_inner();
    for subscription in [&mut unsampled, &mut sampled] {
        let message = subscription.message().await.unwrap().unwrap();
        assert!(matches!(message.message, Some(pb::subscribe_response::Message::Event(_))));
    }
    drop((unsampled, sampled));
    stop(&mut node).await;
    let spans = collector.spans();
    let names: Vec<_> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 3, "only what the callers sampled is recorded: {spans:#?}");
    let append = spans.iter().find(|s| s.name == "Append").unwrap();
    assert_eq!(append.trace_id, trace_id);
    let opened = spans.iter().find(|s| s.name == "SubscribeToStream").unwrap();
    assert_eq!(opened.trace_id, subscribed_in);
    let delivery = spans.iter().find(|s| s.name == "deliver").unwrap();
    assert_eq!(delivery.links, [(opened.trace_id.clone(), opened.span_id.clone())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_deliveries_are_traced_and_a_tls_collector_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = self_signed(dir.path());
    let identity = Identity::from_pem(std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
    let collector = Collector::default();
    let port = collector.serve(Some(identity)).await;
    let options = NodeOptions {
        args: vec![
            "--otlp-endpoint".into(),
            // The scheme in capitals, as URLs allow.
            format!("HTTPS://localhost:{port}"),
            "--otlp-ca-file".into(),
            cert.to_str().unwrap().into(),
        ],
        ..Default::default()
    };
    let mut node = Node::start_with(options).await;
    let mut client = node.client().await;
    client.append(append_request("invoice-1", 2)).await.unwrap();
    let create = pb::CreateGroupRequest {
        name: "billing".into(),
        target: Some(graveyard::GroupTarget::Stream("invoice-1".into()).into()),
        ..Default::default()
    };
    client.create_group(create).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let join = pb::consume_request::Join { group: "billing".into(), member: "worker-1".into() };
    tx.send(pb::ConsumeRequest { request: Some(pb::consume_request::Request::Join(join)) }).await.unwrap();
    let mut session =
        client.consume(tokio_stream::wrappers::ReceiverStream::new(rx)).await.unwrap().into_inner();
    let mut delivered = 0;
    while delivered < 2 {
        let message = session.message().await.unwrap().expect("the session goes on");
        if let Some(pb::consume_response::Response::Delivery(_)) = message.response {
            delivered += 1;
        }
    }
    drop(tx);
    drop(session);
    stop(&mut node).await;

    let consume = collector.named("Consume");
    assert_eq!(consume.len(), 1, "{:#?}", collector.spans());
    assert_eq!(consume[0].get("graveyard.group"), "billing");
    let deliveries = collector.named("deliver");
    assert_eq!(deliveries.len(), 2);
    for delivery in deliveries {
        assert_eq!(delivery.get("graveyard.subscription"), "group");
        assert_eq!(delivery.get("graveyard.group"), "billing");
        assert_eq!(delivery.get("graveyard.attempt"), "1");
        assert_eq!(delivery.links, [(consume[0].trace_id.clone(), consume[0].span_id.clone())]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_collector_the_node_serves_and_stops_as_usual() {
    // Traces off: nothing is sent anywhere, even with the standard variables naming a collector
    // (they configure the exporter; only --otlp-endpoint turns traces on).
    let collector = Collector::default();
    let port = collector.serve(None).await;
    let url = format!("http://127.0.0.1:{port}");
    let env = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), url.clone()),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".to_owned(), url),
    ];
    let mut node = Node::start_with(NodeOptions { env, ..Default::default() }).await;
    let mut client = node.client().await;
    client.append(append_request("quiet", 1)).await.unwrap();
    stop(&mut node).await;
    assert!(collector.spans().is_empty());

    // A collector that is not there: appends are served, and the node still stops.
    let mut node = Node::start_with(traced(free_port())).await;
    let mut client = node.client().await;
    for _ in 0..10 {
        client.append(append_request("unheard", 1)).await.unwrap();
    }
    assert_eq!(read_stream(&mut client, "unheard").await.unwrap().len(), 10);
    stop(&mut node).await;
    // The lost spans are said in the log, not silently dropped.
    assert!(node.log().contains("opentelemetry"), "{}", node.log());
}

#[test]
fn bad_trace_settings_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("key.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let cases: [(&[&str], &str); 8] = [
        (&["--otlp-endpoint", "http://127.0.0.1"], "it names no port"),
        (
            &["--otlp-endpoint", "https://localhost:4317", "--otlp-ca-file", "key.pem"],
            "'key.pem' holds no PEM certificate",
        ),
        (
            &["--otlp-endpoint", "ftp://127.0.0.1:4317"],
            "--otlp-endpoint 'ftp://127.0.0.1:4317' is not a collector's URL",
        ),
        (&["--otlp-endpoint", "127.0.0.1:4317"], "is not a collector's URL"),
        (&["--otlp-sample-ratio", "0.5"], "--otlp-sample-ratio is given without --otlp-endpoint"),
        (
            &["--otlp-endpoint", "http://127.0.0.1:4317", "--otlp-sample-ratio", "1.5"],
            "'1.5' is not a ratio from 0 to 1",
        ),
        (
            &["--otlp-endpoint", "http://127.0.0.1:4317", "--otlp-ca-file", "ca.pem"],
            "--otlp-ca-file is given but --otlp-endpoint 'http://127.0.0.1:4317' is not an https:// URL",
        ),
        (
            &["--otlp-endpoint", "https://127.0.0.1:4317", "--otlp-ca-file", "missing.pem"],
            "'missing.pem' cannot be read",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        let output = run_binary(&all, &[], dir.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    // The variable is named when it is the one that is wrong.
    let output = run_binary(
        &["serve"],
        &[("GRAVEYARD_OTLP_SAMPLE_RATIO", "x"), ("GRAVEYARD_OTLP_ENDPOINT", "http://h:1")],
        dir.path(),
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("GRAVEYARD_OTLP_SAMPLE_RATIO 'x' is not a ratio")
    );
    assert!(!dir.path().join("data").exists(), "a refused node creates nothing");
}
