//! The façade (`graveyard::Store`) over an embedded store: both forms of the operations, and the
//! sessions' promises (store_sessions/, run over a real node by server/tests/store.rs too).

#[path = "store_sessions/mod.rs"]
mod sessions;

use graveyard::boundary::packed;
use graveyard::runtime::Next;
use graveyard::{
    Durability, ErrorCode, ExpectedVersion, Options, ReadOptions, Store, SubscribeOptions,
    SubscriptionMessage,
};
use sessions::{event, LONG};

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(Options::new(dir.path()).durability(Durability::NoFsyncUnsafe)).unwrap();
    (dir, store)
}

#[test]
fn async_and_blocking_forms_see_the_same_store() {
    let (_dir, store) = open();
    let first = store.append_blocking("s", ExpectedVersion::NoStream, vec![event(0)]).unwrap();
    let second =
        graveyard::runtime::block_on_shared(store.append("s", ExpectedVersion::Exact(0), vec![event(1)]))
            .unwrap();
    assert_eq!((first.last_revision, second.last_revision), (0, 1));
    let events =
        graveyard::runtime::block_on_shared(store.read_stream("s", ReadOptions::forwards())).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(store.head_position_blocking().unwrap(), 2);
    assert!(store.is_embedded() && store.db().is_some());
    assert!(!store.is_encrypted().unwrap());
    assert_eq!(store.on_node("n1").unwrap_err().code(), ErrorCode::Unsupported);
    store.close();
    assert_eq!(store.head_position_blocking().unwrap_err().code(), ErrorCode::Closed);
}

#[test]
fn subscriptions_time_out_and_cancel() {
    let (_dir, store) = open();
    sessions::subscriptions_time_out_and_cancel(&store);
}

#[test]
fn streams_are_listed_by_prefix_in_pages() {
    let (_dir, store) = open();
    sessions::streams_are_listed_by_prefix_in_pages(&store);
}

#[test]
fn members_settle_by_id_from_any_thread() {
    let (_dir, store) = open();
    sessions::members_settle_by_id_from_any_thread(&store);
}

#[test]
fn packed_reads_are_the_pages_of_the_owned_reads() {
    let (_dir, store) = open();
    for n in 0..5 {
        store.append_blocking(&format!("s-{}", n % 2), ExpectedVersion::Any, vec![event(n)]).unwrap();
    }
    let options = ReadOptions::backwards().limit(2);
    let owned = store.read_stream_blocking("s-0", options).unwrap();
    assert_eq!(store.read_stream_packed_blocking("s-0", options).unwrap(), packed::events(&owned));
    let all = graveyard::ReadAllOptions::forwards().filter(graveyard::Filter::stream_prefix("s-1"));
    let owned = store.read_all_blocking(all.clone()).unwrap();
    assert_eq!(owned.len(), 2);
    let page = graveyard::runtime::block_on_shared(store.read_all_packed(all)).unwrap();
    assert_eq!(packed::unpack_page(&page).unwrap(), owned);
    let missing = store.read_stream_packed_blocking("nothing", ReadOptions::forwards()).unwrap_err();
    assert_eq!(missing.code(), ErrorCode::NotFound);
}

#[test]
fn the_async_forms_run_on_a_current_thread_runtime_too() {
    let (_dir, store) = open();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        store.append("s", ExpectedVersion::NoStream, vec![event(0)]).await.unwrap();
        store
            .set_stream_metadata("s", graveyard::StreamMetadata { max_count: Some(1), ..Default::default() })
            .await
            .unwrap();
        let subscription = store.subscribe_to_all(SubscribeOptions::from_start()).await.unwrap();
        assert!(matches!(subscription.next(LONG).await.unwrap(), Next::Item(SubscriptionMessage::Event(_))));
        assert_eq!(store.stream_info("s").await.unwrap().metadata.max_count, Some(1));
    });
}

/// A binding's member leaves its group when it is cancelled, even while a wait it started
/// still holds the session: the caller may ask the group for its members at once.
#[test]
fn a_cancelled_batched_member_leaves_at_once_while_a_wait_holds_it() {
    use graveyard::boundary::batch::{Batch, BatchedMember};
    use graveyard::{GroupSettings, GroupTarget, SubscriptionStart};
    let (_dir, store) = open();
    store
        .create_group_blocking(
            "g",
            GroupTarget::Stream("s".into()),
            SubscriptionStart::Start,
            GroupSettings::default(),
        )
        .unwrap();
    store.append_blocking("s", ExpectedVersion::Any, vec![event(0)]).unwrap();
    let member = BatchedMember::new(store.join_group_blocking("g", "m").unwrap());
    let other = store.join_group_blocking("g", "other").unwrap();
    let delivered = graveyard::runtime::block_on_shared(member.next(1, LONG)).unwrap();
    assert!(matches!(delivered, Batch::Items(_)), "the member holds the event");
    // A wait in flight, holding the session as a poll a caller gave up on does.
    let waiting = member.next(1, LONG);
    member.cancel();
    assert_eq!(store.group_info_blocking("g").unwrap().members, vec!["other".to_owned()]);
    // What it held goes to the other member.
    let handed = other.next_blocking(LONG).unwrap();
    assert!(matches!(handed, Next::Item(d) if d.event.revision == 0));
    drop(waiting);
}
