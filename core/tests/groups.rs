//! Consumer groups: sharing, acknowledgements, retries, parking, timeouts, restarts.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use graveyard::{
    Db, Durability, ErrorCode, EventData, ExpectedVersion, Filter, GroupSettings, GroupStrategy, GroupTarget,
    NackAction, Options, ReadOptions, SubscriptionStart,
};

fn open(dir: &std::path::Path) -> Db {
    Db::open_with(Options::new(dir).durability(Durability::NoFsyncUnsafe)).unwrap()
}

fn ev(n: u64) -> EventData {
    EventData::json("Tested", &serde_json::json!({ "n": n })).unwrap()
}

fn all() -> GroupTarget {
    GroupTarget::All(Filter::default())
}

fn settings(timeout_ms: u64, retries: u32) -> GroupSettings {
    GroupSettings {
        ack_timeout: Duration::from_millis(timeout_ms),
        max_retries: retries,
        ..GroupSettings::default()
    }
}

#[test]
fn groups_are_created_listed_updated_and_deleted_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.append("s", ExpectedVersion::Any, (0..5).map(ev).collect()).unwrap();
    let info = db.create_group("g", all(), SubscriptionStart::Start, GroupSettings::default()).unwrap();
    assert_eq!((info.checkpoint, info.lag, info.in_flight), (0, 5, 0));
    assert_eq!(info.parked_stream, "$parked-g");
    let end = db.create_group("from-end", all(), SubscriptionStart::End, GroupSettings::default()).unwrap();
    assert_eq!((end.checkpoint, end.lag), (5, 0));
    let after = db
        .create_group(
            "s-after-1",
            GroupTarget::Stream("s".into()),
            SubscriptionStart::After(1),
            GroupSettings::default(),
        )
        .unwrap();
    assert_eq!((after.checkpoint, after.lag), (2, 3));
    assert_eq!(db.list_groups().unwrap(), vec!["from-end", "g", "s-after-1"]);

    let dup = db.create_group("g", all(), SubscriptionStart::Start, GroupSettings::default());
    assert_eq!(dup.unwrap_err().code(), ErrorCode::InvalidArgument);
    for bad in ["", "a\0b", &"x".repeat(129)] {
        let r = db.create_group(bad, all(), SubscriptionStart::Start, GroupSettings::default());
        assert_eq!(r.unwrap_err().code(), ErrorCode::InvalidArgument, "{bad:?}");
    }
    let zero = GroupSettings { max_in_flight: 0, ..GroupSettings::default() };
    assert_eq!(
        db.create_group("z", all(), SubscriptionStart::Start, zero).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );

    let updated = db.update_group("g", settings(500, 2)).unwrap();
    assert_eq!(updated.settings, settings(500, 2));
    assert_eq!(db.update_group("nope", GroupSettings::default()).unwrap_err().code(), ErrorCode::NotFound);
    db.delete_group("g").unwrap();
    assert_eq!(db.delete_group("g").unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(db.group_info("g").unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(db.join_group("g", "m").err().unwrap().code(), ErrorCode::NotFound);
    // Groups survive a reopen.
    db.close();
    let db = open(dir.path());
    assert_eq!(db.list_groups().unwrap(), vec!["from-end", "s-after-1"]);
}

#[test]
fn members_share_the_work_and_every_event_is_delivered_once_when_all_ack() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_group("g", all(), SubscriptionStart::Start, GroupSettings::default()).unwrap();
    for i in 0..100 {
        db.append(&format!("s-{}", i % 7), ExpectedVersion::Any, (0..10).map(|j| ev(i * 10 + j)).collect())
            .unwrap();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let mut member = db.join_group("g", &format!("worker-{w}")).unwrap();
            let tx = tx.clone();
            std::thread::spawn(move || loop {
                let delivery = member.next_blocking().unwrap();
                member.ack(&delivery).unwrap();
                if tx.send((w, delivery.event.position, delivery.attempt)).is_err() {
                    return;
                }
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    let mut per_worker: HashMap<usize, usize> = HashMap::new();
    while seen.len() < 1000 {
        let (w, position, attempt) = rx.recv_timeout(Duration::from_secs(60)).expect("deliveries stalled");
        assert_eq!(attempt, 1);
        assert!(seen.insert(position), "position {position} delivered twice");
        *per_worker.entry(w).or_default() += 1;
    }
    assert_eq!(seen, (0..1000).collect());
    assert!(per_worker.len() >= 2, "the work was not shared: {per_worker:?}");
    // The checkpoint reaches the head once everything is acknowledged.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while db.group_info("g").unwrap().checkpoint < 1000 {
        assert!(
            std::time::Instant::now() < deadline,
            "checkpoint stuck at {}",
            db.group_info("g").unwrap().checkpoint
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let info = db.group_info("g").unwrap();
    assert_eq!((info.lag, info.members.len()), (0, 3));
    drop(rx);
    // Workers block waiting for more: a new event wakes one, whose send then fails.
    db.append("wake", ExpectedVersion::Any, (0..3).map(ev).collect()).unwrap();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn after_a_restart_delivery_resumes_with_the_backlog_and_never_repeats_an_ack() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked = BTreeSet::new();
    {
        let db = open(dir.path());
        db.append("s", ExpectedVersion::Any, (0..100).map(ev).collect()).unwrap();
        db.create_group("g", all(), SubscriptionStart::Start, GroupSettings::default()).unwrap();
        let mut member = db.join_group("g", "m").unwrap();
        let mut taken = Vec::new();
        for _ in 0..60 {
            taken.push(member.next_blocking().unwrap());
        }
        // Ack out of order, leaving holes: 0..20, then every third of 20..60.
        for d in taken.iter().filter(|d| d.event.position < 20 || d.event.position % 3 == 0) {
            member.ack(d).unwrap();
            acked.insert(d.event.position);
        }
        assert_eq!(db.group_info("g").unwrap().checkpoint, 20);
        drop(member);
        db.close();
    }
    let db = open(dir.path());
    let info = db.group_info("g").unwrap();
    assert_eq!((info.checkpoint, info.lag), (20, 80));
    // No new event is appended: the backlog is delivered at once.
    let mut member = db.join_group("g", "m").unwrap();
    let mut got = BTreeSet::new();
    for _ in 0..(100 - acked.len()) {
        let d = member.next_blocking().unwrap();
        assert!(!acked.contains(&d.event.position), "acknowledged {} delivered again", d.event.position);
        assert!(got.insert(d.event.position));
        member.ack(&d).unwrap();
    }
    let expected: BTreeSet<u64> = (0..100).filter(|p| !acked.contains(p)).collect();
    assert_eq!(got, expected);
    assert_eq!(db.group_info("g").unwrap().checkpoint, 100);
}

#[test]
fn unacknowledged_events_are_redelivered_after_the_timeout_then_parked() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.append("s", ExpectedVersion::Any, vec![ev(0).with_metadata(b"meta".to_vec())]).unwrap();
    db.create_group("g", all(), SubscriptionStart::Start, settings(100, 2)).unwrap();
    let mut a = db.join_group("g", "a").unwrap();
    let mut b = db.join_group("g", "b").unwrap();
    let first = a.next_blocking().unwrap();
    assert_eq!(first.attempt, 1);
    // `a` never acks: after the timeout `b` gets it, and so on until the retries run out.
    let second = b.next_blocking().unwrap();
    assert_eq!((second.event.position, second.attempt), (0, 2));
    let third = b.next_blocking().unwrap();
    assert_eq!(third.attempt, 3);
    // Third delivery times out too: 2 retries used, so it is parked, not delivered again.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let parked = loop {
        match db.read_stream("$parked-g", ReadOptions::forwards()) {
            Ok(events) if !events.is_empty() => break events,
            _ => assert!(std::time::Instant::now() < deadline, "nothing was parked"),
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].data, first.event.data);
    let meta: serde_json::Value = serde_json::from_slice(&parked[0].metadata).unwrap();
    assert_eq!(meta["parked_from"]["position"], 0);
    assert_eq!(meta["attempts"], 3);
    assert_eq!(meta["original_metadata"], "meta");
    assert_eq!(db.group_info("g").unwrap().checkpoint, 1);
}

#[test]
fn nack_retries_parks_and_skips() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    // Event 1 carries metadata that is not UTF-8: its parked copy must keep it whole.
    let events = vec![ev(0), ev(1).with_metadata(vec![0xff, 0x00, 0x80]), ev(2)];
    db.append("s", ExpectedVersion::Any, events).unwrap();
    db.create_group("g", all(), SubscriptionStart::Start, settings(60_000, 1)).unwrap();
    let mut m = db.join_group("g", "m").unwrap();
    let d0 = m.next_blocking().unwrap();
    m.nack(&d0, NackAction::Retry).unwrap();
    // A retried event comes back before newer ones.
    let again = m.next_blocking().unwrap();
    assert_eq!((again.event.position, again.attempt), (0, 2));
    // Out of retries: a retry parks it.
    m.nack(&again, NackAction::Retry).unwrap();
    let d1 = m.next_blocking().unwrap();
    assert_eq!(d1.event.position, 1);
    m.nack(&d1, NackAction::Park).unwrap();
    let d2 = m.next_blocking().unwrap();
    m.nack(&d2, NackAction::Skip).unwrap();
    let parked = db.read_stream("$parked-g", ReadOptions::forwards()).unwrap();
    let from: Vec<u64> = parked
        .iter()
        .map(|e| {
            serde_json::from_slice::<serde_json::Value>(&e.metadata).unwrap()["parked_from"]["position"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(from, vec![0, 1]);
    let meta: serde_json::Value = serde_json::from_slice(&parked[1].metadata).unwrap();
    assert_eq!(meta["original_metadata_bytes"], serde_json::json!([0xff, 0x00, 0x80]));
    assert_eq!(meta.get("original_metadata"), None);
    assert_eq!(db.group_info("g").unwrap().checkpoint, 3);
    // Users cannot write to the parked stream.
    assert_eq!(
        db.append("$parked-g", ExpectedVersion::Any, vec![ev(9)]).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn pinned_members_get_whole_streams_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let pinned = GroupSettings { strategy: GroupStrategy::PinnedByStream, ..GroupSettings::default() };
    db.create_group("g", all(), SubscriptionStart::Start, pinned).unwrap();
    for i in 0..200u64 {
        db.append(&format!("order-{}", i % 8), ExpectedVersion::Any, vec![ev(i)]).unwrap();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let mut member = db.join_group("g", &format!("w{w}")).unwrap();
            let tx = tx.clone();
            std::thread::spawn(move || loop {
                let d = member.next_blocking().unwrap();
                // Slow down a little so both members hold work at once.
                std::thread::sleep(Duration::from_micros(200));
                if tx.send((w, d.event.stream.clone(), d.event.revision)).is_err() {
                    return;
                }
                member.ack(&d).unwrap();
            })
        })
        .collect();
    // Wait until both members are connected before the first delivery could pin everything.
    let mut owner: HashMap<String, usize> = HashMap::new();
    let mut next_revision: HashMap<String, u64> = HashMap::new();
    for _ in 0..200 {
        let (w, stream, revision) = rx.recv_timeout(Duration::from_secs(60)).expect("stalled");
        let expected = next_revision.entry(stream.clone()).or_default();
        assert_eq!(revision, *expected, "{stream} out of order");
        *expected += 1;
        let o = *owner.entry(stream.clone()).or_insert(w);
        assert_eq!(o, w, "{stream} went to two members");
    }
    drop(rx);
    db.append("wake", ExpectedVersion::Any, (0..4).map(ev).collect()).unwrap();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn a_filtered_group_skips_other_events_and_its_checkpoint_passes_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for i in 0..30u64 {
        let stream = if i % 3 == 0 { "orders-1" } else { "users-1" };
        db.append(stream, ExpectedVersion::Any, vec![ev(i)]).unwrap();
    }
    let target = GroupTarget::All(Filter::stream_prefix("orders-"));
    db.create_group("orders", target, SubscriptionStart::Start, GroupSettings::default()).unwrap();
    let mut m = db.join_group("orders", "m").unwrap();
    for expected in (0..30).step_by(3) {
        let d = m.next_blocking().unwrap();
        assert_eq!(d.event.position, expected);
        m.ack(&d).unwrap();
    }
    assert_eq!(db.group_info("orders").unwrap().checkpoint, 30);

    // A stream group counts revisions.
    db.create_group(
        "users",
        GroupTarget::Stream("users-1".into()),
        SubscriptionStart::After(9),
        GroupSettings::default(),
    )
    .unwrap();
    let mut u = db.join_group("users", "m").unwrap();
    let d = u.next_blocking().unwrap();
    assert_eq!((d.event.stream.as_str(), d.event.revision), ("users-1", 10));
}

#[test]
fn deleting_a_group_stops_its_members_with_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_group("g", all(), SubscriptionStart::Start, GroupSettings::default()).unwrap();
    let mut m = db.join_group("g", "m").unwrap();
    let deleter = {
        let db = db.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            db.delete_group("g").unwrap();
        })
    };
    assert_eq!(m.next_blocking().unwrap_err().code(), ErrorCode::NotFound);
    deleter.join().unwrap();
}

#[test]
fn a_long_backlog_never_holds_more_than_max_in_flight_events() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for chunk in 0..20u64 {
        db.append("s", ExpectedVersion::Any, (chunk * 500..(chunk + 1) * 500).map(ev).collect()).unwrap();
    }
    let window = GroupSettings { max_in_flight: 16, ..settings(60_000, 3) };
    db.create_group("g", all(), SubscriptionStart::Start, window).unwrap();
    let mut member = db.join_group("g", "slow").unwrap();
    // Take the whole window without acknowledging anything: nothing more is read ahead.
    let held: Vec<_> = (0..16).map(|_| member.next_blocking().unwrap()).collect();
    let info = db.group_info("g").unwrap();
    assert_eq!((info.in_flight, info.buffered), (16, 0));
    assert_eq!(info.lag, 10_000);
    // Then consume the 10k backlog, acking in bursts, checking the bound all along.
    for d in &held {
        member.ack(d).unwrap();
    }
    let mut seen = 16;
    while seen < 10_000 {
        let d = member.next_blocking().unwrap();
        assert_eq!(d.event.position, seen);
        member.ack(&d).unwrap();
        seen += 1;
        if seen % 97 == 0 {
            let info = db.group_info("g").unwrap();
            assert!(info.in_flight + info.buffered <= 16, "{info:?}");
        }
    }
    assert_eq!(db.group_info("g").unwrap().checkpoint, 10_000);
}
