//! `graveyard-conformance`: runs the conformance scenarios through any implementation.
//!
//! - `graveyard-conformance --exec "<command>" [--filter <text>] [--trace] <dir>` runs the
//!   scenarios of `<dir>` (`conformance/`) through the executor `<command>` starts: an SDK's
//!   dispatcher of the protocol of conformance/README.md ("Running the scenarios in an SDK"),
//!   one JSON request per line on its stdin, one JSON answer per line on its stdout. The parsing,
//!   the checks and the matching are all here, so an SDK writes no runner of its own. Exit
//!   status 0 when every step passed, 1 when some failed, 2 when nothing could be run.
//! - `graveyard-conformance --serve-embedded` is the reference executor: the protocol over
//!   `graveyard::Store` on embedded stores, on stdin and stdout.

mod executor;
mod process;
mod runner;
#[cfg(test)]
mod self_tests;

use std::io::{BufRead, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Value};

use crate::executor::{open_embedded, Forms, StoreExecutor};
use crate::process::ProcessExecutor;
use crate::runner::Executor;

const USAGE: &str = "usage:
  graveyard-conformance --exec \"<command>\" [--filter <text>] [--trace] <scenario dir>
      runs the scenarios through the executor <command> starts (conformance/README.md,
      \"Running the scenarios in an SDK\"); --filter keeps the files whose name contains
      <text>; --trace prints every request and answer on stderr
  graveyard-conformance --serve-embedded [--async]
      the reference executor: the protocol on stdin/stdout over embedded stores
      (--async: through the async forms of graveyard::Store)";

fn main() -> ExitCode {
    let mut exec = None;
    let mut filter = String::new();
    let mut trace = false;
    let mut serve = false;
    let mut forms = Forms::Blocking;
    let mut dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--exec" => exec = args.next(),
            "--filter" => filter = args.next().unwrap_or_default(),
            "--trace" => trace = true,
            "--serve-embedded" => serve = true,
            "--async" => forms = Forms::Async,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other if !other.starts_with('-') && dir.is_none() => dir = Some(PathBuf::from(other)),
            other => return usage(&format!("unexpected argument {other:?}")),
        }
    }
    if serve {
        return serve_embedded(forms);
    }
    let (Some(command), Some(dir)) = (exec, dir) else {
        return usage("--exec \"<command>\" and a scenario directory are required");
    };
    let mut executor = ProcessExecutor::new(&command, trace);
    let summary = match runner::run_dir(&dir, &filter, &mut executor) {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("graveyard-conformance: {e}");
            return ExitCode::from(2);
        }
    };
    drop(executor);
    for failure in &summary.failures {
        println!("{failure}\n");
    }
    // An executor's command can be long (a Java class path): its ends say which it is.
    let shown = if command.chars().count() > 120 {
        let chars: Vec<char> = command.chars().collect();
        let (head, tail): (String, String) =
            (chars[..50].iter().collect(), chars[chars.len() - 60..].iter().collect());
        format!("{head} ... {tail}")
    } else {
        command.clone()
    };
    println!(
        "conformance ({shown}): {} scenario(s), {} step(s) run, {} failure(s)",
        summary.scenarios,
        summary.steps,
        summary.failures.len()
    );
    if summary.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("graveyard-conformance: {problem}\n{USAGE}");
    ExitCode::from(2)
}

/// The reference executor: requests from stdin, answers to stdout, until EOF.
fn serve_embedded(forms: Forms) -> ExitCode {
    let mut executor = StoreExecutor::new(forms, open_embedded);
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(request) => match catch_unwind(AssertUnwindSafe(|| executor.call(&request))) {
                Ok(Ok(answer)) => answer,
                Ok(Err(e)) => json!({ "fail": e }),
                Err(_) => json!({ "fail": "the executor panicked (see stderr)" }),
            },
            Err(e) => json!({ "fail": format!("the request is not JSON: {e}") }),
        };
        let mut out = stdout.lock();
        if writeln!(out, "{answer}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}
