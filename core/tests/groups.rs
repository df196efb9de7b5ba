//! Consumer groups: sharing, acknowledgements, retries, parking, timeouts, restarts, replays of
//! parked events, batch settlement.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use graveyard::{
    Db, Delivery, Durability, ErrorCode, EventData, ExpectedVersion, Filter, GroupMember, GroupSettings,
    GroupStrategy, GroupTarget, NackAction, Options, ReadAllOptions, ReadOptions, ReplayInfo,
    SubscriptionStart,
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
            let member = db.join_group("g", &format!("worker-{w}")).unwrap();
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
        let member = db.join_group("g", "m").unwrap();
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
    let member = db.join_group("g", "m").unwrap();
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
    let a = db.join_group("g", "a").unwrap();
    let b = db.join_group("g", "b").unwrap();
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
    let m = db.join_group("g", "m").unwrap();
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
    // The copies are in $all at positions 3 and 4: the group passes them over.
    assert_eq!(db.group_info("g").unwrap().checkpoint, 5);
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
            let member = db.join_group("g", &format!("w{w}")).unwrap();
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
    let m = db.join_group("orders", "m").unwrap();
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
    let u = db.join_group("users", "m").unwrap();
    let d = u.next_blocking().unwrap();
    assert_eq!((d.event.stream.as_str(), d.event.revision), ("users-1", 10));
}

#[test]
fn deleting_a_group_stops_its_members_with_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_group("g", all(), SubscriptionStart::Start, GroupSettings::default()).unwrap();
    let m = db.join_group("g", "m").unwrap();
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
    let member = db.join_group("g", "slow").unwrap();
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

fn take(member: &mut GroupMember, n: usize) -> Vec<Delivery> {
    (0..n).map(|_| member.next_blocking().unwrap()).collect()
}

fn parked_metadata(db: &Db, group: &str) -> Vec<serde_json::Value> {
    let copies = db.read_stream(&graveyard::parked_stream(group), ReadOptions::forwards()).unwrap();
    copies.iter().map(|c| serde_json::from_slice(&c.metadata).unwrap()).collect()
}

/// (parked, replaying) of a group.
fn parked_counts(db: &Db, group: &str) -> (u64, u64) {
    let info = db.group_info(group).unwrap();
    (info.parked, info.replaying)
}

#[test]
fn parked_events_are_replayed_as_the_original_events_and_settled_like_any_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_group("g", all(), SubscriptionStart::Start, GroupSettings::default()).unwrap();
    // Metadata as text, as bytes that are not UTF-8, and none: each must come back whole.
    let events = vec![
        ev(0).with_metadata(b"meta".to_vec()),
        ev(1).with_metadata(vec![0xff, 0x00, 0x80]),
        ev(2),
        ev(3),
    ];
    db.append("s", ExpectedVersion::Any, events).unwrap();
    let mut m = db.join_group("g", "m").unwrap();
    let first = take(&mut m, 4);
    m.nack_all(&first[..3], NackAction::Park).unwrap();
    m.ack(&first[3]).unwrap();
    let info = db.group_info("g").unwrap();
    assert_eq!((info.checkpoint, info.parked, info.replaying), (4, 3, 0));

    let replay = db.replay_parked("g", None).unwrap();
    assert_eq!(replay, ReplayInfo { revisions: 0..3, parked: 0, replaying: 3 });
    // An event of the target appended after the replay: replayed events are read ahead first.
    // It lands at position 7, after the three copies, which an $all group never receives.
    db.append("s", ExpectedVersion::Any, vec![ev(4)]).unwrap();
    let originals = db.read_all(ReadAllOptions::forwards()).unwrap();
    let replayed = take(&mut m, 3);
    for (revision, d) in replayed.iter().enumerate() {
        // The whole event: stream, revision, position, id, type, data, metadata, timestamp.
        assert_eq!(d.event, originals[revision]);
        assert_eq!((d.attempt, d.parked_revision()), (1, Some(revision as u64)));
    }
    let live = m.next_blocking().unwrap();
    assert_eq!((live.event.position, live.parked_revision()), (7, None));
    // Replays have their own cursors: the target's checkpoint did not move back.
    assert_eq!(db.group_info("g").unwrap().checkpoint, 4);

    m.ack_all(&replayed[..2]).unwrap();
    assert_eq!(parked_counts(&db, "g"), (0, 1));
    // Failing again parks a new copy of the original event, which points at the copy it replaces.
    m.nack(&replayed[2], NackAction::Park).unwrap();
    assert_eq!(parked_counts(&db, "g"), (1, 0));
    let meta = parked_metadata(&db, "g");
    assert_eq!(meta.len(), 4);
    assert_eq!(meta[3]["parked_from"]["position"], 2);
    assert_eq!((meta[3]["replay_of"].as_u64(), meta[3]["attempts"].as_u64()), (Some(2), Some(1)));
    assert_eq!(meta[0].get("replay_of"), None);

    assert_eq!(db.replay_parked("g", None).unwrap(), ReplayInfo { revisions: 3..4, parked: 0, replaying: 1 });
    let again = m.next_blocking().unwrap();
    assert_eq!((&again.event, again.parked_revision(), again.attempt), (&originals[2], Some(3), 1));
    m.ack_all(&[again, live]).unwrap();
    let info = db.group_info("g").unwrap();
    assert_eq!(
        (info.checkpoint, info.lag, info.parked, info.replaying),
        (db.head_position().unwrap(), 0, 0, 0)
    );
}

#[test]
fn a_replay_with_a_limit_hands_back_the_oldest_first_and_its_progress_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        db.create_group("g", all(), SubscriptionStart::Start, GroupSettings::default()).unwrap();
        db.append("s", ExpectedVersion::Any, (0..6).map(ev).collect()).unwrap();
        let mut m = db.join_group("g", "m").unwrap();
        let first = take(&mut m, 6);
        m.nack_all(&first, NackAction::Park).unwrap();
        assert_eq!(parked_counts(&db, "g"), (6, 0));

        assert_eq!(
            db.replay_parked("g", Some(2)).unwrap(),
            ReplayInfo { revisions: 0..2, parked: 4, replaying: 2 }
        );
        let two = take(&mut m, 2);
        assert_eq!(two.iter().map(|d| d.parked_revision()).collect::<Vec<_>>(), [Some(0), Some(1)]);
        m.ack(&two[0]).unwrap();
        // Nothing more was handed back, so nothing more is delivered: revision 2 waits.
        assert_eq!(db.group_info("g").unwrap().buffered, 0);
        assert_eq!(
            db.replay_parked("g", Some(3)).unwrap(),
            ReplayInfo { revisions: 2..5, parked: 1, replaying: 4 }
        );
        let d2 = m.next_blocking().unwrap();
        assert_eq!(d2.parked_revision(), Some(2));
        m.ack(&d2).unwrap();
        // Revision 1 in flight, 3 and 4 read ahead or not: all unsettled when the store closes.
        drop(m);
        db.close();
    }
    let db = open(dir.path());
    // Events 0..6, then their copies at positions 6..12, passed over by the group.
    let head = db.head_position().unwrap();
    assert_eq!(head, 12);
    let info = db.group_info("g").unwrap();
    assert_eq!((info.checkpoint, info.parked, info.replaying), (head, 1, 3));
    let mut m = db.join_group("g", "m").unwrap();
    let rest = take(&mut m, 3);
    // Settled replays (0 and 2) are not handed out again; the others are, in order.
    assert_eq!(rest.iter().map(|d| d.parked_revision()).collect::<Vec<_>>(), [Some(1), Some(3), Some(4)]);
    assert_eq!(rest.iter().map(|d| d.event.position).collect::<Vec<_>>(), [1, 3, 4]);
    m.ack_all(&rest).unwrap();
    assert_eq!(
        db.replay_parked("g", Some(100)).unwrap(),
        ReplayInfo { revisions: 5..6, parked: 0, replaying: 1 }
    );
    let last = m.next_blocking().unwrap();
    assert_eq!((last.parked_revision(), last.event.position), (Some(5), 5));
    m.ack(&last).unwrap();
    let info = db.group_info("g").unwrap();
    assert_eq!((info.checkpoint, info.parked, info.replaying), (head, 0, 0));
}

#[test]
fn replaying_with_nothing_parked_hands_nothing_back_and_bad_calls_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_group("g", all(), SubscriptionStart::Start, GroupSettings::default()).unwrap();
    let nothing = ReplayInfo { revisions: 0..0, parked: 0, replaying: 0 };
    assert_eq!(db.replay_parked("g", None).unwrap(), nothing);
    assert_eq!(db.replay_parked("g", Some(10)).unwrap(), nothing);
    assert_eq!(db.replay_parked("nope", None).unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(db.replay_parked("", None).unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(db.replay_parked("g", Some(0)).unwrap_err().code(), ErrorCode::InvalidArgument);

    // Deleting a group abandons its replay: the copies stay readable, and a group created
    // again under the name starts with nothing parked.
    db.append("s", ExpectedVersion::Any, (0..3).map(ev).collect()).unwrap();
    let mut m = db.join_group("g", "m").unwrap();
    let taken = take(&mut m, 3);
    m.nack_all(&taken, NackAction::Park).unwrap();
    db.replay_parked("g", Some(1)).unwrap();
    db.delete_group("g").unwrap();
    assert_eq!(db.replay_parked("g", None).unwrap_err().code(), ErrorCode::NotFound);
    drop(m);
    db.create_group("g", all(), SubscriptionStart::End, GroupSettings::default()).unwrap();
    assert_eq!(parked_counts(&db, "g"), (0, 0));
    assert_eq!(db.replay_parked("g", None).unwrap(), ReplayInfo { revisions: 3..3, parked: 0, replaying: 0 });
    assert_eq!(parked_metadata(&db, "g").len(), 3);
    // What the new group parks is its own to replay.
    db.append("s", ExpectedVersion::Any, vec![ev(3)]).unwrap();
    let m = db.join_group("g", "m").unwrap();
    let d = m.next_blocking().unwrap();
    m.nack(&d, NackAction::Park).unwrap();
    assert_eq!(parked_counts(&db, "g"), (1, 0));
    assert_eq!(db.replay_parked("g", None).unwrap(), ReplayInfo { revisions: 3..4, parked: 0, replaying: 1 });
    assert_eq!(m.next_blocking().unwrap().event, d.event);
}

#[test]
fn a_replayed_event_gets_a_fresh_retry_budget_then_is_parked_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_group("g", all(), SubscriptionStart::Start, settings(60_000, 1)).unwrap();
    db.append("s", ExpectedVersion::Any, vec![ev(0)]).unwrap();
    let m = db.join_group("g", "m").unwrap();
    let d = m.next_blocking().unwrap();
    m.nack(&d, NackAction::Retry).unwrap();
    let d = m.next_blocking().unwrap();
    assert_eq!(d.attempt, 2);
    // Out of retries: parked after 2 attempts.
    m.nack(&d, NackAction::Retry).unwrap();
    assert_eq!(parked_counts(&db, "g"), (1, 0));

    db.replay_parked("g", None).unwrap();
    let r = m.next_blocking().unwrap();
    assert_eq!((r.attempt, r.parked_revision()), (1, Some(0)));
    m.nack(&r, NackAction::Retry).unwrap();
    let r = m.next_blocking().unwrap();
    assert_eq!((r.attempt, r.parked_revision()), (2, Some(0)));
    m.nack(&r, NackAction::Retry).unwrap();
    assert_eq!(parked_counts(&db, "g"), (1, 0));
    let meta = parked_metadata(&db, "g");
    assert_eq!((meta[1]["replay_of"].as_u64(), meta[1]["attempts"].as_u64()), (Some(0), Some(2)));
    assert_eq!(meta[1]["parked_from"], meta[0]["parked_from"]);
}

#[test]
fn ack_all_settles_a_thousand_deliveries_in_one_call_and_none_comes_back_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        for chunk in 0..10u64 {
            db.append(
                &format!("s-{chunk}"),
                ExpectedVersion::Any,
                (chunk * 100..(chunk + 1) * 100).map(ev).collect(),
            )
            .unwrap();
        }
        let window = GroupSettings { max_in_flight: 1000, ..GroupSettings::default() };
        db.create_group("g", all(), SubscriptionStart::Start, window).unwrap();
        let mut m = db.join_group("g", "m").unwrap();
        let taken = take(&mut m, 1000);
        assert_eq!(db.group_info("g").unwrap().in_flight, 1000);
        m.ack_all(&taken).unwrap();
        let info = db.group_info("g").unwrap();
        assert_eq!((info.checkpoint, info.in_flight), (1000, 0));
        drop(m);
        db.close();
    }
    let db = open(dir.path());
    let info = db.group_info("g").unwrap();
    assert_eq!((info.checkpoint, info.lag), (1000, 0));
    db.append("after", ExpectedVersion::Any, vec![ev(1000)]).unwrap();
    let m = db.join_group("g", "m").unwrap();
    let next = m.next_blocking().unwrap();
    assert_eq!((next.event.position, next.attempt), (1000, 1));
}

#[test]
fn settling_deliveries_of_another_group_is_refused_whole_and_stale_ones_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.append("s", ExpectedVersion::Any, (0..4).map(ev).collect()).unwrap();
    db.create_group("a", all(), SubscriptionStart::Start, GroupSettings::default()).unwrap();
    db.create_group("b", all(), SubscriptionStart::Start, GroupSettings::default()).unwrap();
    let mut ma = db.join_group("a", "m").unwrap();
    let mb = db.join_group("b", "m").unwrap();
    let a = take(&mut ma, 2);
    let b0 = mb.next_blocking().unwrap();

    // One foreign delivery refuses the call: a[0] stays in flight, nothing is parked.
    let mixed = [a[0].clone(), b0.clone()];
    assert_eq!(ma.ack_all(&mixed).unwrap_err().code(), ErrorCode::InvalidArgument);
    for action in [NackAction::Park, NackAction::Skip, NackAction::Retry] {
        assert_eq!(ma.nack_all(&mixed, action).unwrap_err().code(), ErrorCode::InvalidArgument);
    }
    let info = db.group_info("a").unwrap();
    assert_eq!((info.checkpoint, info.in_flight, info.buffered, info.parked), (0, 2, 2, 0));

    // The same delivery twice, then again: settled once, the rest changes nothing.
    ma.ack_all(&[a[0].clone(), a[0].clone()]).unwrap();
    ma.ack(&a[0]).unwrap();
    ma.nack(&a[0], NackAction::Park).unwrap();
    let info = db.group_info("a").unwrap();
    assert_eq!((info.checkpoint, info.in_flight, info.parked), (1, 1, 0));
    ma.ack_all(&[]).unwrap();

    // Redelivered meanwhile: the old delivery settles the event for everyone.
    ma.nack(&a[1], NackAction::Retry).unwrap();
    let redelivered = ma.next_blocking().unwrap();
    assert_eq!((redelivered.event.position, redelivered.attempt), (1, 2));
    ma.ack(&a[1]).unwrap();
    assert_eq!(db.group_info("a").unwrap().checkpoint, 2);
    ma.nack(&redelivered, NackAction::Park).unwrap();
    assert_eq!(db.group_info("a").unwrap().parked, 0);

    // A group deleted and created again under its name is another group.
    db.delete_group("b").unwrap();
    assert_eq!(mb.ack(&b0).unwrap_err().code(), ErrorCode::NotFound);
    db.create_group("b", all(), SubscriptionStart::Start, GroupSettings::default()).unwrap();
    let mb = db.join_group("b", "m").unwrap();
    assert_eq!(mb.ack(&b0).unwrap_err().code(), ErrorCode::InvalidArgument);
    // Refused, so position 0 was not settled in the new group: it is delivered.
    assert_eq!(mb.next_blocking().unwrap().event.position, 0);
}

#[test]
fn nack_all_parks_skips_or_retries_many_deliveries_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.append("s", ExpectedVersion::Any, (0..9).map(ev).collect()).unwrap();
    db.create_group("g", all(), SubscriptionStart::Start, settings(60_000, 5)).unwrap();
    let mut m = db.join_group("g", "m").unwrap();
    let taken = take(&mut m, 9);
    m.nack_all(&taken[0..3], NackAction::Park).unwrap();
    m.nack_all(&taken[3..6], NackAction::Skip).unwrap();
    let info = db.group_info("g").unwrap();
    assert_eq!((info.checkpoint, info.parked, info.in_flight), (6, 3, 3));
    // Retried ones come back first, in the order they were given.
    let retried = [taken[7].clone(), taken[6].clone(), taken[8].clone()];
    m.nack_all(&retried, NackAction::Retry).unwrap();
    let again = take(&mut m, 3);
    assert_eq!(
        again.iter().map(|d| (d.event.position, d.attempt)).collect::<Vec<_>>(),
        [(7, 2), (6, 2), (8, 2)]
    );
    m.ack_all(&again).unwrap();
    // Past the three copies too: an $all group passes them over.
    assert_eq!(db.group_info("g").unwrap().checkpoint, 12);
}

/// The next delivery, or a failure naming the stall: the member blocks until one comes.
fn next_or_stalled(member: GroupMember) -> Delivery {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(member.next_blocking());
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("the group stalled with a backlog").unwrap()
}

#[test]
fn a_group_reaches_its_next_event_past_more_passed_over_events_than_its_window() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let small = GroupSettings { max_in_flight: 4, ..GroupSettings::default() };
    // Filtered out: 1000 events of other streams before the one that matches.
    db.append("users-1", ExpectedVersion::Any, (0..1000).map(ev).collect()).unwrap();
    db.append("orders-1", ExpectedVersion::Any, vec![ev(1000)]).unwrap();
    let orders = GroupTarget::All(Filter::stream_prefix("orders-"));
    db.create_group("orders", orders, SubscriptionStart::Start, small.clone()).unwrap();
    let d = next_or_stalled(db.join_group("orders", "m").unwrap());
    assert_eq!((d.event.stream.as_str(), d.event.position), ("orders-1", 1000));

    // Parked copies: another group's 50 copies in $all, then one event, and no append after.
    let wide = GroupSettings { max_in_flight: 100, ..GroupSettings::default() };
    db.create_group("parker", all(), SubscriptionStart::End, wide).unwrap();
    db.create_group("reader", all(), SubscriptionStart::End, small).unwrap();
    db.append("s", ExpectedVersion::Any, (0..50).map(ev).collect()).unwrap();
    let mut parker = db.join_group("parker", "m").unwrap();
    let taken = take(&mut parker, 50);
    parker.nack_all(&taken, NackAction::Park).unwrap();
    let tail = db.append("s", ExpectedVersion::Any, vec![ev(50)]).unwrap().first_position;
    let reader = db.join_group("reader", "m").unwrap();
    for _ in 0..50 {
        let d = reader.next_blocking().unwrap();
        reader.ack(&d).unwrap();
    }
    assert_eq!(next_or_stalled(reader).event.position, tail);
}

/// `next` takes `&self`: one thread waits on a member while another settles through it, as a
/// binding's façade does; the wait still wakes for the next append.
#[test]
fn a_member_settles_on_one_thread_while_another_waits_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_group("g", all(), SubscriptionStart::Start, GroupSettings::default()).unwrap();
    db.append("s", ExpectedVersion::Any, vec![ev(0)]).unwrap();
    let member = db.join_group("g", "m").unwrap();
    let first = member.next_blocking().unwrap();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| member.next_blocking());
        member.ack(&first).unwrap();
        db.append("s", ExpectedVersion::Any, vec![ev(1)]).unwrap();
        let second = waiter.join().unwrap().unwrap();
        assert_eq!((second.event.position, second.attempt), (1, 1));
        member.ack(&second).unwrap();
    });
    assert_eq!(db.group_info("g").unwrap().checkpoint, 2);
}
