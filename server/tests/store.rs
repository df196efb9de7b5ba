//! The façade (`graveyard::Store`) over a real node: the same session promises as over an
//! embedded store (core/tests/store.rs), through the cluster client and the wire. Blocking
//! calls from plain threads, as a binding makes them.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Node;
use graveyard::runtime::Next;
use graveyard::{
    ClientOptions, ErrorCode, EventData, ExpectedVersion, GroupSettings, GroupTarget, NackAction, Store,
    SubscribeOptions, SubscriptionMessage, SubscriptionStart,
};

const LONG: Option<Duration> = Some(Duration::from_secs(10));

fn event(n: u64) -> EventData {
    EventData::json("Job", &serde_json::json!({ "n": n })).unwrap()
}

fn start_node() -> (tokio::runtime::Runtime, Node) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let node = runtime.block_on(Node::start());
    (runtime, node)
}

#[test]
fn sessions_through_a_node_time_out_cancel_and_settle_by_id_from_any_thread() {
    let (_runtime, node) = start_node();
    let store = Store::connect_blocking(&[node.url()], ClientOptions::default()).unwrap();
    assert!(!store.is_embedded());
    assert_eq!(store.is_encrypted().unwrap_err().code(), ErrorCode::Unsupported);

    // A subscription: history, the marker, a timeout, a live event, a cancel from another thread.
    store.append_blocking("s", ExpectedVersion::NoStream, vec![event(0)]).unwrap();
    let subscription =
        Arc::new(store.subscribe_to_stream_blocking("s", SubscribeOptions::from_start().page_size(1)).unwrap());
    assert!(matches!(subscription.next_blocking(LONG).unwrap(), Next::Item(SubscriptionMessage::Event(e)) if e.revision == 0));
    assert_eq!(subscription.next_blocking(LONG).unwrap(), Next::Item(SubscriptionMessage::CaughtUp));
    assert_eq!(subscription.next_blocking(Some(Duration::from_millis(100))).unwrap(), Next::Timeout);
    store.append_blocking("s", ExpectedVersion::Exact(0), vec![event(1)]).unwrap();
    assert!(matches!(subscription.next_blocking(LONG).unwrap(), Next::Item(SubscriptionMessage::Event(e)) if e.revision == 1));
    let waiting = {
        let subscription = subscription.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            (subscription.next_blocking(None), started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    subscription.cancel();
    let (next, waited) = waiting.join().unwrap();
    assert_eq!(next.unwrap(), Next::Ended);
    assert!(waited < Duration::from_secs(10));

    // A group: deliveries settled by id while another thread waits, through the other member.
    let settings = GroupSettings { ack_timeout: Duration::from_secs(60), ..GroupSettings::default() };
    store.create_group_blocking("g", GroupTarget::Stream("jobs".into()), SubscriptionStart::Start, settings).unwrap();
    store.append_blocking("jobs", ExpectedVersion::Any, (0..3).map(event).collect()).unwrap();
    let first = Arc::new(store.join_group_blocking("g", "first").unwrap());
    let second = store.join_group_blocking("g", "second").unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        match first.next_blocking(LONG).unwrap() {
            Next::Item(d) => got.push(d),
            other => panic!("expected a delivery, got {other:?}"),
        }
    }
    let short = Some(Duration::from_secs(3));
    let waiter = {
        let first = first.clone();
        std::thread::spawn(move || first.next_blocking(short))
    };
    // Settled through another session of the group on the same node, while `first` waits.
    second.ack_blocking(&[got[0].id]).unwrap();
    first.nack_blocking(&[got[1].id], NackAction::Retry).unwrap();
    // The node hands the retry to whichever session asks next: one of the two gets it.
    let (mine, theirs) = (waiter.join().unwrap().unwrap(), second.next_blocking(short).unwrap());
    let again = match (mine, theirs) {
        (Next::Item(d), Next::Timeout) | (Next::Timeout, Next::Item(d)) => d,
        other => panic!("expected one redelivery, got {other:?}"),
    };
    assert_eq!((again.id, again.attempt), (got[1].id, 2));
    first.ack_blocking(&[again.id]).unwrap();
    first.nack_blocking(&[got[2].id], NackAction::Park).unwrap();
    store.replay_parked_blocking("g", None).unwrap();
    // Either session may get the replay: ask both, in turn, for a while.
    let deadline = Instant::now() + Duration::from_secs(10);
    let replayed = loop {
        assert!(Instant::now() < deadline, "the replayed event never came");
        match second.next_blocking(Some(Duration::from_millis(200))).unwrap() {
            Next::Item(d) => break d,
            Next::Timeout => {}
            Next::Ended => panic!("the member ended"),
        }
        if let Next::Item(d) = first.next_blocking(Some(Duration::from_millis(200))).unwrap() {
            break d;
        }
    };
    assert_eq!((replayed.parked_revision, replayed.event.revision), (Some(0), 2));
    second.ack_blocking(&[replayed.id]).unwrap();
    let info = store.group_info_blocking("g").unwrap();
    assert_eq!((info.checkpoint, info.in_flight, info.parked, info.replaying), (3, 0, 0, 0));

    // An id never handed out ends that member's session with INVALID_ARGUMENT, as on the wire.
    let error = second.ack_blocking(&[999]).unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidArgument, "{error}");
    first.cancel();
    assert_eq!(first.next_blocking(None).unwrap(), Next::Ended);
    store.close();
    assert_eq!(store.head_position_blocking().unwrap_err().code(), ErrorCode::Closed);
}
