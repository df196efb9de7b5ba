//! The façade (`graveyard::Store`) over an embedded store: both forms of the operations, and the
//! sessions' promises (timeouts, a cancel from another thread, settling by id from a shared
//! reference, through any member of the group). The same promises over a cluster are tested in
//! server/tests/store.rs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use graveyard::runtime::Next;
use graveyard::{
    Durability, ErrorCode, EventData, ExpectedVersion, GroupSettings, GroupTarget, NackAction, Options, ReadOptions,
    Store, SubscribeOptions, SubscriptionMessage, SubscriptionStart,
};

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(Options::new(dir.path()).durability(Durability::NoFsyncUnsafe)).unwrap();
    (dir, store)
}

fn event(n: u64) -> EventData {
    EventData::json("Job", &serde_json::json!({ "n": n })).unwrap()
}

const LONG: Option<Duration> = Some(Duration::from_secs(10));

#[test]
fn async_and_blocking_forms_see_the_same_store() {
    let (_dir, store) = open();
    let first = store.append_blocking("s", ExpectedVersion::NoStream, vec![event(0)]).unwrap();
    let second = graveyard::runtime::block_on_shared(store.append("s", ExpectedVersion::Exact(0), vec![event(1)])).unwrap();
    assert_eq!((first.last_revision, second.last_revision), (0, 1));
    let events = graveyard::runtime::block_on_shared(store.read_stream("s", ReadOptions::forwards())).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(store.head_position_blocking().unwrap(), 2);
    assert!(store.is_embedded() && store.db().is_some());
    assert!(!store.is_encrypted().unwrap());
    assert_eq!(store.on_node("n1").unwrap_err().code(), ErrorCode::Unsupported);
    store.close();
    assert_eq!(store.head_position_blocking().unwrap_err().code(), ErrorCode::Closed);
}

#[test]
fn a_subscription_times_out_then_delivers_and_a_cancel_from_another_thread_ends_its_wait() {
    let (_dir, store) = open();
    store.append_blocking("s", ExpectedVersion::Any, vec![event(0)]).unwrap();
    let subscription = Arc::new(store.subscribe_to_stream_blocking("s", SubscribeOptions::from_start()).unwrap());
    assert!(matches!(subscription.next_blocking(LONG).unwrap(), Next::Item(SubscriptionMessage::Event(e)) if e.revision == 0));
    assert_eq!(subscription.next_blocking(LONG).unwrap(), Next::Item(SubscriptionMessage::CaughtUp));
    assert_eq!(subscription.next_blocking(Some(Duration::from_millis(50))).unwrap(), Next::Timeout);
    store.append_blocking("s", ExpectedVersion::Any, vec![event(1)]).unwrap();
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
    assert!(waited < Duration::from_secs(10), "the cancel woke the wait");
    // For good: later calls end at once, even with an event waiting.
    store.append_blocking("s", ExpectedVersion::Any, vec![event(2)]).unwrap();
    assert_eq!(subscription.next_blocking(None).unwrap(), Next::Ended);
}

#[test]
fn members_settle_by_id_while_another_thread_waits_and_through_any_member_of_the_group() {
    let (_dir, store) = open();
    let settings = GroupSettings { ack_timeout: Duration::from_secs(60), ..GroupSettings::default() };
    store.create_group_blocking("g", GroupTarget::Stream("jobs".into()), SubscriptionStart::Start, settings).unwrap();
    store.append_blocking("jobs", ExpectedVersion::Any, (0..4).map(event).collect()).unwrap();
    let first = Arc::new(store.join_group_blocking("g", "first").unwrap());
    let second = store.join_group_blocking("g", "second").unwrap();

    let one = match first.next_blocking(LONG).unwrap() {
        Next::Item(d) => d,
        other => panic!("expected a delivery, got {other:?}"),
    };
    assert_eq!((one.id, one.attempt, one.parked_revision), (0, 1, None), "ids are the events' positions");

    // `first` waits in another thread while the delivery it got is acked through `second`.
    let taken: Vec<_> = (0..3)
        .map(|_| match first.next_blocking(LONG).unwrap() {
            Next::Item(d) => d,
            other => panic!("expected a delivery, got {other:?}"),
        })
        .collect();
    let waiter = {
        let first = first.clone();
        std::thread::spawn(move || first.next_blocking(LONG))
    };
    second.ack_blocking(&[one.id]).unwrap();
    // A late or repeated settle of a settled delivery is harmless; an id never handed out is not.
    second.ack_blocking(&[one.id]).unwrap();
    let error = second.ack_blocking(&[999]).unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidArgument);
    assert!(error.to_string().contains("delivery 999"), "{error}");

    // Retry: the same id comes back with the next attempt, to the member that waits.
    first.nack_blocking(&[taken[0].id], NackAction::Retry).unwrap();
    let again = match waiter.join().unwrap().unwrap() {
        Next::Item(d) => d,
        other => panic!("expected the redelivery, got {other:?}"),
    };
    assert_eq!((again.id, again.attempt), (taken[0].id, 2));
    first.ack_blocking(&[again.id]).unwrap();
    first.nack_blocking(&[taken[1].id], NackAction::Skip).unwrap();
    first.nack_blocking(&[taken[2].id], NackAction::Park).unwrap();
    let info = store.group_info_blocking("g").unwrap();
    assert_eq!((info.checkpoint, info.in_flight, info.parked), (4, 0, 1));

    // A replayed parked event has an id of its own and names its copy.
    store.replay_parked_blocking("g", None).unwrap();
    let replayed = match second.next_blocking(LONG).unwrap() {
        Next::Item(d) => d,
        other => panic!("expected the replay, got {other:?}"),
    };
    assert_eq!((replayed.parked_revision, replayed.event.revision), (Some(0), 3));
    assert_ne!(replayed.id, taken[2].id);
    graveyard::runtime::block_on_shared(second.ack(&[replayed.id])).unwrap();
    assert_eq!(store.group_info_blocking("g").unwrap().replaying, 0);

    // Cancel ends a member's waits, for good.
    second.cancel();
    assert_eq!(second.next_blocking(None).unwrap(), Next::Ended);
}

#[test]
fn the_async_forms_run_on_a_current_thread_runtime_too() {
    let (_dir, store) = open();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        store.append("s", ExpectedVersion::NoStream, vec![event(0)]).await.unwrap();
        store.set_stream_metadata("s", graveyard::StreamMetadata { max_count: Some(1), ..Default::default() }).await.unwrap();
        let subscription = store.subscribe_to_all(SubscribeOptions::from_start()).await.unwrap();
        assert!(matches!(subscription.next(LONG).await.unwrap(), Next::Item(SubscriptionMessage::Event(_))));
        assert_eq!(store.stream_info("s").await.unwrap().metadata.max_count, Some(1));
    });
}
