//! Catch-up subscriptions: exact sequences across the history/live switch under a concurrent
//! writer, flat memory for a consumer that stops reading, and no silent stops.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use graveyard::{
    Db, Durability, ErrorCode, EventData, ExpectedVersion, Filter, Options, SubscribeOptions, Subscription,
    SubscriptionMessage,
};

const WAIT: Duration = Duration::from_secs(120);

fn open(dir: &std::path::Path) -> Db {
    Db::open_with(Options::new(dir).durability(Durability::NoFsyncUnsafe)).unwrap()
}

fn ev(n: u64) -> EventData {
    EventData::json("Tested", &serde_json::json!({ "n": n })).unwrap()
}

/// Reads events until `want` have arrived; returns (stream, revision, position) of each and
/// how many CaughtUp messages came.
fn collect(mut sub: Subscription, want: usize) -> (Vec<(String, u64, u64)>, usize) {
    let mut seen = Vec::with_capacity(want);
    let mut caught_up = 0;
    while seen.len() < want {
        match sub.next_blocking() {
            Some(Ok(SubscriptionMessage::Event(e))) => seen.push((e.stream, e.revision, e.position)),
            Some(Ok(SubscriptionMessage::CaughtUp)) => caught_up += 1,
            Some(Err(e)) => panic!("subscription failed after {} events: {e}", seen.len()),
            None => panic!("subscription ended after {} events", seen.len()),
        }
        assert!(sub.buffered() <= 64, "a subscription held {} events", sub.buffered());
    }
    (seen, caught_up)
}

#[test]
fn subscribers_started_at_different_points_see_exact_sequences_under_a_concurrent_writer() {
    const TOTAL: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    // A little history before anyone subscribes.
    db.append("orders-1", ExpectedVersion::NoStream, (0..10).map(ev).collect()).unwrap();

    let (done_tx, done_rx) = mpsc::channel();
    let spawn = |name: &'static str, sub: Subscription, want: usize| {
        let done = done_tx.clone();
        std::thread::spawn(move || {
            let result = collect(sub, want);
            done.send((name, result)).unwrap();
        })
    };
    let page = |o: SubscribeOptions| o.page_size(64);

    // The writer: appends of 1..=7 events over 4 streams, two of them under "orders-".
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || {
            let streams = ["orders-1", "orders-2", "users-1", "users-2"];
            let mut written = 10u64;
            let mut i = 0u64;
            while written < TOTAL {
                let size = (i % 7 + 1).min(TOTAL - written);
                db.append(streams[(i % 4) as usize], ExpectedVersion::Any, (0..size).map(ev).collect())
                    .unwrap();
                written += size;
                i += 1;
            }
        })
    };

    spawn(
        "all from start",
        db.subscribe_to_all(page(SubscribeOptions::from_start())).unwrap(),
        TOTAL as usize,
    );
    spawn(
        "all after 29999",
        db.subscribe_to_all(page(SubscribeOptions::after(29_999))).unwrap(),
        (TOTAL - 30_000) as usize,
    );
    let orders =
        db.subscribe_to_all(page(SubscribeOptions::from_start()).filter(Filter::stream_prefix("orders-")));
    let stream = db.subscribe_to_stream("orders-1", page(SubscribeOptions::from_start())).unwrap();
    // Live-only, created while the writer runs.
    while db.head_position().unwrap() < TOTAL / 2 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let before = db.head_position().unwrap();
    let live = db.subscribe_to_all(page(SubscribeOptions::from_end())).unwrap();
    let after = db.head_position().unwrap();
    writer.join().unwrap();
    let all = db.read_all(graveyard::ReadAllOptions::forwards()).unwrap();
    assert_eq!(all.len() as u64, TOTAL);
    let orders_want: Vec<_> = all.iter().filter(|e| e.stream.starts_with("orders-")).collect();
    let stream_want: Vec<_> = all.iter().filter(|e| e.stream == "orders-1").collect();
    spawn("orders filter", orders.unwrap(), orders_want.len());
    spawn("orders-1 stream", stream, stream_want.len());

    let mut results = std::collections::HashMap::new();
    for _ in 0..4 {
        let (name, result) = done_rx.recv_timeout(WAIT).expect("a subscriber stalled");
        results.insert(name, result);
    }
    let positions = |r: &(Vec<(String, u64, u64)>, usize)| r.0.iter().map(|e| e.2).collect::<Vec<_>>();
    assert_eq!(positions(&results["all from start"]), (0..TOTAL).collect::<Vec<_>>());
    assert_eq!(positions(&results["all after 29999"]), (30_000..TOTAL).collect::<Vec<_>>());
    assert_eq!(
        positions(&results["orders filter"]),
        orders_want.iter().map(|e| e.position).collect::<Vec<_>>()
    );
    let stream_seen = &results["orders-1 stream"].0;
    assert_eq!(
        stream_seen.iter().map(|e| e.1).collect::<Vec<_>>(),
        (0..stream_want.len() as u64).collect::<Vec<_>>()
    );
    assert_eq!(
        stream_seen.iter().map(|e| e.2).collect::<Vec<_>>(),
        stream_want.iter().map(|e| e.position).collect::<Vec<_>>()
    );
    for (name, (_, caught_up)) in &results {
        assert!(*caught_up <= 1, "{name}: CaughtUp sent {caught_up} times");
    }

    // The live subscriber saw no history: it starts at the head of the moment it was created
    // (between the two reads of the head around its creation), then every event in order.
    let mut live = live;
    let mut seen = Vec::new();
    while seen.last() != Some(&(TOTAL - 1)) {
        match live.next_blocking().expect("live subscription ended").unwrap() {
            SubscriptionMessage::Event(e) => seen.push(e.position),
            SubscriptionMessage::CaughtUp => {}
        }
    }
    let first = seen[0];
    assert!(before <= first && first <= after, "live start {first} outside {before}..={after}");
    assert_eq!(seen, (first..TOTAL).collect::<Vec<_>>());
}

#[test]
fn a_live_subscription_receives_only_later_events_and_signals_caught_up_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.append("s", ExpectedVersion::Any, (0..5).map(ev).collect()).unwrap();
    let mut sub = db.subscribe_to_all(SubscribeOptions::from_end()).unwrap();
    assert_eq!(sub.next_blocking().unwrap().unwrap(), SubscriptionMessage::CaughtUp);
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            db.append("s", ExpectedVersion::Exact(4), vec![ev(5)]).unwrap();
        })
    };
    match sub.next_blocking().unwrap().unwrap() {
        SubscriptionMessage::Event(e) => assert_eq!((e.position, e.revision), (5, 5)),
        other => panic!("{other:?}"),
    }
    writer.join().unwrap();
}

#[test]
fn a_consumer_that_stops_reading_holds_at_most_one_page() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let mut sub = db.subscribe_to_all(SubscribeOptions::from_start().page_size(100)).unwrap();
    for i in 0..200 {
        db.append("s", ExpectedVersion::Any, (0..100).map(|j| ev(i * 100 + j)).collect()).unwrap();
    }
    // 20,000 events behind: the subscription has read nothing it was not asked for...
    assert_eq!(sub.buffered(), 0);
    sub.next_blocking().unwrap().unwrap();
    // ...and after one message it holds the rest of one page, not the backlog.
    assert_eq!(sub.buffered(), 99);
    let mut count = 1;
    while count < 20_000 {
        if let SubscriptionMessage::Event(_) = sub.next_blocking().unwrap().unwrap() {
            count += 1;
        }
        assert!(sub.buffered() < 100);
    }
}

#[test]
fn a_stream_subscription_waits_for_a_stream_that_does_not_exist_yet() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let mut sub = db.subscribe_to_stream("later", SubscribeOptions::from_start()).unwrap();
    assert_eq!(sub.next_blocking().unwrap().unwrap(), SubscriptionMessage::CaughtUp);
    db.append("other", ExpectedVersion::Any, vec![ev(0)]).unwrap();
    db.append("later", ExpectedVersion::NoStream, vec![ev(1), ev(2)]).unwrap();
    for revision in 0..2 {
        match sub.next_blocking().unwrap().unwrap() {
            SubscriptionMessage::Event(e) => assert_eq!((e.stream.as_str(), e.revision), ("later", revision)),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn failures_end_a_subscription_with_an_error_never_silently() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.append("doomed", ExpectedVersion::Any, vec![ev(0)]).unwrap();
    let mut stream_sub = db.subscribe_to_stream("doomed", SubscribeOptions::from_start()).unwrap();
    assert!(matches!(stream_sub.next_blocking(), Some(Ok(SubscriptionMessage::Event(_)))));
    assert_eq!(stream_sub.next_blocking().unwrap().unwrap(), SubscriptionMessage::CaughtUp);
    db.tombstone_stream("doomed", ExpectedVersion::Any).unwrap();
    db.append("wake", ExpectedVersion::Any, vec![ev(1)]).unwrap();
    assert_eq!(stream_sub.next_blocking().unwrap().unwrap_err().code(), ErrorCode::StreamDeleted);
    assert!(stream_sub.next_blocking().is_none());

    let mut all_sub = db.subscribe_to_all(SubscribeOptions::from_end()).unwrap();
    assert_eq!(all_sub.next_blocking().unwrap().unwrap(), SubscriptionMessage::CaughtUp);
    let closer = {
        let db = db.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            db.close();
        })
    };
    // Waiting for live events when the store closes: told, not left hanging.
    assert_eq!(all_sub.next_blocking().unwrap().unwrap_err().code(), ErrorCode::Closed);
    assert!(all_sub.next_blocking().is_none());
    closer.join().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let mut sub = db.subscribe_to_all(SubscribeOptions::from_start()).unwrap();
    sub.close();
    assert!(sub.next_blocking().is_none());
    assert_eq!(
        db.subscribe_to_all(SubscribeOptions::from_start().page_size(0)).err().unwrap().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        db.subscribe_to_stream("", SubscribeOptions::from_start()).err().unwrap().code(),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn a_subscription_is_a_stream() {
    use futures_util::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.append("s", ExpectedVersion::Any, (0..3).map(ev).collect()).unwrap();
    let stream = db.subscribe_to_stream("s", SubscribeOptions::from_start()).unwrap().into_stream();
    let messages: Vec<SubscriptionMessage> =
        common::block_on(stream.take(4).map(|m| m.unwrap()).collect::<Vec<_>>());
    let revisions: Vec<u64> = messages
        .iter()
        .filter_map(|m| match m {
            SubscriptionMessage::Event(e) => Some(e.revision),
            SubscriptionMessage::CaughtUp => None,
        })
        .collect();
    assert_eq!(revisions, [0, 1, 2]);
    assert_eq!(messages[3], SubscriptionMessage::CaughtUp);
    // A stream of a closed store ends with the error, then ends.
    let mut stream = Box::pin(db.subscribe_to_all(SubscribeOptions::from_end()).unwrap().into_stream());
    assert_eq!(common::block_on(stream.next()).unwrap().unwrap(), SubscriptionMessage::CaughtUp);
    db.close();
    assert_eq!(common::block_on(stream.next()).unwrap().unwrap_err().code(), ErrorCode::Closed);
    assert!(common::block_on(stream.next()).is_none());
}
