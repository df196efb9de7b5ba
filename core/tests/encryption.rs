//! Encryption at rest and crypto-shredding, checked on the raw files: no plaintext of any size
//! is on disk, a wrong or missing key fails at open, tampered bytes fail that read only, and a
//! shredded stream's data key cannot be found in any file, not even with the master key.

mod common;

use std::path::Path;
use std::time::Duration;

use graveyard::crypto::{self, Key, Sealer};
use graveyard::{
    Db, Durability, ErrorCode, EventData, ExpectedVersion, Filter, GroupSettings, GroupTarget, NackAction,
    Options, ReadAllOptions, ReadOptions, SubscribeOptions, SubscriptionMessage, SubscriptionStart,
};

const MASTER: [u8; 32] = [0x5a; 32];
const OTHER: [u8; 32] = [0xa5; 32];

fn key(bytes: [u8; 32]) -> Key {
    Key::from_bytes(&bytes).unwrap()
}

fn options(dir: &Path, master: [u8; 32]) -> Options {
    Options::new(dir).master_key(key(master)).durability(Durability::NoFsyncUnsafe)
}

fn open(dir: &Path) -> Db {
    Db::open_with(options(dir, MASTER)).unwrap()
}

/// A payload of `size` bytes made of a marker no sealed byte string will contain by chance.
fn payload(tag: &str, size: usize) -> Vec<u8> {
    let unit = format!("<{tag}-plaintext-marker>");
    unit.bytes().cycle().take(size).collect()
}

/// Every file of the store directory, raw.
fn raw_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    assert!(files.iter().any(|(name, _)| name.ends_with("data.mdb")));
    files
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Where the plaintext `needle` (its first 20 bytes, or all of it if shorter) appears in the
/// store's files.
fn plaintext_found(dir: &Path, needle: &[u8]) -> Vec<String> {
    let needle = &needle[..needle.len().min(20)];
    raw_files(dir)
        .into_iter()
        .filter(|(_, bytes)| find(bytes, needle).is_some())
        .map(|(name, _)| name)
        .collect()
}

/// What an attacker with the master key and the raw files can do: try every byte offset of
/// every file as a wrapped data key of each stream id. Returns where a key was found.
fn wrapped_keys_found(
    dir: &Path,
    master: [u8; 32],
    stream_ids: std::ops::Range<u64>,
) -> Vec<(String, usize, u64)> {
    let sealer = Sealer::new(&key(master));
    let wrapped_len = crypto::KEY_LEN + crypto::SEAL_OVERHEAD;
    let mut found = Vec::new();
    for (name, bytes) in raw_files(dir) {
        if bytes.len() < wrapped_len {
            continue;
        }
        for at in 0..=bytes.len() - wrapped_len {
            // A sealed value starts with its random nonce: all-zero runs are never one.
            if bytes[at..at + 12].iter().all(|&b| b == 0) {
                continue;
            }
            for id in stream_ids.clone() {
                if crypto::unwrap_key(&sealer, id, &bytes[at..at + wrapped_len]).is_ok() {
                    found.push((name.clone(), at, id));
                }
            }
        }
    }
    found
}

/// From the smallest plaintext a scan can tell from chance to one that spans many pages.
const SIZES: [usize; 7] = [12, 20, 100, 2_100, 4_096, 70_000, 1_100_000];

fn write_everything(db: &Db) {
    for (i, size) in SIZES.iter().enumerate() {
        let event = EventData::binary("Blob", payload(&format!("data{i}"), *size))
            .with_metadata(payload(&format!("meta{i}"), (*size).min(50_000)));
        db.append("user-1", ExpectedVersion::Any, vec![event]).unwrap();
    }
    let json =
        EventData::json("Profile", &serde_json::json!({"email": "jane.doe.secret@example.com"})).unwrap();
    db.append("user-2", ExpectedVersion::Any, vec![json]).unwrap();
    db.save_snapshot("user-1", 3, payload("snapshot", 5_000)).unwrap();
}

#[test]
fn no_plaintext_of_any_size_reaches_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    write_everything(&db);
    // Everything reads back.
    let events = db.read_stream("user-1", ReadOptions::forwards()).unwrap();
    assert_eq!(events.len(), SIZES.len());
    for (i, (event, size)) in events.iter().zip(SIZES).enumerate() {
        assert_eq!(event.data, payload(&format!("data{i}"), size));
        assert_eq!(event.metadata, payload(&format!("meta{i}"), size.min(50_000)));
        assert!(!event.shredded);
    }
    assert_eq!(db.get_snapshot("user-1").unwrap().unwrap().data, payload("snapshot", 5_000));
    let all = db.read_all(ReadAllOptions::forwards()).unwrap();
    assert_eq!(all.len(), SIZES.len() + 1);
    assert_eq!(all.last().unwrap().data, br#"{"email":"jane.doe.secret@example.com"}"#);
    drop(db);

    for (i, size) in SIZES.iter().enumerate() {
        let data = payload(&format!("data{i}"), *size);
        assert_eq!(plaintext_found(dir.path(), &data), Vec::<String>::new(), "data of {size} bytes");
        let meta = payload(&format!("meta{i}"), (*size).min(50_000));
        assert_eq!(plaintext_found(dir.path(), &meta), Vec::<String>::new(), "metadata of {size} bytes");
    }
    assert!(plaintext_found(dir.path(), b"jane.doe.secret").is_empty());
    assert!(plaintext_found(dir.path(), &payload("snapshot", 100)).is_empty());

    // The same writes without encryption: the scan does find them (it can fail).
    let plain = tempfile::tempdir().unwrap();
    let db = common::open_fast(plain.path());
    write_everything(&db);
    drop(db);
    assert!(!plaintext_found(plain.path(), &payload("data0", 12)).is_empty());
    assert!(!plaintext_found(plain.path(), &payload("data6", 1_100_000)).is_empty());
    assert!(!plaintext_found(plain.path(), b"jane.doe.secret").is_empty());
}

#[test]
fn a_wrong_or_missing_key_fails_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.append("s", ExpectedVersion::Any, vec![EventData::binary("T", b"x".to_vec())]).unwrap();
    assert!(db.is_encrypted().unwrap());
    // Open again in this process: the key must be the store's.
    let err = Db::open_with(options(dir.path(), OTHER)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Encryption, "{err}");
    let same = open(dir.path());
    same.close();
    drop(db);

    let err = Db::open_with(options(dir.path(), OTHER)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Encryption, "{err}");
    let err = Db::open(dir.path()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Encryption, "{err}");
    assert!(err.to_string().contains("master key"), "{err}");
    // A provider is asked at open; what it fails with is what the open fails with.
    let err = Db::open_with(Options::new(dir.path()).master_key_provider(|| Ok(vec![1; 31]))).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
    let err = Db::open_with(
        Options::new(dir.path())
            .master_key_provider(|| Err(graveyard::Error::Unavailable("the key service is down".into()))),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable, "{err}");
    let db = Db::open_with(Options::new(dir.path()).master_key_provider(|| Ok(MASTER.to_vec()))).unwrap();
    assert_eq!(db.read_stream("s", ReadOptions::forwards()).unwrap()[0].data, b"x");
    drop(db);

    // A store created without encryption does not take a key (nothing would be encrypted).
    let plain = tempfile::tempdir().unwrap();
    drop(common::open_fast(plain.path()));
    let err = Db::open_with(options(plain.path(), MASTER)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
    let plain_db = common::open_fast(plain.path());
    assert!(!plain_db.is_encrypted().unwrap());
    plain_db.append("u", ExpectedVersion::Any, vec![EventData::binary("T", b"x".to_vec())]).unwrap();
    assert_eq!(plain_db.shred_stream("u").unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(plain_db.rotate_master_key(key(OTHER)).unwrap_err().code(), ErrorCode::InvalidArgument);

    // The keyring is part of the store.
    std::fs::remove_file(dir.path().join("keys.graveyard")).unwrap();
    let err = Db::open_with(options(dir.path(), MASTER)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Corruption, "{err}");
}

#[test]
fn tampered_bytes_fail_that_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    // The content type is stored in clear just before the sealed field: a landmark.
    let landmark = "application/x-tamper-landmark";
    db.append("a", ExpectedVersion::Any, vec![EventData::binary("T", b"first".to_vec())]).unwrap();
    db.append("a", ExpectedVersion::Any, vec![EventData::new("T", payload("victim", 200), landmark)])
        .unwrap();
    db.append("a", ExpectedVersion::Any, vec![EventData::binary("T", b"third".to_vec())]).unwrap();
    db.append("b", ExpectedVersion::Any, vec![EventData::binary("T", b"other".to_vec())]).unwrap();
    drop(db);

    let path = dir.path().join("data.mdb");
    let mut bytes = std::fs::read(&path).unwrap();
    // Every copy of the record's page (LMDB copies a page on write; old copies stay in free
    // pages): past the key id (8 bytes) and the nonce (12), a byte of ciphertext.
    let mut copies = 0;
    let mut from = 0;
    while let Some(found) = find(&bytes[from..], landmark.as_bytes()) {
        let at = from + found + landmark.len();
        bytes[at + 8 + 12 + 5] ^= 0x40;
        copies += 1;
        from = at;
    }
    assert!(copies > 0, "the landmark is on disk");
    std::fs::write(&path, &bytes).unwrap();

    let db = open(dir.path());
    let err = db.read_stream("a", ReadOptions::forwards()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Encryption, "{err}");
    let err = db.read_stream("a", ReadOptions::forwards().from(1).limit(1)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Encryption, "{err}");
    // Everything else reads.
    assert_eq!(db.read_stream("a", ReadOptions::forwards().limit(1)).unwrap()[0].data, b"first");
    assert_eq!(db.read_stream("a", ReadOptions::forwards().from(2)).unwrap()[0].data, b"third");
    assert_eq!(db.read_stream("b", ReadOptions::forwards()).unwrap()[0].data, b"other");
    assert_eq!(db.read_all(ReadAllOptions::forwards().from(2)).unwrap().len(), 2);
    // And the store still takes writes.
    db.append("a", ExpectedVersion::Exact(2), vec![EventData::binary("T", b"fourth".to_vec())]).unwrap();
}

#[test]
fn a_shredded_stream_cannot_be_read_or_revived_and_its_key_is_gone_from_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    write_everything(&db);
    // A consumer group parks a copy of one of user-1's events.
    db.create_group(
        "g",
        GroupTarget::Stream("user-1".into()),
        SubscriptionStart::Start,
        GroupSettings::default(),
    )
    .unwrap();
    let member = db.join_group("g", "m").unwrap();
    let first = member.next_blocking().unwrap();
    member.nack(&first, NackAction::Park).unwrap();
    drop(member);
    assert_eq!(db.read_stream("$parked-g", ReadOptions::forwards()).unwrap()[0].data, payload("data0", 12));
    let head = db.head_position().unwrap();
    let before = db.read_all(ReadAllOptions::forwards()).unwrap();

    // The attacker's scan finds user-1's key (stream id 0) while it lives: it can succeed.
    db.close();
    drop(db);
    let found = wrapped_keys_found(dir.path(), MASTER, 0..4);
    assert!(found.iter().any(|(name, _, id)| name.ends_with("keys.graveyard") && *id == 0), "{found:?}");

    let db = open(dir.path());
    db.shred_stream("user-1").unwrap();
    db.shred_stream("user-1").unwrap(); // twice is fine
    assert_eq!(db.shred_stream("nobody").unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(db.shred_stream("$parked-g").unwrap_err().code(), ErrorCode::InvalidArgument);

    // The log keeps every event, in place; user-1's read back shredded, without data.
    let after = db.read_all(ReadAllOptions::forwards()).unwrap();
    assert_eq!(db.head_position().unwrap(), head);
    assert_eq!(after.len(), before.len());
    for (a, b) in after.iter().zip(&before) {
        assert_eq!(
            (a.position, a.revision, &a.stream, a.id, &a.event_type),
            (b.position, b.revision, &b.stream, b.id, &b.event_type)
        );
        // The parked copy of user-1's event is shredded with it.
        let shredded = a.stream == "user-1" || a.stream == "$parked-g";
        assert_eq!(a.shredded, shredded, "{} at {}", a.stream, a.position);
        if shredded {
            assert!(a.data.is_empty() && a.metadata.is_empty());
        } else {
            assert_eq!(a.data, b.data);
        }
    }
    let info = db.stream_info("user-1").unwrap();
    assert!(info.shredded);
    assert!(!db.stream_info("user-2").unwrap().shredded);
    assert!(db.get_snapshot("user-1").unwrap().is_none());
    // No revival under a new key.
    let err =
        db.append("user-1", ExpectedVersion::Any, vec![EventData::binary("T", b"x".to_vec())]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StreamDeleted, "{err}");
    let err = db.save_snapshot("user-1", 0, b"x".to_vec()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StreamDeleted, "{err}");

    // Subscriptions and groups pass over shredded events without failing.
    let mut sub =
        db.subscribe_to_all(SubscribeOptions::from_start().filter(Filter::stream_prefix("user-"))).unwrap();
    let mut seen = Vec::new();
    while let Some(message) = sub.next_blocking() {
        match message.unwrap() {
            SubscriptionMessage::Event(e) => seen.push(e.stream),
            SubscriptionMessage::CaughtUp => break,
        }
    }
    assert_eq!(seen, vec!["user-2".to_string()]);
    db.create_group(
        "g2",
        GroupTarget::All(Filter::default()),
        SubscriptionStart::Start,
        GroupSettings::default(),
    )
    .unwrap();
    let member = db.join_group("g2", "m").unwrap();
    let delivery = member.next_blocking().unwrap();
    assert_eq!(delivery.event.stream, "user-2");
    member.ack(&delivery).unwrap();
    // The replay of g's parked copy passes over it too.
    assert_eq!(db.replay_parked("g", None).unwrap().revisions, 0..1);
    let member = db.join_group("g", "m").unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(member.next_blocking().map(|d| d.event.stream));
    });
    let nothing = rx.recv_timeout(Duration::from_millis(500));
    assert!(nothing.is_err(), "the shredded copy was handed back: {nothing:?}");
    db.close();
    drop(db);

    // On disk: the key is nowhere, not even for someone holding the master key.
    let found = wrapped_keys_found(dir.path(), MASTER, 0..4);
    assert!(found.iter().all(|(_, _, id)| *id != 0), "user-1's key is still on disk: {found:?}");
    // user-2's key (stream id 1) is still found: the scan still works.
    assert!(found.iter().any(|(_, _, id)| *id == 1), "{found:?}");

    // After a reopen, all of it holds.
    let db = open(dir.path());
    let events = db.read_stream("user-1", ReadOptions::forwards()).unwrap();
    assert_eq!(events.len(), SIZES.len());
    assert!(events.iter().all(|e| e.shredded && e.data.is_empty()));
    assert_eq!(
        db.append("user-1", ExpectedVersion::Any, vec![EventData::binary("T", vec![1])]).unwrap_err().code(),
        ErrorCode::StreamDeleted
    );
}

#[test]
fn rotation_rewraps_every_key_online_and_retires_the_old_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    write_everything(&db);
    db.append("user-3", ExpectedVersion::Any, vec![EventData::binary("T", b"three".to_vec())]).unwrap();
    db.shred_stream("user-3").unwrap();

    // Reads go on from other threads while the keys are rewrapped.
    let reader = {
        let db = db.clone();
        std::thread::spawn(move || {
            for _ in 0..200 {
                let events = db.read_stream("user-2", ReadOptions::forwards()).unwrap();
                assert!(events[0].data.starts_with(b"{\"email\""));
            }
        })
    };
    db.rotate_master_key(key(OTHER)).unwrap();
    reader.join().unwrap();
    // Writes after it: new streams get keys wrapped by the new master key.
    db.append("user-4", ExpectedVersion::Any, vec![EventData::binary("T", b"four".to_vec())]).unwrap();
    assert_eq!(
        db.read_stream("user-1", ReadOptions::forwards()).unwrap()[6].data,
        payload("data6", 1_100_000)
    );
    // In this process, the store now opens with the new key only.
    assert_eq!(Db::open_with(options(dir.path(), MASTER)).unwrap_err().code(), ErrorCode::Encryption);
    drop(Db::open_with(options(dir.path(), OTHER)).unwrap());
    db.close();
    drop(db);

    assert_eq!(Db::open_with(options(dir.path(), MASTER)).unwrap_err().code(), ErrorCode::Encryption);
    // No file holds a key the old master key opens any more.
    assert_eq!(wrapped_keys_found(dir.path(), MASTER, 0..6), Vec::new());
    let found = wrapped_keys_found(dir.path(), OTHER, 0..6);
    let mut ids: Vec<u64> = found.iter().map(|(_, _, id)| *id).collect();
    ids.sort();
    // user-1, user-2 and user-4 (ids 0, 1, 3); user-3 (id 2) stays shredded.
    assert_eq!(ids, vec![0, 1, 3], "{found:?}");

    let db = Db::open_with(options(dir.path(), OTHER)).unwrap();
    assert_eq!(db.read_stream("user-4", ReadOptions::forwards()).unwrap()[0].data, b"four");
    assert!(db.read_stream("user-3", ReadOptions::forwards()).unwrap()[0].shredded);
    // And again, back to the first key.
    db.rotate_master_key(key(MASTER)).unwrap();
    drop(db);
    let db = open(dir.path());
    assert_eq!(db.read_stream("user-2", ReadOptions::forwards()).unwrap().len(), 1);
}

#[test]
fn a_changed_key_id_cannot_pass_an_event_off_as_shredded() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let landmark = "application/x-key-id-landmark";
    db.append("a", ExpectedVersion::Any, vec![EventData::new("T", payload("victim", 64), landmark)]).unwrap();
    db.append("b", ExpectedVersion::Any, vec![EventData::binary("T", b"other".to_vec())]).unwrap();
    db.shred_stream("b").unwrap();
    drop(db);
    // Point every copy of a's event at b's key (stream id 1), which is shredded.
    let path = dir.path().join("data.mdb");
    let mut bytes = std::fs::read(&path).unwrap();
    let mut from = 0;
    while let Some(found) = find(&bytes[from..], landmark.as_bytes()) {
        let at = from + found + landmark.len();
        bytes[at..at + 8].copy_from_slice(&1u64.to_le_bytes());
        from = at;
    }
    assert!(from > 0, "the landmark is on disk");
    std::fs::write(&path, &bytes).unwrap();
    let db = open(dir.path());
    let err = db.read_stream("a", ReadOptions::forwards()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Encryption, "{err}");
}

#[test]
fn copies_of_parked_copies_are_shredded_with_the_stream_they_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.append("user-9", ExpectedVersion::Any, vec![EventData::binary("T", payload("copy", 40))]).unwrap();
    let settings = GroupSettings::default();
    db.create_group("g", GroupTarget::Stream("user-9".into()), SubscriptionStart::Start, settings.clone())
        .unwrap();
    let member = db.join_group("g", "m").unwrap();
    let delivery = member.next_blocking().unwrap();
    member.nack(&delivery, NackAction::Park).unwrap();
    // A second group consumes g's parked stream and parks the copy again.
    db.create_group("h", GroupTarget::Stream("$parked-g".into()), SubscriptionStart::Start, settings)
        .unwrap();
    let member = db.join_group("h", "m").unwrap();
    let delivery = member.next_blocking().unwrap();
    member.nack(&delivery, NackAction::Park).unwrap();
    assert_eq!(db.read_stream("$parked-h", ReadOptions::forwards()).unwrap()[0].data, payload("copy", 40));
    db.shred_stream("user-9").unwrap();
    for stream in ["user-9", "$parked-g", "$parked-h"] {
        let events = db.read_stream(stream, ReadOptions::forwards()).unwrap();
        assert!(events.iter().all(|e| e.shredded && e.data.is_empty()), "{stream}");
    }
}

#[test]
fn a_first_open_that_stopped_while_creating_the_keyring_is_made_good() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    // As if the process died before the keyring's header reached the disk.
    std::fs::write(dir.path().join("keys.graveyard"), b"").unwrap();
    let db = open(dir.path());
    db.append("s", ExpectedVersion::Any, vec![EventData::binary("T", b"x".to_vec())]).unwrap();
    drop(db);
    assert_eq!(open(dir.path()).read_stream("s", ReadOptions::forwards()).unwrap()[0].data, b"x");
    // With a stream written, the keyring is never made anew: its loss is reported.
    std::fs::write(dir.path().join("keys.graveyard"), b"").unwrap();
    assert_eq!(Db::open_with(options(dir.path(), MASTER)).unwrap_err().code(), ErrorCode::Corruption);
}
