//! The session promises of the façade, written once and run over both faces: over an embedded
//! store by core/tests/store.rs, over a real node by server/tests/store.rs. Blocking calls from
//! plain threads, as a binding makes them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use graveyard::runtime::Next;
use graveyard::{
    ErrorCode, EventData, ExpectedVersion, GroupSettings, GroupTarget, NackAction, Store, StoreDelivery,
    StoreMember, SubscribeOptions, SubscriptionMessage, SubscriptionStart,
};

pub const LONG: Option<Duration> = Some(Duration::from_secs(10));

pub fn event(n: u64) -> EventData {
    EventData::json("Job", &serde_json::json!({ "n": n })).unwrap()
}

fn delivery(next: graveyard::Result<Next<StoreDelivery>>) -> StoreDelivery {
    match next.unwrap() {
        Next::Item(d) => d,
        other => panic!("expected a delivery, got {other:?}"),
    }
}

/// The one delivery that `first` (waiting in another thread) or `second` gets: a node pushes
/// work to whichever session asks, an embedded group to whichever member asks.
fn from_either(first: &Arc<StoreMember>, second: &StoreMember) -> StoreDelivery {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "the delivery never came");
        for member in [&**first, second] {
            if let Next::Item(d) = member.next_blocking(Some(Duration::from_millis(200))).unwrap() {
                return d;
            }
        }
    }
}

/// History, the caught-up marker, a timeout that is not an error, a live event, and a cancel
/// from another thread that ends a waiting `next` and every later one.
pub fn subscriptions_time_out_and_cancel(store: &Store) {
    store.append_blocking("s", ExpectedVersion::NoStream, vec![event(0)]).unwrap();
    let options = SubscribeOptions::from_start().page_size(1);
    let subscription = Arc::new(store.subscribe_to_stream_blocking("s", options).unwrap());
    let is_event = |next: Next<SubscriptionMessage>, revision: u64| matches!(next, Next::Item(SubscriptionMessage::Event(e)) if e.revision == revision);
    assert!(is_event(subscription.next_blocking(LONG).unwrap(), 0));
    assert_eq!(subscription.next_blocking(LONG).unwrap(), Next::Item(SubscriptionMessage::CaughtUp));
    assert_eq!(subscription.next_blocking(Some(Duration::from_millis(100))).unwrap(), Next::Timeout);
    store.append_blocking("s", ExpectedVersion::Exact(0), vec![event(1)]).unwrap();
    assert!(is_event(subscription.next_blocking(LONG).unwrap(), 1));

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
    store.append_blocking("s", ExpectedVersion::Any, vec![event(2)]).unwrap();
    assert_eq!(subscription.next_blocking(None).unwrap(), Next::Ended, "cancelled for good");
}

/// Deliveries are settled by id from a shared reference while another thread waits in `next`,
/// through any member of the group; retries keep their id; replays name their parked copy;
/// settling twice is harmless and an id never handed out is INVALID_ARGUMENT.
pub fn members_settle_by_id_from_any_thread(store: &Store) {
    let settings = GroupSettings { ack_timeout: Duration::from_secs(60), ..GroupSettings::default() };
    store
        .create_group_blocking("g", GroupTarget::Stream("jobs".into()), SubscriptionStart::Start, settings)
        .unwrap();
    store.append_blocking("jobs", ExpectedVersion::Any, (0..4).map(event).collect()).unwrap();
    let first = Arc::new(store.join_group_blocking("g", "first").unwrap());
    let second = store.join_group_blocking("g", "second").unwrap();
    let got: Vec<StoreDelivery> = (0..4).map(|_| delivery(first.next_blocking(LONG))).collect();
    let positions: Vec<u64> = got.iter().map(|d| d.event.position).collect();
    assert_eq!(got.iter().map(|d| d.id).collect::<Vec<_>>(), positions, "ids are the events' positions");
    assert!(got.iter().all(|d| d.attempt == 1 && d.parked_revision.is_none()));

    // `first` waits in another thread while its delivery is acked through `second`.
    let waiter = {
        let first = first.clone();
        std::thread::spawn(move || first.next_blocking(Some(Duration::from_secs(3))))
    };
    second.ack_blocking(&[got[0].id]).unwrap();
    second.ack_blocking(&[got[0].id]).unwrap();
    first.nack_blocking(&[got[1].id], NackAction::Retry).unwrap();
    let again = match (
        waiter.join().unwrap().unwrap(),
        second.next_blocking(Some(Duration::from_secs(3))).unwrap(),
    ) {
        (Next::Item(d), Next::Timeout) | (Next::Timeout, Next::Item(d)) => d,
        other => panic!("expected one redelivery, got {other:?}"),
    };
    assert_eq!((again.id, again.attempt), (got[1].id, 2), "a redelivery keeps its id");
    first.ack_blocking(&[again.id]).unwrap();
    first.nack_blocking(&[got[2].id], NackAction::Skip).unwrap();
    first.nack_blocking(&[got[3].id], NackAction::Park).unwrap();
    let info = store.group_info_blocking("g").unwrap();
    assert_eq!((info.checkpoint, info.in_flight, info.parked), (4, 0, 1));

    store.replay_parked_blocking("g", None).unwrap();
    let replayed = from_either(&first, &second);
    assert_eq!((replayed.parked_revision, replayed.event.revision, replayed.attempt), (Some(0), 3, 1));
    assert_ne!(replayed.id, got[3].id, "a replayed parked event has an id of its own");
    graveyard::runtime::block_on_shared(second.ack(&[replayed.id])).unwrap();
    let info = store.group_info_blocking("g").unwrap();
    assert_eq!((info.parked, info.replaying, info.in_flight), (0, 0, 0));

    first.cancel();
    assert_eq!(first.next_blocking(None).unwrap(), Next::Ended, "cancelled for good");
    let error = second.ack_blocking(&[999]).unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidArgument);
    assert!(error.to_string().contains("delivery 999"), "{error}");
}

/// Stream listings: prefix, paging by cursor, states, and the limits refused.
pub fn streams_are_listed_by_prefix_in_pages(store: &Store) {
    use graveyard::{ListStreamsOptions, StreamMetadata};
    for name in ["order-2", "order-1", "user-1", "order-3", "orders"] {
        store.append_blocking(name, ExpectedVersion::Any, vec![event(1), event(2)]).unwrap();
    }
    store.set_stream_metadata_blocking("order-4", StreamMetadata::default()).unwrap();
    store.delete_stream_blocking("order-2", ExpectedVersion::Any).unwrap();
    store.tombstone_stream_blocking("order-3", ExpectedVersion::Any).unwrap();

    let names = |page: &[graveyard::StreamSummary]| page.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    let all = store.list_streams_blocking(&ListStreamsOptions::new(100)).unwrap();
    assert_eq!(names(&all), ["order-1", "order-2", "order-3", "order-4", "orders", "user-1"]);
    let by_name = |n: &str| all.iter().find(|s| s.name == n).unwrap().clone();
    assert_eq!((by_name("order-1").next_revision, by_name("order-1").deleted), (2, false));
    assert!(by_name("order-1").last_position.is_some());
    assert!(by_name("order-2").deleted && !by_name("order-2").tombstoned);
    assert!(by_name("order-3").tombstoned);
    assert_eq!((by_name("order-4").next_revision, by_name("order-4").last_position), (0, None));

    // Pages of two under a prefix, each after the last name of the one before.
    let mut pages = Vec::new();
    let mut options = ListStreamsOptions::new(2).prefix("order-");
    loop {
        let page = store.list_streams_blocking(&options).unwrap();
        pages.push(names(&page));
        match page.last() {
            Some(last) if page.len() == 2 => options = options.clone().after(last.name.clone()),
            _ => break,
        }
    }
    assert_eq!(pages, [vec!["order-1", "order-2"], vec!["order-3", "order-4"], vec![]]);
    // A cursor before the prefix starts at the prefix; one past it ends the listing.
    let page = store.list_streams_blocking(&ListStreamsOptions::new(10).prefix("order-").after("a")).unwrap();
    assert_eq!(names(&page), ["order-1", "order-2", "order-3", "order-4"]);
    let page = store.list_streams_blocking(&ListStreamsOptions::new(10).prefix("order").after("p")).unwrap();
    assert!(page.is_empty());
    assert!(store.list_streams_blocking(&ListStreamsOptions::new(10).prefix("nothing")).unwrap().is_empty());

    for bad in [
        ListStreamsOptions::new(0),
        ListStreamsOptions::new(ListStreamsOptions::MAX_LIMIT + 1),
        ListStreamsOptions::new(10).after(""),
        ListStreamsOptions::new(10).prefix("a\0b"),
    ] {
        let err = store.list_streams_blocking(&bad).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "{bad:?}: {err}");
        assert!(err.to_string().contains("listing"), "{err}");
    }
}
