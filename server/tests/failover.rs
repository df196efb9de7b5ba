//! Failover on `--storage cql`, against a real Apache Cassandra (scripts/cassandra.sh through
//! `graveyard_cql::testing`) and three real nodes: writers append through the cluster client,
//! each to its own streams with exact expected versions, while
//! 1. the member that owns half of their streams is killed (SIGKILL): its streams are served
//!    again by the next member, from its log in Cassandra;
//! 2. Cassandra is killed (SIGKILL) and restarted: the nodes resume by themselves;
//! 3. the killed member starts again and takes its streams back;
//! 4. another member freezes (SIGSTOP, as a long pause or a partition would) long enough to be
//!    thought down: the next member serves its log; when it wakes it finds its log served by
//!    another, stops serving its streams until that member hands the log back, and catches up.
//!    For a moment both wrote the log: the record-by-record fencing keeps one history.
//!
//! At the end every acknowledged event is read back exactly once, at the revision it was
//! acknowledged at, with no revision skipped: the writers never saw a revision lost or written
//! twice, whoever served the stream. A subscriber to one of the moved streams is told each time
//! its node stops serving the stream (never a silent end), subscribes again after the last
//! revision it got, and receives every revision once, in order. So does a subscriber to the
//! killed member's `$all` (served by the member that took its log over, in its positions), and
//! its head, `$all` and listings are read meanwhile; a consumer group on that `$all` goes on
//! through the same moves, every position delivered at least once.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestCluster;
use graveyard::wire::v1 as pb;
use graveyard::{
    Client, ClientOptions, ErrorCode, EventData, ExpectedVersion, Filter, GroupSettings, GroupTarget,
    ListStreamsOptions, ReadAllOptions, SubscribeOptions, SubscriptionMessage, SubscriptionStart, Uuid,
};
use graveyard_cql::testing::Cassandra;

/// What the writers were told: per stream, the id of the event at each revision.
type Acknowledged = Arc<Mutex<HashMap<String, Vec<Uuid>>>>;

struct Load {
    stop: Arc<AtomicBool>,
    acknowledged: Acknowledged,
    /// Appends acknowledged so far, all streams.
    count: Arc<AtomicUsize>,
    /// Appends that failed and were tried again (same events, same ids).
    retried: Arc<AtomicUsize>,
    writers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// One writer per stream, each appending one event at a time expecting the revision after
    /// its last acknowledged one; a failure is tried again with the same event (same id), so an
    /// append whose answer was lost is recognised and not written twice.
    fn start(client: &Client, streams: &[String]) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged: Acknowledged = Arc::default();
        let (count, retried) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let writers = streams
            .iter()
            .map(|stream| {
                let (client, stream) = (client.clone(), stream.clone());
                let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
                let (count, retried) = (count.clone(), retried.clone());
                tokio::spawn(async move {
                    let mut next = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let id = Uuid::now_v7();
                        let event = EventData::json("Written", &serde_json::json!({ "n": next }))
                            .unwrap()
                            .with_id(id);
                        let expected = if next == 0 {
                            ExpectedVersion::NoStream
                        } else {
                            ExpectedVersion::Exact(next - 1)
                        };
                        loop {
                            match client.append(&stream, expected, vec![event.clone()]).await {
                                Ok(result) => {
                                    assert_eq!(
                                        result.first_revision, next,
                                        "{stream}: acknowledged at another revision"
                                    );
                                    break;
                                }
                                Err(e) if e.code() == ErrorCode::Unavailable => {
                                    retried.fetch_add(1, Ordering::Relaxed);
                                    tokio::time::sleep(Duration::from_millis(100)).await;
                                }
                                Err(e) => panic!("{stream}: append of revision {next} failed: {e}"),
                            }
                        }
                        acknowledged.lock().unwrap().entry(stream.clone()).or_default().push(id);
                        count.fetch_add(1, Ordering::Relaxed);
                        next += 1;
                    }
                })
            })
            .collect();
        Load { stop, acknowledged, count, retried, writers }
    }

    /// Appends acknowledged on the streams whose names start with `prefix`.
    fn acknowledged_on(&self, prefix: &str) -> usize {
        let acknowledged = self.acknowledged.lock().unwrap();
        acknowledged.iter().filter(|(stream, _)| stream.starts_with(prefix)).map(|(_, ids)| ids.len()).sum()
    }

    /// Waits until `more` appends on the streams starting with `prefix` past the current count
    /// are acknowledged, up to `within`; how long it took. A cluster that makes no progress fails
    /// the test rather than hang it.
    async fn progress(&self, prefix: &str, more: usize, within: Duration, what: &str) -> Duration {
        let (from, started) = (self.acknowledged_on(prefix), Instant::now());
        while self.acknowledged_on(prefix) < from + more {
            assert!(started.elapsed() < within, "{what}: fewer than {more} appends in {within:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        started.elapsed()
    }

    async fn stop(self) -> HashMap<String, Vec<Uuid>> {
        self.stop.store(true, Ordering::Relaxed);
        for writer in self.writers {
            writer.await.unwrap();
        }
        Arc::try_unwrap(self.acknowledged).unwrap().into_inner().unwrap()
    }
}

/// What a subscriber that resubscribes after every drop received.
struct Subscriber {
    /// Revisions of a stream, or positions of a log's `$all`.
    revisions: Arc<Mutex<Vec<u64>>>,
    drops: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Subscriber {
    /// Subscribes to `stream`, or with `None` to the `$all` of the client's node.
    fn start(client: &Client, stream: Option<&str>) -> Subscriber {
        let (revisions, drops, stop) = (
            Arc::<Mutex<Vec<u64>>>::default(),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let task = tokio::spawn({
            let (client, stream) = (client.clone(), stream.map(str::to_owned));
            let name = stream.clone().unwrap_or_else(|| "$all".to_owned());
            let (revisions, drops, stop) = (revisions.clone(), drops.clone(), stop.clone());
            async move {
                while !stop.load(Ordering::Relaxed) {
                    let last = revisions.lock().unwrap().last().copied();
                    let start = last.map_or(SubscriptionStart::Start, SubscriptionStart::After);
                    let options = SubscribeOptions { start, ..SubscribeOptions::from_start() };
                    let subscribed = match &stream {
                        Some(stream) => client.subscribe_to_stream(stream, options).await,
                        None => client.subscribe_to_all(options).await,
                    };
                    let mut subscription = match subscribed {
                        Ok(subscription) => subscription,
                        Err(e) if e.code() == ErrorCode::Unavailable => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                        Err(e) => panic!("subscribing to {name}: {e}"),
                    };
                    loop {
                        let next = tokio::select! {
                            next = subscription.next() => next,
                            () = tokio::time::sleep(Duration::from_millis(200)) => {
                                if stop.load(Ordering::Relaxed) { return } else { continue }
                            }
                        };
                        match next {
                            Some(Ok(SubscriptionMessage::Event(event))) => revisions
                                .lock()
                                .unwrap()
                                .push(if stream.is_some() { event.revision } else { event.position }),
                            Some(Ok(SubscriptionMessage::CaughtUp)) => {}
                            Some(Err(e)) => {
                                assert_eq!(e.code(), ErrorCode::Unavailable, "{name}: {e}");
                                drops.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            None => panic!("{name}: the subscription ended without saying why"),
                        }
                    }
                }
            }
        });
        Subscriber { revisions, drops, stop, task }
    }
}

/// A member of a consumer group that joins again after every drop, acknowledging each delivery.
struct GroupConsumer {
    /// Positions delivered (at least once: a delivery not settled when its node died comes
    /// again; one whose acknowledgement was stored but whose answer was lost with its node does
    /// not, so what counts is what the member received).
    received: Arc<Mutex<HashSet<u64>>>,
    deliveries: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl GroupConsumer {
    fn start(client: &Client, group: &str) -> GroupConsumer {
        let received = Arc::<Mutex<HashSet<u64>>>::default();
        let (deliveries, drops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (client, group) = (client.clone(), group.to_owned());
            let (received, deliveries, drops, stop) =
                (received.clone(), deliveries.clone(), drops.clone(), stop.clone());
            async move {
                while !stop.load(Ordering::Relaxed) {
                    let member = match client.join_group(&group, "worker").await {
                        Ok(member) => member,
                        Err(e) if e.code() == ErrorCode::Unavailable => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                        Err(e) => panic!("joining {group}: {e}"),
                    };
                    while !stop.load(Ordering::Relaxed) {
                        let next = tokio::select! {
                            next = member.next() => next,
                            () = tokio::time::sleep(Duration::from_millis(200)) => continue,
                        };
                        let settled = match next {
                            Ok(delivery) => {
                                deliveries.fetch_add(1, Ordering::Relaxed);
                                received.lock().unwrap().insert(delivery.event.position);
                                member.ack(std::slice::from_ref(&delivery)).await
                            }
                            Err(e) => Err(e),
                        };
                        match settled {
                            Ok(()) => {}
                            Err(e) => {
                                assert_eq!(e.code(), ErrorCode::Unavailable, "{group}: {e}");
                                drops.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                        }
                    }
                }
            }
        });
        GroupConsumer { received, deliveries, drops, stop, task }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_members_streams_move_to_the_next_member_and_come_back() {
    let cassandra = tokio::task::block_in_place(Cassandra::start);
    let options = common::on_cassandra(&cassandra.contact(), "gy_failover");
    let mut cluster = TestCluster::start(3, options).await;
    // A request to a frozen member times out (UNAVAILABLE) and is tried on another.
    let mut options = ClientOptions::default();
    options.transport.request_timeout = Some(Duration::from_secs(3));
    let client = Client::connect_with(cluster.endpoints().split(','), options).await.unwrap();
    // Streams of n1 (the member killed) and of n3 (a member that stays), four each.
    let mut streams = Vec::new();
    for owner in ["n1", "n3"] {
        streams.extend(
            (0..).map(|i| format!("{owner}-account-{i}")).filter(|s| client.owner(s).id == owner).take(4),
        );
    }
    let load = Load::start(&client, &streams);
    let subscriber = Subscriber::start(&client, Some(&streams[0]));
    // n1's $all, through a client whose home is n1: served by whoever serves n1's log.
    let on_n1 = client.on_node("n1").unwrap();
    let all_subscriber = Subscriber::start(&on_n1, None);
    // A consumer group on n1's $all, its cursor and deliveries in n1's log in Cassandra.
    let settings = GroupSettings::default();
    on_n1
        .create_group("n1-all", GroupTarget::All(Filter::default()), SubscriptionStart::Start, settings)
        .await
        .unwrap();
    let consumer = GroupConsumer::start(&on_n1, "n1-all");
    load.progress("n1-", 50, Duration::from_secs(60), "before any fault").await;
    load.progress("n3-", 50, Duration::from_secs(60), "before any fault").await;

    // 1. n1 dies: its streams are served by n2 from n1's log.
    cluster.node("n1").kill();
    let took = load.progress("n1-", 100, Duration::from_secs(60), "n1's streams with n1 dead").await;
    eprintln!("100 appends on n1's streams acknowledged {took:?} after n1 was killed");
    let n2 = health(&mut cluster, "n2").await;
    assert_eq!(n2.serving_for, vec!["n1".to_owned()], "n2 serves n1's log");
    // n1's $all, its head and its listings go on too, in n1's positions, served by n2.
    let head = on_n1.head_position().await.unwrap();
    let all = on_n1.read_all(ReadAllOptions::forwards()).await.unwrap();
    assert_eq!(all.len() as u64, head, "n1's $all read with n1 dead is gapless up to its head");
    assert!(all.iter().enumerate().all(|(i, e)| e.position == i as u64));
    assert!(all.iter().all(|e| client.owner(&e.stream).id == "n1"), "only n1's log");
    let listed = on_n1.list_streams(&ListStreamsOptions::new(100)).await.unwrap();
    let n1_streams = streams.iter().filter(|s| client.owner(s).id == "n1").count();
    assert_eq!(listed.iter().filter(|s| s.name.starts_with("n1-")).count(), n1_streams);

    // 2. Cassandra dies and comes back: appends fail meanwhile and go on by themselves after.
    tokio::task::block_in_place(|| cassandra.kill());
    let killed = load.count.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = load.count.load(Ordering::Relaxed);
    eprintln!(
        "{} appends acknowledged in the 2 s after Cassandra was killed (answers in flight)",
        before - killed
    );
    tokio::task::block_in_place(|| cassandra.restart());
    let took =
        load.progress("n1-", 100, Duration::from_secs(120), "n1's streams after Cassandra restarted").await;
    load.progress("n3-", 100, Duration::from_secs(60), "n3's streams after Cassandra restarted").await;
    eprintln!(
        "100 appends on n1's streams acknowledged {took:?} after Cassandra's restart ({} in all)",
        load.count.load(Ordering::Relaxed) - before
    );

    // 3. n1 comes back and takes its streams back once n2 has seen it.
    cluster.node("n1").restart().await;
    let started = Instant::now();
    loop {
        let served_by_n2 = health(&mut cluster, "n2").await.serving_for;
        if served_by_n2.is_empty() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "n2 still serves {served_by_n2:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    load.progress("n1-", 100, Duration::from_secs(60), "n1's streams with n1 back").await;

    // 4. n3 freezes; n1 (the member after it, wrapping round) takes its log over.
    let n3 = cluster.node("n3").child.id().to_string();
    signal("STOP", &n3);
    let started = Instant::now();
    while !health(&mut cluster, "n1").await.serving_for.contains(&"n3".to_owned()) {
        assert!(started.elapsed() < Duration::from_secs(60), "n1 never took n3's log over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    load.progress("n3-", 50, Duration::from_secs(60), "n3's streams with n3 frozen").await;
    signal("CONT", &n3);
    let started = Instant::now();
    while !health(&mut cluster, "n1").await.serving_for.is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60), "n1 never handed n3's log back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    load.progress("n3-", 100, Duration::from_secs(60), "n3's streams with n3 awake").await;
    let retried = load.retried.load(Ordering::Relaxed);
    let acknowledged = load.stop().await;
    eprintln!(
        "{} appends acknowledged, {retried} attempts failed with UNAVAILABLE and were tried again",
        acknowledged.values().map(Vec::len).sum::<usize>()
    );

    // The subscriber got every revision of its stream once, in order, across its drops (the
    // kill of n1, and n2 handing the log back).
    let last = acknowledged[&streams[0]].len() as u64 - 1;
    let started = Instant::now();
    while subscriber.revisions.lock().unwrap().last() != Some(&last) {
        assert!(started.elapsed() < Duration::from_secs(60), "the subscriber never got revision {last}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    subscriber.stop.store(true, Ordering::Relaxed);
    subscriber.task.await.unwrap();
    let received = subscriber.revisions.lock().unwrap().clone();
    assert_eq!(received, (0..=last).collect::<Vec<_>>(), "every revision once, in order");
    let drops = subscriber.drops.load(Ordering::Relaxed);
    eprintln!("the subscriber got {} revisions across {drops} drops", received.len());
    assert!(drops >= 2, "the subscriber was told of the kill and of the handback ({drops} drops)");

    // The subscriber to n1's $all got every position of n1's log once, in order, across the
    // same moves.
    let head = on_n1.head_position().await.unwrap();
    let started = Instant::now();
    while all_subscriber.revisions.lock().unwrap().last() != Some(&(head - 1)) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the $all subscriber never got position {}",
            head - 1
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    all_subscriber.stop.store(true, Ordering::Relaxed);
    all_subscriber.task.await.unwrap();
    let received = all_subscriber.revisions.lock().unwrap().clone();
    assert_eq!(received, (0..head).collect::<Vec<_>>(), "every position of n1's log once, in order");
    let drops = all_subscriber.drops.load(Ordering::Relaxed);
    eprintln!("the $all subscriber got {} positions across {drops} drops", received.len());
    assert!(drops >= 2, "the $all subscriber was told of the kill and of the handback ({drops} drops)");

    // The group on n1's $all went on through the kill (served by n2 from n1's log) and the
    // handback: every position delivered, at least once.
    let started = Instant::now();
    while consumer.received.lock().unwrap().len() as u64 != head {
        let missing = head - consumer.received.lock().unwrap().len() as u64;
        assert!(started.elapsed() < Duration::from_secs(60), "the group never delivered {missing} positions");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    consumer.stop.store(true, Ordering::Relaxed);
    consumer.task.await.unwrap();
    assert!(consumer.received.lock().unwrap().iter().all(|p| *p < head));
    let (deliveries, drops) =
        (consumer.deliveries.load(Ordering::Relaxed), consumer.drops.load(Ordering::Relaxed));
    eprintln!(
        "the group on n1's $all delivered {head} positions in {deliveries} deliveries across {drops} drops"
    );
    assert!(drops >= 2, "the group's member was told of the kill and of the handback ({drops} drops)");

    // Exactly once, in order, through every member (each forwards to the one serving the log),
    // and from n1 itself, which now holds what n2 wrote for it.
    for node in ["n1", "n2", "n3"] {
        let mut through = cluster.node(node).client().await;
        for (stream, ids) in &acknowledged {
            let events = common::read_stream(&mut through, stream).await.unwrap();
            let read: Vec<(u64, Vec<u8>)> = events.iter().map(|e| (e.revision, e.id.clone())).collect();
            let expected: Vec<(u64, Vec<u8>)> =
                ids.iter().enumerate().map(|(i, id)| (i as u64, id.as_bytes().to_vec())).collect();
            assert_eq!(read, expected, "{stream} read through {node}");
        }
    }
}

fn signal(signal: &str, pid: &str) {
    let status = std::process::Command::new("kill").args([&format!("-{signal}"), pid]).status().unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

async fn health(cluster: &mut TestCluster, node: &str) -> pb::HealthResponse {
    let mut client = cluster.node(node).client().await;
    client.health(pb::HealthRequest {}).await.unwrap().into_inner()
}
