//! A single node over gRPC: every RPC, typed errors, garbage input, concurrency, subscriptions
//! and consumer groups, against the real binary.

mod common;

use std::collections::BTreeSet;

use common::*;
use graveyard::wire;
use graveyard::wire::v1 as pb;
use pb::expected_version::Kind;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_round_trips() {
    let node = Node::start().await;
    let mut client = node.client().await;

    // Append: ids, metadata and content types survive; an absent content type is JSON.
    let id = graveyard::Uuid::new_v4();
    let events = vec![
        pb::EventData {
            id: id.as_bytes().to_vec(),
            r#type: "Placed".into(),
            data: br#"{"total":42}"#.to_vec(),
            metadata: b"meta".to_vec(),
            content_type: None,
        },
        pb::EventData {
            r#type: "Blob".into(),
            data: vec![0, 1, 2, 255],
            content_type: Some("application/octet-stream".into()),
            ..Default::default()
        },
    ];
    let result = append(&mut client, "order-1", expected(Kind::NoStream), events).await.unwrap();
    assert_eq!((result.first_revision, result.last_revision), (0, 1));
    assert_eq!((result.first_position, result.last_position), (0, 1));
    let next = append(&mut client, "order-1", exact(1), vec![json_event("Shipped", "{}")]).await.unwrap();
    assert_eq!(next.first_revision, 2);
    // A retried append whose events all carry ids is answered with the original result.
    let retried =
        pb::EventData { id: graveyard::Uuid::new_v4().as_bytes().to_vec(), ..json_event("Once", "{}") };
    let original = append(&mut client, "idempotent", None, vec![retried.clone()]).await.unwrap();
    assert_eq!(append(&mut client, "idempotent", None, vec![retried]).await.unwrap(), original);

    let events = read_stream(&mut client, "order-1").await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].id, id.as_bytes().to_vec());
    assert_eq!(events[0].r#type, "Placed");
    assert_eq!(events[0].content_type, "application/json");
    assert_eq!(events[0].metadata, b"meta");
    assert_eq!(events[1].data, vec![0, 1, 2, 255]);
    assert_eq!(events[1].content_type, "application/octet-stream");
    assert_eq!(events[2].revision, 2);
    assert!(events.iter().all(|e| e.stream == "order-1" && e.timestamp > 0 && !e.shredded));
    let decoded = graveyard::RecordedEvent::try_from(events[0].clone()).unwrap();
    assert_eq!(decoded.id, id);

    // Backwards, from, limit.
    let request = pb::ReadStreamRequest {
        stream: "order-1".into(),
        direction: pb::Direction::Backwards.into(),
        from: Some(1),
        limit: Some(5),
    };
    let backwards = collect(client.read_stream(request).await.unwrap().into_inner()).await.unwrap();
    assert_eq!(backwards.iter().map(|e| e.revision).collect::<Vec<_>>(), vec![1, 0]);

    // $all, filtered.
    append(&mut client, "other-1", None, vec![json_event("Noise", "{}")]).await.unwrap();
    let request = pb::ReadAllRequest {
        filter: Some(pb::Filter { stream_prefixes: vec!["order-".into()], event_types: vec![] }),
        ..Default::default()
    };
    let all = collect(client.read_all(request).await.unwrap().into_inner()).await.unwrap();
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), vec![0, 1, 2]);
    let head = client.get_head_position(pb::GetHeadPositionRequest {}).await.unwrap().into_inner();
    assert_eq!(head.head_position, 5);

    // Stream info and metadata.
    let info = client
        .get_stream_info(pb::GetStreamInfoRequest { stream: "order-1".into() })
        .await
        .unwrap()
        .into_inner()
        .info
        .unwrap();
    assert_eq!(info.current, Some(pb::CurrentRevision { revision: Some(2) }));
    assert_eq!(info.next_revision, 3);
    assert!(!info.deleted);
    let metadata =
        pb::StreamMetadata { max_count: Some(2), max_age_ms: Some(3_600_000), truncate_before: None };
    client
        .set_stream_metadata(pb::SetStreamMetadataRequest {
            stream: "order-1".into(),
            metadata: Some(metadata),
        })
        .await
        .unwrap();
    let got = client
        .get_stream_metadata(pb::GetStreamMetadataRequest { stream: "order-1".into() })
        .await
        .unwrap()
        .into_inner()
        .metadata
        .unwrap();
    assert_eq!(got, metadata);
    let visible = read_stream(&mut client, "order-1").await.unwrap();
    assert_eq!(visible.iter().map(|e| e.revision).collect::<Vec<_>>(), vec![1, 2]);

    // Snapshots.
    let none =
        client.get_snapshot(pb::GetSnapshotRequest { stream: "order-1".into() }).await.unwrap().into_inner();
    assert_eq!(none.snapshot, None);
    client
        .save_snapshot(pb::SaveSnapshotRequest {
            stream: "order-1".into(),
            revision: 2,
            data: b"state".to_vec(),
        })
        .await
        .unwrap();
    let snapshot = client
        .get_snapshot(pb::GetSnapshotRequest { stream: "order-1".into() })
        .await
        .unwrap()
        .into_inner()
        .snapshot
        .unwrap();
    assert_eq!(
        (snapshot.stream.as_str(), snapshot.revision, snapshot.data.as_slice()),
        ("order-1", 2, &b"state"[..])
    );

    // Soft delete, then tombstone.
    client
        .delete_stream(pb::DeleteStreamRequest { stream: "order-1".into(), expected: exact(2) })
        .await
        .unwrap();
    let gone = read_stream(&mut client, "order-1").await.unwrap_err();
    detail(&gone, "NOT_FOUND");
    assert_eq!(gone.code(), tonic::Code::NotFound);
    client
        .tombstone_stream(pb::TombstoneStreamRequest { stream: "order-1".into(), expected: None })
        .await
        .unwrap();
    let tombstoned = read_stream(&mut client, "order-1").await.unwrap_err();
    assert_eq!(detail(&tombstoned, "STREAM_DELETED").stream, "order-1");

    // Consumer group management.
    let created = client
        .create_group(pb::CreateGroupRequest {
            name: "billing".into(),
            target: Some(graveyard::GroupTarget::Stream("other-1".into()).into()),
            start: None,
            settings: Some(pb::GroupSettings { max_retries: Some(3), ..Default::default() }),
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    let settings = created.settings.unwrap();
    assert_eq!(settings.max_retries, Some(3));
    assert_eq!(settings.max_in_flight, Some(256), "absent settings take the core's defaults");
    assert_eq!((created.checkpoint, created.lag), (0, 1));
    assert_eq!(created.parked_stream, "$parked-billing");
    let updated = client
        .update_group(pb::UpdateGroupRequest {
            name: "billing".into(),
            settings: Some(pb::GroupSettings {
                ack_timeout_ms: Some(1500),
                strategy: pb::GroupStrategy::PinnedByStream.into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    let info = graveyard::GroupInfo::try_from(updated).unwrap();
    assert_eq!(info.settings.ack_timeout, std::time::Duration::from_millis(1500));
    assert_eq!(info.settings.strategy, graveyard::GroupStrategy::PinnedByStream);
    assert_eq!(info.settings.max_retries, 10, "an update replaces the settings");
    let fetched =
        client.get_group(pb::GetGroupRequest { name: "billing".into() }).await.unwrap().into_inner();
    assert_eq!(fetched.group.unwrap().name, "billing");
    let names = client.list_groups(pb::ListGroupsRequest {}).await.unwrap().into_inner().names;
    assert_eq!(names, vec!["billing".to_string()]);
    client.delete_group(pb::DeleteGroupRequest { name: "billing".into() }).await.unwrap();
    let missing = client.get_group(pb::GetGroupRequest { name: "billing".into() }).await.unwrap_err();
    detail(&missing, "NOT_FOUND");

    // Topology and health of a single node.
    let topology = client.get_topology(pb::GetTopologyRequest {}).await.unwrap().into_inner();
    assert_eq!(topology.node_id, "node-1");
    assert_eq!(
        topology.members,
        vec![pb::Member { id: "node-1".into(), endpoint: format!("127.0.0.1:{}", node.port) }]
    );
    assert_eq!(topology.virtual_nodes, graveyard::cluster::DEFAULT_VNODES);
    let health = client.health(pb::HealthRequest {}).await.unwrap().into_inner();
    assert_eq!(health.status(), pb::health_response::Status::Serving);
    assert_eq!(health.node_id, "node-1");
    assert_eq!(health.head_position, 5);
    assert_eq!(health.stopped, "", "the store takes writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_longer_than_a_batch_are_complete_and_ordered() {
    let node = Node::start().await;
    let mut client = node.client().await;
    // 5000 events, 1 in 100 on a "rare-" stream: more than a page, and a filter sparser than
    // the scan limit of a page.
    for batch in 0..10 {
        let events = (0..500).map(|i| json_event("E", &format!("{{\"n\":{}}}", batch * 500 + i))).collect();
        append(&mut client, "bulk", None, events).await.unwrap();
        for _ in 0..5 {
            append(&mut client, "rare-1", None, vec![json_event("R", "{}")]).await.unwrap();
        }
    }
    let total = 5050;
    let all =
        collect(client.read_all(pb::ReadAllRequest::default()).await.unwrap().into_inner()).await.unwrap();
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), (0..total).collect::<Vec<_>>());

    let request = pb::ReadAllRequest {
        direction: pb::Direction::Backwards.into(),
        limit: Some(1234),
        ..Default::default()
    };
    let backwards = collect(client.read_all(request).await.unwrap().into_inner()).await.unwrap();
    assert_eq!(
        backwards.iter().map(|e| e.position).collect::<Vec<_>>(),
        (total - 1234..total).rev().collect::<Vec<_>>()
    );

    let request = pb::ReadAllRequest {
        filter: Some(pb::Filter { stream_prefixes: vec!["rare-".into()], event_types: vec![] }),
        ..Default::default()
    };
    let rare = collect(client.read_all(request).await.unwrap().into_inner()).await.unwrap();
    assert_eq!(rare.len(), 50);
    assert!(rare.windows(2).all(|w| w[0].position < w[1].position));

    let bulk = read_stream(&mut client, "bulk").await.unwrap();
    assert_eq!(bulk.iter().map(|e| e.revision).collect::<Vec<_>>(), (0..5000).collect::<Vec<_>>());
    let request = pb::ReadStreamRequest {
        stream: "bulk".into(),
        direction: pb::Direction::Backwards.into(),
        from: None,
        limit: Some(700),
    };
    let tail = collect(client.read_stream(request).await.unwrap().into_inner()).await.unwrap();
    assert_eq!(tail.iter().map(|e| e.revision).collect::<Vec<_>>(), (4300..5000).rev().collect::<Vec<_>>());
    let request = pb::ReadStreamRequest { stream: "bulk".into(), from: Some(6000), ..Default::default() };
    assert!(collect(client.read_stream(request).await.unwrap().into_inner()).await.unwrap().is_empty());
    let request = pb::ReadStreamRequest { stream: "bulk".into(), limit: Some(0), ..Default::default() };
    assert!(collect(client.read_stream(request).await.unwrap().into_inner()).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_errors_come_back_with_their_detail() {
    let node = Node::start().await;
    let mut client = node.client().await;
    append(&mut client, "s", expected(Kind::NoStream), vec![json_event("A", "{}"), json_event("B", "{}")])
        .await
        .unwrap();

    // Wrong expected version: expected and actual, typed.
    let status = append(&mut client, "s", exact(0), vec![json_event("C", "{}")]).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    let d = detail(&status, "WRONG_EXPECTED_VERSION");
    assert_eq!(d.stream, "s");
    assert_eq!(d.expected, exact(0));
    assert_eq!(d.actual, Some(pb::CurrentRevision { revision: Some(1) }));
    match wire::status_to_error(&status) {
        graveyard::Error::WrongExpectedVersion { stream, expected, actual } => {
            assert_eq!(stream, "s");
            assert_eq!(expected, graveyard::ExpectedVersion::Exact(0));
            assert_eq!(actual, graveyard::CurrentRevision::Revision(1));
        }
        other => panic!("rebuilt as {other:?}"),
    }
    let status = append(&mut client, "fresh", expected(Kind::StreamExists), vec![json_event("C", "{}")])
        .await
        .unwrap_err();
    let d = detail(&status, "WRONG_EXPECTED_VERSION");
    assert_eq!(d.expected, expected(Kind::StreamExists));
    assert_eq!(d.actual, Some(pb::CurrentRevision { revision: None }));

    // Stream deleted.
    client.tombstone_stream(pb::TombstoneStreamRequest { stream: "s".into(), expected: None }).await.unwrap();
    let status = append(&mut client, "s", None, vec![json_event("C", "{}")]).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert_eq!(detail(&status, "STREAM_DELETED").stream, "s");
    assert!(
        matches!(wire::status_to_error(&status), graveyard::Error::StreamDeleted { stream } if stream == "s")
    );

    // Invalid argument: the core's own text, code and gRPC code.
    let status = append(&mut client, "t", None, vec![json_event("", "{}")]).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let d = detail(&status, "INVALID_ARGUMENT");
    assert!(d.message.contains("event 0: event type is empty"), "{}", d.message);
    assert!(matches!(wire::status_to_error(&status), graveyard::Error::InvalidArgument(m) if m == d.message));

    // Not found.
    let status =
        client.get_stream_info(pb::GetStreamInfoRequest { stream: "nope".into() }).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    detail(&status, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_input_gets_the_right_code() {
    let node = Node::start().await;
    let mut client = node.client().await;
    let invalid = |status: tonic::Status, needle: &str| {
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        let d = detail(&status, "INVALID_ARGUMENT");
        assert!(d.message.contains(needle), "'{}' does not mention '{needle}'", d.message);
    };

    let bad_id = pb::EventData { id: vec![1, 2, 3, 4, 5], ..json_event("E", "{}") };
    invalid(append(&mut client, "s", None, vec![bad_id]).await.unwrap_err(), "event 0: id is 5 bytes");
    let nil_id = pb::EventData { id: vec![0; 16], ..json_event("E", "{}") };
    invalid(append(&mut client, "s", None, vec![nil_id]).await.unwrap_err(), "nil UUID");
    invalid(
        append(&mut client, "", None, vec![json_event("E", "{}")]).await.unwrap_err(),
        "stream name is empty",
    );
    invalid(append(&mut client, "$system", None, vec![json_event("E", "{}")]).await.unwrap_err(), "reserved");
    invalid(append(&mut client, "s", None, vec![]).await.unwrap_err(), "at least one event");
    invalid(
        append(&mut client, "s", None, vec![json_event("E", "{not json")]).await.unwrap_err(),
        "not valid JSON",
    );
    let oversize = pb::EventData {
        r#type: "Big".into(),
        data: vec![7; graveyard::DEFAULT_MAX_EVENT_SIZE + 1],
        content_type: Some("application/octet-stream".into()),
        ..Default::default()
    };
    invalid(append(&mut client, "s", None, vec![oversize]).await.unwrap_err(), "larger than the maximum");
    let unknown_kind = Some(pb::ExpectedVersion { kind: 42, revision: 0 });
    invalid(
        append(&mut client, "s", unknown_kind, vec![json_event("E", "{}")]).await.unwrap_err(),
        "unknown kind",
    );
    let stray_revision = Some(pb::ExpectedVersion { kind: Kind::Any.into(), revision: 3 });
    invalid(
        append(&mut client, "s", stray_revision, vec![json_event("E", "{}")]).await.unwrap_err(),
        "KIND_EXACT",
    );
    let request = pb::ReadStreamRequest { stream: "s".into(), direction: 9, ..Default::default() };
    invalid(client.read_stream(request).await.unwrap_err(), "direction");
    let request = pb::CreateGroupRequest { name: "g".into(), ..Default::default() };
    invalid(client.create_group(request).await.unwrap_err(), "needs a target");
    let request = pb::SetStreamMetadataRequest { stream: "$x".into(), metadata: None };
    invalid(client.set_stream_metadata(request).await.unwrap_err(), "reserved");
    // Nothing of the refused appends was written.
    let head = client.get_head_position(pb::GetHeadPositionRequest {}).await.unwrap().into_inner();
    assert_eq!(head.head_position, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_all_succeed_with_gapless_positions() {
    const CLIENTS: usize = 64;
    const APPENDS: usize = 20;
    let node = Node::start().await;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        // One connection per client: they reach the engine concurrently.
        let mut client = node.client().await;
        tasks.push(tokio::spawn(async move {
            let mut positions = Vec::new();
            for i in 0..APPENDS {
                let own = format!("client-{c}");
                let r =
                    append(&mut client, &own, exact_or_none(i), vec![json_event("E", "{}")]).await.unwrap();
                assert_eq!(r.first_revision, i as u64);
                positions.push(r.first_position);
                // Every client also appends to one shared stream, without a condition.
                let r = append(&mut client, "shared", None, vec![json_event("S", "{}")]).await.unwrap();
                positions.push(r.first_position);
            }
            positions
        }));
    }
    let mut positions = BTreeSet::new();
    for task in tasks {
        for p in task.await.unwrap() {
            assert!(positions.insert(p), "position {p} given twice");
        }
    }
    let total = (CLIENTS * APPENDS * 2) as u64;
    assert_eq!(positions, (0..total).collect::<BTreeSet<_>>(), "positions are gapless");

    let mut client = node.client().await;
    let all =
        collect(client.read_all(pb::ReadAllRequest::default()).await.unwrap().into_inner()).await.unwrap();
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), (0..total).collect::<Vec<_>>());
    let shared = read_stream(&mut client, "shared").await.unwrap();
    assert_eq!(
        shared.iter().map(|e| e.revision).collect::<Vec<_>>(),
        (0..(CLIENTS * APPENDS) as u64).collect::<Vec<_>>()
    );
}

fn exact_or_none(i: usize) -> Option<pb::ExpectedVersion> {
    if i == 0 {
        expected(Kind::NoStream)
    } else {
        exact(i as u64 - 1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_deliver_history_then_live_without_gap() {
    let node = Node::start().await;
    let mut writer = node.client().await;
    for batch in 0..4 {
        let events = (0..250).map(|_| json_event("E", "{}")).collect();
        append(&mut writer, &format!("s-{}", batch % 2), None, events).await.unwrap();
    }

    let mut reader = node.client().await;
    let mut all = reader.subscribe_to_all(pb::SubscribeToAllRequest::default()).await.unwrap().into_inner();
    let request = pb::SubscribeToStreamRequest {
        stream: "s-1".into(),
        start: Some(pb::SubscriptionStart {
            kind: pb::subscription_start::Kind::After.into(),
            checkpoint: 99,
        }),
        // A small page: history still arrives whole, in order, a page at a time.
        page_size: Some(7),
    };
    let mut one = reader.subscribe_to_stream(request).await.unwrap().into_inner();
    let filter = pb::Filter { stream_prefixes: vec![], event_types: vec!["Live".into()] };
    let request = pb::SubscribeToAllRequest { start: None, filter: Some(filter), page_size: None };
    let mut live_only = reader.subscribe_to_all(request).await.unwrap().into_inner();

    // History, then the caught-up marker.
    let (history, caught_up) = next_events(&mut all, 1000).await;
    assert_eq!(history.iter().map(|e| e.position).collect::<Vec<_>>(), (0..1000).collect::<Vec<_>>());
    assert!(caught_up || matches!(next(&mut all).await, Message::CaughtUp));
    let (history, caught_up) = next_events(&mut one, 400).await;
    assert_eq!(history.iter().map(|e| e.revision).collect::<Vec<_>>(), (100..500).collect::<Vec<_>>());
    assert!(caught_up || matches!(next(&mut one).await, Message::CaughtUp));
    assert!(matches!(next(&mut live_only).await, Message::CaughtUp));

    // Live events, from another connection.
    for _ in 0..50 {
        append(&mut writer, "s-1", None, vec![json_event("Live", "{}"), json_event("Live", "{}")])
            .await
            .unwrap();
    }
    let (live, caught_up) = next_events(&mut all, 100).await;
    assert!(!caught_up, "caught up is sent once");
    assert_eq!(live.iter().map(|e| e.position).collect::<Vec<_>>(), (1000..1100).collect::<Vec<_>>());
    let (live, _) = next_events(&mut one, 100).await;
    assert_eq!(live.iter().map(|e| e.revision).collect::<Vec<_>>(), (500..600).collect::<Vec<_>>());
    let (live, _) = next_events(&mut live_only, 100).await;
    assert!(live.iter().all(|e| e.r#type == "Live"));
    assert_eq!(live.iter().map(|e| e.position).collect::<Vec<_>>(), (1000..1100).collect::<Vec<_>>());

    // A bad subscription is refused at once.
    let request = pb::SubscribeToStreamRequest { stream: String::new(), start: None, page_size: None };
    detail(&reader.subscribe_to_stream(request).await.unwrap_err(), "INVALID_ARGUMENT");
    for page_size in [0, 65_537] {
        let request = pb::SubscribeToAllRequest { page_size: Some(page_size), ..Default::default() };
        let refused = reader.subscribe_to_all(request).await.unwrap_err();
        assert!(detail(&refused, "INVALID_ARGUMENT").message.contains("page size"));
    }
}

enum Message {
    Event(pb::RecordedEvent),
    CaughtUp,
}

async fn next(stream: &mut tonic::Streaming<pb::SubscribeResponse>) -> Message {
    let message = stream.message().await.expect("subscription failed").expect("subscription ended");
    match message.message.expect("a subscription message has a body") {
        pb::subscribe_response::Message::Event(event) => Message::Event(event),
        pb::subscribe_response::Message::CaughtUp(_) => Message::CaughtUp,
    }
}

/// The next `count` events, and whether a caught-up marker came among them.
async fn next_events(
    stream: &mut tonic::Streaming<pb::SubscribeResponse>,
    count: usize,
) -> (Vec<pb::RecordedEvent>, bool) {
    let mut events = Vec::new();
    let mut caught_up = false;
    while events.len() < count {
        match next(stream).await {
            Message::Event(event) => events.push(event),
            Message::CaughtUp => {
                assert!(!caught_up, "caught up twice");
                caught_up = true;
            }
        }
    }
    (events, caught_up)
}

/// One member's session over the bidirectional Consume call.
struct Session {
    requests: mpsc::Sender<pb::ConsumeRequest>,
    responses: tonic::Streaming<pb::ConsumeResponse>,
}

impl Session {
    async fn open(
        client: &mut Client,
        first: pb::consume_request::Request,
    ) -> Result<Session, tonic::Status> {
        let (requests, rx) = mpsc::channel(16);
        requests.send(pb::ConsumeRequest { request: Some(first) }).await.unwrap();
        let responses = client.consume(ReceiverStream::new(rx)).await?.into_inner();
        Ok(Session { requests, responses })
    }

    async fn join(client: &mut Client, group: &str) -> Result<Session, tonic::Status> {
        let join = pb::consume_request::Join { group: group.into(), member: "test-member".into() };
        let mut session = Session::open(client, pb::consume_request::Request::Join(join)).await?;
        match session.next().await? {
            pb::consume_response::Response::Joined(joined) => assert_eq!(joined.group.unwrap().name, group),
            other => panic!("expected Joined, got {other:?}"),
        }
        Ok(session)
    }

    async fn next(&mut self) -> Result<pb::consume_response::Response, tonic::Status> {
        let message = self.responses.message().await?.expect("the session ended without a status");
        Ok(message.response.expect("a response has a body"))
    }

    async fn send(&self, request: pb::consume_request::Request) {
        self.requests.send(pb::ConsumeRequest { request: Some(request) }).await.unwrap();
    }

    async fn ack(&self, ids: Vec<u64>) {
        self.send(pb::consume_request::Request::Ack(pb::consume_request::Ack { delivery_ids: ids })).await;
    }

    async fn nack(&self, ids: Vec<u64>, action: pb::NackAction) {
        let nack = pb::consume_request::Nack { delivery_ids: ids, action: action.into() };
        self.send(pb::consume_request::Request::Nack(nack)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_groups_join_ack_and_nack_over_the_bidi_stream() {
    use pb::consume_response::Response;
    let node = Node::start().await;
    let mut client = node.client().await;
    let events = (0..10).map(|i| json_event("Job", &format!("{{\"n\":{i}}}"))).collect();
    append(&mut client, "jobs", None, events).await.unwrap();
    let request = pb::CreateGroupRequest {
        name: "workers".into(),
        target: Some(graveyard::GroupTarget::Stream("jobs".into()).into()),
        ..Default::default()
    };
    client.create_group(request).await.unwrap();

    let mut session = Session::join(&mut client, "workers").await.unwrap();
    let mut ids = Vec::new();
    while ids.len() < 10 {
        match session.next().await.unwrap() {
            Response::Delivery(d) => {
                assert_eq!(d.attempt, 1);
                assert_eq!(d.event.as_ref().unwrap().stream, "jobs");
                ids.push(d.delivery_id);
            }
            other => panic!("expected a delivery, got {other:?}"),
        }
    }
    assert_eq!(ids, (0..10).collect::<Vec<_>>(), "delivery ids are the events' positions");

    session.ack(ids[..7].to_vec()).await;
    match session.next().await.unwrap() {
        Response::Settled(s) => assert_eq!(s.delivery_ids, ids[..7].to_vec()),
        other => panic!("expected Settled, got {other:?}"),
    }

    // Retry: confirmed, then delivered again with the same id and the next attempt.
    session.nack(vec![ids[7]], pb::NackAction::Retry).await;
    let (mut settled, mut redelivered) = (false, false);
    while !(settled && redelivered) {
        match session.next().await.unwrap() {
            Response::Settled(s) => {
                assert_eq!(s.delivery_ids, vec![ids[7]]);
                settled = true;
            }
            Response::Delivery(d) => {
                assert_eq!((d.delivery_id, d.attempt), (ids[7], 2));
                redelivered = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    session.ack(vec![ids[7]]).await;
    session.nack(vec![ids[8]], pb::NackAction::Skip).await;
    session.nack(vec![ids[9]], pb::NackAction::Park).await;
    for expected in [ids[7], ids[8], ids[9]] {
        match session.next().await.unwrap() {
            Response::Settled(s) => assert_eq!(s.delivery_ids, vec![expected]),
            other => panic!("expected Settled, got {other:?}"),
        }
    }
    let info = client.get_group(pb::GetGroupRequest { name: "workers".into() }).await.unwrap().into_inner();
    let info = info.group.unwrap();
    assert_eq!((info.checkpoint, info.lag, info.in_flight), (10, 0, 0));
    assert_eq!(info.members, vec!["test-member".to_string()]);
    let parked = read_stream(&mut client, "$parked-workers").await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].data, br#"{"n":9}"#);

    // A live event reaches the member.
    append(&mut client, "jobs", None, vec![json_event("Job", "{}")]).await.unwrap();
    match session.next().await.unwrap() {
        // Position 10 went to the parked copy.
        Response::Delivery(d) => assert_eq!((d.delivery_id, d.event.unwrap().revision), (11, 10)),
        other => panic!("expected a delivery, got {other:?}"),
    }

    // Settling what was never delivered ends the session with INVALID_ARGUMENT.
    session.ack(vec![999]).await;
    let status = session.next().await.unwrap_err();
    assert!(detail(&status, "INVALID_ARGUMENT").message.contains("delivery 999"));
    let mut unspecified = Session::join(&mut client, "workers").await.unwrap();
    unspecified.nack(vec![10], pb::NackAction::Unspecified).await;
    let status = loop {
        match unspecified.next().await {
            Ok(Response::Delivery(_)) => continue,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(status) => break status,
        }
    };
    assert!(detail(&status, "INVALID_ARGUMENT").message.contains("names its action"));

    // The first request must join an existing group.
    let ack = pb::consume_request::Request::Ack(pb::consume_request::Ack { delivery_ids: vec![1] });
    let status = match Session::open(&mut client, ack).await {
        Err(status) => status,
        Ok(mut session) => session.next().await.unwrap_err(),
    };
    detail(&status, "INVALID_ARGUMENT");
    let status = match Session::join(&mut client, "nobody").await {
        Err(status) => status,
        Ok(_) => panic!("joined a group that does not exist"),
    };
    detail(&status, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaving_member_hands_its_deliveries_to_the_others() {
    use pb::consume_response::Response;
    let node = Node::start().await;
    let mut client = node.client().await;
    let events = (0..3).map(|_| json_event("Job", "{}")).collect();
    append(&mut client, "jobs", None, events).await.unwrap();
    let request = pb::CreateGroupRequest {
        name: "g".into(),
        target: Some(graveyard::GroupTarget::All(graveyard::Filter::default()).into()),
        ..Default::default()
    };
    client.create_group(request).await.unwrap();

    let mut first = Session::join(&mut client, "g").await.unwrap();
    for _ in 0..3 {
        assert!(matches!(first.next().await.unwrap(), Response::Delivery(_)));
    }
    drop(first);
    let mut second = Session::join(&mut client, "g").await.unwrap();
    let mut ids = BTreeSet::new();
    while ids.len() < 3 {
        if let Response::Delivery(d) = second.next().await.unwrap() {
            ids.insert(d.delivery_id);
        }
    }
    assert_eq!(ids, (0..3).collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_govern_appends_with_typed_violations() {
    use graveyard::schema::{CompatibilityMode, Field, FieldType, Schema};
    let node = Node::start().await;
    let mut client = node.client().await;
    let user = Schema::new("user")
        .field(Field::new("name", FieldType::String).required().min_length(1))
        .field(Field::new("age", FieldType::Integer).min(0.0).max(150.0))
        .field(Field::new("plan", FieldType::enumeration(["free", "pro"])).default(serde_json::json!("free")))
        .compatibility(CompatibilityMode::Backward);
    let upsert = |schema: &Schema| pb::UpsertSchemaRequest { schema: Some(schema.into()) };

    let first = client.upsert_schema(upsert(&user)).await.unwrap().into_inner();
    assert_eq!((first.name.as_str(), first.version, first.changed), ("user", 1, true));
    let again = client.upsert_schema(upsert(&user)).await.unwrap().into_inner();
    assert_eq!((again.version, again.changed), (1, false));
    let v2 = user.clone().field(Field::new("nickname", FieldType::String));
    assert_eq!(client.upsert_schema(upsert(&v2)).await.unwrap().into_inner().version, 2);

    let got =
        client.get_schema(pb::GetSchemaRequest { name: "user".into(), version: Some(1) }).await.unwrap();
    let got = graveyard::schema::RegisteredSchema::try_from(got.into_inner().schema.unwrap()).unwrap();
    assert_eq!((got.version, &got.schema), (1, &user));
    let latest =
        client.get_schema(pb::GetSchemaRequest { name: "user".into(), version: None }).await.unwrap();
    assert_eq!(latest.into_inner().schema.unwrap().version, 2);
    let missing = client.get_schema(pb::GetSchemaRequest { name: "nobody".into(), version: None }).await;
    detail(&missing.unwrap_err(), "NOT_FOUND");
    client.upsert_schema(upsert(&Schema::new("address"))).await.unwrap();
    let listed = client.list_schemas(pb::ListSchemasRequest {}).await.unwrap().into_inner().schemas;
    let listed: Vec<(String, u32)> =
        listed.into_iter().map(|s| (s.schema.unwrap().name, s.version)).collect();
    assert_eq!(listed, vec![("address".to_string(), 1), ("user".to_string(), 2)]);

    // A valid event is stored with its schema version (and its defaults filled in).
    append(&mut client, "u-1", None, vec![json_event("user", r#"{"name":"Ada","age":36}"#)]).await.unwrap();
    let events = read_stream(&mut client, "u-1").await.unwrap();
    assert_eq!(events[0].schema_version, Some(2));
    let data: serde_json::Value = serde_json::from_slice(&events[0].data).unwrap();
    assert_eq!(data["plan"], "free");

    // A violation comes back typed: the event's index, the schema version, each violation.
    let events =
        vec![json_event("user", r#"{"name":"Bob"}"#), json_event("user", r#"{"name":"","age":200}"#)];
    let status = append(&mut client, "u-2", None, events).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let d = detail(&status, "SCHEMA_VIOLATION");
    assert_eq!((d.schema.as_str(), d.schema_version, d.event_index), ("user", Some(2), Some(1)));
    let mut violations: Vec<(&str, &str, &str)> =
        d.violations.iter().map(|v| (v.path.as_str(), v.rule.as_str(), v.value_json.as_str())).collect();
    violations.sort();
    assert_eq!(violations, vec![("age", "max", "200"), ("name", "min_length", "\"\"")]);
    match wire::status_to_error(&status) {
        graveyard::Error::SchemaViolation { schema, version, event, violations } => {
            assert_eq!((schema.as_str(), version, event, violations.len()), ("user", 2, 1, 2));
        }
        other => panic!("rebuilt as {other:?}"),
    }
    detail(&read_stream(&mut client, "u-2").await.unwrap_err(), "NOT_FOUND");

    // A violation too large for the trailers still comes back typed, cut to fit and saying so,
    // through a client with tonic's default limits.
    let bulk = Schema::new("bulk")
        .field(Field::new("bio", FieldType::String).max_length(10))
        .field(Field::new("grades", FieldType::array(FieldType::enumeration(["a"]))));
    client.upsert_schema(upsert(&bulk)).await.unwrap();
    let data =
        serde_json::json!({ "bio": "x".repeat(50_000), "grades": vec!["b".repeat(300); 300] }).to_string();
    let mut default_limits = pb::graveyard_client::GraveyardClient::new(node.channel().await.unwrap());
    let request =
        pb::AppendRequest { stream: "b-1".into(), expected: None, events: vec![json_event("bulk", &data)] };
    let status = default_limits.append(request).await.unwrap_err();
    let d = detail(&status, "SCHEMA_VIOLATION");
    assert_eq!(d.violations.len() as u32 + d.violations_omitted, graveyard::schema::MAX_VIOLATIONS as u32);
    assert!(d.violations_omitted > 0);
    let bio = d.violations.iter().find(|v| v.path == "bio").expect("the bio violation is kept");
    assert!(bio.value_truncated && bio.value_json.len() <= 256);
    assert!(status.message().len() <= 1024);

    // A definition the core refuses, and one the wire cannot even express, are INVALID_SCHEMA.
    let incompatible = user.clone().field(Field::new("email", FieldType::String).required());
    let status = client.upsert_schema(upsert(&incompatible)).await.unwrap_err();
    let d = detail(&status, "INVALID_SCHEMA");
    assert_eq!(d.schema, "user");
    assert!(!d.problems.is_empty());
    let untyped = pb::Schema {
        name: "broken".into(),
        fields: vec![pb::SchemaField { name: "x".into(), ..Default::default() }],
        ..Default::default()
    };
    let status = client.upsert_schema(pb::UpsertSchemaRequest { schema: Some(untyped) }).await.unwrap_err();
    assert_eq!(detail(&status, "INVALID_SCHEMA").problems, vec!["field 'x': has no type".to_string()]);
    let status = client.upsert_schema(pb::UpsertSchemaRequest { schema: None }).await.unwrap_err();
    detail(&status, "INVALID_SCHEMA");
}

/// Sends `requests` over one AppendSession call, then ends the client's side; every answer, by
/// id, and how the call ended.
async fn session(
    client: &mut Client,
    requests: Vec<pb::AppendSessionRequest>,
) -> (std::collections::BTreeMap<u64, pb::append_session_response::Outcome>, Result<(), tonic::Status>) {
    let (tx, rx) = mpsc::channel(requests.len().max(1));
    for request in requests {
        tx.send(request).await.unwrap();
    }
    drop(tx);
    let mut answers = client.append_session(ReceiverStream::new(rx)).await.unwrap().into_inner();
    let mut outcomes = std::collections::BTreeMap::new();
    let end = loop {
        match answers.message().await {
            Ok(Some(answer)) => {
                let outcome = answer.outcome.expect("every answer has an outcome");
                assert!(outcomes.insert(answer.id, outcome).is_none(), "append {} answered twice", answer.id);
            }
            Ok(None) => break Ok(()),
            Err(status) => break Err(status),
        }
    };
    (outcomes, end)
}

fn session_append(id: u64, stream: &str, expected: Option<pb::ExpectedVersion>) -> pb::AppendSessionRequest {
    let append = pb::AppendRequest { stream: stream.into(), expected, events: vec![json_event("E", "{}")] };
    pb::AppendSessionRequest { id, append: Some(append) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_session_answers_each_append_by_its_id_as_a_unary_append_would() {
    use pb::append_session_response::Outcome;
    let node = Node::start().await;
    let mut client = node.client().await;
    // 2,000 appends in flight at once (more than a session serves at a time), to 100 streams
    // without a condition, plus appends whose answers must be the typed errors of a unary call.
    let mut requests: Vec<_> =
        (0..2_000).map(|i| session_append(i, &format!("s-{}", i % 100), None)).collect();
    requests.push(session_append(5_000, "s-0", expected(Kind::NoStream)));
    requests.push(pb::AppendSessionRequest { id: 5_001, append: None });
    requests.push(pb::AppendSessionRequest {
        id: 5_002,
        append: Some(pb::AppendRequest { stream: "bad".into(), expected: None, events: vec![] }),
    });
    requests.push(pb::AppendSessionRequest {
        id: 5_003,
        append: Some(pb::AppendRequest {
            stream: "bad-id".into(),
            expected: None,
            events: vec![pb::EventData { id: vec![1, 2, 3], ..json_event("E", "{}") }],
        }),
    });
    let (outcomes, end) = session(&mut client, requests).await;
    end.unwrap();
    assert_eq!(outcomes.len(), 2_004);
    let mut positions = BTreeSet::new();
    for i in 0..2_000 {
        match &outcomes[&i] {
            Outcome::Result(r) => {
                assert!(positions.insert(r.first_position), "position {} twice", r.first_position)
            }
            Outcome::Error(e) => panic!("append {i} failed: {e:?}"),
        }
    }
    assert_eq!(positions, (0..2_000).collect::<BTreeSet<_>>());
    let error = |id: u64| match &outcomes[&id] {
        Outcome::Error(status) => wire::status_from_message(status),
        Outcome::Result(r) => panic!("append {id} succeeded: {r:?}"),
    };
    let conflict = detail(&error(5_000), "WRONG_EXPECTED_VERSION");
    assert_eq!(conflict.stream, "s-0");
    // Sent with the others to s-0: it meets whatever s-0 held when it reached the writer.
    assert!(conflict.actual.and_then(|a| a.revision).is_some_and(|r| r < 20), "{conflict:?}");
    assert_eq!(error(5_000).code(), tonic::Code::FailedPrecondition);
    assert!(detail(&error(5_001), "INVALID_ARGUMENT").message.contains("without its append"));
    detail(&error(5_002), "INVALID_ARGUMENT");
    detail(&error(5_003), "INVALID_ARGUMENT");
    // Nothing of the refused appends was written, everything else was, once.
    let all =
        collect(client.read_all(pb::ReadAllRequest::default()).await.unwrap().into_inner()).await.unwrap();
    assert_eq!(all.len(), 2_000);
    read_stream(&mut client, "bad-id").await.unwrap_err();

    // A session with nothing sent ends at once.
    let (outcomes, end) = session(&mut client, vec![]).await;
    assert!(outcomes.is_empty());
    end.unwrap();

    // The Rust client appends over sessions: concurrent appends share one call and keep the
    // version check.
    let rust = graveyard::Client::connect(&node.endpoint()).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..32 {
        let rust = rust.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20u64 {
                let expected = if i == 0 {
                    graveyard::ExpectedVersion::NoStream
                } else {
                    graveyard::ExpectedVersion::Exact(i - 1)
                };
                let event = graveyard::EventData::json("E", &serde_json::json!({ "i": i })).unwrap();
                let r = rust.append(&format!("rust-{t}"), expected, vec![event]).await.unwrap();
                assert_eq!(r.first_revision, i);
            }
            let stale = graveyard::EventData::json("E", &serde_json::json!({})).unwrap();
            let error =
                rust.append(&format!("rust-{t}"), graveyard::ExpectedVersion::Exact(3), vec![stale]).await;
            assert!(matches!(error, Err(graveyard::Error::WrongExpectedVersion { .. })), "{error:?}");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    rust.close();
}
