//! The node's read-only admin API (`--admin-listen`): every endpoint against a real 2-node
//! cluster (listings and groups across members, streams on their owners), the token, and bad
//! input of every kind answered with a clear JSON error that changes nothing.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{free_port, NodeOptions, TestCluster};
use graveyard::client::TransportOptions;
use graveyard::{
    ClientOptions, EventData, ExpectedVersion, GroupSettings, GroupTarget, Store, SubscriptionStart,
};
use serde_json::Value;

const TOKEN: &str = "admin-api-token";

/// One HTTP/1.1 request; the status code and the body.
fn request(port: u16, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n");
    socket.write_all(head.as_bytes()).unwrap();
    let mut text = String::new();
    socket.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

fn get(port: u16, path: &str) -> (u16, Value) {
    let (status, body) = request(port, "GET", path, Some(TOKEN));
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")))
}

#[track_caller]
fn ok(port: u16, path: &str) -> Value {
    let (status, body) = get(port, path);
    assert_eq!(status, 200, "{path}: {body}");
    body
}

#[track_caller]
fn refused(port: u16, path: &str, status: u16, code: &str, needle: &str) {
    let (got, body) = get(port, path);
    assert_eq!(got, status, "{path}: {body}");
    assert_eq!(body["error"]["code"], code, "{path}: {body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(needle), "{path}: '{message}' does not say '{needle}'");
}

#[test]
fn every_endpoint_over_a_cluster_and_every_refusal() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let admin = free_port();
    let options = NodeOptions {
        args: vec!["--token-file".into(), token_file.to_str().unwrap().into()],
        token: Some(TOKEN.into()),
        ..Default::default()
    };
    let mut cluster = runtime.block_on(TestCluster::start(2, options.clone()));
    // n1 again, now with the admin listener (same port and data).
    let mut with_admin = cluster.node("n1").options().clone();
    with_admin.args.extend(["--admin-listen".into(), format!("127.0.0.1:{admin}")]);
    runtime.block_on(cluster.node("n1").restart_with(with_admin)).unwrap();

    let transport = TransportOptions { token: Some(TOKEN.into()), ..TransportOptions::default() };
    let endpoints: Vec<String> = cluster.nodes.iter().map(|n| n.url()).collect();
    let store =
        Store::connect_blocking(&endpoints, ClientOptions { transport, ..ClientOptions::default() }).unwrap();
    let names: Vec<String> = (0..12).map(|i| format!("acct {i:02}/x")).collect();
    for name in &names {
        let events =
            (0..3).map(|i| EventData::json("Opened", &serde_json::json!({"i": i})).unwrap()).collect();
        store.append_blocking(name, ExpectedVersion::Any, events).unwrap();
    }
    let schema = r#"{"name":"Opened","fields":[{"name":"i","type":"integer","min":0}]}"#;
    store.upsert_schema_blocking(&serde_json::from_str(schema).unwrap()).unwrap();
    let schema2 = r#"{"name":"Opened","fields":[{"name":"i","type":"integer"}]}"#;
    store.upsert_schema_blocking(&serde_json::from_str(schema2).unwrap()).unwrap();
    store
        .create_group_blocking(
            "g1",
            GroupTarget::Stream(names[0].clone()),
            SubscriptionStart::Start,
            GroupSettings::default(),
        )
        .unwrap();
    let head_before = store.on_node("n1").unwrap().head_position_blocking().unwrap();

    // The console's files need no token (they hold no data); the API does.
    let (status, page) = request(admin, "GET", "/", None);
    assert!(status == 200 && page.contains("<script src=\"/app.js\""), "{status}: {page}");
    assert_eq!(request(admin, "GET", "/app.js", None).0, 200);
    let (status, body) = request(admin, "GET", "/api/node", None);
    assert!(
        status == 401 && body.contains("UNAUTHENTICATED") && body.contains("requires a bearer token"),
        "{body}"
    );
    let (status, body) = request(admin, "GET", "/api/streams", Some("wrong"));
    assert!(status == 401 && body.contains("not valid") && !body.contains(TOKEN), "{body}");

    // The node and the ring.
    let node = ok(admin, "/api/node");
    assert_eq!(node["node_id"], "n1");
    let members = node["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    let share: f64 = members.iter().map(|m| m["share"].as_f64().unwrap()).sum();
    assert!((share - 1.0).abs() < 1e-9 && members.iter().all(|m| m["healthy"] == true), "{node}");

    // Streams of both members, in pages, by prefix.
    let mut listed = Vec::new();
    let mut path = "/api/streams?prefix=acct&limit=5".to_owned();
    loop {
        let page = ok(admin, &path);
        listed.extend(
            page["streams"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => path = format!("/api/streams?prefix=acct&limit=5&after={}", encode(next)),
            None => break,
        }
    }
    assert_eq!(listed, names);
    let nodes: std::collections::BTreeSet<String> = ok(admin, "/api/streams?prefix=acct&limit=100")
        ["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["node"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(nodes.len(), 2, "streams of both members: {nodes:?}");

    // A stream (a name with a space and a slash) on whichever member owns it, paged.
    let encoded = encode(&names[3]);
    let info = ok(admin, &format!("/api/streams/{encoded}"));
    assert_eq!((info["info"]["next_revision"].as_u64(), info["owner"].is_string()), (Some(3), true));
    let page = ok(admin, &format!("/api/streams/{encoded}/events?limit=2"));
    assert_eq!((page["events"].as_array().unwrap().len(), page["next"].as_u64()), (2, Some(2)));
    let page = ok(admin, &format!("/api/streams/{encoded}/events?from=2&limit=2"));
    assert_eq!((page["events"][0]["data"]["i"].as_u64(), page["next"].is_null()), (Some(2), true));
    let back = ok(admin, &format!("/api/streams/{encoded}/events?direction=backwards&limit=1"));
    assert_eq!(back["events"][0]["revision"], 2);

    // $all of this node, filtered; the live tail from a position to its catching up.
    let all = ok(admin, "/api/all?type=Opened&limit=1000");
    assert!(all["events"].as_array().unwrap().iter().all(|e| e["type"] == "Opened"));
    let stream = live_until_caught_up(admin, "/api/all/live?after=0&type=Opened");
    assert!(stream.starts_with("HTTP/1.1 200") && stream.contains("text/event-stream"), "{stream}");
    assert!(stream.contains("event: event\ndata: {") && stream.contains("\"type\":\"Opened\""), "{stream}");

    // Schemas with every version, groups across members, metrics.
    let schemas = ok(admin, "/api/schemas");
    assert_eq!(schemas["schemas"][0]["version"], 2);
    let versions = ok(admin, "/api/schemas/Opened");
    assert_eq!(versions["versions"].as_array().unwrap().len(), 2);
    let groups = ok(admin, "/api/groups");
    assert_eq!(groups["groups"][0]["name"], "g1");
    assert_eq!(ok(admin, "/api/groups/g1")["group"]["name"], "g1");
    let metrics = ok(admin, "/api/metrics");
    assert!(metrics["counters"]["appends"].is_u64() && metrics["head_position"].is_u64(), "{metrics}");

    // Bad input: a clear error, nothing changed.
    refused(admin, "/api/streams?limit=0", 400, "INVALID_ARGUMENT", "1 to 1000");
    refused(admin, "/api/streams?limit=100000000000", 400, "INVALID_ARGUMENT", "out of range");
    refused(admin, "/api/streams?limit=ten", 400, "INVALID_ARGUMENT", "not a whole number");
    refused(admin, "/api/streams?colour=red", 400, "INVALID_ARGUMENT", "unknown parameter 'colour'");
    refused(
        admin,
        &format!("/api/streams/{encoded}/events?direction=sideways"),
        400,
        "INVALID_ARGUMENT",
        "sideways",
    );
    refused(admin, &format!("/api/streams/{encoded}/events?from=-1"), 400, "INVALID_ARGUMENT", "from");
    refused(admin, "/api/streams/nope", 404, "NOT_FOUND", "nope");
    refused(admin, "/api/streams/nope/events", 404, "NOT_FOUND", "nope");
    refused(admin, "/api/schemas/Nope", 404, "NOT_FOUND", "Nope");
    refused(admin, "/api/groups/nope", 404, "NOT_FOUND", "nope");
    refused(admin, "/api/nothing/here", 404, "NOT_FOUND", "no such API path");
    refused(admin, "/api/all/live?after=x", 400, "INVALID_ARGUMENT", "after");
    let (status, _) = request(admin, "POST", "/api/streams", Some(TOKEN));
    assert_eq!(status, 405, "the API writes nothing");
    let (status, _) = request(admin, "DELETE", &format!("/api/streams/{encoded}"), Some(TOKEN));
    assert_eq!(status, 405);
    assert_eq!(store.on_node("n1").unwrap().head_position_blocking().unwrap(), head_before);
    store.close();
}

/// Reads a server-sent event stream until its `caught_up` event (it never ends by itself).
fn live_until_caught_up(port: u16, path: &str) -> String {
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    socket.write_all(head.as_bytes()).unwrap();
    let mut text = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&text).contains("event: caught_up") {
        let n = socket.read(&mut chunk).expect("the live stream catches up");
        assert!(n > 0, "the live stream ended: {}", String::from_utf8_lossy(&text));
        text.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// Percent-encodes a path segment or query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn over_tls_when_the_node_serves_tls() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, certified) = common::self_signed(dir.path());
    let cert_pem = certified.cert.pem();
    let admin = free_port();
    let _node = runtime.block_on(common::Node::start_with(NodeOptions {
        args: vec![
            "--tls-cert".into(),
            cert.to_str().unwrap().into(),
            "--tls-key".into(),
            key.to_str().unwrap().into(),
            "--admin-listen".into(),
            format!("127.0.0.1:{admin}"),
        ],
        tls_ca: Some(cert_pem.clone()),
        ..Default::default()
    }));

    // A client that trusts the node's certificate reads the API over TLS.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let socket = std::net::TcpStream::connect(("127.0.0.1", admin)).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, socket);
    tls.write_all(b"GET /api/node HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    let _ = tls.read_to_string(&mut text);
    assert!(text.starts_with("HTTP/1.1 200") && text.contains("\"node_id\":\"node-1\""), "{text}");

    // Plain HTTP on that port gets no answer from the API.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", admin)).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    plain.write_all(b"GET /api/node HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("node_id"), "served in clear");
}
