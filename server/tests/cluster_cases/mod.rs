//! The cases of a 3-node cluster of real nodes on loopback ports: forwarding, the cluster client,
//! a node killed and restarted, schemas on every node, subscriptions that report their drop,
//! groups found on any node, TLS and auth. Each case starts its cluster with `base`'s options
//! added: cluster.rs runs them on nodes keeping their logs on their own disks, cluster_cql.rs on
//! nodes keeping them in Cassandra.

// cluster_cql.rs leaves out the case that failover changes (a member killed and restarted).
#![allow(dead_code)]

use std::collections::BTreeMap;

use crate::common::*;
use graveyard::cluster::{Member, Ring, DEFAULT_VNODES};
use graveyard::schema::Schema;
use graveyard::wire::v1 as pb;
use graveyard::{
    Client, ClientOptions, Error, EventData, ExpectedVersion, GroupSettings, GroupTarget, ReadAllOptions,
    ReadOptions, SubscribeOptions, SubscriptionMessage, SubscriptionStart,
};

fn event(n: u64) -> EventData {
    EventData::json("Counted", &serde_json::json!({ "n": n })).unwrap()
}

/// The ring the nodes use, built here from their ports: what the placement must follow.
fn ring_of(cluster: &TestCluster) -> Ring {
    let members = cluster
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| Member::new(format!("n{}", i + 1), n.endpoint()))
        .collect();
    Ring::new(members, DEFAULT_VNODES).unwrap()
}

/// A stream owned by `owner`, found by trying names.
fn stream_on(ring: &Ring, owner: &str, prefix: &str) -> String {
    (0..).map(|i| format!("{prefix}-{i}")).find(|s| ring.owner(s).id == owner).unwrap()
}

/// The streams whose events are in a node's own log.
async fn local_streams(node: &Node) -> BTreeMap<String, usize> {
    let mut client = node.client().await;
    let request = pb::ReadAllRequest { limit: Some(1_000_000), ..Default::default() };
    let events = collect(client.read_all(request).await.unwrap().into_inner()).await.unwrap();
    let mut streams = BTreeMap::new();
    for event in events {
        *streams.entry(event.stream).or_default() += 1;
    }
    streams
}

pub async fn write_through_any_node_read_through_any_other(base: &NodeOptions) {
    let cluster = TestCluster::start(3, base.clone()).await;
    let ring = ring_of(&cluster);
    let mut clients = Vec::new();
    for node in &cluster.nodes {
        clients.push(node.client().await);
    }
    for i in 0..60u64 {
        let stream = format!("order-{i}");
        let writer = &mut clients[i as usize % 3];
        for n in 0..3 {
            let event = json_event("Placed", &format!("{{\"n\":{n}}}"));
            let version = if n == 0 { expected(pb::expected_version::Kind::NoStream) } else { exact(n - 1) };
            append(writer, &stream, version, vec![event]).await.unwrap();
        }
        // The expected-version check happens on the owner, wherever the append arrives.
        let stale =
            append(&mut clients[(i as usize + 2) % 3], &stream, exact(0), vec![json_event("X", "{}")])
                .await
                .unwrap_err();
        let detail = detail(&stale, "WRONG_EXPECTED_VERSION");
        assert_eq!(detail.stream, stream);
        let read = read_stream(&mut clients[(i as usize + 1) % 3], &stream).await.unwrap();
        assert_eq!(read.iter().map(|e| e.revision).collect::<Vec<_>>(), [0, 1, 2]);
    }
    // Every stream is stored on its owner, and only there.
    for (i, node) in cluster.nodes.iter().enumerate() {
        let id = format!("n{}", i + 1);
        let streams = local_streams(node).await;
        assert!(!streams.is_empty(), "with 60 streams every node owns some");
        for (stream, count) in streams {
            assert_eq!(ring.owner(&stream).id, id, "{stream} is stored on {id}");
            assert_eq!(count, 3);
        }
    }
}

pub async fn a_forwarded_request_is_never_forwarded_again(base: &NodeOptions) {
    let cluster = TestCluster::start(3, base.clone()).await;
    let ring = ring_of(&cluster);
    let stream = stream_on(&ring, "n2", "s");
    let mut client = cluster.nodes[0].client().await;
    let mut request = tonic::Request::new(pb::AppendRequest {
        stream: stream.clone(),
        expected: None,
        events: vec![json_event("E", "{}")],
    });
    request.metadata_mut().insert(graveyard::client::FORWARDED_HEADER, "n3".parse().unwrap());
    let status = client.append(request).await.unwrap_err();
    let refused = detail(&status, "UNAVAILABLE");
    assert!(refused.message.contains("never forwarded twice"), "{}", refused.message);
    let status = read_stream(&mut cluster.nodes[1].client().await, &stream).await.unwrap_err();
    detail(&status, "NOT_FOUND");
}

pub async fn the_client_routes_to_owners_and_recovers_after_a_restart(base: &NodeOptions) {
    let mut cluster = TestCluster::start(3, base.clone()).await;
    let ring = ring_of(&cluster);
    let client = Client::connect(&cluster.endpoints()).await.unwrap();
    assert_eq!(client.members().len(), 3);

    let streams: Vec<String> = (0..30).map(|i| format!("account-{i}")).collect();
    for stream in &streams {
        client.append(stream, ExpectedVersion::NoStream, vec![event(0), event(1)]).await.unwrap();
        assert_eq!(client.owner(stream).id, ring.owner(stream).id);
    }
    // Straight to the owners: no node forwarded anything.
    for node in &cluster.nodes {
        let streams = local_streams(node).await;
        let owned = streams.keys().filter(|s| s.starts_with("account-")).count();
        assert_eq!(owned, streams.len());
    }

    let down = stream_on(&ring, "n2", "account-down");
    let up = stream_on(&ring, "n3", "account-up");
    client.append(&down, ExpectedVersion::NoStream, vec![event(0)]).await.unwrap();
    cluster.node("n2").kill();

    // The owner is down: UNAVAILABLE, naming it, after the retries on other nodes.
    let error = client.append(&down, ExpectedVersion::Exact(0), vec![event(1)]).await.unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
    assert!(error.to_string().contains("n2"), "{error}");
    let error = client.read_stream(&down, ReadOptions::forwards()).await.unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
    // Through another node, the forward fails fast with the same code.
    let mut via_n1 = cluster.nodes[0].client().await;
    let status = read_stream(&mut via_n1, &down).await.unwrap_err();
    detail(&status, "UNAVAILABLE");
    // Streams on the other nodes do not notice.
    client.append(&up, ExpectedVersion::Any, vec![event(7)]).await.unwrap();
    // A node's health is asked of that node only: n2 does not answer, n3 says how it is.
    let error = client.on_node("n2").unwrap().node_health().await.unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
    let n3 = client.on_node("n3").unwrap().node_health().await.unwrap();
    assert_eq!((n3.node_id.as_str(), n3.draining, n3.stopped.as_deref()), ("n3", false, None));
    assert!(n3.head_position >= 1, "n3 holds {up}");
    // n2's $all is nobody else's: on nodes keeping their logs on their disks it waits for n2.
    let error = client.on_node("n2").unwrap().head_position().await.unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");

    cluster.node("n2").restart().await;
    // Nothing acknowledged was lost; the stream takes writes again.
    let read = client.read_stream(&down, ReadOptions::forwards()).await.unwrap();
    assert_eq!(read.len(), 1);
    client.append(&down, ExpectedVersion::Exact(0), vec![event(1)]).await.unwrap();
    for stream in &streams {
        assert_eq!(client.read_stream(stream, ReadOptions::forwards()).await.unwrap().len(), 2);
    }
}

pub async fn an_append_retried_after_a_lost_answer_is_written_once(base: &NodeOptions) {
    let cluster = TestCluster::start(3, base.clone()).await;
    let client = Client::connect(&cluster.endpoints()).await.unwrap();
    // The client gives each event an id, so sending the same append twice (as a retry after a
    // lost answer does) is recognised by the owner.
    let events =
        vec![event(1).with_id(graveyard::Uuid::now_v7()), event(2).with_id(graveyard::Uuid::now_v7())];
    let first = client.append("once", ExpectedVersion::NoStream, events.clone()).await.unwrap();
    let again = client.append("once", ExpectedVersion::NoStream, events).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(client.read_stream("once", ReadOptions::forwards()).await.unwrap().len(), 2);
}

pub async fn schemas_reach_every_node_and_heal_after_a_restart(base: &NodeOptions) {
    let mut cluster = TestCluster::start(3, base.clone()).await;
    let ring = ring_of(&cluster);
    let client = Client::connect(&cluster.endpoints()).await.unwrap();
    let schema = Schema::from_json(
        br#"{"name": "Deposited", "fields": [{"name": "amount", "type": "integer", "required": true}]}"#,
    )
    .unwrap();
    let upsert = client.upsert_schema(&schema).await.unwrap();
    assert_eq!((upsert.version, upsert.changed), (1, true));
    // Every owner validates against it.
    for owner in ["n1", "n2", "n3"] {
        let stream = stream_on(&ring, owner, "wallet");
        let bad = EventData::json("Deposited", &serde_json::json!({ "amount": "ten" })).unwrap();
        let error = client.append(&stream, ExpectedVersion::Any, vec![bad]).await.unwrap_err();
        assert!(
            matches!(error, Error::SchemaViolation { ref schema, version: 1, .. } if schema == "Deposited")
        );
        let good = EventData::json("Deposited", &serde_json::json!({ "amount": 10 })).unwrap();
        client.append(&stream, ExpectedVersion::Any, vec![good]).await.unwrap();
    }

    // A member down during an upsert: the upsert says so, and its repetition heals the member.
    cluster.node("n3").kill();
    let v2 = Schema::from_json(
        br#"{"name": "Deposited", "fields": [{"name": "amount", "type": "integer", "required": true},
                                            {"name": "note", "type": "string"}]}"#,
    )
    .unwrap();
    let error = client.upsert_schema(&v2).await.unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)) && error.to_string().contains("n3"), "{error}");
    // Two new schemas, one referring to the other, ordered (by name) before what it refers to:
    // the catch-up must store the referred one first. Names whose upserts n1 or n2 order.
    let not_on_n3 = |prefix: &str| {
        (0..)
            .map(|i| format!("{prefix}{i}"))
            .find(|n| ring.owner(&format!("$schema-{n}")).id != "n3")
            .unwrap()
    };
    let (address, zip) = (not_on_n3("Address"), not_on_n3("Zip"));
    let zip_schema =
        format!(r#"{{"name": "{zip}", "fields": [{{"name": "code", "type": "string", "required": true}}]}}"#);
    client.upsert_schema(&Schema::from_json(zip_schema.as_bytes()).unwrap()).await.unwrap_err();
    let address_schema = format!(
        r#"{{"name": "{address}", "fields": [{{"name": "zip", "type": {{"ref": {{"name": "{zip}"}}}}, "required": true}}]}}"#
    );
    client.upsert_schema(&Schema::from_json(address_schema.as_bytes()).unwrap()).await.unwrap_err();
    cluster.node("n3").restart().await;
    // At start, n3 catches up with the versions it missed, from the other members.
    let mut n3 = cluster.nodes[2].client().await;
    let started = std::time::Instant::now();
    loop {
        let latest =
            n3.get_schema(pb::GetSchemaRequest { name: "Deposited".into(), version: None }).await.unwrap();
        if latest.into_inner().schema.unwrap().version == 2 {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "n3 never caught up with version 2");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for name in [&zip, &address] {
        loop {
            let found = n3.get_schema(pb::GetSchemaRequest { name: name.clone(), version: None }).await;
            if found.is_ok() {
                break;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(60), "n3 never caught up with {name}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let n3_stream = stream_on(&ring, "n3", "wallet-v2");
    let bad = EventData::json("Deposited", &serde_json::json!({ "amount": 1, "note": 5 })).unwrap();
    let error = client.append(&n3_stream, ExpectedVersion::Any, vec![bad]).await.unwrap_err();
    assert!(matches!(error, Error::SchemaViolation { version: 2, .. }), "{error:?}");
    // Upserting the same definition again writes nothing new, on any member.
    let again = client.upsert_schema(&v2).await.unwrap();
    assert_eq!((again.version, again.changed), (2, false));
    for node in &cluster.nodes {
        let mut raw = node.client().await;
        let latest =
            raw.get_schema(pb::GetSchemaRequest { name: "Deposited".into(), version: None }).await.unwrap();
        assert_eq!(latest.into_inner().schema.unwrap().version, 2);
    }
    // Replication is between members only.
    let status =
        n3.replicate_schema(pb::ReplicateSchemaRequest { name: "Deposited".into() }).await.unwrap_err();
    detail(&status, "PERMISSION_DENIED");
}

pub async fn a_subscription_reports_its_drop(base: &NodeOptions) {
    let mut cluster = TestCluster::start(3, base.clone()).await;
    let ring = ring_of(&cluster);
    let client = Client::connect(&cluster.endpoints()).await.unwrap();
    let stream = stream_on(&ring, "n2", "feed");
    client.append(&stream, ExpectedVersion::NoStream, (0..5).map(event).collect()).await.unwrap();

    let mut direct = client.subscribe_to_stream(&stream, SubscribeOptions::from_start()).await.unwrap();
    // The same subscription through a node that forwards it.
    let mut via_n1 = cluster.nodes[0].client().await;
    let mut relayed = via_n1
        .subscribe_to_stream(pb::SubscribeToStreamRequest {
            stream: stream.clone(),
            start: None,
            page_size: None,
        })
        .await
        .unwrap()
        .into_inner();
    for revision in 0..5 {
        match direct.next().await {
            Some(Ok(SubscriptionMessage::Event(e))) => assert_eq!(e.revision, revision),
            other => panic!("expected event {revision}, got {other:?}"),
        }
        let message = relayed.message().await.unwrap().unwrap();
        assert!(
            matches!(message.message, Some(pb::subscribe_response::Message::Event(ref e)) if e.revision == revision)
        );
    }
    assert!(matches!(direct.next().await, Some(Ok(SubscriptionMessage::CaughtUp))));

    cluster.node("n2").kill();
    let error = direct.next().await.expect("a drop is reported").unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
    assert!(error.to_string().contains("after revision 4"), "{error}");
    assert!(direct.next().await.is_none(), "reported once, then ended");
    let status = loop {
        match relayed.message().await {
            Ok(Some(_)) => continue, // the caught-up signal
            Ok(None) => panic!("the relayed subscription ended without saying why"),
            Err(status) => break status,
        }
    };
    detail(&status, "UNAVAILABLE");
}

pub async fn a_group_is_found_from_any_node(base: &NodeOptions) {
    let cluster = TestCluster::start(3, base.clone()).await;
    let ring = ring_of(&cluster);
    let client = Client::connect(&cluster.endpoints()).await.unwrap();
    let stream = stream_on(&ring, "n3", "jobs");
    client.append(&stream, ExpectedVersion::NoStream, (0..10).map(event).collect()).await.unwrap();
    let info = client
        .create_group(
            "workers",
            GroupTarget::Stream(stream.clone()),
            SubscriptionStart::Start,
            GroupSettings::default(),
        )
        .await
        .unwrap();
    assert_eq!(info.target, GroupTarget::Stream(stream.clone()));
    // The name is taken in the whole cluster, whichever node is asked.
    let error = client
        .on_node("n1")
        .unwrap()
        .create_group(
            "workers",
            GroupTarget::All(Default::default()),
            SubscriptionStart::Start,
            GroupSettings::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidArgument(ref m) if m.contains("n3")), "{error:?}");

    // Joined through n1, which does not hold the group: the session is carried to n3.
    let member = client.on_node("n1").unwrap().join_group("workers", "m1").await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 10 {
        let delivery = member.next().await.unwrap();
        seen.push(delivery.event.revision);
        member.ack(&[delivery]).await.unwrap();
    }
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
    let info = client.on_node("n2").unwrap().group_info("workers").await.unwrap();
    assert_eq!(info.checkpoint, 10);

    // Parked, then replayed through a node that does not hold the group, then settled in one ack.
    client.append(&stream, ExpectedVersion::Exact(9), (10..14).map(event).collect()).await.unwrap();
    let mut batch = Vec::new();
    for _ in 0..4 {
        batch.push(member.next().await.unwrap());
    }
    member.nack(&batch, graveyard::NackAction::Park).await.unwrap();
    let info = client.group_info("workers").await.unwrap();
    assert_eq!((info.checkpoint, info.parked), (14, 4));
    let replay = client.on_node("n1").unwrap().replay_parked("workers", Some(3)).await.unwrap();
    assert_eq!((replay.revisions, replay.parked, replay.replaying), (0..3, 1, 3));
    let mut replayed = Vec::new();
    for _ in 0..3 {
        replayed.push(member.next().await.unwrap());
    }
    let revisions: Vec<u64> = replayed.iter().map(|d| d.event.revision).collect();
    assert_eq!(revisions, [10, 11, 12], "the original events, the oldest first");
    assert!(replayed.iter().all(|d| d.event.stream == stream && d.attempt == 1));
    let copies: Vec<Option<u64>> = replayed.iter().map(|d| d.parked_revision).collect();
    assert_eq!(copies, [Some(0), Some(1), Some(2)], "a replayed delivery names its parked copy");
    member.ack(&replayed).await.unwrap();
    let info = client.group_info("workers").await.unwrap();
    assert_eq!((info.parked, info.replaying), (1, 0));
    let error = client.replay_parked("nobody", None).await.unwrap_err();
    assert!(matches!(error, Error::NotFound(_)), "{error:?}");
    assert_eq!(client.list_groups().await.unwrap(), ["workers"]);
    let error = client.group_info("nobody").await.unwrap_err();
    assert!(matches!(error, Error::NotFound(_)), "{error:?}");
    client.delete_group("workers").await.unwrap();
    assert!(client.list_groups().await.unwrap().is_empty());
}

pub async fn all_is_the_log_of_one_node(base: &NodeOptions) {
    let cluster = TestCluster::start(3, base.clone()).await;
    let ring = ring_of(&cluster);
    let client = Client::connect(&cluster.endpoints()).await.unwrap();
    for owner in ["n1", "n2", "n3"] {
        client.append(&stream_on(&ring, owner, "log"), ExpectedVersion::Any, vec![event(1)]).await.unwrap();
    }
    for owner in ["n1", "n2", "n3"] {
        let scoped = client.on_node(owner).unwrap();
        let events = scoped.read_all(ReadAllOptions::forwards()).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(ring.owner(&events[0].stream).id, owner);
        assert_eq!(events[0].position, 0, "positions are those of the node's own log");
        assert_eq!(scoped.head_position().await.unwrap(), 1);
    }
    assert!(matches!(client.on_node("n9"), Err(Error::InvalidArgument(_))));

    // Any member answers for the log a request names (LOG_HEADER), forwarding it to the member
    // that serves that log: n1 asked about n2's log answers with n2's, and a forwarded one names
    // the same log, so nothing moves from one log to another.
    client.append(&stream_on(&ring, "n2", "log"), ExpectedVersion::Any, vec![event(2)]).await.unwrap();
    let mut through_n1 = cluster.nodes[0].client().await;
    let about = |log: &str| {
        let mut request = tonic::Request::new(pb::GetHeadPositionRequest {});
        request.metadata_mut().insert(graveyard::client::LOG_HEADER, log.parse().unwrap());
        request
    };
    let head = |response: tonic::Response<pb::GetHeadPositionResponse>| response.into_inner().head_position;
    assert_eq!(head(through_n1.get_head_position(about("n2")).await.unwrap()), 2, "n2's log, through n1");
    assert_eq!(head(through_n1.get_head_position(about("n1")).await.unwrap()), 1, "n1's own log");
    assert_eq!(head(through_n1.get_head_position(pb::GetHeadPositionRequest {}).await.unwrap()), 1);
    let mut read = tonic::Request::new(pb::ReadAllRequest { limit: Some(100), ..Default::default() });
    read.metadata_mut().insert(graveyard::client::LOG_HEADER, "n2".parse().unwrap());
    let events = collect(through_n1.read_all(read).await.unwrap().into_inner()).await.unwrap();
    let positions: Vec<u64> = events.iter().map(|e| e.position).collect();
    assert_eq!(positions, [0, 1], "n2's $all, relayed by n1");
    assert!(events.iter().all(|e| ring.owner(&e.stream).id == "n2"));
    // A member this node does not know: the members lists disagree (as while one is added).
    let status = through_n1.get_head_position(about("n9")).await.unwrap_err();
    let refused = detail(&status, "UNAVAILABLE");
    assert!(
        refused.message.contains("'n9'") && refused.message.contains("as a member"),
        "{}",
        refused.message
    );
    // A node never forwards twice: asked, as forwarded, about a log another serves, it refuses.
    let mut twice = about("n3");
    twice.metadata_mut().insert(graveyard::client::FORWARDED_HEADER, "n2".parse().unwrap());
    let status = through_n1.get_head_position(twice).await.unwrap_err();
    let refused = detail(&status, "UNAVAILABLE");
    assert!(refused.message.contains("the log of node n3"), "{}", refused.message);
}

pub async fn a_cluster_with_tls_and_a_token(base: &NodeOptions) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, token) =
        (dir.path().join("cert.pem"), dir.path().join("key.pem"), dir.path().join("token"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    std::fs::write(&token, "cluster-secret-1\n").unwrap();
    let mut options = NodeOptions {
        args: [
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--token-file",
            token.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec(),
        tls_ca: Some(certified.cert.pem()),
        token: Some("cluster-secret-1".into()),
        ..Default::default()
    };
    options.args.extend(base.args.iter().cloned());
    let cluster = TestCluster::start(3, options).await;
    let ring = ring_of(&cluster);

    let mut options = ClientOptions::default();
    options.transport.ca_certificate_pem = Some(certified.cert.pem().into_bytes());
    options.transport.token = Some("cluster-secret-1".into());
    let client = Client::connect_with(cluster.endpoints().split(','), options.clone()).await.unwrap();
    for owner in ["n1", "n2", "n3"] {
        let stream = stream_on(&ring, owner, "secure");
        client.append(&stream, ExpectedVersion::NoStream, vec![event(1)]).await.unwrap();
        // Forwarded between members over TLS, with the token.
        let mut via_n1 = cluster.nodes[0].client().await;
        assert_eq!(read_stream(&mut via_n1, &stream).await.unwrap().len(), 1);
    }

    options.transport.token = Some("wrong".into());
    let error = Client::connect_with(cluster.endpoints().split(','), options.clone()).await.err().unwrap();
    assert!(matches!(error, Error::Unauthenticated(_)), "{error:?}");
    assert!(!error.to_string().contains("cluster-secret-1"));
    options.transport.token = None;
    options.transport.ca_certificate_pem = None;
    let error = Client::connect(&cluster.endpoints().replace("https://", "http://")).await.err().unwrap();
    assert!(matches!(error, Error::Unavailable(_)), "plain HTTP/2 to a TLS node: {error:?}");
}

pub async fn an_append_session_forwards_each_append_to_its_owner(base: &NodeOptions) {
    use pb::append_session_response::Outcome;
    let cluster = TestCluster::start(3, base.clone()).await;
    let ring = ring_of(&cluster);
    let streams: Vec<String> =
        ["n1", "n2", "n3"].iter().map(|owner| stream_on(&ring, owner, "routed")).collect();
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    for (id, stream) in streams.iter().cycle().take(30).enumerate() {
        let append =
            pb::AppendRequest { stream: stream.clone(), expected: None, events: vec![json_event("E", "{}")] };
        tx.send(pb::AppendSessionRequest { id: id as u64, append: Some(append) }).await.unwrap();
    }
    // A stale condition on a stream another node owns: the owner's typed error comes back.
    let stale = pb::AppendRequest {
        stream: streams[1].clone(),
        expected: exact(100),
        events: vec![json_event("E", "{}")],
    };
    tx.send(pb::AppendSessionRequest { id: 99, append: Some(stale) }).await.unwrap();
    drop(tx);
    let mut client = cluster.nodes[0].client().await;
    let mut answers =
        client.append_session(tokio_stream::wrappers::ReceiverStream::new(rx)).await.unwrap().into_inner();
    let mut revisions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut answered = 0;
    while let Some(answer) = answers.message().await.unwrap() {
        answered += 1;
        match answer.outcome.unwrap() {
            Outcome::Result(r) => {
                let stream = &streams[answer.id as usize % 3];
                revisions.entry(stream.clone()).or_default().push(r.first_revision);
            }
            Outcome::Error(status) => {
                assert_eq!(answer.id, 99);
                let status = graveyard::wire::status_from_message(&status);
                assert_eq!(detail(&status, "WRONG_EXPECTED_VERSION").stream, streams[1]);
            }
        }
    }
    assert_eq!(answered, 31);
    for stream in &streams {
        let mut got = revisions.remove(stream).unwrap();
        got.sort_unstable();
        assert_eq!(got, (0..10).collect::<Vec<_>>(), "{stream}");
    }
    // Each stream is stored on its owner, and only there.
    for (i, node) in cluster.nodes.iter().enumerate() {
        let local = local_streams(node).await;
        assert_eq!(local.get(&streams[i]), Some(&10), "n{} holds its stream", i + 1);
        assert_eq!(local.len(), 1);
    }
}
