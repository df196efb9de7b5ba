//! The engine's behaviour at its edges: opening what is not a store, bad input of every kind,
//! handles and closing, and concurrency. The model-based and crash tests live beside this file.

use std::process::Command;

use graveyard::{
    CurrentRevision, Db, Durability, Error, ErrorCode, EventData, ExpectedVersion, Filter, Options,
    ReadAllOptions, ReadOptions, StreamMetadata, Uuid,
};
use serde_json::json;

mod common;
use common::{block_on, open_fast};

fn ev(n: u64) -> EventData {
    EventData::json("Tested", &json!({ "n": n })).unwrap()
}

fn code<T: std::fmt::Debug>(r: graveyard::Result<T>) -> ErrorCode {
    r.expect_err("expected an error").code()
}

#[test]
fn reopening_keeps_everything_and_continues_positions() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path()).unwrap();
        db.append("a", ExpectedVersion::NoStream, vec![ev(0), ev(1)]).unwrap();
        db.append("b", ExpectedVersion::NoStream, vec![ev(2)]).unwrap();
        db.save_snapshot("a", 1, b"state".to_vec()).unwrap();
        db.set_stream_metadata("b", StreamMetadata { max_count: Some(5), ..Default::default() }).unwrap();
        db.close();
    }
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(db.head_position().unwrap(), 3);
    let r = db.append("a", ExpectedVersion::Exact(1), vec![ev(3)]).unwrap();
    assert_eq!((r.first_revision, r.first_position), (2, 3));
    let c = db.append("c", ExpectedVersion::NoStream, vec![ev(4)]).unwrap();
    assert_eq!(c.first_position, 4);
    assert_eq!(db.get_snapshot("a").unwrap().unwrap().data, b"state");
    assert_eq!(db.get_stream_metadata("b").unwrap().max_count, Some(5));
    let all = db.read_all(ReadAllOptions::forwards()).unwrap();
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
    assert!(all.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
}

#[test]
fn same_directory_twice_in_one_process_shares_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let first = Db::open(dir.path()).unwrap();
    let second = Db::open(dir.path().join(".")).unwrap();
    first.append("s", ExpectedVersion::NoStream, vec![ev(0)]).unwrap();
    assert_eq!(second.read_stream("s", ReadOptions::forwards()).unwrap().len(), 1);
    // Closing one handle leaves the other working; the engine closes with the last one.
    first.close();
    assert_eq!(code(first.head_position()), ErrorCode::Closed);
    second.append("s", ExpectedVersion::Exact(0), vec![ev(1)]).unwrap();
    // Different options for an open directory are refused, not silently ignored.
    let err = Db::open_with(Options::new(dir.path()).max_event_size(10)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    second.close();
    // Fully closed: it can be opened again, with any options.
    let third = Db::open_with(Options::new(dir.path()).max_event_size(10)).unwrap();
    assert_eq!(third.head_position().unwrap(), 2);
}

#[test]
fn use_after_close_is_closed_for_every_operation() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    db.append("s", ExpectedVersion::Any, vec![ev(0)]).unwrap();
    let clone = db.clone();
    db.close();
    db.close(); // twice is harmless
    assert_eq!(code(clone.append("s", ExpectedVersion::Any, vec![ev(1)])), ErrorCode::Closed);
    assert_eq!(code(clone.read_stream("s", ReadOptions::forwards())), ErrorCode::Closed);
    assert_eq!(code(clone.read_all(ReadAllOptions::forwards())), ErrorCode::Closed);
    assert_eq!(code(clone.stream_info("s")), ErrorCode::Closed);
    assert_eq!(code(clone.delete_stream("s", ExpectedVersion::Any)), ErrorCode::Closed);
    assert_eq!(code(clone.tombstone_stream("s", ExpectedVersion::Any)), ErrorCode::Closed);
    assert_eq!(code(clone.set_stream_metadata("s", StreamMetadata::default())), ErrorCode::Closed);
    assert_eq!(code(clone.save_snapshot("s", 0, vec![])), ErrorCode::Closed);
    assert_eq!(code(clone.get_snapshot("s")), ErrorCode::Closed);
    assert_eq!(code(clone.watch_head()), ErrorCode::Closed);
}

#[test]
fn a_file_where_the_directory_should_be_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"hello").unwrap();
    assert_eq!(code(Db::open(&file)), ErrorCode::InvalidArgument);
    assert_eq!(std::fs::read(&file).unwrap(), b"hello", "the file is left as it was");
}

#[test]
fn a_data_file_that_is_not_lmdb_is_corruption_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let garbage: Vec<u8> = (0..64 * 1024u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    std::fs::write(dir.path().join("data.mdb"), &garbage).unwrap();
    let err = Db::open(dir.path()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Corruption, "{err}");
    assert_eq!(std::fs::read(dir.path().join("data.mdb")).unwrap(), garbage);
    // An empty data file is what a crash during the very first open leaves: a new store.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.mdb"), b"").unwrap();
    Db::open(dir.path()).unwrap().close();
}

#[test]
fn an_lmdb_environment_of_another_program_is_incompatible_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    {
        let env = unsafe { heed::EnvOpenOptions::new().max_dbs(4).open(dir.path()).unwrap() };
        let wtxn = env.write_txn().unwrap();
        env.create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
            let db = dbo.create_database::<heed::types::Bytes, heed::types::Bytes>(wtxn, Some("users"))?;
            db.put(wtxn, b"alice", b"admin")?;
            Ok(heed::CommitOrAbort::<_, ()>::Commit(()))
        })
        .unwrap();
    }
    let before = std::fs::read(dir.path().join("data.mdb")).unwrap();
    let err = Db::open(dir.path()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::IncompatibleFormat, "{err}");
    assert!(err.to_string().contains("not a GraveyardDB store"), "{err}");
    assert_eq!(std::fs::read(dir.path().join("data.mdb")).unwrap(), before);
}

#[test]
fn a_store_of_another_format_version_is_refused() {
    for (version, says) in [(99u32, "version 99"), (6, "version 6"), (2, "version 2"), (1, "version 1")] {
        let dir = tempfile::tempdir().unwrap();
        Db::open(dir.path()).unwrap().close();
        {
            let env = unsafe { heed::EnvOpenOptions::new().max_dbs(32).open(dir.path()).unwrap() };
            let wtxn = env.write_txn().unwrap();
            env.create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
                let meta =
                    dbo.create_database::<heed::types::Bytes, heed::types::Bytes>(wtxn, Some("meta"))?;
                meta.put(wtxn, b"format_version", &version.to_be_bytes())?;
                Ok(heed::CommitOrAbort::<_, ()>::Commit(()))
            })
            .unwrap();
        }
        // As another build would leave it: without this build's checkpoint, which would roll
        // the change above back.
        std::fs::remove_file(dir.path().join("checkpoint")).unwrap();
        let err = Db::open(dir.path()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::IncompatibleFormat);
        assert!(err.to_string().contains(says), "{err}");
    }
}

#[test]
fn stores_of_formats_3_and_4_are_upgraded_at_open_and_keep_their_events() {
    for version in [3u32, 4] {
        upgraded_at_open(version);
    }
}

fn upgraded_at_open(version: u32) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    let event = EventData::json("E", &serde_json::json!({ "n": 1 })).unwrap();
    db.append("s", ExpectedVersion::NoStream, vec![event]).unwrap();
    db.close();
    // Format 3 had no commit log and no checkpoint: LMDB synced every commit. (Format 4's log
    // differs only in its segments' names and checksums, read by the log's own tests.)
    {
        let env = unsafe { heed::EnvOpenOptions::new().max_dbs(32).open(dir.path()).unwrap() };
        let wtxn = env.write_txn().unwrap();
        env.create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
            let meta = dbo.create_database::<heed::types::Bytes, heed::types::Bytes>(wtxn, Some("meta"))?;
            meta.put(wtxn, b"format_version", &version.to_be_bytes())?;
            Ok(heed::CommitOrAbort::<_, ()>::Commit(()))
        })
        .unwrap();
    }
    std::fs::remove_file(dir.path().join("checkpoint")).unwrap();
    std::fs::remove_dir_all(dir.path().join("log")).unwrap();
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(db.read_stream("s", ReadOptions::forwards()).unwrap().len(), 1);
    let event = EventData::json("E", &serde_json::json!({ "n": 2 })).unwrap();
    db.append("s", ExpectedVersion::Exact(0), vec![event]).unwrap();
    db.close();
    let env = unsafe { heed::EnvOpenOptions::new().max_dbs(32).open(dir.path()).unwrap() };
    let rtxn = env.read_txn().unwrap();
    let meta = env
        .open_databases_and_commit(rtxn, |dbo, rtxn| -> heed::Result<_> {
            let meta = dbo.open_database::<heed::types::Bytes, heed::types::Bytes>(rtxn, Some("meta"))?;
            Ok(heed::CommitOrAbort::<_, ()>::Commit(meta.unwrap()))
        })
        .unwrap()
        .unwrap_commit();
    let rtxn = env.read_txn().unwrap();
    assert_eq!(
        meta.get(&rtxn, b"format_version").unwrap(),
        Some(5u32.to_be_bytes().as_slice()),
        "from {version}"
    );
    drop(rtxn);
    drop(env);
    assert_eq!(Db::open(dir.path()).unwrap().read_stream("s", ReadOptions::forwards()).unwrap().len(), 2);
}

/// Child half of `a_directory_held_by_another_process_is_unavailable`.
#[test]
fn lock_holder_child() {
    let Ok(dir) = std::env::var("GRAVEYARD_LOCK_CHILD_DIR") else { return };
    let db = Db::open(&dir).unwrap();
    println!("opened");
    // Hold the store until the parent closes our stdin.
    let _ = std::io::stdin().read_line(&mut String::new());
    db.close();
}

#[test]
fn a_directory_held_by_another_process_is_unavailable() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["lock_holder_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("GRAVEYARD_LOCK_CHILD_DIR", dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.unwrap().contains("opened")), "the child could not open the store");
    let err = Db::open(dir.path()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable, "{err}");
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    Db::open(dir.path()).unwrap().close();
}

#[test]
fn invalid_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(Db::open_with(Options::new(dir.path()).max_event_size(0))), ErrorCode::InvalidArgument);
    assert_eq!(code(Db::open_with(Options::new(dir.path()).map_size(1000))), ErrorCode::InvalidArgument);
    assert_eq!(code(Db::open_with(Options::new(dir.path()).max_readers(0))), ErrorCode::InvalidArgument);
    assert_eq!(code(Db::open("")), ErrorCode::InvalidArgument);
}

#[test]
fn bad_input_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db =
        Db::open_with(Options::new(dir.path()).max_event_size(1000).durability(Durability::NoFsyncUnsafe))
            .unwrap();
    db.append("ok", ExpectedVersion::NoStream, vec![ev(0)]).unwrap();
    let bad_appends: Vec<(&str, &str, Vec<EventData>)> = vec![
        ("empty name", "", vec![ev(1)]),
        ("long name", &*"x".repeat(257).leak(), vec![ev(1)]),
        ("NUL in name", "a\0b", vec![ev(1)]),
        ("reserved name", "$schema-user", vec![ev(1)]),
        ("no events", "ok", vec![]),
        ("empty type", "ok", vec![EventData::json_bytes("", b"{}".to_vec())]),
        ("long type", "ok", vec![EventData::json_bytes("t".repeat(257), b"{}".to_vec())]),
        ("NUL in type", "ok", vec![EventData::json_bytes("a\0", b"{}".to_vec())]),
        ("empty content type", "ok", vec![EventData::new("T", vec![], "")]),
        ("not JSON", "ok", vec![EventData::json_bytes("T", b"{not json".to_vec())]),
        ("truncated JSON", "ok", vec![EventData::json_bytes("T", b"{\"a\": [1, 2".to_vec())]),
        ("too large", "ok", vec![EventData::binary("T", vec![0u8; 1000])]),
        (
            "too large by metadata",
            "ok",
            vec![EventData::binary("T", vec![0u8; 10]).with_metadata(vec![1u8; 990])],
        ),
        ("nil id", "ok", vec![ev(1).with_id(Uuid::nil())]),
        ("duplicate id in one append", "ok", {
            let id = Uuid::new_v4();
            vec![ev(1).with_id(id), ev(2).with_id(id)]
        }),
        ("one bad event spoils the append", "ok", vec![ev(1), EventData::json_bytes("T", b"nope".to_vec())]),
    ];
    for (what, stream, events) in bad_appends {
        let err = db
            .append(stream, ExpectedVersion::Any, events)
            .map(|r| panic!("{what}: accepted {r:?}"))
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "{what}: {err}");
    }
    // Exactly at the limits is fine.
    let name = "n".repeat(256);
    db.append(&name, ExpectedVersion::NoStream, vec![EventData::binary("T", vec![0u8; 1000 - 1 - 24])])
        .unwrap();
    db.append("ok", ExpectedVersion::Exact(0), vec![EventData::json_bytes("T", Vec::new())]).unwrap();
    assert_eq!(db.head_position().unwrap(), 3, "only the valid appends were written");
    assert_eq!(db.read_all(ReadAllOptions::forwards()).unwrap().len(), 3);

    // Other operations check names the same way; reading a reserved name is allowed.
    assert_eq!(code(db.read_stream("", ReadOptions::forwards())), ErrorCode::InvalidArgument);
    assert_eq!(code(db.read_stream("$schema-x", ReadOptions::forwards())), ErrorCode::NotFound);
    assert_eq!(code(db.delete_stream("$x", ExpectedVersion::Any)), ErrorCode::InvalidArgument);
    assert_eq!(code(db.tombstone_stream("$x", ExpectedVersion::Any)), ErrorCode::InvalidArgument);
    assert_eq!(code(db.set_stream_metadata("$x", StreamMetadata::default())), ErrorCode::InvalidArgument);
    assert_eq!(code(db.save_snapshot("$x", 0, vec![])), ErrorCode::InvalidArgument);
    assert_eq!(code(db.save_snapshot("ok", 0, vec![0u8; 1001])), ErrorCode::InvalidArgument);
    assert_eq!(code(db.stream_info("a\0")), ErrorCode::InvalidArgument);
}

#[test]
fn expected_version_conflicts_carry_typed_fields() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    match db.append("s", ExpectedVersion::Exact(3), vec![ev(0)]) {
        Err(Error::WrongExpectedVersion { stream, expected, actual }) => {
            assert_eq!(stream, "s");
            assert_eq!(expected, ExpectedVersion::Exact(3));
            assert_eq!(actual, CurrentRevision::NoStream);
        }
        other => panic!("{other:?}"),
    }
    db.append("s", ExpectedVersion::NoStream, vec![ev(0), ev(1), ev(2)]).unwrap();
    // A gap is a conflict: Exact(n) means the last revision IS n, not "n is free".
    for expected in [ExpectedVersion::Exact(0), ExpectedVersion::Exact(1), ExpectedVersion::Exact(5)] {
        match db.append("s", expected, vec![ev(9)]) {
            Err(Error::WrongExpectedVersion { actual, .. }) => {
                assert_eq!(actual, CurrentRevision::Revision(2))
            }
            other => panic!("{expected}: {other:?}"),
        }
    }
    assert_eq!(code(db.append("s", ExpectedVersion::NoStream, vec![ev(9)])), ErrorCode::WrongExpectedVersion);
    assert_eq!(
        code(db.append("t", ExpectedVersion::StreamExists, vec![ev(9)])),
        ErrorCode::WrongExpectedVersion
    );
    assert_eq!(db.head_position().unwrap(), 3);
}

#[test]
fn idempotent_retries_return_the_original_result() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    db.append("other", ExpectedVersion::Any, vec![ev(0)]).unwrap();
    let first = db.append("s", ExpectedVersion::NoStream, vec![ev(1).with_id(a), ev(2).with_id(b)]).unwrap();
    db.append("s", ExpectedVersion::Exact(1), vec![ev(3)]).unwrap();
    // The same request again, even though the stream moved on: same answer, nothing written.
    let again = db.append("s", ExpectedVersion::NoStream, vec![ev(1).with_id(a), ev(2).with_id(b)]).unwrap();
    assert_eq!(first, again);
    let any = db.append("s", ExpectedVersion::Any, vec![ev(1).with_id(a), ev(2).with_id(b)]).unwrap();
    assert_eq!(first, any);
    assert_eq!(db.head_position().unwrap(), 4);
    // Not the same place: a part of it, another order, another stream, another expected start.
    assert_eq!(
        code(db.append("s", ExpectedVersion::Any, vec![ev(2).with_id(b), ev(1).with_id(a)])),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(db.append("s", ExpectedVersion::Any, vec![ev(1).with_id(a), ev(9)])),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(db.append("x", ExpectedVersion::Any, vec![ev(1).with_id(a), ev(2).with_id(b)])),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(db.append("s", ExpectedVersion::Exact(2), vec![ev(1).with_id(a), ev(2).with_id(b)])),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(db.append("s", ExpectedVersion::Exact(0), vec![ev(1).with_id(a), ev(2).with_id(b)])),
        ErrorCode::WrongExpectedVersion
    );
    assert_eq!(db.head_position().unwrap(), 4);
}

#[test]
fn prefixes_never_leak_between_streams() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    for name in ["a", "a:b", "ab", "b", "a:"] {
        db.append(name, ExpectedVersion::NoStream, vec![ev(0), ev(1)]).unwrap();
    }
    for name in ["a", "a:b", "ab", "b", "a:"] {
        let events = db.read_stream(name, ReadOptions::backwards()).unwrap();
        assert_eq!(events.len(), 2, "{name}");
        assert!(events.iter().all(|e| e.stream == name));
    }
    let filtered = db.read_all(ReadAllOptions::forwards().filter(Filter::stream_prefix("a:"))).unwrap();
    assert_eq!(
        filtered.iter().map(|e| e.stream.as_str()).collect::<Vec<_>>(),
        vec!["a:b", "a:b", "a:", "a:"]
    );
}

#[test]
fn concurrent_writers_on_distinct_streams_get_a_gapless_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    std::thread::scope(|s| {
        for t in 0..16 {
            let db = db.clone();
            s.spawn(move || {
                let stream = format!("writer-{t}");
                let mut expected = ExpectedVersion::NoStream;
                for i in 0..50 {
                    let events = (0..(i % 3 + 1)).map(ev).collect();
                    let r = db.append(&stream, expected, events).unwrap();
                    expected = ExpectedVersion::Exact(r.last_revision);
                }
            });
        }
    });
    let all = db.read_all(ReadAllOptions::forwards()).unwrap();
    assert_eq!(all.len() as u64, db.head_position().unwrap());
    assert!(all.iter().enumerate().all(|(i, e)| e.position == i as u64));
    for t in 0..16 {
        let events = db.read_stream(&format!("writer-{t}"), ReadOptions::forwards()).unwrap();
        assert!(events.iter().enumerate().all(|(i, e)| e.revision == i as u64));
        assert!(events.windows(2).all(|w| w[0].position < w[1].position));
    }
}

/// Appends whose exact expectation holds skip looking their ids up and rely on the index
/// refusing to overwrite one; a reused id then fails its whole batch, which is applied again
/// one job at a time. Under concurrency (batches of many jobs) every job must still get the
/// answer it would get alone: refused when it reuses an id, answered as the first time when it
/// retries, committed otherwise, and nothing of a refused one stored.
#[test]
fn reused_ids_in_concurrent_batches_are_refused_alone_and_retries_answered() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    let taken: Vec<Uuid> = (0..8).map(|_| Uuid::now_v7()).collect();
    db.append("seed", ExpectedVersion::NoStream, taken.iter().map(|id| ev(0).with_id(*id)).collect())
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..8usize {
            let (db, taken) = (db.clone(), &taken);
            s.spawn(move || {
                let stream = format!("ids-{t}");
                let mut expected = ExpectedVersion::NoStream;
                let mut revisions = 0u64;
                for i in 0..40u64 {
                    let fresh = Uuid::now_v7();
                    if i % 4 == 3 {
                        let reused = vec![ev(i).with_id(fresh), ev(i).with_id(taken[t])];
                        let err = db.append(&stream, expected, reused).unwrap_err();
                        assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
                    }
                    let events = vec![ev(i).with_id(fresh), ev(i).with_id(Uuid::now_v7())];
                    let first = db.append(&stream, expected, events.clone()).unwrap();
                    let again = db.append(&stream, expected, events).unwrap();
                    assert_eq!(first, again, "a retry is answered as the first time");
                    assert_eq!(first.first_revision, revisions);
                    revisions += 2;
                    expected = ExpectedVersion::Exact(first.last_revision);
                }
            });
        }
    });
    let all = db.read_all(ReadAllOptions::forwards()).unwrap();
    assert_eq!(all.len() as u64, 8 + 8 * 40 * 2);
    assert!(all.iter().enumerate().all(|(i, e)| e.position == i as u64));
    let mut ids: Vec<Uuid> = all.iter().map(|e| e.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "every stored id is stored once");
}

#[test]
fn watch_head_moves_after_commits() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    let mut head = db.watch_head().unwrap();
    assert_eq!(*head.borrow_and_update(), 0);
    db.append("s", ExpectedVersion::Any, vec![ev(0), ev(1)]).unwrap();
    assert!(head.has_changed().unwrap());
    assert_eq!(*head.borrow_and_update(), 2);
    // A rejected append does not move it.
    let _ = db.append("s", ExpectedVersion::NoStream, vec![ev(2)]);
    assert!(!head.has_changed().unwrap());
}

#[test]
fn large_events_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    let big: Vec<u8> = (0..(4 << 20)).map(|i: u32| (i % 251) as u8).collect();
    db.append(
        "big",
        ExpectedVersion::NoStream,
        vec![EventData::binary("Blob", big.clone()).with_metadata(big[..1000].to_vec())],
    )
    .unwrap();
    let back = db.read_stream("big", ReadOptions::forwards()).unwrap();
    assert_eq!(back[0].data, big);
    assert_eq!(back[0].metadata, &big[..1000]);
}

#[test]
fn long_interleaved_streams_read_correctly_from_every_revision() {
    // Streams long enough to span many index chunks, interleaved in the log so each stream's
    // events are far apart, written in appends of varying sizes.
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    let streams = ["long-a", "long-b", "long-c"];
    let mut expected: Vec<Vec<u64>> = vec![Vec::new(); streams.len()]; // positions by revision
    for round in 0..150u64 {
        for (s, name) in streams.iter().enumerate() {
            let size = (round + s as u64) % 3 + 1;
            let r = db.append(name, ExpectedVersion::Any, (0..size).map(ev).collect()).unwrap();
            expected[s].extend(r.first_position..=r.last_position);
        }
    }
    let check = |db: &Db| {
        for (s, name) in streams.iter().enumerate() {
            let positions = &expected[s];
            let n = positions.len() as u64;
            for from in (0..n).step_by(7).chain([n - 1, 31, 32, 33, 63, 64]) {
                for limit in [1u64, 5, 40, u64::MAX] {
                    let fwd = db.read_stream(name, ReadOptions::forwards().from(from).limit(limit)).unwrap();
                    let want: Vec<u64> = (from..n).take(limit.min(n) as usize).collect();
                    assert_eq!(
                        fwd.iter().map(|e| e.revision).collect::<Vec<_>>(),
                        want,
                        "{name} fwd {from} {limit}"
                    );
                    assert!(fwd
                        .iter()
                        .all(|e| e.position == positions[e.revision as usize] && e.stream == *name));
                    let bwd = db.read_stream(name, ReadOptions::backwards().from(from).limit(limit)).unwrap();
                    let want: Vec<u64> = (0..=from).rev().take(limit.min(n) as usize).collect();
                    assert_eq!(
                        bwd.iter().map(|e| e.revision).collect::<Vec<_>>(),
                        want,
                        "{name} bwd {from} {limit}"
                    );
                }
            }
        }
    };
    check(&db);
    db.close();
    let db = open_fast(dir.path());
    check(&db);
    // Retention bounds that fall inside chunks.
    db.set_stream_metadata("long-a", StreamMetadata { truncate_before: Some(45), ..Default::default() })
        .unwrap();
    let a = db.read_stream("long-a", ReadOptions::forwards()).unwrap();
    assert_eq!(a.first().unwrap().revision, 45);
    assert_eq!(a.len() as u64, expected[0].len() as u64 - 45);
    let b = db.read_stream("long-a", ReadOptions::backwards().from(50)).unwrap();
    assert_eq!(b.iter().map(|e| e.revision).collect::<Vec<_>>(), (45..=50).rev().collect::<Vec<_>>());
    db.set_stream_metadata("long-b", StreamMetadata { max_count: Some(33), ..Default::default() }).unwrap();
    let b = db.read_stream("long-b", ReadOptions::forwards()).unwrap();
    assert_eq!(b.len(), 33);
    assert_eq!(b.last().unwrap().revision, expected[1].len() as u64 - 1);
    // Soft delete in the middle of a chunk, then more writes: only the new events are visible.
    let before = db.stream_info("long-c").unwrap().next_revision;
    db.delete_stream("long-c", ExpectedVersion::Any).unwrap();
    db.append("long-c", ExpectedVersion::NoStream, (0..40).map(ev).collect()).unwrap();
    let c = db.read_stream("long-c", ReadOptions::forwards()).unwrap();
    assert_eq!(c.iter().map(|e| e.revision).collect::<Vec<_>>(), (before..before + 40).collect::<Vec<_>>());
    let c = db.read_stream("long-c", ReadOptions::backwards().limit(3)).unwrap();
    assert_eq!(c.iter().map(|e| e.revision).collect::<Vec<_>>(), vec![before + 39, before + 38, before + 37]);
}

#[test]
fn visits_read_in_place_and_stop_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    for i in 0..100 {
        db.append(if i % 2 == 0 { "even" } else { "odd" }, ExpectedVersion::Any, vec![ev(i)]).unwrap();
    }
    let mut seen = Vec::new();
    let n = db
        .visit_stream("odd", ReadOptions::forwards().from(10), |e| {
            seen.push((e.revision, e.position, e.data.to_vec()));
            seen.len() < 5
        })
        .unwrap();
    assert_eq!(n, 5);
    let owned = db.read_stream("odd", ReadOptions::forwards().from(10).limit(5)).unwrap();
    assert_eq!(seen, owned.iter().map(|e| (e.revision, e.position, e.data.clone())).collect::<Vec<_>>());
    let mut positions = Vec::new();
    let n = db
        .visit_all(&ReadAllOptions::backwards().limit(7).filter(Filter::stream_prefix("ev")), |e| {
            positions.push(e.position);
            true
        })
        .unwrap();
    assert_eq!(n, 7);
    assert_eq!(positions, vec![98, 96, 94, 92, 90, 88, 86]);
    db.close();
    assert_eq!(code(db.visit_all(&ReadAllOptions::forwards(), |_| true)), ErrorCode::Closed);
}

#[test]
fn async_appends_are_queued_in_call_order_and_resolve_after_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    // Queued one after the other before any commits: each expects the revision the previous
    // one will create, so all succeed only if the queue keeps call order.
    let pending: Vec<_> = (0..32u64)
        .map(|i| {
            let expected = if i == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(i - 1) };
            db.append_async("pipelined", expected, vec![ev(i)])
        })
        .collect();
    for (i, future) in pending.into_iter().enumerate() {
        let result = block_on(future).unwrap();
        assert_eq!(result.first_revision, i as u64);
    }
    // Bad input and conflicts come back through the future; nothing was written for them.
    assert_eq!(
        code(block_on(db.append_async("$x", ExpectedVersion::Any, vec![ev(0)]))),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(block_on(db.append_async("pipelined", ExpectedVersion::Exact(3), vec![ev(0)]))),
        ErrorCode::WrongExpectedVersion
    );
    assert_eq!(db.head_position().unwrap(), 32);
    // The future holds no engine: closing while one is pending still answers it.
    let future = db.append_async("pipelined", ExpectedVersion::Exact(31), vec![ev(32)]);
    db.close();
    assert_eq!(block_on(future).unwrap().first_revision, 32);
    assert_eq!(
        code(block_on(db.append_async("pipelined", ExpectedVersion::Any, vec![ev(0)]))),
        ErrorCode::Closed
    );
    let db = Db::open(dir.path()).unwrap();
    assert_eq!(db.stream_info("pipelined").unwrap().next_revision, 33);
}

#[test]
fn opening_while_the_last_handle_closes_never_fails() {
    // An open racing the close of the same directory waits for it instead of seeing the
    // closing engine's lock as another process.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    std::thread::scope(|s| {
        for t in 0..4 {
            let path = path.clone();
            s.spawn(move || {
                for i in 0..1500 {
                    let db = open_fast(&path);
                    // Calls in flight on other threads make the last reference go inside one
                    // of them, the window the registry must cover.
                    if (i + t) % 2 == 0 {
                        db.read_all(ReadAllOptions::forwards().limit(1)).unwrap();
                    } else {
                        db.head_position().unwrap();
                    }
                    drop(db);
                }
            });
        }
    });
}

#[test]
fn close_waits_for_calls_in_flight_then_the_store_is_really_closed() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    db.append("s", ExpectedVersion::Any, vec![ev(0), ev(1)]).unwrap();
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let reader = db.clone();
        s.spawn(move || {
            reader
                .visit_all(&ReadAllOptions::forwards(), |_| {
                    entered_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    false
                })
                .unwrap();
        });
        entered_rx.recv().unwrap();
        let closer = db.clone();
        let closing = s.spawn(move || closer.close());
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!closing.is_finished(), "close returned while a visit was in flight");
        release_tx.send(()).unwrap();
        closing.join().unwrap();
    });
    // Closed for real: it opens again with other options (refused while the engine lives).
    let db = Db::open_with(Options::new(dir.path()).max_event_size(100)).unwrap();
    assert_eq!(db.head_position().unwrap(), 2);
}

#[test]
fn close_from_inside_a_visit_does_not_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    db.append("s", ExpectedVersion::Any, vec![ev(0), ev(1)]).unwrap();
    let inner = db.clone();
    let seen = db
        .visit_stream("s", ReadOptions::forwards(), |_| {
            inner.close();
            true
        })
        .unwrap();
    assert_eq!(seen, 2, "the visit in progress finishes");
    assert_eq!(code(db.head_position()), ErrorCode::Closed);
    Db::open_with(Options::new(dir.path()).max_event_size(100)).unwrap();
}

#[test]
fn reader_slots_exhausted_is_unavailable_and_map_sizes_are_rounded() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_with(
        Options::new(dir.path()).max_readers(1).map_size((1 << 20) + 1).durability(Durability::NoFsyncUnsafe),
    )
    .unwrap();
    db.append("s", ExpectedVersion::Any, vec![ev(0)]).unwrap();
    let mut nested = None;
    db.visit_all(&ReadAllOptions::forwards(), |_| {
        nested = Some(db.read_stream("s", ReadOptions::forwards()).map(|e| e.len()));
        false
    })
    .unwrap();
    assert_eq!(nested.unwrap().unwrap_err().code(), ErrorCode::Unavailable);
    assert_eq!(
        code(Db::open_with(Options::new(dir.path().join("x")).map_size(usize::MAX))),
        ErrorCode::InvalidArgument
    );
}

/// Stream states are written behind: held in memory after their commit and written to the
/// `streams` table at the next checkpoint (docs/format.md). Reads, pages of `list_streams`
/// (merging states held with states stored, newer winning), appends' checks and a reopen must
/// all see the newest state of every stream, whichever of the two places holds it.
#[test]
fn stream_states_written_behind_read_back_everywhere() {
    use graveyard::ListStreamsOptions;
    let dir = tempfile::tempdir().unwrap();
    let name = |i: usize| format!("wb-{i:03}");
    let mut model = std::collections::BTreeMap::new();
    let check = |db: &Db, model: &std::collections::BTreeMap<String, u64>, when: &str| {
        for (stream, &next) in model {
            assert_eq!(db.stream_info(stream).unwrap().next_revision, next, "{when}: {stream}");
            let events = db.read_stream(stream, ReadOptions::forwards()).unwrap();
            assert_eq!(events.len() as u64, next, "{when}: {stream}");
            assert_eq!(events.last().unwrap().revision, next - 1, "{when}: {stream}");
        }
        // Paged by `after`, in small pages, so that pages start and end on states of both kinds.
        for limit in [1, 7, 1000] {
            let mut listed = Vec::new();
            let mut after = None;
            loop {
                let options = ListStreamsOptions { prefix: "wb-".into(), after: after.clone(), limit };
                let page = db.list_streams(&options).unwrap();
                assert!(page.len() as u64 <= limit);
                let Some(last) = page.last() else { break };
                after = Some(last.name.clone());
                listed.extend(page.into_iter().map(|s| (s.name, s.next_revision)));
            }
            let expected: Vec<(String, u64)> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
            assert_eq!(listed, expected, "{when}: pages of {limit}");
        }
        let under = db
            .list_streams(&ListStreamsOptions {
                prefix: "wb-1".into(),
                after: Some("wb-120".into()),
                limit: 1000,
            })
            .unwrap();
        let expected: Vec<&String> =
            model.keys().filter(|k| k.starts_with("wb-1") && k.as_str() > "wb-120").collect();
        assert_eq!(under.iter().map(|s| &s.name).collect::<Vec<_>>(), expected, "{when}: prefix and after");
    };
    {
        let db = Db::open(dir.path()).unwrap();
        for i in 0..100 {
            db.append(&name(i), ExpectedVersion::NoStream, vec![ev(0)]).unwrap();
            model.insert(name(i), 1);
        }
        check(&db, &model, "all held");
        // A checkpoint is due 2 s after a write; the first commit after that writes the
        // states held to the table.
        std::thread::sleep(std::time::Duration::from_millis(2300));
        db.append(&name(0), ExpectedVersion::Exact(0), vec![ev(1)]).unwrap();
        *model.get_mut(&name(0)).unwrap() = 2;
        // Newer states of half the stored streams, and new streams: held again.
        for i in 50..150 {
            let expected = match model.get(&name(i)) {
                Some(&next) => ExpectedVersion::Exact(next - 1),
                None => ExpectedVersion::NoStream,
            };
            db.append(&name(i), expected, vec![ev(1), ev(2)]).unwrap();
            *model.entry(name(i)).or_insert(0) += 2;
        }
        check(&db, &model, "some stored, some held");
        // The checks of an append see the held state: a stale expectation is refused.
        let err = db.append(&name(60), ExpectedVersion::Exact(0), vec![ev(9)]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::WrongExpectedVersion);
        db.close();
    }
    let db = Db::open(dir.path()).unwrap();
    check(&db, &model, "after a reopen");
    db.append(&name(149), ExpectedVersion::Exact(1), vec![ev(3)]).unwrap();
}

/// A read of a stream sees every event of it that a read of `$all` returned before, although
/// the stream's state is written behind (held in memory) while its events are in LMDB: a commit
/// and the states it wrote take effect for readers as one step. Writers race the reader on many
/// streams; the reader takes the newest event of `$all`, then the stream's info and its
/// events, which must reach that event's revision.
#[test]
fn a_stream_read_sees_what_a_read_of_all_returned() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let db = open_fast(dir.path());
    let stop = AtomicBool::new(false);
    let (checked, failure) = std::thread::scope(|scope| {
        for w in 0..4u64 {
            let (db, stop) = (&db, &stop);
            scope.spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let stream = format!("race-{}", (i * 4 + w) % 997);
                    db.append(&stream, ExpectedVersion::Any, vec![ev(i)]).unwrap();
                    i += 1;
                }
            });
        }
        // Judged after the writers stop: a failed check must not leave them running.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let mut checked = 0u64;
        let mut failure = None;
        while failure.is_none() && std::time::Instant::now() < deadline {
            let newest = db.read_all(ReadAllOptions::backwards().limit(1)).unwrap();
            let Some(event) = newest.first() else { continue };
            let info = db.stream_info(&event.stream).unwrap();
            let last = db.read_stream(&event.stream, ReadOptions::backwards().limit(1)).unwrap();
            if info.next_revision <= event.revision || last[0].revision < event.revision {
                failure = Some(format!(
                    "{} revision {} was read from $all, then the stream's next revision was {} and its last \
                     event revision {}",
                    event.stream, event.revision, info.next_revision, last[0].revision
                ));
            }
            checked += 1;
        }
        stop.store(true, Ordering::Relaxed);
        (checked, failure)
    });
    if let Some(failure) = failure {
        panic!("{failure}");
    }
    assert!(checked > 100, "only {checked} checks ran");
}

/// A visit's callback may write, to the store it visits: a visit of `$all` holds nothing the
/// writer needs to answer (it once held the head's lock, which the writer takes to move it).
#[test]
fn a_visit_may_append_from_its_callback() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    db.append("a", ExpectedVersion::NoStream, vec![ev(0), ev(1), ev(2)]).unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    let visitor = {
        let db = db.clone();
        std::thread::spawn(move || {
            let mut copied = 0;
            let seen = db
                .visit_all(&ReadAllOptions::forwards().limit(3), |event| {
                    let expected = if copied == 0 {
                        ExpectedVersion::NoStream
                    } else {
                        ExpectedVersion::Exact(copied - 1)
                    };
                    db.append("copies", expected, vec![ev(event.position)]).unwrap();
                    copied += 1;
                    true
                })
                .unwrap();
            db.visit_stream("a", ReadOptions::forwards(), |event| {
                let metadata = StreamMetadata { max_count: Some(10 + event.revision), ..Default::default() };
                db.set_stream_metadata("a", metadata).unwrap();
                true
            })
            .unwrap();
            let _ = done.send((seen, copied));
        })
    };
    // A deadlock fails the test instead of hanging it.
    let (seen, copied) =
        finished.recv_timeout(std::time::Duration::from_secs(60)).expect("the visits deadlocked");
    visitor.join().unwrap();
    assert_eq!((seen, copied), (3, 3));
    assert_eq!(db.read_stream("copies", ReadOptions::forwards()).unwrap().len(), 3);
    assert_eq!(db.head_position().unwrap(), 6);
}

/// Events appended without an id get one from the writer, greater than every id it made
/// before, which the id index takes at its end. An id a caller gives that sorts after them (a
/// random v4 id often does) must change nothing but that: later made-up ids are still stored,
/// unique, and a caller cannot reuse one of them.
#[test]
fn made_up_ids_are_increasing_v7_and_stay_unique_beside_caller_ids() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path()).unwrap();
    let mut expected = ExpectedVersion::NoStream;
    for round in 0..3u64 {
        let r = db.append("made-up", expected, (0..50).map(|n| ev(round * 100 + n)).collect()).unwrap();
        expected = ExpectedVersion::Exact(r.last_revision);
        if round == 1 {
            // Sorts after any UUIDv7 (0x01.. until the year 2527).
            let high = Uuid::from_u128(u128::MAX >> 1);
            db.append("given", ExpectedVersion::Any, vec![ev(0).with_id(high)]).unwrap();
        }
    }
    let made: Vec<Uuid> =
        db.read_stream("made-up", ReadOptions::forwards()).unwrap().iter().map(|e| e.id).collect();
    assert_eq!(made.len(), 150);
    assert!(made.iter().all(|id| id.get_version_num() == 7), "{made:?}");
    assert!(made.windows(2).all(|w| w[0] < w[1]), "made-up ids grow in commit order");
    // Unique against caller ids both ways: a made-up id cannot be given again, whether it went
    // in at the index's end (round 1) or after the caller's greater id (round 2, put after a
    // search).
    for taken in [made[70], made[120], made[149]] {
        let err = db.append("other", ExpectedVersion::Any, vec![ev(0).with_id(taken)]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
    }
    // And they survive a reopen, where the next made-up ids still grow.
    db.close();
    let db = Db::open(dir.path()).unwrap();
    let r = db.append("made-up", expected, vec![ev(999)]).unwrap();
    let last = db.read_stream("made-up", ReadOptions::forwards().from(r.last_revision)).unwrap();
    assert!(last[0].id > made[149]);
    assert_eq!(db.read_all(ReadAllOptions::forwards()).unwrap().len(), 152);
}
