//! The command-line client (`graveyard streams`, `read`, `tail`, `append`, `info`, `schemas`,
//! `groups`, `shred`, `stats`, `export`, `import`, `completions`) run as a user runs it: the real
//! binary against a real node, a cluster and an embedded directory, with its output, exit codes
//! and refusals checked, and the store checked unchanged after every refusal.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{Node, NodeOptions, TestCluster, BINARY};
use graveyard::runtime::Next;
use graveyard::{ClientOptions, GroupSettings, GroupTarget, NackAction, Store, SubscriptionStart};
use serde_json::Value;

/// The variables a client command reads, removed so that the machine's own cannot leak in.
const CLIENT_VARIABLES: [&str; 4] =
    ["GRAVEYARD_ENDPOINTS", "GRAVEYARD_TOKEN_FILE", "GRAVEYARD_CA_FILE", "GRAVEYARD_MASTER_KEY_FILE"];

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command.args(args).stdin(Stdio::null());
    for var in CLIENT_VARIABLES {
        command.env_remove(var);
    }
    command
}

/// Runs a client command to its end.
fn run(args: &[&str]) -> Output {
    command(args).output().expect("run the graveyard binary")
}

/// Runs a client command against `endpoints`.
fn on(endpoints: &str, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--endpoints", endpoints]);
    run(&all)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The output of a command that must succeed.
#[track_caller]
fn ok(output: Output) -> String {
    assert!(output.status.success(), "failed ({}): {}{}", output.status, stderr(&output), stdout(&output));
    stdout(&output)
}

/// A command that must fail with `code`, naming each of `needles` on stderr, printing nothing.
#[track_caller]
fn refused(output: Output, code: i32, needles: &[&str]) {
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(code), "exit code of: {err}{}", stdout(&output));
    for needle in needles {
        assert!(err.contains(needle), "stderr does not name '{needle}': {err}");
    }
    assert!(output.stdout.is_empty(), "a refused command printed: {}", stdout(&output));
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// The events of `$all` as `read --json` gives them, without what differs between two stores
/// holding the same events (positions, commit times, system streams).
fn comparable_events(text: &str) -> Vec<Value> {
    json_lines(text)
        .into_iter()
        .filter(|e| !e["stream"].as_str().unwrap().starts_with('$'))
        .map(|mut e| {
            let object = e.as_object_mut().unwrap();
            object.remove("position");
            object.remove("time");
            e
        })
        .collect()
}

#[test]
fn appends_reads_and_listings_against_a_node() {
    let runtime = runtime();
    let node = runtime.block_on(Node::start());
    let at = node.endpoint();
    let dir = tempfile::tempdir().unwrap();

    // Appends: JSON text, a binary file, stdin, an id and an expected version.
    assert_eq!(
        ok(on(&at, &["append", "order-1", "--type", "OrderPlaced", "--data", r#"{"total": 12.50}"#])),
        "appended to order-1 at revision 0 (position 0)\n"
    );
    let appended = ok(on(
        &at,
        &["append", "order-1", "--type", "OrderPaid", "--data", "{}", "--expected", "0", "--json"],
    ));
    assert_eq!(serde_json::from_str::<Value>(&appended).unwrap()["last_revision"], 1);
    let binary = dir.path().join("blob");
    std::fs::write(&binary, [0u8, 159, 146, 150, 255]).unwrap();
    let blob_arg = format!("@{}", binary.display());
    ok(on(
        &at,
        &[
            "append",
            "blob-1",
            "--type",
            "Blob",
            "--content-type",
            "application/octet-stream",
            "--data",
            &blob_arg,
        ],
    ));
    let mut child = command(&[
        "append",
        "user-1",
        "--type",
        "UserRegistered",
        "--data",
        "-",
        "--metadata",
        r#"{"by":"cli"}"#,
    ])
    .args(["--endpoints", &at, "--id", "0192b3a4-0000-7000-8000-000000000001"])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child.stdin.take().unwrap().write_all(br#"{"name": "Ada"}"#).unwrap();
    ok(child.wait_with_output().unwrap());

    // Refusals name the problem, exit by class and change nothing.
    refused(
        on(&at, &["append", "order-1", "--type", "X", "--data", "{}", "--expected", "7"]),
        4,
        &["wrong expected version", "expected revision 7, actual revision 1"],
    );
    refused(on(&at, &["append", "order-1", "--type", "X", "--data", "{oops"]), 2, &["not valid JSON"]);
    refused(
        on(&at, &["append", "order-1", "--type", "X", "--data", "@/does/not/exist"]),
        2,
        &["--data", "cannot be read"],
    );
    refused(
        on(&at, &["append", "order-1", "--type", "X", "--data", "{}", "--expected", "maybe"]),
        2,
        &["--expected"],
    );
    refused(on(&at, &["append", "$all", "--type", "X", "--data", "{}"]), 2, &["reserved"]);
    refused(
        on(&at, &["append", "order-1", "--type", "X", "--data", "{}", "--id", "nope"]),
        2,
        &["not a UUID"],
    );

    // Streams: a table, JSON lines, a prefix, pages by cursor.
    let table = ok(on(&at, &["streams"]));
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("STREAM") && lines[0].contains("EVENTS") && lines[0].contains("STATE"),
        "{table}"
    );
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[2].starts_with("order-1 ") && lines[2].contains(" 2 ") && lines[2].contains("live"),
        "{table}"
    );
    let listed = json_lines(&ok(on(&at, &["streams", "--json", "--prefix", "o"])));
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0]["name"].as_str(), listed[0]["next_revision"].as_u64()), (Some("order-1"), Some(2)));
    let page = json_lines(&ok(on(&at, &["streams", "--json", "--limit", "1", "--after", "blob-1"])));
    assert_eq!(page[0]["name"], "order-1");
    assert_eq!(ok(on(&at, &["streams", "--json", "--prefix", "zzz"])), "");
    ok(on(&at, &["streams", "--limit", "18446744073709551615"]));

    // Reads: people's lines, JSON lines byte for byte, both directions, $all with filters.
    let text = ok(on(&at, &["read", "order-1"]));
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.starts_with("#0") && text.contains("order-1@0") && text.contains(r#"{"total": 12.50}"#),
        "{text}"
    );
    let events = json_lines(&ok(on(&at, &["read", "order-1", "--json", "--backwards", "--limit", "1"])));
    assert_eq!((events.len(), events[0]["type"].as_str()), (1, Some("OrderPaid")));
    let events = json_lines(&ok(on(&at, &["read", "order-1", "--json", "--from", "1"])));
    assert_eq!(events[0]["revision"], 1);
    let raw = ok(on(&at, &["read", "order-1", "--json", "--limit", "1"]));
    assert!(raw.contains(r#""data":{"total": 12.50}"#), "data is kept as written: {raw}");
    let blob = json_lines(&ok(on(&at, &["read", "blob-1", "--json"])));
    assert_eq!(blob[0]["data_base64"], "AJ+Slv8=");
    let user = json_lines(&ok(on(&at, &["read", "user-1", "--json"])));
    assert_eq!(user[0]["id"], "0192b3a4-0000-7000-8000-000000000001");
    assert_eq!(
        (user[0]["data"]["name"].as_str(), user[0]["metadata"]["by"].as_str()),
        (Some("Ada"), Some("cli"))
    );
    let all = json_lines(&ok(on(&at, &["read", "$all", "--json"])));
    assert_eq!(all.iter().map(|e| e["position"].as_u64().unwrap()).collect::<Vec<_>>(), [0, 1, 2, 3]);
    let paid = json_lines(&ok(on(&at, &["read", "$all", "--json", "--type", "OrderPaid"])));
    assert_eq!(paid.len(), 1);
    let by_prefix =
        json_lines(&ok(on(&at, &["read", "$all", "--json", "--prefix", "user-", "--prefix", "blob-"])));
    assert_eq!(by_prefix.len(), 2);
    assert_eq!(
        json_lines(&ok(on(&at, &["read", "$all", "--json", "--backwards", "--limit", "1"])))[0]["position"],
        3
    );
    refused(on(&at, &["read", "nope"]), 3, &["stream 'nope' does not exist"]);
    refused(on(&at, &["read", "order-1", "--type", "X"]), 2, &["--type and --prefix filter $all"]);
    refused(on(&at, &["read", "order-1", "--limit", "-1"]), 2, &["'-1'"]);
    refused(on(&at, &["read", "order-1", "--from", "lots"]), 2, &["--from"]);
    // A reader that stops early (`| head -1`) ends the command quietly.
    let head = Command::new("sh")
        .arg("-c")
        .arg(format!("'{BINARY}' read '$all' --endpoints {at} | head -1"))
        .output()
        .unwrap();
    assert!(head.status.success() && stdout(&head).lines().count() == 1, "{}", stderr(&head));

    // Info.
    let info = ok(on(&at, &["info", "order-1"]));
    assert!(
        info.contains("current revision") && info.contains("next revision") && info.contains(" 2"),
        "{info}"
    );
    let info: Value = serde_json::from_str(&ok(on(&at, &["info", "order-1", "--json"]))).unwrap();
    assert_eq!((info["current"].as_u64(), info["deleted"].as_bool()), (Some(1), Some(false)));
    refused(on(&at, &["info", "nope"]), 3, &["does not exist"]);

    // Stats.
    let stats: Value = serde_json::from_str(&ok(on(&at, &["stats", "--json"]))).unwrap();
    assert_eq!(
        (stats["nodes"][0]["head_position"].as_u64(), stats["nodes"][0]["streams"].as_u64()),
        (Some(4), Some(3))
    );
    assert!(ok(on(&at, &["stats"])).contains("events ($all)"));

    // Nothing a refusal touched changed the store.
    assert_eq!(json_lines(&ok(on(&at, &["read", "$all", "--json"]))).len(), 4);
}

#[test]
fn schemas_groups_and_tail_against_a_node() {
    let runtime = runtime();
    let node = runtime.block_on(Node::start());
    let at = node.endpoint();
    let dir = tempfile::tempdir().unwrap();

    // Schemas: upsert from a file and inline, list, show, and the refusals.
    let file = dir.path().join("user.json");
    std::fs::write(&file, r#"{"name":"UserRegistered","fields":[{"name":"age","type":"integer","min":18}]}"#)
        .unwrap();
    let file_arg = format!("@{}", file.display());
    assert_eq!(
        ok(on(&at, &["schemas", "upsert", &file_arg])),
        "schema UserRegistered: registered version 1\n"
    );
    assert_eq!(
        ok(on(&at, &["schemas", "upsert", &file_arg])),
        "schema UserRegistered: unchanged, still version 1\n"
    );
    let upsert = ok(on(
        &at,
        &[
            "schemas",
            "upsert",
            "--json",
            r#"{"name":"UserRegistered","fields":[{"name":"age","type":"integer","min":16}]}"#,
        ],
    ));
    assert_eq!(serde_json::from_str::<Value>(&upsert).unwrap()["version"], 2);
    let list = ok(on(&at, &["schemas", "list"]));
    assert!(list.lines().nth(1).unwrap().starts_with("UserRegistered  2"), "{list}");
    let first: Value =
        serde_json::from_str(&ok(on(&at, &["schemas", "show", "UserRegistered", "--version", "1"]))).unwrap();
    assert_eq!(first["schema"]["fields"][0]["min"], 18.0);
    refused(on(&at, &["schemas", "upsert", r#"{"name":"X","bogus":1}"#]), 2, &["not valid", "bogus"]);
    refused(on(&at, &["schemas", "upsert", "{"]), 2, &["not valid"]);
    refused(
        on(
            &at,
            &[
                "schemas",
                "upsert",
                r#"{"name":"X","fields":[{"name":"a","type":"integer","min":5,"max":1}]}"#,
            ],
        ),
        5,
        &["invalid schema"],
    );
    refused(on(&at, &["schemas", "show", "Nope"]), 3, &["Nope"]);
    refused(
        on(&at, &["append", "user-1", "--type", "UserRegistered", "--data", r#"{"age":3}"#]),
        5,
        &["age"],
    );
    assert_eq!(json_lines(&ok(on(&at, &["schemas", "list", "--json"]))).len(), 1);

    // Groups: one event parked by a member shows in the listing, and a replay hands it back.
    ok(on(&at, &["append", "jobs", "--type", "Job", "--data", r#"{"n":1}"#]));
    let store = Store::connect_blocking(&[node.url()], ClientOptions::default()).unwrap();
    store
        .create_group_blocking(
            "workers",
            GroupTarget::Stream("jobs".into()),
            SubscriptionStart::Start,
            GroupSettings::default(),
        )
        .unwrap();
    let member = store.join_group_blocking("workers", "w1").unwrap();
    let delivery = match member.next_blocking(Some(Duration::from_secs(10))).unwrap() {
        Next::Item(d) => d,
        other => panic!("no delivery: {other:?}"),
    };
    member.nack_blocking(&[delivery.id], NackAction::Park).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let listed = loop {
        let listed = json_lines(&ok(on(&at, &["groups", "list", "--json"])));
        if listed[0]["parked"] == 1 || std::time::Instant::now() > deadline {
            break listed;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!((listed[0]["name"].as_str(), listed[0]["parked"].as_u64()), (Some("workers"), Some(1)));
    let table = ok(on(&at, &["groups", "list"]));
    assert!(table.starts_with("GROUP") && table.contains("workers") && table.contains("jobs"), "{table}");
    let shown: Value = serde_json::from_str(&ok(on(&at, &["groups", "show", "workers"]))).unwrap();
    assert_eq!(shown["parked_stream"], "$parked-workers");
    let replay = ok(on(&at, &["groups", "replay", "workers"]));
    assert!(replay.starts_with("replayed 1 parked event(s) of group workers; 0 still parked"), "{replay}");
    refused(on(&at, &["groups", "show", "nope"]), 3, &["nope"]);
    refused(on(&at, &["groups", "replay", "nope"]), 3, &["nope"]);
    drop(member);
    store.close();

    // Tail: follows $all from now, filtered, for a number of events; a stream from its start.
    let tail = command(&["tail", "--json", "--limit", "2", "--type", "Ping", "--endpoints", &at])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The subscription is live once the tail waits: appends after that must reach it.
    std::thread::sleep(Duration::from_millis(800));
    for (stream, event_type) in [("p-1", "Ping"), ("p-1", "Other"), ("p-2", "Ping")] {
        ok(on(&at, &["append", stream, "--type", event_type, "--data", "{}"]));
    }
    let tailed = json_lines(&ok(tail.wait_with_output().unwrap()));
    assert_eq!(tailed.iter().map(|e| e["stream"].as_str().unwrap()).collect::<Vec<_>>(), ["p-1", "p-2"]);
    let history = ok(on(&at, &["tail", "p-1", "--from-start", "--limit", "2"]));
    assert!(history.contains("p-1@0") && history.contains("p-1@1"), "{history}");
    refused(on(&at, &["tail", "p-1", "--prefix", "x"]), 2, &["--type and --prefix filter $all"]);

    // Shred asks for confirmation, and is refused on a store without encryption.
    refused(on(&at, &["shred", "p-1"]), 2, &["--yes"]);
    refused(on(&at, &["shred", "p-1", "--yes"]), 2, &["not encrypted"]);

    // Completions for a shell.
    assert!(ok(run(&["completions", "bash"])).contains("graveyard"));
    refused(run(&["completions", "cmd"]), 2, &["cmd"]);
}

#[test]
fn tokens_tls_less_failures_and_encrypted_nodes() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let key = dir.path().join("master.key");
    std::fs::write(&key, "ab".repeat(32)).unwrap();
    let node = runtime.block_on(Node::start_with(NodeOptions {
        args: vec![
            "--token-file".into(),
            token.to_str().unwrap().into(),
            "--master-key-file".into(),
            key.to_str().unwrap().into(),
        ],
        token: Some("s3cret-token".into()),
        ..Default::default()
    }));
    let at = node.endpoint();
    let token_file = token.to_str().unwrap();

    refused(on(&at, &["streams"]), 6, &["unauthenticated"]);
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "nope").unwrap();
    refused(on(&at, &["streams", "--token-file", wrong.to_str().unwrap()]), 6, &["unauthenticated"]);
    refused(on(&at, &["streams", "--token-file", "/does/not/exist"]), 2, &["--token-file", "cannot be read"]);
    let with_token = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--token-file", token_file]);
        on(&at, &all)
    };
    ok(with_token(&["append", "person-1", "--type", "Named", "--data", r#"{"name":"Ada"}"#]));
    // The token also comes from the variable a node reads.
    let from_env = command(&["streams", "--json", "--endpoints", &at])
        .env("GRAVEYARD_TOKEN_FILE", token_file)
        .output()
        .unwrap();
    assert_eq!(json_lines(&ok(from_env)).len(), 1);

    // Crypto-shredding through the command line.
    assert_eq!(ok(with_token(&["shred", "person-1", "--yes"])), "shredded person-1\n");
    let events = json_lines(&ok(with_token(&["read", "person-1", "--json"])));
    assert_eq!((events[0]["shredded"].as_bool(), events[0].get("data")), (Some(true), None));
    assert!(ok(with_token(&["read", "person-1"])).contains("<shredded>"));
    let listed = ok(with_token(&["streams"]));
    assert!(listed.contains("shredded"), "{listed}");
    refused(with_token(&["append", "person-1", "--type", "Named", "--data", "{}"]), 4, &["deleted"]);

    // No node there: UNAVAILABLE, quickly; a key file only opens an embedded store.
    let nobody = format!("127.0.0.1:{}", common::free_port());
    refused(on(&nobody, &["streams"]), 7, &["unavailable"]);
    refused(on(&at, &["streams", "--master-key-file", key.to_str().unwrap()]), 2, &["--master-key-file"]);
    refused(run(&["streams", "--endpoints", &at, "--data-dir", "x"]), 2, &["--data-dir"]);
    // The endpoints' variable names the default node; it never stands in the way of --data-dir.
    let via_env = command(&["streams", "--json", "--token-file", token_file])
        .env("GRAVEYARD_ENDPOINTS", &at)
        .output()
        .unwrap();
    assert_eq!(json_lines(&ok(via_env)).len(), 1);
    let empty = tempfile::tempdir().unwrap();
    let embedded = command(&["streams", "--data-dir", empty.path().to_str().unwrap()])
        .env("GRAVEYARD_ENDPOINTS", &at)
        .output()
        .unwrap();
    refused(embedded, 3, &["holds no GraveyardDB store"]);
}

#[test]
fn streams_of_every_member_of_a_cluster() {
    let runtime = runtime();
    let cluster = runtime.block_on(TestCluster::start(2, NodeOptions::default()));
    let at = cluster.nodes[0].endpoint();
    let names: Vec<String> = (0..12).map(|i| format!("s-{i:02}")).collect();
    for name in &names {
        ok(on(&at, &["append", name, "--type", "T", "--data", "{}"]));
    }
    let listed = json_lines(&ok(on(&at, &["streams", "--json"])));
    assert_eq!(listed.iter().map(|s| s["name"].as_str().unwrap()).collect::<Vec<_>>(), names);
    let nodes: std::collections::BTreeSet<&str> =
        listed.iter().map(|s| s["node"].as_str().unwrap()).collect();
    assert_eq!(nodes.into_iter().collect::<Vec<_>>(), ["n1", "n2"], "streams live on both members");
    assert_eq!(json_lines(&ok(on(&at, &["streams", "--json", "--limit", "5"]))).len(), 5);
    let table = ok(on(&at, &["streams"]));
    assert!(table.lines().next().unwrap().ends_with("NODE"), "{table}");
    let stats: Value = serde_json::from_str(&ok(on(&at, &["stats", "--json"]))).unwrap();
    let total: u64 = stats["nodes"].as_array().unwrap().iter().map(|n| n["streams"].as_u64().unwrap()).sum();
    assert_eq!(total, 12);
    // An export of a cluster holds every member's events; imported into one store, the same.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cluster.jsonl");
    ok(on(&at, &["export", "--out", file.to_str().unwrap()]));
    let data = dir.path().join("one");
    ok(run(&["import", file.to_str().unwrap(), "--data-dir", data.to_str().unwrap()]));
    let mut copied =
        comparable_events(&ok(run(&["read", "$all", "--json", "--data-dir", data.to_str().unwrap()])));
    let mut original: Vec<Value> = Vec::new();
    for name in &names {
        original.extend(comparable_events(&ok(on(&at, &["read", name, "--json"]))));
    }
    let key = |e: &Value| e["stream"].as_str().unwrap().to_owned();
    copied.sort_by_key(key);
    assert_eq!(copied, original);
}

/// Fills a store with what an export must carry: two schema versions, the second refusing
/// events the first took, JSON and binary events, data that is JSON `null`, metadata, a
/// soft-deleted stream, one deleted and then written again, and a tombstoned stream.
fn fill(at: &str, dir: &Path) {
    let schema = r#"{"name":"UserRegistered","compatibility":"none","fields":[{"name":"age","type":"integer","min":18}]}"#;
    ok(on(at, &["schemas", "upsert", schema]));
    let user = |i: u32| {
        let stream = format!("user-{}", i % 3);
        ok(on(
            at,
            &["append", &stream, "--type", "UserRegistered", "--data", &format!(r#"{{"age": {}}}"#, 20 + i)],
        ));
    };
    (0..30).for_each(user);
    // Version 2 refuses ages below 40, which most of the events above have: an import must
    // check each event against the version that checked it.
    ok(on(at, &["schemas", "upsert", &schema.replace("18", "40")]));
    (30..33).for_each(user);
    ok(on(at, &["append", "nulls", "--type", "N", "--data", "null", "--metadata", "null"]));
    for round in 0..2 {
        ok(on(at, &["append", "again", "--type", "A", "--data", &format!(r#"{{"round":{round}}}"#)]));
    }
    let blob = dir.join("blob");
    std::fs::write(&blob, (0..=255u8).collect::<Vec<_>>()).unwrap();
    ok(on(
        at,
        &[
            "append",
            "blob",
            "--type",
            "B",
            "--content-type",
            "application/octet-stream",
            "--data",
            &format!("@{}", blob.display()),
        ],
    ));
    ok(on(
        at,
        &[
            "append",
            "pretty",
            "--type",
            "P",
            "--data",
            "{\n  \"a\": 1\n}",
            "--metadata",
            "{\"m\": [1, 2.50]}",
        ],
    ));
    ok(on(at, &["append", "gone", "--type", "G", "--data", "{}"]));
    ok(on(at, &["append", "dead", "--type", "D", "--data", "{}"]));
    let store = Store::connect_blocking(&[format!("http://{at}")], ClientOptions::default()).unwrap();
    store
        .set_stream_metadata_blocking(
            "user-0",
            graveyard::StreamMetadata { max_count: Some(100), ..Default::default() },
        )
        .unwrap();
    store.delete_stream_blocking("gone", graveyard::ExpectedVersion::Any).unwrap();
    store.tombstone_stream_blocking("dead", graveyard::ExpectedVersion::Any).unwrap();
    // Deleted, then written again: only the event after the delete is visible.
    store.delete_stream_blocking("again", graveyard::ExpectedVersion::Exact(1)).unwrap();
    store.close();
    ok(on(at, &["append", "again", "--type", "A", "--data", r#"{"round":2}"#]));
}

/// What two stores holding the same data agree on: user events, stream states, what a deleted
/// and written stream shows, metadata and schemas.
fn snapshot(target: &[&str]) -> (Vec<Value>, Vec<Value>, Vec<Value>, String, Vec<String>) {
    let with = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(target);
        ok(run(&all))
    };
    let events = comparable_events(&with(&["read", "$all", "--json"]));
    let streams = json_lines(&with(&["streams", "--json"]))
        .into_iter()
        .filter(|s| !s["name"].as_str().unwrap().starts_with('$'))
        .map(|mut s| {
            let object = s.as_object_mut().unwrap();
            object.remove("last_position");
            object.remove("node");
            s
        })
        .collect();
    let again = comparable_events(&with(&["read", "again", "--json"]));
    let metadata = with(&["info", "user-0", "--json"]);
    let schemas = ["1", "2"].map(|v| with(&["schemas", "show", "UserRegistered", "--version", v]));
    (events, streams, again, metadata, schemas.to_vec())
}

#[test]
fn export_and_import_round_trip_and_resume() {
    let runtime = runtime();
    let node = runtime.block_on(Node::start());
    let at = node.endpoint();
    let dir = tempfile::tempdir().unwrap();
    fill(&at, dir.path());

    let file = dir.path().join("backup.jsonl");
    let export = on(&at, &["export", "--out", file.to_str().unwrap()]);
    assert!(
        stderr(&export).contains("exported 2 schema version(s), 41 event(s) of 9 stream(s)"),
        "{}",
        stderr(&export)
    );
    ok(export);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.lines().next().unwrap().starts_with(r#"{"kind":"schema""#));
    assert!(
        text.contains(r#""kind":"metadata","stream":"user-0""#)
            && text.contains(r#""kind":"tombstone","stream":"dead""#)
    );
    assert!(text.contains(r#""kind":"delete","stream":"gone","revision":0"#));
    assert!(text.contains(r#""kind":"delete","stream":"again","revision":1"#));
    assert!(
        text.contains(r#""stream":"nulls","revision":0"#) && text.contains(r#""data":null,"metadata":null"#)
    );
    assert!(!text.contains("$schema"), "system streams stay out");
    // The export to stdout is the same.
    assert_eq!(ok(on(&at, &["export"])), text);
    // A full disk under stdout is an i/o failure (exit 8), not an internal one.
    let full = command(&["export", "--endpoints", &at])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(8), "{}", stderr(&full));
    assert!(stderr(&full).contains("No space left"), "{}", stderr(&full));

    // Imported into an embedded store, everything reads back the same, bytes included.
    let copy = dir.path().join("copy");
    let copy_arg = copy.to_str().unwrap();
    let imported = run(&["import", file.to_str().unwrap(), "--data-dir", copy_arg]);
    assert!(stderr(&imported).contains("41 event(s) applied"), "{}", stderr(&imported));
    ok(imported);
    assert!(!dir.path().join("backup.jsonl.import-checkpoint").exists());
    let original = snapshot(&["--endpoints", &at]);
    assert_eq!(snapshot(&["--data-dir", copy_arg]), original);
    assert_eq!(original.2.len(), 1, "only the event after the delete: {:?}", original.2);
    let nulls = json_lines(&ok(run(&["read", "nulls", "--json", "--data-dir", copy_arg])));
    assert_eq!((&nulls[0]["data"], &nulls[0]["metadata"]), (&Value::Null, &Value::Null));
    // Importing again writes nothing twice: every event is known by its id.
    ok(run(&["import", file.to_str().unwrap(), "--data-dir", copy_arg]));
    assert_eq!(snapshot(&["--data-dir", copy_arg]), original);

    // A bad line stops the import after everything before it; fixed, the import resumes there.
    let lines: Vec<&str> = text.lines().collect();
    let broken_at = 12;
    let mut broken: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    broken[broken_at] = r#"{"kind":"event","stream":"user-1","type":"X","data_base64":"!!"}"#.into();
    let partial = dir.path().join("partial.jsonl");
    std::fs::write(&partial, broken.join("\n") + "\n").unwrap();
    let resumed = dir.path().join("resumed");
    let resumed_arg = resumed.to_str().unwrap();
    refused(
        run(&["import", partial.to_str().unwrap(), "--data-dir", resumed_arg]),
        2,
        &[
            &format!("line {} of", broken_at + 1),
            "data_base64 is not base64",
            &format!("the {broken_at} line(s) before it"),
        ],
    );
    let checkpoint: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("partial.jsonl.import-checkpoint")).unwrap())
            .unwrap();
    assert_eq!(checkpoint["lines"], broken_at);
    let before = comparable_events(&ok(run(&["read", "$all", "--json", "--data-dir", resumed_arg])));
    assert_eq!(before.len(), broken_at - 1, "the schema line and the events before the bad line");
    // A file whose applied part changed is refused, unless told to start over.
    let mut changed = broken.clone();
    changed[1] = changed[1].replace("\"age\": 20", "\"age\": 99");
    std::fs::write(&partial, changed.join("\n") + "\n").unwrap();
    refused(
        run(&["import", partial.to_str().unwrap(), "--data-dir", resumed_arg]),
        2,
        &["changed since the import", "--restart"],
    );
    broken[broken_at] = lines[broken_at].to_string();
    std::fs::write(&partial, broken.join("\n") + "\n").unwrap();
    let rerun = run(&["import", partial.to_str().unwrap(), "--data-dir", resumed_arg]);
    assert!(
        stderr(&rerun).contains(&format!("resuming the import after line {broken_at}")),
        "{}",
        stderr(&rerun)
    );
    ok(rerun);
    assert_eq!(snapshot(&["--data-dir", resumed_arg]), original);

    // Garbage of every kind is refused with the line named, and a missing file too.
    let garbage = dir.path().join("garbage.jsonl");
    for (line, needle) in [
        ("not json", "not a JSON object"),
        (r#"{"kind":"event","type":"T"}"#, "not an event"),
        (
            r#"{"kind":"event","stream":"s","type":"T","data":{},"data_base64":"AA=="}"#,
            "both data and data_base64",
        ),
        (r#"{"kind":"event","stream":"s","type":"T","id":"x"}"#, "not a UUID"),
        (r#"{"kind":"spell","stream":"s"}"#, "unknown kind 'spell'"),
        (r#"{"kind":"metadata"}"#, "names no stream"),
        (r#"{"kind":"schema","schema":{"nom":"x"}}"#, "not a schema line"),
        (r#"{"kind":"event","stream":"s","type":"T","data":{},"metadta":{}}"#, "unknown field `metadta`"),
        (r#"{"kind":"delete","stream":"s","revison":3}"#, "unknown field `revison`"),
    ] {
        std::fs::write(&garbage, format!("{line}\n")).unwrap();
        let target = dir.path().join("garbage-store");
        refused(
            run(&["import", garbage.to_str().unwrap(), "--data-dir", target.to_str().unwrap(), "--restart"]),
            2,
            &["line 1", needle],
        );
    }
    std::fs::write(&garbage, [0xffu8, 0xfe, b'\n']).unwrap();
    refused(
        run(&["import", garbage.to_str().unwrap(), "--data-dir", copy_arg, "--restart"]),
        2,
        &["not UTF-8"],
    );
    refused(run(&["import", "/does/not/exist", "--data-dir", copy_arg]), 2, &["cannot be read"]);
    // A store-side refusal keeps its class: a schema violation exits 5.
    std::fs::write(
        &garbage,
        r#"{"kind":"event","stream":"u","type":"UserRegistered","data":{"age":1}}"#.to_owned() + "\n",
    )
    .unwrap();
    refused(
        run(&["import", garbage.to_str().unwrap(), "--data-dir", copy_arg, "--restart"]),
        5,
        &["line 1 of", "age"],
    );
    assert_eq!(snapshot(&["--data-dir", copy_arg]), original);
}

/// Lines of `text` as JSON events of an export (`kind: event`), for files written by hand.
fn event_line(stream: &str, revision: Option<u64>, id: Option<&str>, data: &str) -> String {
    let mut line = serde_json::json!({"kind": "event", "stream": stream, "type": "T", "data": serde_json::from_str::<Value>(data).unwrap()});
    if let Some(r) = revision {
        line["revision"] = r.into();
    }
    if let Some(id) = id {
        line["id"] = id.into();
    }
    line.to_string()
}

#[test]
fn imports_keep_revisions_merge_on_request_and_resume_safely() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let src = source.to_str().unwrap();
    Store::open(graveyard::Options::new(&source)).unwrap().close();
    let other = dir.path().join("other");
    Store::open(graveyard::Options::new(&other)).unwrap().close();
    for n in 0..3 {
        ok(run(&["append", "s", "--type", "T", "--data", &format!(r#"{{"n":{n}}}"#), "--data-dir", src]));
    }
    let first = dir.path().join("first.jsonl");
    ok(run(&["export", "--out", first.to_str().unwrap(), "--data-dir", src]));
    let target = dir.path().join("target");
    let tgt = target.to_str().unwrap();
    ok(run(&["import", first.to_str().unwrap(), "--data-dir", tgt]));

    // Exported again after more appends, the file's batch of `s` is partly in the target
    // already: the stored part is recognised, the rest appended after it.
    for n in 3..5 {
        ok(run(&["append", "s", "--type", "T", "--data", &format!(r#"{{"n":{n}}}"#), "--data-dir", src]));
    }
    let second = dir.path().join("second.jsonl");
    ok(run(&["export", "--out", second.to_str().unwrap(), "--data-dir", src]));
    ok(run(&["import", second.to_str().unwrap(), "--data-dir", tgt]));
    let read =
        |dir: &str, stream: &str| comparable_events(&ok(run(&["read", stream, "--json", "--data-dir", dir])));
    assert_eq!(read(tgt, "s"), read(src, "s"));

    // A target whose stream holds other events is a conflict: nothing is written there.
    let oth = other.to_str().unwrap();
    ok(run(&["append", "s", "--type", "Mine", "--data", "{}", "--data-dir", oth]));
    refused(
        run(&["import", second.to_str().unwrap(), "--data-dir", oth]),
        4,
        &[
            "lines 1-5 of",
            "stream 's' in the store holds revisions up to 0, not this file's events from revision 0",
            "--merge",
        ],
    );
    assert_eq!(read(oth, "s").len(), 1);
    // Nor where the stream was soft-deleted, which any expectation of no stream would pass.
    let store = Store::open(graveyard::Options::new(&other)).unwrap();
    store.delete_stream_blocking("s", graveyard::ExpectedVersion::Any).unwrap();
    store.close();
    refused(
        run(&["import", second.to_str().unwrap(), "--data-dir", oth]),
        4,
        &["lines 1-5 of", "stream 's'"],
    );
    let all = |dir: &str| comparable_events(&ok(run(&["read", "$all", "--json", "--data-dir", dir])));
    assert_eq!(all(oth).len(), 1, "nothing written");
    // --merge appends after what the stream holds; run again, it writes nothing twice.
    ok(run(&["import", second.to_str().unwrap(), "--data-dir", oth, "--merge", "--restart"]));
    ok(run(&["import", second.to_str().unwrap(), "--data-dir", oth, "--merge"]));
    let merged = all(oth);
    assert_eq!(merged.len(), 6);
    assert_eq!(merged[1]["revision"], 1);
    assert_eq!(merged[5]["data"]["n"], 4);

    // Lines without ids get ids from their place and text: a second run recognises them,
    // even when the first was cut short by a bad line in the middle of the stream's batch.
    let hand = dir.path().join("hand.jsonl");
    let lines = [
        event_line("h", None, None, r#"{"k":1}"#),
        event_line("h", None, None, r#"{"k":1}"#),
        "{broken".to_owned(),
        event_line("h", None, None, r#"{"k":2}"#),
    ];
    std::fs::write(&hand, lines.join("\n") + "\n").unwrap();
    let plain = dir.path().join("plain");
    let pln = plain.to_str().unwrap();
    refused(run(&["import", hand.to_str().unwrap(), "--data-dir", pln]), 2, &["line 3 of"]);
    assert_eq!(read(pln, "h").len(), 2, "two equal lines are two events");
    // The checkpoint belongs to that store: another one is refused, not silently skipped into.
    refused(
        run(&["import", hand.to_str().unwrap(), "--data-dir", tgt]),
        2,
        &["records an import into data-dir", "--restart"],
    );
    std::fs::write(&hand, [lines[0].clone(), lines[1].clone(), lines[3].clone()].join("\n") + "\n").unwrap();
    ok(run(&["import", hand.to_str().unwrap(), "--data-dir", pln, "--restart"]));
    ok(run(&["import", hand.to_str().unwrap(), "--data-dir", pln]));
    let h = read(pln, "h");
    assert_eq!(h.iter().map(|e| e["data"]["k"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 1, 2]);
    assert!(!dir.path().join("hand.jsonl.import-checkpoint.tmp").exists());

    // A line longer than allowed is refused before it is read whole.
    refused(
        run(&["import", second.to_str().unwrap(), "--data-dir", pln, "--max-line-bytes", "20"]),
        2,
        &["line 1 of", "longer than 20 bytes"],
    );
    // Schema versions keep their numbers: a store holding another version 1 is a conflict.
    let schemas = dir.path().join("schemas.jsonl");
    std::fs::write(
        &schemas,
        r#"{"kind":"schema","version":1,"schema":{"name":"T","fields":[{"name":"n","type":"integer"}]}}"#
            .to_owned()
            + "\n",
    )
    .unwrap();
    ok(run(&["schemas", "upsert", r#"{"name":"T","fields":[]}"#, "--data-dir", pln]));
    refused(
        run(&["import", schemas.to_str().unwrap(), "--data-dir", pln]),
        4,
        &["schema 'T' version 1 in the store differs"],
    );
    let fresh = dir.path().join("fresh");
    ok(run(&["import", schemas.to_str().unwrap(), "--data-dir", fresh.to_str().unwrap()]));
    ok(run(&["import", schemas.to_str().unwrap(), "--data-dir", fresh.to_str().unwrap()]));
    let listed = json_lines(&ok(run(&["schemas", "list", "--json", "--data-dir", fresh.to_str().unwrap()])));
    assert_eq!(listed[0]["version"], 1, "run twice, still one version");
}

#[test]
fn an_import_killed_midway_resumes_without_writing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.jsonl");
    // Runs of 700 events per stream (batches break inside and between runs), half of them
    // without ids (their ids come from their lines).
    let mut text = String::new();
    let mut next = [0u64; 3];
    for run in 0..900 {
        let stream = run % 3;
        for _ in 0..700 {
            let revision = next[stream];
            next[stream] += 1;
            let id = (revision % 2 == 0).then(|| graveyard::Uuid::new_v4().to_string());
            text.push_str(&event_line(
                &format!("k-{stream}"),
                Some(revision),
                id.as_deref(),
                r#"{"pad":"xxxxxxxxxxxxxxxx"}"#,
            ));
            text.push('\n');
        }
    }
    std::fs::write(&file, text).unwrap();
    let data = dir.path().join("data");
    let args = ["import", file.to_str().unwrap(), "--data-dir", data.to_str().unwrap()];
    let mut child = command(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let checkpoint = dir.path().join("big.jsonl.import-checkpoint");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !checkpoint.exists() && child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let killed = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(killed, "the import ended before a checkpoint: make the file larger");
    let again = run(&args);
    assert!(stderr(&again).contains("resuming the import after line"), "{}", stderr(&again));
    ok(again);
    for (stream, count) in next.iter().enumerate() {
        let events = json_lines(&ok(run(&[
            "read",
            &format!("k-{stream}"),
            "--json",
            "--data-dir",
            data.to_str().unwrap(),
        ])));
        assert_eq!(events.len() as u64, *count);
        assert!(events.iter().enumerate().all(|(i, e)| e["revision"] == i as u64));
    }
    let head = json_lines(&ok(run(&[
        "read",
        "$all",
        "--json",
        "--backwards",
        "--limit",
        "1",
        "--data-dir",
        data.to_str().unwrap(),
    ])));
    assert_eq!(head[0]["position"], 900 * 700 - 1, "nothing written twice");
}

#[test]
fn shredded_streams_stay_closed_through_export_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    std::fs::write(&key, "cd".repeat(32)).unwrap();
    let key_arg = key.to_str().unwrap();
    let source = dir.path().join("source");
    let master = || graveyard::crypto::Key::from_bytes(&[0xcd; 32]).unwrap();
    Store::open(graveyard::Options::new(&source).master_key(master())).unwrap().close();
    let on_dir = |path: &Path, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--data-dir", path.to_str().unwrap(), "--master-key-file", key_arg]);
        run(&all)
    };
    for stream in ["pii", "pii-deleted", "kept"] {
        ok(on_dir(&source, &["append", stream, "--type", "T", "--data", r#"{"name":"Ada"}"#]));
    }
    ok(on_dir(&source, &["shred", "pii", "--yes"]));
    ok(on_dir(&source, &["shred", "pii-deleted", "--yes"]));
    let store = Store::open(graveyard::Options::new(&source).master_key(master())).unwrap();
    store.delete_stream_blocking("pii-deleted", graveyard::ExpectedVersion::Any).unwrap();
    store.close();
    let file = dir.path().join("export.jsonl");
    let export = on_dir(&source, &["export", "--out", file.to_str().unwrap()]);
    assert!(stderr(&export).contains("2 shredded event(s) left out"), "{}", stderr(&export));
    ok(export);

    // Into an encrypted store: the streams are shredded there too, and take no events.
    let copy = dir.path().join("copy");
    ok(on_dir(&copy, &["import", file.to_str().unwrap()]));
    ok(on_dir(&copy, &["import", file.to_str().unwrap()]));
    let info: Value = serde_json::from_str(&ok(on_dir(&copy, &["info", "pii-deleted", "--json"]))).unwrap();
    assert_eq!((&info["shredded"], &info["deleted"]), (&Value::Bool(true), &Value::Bool(true)), "{info}");
    refused(on_dir(&copy, &["append", "pii", "--type", "T", "--data", "{}"]), 4, &["deleted"]);
    assert_eq!(json_lines(&ok(on_dir(&copy, &["read", "kept", "--json"])))[0]["data"]["name"], "Ada");

    // Into a store without encryption: refused with the way out, which closes the names.
    let plain = dir.path().join("plain");
    let pln = plain.to_str().unwrap();
    refused(
        run(&["import", file.to_str().unwrap(), "--data-dir", pln]),
        2,
        &["stream 'pii' was shredded", "--shredded-as-tombstones"],
    );
    ok(run(&["import", file.to_str().unwrap(), "--data-dir", pln, "--shredded-as-tombstones"]));
    refused(run(&["append", "pii", "--type", "T", "--data", "{}", "--data-dir", pln]), 4, &["deleted"]);
    refused(
        run(&["append", "pii-deleted", "--type", "T", "--data", "{}", "--data-dir", pln]),
        4,
        &["deleted"],
    );
}

#[test]
fn embedded_directories_that_no_process_holds() {
    let runtime = runtime();
    let mut node = runtime.block_on(Node::start());
    let at = node.endpoint();
    ok(on(&at, &["append", "s", "--type", "T", "--data", r#"{"n":1}"#]));
    let data = node.data_dir();
    let data_arg = data.to_str().unwrap();
    // While the node runs, its directory is its own.
    refused(run(&["read", "s", "--data-dir", data_arg]), 7, &["in use by another process"]);
    node.kill();
    let events = json_lines(&ok(run(&["read", "s", "--json", "--data-dir", data_arg])));
    assert_eq!(events[0]["data"]["n"], 1);
    ok(run(&["append", "s", "--type", "T", "--data", "{}", "--data-dir", data_arg]));
    assert!(ok(run(&["streams", "--data-dir", data_arg])).contains("s "));
    // A directory without a store is not made into one by a reading command.
    let empty = tempfile::tempdir().unwrap();
    refused(
        run(&["streams", "--data-dir", empty.path().to_str().unwrap()]),
        3,
        &["holds no GraveyardDB store"],
    );
    assert!(std::fs::read_dir(empty.path()).unwrap().next().is_none());
}
