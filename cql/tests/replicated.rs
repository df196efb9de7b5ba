//! The commit log on three Cassandra nodes at replication factor 3 and QUORUM, the setup
//! docs/cql.md recommends: a node killed under load is not noticed by the writers (no append
//! fails, none acknowledged is lost), whichever node it is, the first contact point included;
//! a quorum lost fails appends with UNAVAILABLE, never a silent success or a write elsewhere;
//! and a store rebuilt from nothing while a replica is down holds every acknowledged event.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use graveyard::{Db, ErrorCode, EventData, ExpectedVersion, Options, ReadAllOptions, Uuid};
use graveyard_cql::testing::Cassandra;
use graveyard_cql::{CqlLogSource, CqlOptions, Replication};

fn cql_log(cassandra: &Cassandra, settle_for: Duration) -> Arc<CqlLogSource> {
    connect("node-1", cassandra.contacts(), settle_for)
}

fn connect(log: &str, contacts: Vec<String>, settle_for: Duration) -> Arc<CqlLogSource> {
    let mut options = CqlOptions::new(contacts, "gy_rf3", log);
    options.replication = Replication::Simple(3);
    options.request_timeout = Duration::from_secs(5);
    options.settle_for = settle_for;
    CqlLogSource::connect(options).unwrap()
}

fn open(dir: &Path, log: &Arc<CqlLogSource>) -> Db {
    Db::open_with(Options::new(dir).commit_log(log.clone())).unwrap()
}

fn ev(n: u64) -> EventData {
    EventData::json("Tested", &serde_json::json!({ "n": n })).unwrap()
}

fn stored(db: &Db) -> Vec<(u64, String, u64, Uuid)> {
    db.read_all(ReadAllOptions::forwards())
        .unwrap()
        .into_iter()
        .map(|e| (e.position, e.stream, e.revision, e.id))
        .collect()
}

/// Appends acknowledged after `during` that show the store goes on.
const GOES_ON: usize = 50;

/// What 8 writers did while `during` ran and after it: until `GOES_ON` appends were
/// acknowledged after it, or every writer stopped at its first failure (60 s at most).
struct Load {
    acknowledged: Vec<Uuid>,
    after: usize,
    failures: Vec<String>,
}

fn under_load(db: &Db, round: &str, during: impl FnOnce()) -> Load {
    let acknowledged = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::new());
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    const WRITERS: usize = 8;
    let (done, stop, after, ended) =
        (AtomicBool::new(false), AtomicBool::new(false), AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        for t in 0..WRITERS {
            let (db, acknowledged, failures) = (db.clone(), &acknowledged, &failures);
            let (done, stop, after, ended) = (&done, &stop, &after, &ended);
            s.spawn(move || {
                for i in 0u64.. {
                    if stop.load(Relaxed) {
                        break;
                    }
                    // Read before the append: one acknowledged after `during` began is not
                    // counted as after it.
                    let was_done = done.load(Relaxed);
                    let id = Uuid::now_v7();
                    match db.append(&format!("{round}-{t}"), ExpectedVersion::Any, vec![ev(i).with_id(id)]) {
                        Ok(_) => {
                            acknowledged.lock().unwrap().push(id);
                            if was_done {
                                after.fetch_add(1, Relaxed);
                            }
                        }
                        Err(e) => {
                            failures.lock().unwrap().push(format!("{:?}: {e}", e.code()));
                            break;
                        }
                    }
                }
                ended.fetch_add(1, Relaxed);
            });
        }
        // Some load before the fault.
        let started = Instant::now();
        while acknowledged.lock().unwrap().len() < GOES_ON && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(20));
        }
        during();
        done.store(true, Relaxed);
        let started = Instant::now();
        while after.load(Relaxed) < GOES_ON
            && ended.load(Relaxed) < WRITERS
            && started.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Relaxed);
    });
    Load {
        acknowledged: acknowledged.into_inner().unwrap(),
        after: after.into_inner(),
        failures: failures.into_inner().unwrap(),
    }
}

fn assert_all_there(db: &Db, acknowledged: &[Uuid], when: &str) {
    let ids: HashSet<Uuid> = stored(db).into_iter().map(|(_, _, _, id)| id).collect();
    let lost = acknowledged.iter().filter(|id| !ids.contains(id)).count();
    assert_eq!(lost, 0, "{when}: {lost} of {} acknowledged appends are missing", acknowledged.len());
}

#[test]
fn a_log_replicated_on_three_cassandra_nodes() {
    let cassandra = Cassandra::start_ring(3);
    // Three nodes starting at once on a new keyspace, each given the ring in another order:
    // every one creates the schema, and none may fail (two coordinators creating one table
    // give it two ids, and replicas then refuse its writes for a while).
    std::thread::scope(|s| {
        for n in 0..3 {
            let cassandra = &cassandra;
            s.spawn(move || {
                let mut contacts = cassandra.contacts();
                contacts.rotate_left(n);
                let log = connect(&format!("node-{}", n + 1), contacts, Duration::from_secs(30));
                let dir = tempfile::tempdir().unwrap();
                let db = open(dir.path(), &log);
                db.append("started", ExpectedVersion::Any, vec![ev(n as u64)]).unwrap();
                db.close();
            });
        }
    });
    let log = cql_log(&cassandra, Duration::from_secs(30));
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &log);
    let mut acknowledged = Vec::new();

    // A replica dies under load: QUORUM is 2 of 3, so the writers go on. Requests the dead
    // node was coordinating are settled through another (read back at the serial level).
    let load = under_load(&db, "third", || cassandra.kill_node(3));
    assert!(load.failures.is_empty(), "appends failed with one replica of three down: {:?}", load.failures);
    assert!(load.after >= GOES_ON, "only {} appends after the kill", load.after);
    acknowledged.extend(load.acknowledged);

    // Rebuilt from nothing with that replica still down: every acknowledged event is there.
    let rebuilt = tempfile::tempdir().unwrap();
    let copy = open(rebuilt.path(), &log);
    assert_all_there(&copy, &acknowledged, "rebuilt with node 3 down");
    assert_eq!(stored(&copy), stored(&db));
    copy.close();

    // Back, then the first contact point dies: the driver knows the ring, not only the node it
    // was given first.
    cassandra.restart_node(3);
    let load = under_load(&db, "first", || cassandra.kill_node(1));
    assert!(load.failures.is_empty(), "appends failed with node 1 down: {:?}", load.failures);
    assert!(load.after >= GOES_ON, "only {} appends after the kill", load.after);
    acknowledged.extend(load.acknowledged);
    assert_all_there(&db, &acknowledged, "the store that wrote them");
    db.close();
    cassandra.restart_node(1);

    // A quorum lost (2 of 3 down): appends fail with UNAVAILABLE; none is reported done that
    // is not. The unknown outcome stops writes until the log is back.
    let log = cql_log(&cassandra, Duration::from_secs(5));
    let db = open(dir.path(), &log);
    assert_all_there(&db, &acknowledged, "reopened");
    let load = under_load(&db, "quorum", || {
        cassandra.kill_node(2);
        cassandra.kill_node(3);
    });
    assert!(!load.failures.is_empty(), "appends went on without a quorum");
    assert!(
        load.failures.iter().all(|f| f.starts_with("Unavailable")),
        "without a quorum appends fail with UNAVAILABLE: {:?}",
        load.failures
    );
    let err = db.append("after", ExpectedVersion::Any, vec![ev(0)]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable, "{err}");
    let stopped = db.stopped().unwrap().expect("the store says it takes no writes");
    assert!(stopped.contains("commit log"), "{stopped}");
    acknowledged.extend(load.acknowledged);

    // The quorum back: the same store resumes by itself (it settles the record in doubt) and
    // holds every acknowledged event; reopened, and rebuilt from nothing, it is the same history.
    cassandra.restart_node(2);
    graveyard_cql::testing::append_until_resumed(&db, "after");
    assert_eq!(db.stopped().unwrap(), None, "resumed");
    assert_all_there(&db, &acknowledged, "resumed with the quorum back");
    let history = stored(&db);
    db.close();
    let db = open(dir.path(), &log);
    assert_all_there(&db, &acknowledged, "reopened with the quorum back");
    assert_eq!(stored(&db), history);
    db.close();
    let rebuilt = tempfile::tempdir().unwrap();
    let copy = open(rebuilt.path(), &log);
    assert_eq!(stored(&copy), history);
    copy.close();
}
