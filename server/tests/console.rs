//! The web console in a real browser: a node with data of every kind (streams in every state,
//! schemas in two versions, a consumer group with a parked event, a shredded stream), its
//! console driven through every page by headless Chromium (server/console/test, Playwright).
//! Needs Debian's chromium and the test's npm packages, which scripts/test-console.sh installs
//! and then runs this with `--ignored`; screenshots land in target/console-screenshots.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{free_port, Node, NodeOptions, BINARY};
use graveyard::client::TransportOptions;
use graveyard::runtime::Next;
use graveyard::{
    ClientOptions, EventData, ExpectedVersion, GroupSettings, GroupTarget, NackAction, Store, StreamMetadata,
    SubscriptionStart,
};

const TOKEN: &str = "console-test-token";

#[test]
#[ignore = "needs Chromium and npm packages: run by scripts/test-console.sh"]
fn every_page_of_the_console_in_chromium() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let key_file = dir.path().join("master.key");
    std::fs::write(&key_file, "cd".repeat(32)).unwrap();
    let admin_port = free_port();
    let node = runtime.block_on(Node::start_with(NodeOptions {
        args: vec![
            "--token-file".into(),
            token_file.to_str().unwrap().into(),
            "--master-key-file".into(),
            key_file.to_str().unwrap().into(),
            "--admin-listen".into(),
            format!("127.0.0.1:{admin_port}"),
        ],
        token: Some(TOKEN.into()),
        ..Default::default()
    }));
    fill(&node);

    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/console/test");
    let screenshots = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/console-screenshots");
    let output = Command::new("node")
        .args(["--test", "--test-concurrency=1", "console.test.mjs"])
        .current_dir(root)
        .env("ADMIN_URL", format!("http://127.0.0.1:{admin_port}"))
        .env("GRAVEYARD_BIN", BINARY)
        .env("GRPC_ENDPOINT", node.endpoint())
        .env("TOKEN", TOKEN)
        .env("TOKEN_FILE", &token_file)
        .env("SCREENSHOTS", screenshots)
        .output()
        .expect("run node (Node.js)");
    let report =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the browser test failed:\n{report}\nnode log:\n{}", node.log());
    assert!(report.contains("# fail 0") && !report.contains("# pass 0"), "{report}");
}

/// Data of every kind the console shows.
fn fill(node: &Node) {
    let transport = TransportOptions { token: Some(TOKEN.into()), ..TransportOptions::default() };
    let store =
        Store::connect_blocking(&[node.url()], ClientOptions { transport, ..ClientOptions::default() })
            .unwrap();
    let json = |t: &str, v: serde_json::Value| EventData::json(t, &v).unwrap();
    for i in 0..3 {
        store
            .append_blocking(
                &format!("order-{i}"),
                ExpectedVersion::Any,
                vec![json("OrderPlaced", serde_json::json!({"n": i}))],
            )
            .unwrap();
    }
    for i in 0..60 {
        store
            .append_blocking(
                &format!("bulk-{i:02}"),
                ExpectedVersion::Any,
                vec![json("Bulk", serde_json::json!({"i": i}))],
            )
            .unwrap();
    }
    let long: Vec<EventData> = (0..30).map(|i| json("Tick", serde_json::json!({"i": i}))).collect();
    store.append_blocking("bulk-long", ExpectedVersion::Any, long).unwrap();

    let v1 = r#"{"name":"UserRegistered","fields":[{"name":"age","type":"integer","min":18}]}"#;
    let v2 = r#"{"name":"UserRegistered","fields":[{"name":"age","type":"integer","min":16},{"name":"nickname","type":"string","required":false}]}"#;
    store.upsert_schema_blocking(&serde_json::from_str(v1).unwrap()).unwrap();
    let mut user = json("UserRegistered", serde_json::json!({"age": 30}));
    user.metadata = br#"{"by": "console-test"}"#.to_vec();
    store.append_blocking("user-1", ExpectedVersion::Any, vec![user]).unwrap();
    store.upsert_schema_blocking(&serde_json::from_str(v2).unwrap()).unwrap();
    store
        .set_stream_metadata_blocking(
            "user-1",
            StreamMetadata { max_count: Some(1000), ..Default::default() },
        )
        .unwrap();

    let blob = EventData::new("Blob", vec![0u8, 1, 2, 3, 255], "application/octet-stream");
    store.append_blocking("blob-1", ExpectedVersion::Any, vec![blob]).unwrap();
    for name in ["gone", "dead", "person-1"] {
        store.append_blocking(name, ExpectedVersion::Any, vec![json("X", serde_json::json!({}))]).unwrap();
    }
    store.delete_stream_blocking("gone", ExpectedVersion::Any).unwrap();
    store.tombstone_stream_blocking("dead", ExpectedVersion::Any).unwrap();
    store.shred_stream_blocking("person-1").unwrap();

    store
        .append_blocking("jobs", ExpectedVersion::Any, vec![json("Job", serde_json::json!({"n": 1}))])
        .unwrap();
    let settings = GroupSettings::default();
    store
        .create_group_blocking(
            "workers",
            GroupTarget::Stream("jobs".into()),
            SubscriptionStart::Start,
            settings,
        )
        .unwrap();
    let member = store.join_group_blocking("workers", "w1").unwrap();
    let Next::Item(delivery) = member.next_blocking(Some(Duration::from_secs(10))).unwrap() else {
        panic!("no delivery")
    };
    member.nack_blocking(&[delivery.id], NackAction::Park).unwrap();
    drop(member);
    store.close();
}
