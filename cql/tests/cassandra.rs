//! The Cassandra-backed commit log against a real Apache Cassandra, started for this test by
//! scripts/cassandra.sh (jars from Maven Central, a plain process on loopback; see
//! `graveyard_cql::testing`) and stopped at the end, even when a step fails. One test runs the steps in turn: they share the node, and
//! the last one kills it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use graveyard::{
    Db, ErrorCode, EventData, ExpectedVersion, Options, ReadAllOptions, ReadOptions, RecordedEvent, Uuid,
};
use graveyard_cql::testing::Cassandra;
use graveyard_cql::{CqlLogSource, CqlOptions, Replication};

fn cql_log(cassandra: &Cassandra, keyspace: &str, log: &str) -> Arc<CqlLogSource> {
    let mut options = CqlOptions::new(vec![cassandra.contact()], keyspace, log);
    // A dead node fails commits after 10 s of trying, not the default 30; a slow machine
    // (JVM warm-up, a loaded CI) still gets 5 s per request.
    options.settle_for = Duration::from_secs(10);
    options.request_timeout = Duration::from_secs(5);
    CqlLogSource::connect(options).unwrap()
}

fn open(dir: &Path, log: &Arc<CqlLogSource>) -> graveyard::Result<Db> {
    Db::open_with(Options::new(dir).commit_log(log.clone()))
}

fn ev(n: u64) -> EventData {
    EventData::json("Tested", &serde_json::json!({ "n": n })).unwrap()
}

fn all(db: &Db) -> Vec<RecordedEvent> {
    db.read_all(ReadAllOptions::forwards()).unwrap()
}

/// What two stores must agree on to be the same history.
fn summary(events: &[RecordedEvent]) -> Vec<(u64, String, u64, Uuid, Vec<u8>)> {
    events.iter().map(|e| (e.position, e.stream.clone(), e.revision, e.id, e.data.clone())).collect()
}

#[test]
fn a_store_on_cassandra() {
    let cassandra = Cassandra::start();
    reopening_and_rebuilding_from_nothing(&cassandra);
    a_store_is_opened_with_its_own_log_only(&cassandra);
    two_writers_on_one_log_take_turns(&cassandra);
    large_records_round_trip_in_parts(&cassandra);
    keyspaces_that_are_not_ours_are_refused(&cassandra);
    acknowledged_appends_survive_a_kill_of_cassandra(&cassandra);
}

/// Appends, a clean reopen (replay from the checkpoint), then the directory lost: the store is
/// rebuilt from the log alone, the same events at the same positions, and goes on.
fn reopening_and_rebuilding_from_nothing(cassandra: &Cassandra) {
    let log = cql_log(cassandra, "gy_basic", "node-1");
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &log).unwrap();
    let mut expected = ExpectedVersion::NoStream;
    // More commits than a partition of the log holds (1,024), one at a time: one record each.
    for i in 0..1100 {
        db.append(&format!("s-{}", i % 3), ExpectedVersion::Any, vec![ev(i), ev(i + 100_000)]).unwrap();
        if i == 0 {
            let r = db.append("order", expected, vec![ev(999)]).unwrap();
            expected = ExpectedVersion::Exact(r.last_revision);
        }
    }
    let before = summary(&all(&db));
    assert_eq!(before.len(), 2201);
    db.close();

    let db = open(dir.path(), &log).unwrap();
    assert_eq!(summary(&all(&db)), before, "a reopen keeps everything");
    db.close();

    drop(dir);
    let rebuilt = tempfile::tempdir().unwrap();
    let db = open(rebuilt.path(), &log).unwrap();
    assert_eq!(
        db.recovery().unwrap().replayed,
        1101,
        "every commit replayed from the first, across partitions"
    );
    assert_eq!(summary(&all(&db)), before, "a lost directory is rebuilt from Cassandra");
    // The version check holds across the rebuild, and writing goes on after it.
    let err = db.append("order", ExpectedVersion::NoStream, vec![ev(1)]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::WrongExpectedVersion, "{err}");
    db.append("order", expected, vec![ev(1000)]).unwrap();
    assert_eq!(all(&db).len(), before.len() + 1);
    db.close();
}

/// A store remembers its log: not opened over the file log or another Cassandra log, and a
/// file-log store is not opened over Cassandra; nor is an encrypted one created on it.
fn a_store_is_opened_with_its_own_log_only(cassandra: &Cassandra) {
    let log = cql_log(cassandra, "gy_identity", "a");
    let other = cql_log(cassandra, "gy_identity", "b");
    let dir = tempfile::tempdir().unwrap();
    open(dir.path(), &log).unwrap().close();
    let err = Db::open(dir.path()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::IncompatibleFormat, "{err}");
    assert!(err.to_string().contains("cql:gy_identity/a"), "{err}");
    assert_eq!(open(dir.path(), &other).unwrap_err().code(), ErrorCode::IncompatibleFormat);

    let file_store = tempfile::tempdir().unwrap();
    Db::open(file_store.path()).unwrap().close();
    assert_eq!(open(file_store.path(), &log).unwrap_err().code(), ErrorCode::IncompatibleFormat);

    // The keyspace dropped and made again: another log under the same name, refused.
    drop_keyspace(cassandra, "gy_identity");
    let again = cql_log(cassandra, "gy_identity", "a");
    let err = open(dir.path(), &again).unwrap_err();
    assert_eq!(err.code(), ErrorCode::IncompatibleFormat, "{err}");
    let fresh = tempfile::tempdir().unwrap();
    open(fresh.path(), &again).unwrap().close();

    let key = [7u8; 32];
    let encrypted = tempfile::tempdir().unwrap();
    let err = Db::open_with(
        Options::new(encrypted.path())
            .commit_log(log.clone())
            .master_key(graveyard::crypto::Key::from_bytes(&key).unwrap()),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
}

/// Two stores on one log (two nodes that both believe they own it, as around a failover):
/// the one that did not see the other's commits finds its next record taken, applies the
/// other's records and checks its commit again against the history as it is, so an expected
/// version is never judged on a stale head and neither store stops. Of two appends expecting
/// the same revision, one wins. A schema version stored by one store is enforced by the other
/// once it caught up.
fn two_writers_on_one_log_take_turns(cassandra: &Cassandra) {
    use graveyard::schema::{Field, FieldType, Schema};
    let log = cql_log(cassandra, "gy_fencing", "shared");
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open(dir_a.path(), &log).unwrap();
    a.append("race", ExpectedVersion::NoStream, vec![ev(0)]).unwrap();
    let b = open(dir_b.path(), &log).unwrap();
    assert_eq!(b.read_stream("race", ReadOptions::forwards()).unwrap().len(), 1, "b replayed a's commit");
    b.append("race", ExpectedVersion::Exact(0), vec![ev(1)]).unwrap();

    // a does not know of b's commit: its append expecting revision 0 would pass its own check.
    let err = a.append("race", ExpectedVersion::Exact(0), vec![ev(2)]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::WrongExpectedVersion, "judged on the true history: {err}");
    let revisions = |db: &Db| {
        db.read_stream("race", ReadOptions::forwards())
            .unwrap()
            .iter()
            .map(|e| e.revision)
            .collect::<Vec<_>>()
    };
    assert_eq!(revisions(&a), vec![0, 1], "a caught up with b's commit and wrote nothing of its own");
    // An append that passes either way commits after the catch-up, at the position after b's.
    let r = a.append("elsewhere", ExpectedVersion::Any, vec![ev(3)]).unwrap();
    assert_eq!(r.first_position, 2);
    a.append("race", ExpectedVersion::Exact(1), vec![ev(4)]).unwrap();

    // Now b is the one behind; a read of b catches up on demand.
    assert_eq!(
        b.read_stream("race", ReadOptions::forwards()).unwrap().len(),
        2,
        "b has not read the log yet"
    );
    assert_eq!(b.catch_up().unwrap(), 2, "a's two commits");
    assert_eq!(b.catch_up().unwrap(), 0);
    assert_eq!(revisions(&b), vec![0, 1, 2]);
    assert_eq!(b.head_position().unwrap(), 4, "the head follows the records applied");

    // A schema stored through a is enforced by b once b caught up (its next write does).
    a.upsert_schema(&Schema::new("Checked").field(Field::new("n", FieldType::Integer).required())).unwrap();
    b.append("warm-up", ExpectedVersion::Any, vec![ev(5)]).unwrap();
    let err = b
        .append(
            "checked",
            ExpectedVersion::Any,
            vec![EventData::json("Checked", &serde_json::json!({})).unwrap()],
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SchemaViolation, "{err}");
    assert_eq!(b.get_schema("Checked", None).unwrap().version, 1);

    // Both store the same new schema, b without having read a's version of it: b's upsert meets
    // a's version in the log and takes it as its own (the same definition: version 1, unchanged),
    // and a different definition from b becomes version 2 on top of it, enforced by a.
    let cart = Schema::new("Cart").field(Field::new("items", FieldType::Integer).required());
    let stored = a.upsert_schema(&cart).unwrap();
    assert_eq!((stored.version, stored.changed), (1, true));
    let again = b.upsert_schema(&cart).unwrap();
    assert_eq!((again.version, again.changed), (1, false), "b found a's version: nothing new stored");
    let wider = cart.clone().field(Field::new("note", FieldType::String));
    let a_sees = a.get_schema("Cart", None).unwrap().version;
    assert_eq!(a_sees, 1);
    let next = a.upsert_schema(&wider).unwrap();
    assert_eq!(next.version, 2);
    let from_b = b.upsert_schema(&wider.clone().field(Field::new("total", FieldType::Integer))).unwrap();
    assert_eq!(from_b.version, 3, "b's other definition goes after a's version 2, which it caught up with");
    a.catch_up().unwrap();
    assert_eq!(a.get_schema("Cart", None).unwrap().version, 3);

    // Many turns: both write the same stream expecting the revision they believe is next; every
    // success is a distinct revision, and the loser of each race learns the true head.
    let (mut wins, mut conflicts) = (0, 0);
    for i in 0..20u64 {
        let db = if i % 2 == 0 { &a } else { &b };
        let head = db.read_stream("race", ReadOptions::backwards()).unwrap()[0].revision;
        match db.append("race", ExpectedVersion::Exact(head), vec![ev(100 + i)]) {
            Ok(_) => wins += 1,
            Err(e) if e.code() == ErrorCode::WrongExpectedVersion => conflicts += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        wins >= 10,
        "each store wins at least the turns after it caught up ({wins} wins, {conflicts} conflicts)"
    );
    a.catch_up().unwrap();
    b.catch_up().unwrap();
    assert_eq!(summary(&all(&a)), summary(&all(&b)), "one history");
    let race = revisions(&a);
    assert_eq!(race, (0..race.len() as u64).collect::<Vec<_>>(), "no revision twice, none skipped");
    assert_eq!(race.len() as u64, 3 + wins);
    a.close();
    b.close();
    // Reopened, each is the same history again.
    let a = open(dir_a.path(), &log).unwrap();
    let b = open(dir_b.path(), &log).unwrap();
    assert_eq!(summary(&all(&a)), summary(&all(&b)));
    a.close();
    b.close();
}

/// A commit larger than a head row holds goes in parts, and is read back whole.
fn large_records_round_trip_in_parts(cassandra: &Cassandra) {
    let log = cql_log(cassandra, "gy_large", "big");
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &log).unwrap();
    let blob: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    let big = EventData::new("Blob", blob.clone(), "application/octet-stream");
    db.append("big", ExpectedVersion::NoStream, vec![big, ev(1)]).unwrap();
    db.close();
    drop(dir);
    let rebuilt = tempfile::tempdir().unwrap();
    let db = open(rebuilt.path(), &log).unwrap();
    let events = db.read_stream("big", ReadOptions::forwards()).unwrap();
    assert_eq!(events.len(), 2);
    assert!(events[0].data == blob, "the 1.5 MB event came back byte for byte");
    db.close();
}

fn drop_keyspace(cassandra: &Cassandra, keyspace: &str) {
    let contact = cassandra.contact();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let session = scylla::client::session_builder::SessionBuilder::new()
            .known_node(&contact)
            .build()
            .await
            .unwrap();
        session.query_unpaged(format!("DROP KEYSPACE {keyspace}"), ()).await.unwrap();
    });
}

/// A keyspace holding other tables is not written in; the message names them.
fn keyspaces_that_are_not_ours_are_refused(cassandra: &Cassandra) {
    let contact = cassandra.contact();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let session = scylla::client::session_builder::SessionBuilder::new().known_node(&contact).build().await.unwrap();
        session
            .query_unpaged(
                "CREATE KEYSPACE IF NOT EXISTS someone_else WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
                (),
            )
            .await
            .unwrap();
        session.query_unpaged("CREATE TABLE IF NOT EXISTS someone_else.orders (id int PRIMARY KEY)", ()).await.unwrap();
    });
    let err = match CqlLogSource::connect(CqlOptions::new(vec![contact.clone()], "someone_else", "n")) {
        Err(e) => e,
        Ok(_) => panic!("a foreign keyspace was accepted"),
    };
    assert_eq!(err.code(), ErrorCode::IncompatibleFormat, "{err}");
    assert!(err.to_string().contains("orders"), "{err}");
    for name in ["no-dashes", "Upper"] {
        let bad = CqlLogSource::connect(CqlOptions::new(vec![contact.clone()], name, "n"));
        assert_eq!(bad.err().map(|e| e.code()), Some(ErrorCode::InvalidArgument), "{name}");
    }
    // A replication Cassandra refuses (a datacenter it does not have) is said with its reason
    // and its own code, once settle_for has passed (its nodes could still be joining).
    let mut options = CqlOptions::new(vec![contact.clone()], "gy_nowhere", "n");
    options.replication = Replication::NetworkTopology(vec![("no_such_dc".into(), 3)]);
    options.settle_for = Duration::from_secs(2);
    let err = match CqlLogSource::connect(options) {
        Err(e) => e,
        Ok(_) => panic!("a keyspace in a datacenter that does not exist was made"),
    };
    assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
    assert!(err.to_string().contains("no_such_dc"), "{err}");
}

/// Writers append while Cassandra is killed with SIGKILL: appends fail from then on (none
/// reported as done that was not), and after Cassandra restarts a store rebuilt from nothing
/// holds every acknowledged event.
fn acknowledged_appends_survive_a_kill_of_cassandra(cassandra: &Cassandra) {
    let log = cql_log(cassandra, "gy_kill", "node");
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &log).unwrap();
    let acknowledged = std::sync::Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..8 {
            let (db, acknowledged) = (db.clone(), &acknowledged);
            s.spawn(move || {
                for i in 0u64.. {
                    let id = Uuid::now_v7();
                    match db.append(&format!("w-{t}"), ExpectedVersion::Any, vec![ev(i).with_id(id)]) {
                        Ok(_) => acknowledged.lock().unwrap().push(id),
                        Err(_) if started.elapsed() > Duration::from_millis(1500) => break,
                        Err(e) => panic!("an append failed before the kill: {e}"),
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(1500));
        cassandra.kill();
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(acknowledged.len() > 50, "only {} appends before the kill", acknowledged.len());
    let err = db.append("after", ExpectedVersion::Any, vec![ev(0)]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable, "writes stop while the log is out of reach: {err}");

    cassandra.restart();
    // The same store resumes by itself once Cassandra answers again: it reads the record left
    // in doubt as it is for good, applies it if it exists, and writes on.
    graveyard_cql::testing::append_until_resumed(&db, "after");
    let check = |db: &Db, what: &str| {
        let stored: std::collections::HashSet<Uuid> = all(db).iter().map(|e| e.id).collect();
        let lost: Vec<&Uuid> = acknowledged.iter().filter(|id| !stored.contains(id)).collect();
        assert!(
            lost.is_empty(),
            "{what}: {} of {} acknowledged appends lost",
            lost.len(),
            acknowledged.len()
        );
    };
    check(&db, "the store that resumed");
    let resumed = summary(&all(&db));
    db.close();
    let log = cql_log(cassandra, "gy_kill", "node");
    // The same directory, reopened: it replays what its checkpoint lacks and writes on.
    let db = open(dir.path(), &log).unwrap();
    assert_eq!(summary(&all(&db)), resumed);
    check(&db, "reopened");
    db.append("after", ExpectedVersion::Any, vec![ev(0)]).unwrap();
    let reopened = summary(&all(&db));
    db.close();
    // A directory rebuilt from nothing holds the same history, byte for byte.
    let rebuilt = tempfile::tempdir().unwrap();
    let db = open(rebuilt.path(), &log).unwrap();
    assert_eq!(summary(&all(&db)), reopened);
    db.close();
}
