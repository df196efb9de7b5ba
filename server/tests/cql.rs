//! A node on `--storage cql` against a real Apache Cassandra (scripts/cassandra.sh, through
//! `graveyard_cql::testing`): appends acknowledged by the node survive a kill -9 of the node
//! together with the loss of its data directory, and the node refuses to start when Cassandra
//! cannot be reached rather than fall back to its own disk.

mod common;

use common::*;
use graveyard::wire::v1 as pb;
use graveyard_cql::testing::Cassandra;

fn cql_node(cassandra: &Cassandra, keyspace: &str) -> NodeOptions {
    NodeOptions {
        args: [
            "--storage",
            "cql",
            "--node-id",
            "n1",
            "--cql-contact-points",
            &cassandra.contact(),
            "--cql-keyspace",
            keyspace,
        ]
        .map(String::from)
        .to_vec(),
        ..Default::default()
    }
}

/// Every acknowledged append (stream, revision, event id) is read back from the node.
async fn assert_stored(node: &Node, acknowledged: &[(String, u64, graveyard::Uuid)]) {
    let mut client = node.client().await;
    for (stream, revision, id) in acknowledged {
        let events = read_stream(&mut client, stream).await.unwrap();
        let event = events.iter().find(|e| e.revision == *revision).expect("an acknowledged revision");
        assert_eq!(event.id, id.as_bytes().to_vec(), "{stream}@{revision}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_cassandra_rebuilds_a_lost_directory_and_never_falls_back() {
    let cassandra = tokio::task::spawn_blocking(Cassandra::start).await.unwrap();
    let mut node = Node::start_with(cql_node(&cassandra, "gy_node")).await;
    let mut client = node.client().await;
    let mut acknowledged = Vec::new();
    for i in 0..40u64 {
        let id = graveyard::Uuid::now_v7();
        let event =
            pb::EventData { id: id.as_bytes().to_vec(), ..json_event("E", &format!("{{\"n\":{i}}}")) };
        let expected = if i < 4 { expected(pb::expected_version::Kind::NoStream) } else { exact(i / 4 - 1) };
        let stream = format!("s-{}", i % 4);
        let result = append(&mut client, &stream, expected, vec![event]).await.unwrap();
        acknowledged.push((stream, result.first_revision, id));
    }

    // The node dies: it replays what its checkpoint lacks from Cassandra.
    node.kill();
    node.restart().await;
    assert_stored(&node, &acknowledged).await;

    // The node dies with its disk: what it acknowledged is in Cassandra.
    node.kill();
    std::fs::remove_dir_all(node.data_dir()).unwrap();
    node.restart().await;
    assert_stored(&node, &acknowledged).await;
    let mut client = node.client().await;
    // The version check holds over the rebuilt store, and the node writes on.
    let status = append(&mut client, "s-0", exact(0), vec![json_event("E", "{}")]).await.unwrap_err();
    detail(&status, "WRONG_EXPECTED_VERSION");
    append(&mut client, "s-0", exact(9), vec![json_event("E", "{}")]).await.unwrap();

    // Cassandra gone: the node does not start on its own disk instead.
    node.kill();
    cassandra.kill();
    let err = node.restart_with(cql_node(&cassandra, "gy_node")).await.unwrap_err();
    assert!(err.contains("cannot use Cassandra at"), "{err}");
}
