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
