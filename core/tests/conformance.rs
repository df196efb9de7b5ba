//! Runs the conformance scenarios (`conformance/*.json`) on embedded stores through
//! `graveyard::Store`, once through the blocking forms of its operations and once through the
//! async ones. The runner (parser, matcher) and the executor over the façade are those of
//! `conformance/runner` (crate graveyard-conformance), included by path since the core cannot
//! depend on a crate that depends on it. `CONFORMANCE_FILTER=<text>` runs only the files whose
//! name contains the text.

#[path = "../../conformance/runner/src/executor.rs"]
mod executor;
#[path = "../../conformance/runner/src/runner.rs"]
mod runner;

use std::path::PathBuf;

use executor::{open_embedded, Forms, StoreExecutor};

fn scenarios() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conformance")
}

#[test]
fn conformance_through_the_blocking_forms() {
    let mut executor = StoreExecutor::new(Forms::Blocking, open_embedded);
    runner::run_tests(&scenarios(), "embedded Store, blocking forms", &mut executor);
}

#[test]
fn conformance_through_the_async_forms() {
    let mut executor = StoreExecutor::new(Forms::Async, open_embedded);
    runner::run_tests(&scenarios(), "embedded Store, async forms", &mut executor);
}
