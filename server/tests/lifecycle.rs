//! A node's life: settings refused at start, metrics, and a graceful shutdown under load that
//! keeps every acknowledged append.

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use graveyard::wire::v1 as pb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_exits_cleanly_and_keeps_every_acknowledged_append() {
    const WRITERS: usize = 16;
    const ACKED_BEFORE_SIGTERM: usize = 500;
    let mut node = Node::start().await;
    let acked_count = Arc::new(AtomicUsize::new(0));

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let mut client = node.client().await;
        let acked_count = acked_count.clone();
        writers.push(tokio::spawn(async move {
            let stream = format!("writer-{w}");
            let mut acked = Vec::new();
            loop {
                let id = graveyard::Uuid::new_v4();
                let event = pb::EventData { id: id.as_bytes().to_vec(), ..json_event("E", "{}") };
                match append(&mut client, &stream, None, vec![event]).await {
                    Ok(result) => {
                        acked.push((stream.clone(), result.first_revision, id));
                        acked_count.fetch_add(1, Ordering::Relaxed);
                    }
                    // The node is going away: this append may or may not have been written,
                    // and was not acknowledged.
                    Err(_) => return acked,
                }
            }
        }));
    }
    let mut subscriber = node.client().await;
    let mut subscription =
        subscriber.subscribe_to_all(pb::SubscribeToAllRequest::default()).await.unwrap().into_inner();
    let subscription = tokio::spawn(async move {
        loop {
            match subscription.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(status) => return Some(status),
            }
        }
    });

    while acked_count.load(Ordering::Relaxed) < ACKED_BEFORE_SIGTERM {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    node.terminate();
    let status = node.wait_exit().await;
    assert!(status.success(), "the node exited with {status}:\n{}", node.log());
    assert!(node.log().contains("store closed"), "{}", node.log());

    // The subscription was ended with a status saying why, not silently.
    let ending = subscription.await.unwrap().expect("the subscription ended without a status");
    assert_eq!(ending.code(), tonic::Code::Unavailable, "{ending:?}");
    assert!(detail(&ending, "UNAVAILABLE").message.contains("shutting down"));

    let mut acked = Vec::new();
    for writer in writers {
        acked.extend(writer.await.unwrap());
    }
    assert!(acked.len() >= ACKED_BEFORE_SIGTERM);
    let db = graveyard::Db::open(node.data_dir()).expect("the store reopens");
    for (stream, revision, id) in &acked {
        let events =
            db.read_stream(stream, graveyard::ReadOptions::forwards().from(*revision).limit(1)).unwrap();
        assert_eq!(events.first().map(|e| e.id), Some(*id), "acknowledged {stream}@{revision} is missing");
    }
    // The log is gapless however the shutdown cut the load.
    let head = db.head_position().unwrap();
    let all = db.read_all(graveyard::ReadAllOptions::forwards()).unwrap();
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), (0..head).collect::<Vec<_>>());
    db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_appends_errors_and_subscriptions() {
    let metrics_port = free_port();
    let node = Node::start_with(NodeOptions {
        args: vec!["--metrics-listen".into(), format!("127.0.0.1:{metrics_port}")],
        ..Default::default()
    })
    .await;
    let mut client = node.client().await;
    append(&mut client, "m", None, vec![json_event("E", "{}"), json_event("E", "{}")]).await.unwrap();
    append(&mut client, "m", None, vec![json_event("E", "{}")]).await.unwrap();
    append(&mut client, "m", exact(0), vec![json_event("E", "{}")]).await.unwrap_err();
    let mut subscription =
        client.subscribe_to_all(pb::SubscribeToAllRequest::default()).await.unwrap().into_inner();
    subscription.message().await.unwrap().unwrap(); // the subscription is running: event 0
    assert_eq!(read_stream(&mut client, "m").await.unwrap().len(), 3);
    client
        .create_group(pb::CreateGroupRequest {
            name: "billing".into(),
            target: Some(graveyard::GroupTarget::Stream("m".into()).into()),
            start: None,
            settings: None,
        })
        .await
        .unwrap();

    let text = scrape(metrics_port, "/metrics");
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    for line in [
        "graveyard_append_requests_total{outcome=\"ok\"} 2",
        "graveyard_append_requests_total{outcome=\"error\"} 1",
        "graveyard_appended_events_total 3",
        "graveyard_append_duration_seconds_count 3",
        "graveyard_append_duration_seconds_bucket{le=\"+Inf\"} 3",
        "graveyard_errors_total{code=\"WRONG_EXPECTED_VERSION\"} 1",
        "graveyard_errors_total{code=\"INTERNAL\"} 0",
        "graveyard_subscriptions_active{kind=\"all\"} 1",
        "graveyard_subscriptions_active{kind=\"group\"} 0",
        "graveyard_forwards_total 0",
        "graveyard_read_requests_total{target=\"stream\"} 1",
        "graveyard_read_events_total{target=\"stream\"} 3",
        "graveyard_read_requests_total{target=\"all\"} 0",
        "graveyard_build_info{version=\"0.1.0\"} 1",
        "graveyard_store_stopped 0",
        "graveyard_head_position 3",
        "graveyard_group_lag_events{group=\"billing\"} 3",
        "graveyard_group_in_flight{group=\"billing\"} 0",
        "graveyard_group_parked{group=\"billing\"} 0",
        "graveyard_group_members{group=\"billing\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "missing '{line}' in:\n{text}");
    }
    let value = |name: &str| -> u64 {
        let line =
            text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in:\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(value("graveyard_store_size_bytes ") > 0);
    // The subscriber took event 0 of 3; the node pushes ahead into the stream's buffer.
    let delivered = value("graveyard_delivered_events_total{kind=\"all\"} ");
    assert!((1..=3).contains(&delivered), "{delivered} delivered");
    assert_eq!(value("graveyard_subscription_lag_events "), 3 - delivered);
    assert!(scrape(metrics_port, "/other").starts_with("HTTP/1.1 404"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_whose_client_left_is_stored_and_counted() {
    let metrics_port = free_port();
    let node = Node::start_with(NodeOptions {
        args: vec!["--metrics-listen".into(), format!("127.0.0.1:{metrics_port}")],
        ..Default::default()
    })
    .await;
    // Many appends whose calls are dropped as soon as they are sent: some are already with the
    // writer, and those commit; each one that commits must be counted.
    for i in 0..50 {
        let mut client = node.client().await;
        let request = pb::AppendRequest {
            stream: format!("gone-{i}"),
            expected: None,
            events: vec![json_event("E", "{}")],
        };
        let call = tokio::spawn(async move { client.append(request).await });
        tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        call.abort();
    }
    // Whatever was stored is visible once the writer is idle: a last append waits behind them.
    let mut client = node.client().await;
    append(&mut client, "last", None, vec![json_event("E", "{}")]).await.unwrap();
    let head =
        client.get_head_position(pb::GetHeadPositionRequest {}).await.unwrap().into_inner().head_position;
    let line = "graveyard_appended_events_total ";
    let counted = || -> u64 {
        let text = scrape(metrics_port, "/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(line))
            .unwrap_or_else(|| panic!("no {line} in:\n{text}"))
            .parse()
            .unwrap()
    };
    // An append is counted by its task right after its commit, which the answer to the last
    // append may overtake by a moment: look again for a while before calling it lost.
    let mut seen = counted();
    for _ in 0..100 {
        if seen == head {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        seen = counted();
    }
    assert_eq!(seen, head, "events stored: {head}, counted: {seen}");
}

/// `GetStreamInfoRequest` with its string field as bytes, so that it can carry invalid UTF-8.
#[derive(Clone, PartialEq, prost::Message)]
struct RawStreamInfoRequest {
    #[prost(bytes = "vec", tag = "1")]
    stream: Vec<u8>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_requests_are_the_callers_fault_counted_and_detailed() {
    let metrics_port = free_port();
    let node = Node::start_with(NodeOptions {
        args: vec![
            "--metrics-listen".into(),
            format!("127.0.0.1:{metrics_port}"),
            "--max-event-size".into(),
            "1024".into(),
        ],
        ..Default::default()
    })
    .await;

    // A string field holding invalid UTF-8: tonic's decoder said INTERNAL; now INVALID_ARGUMENT.
    let mut grpc = tonic::client::Grpc::new(node.channel().await.unwrap());
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/graveyard.v1.Graveyard/GetStreamInfo");
    let codec = tonic_prost::ProstCodec::<RawStreamInfoRequest, pb::GetStreamInfoResponse>::default();
    let request = tonic::Request::new(RawStreamInfoRequest { stream: vec![0xff, 0xfe] });
    let status = grpc.unary(request, path, codec).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(detail(&status, "INVALID_ARGUMENT").message.contains("UTF-8"), "{status:?}");

    // The same in a client stream (a group session), where the service reads the messages.
    let mut client = node.client().await;
    let (requests, outgoing) = tokio::sync::mpsc::channel::<RawStreamInfoRequest>(1);
    requests.send(RawStreamInfoRequest { stream: vec![0xc3] }).await.unwrap();
    let mut grpc = tonic::client::Grpc::new(node.channel().await.unwrap());
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/graveyard.v1.Graveyard/Consume");
    let codec = tonic_prost::ProstCodec::<RawStreamInfoRequest, pb::ConsumeResponse>::default();
    let outgoing = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(outgoing));
    let status = match grpc.streaming(outgoing, path, codec).await {
        Err(status) => status,
        Ok(response) => response.into_inner().message().await.unwrap_err(),
    };
    drop(requests);
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    detail(&status, "INVALID_ARGUMENT");

    // Over the size limit: RESOURCE_EXHAUSTED by gRPC convention, INVALID_ARGUMENT in the detail.
    let big = vec![json_event("Big", &format!("\"{}\"", "x".repeat(3 * 1024 * 1024)))];
    let status = append(&mut client, "big", None, big).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(detail(&status, "INVALID_ARGUMENT").message.contains("too large"), "{status:?}");

    // The Rust client appends over a session, whose messages share that limit: the same append
    // gets the same answer, and the session goes on serving the appends beside it.
    let rust = graveyard::Client::connect(&node.endpoint()).await.unwrap();
    let small = || graveyard::EventData::json("E", &serde_json::json!({})).unwrap();
    rust.append("beside", graveyard::ExpectedVersion::NoStream, vec![small()]).await.unwrap();
    let big = graveyard::EventData::json("Big", &serde_json::json!("x".repeat(3 * 1024 * 1024))).unwrap();
    let error = rust.append("big", graveyard::ExpectedVersion::Any, vec![big]).await.unwrap_err();
    assert_eq!(error.code(), graveyard::ErrorCode::InvalidArgument, "{error:?}");
    rust.append("beside", graveyard::ExpectedVersion::Exact(0), vec![small()]).await.unwrap();
    rust.close();

    let text = scrape(metrics_port, "/metrics");
    let line = "graveyard_errors_total{code=\"INVALID_ARGUMENT\"} 4";
    assert!(text.lines().any(|l| l == line), "missing '{line}' in:\n{text}");
    assert!(text.lines().any(|l| l == "graveyard_errors_total{code=\"INTERNAL\"} 0"), "{text}");
}

fn scrape(port: u16, path: &str) -> String {
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut text = String::new();
    socket.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn bad_settings_are_refused_at_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    std::fs::write(path("empty-token"), "\n").unwrap();
    std::fs::write(path("garbage.pem"), "not a certificate\n").unwrap();
    std::fs::write(path("a-file"), "x").unwrap();
    let free = format!("127.0.0.1:{}", free_port());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let occupied = taken.local_addr().unwrap().to_string();

    let refused = |args: &[&str], env: &[(&str, &str)], needles: &[&str]| {
        let output = run_binary(args, env, dir.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} {env:?} was accepted");
        for needle in needles {
            assert!(stderr.contains(needle), "{args:?} {env:?}: stderr does not name '{needle}':\n{stderr}");
        }
    };
    let (garbage, empty_token, a_file) = (path("garbage.pem"), path("empty-token"), path("a-file"));
    refused(&["serve", "--listen", "nope"], &[], &["--listen", "'nope'"]);
    refused(&["serve"], &[("GRAVEYARD_LISTEN", "1.2.3.4:x")], &["GRAVEYARD_LISTEN"]);
    refused(&["serve", "--metrics-listen", "localhost"], &[], &["--metrics-listen"]);
    refused(&["serve", "--tls-cert", &garbage], &[], &["--tls-key"]);
    refused(&["serve"], &[("GRAVEYARD_TLS_KEY", &garbage)], &["--tls-cert"]);
    refused(&["serve", "--token-file", &path("missing")], &[], &["--token-file", "cannot be read"]);
    refused(&["serve"], &[("GRAVEYARD_TOKEN_FILE", &empty_token)], &["GRAVEYARD_TOKEN_FILE", "empty"]);
    refused(
        &["serve", "--node-id", "b", "--members", "a=127.0.0.1:1"],
        &[],
        &["--members", "does not list this node"],
    );
    refused(&["serve"], &[("GRAVEYARD_MEMBERS", "a=127.0.0.1:1")], &["GRAVEYARD_MEMBERS", "--node-id"]);
    refused(&["serve", "--node-id", "bad id"], &[], &["--node-id"]);
    refused(&["serve", "--bogus"], &[], &["--bogus"]);
    refused(&["frobnicate"], &[], &["unrecognized subcommand", "frobnicate"]);
    refused(
        &["serve", "--listen", &free, "--tls-cert", &garbage],
        &[("GRAVEYARD_TLS_KEY", &garbage)],
        &["--tls-cert / GRAVEYARD_TLS_KEY"],
    );
    refused(&["serve", "--listen", &free, "--data", &a_file], &[], &["--data", "cannot open the store"]);
    refused(&["serve", "--listen", &occupied], &[], &["cannot listen", "--listen"]);
    drop(taken);
    // Nothing was served or created in the working directory by a refused start.
    assert!(!dir.path().join("data").exists());

    let help = run_binary(&["serve", "--help"], &[], dir.path());
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("GRAVEYARD_TOKEN_FILE"));
    let help = run_binary(&["--help"], &[], dir.path());
    assert!(help.status.success() && String::from_utf8_lossy(&help.stdout).contains("serve"));
    // An empty variable is a mistake to point out, not a wish for the default.
    refused(&["serve"], &[("GRAVEYARD_DATA", "")], &["GRAVEYARD_DATA is empty"]);
    refused(&["serve", "--data", "a", "--data", "b"], &[], &["--data", "cannot be used multiple times"]);
}
