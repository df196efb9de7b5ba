//! The runner's own tests: a malformed scenario never runs, answers that break the protocol
//! fail their step, the requests are the normalised ones the README promises, and matching
//! follows "Matching". The whole suite through a real executor in another process is
//! tests/process.rs.

use std::path::Path;

use serde_json::{json, Value};

use crate::runner::{
    self, base64_decode, base64_encode, bytes, differences, parse_scenario, string, Executor, Ids, Res,
};

fn parse(steps: Value) -> Res<runner::Scenario> {
    parse_scenario(&json!({ "name": "t", "description": "t", "steps": steps }), &mut Ids::default())
}

fn assert_malformed(steps: Value, fragment: &str) {
    match parse(steps.clone()) {
        Ok(_) => panic!("{steps} was accepted"),
        Err(e) => assert!(e.contains(fragment), "the refusal of {steps} ({e}) does not say {fragment:?}"),
    }
}

#[test]
fn every_unknown_key_op_code_or_session_fails_the_scenario() {
    assert_malformed(json!([{ "op": "head_positon" }]), "unknown op");
    assert_malformed(json!([{ "op": "head_position", "expect": { "head": 0 } }]), "unknown key \"head\"");
    assert_malformed(json!([{ "op": "read_all", "limt": 1 }]), "unknown key \"limt\"");
    assert_malformed(
        json!([{ "op": "append", "stream": "s", "events": [{ "type": "T", "dat": 1 }] }]),
        "unknown key \"dat\"",
    );
    assert_malformed(
        json!([{ "op": "read_stream", "stream": "s", "expect_error": { "code": "NOT_FOUNDD" } }]),
        "unknown error code",
    );
    assert_malformed(
        json!([{ "op": "read_stream", "stream": "s", "expect_error": { "code": "NOT_FOUND", "stream": "s" } }]),
        "unknown key \"stream\"",
    );
    assert_malformed(
        json!([{ "op": "upsert_schema", "schema": {}, "expect_error": { "code": "INVALID_SCHEMA", "problems": [] } }]),
        "unknown key \"problems\"",
    );
    assert_malformed(
        json!([{ "op": "read_stream", "stream": "s", "expect": {}, "expect_error": { "code": "NOT_FOUND" } }]),
        "not both",
    );
    assert_malformed(json!([{ "op": "read_all", "filter": { "prefixes": [] } }]), "unknown key \"prefixes\"");
    assert_malformed(
        json!([{ "op": "set_stream_metadata", "stream": "s", "metadata": { "max_age": 1 } }]),
        "unknown key \"max_age\"",
    );
    assert_malformed(
        json!([{ "op": "append", "stream": "s", "expected_version": { "exactly": 1 }, "events": [] }]),
        "unknown key \"exactly\"",
    );
    assert_malformed(json!([{ "op": "read_all", "direction": "sideways" }]), "direction");
    assert_malformed(json!([{ "op": "read_all", "from": -1 }]), "non-negative");
    assert_malformed(json!([]), "empty");
    assert_malformed(json!([{ "op": "sleep", "ms": 1, "expect": {} }]), "no outcome");
    assert_malformed(
        json!([{ "op": "save_snapshot", "stream": "s", "revision": 0, "data": { "json_partial": {} } }]),
        "only for expectations",
    );
    // Sessions: named, opened before use, of the right kind, never twice.
    assert_malformed(json!([{ "op": "next", "session": "s" }]), "not open");
    assert_malformed(
        json!([{ "op": "subscribe_to_all", "session": "s" }, { "op": "subscribe_to_all", "session": "s" }]),
        "already open",
    );
    assert_malformed(
        json!([{ "op": "subscribe_to_all", "session": "s" }, { "op": "ack", "session": "s", "deliveries": [] }]),
        "not a Member",
    );
    assert_malformed(
        json!([{ "op": "subscribe_to_all", "session": "s" }, { "op": "next", "session": "s", "expect": { "delivery": {} } }]),
        "unknown key \"delivery\"",
    );
    assert_malformed(
        json!([{ "op": "join_group", "session": "m", "group": "g" }, { "op": "next", "session": "m", "expect": { "caught_up": true } }]),
        "unknown key \"caught_up\"",
    );
    assert_malformed(
        json!([{ "op": "subscribe_to_all", "session": "s", "expect_error": { "code": "INVALID_ARGUMENT" } }, { "op": "next", "session": "s" }]),
        "not open",
    );
    assert_malformed(
        json!([{ "op": "subscribe_to_all", "session": "s" }, { "op": "reopen" }, { "op": "next", "session": "s" }]),
        "not open",
    );
    assert_malformed(
        json!([{ "op": "subscribe_to_all", "session": "s" }, { "op": "close_session", "session": "s" }, { "op": "cancel", "session": "s" }]),
        "not open",
    );
    assert_malformed(
        json!([{ "op": "join_group", "session": "m", "group": "g" }, { "op": "nack", "session": "m", "deliveries": [], "action": "drop" }]),
        "\"action\"",
    );
    assert_malformed(
        json!([{ "op": "join_group", "session": "m", "group": "g" }, { "op": "ack", "session": "m", "deliveries": ["$id:x"] }]),
        "a delivery is",
    );
    assert_malformed(
        json!([{ "op": "subscribe_to_all", "session": "s", "start": { "after": -1 } }]),
        "non-negative",
    );
    assert_malformed(
        json!([{ "op": "subscribe_to_all", "session": "s", "start": "beginning" }]),
        "\"start\"",
    );
    assert_malformed(
        json!([{ "op": "create_group", "group": "g", "target": {}, "expect": { "lagg": 0 } }]),
        "unknown key \"lagg\"",
    );
}

#[test]
fn generated_strings_and_bytes_expand() {
    assert_eq!(string(&json!({ "repeat": "ab", "times": 3 }), "s").unwrap(), "ababab");
    assert_eq!(string(&json!({ "concat": ["x", { "repeat": "é", "times": 2 }] }), "s").unwrap(), "xéé");
    assert!(string(&json!({ "repeat": "a", "times": 2, "extra": 1 }), "s").is_err());
    assert_eq!(bytes(&json!({ "utf8": "hi" }), "b").unwrap(), (b"hi".to_vec(), false));
    assert_eq!(bytes(&json!({ "base64": "AAECAwT/" }), "b").unwrap(), (vec![0, 1, 2, 3, 4, 255], false));
    assert_eq!(bytes(&json!({ "json": { "utf8": 1 } }), "b").unwrap(), (br#"{"utf8":1}"#.to_vec(), true));
    assert_eq!(
        bytes(&json!({ "a": 1, "utf8": "x" }), "b").unwrap(),
        (br#"{"a":1,"utf8":"x"}"#.to_vec(), true)
    );
    assert!(bytes(&json!({ "base64": "Zg" }), "b").is_err());
}

#[test]
fn base64_matches_rfc_4648() {
    let cases: [(&[u8], &str); 6] = [
        (b"", ""),
        (b"f", "Zg=="),
        (b"fo", "Zm8="),
        (b"foo", "Zm9v"),
        (b"foob", "Zm9vYg=="),
        (&[0, 1, 2, 3, 4, 255], "AAECAwT/"),
    ];
    for (bytes, text) in cases {
        assert_eq!(base64_encode(bytes), text);
        assert_eq!(base64_decode(text).as_deref(), Ok(bytes));
    }
    assert!(base64_decode("Zg=").is_err());
    assert!(base64_decode("Zg==Zg==").is_err());
    assert!(base64_decode("Z!==").is_err());
}

/// One event as an executor answers it.
fn event(data: &[u8]) -> Value {
    json!({
        "stream": "s", "revision": 0, "position": 0, "id": "0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7d", "type": "T",
        "content_type": "application/json", "data": base64_encode(data), "metadata": "", "timestamp": 5,
        "shredded": false, "schema_version": null,
    })
}

#[test]
fn matching_is_partial_for_objects_and_whole_for_bytes_and_arrays() {
    let actual =
        runner::read_outcome(&json!({ "ok": { "events": [event(br#"{"a": 1, "b": 2}"#)] } })).unwrap();
    let ok = |expected: Value| differences(&expected, &actual).is_empty();
    assert!(ok(json!({ "count": 1 })));
    assert!(ok(json!({ "count": 1.0 })), "numbers compare by value");
    assert!(ok(json!({ "events": [{ "data": { "b": 2, "a": 1 } }] })), "JSON bytes compare as JSON");
    assert!(!ok(json!({ "events": [{ "data": { "a": 1 } }] })), "bytes are never compared partially");
    assert!(ok(json!({ "events": [{ "data": { "json_partial": { "a": 1 } } }] })), "unless asked to");
    assert!(!ok(json!({ "events": [{ "data": { "json_partial": { "a": 2 } } }] })));
    assert!(
        !ok(json!({ "events": [{ "data": { "json_partial": { "c": null } } }] })),
        "a key it does not have"
    );
    assert!(!ok(json!({ "events": [{ "data": { "utf8": "{}" } }] })));
    assert!(ok(json!({ "events": [{ "metadata": { "utf8": "" }, "schema_version": null }] })));
    assert!(!ok(json!({ "events": [] })), "arrays have the same length");
    assert!(!ok(json!({ "events": [{ "timestamp": 5 }] })), "timestamps are never compared");
    assert!(!ok(json!({ "events": [{ "shreded": false }] })), "a key the result lacks is a difference");
    assert!(ok(json!({ "events": [{ "type": { "concat": ["", "T"] } }] })), "generated strings expand");
    assert!(ok(json!({ "timestamps_non_decreasing": true })));
}

#[test]
fn answers_are_checked_against_the_protocol() {
    // A read answer: every key of an event, base64 bytes, an integer timestamp.
    assert!(runner::read_outcome(&json!({ "ok": { "events": [event(b"{}")] } })).is_ok());
    let mut missing = event(b"{}");
    missing.as_object_mut().unwrap().remove("shredded");
    let e = runner::read_outcome(&json!({ "ok": { "events": [missing] } })).err().unwrap();
    assert!(e.contains("has no \"shredded\""), "{e}");
    let mut extra = event(b"{}");
    extra["extra"] = json!(1);
    assert!(runner::read_outcome(&json!({ "ok": { "events": [extra] } }))
        .err()
        .unwrap()
        .contains("unknown key \"extra\""));
    let mut not_base64 = event(b"{}");
    not_base64["data"] = json!("{}");
    assert!(runner::read_outcome(&json!({ "ok": { "events": [not_base64] } })).is_err());
    assert!(runner::read_outcome(&json!({ "ok": { "events": [] }, "error": {} })).is_err());
    assert!(runner::read_outcome(&json!({ "fail": "no such op" })).err().unwrap().contains("no such op"));
    assert!(runner::read_outcome(&json!({ "error": { "code": "NOT_FOUND" } }))
        .err()
        .unwrap()
        .contains("no message"));
    assert!(runner::read_outcome(&json!({ "error": { "code": "GONE", "message": "" } })).is_err());
    assert!(runner::read_outcome(&json!({ "error": { "code": "NOT_FOUND", "message": "", "stream": "s" } }))
        .is_err());
}

/// An executor answering from a script, recording what it was asked.
struct Scripted<F: FnMut(&Value) -> Res<Value>> {
    requests: Vec<Value>,
    answer: F,
}

impl<F: FnMut(&Value) -> Res<Value>> Executor for Scripted<F> {
    fn call(&mut self, request: &Value) -> Res<Value> {
        self.requests.push(request.clone());
        (self.answer)(request)
    }
}

/// Runs `scenario` (its steps) through `answer`; the failures and the requests.
fn run(steps: Value, answer: impl FnMut(&Value) -> Res<Value>) -> (Vec<String>, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let scenario = json!({ "name": "t", "description": "t", "steps": steps });
    std::fs::write(dir.path().join("t.json"), scenario.to_string()).unwrap();
    std::fs::write(dir.path().join("boundary_vectors.json"), "{\"about\": \"not a scenario\"}").unwrap();
    let mut executor = Scripted { requests: Vec::new(), answer };
    let summary = runner::run_dir(dir.path(), "", &mut executor).unwrap();
    assert_eq!(summary.scenarios, 1, "boundary_vectors.json is not a scenario");
    (summary.failures, executor.requests)
}

fn ok(value: Value) -> Res<Value> {
    Ok(json!({ "ok": value }))
}

#[test]
fn steps_are_sent_normalised() {
    let steps = json!([
        { "op": "append", "stream": { "repeat": "s", "times": 2 },
          "events": [ { "id": "$id:a", "type": "T", "data": { "n": 1 } }, { "type": "U", "data": { "utf8": "x" }, "metadata": { "base64": "AAE=" } } ] },
        { "op": "read_all", "filter": { "event_types": ["T"] } },
        { "op": "set_stream_metadata", "stream": "ss", "metadata": { "max_count": 2 } },
        { "op": "sleep", "ms": 1 },
        { "op": "subscribe_to_stream", "session": "sub", "stream": "ss" },
        { "op": "next", "session": "sub" },
        { "op": "create_group", "group": "g", "target": { "stream": "jobs" }, "settings": { "strategy": "random" } },
        { "op": "join_group", "session": "m", "group": "g" },
        { "op": "next", "session": "m", "timeout_ms": 50, "expect": { "delivery": { "id": "$delivery:d" } } },
        { "op": "nack", "session": "m", "deliveries": ["$delivery:d", "17"], "action": "park" }
    ]);
    let delivery = json!({ "delivery": { "id": "12345678901234567890", "attempt": 1, "parked_revision": null, "event": event(b"") } });
    let (failures, requests) = run(steps, |request| match request["op"].as_str().unwrap() {
        "append" => {
            ok(json!({ "first_revision": 0, "last_revision": 1, "first_position": 0, "last_position": 1 }))
        }
        "read_all" => ok(json!({ "events": [] })),
        "next" if request["session"] == "sub" => ok(json!({ "caught_up": true })),
        "next" => ok(delivery.clone()),
        "create_group" => Ok(json!({ "error": { "code": "INVALID_ARGUMENT", "message": "strategy" } })),
        _ => ok(json!({})),
    });
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].contains("step 6 (create_group)") && failures[0].contains("INVALID_ARGUMENT"),
        "{failures:?}"
    );
    let id = requests[1]["events"][0]["id"].as_str().unwrap().to_owned();
    assert!(graveyard::Uuid::parse_str(&id).is_ok());
    assert_eq!(
        requests,
        vec![
            json!({ "op": "begin", "scenario": "t", "options": { "max_event_size": null, "master_key": null },
                    "streams": ["ss", "jobs", "$parked-g"] }),
            json!({ "op": "append", "stream": "ss", "expected_version": "any", "events": [
                { "id": id, "type": "T", "content_type": "application/json", "data": base64_encode(br#"{"n":1}"#), "metadata": "" },
                { "id": null, "type": "U", "content_type": "application/octet-stream", "data": "eA==", "metadata": "AAE=" } ] }),
            json!({ "op": "read_all", "direction": "forwards", "from": null, "limit": null,
                    "filter": { "stream_prefixes": [], "event_types": ["T"] } }),
            json!({ "op": "set_stream_metadata", "stream": "ss",
                    "metadata": { "max_count": 2, "max_age_ms": null, "truncate_before": null } }),
            json!({ "op": "subscribe_to_stream", "session": "sub", "stream": "ss", "start": "start", "page_size": null }),
            json!({ "op": "next", "session": "sub", "timeout_ms": runner::DEFAULT_NEXT_TIMEOUT_MS }),
            json!({ "op": "create_group", "group": "g", "target": { "stream": "jobs" }, "start": "start",
                    "settings": { "strategy": "random" } }),
            json!({ "op": "join_group", "session": "m", "group": "g", "member": "m" }),
            json!({ "op": "next", "session": "m", "timeout_ms": 50 }),
            json!({ "op": "nack", "session": "m", "deliveries": ["12345678901234567890", "17"], "action": "park" }),
            json!({ "op": "end" }),
        ]
    );
}

#[test]
fn delivery_names_take_an_id_once_and_name_one_delivery() {
    let steps = json!([
        { "op": "join_group", "session": "m", "group": "g" },
        { "op": "next", "session": "m", "expect": { "delivery": { "id": "$delivery:a" } } },
        { "op": "next", "session": "m", "note": "another id under the same name", "expect": { "delivery": { "id": "$delivery:a" } } },
        { "op": "next", "session": "m", "note": "a new name for an id named already", "expect": { "delivery": { "id": "$delivery:b" } } },
        { "op": "ack", "session": "m", "deliveries": ["$delivery:c"] },
        { "op": "ack", "session": "m", "deliveries": ["$delivery:a"] }
    ]);
    let mut ids = vec!["8", "7", "8"].into_iter();
    let (failures, requests) = run(steps, |request| match request["op"].as_str().unwrap() {
        "next" => ok(
            json!({ "delivery": { "id": ids.next().unwrap(), "attempt": 1, "parked_revision": null, "event": event(b"") } }),
        ),
        _ => ok(json!({})),
    });
    assert_eq!(failures.len(), 3, "{failures:#?}");
    assert!(
        failures[0].contains("step 2") && failures[0].contains("$delivery:a = 8, actual 7"),
        "{}",
        failures[0]
    );
    assert!(failures[1].contains("step 3") && failures[1].contains("8 is $delivery:a"), "{}", failures[1]);
    assert!(
        failures[2].contains("step 4") && failures[2].contains("not run: $delivery:c names no delivery"),
        "{}",
        failures[2]
    );
    assert_eq!(requests[requests.len() - 2], json!({ "op": "ack", "session": "m", "deliveries": ["8"] }));
}

#[test]
fn a_session_that_did_not_open_is_not_asked_for() {
    let steps = json!([
        { "op": "join_group", "session": "m", "group": "g" },
        { "op": "next", "session": "m" },
        { "op": "close_session", "session": "m" },
        { "op": "join_group", "session": "m", "group": "g" },
        { "op": "cancel", "session": "m" }
    ]);
    let mut joins = 0;
    let (failures, requests) = run(steps, |request| match request["op"].as_str().unwrap() {
        "join_group" => {
            joins += 1;
            if joins == 1 {
                Ok(json!({ "error": { "code": "NOT_FOUND", "message": "no group" } }))
            } else {
                ok(json!({}))
            }
        }
        _ => ok(json!({})),
    });
    assert_eq!(failures.len(), 3, "{failures:#?}");
    assert!(failures[1].contains("not run: session \"m\" did not open (step 0 failed)"), "{}", failures[1]);
    let ops: Vec<&str> = requests.iter().map(|r| r["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["begin", "join_group", "join_group", "cancel", "end"]);
}

#[test]
fn a_broken_or_refusing_executor_fails_the_scenario() {
    let steps =
        json!([{ "op": "head_position", "expect": { "head_position": 0 } }, { "op": "head_position" }]);
    // Refuses to open a store: nothing else is asked.
    let (failures, requests) = run(steps.clone(), |_| Ok(json!({ "fail": "no store for you" })));
    assert!(failures.len() == 1 && failures[0].contains("cannot open a fresh store"), "{failures:?}");
    assert_eq!(requests.len(), 1);
    // Breaks at the first step: the rest is skipped, and no "end" is sent to it.
    let (failures, requests) =
        run(steps.clone(), |r| if r["op"] == "begin" { ok(json!({})) } else { Err("it died".into()) });
    assert!(failures.len() == 1 && failures[0].contains("it died"), "{failures:?}");
    assert_eq!(requests.len(), 2);
    // Panics (an in-process executor): the same.
    let (failures, _) =
        run(steps.clone(), |r| if r["op"] == "begin" { ok(json!({})) } else { panic!("boom") });
    assert!(failures.len() == 1 && failures[0].contains("panicked: boom"), "{failures:?}");
    // Answers with a wrong shape, or a wrong value: each step fails, and the run goes on.
    let (failures, _) = run(steps.clone(), |r| {
        if r["op"] == "begin" || r["op"] == "end" {
            ok(json!({}))
        } else {
            ok(json!({ "head": 0 }))
        }
    });
    assert!(failures.len() == 2 && failures.iter().all(|f| f.contains("malformed answer")), "{failures:?}");
    let (failures, _) = run(steps, |r| {
        if r["op"] == "head_position" {
            ok(json!({ "head_position": 1 }))
        } else {
            ok(json!({}))
        }
    });
    assert!(
        failures.len() == 1 && failures[0].contains("at $.head_position: expected 0, actual 1"),
        "{failures:?}"
    );
}

#[test]
fn a_folder_without_scenarios_or_a_filter_matching_none_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(runner::scenario_files(dir.path(), "").unwrap_err().contains("no scenario"));
    std::fs::write(dir.path().join("a.json"), "{}").unwrap();
    assert!(runner::scenario_files(dir.path(), "b").unwrap_err().contains("matches no scenario"));
    assert_eq!(runner::scenario_files(dir.path(), "a").unwrap().len(), 1);
    assert!(runner::scenario_files(Path::new("/nonexistent/conformance"), "").is_err());
}
