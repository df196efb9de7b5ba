//! The runner binary against executors in other processes: the reference executor passes every
//! scenario through the JSON-lines protocol, and executors that break it fail the run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_graveyard-conformance");

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("the runner starts")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Quoted for `sh -c`.
fn quoted(path: &str) -> String {
    format!("'{}'", path.replace('\'', "'\\''"))
}

#[test]
fn the_reference_executor_passes_every_scenario_over_json_lines() {
    let dir = scenarios();
    for forms in ["", " --async"] {
        let command = format!("{} --serve-embedded{forms}", quoted(BIN));
        let output = run(&["--exec", &command, dir.to_str().unwrap()]);
        let text = text(&output);
        assert!(output.status.success(), "{text}");
        assert!(text.contains(" 0 failure(s)") && !text.contains(" 0 scenario(s)"), "{text}");
    }
}

#[test]
fn a_failing_step_fails_the_run_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wrong.json"),
        r#"{ "name": "wrong", "description": "expects what an empty store does not have",
             "steps": [ { "op": "head_position", "expect": { "head_position": 5 } } ] }"#,
    )
    .unwrap();
    let command = format!("{} --serve-embedded", quoted(BIN));
    let output = run(&["--exec", &command, dir.path().to_str().unwrap()]);
    let text = text(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("scenario \"wrong\", step 0 (head_position)"), "{text}");
    assert!(text.contains("at $.head_position: expected 5, actual 0"), "{text}");
}

#[test]
fn an_executor_that_breaks_the_protocol_fails_the_run() {
    let dir = scenarios();
    let dir = dir.to_str().unwrap();
    // Echoes the requests back: no answer it gives is one.
    let output = run(&["--exec", "cat", "--filter", "close", dir]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("cannot open a fresh store"), "{}", text(&output));
    // Exits at once: every scenario fails, and the run still ends.
    let output = run(&["--exec", "exit 3", "--filter", "close", dir]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("exited"), "{}", text(&output));
    // Writes something that is not JSON.
    let output = run(&["--exec", "echo hello; cat > /dev/null", "--filter", "close", dir]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("not JSON"), "{}", text(&output));
}

#[test]
fn nothing_to_run_is_an_error() {
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(run(&["--exec", "cat", empty.path().to_str().unwrap()]).status.code(), Some(2));
    let dir = scenarios();
    let output = run(&["--exec", "cat", "--filter", "no-such-scenario", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert_eq!(run(&["--filter", "x"]).status.code(), Some(2));
}
