//! The conformance scenarios (`conformance/*.json`), run through `graveyard::Store` over a
//! `graveyard::Client` against a fresh 3-node cluster each: the cluster keeps the contract of the
//! embedded store. The runner and the executor over the façade are those of `conformance/runner`
//! (crate graveyard-conformance), included by path as the core's test does; only opening a
//! scenario's store is this file's. `CONFORMANCE_FILTER=<text>` narrows the run.
//!
//! In a cluster, `$all`, its positions, the head position and the uniqueness of event ids belong
//! to each node's own log, and a consumer group lives on one node with its parked stream
//! (docs/semantics.md, "Cluster"), while the scenarios expect one log across their streams. So
//! each scenario gets a cluster whose member ids make the ring place all its streams (the parked
//! streams of its groups included) on one member, and the client, which learns the ring from
//! another member, sends its node-scoped requests (`$all`, the head, groups on `$all`) to that
//! member (`Client::on_node`). Everything goes through the client and the wire; schema upserts
//! are replicated to all three members. What crosses members (forwarding, streams on different
//! owners, a member down) is tested in cluster.rs.
//!
//! The scenarios run twice: on nodes keeping their commit logs on their own disks, and on nodes
//! keeping them in a real Apache Cassandra (`--storage cql`, one keyspace per scenario), where
//! each commit is a lightweight transaction and each `reopen` replays from Cassandra.

mod common;
#[path = "../../conformance/runner/src/executor.rs"]
mod executor;
#[path = "../../conformance/runner/src/runner.rs"]
mod runner;

use std::path::PathBuf;

use common::{NodeOptions, TestCluster};
use executor::{Forms, Fresh, Opened, StoreExecutor};
use graveyard::cluster::{Member, Ring, DEFAULT_VNODES};
use graveyard::runtime::block_on_shared;
use graveyard::{Client, Error, Store};
use graveyard_cql::testing::Cassandra;

/// Held by each test for its whole run: the two must not run at once. Some scenarios hold a
/// time window (max_age.json reads within 500 ms of an append, which on Cassandra is two Paxos
/// rounds later), and six nodes plus Cassandra sharing 2 cores could stretch commits past it.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn conformance_through_the_client_on_three_nodes() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    on_three_nodes("3-node clusters, Store over Client", &[], |_| Vec::new());
}

#[test]
fn conformance_through_the_client_on_three_nodes_on_cassandra() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let cassandra = Cassandra::start();
    let except = [(
        "shredding.json",
        "encryption cannot be combined with a commit log on Cassandra yet (docs/cql.md), and a node refuses the two",
    )];
    on_three_nodes("3-node clusters on Cassandra, Store over Client", &except, |scenario| {
        [
            "--storage",
            "cql",
            "--cql-contact-points",
            &cassandra.contact(),
            "--cql-keyspace",
            &format!("gy_conformance_{scenario}"),
        ]
        .map(String::from)
        .to_vec()
    });
}

/// Runs the scenarios (but `except`) on a new 3-node cluster each, whose nodes get the flags
/// `flags(scenario number)` besides their own.
fn on_three_nodes(what: &str, except: &[(&str, &str)], flags: impl Fn(usize) -> Vec<String>) {
    // Starts and stops the nodes; the client's calls run on the shared runtime of the façade.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut scenario = 0;
    let mut executor = StoreExecutor::new(Forms::Blocking, |fresh: &Fresh| {
        // The streams live on a different member from one scenario to the next.
        scenario += 1;
        let mut options = NodeOptions { args: flags(scenario), ..NodeOptions::default() };
        if let Some(size) = fresh.max_event_size {
            options.args.extend(["--max-event-size".to_owned(), size.to_string()]);
        }
        // Every member encrypted with the scenario's key, from a file that lives as long as
        // the cluster.
        let keys = tempfile::tempdir().map_err(|e| e.to_string())?;
        if let Some(key) = fresh.master_key {
            let file = keys.path().join("master.key");
            std::fs::write(&file, key).map_err(|e| e.to_string())?;
            options.args.extend(["--master-key-file".to_owned(), file.display().to_string()]);
        }
        let home = scenario % 3;
        let ids = colocating_ids(&fresh.streams, home);
        let cluster = runtime.block_on(TestCluster::start_named(&ids, options));
        let store = connect_through_others(&cluster, home)?;
        Ok(Box::new(OnCluster { store, cluster, home, runtime: runtime.handle().clone(), _keys: keys })
            as Box<dyn Opened>)
    });
    let scenarios = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conformance");
    runner::run_tests_except(&scenarios, what, except, &mut executor);
}

/// Member ids for a 3-node cluster whose ring gives every stream of `streams` to member `home`.
/// The ring hashes member ids only (not endpoints), so this is decided before any port is known.
fn colocating_ids(streams: &[String], home: usize) -> Vec<String> {
    for attempt in 0u64.. {
        let ids: Vec<String> = ["a", "b", "c"].iter().map(|p| format!("{p}{attempt}")).collect();
        let members =
            ids.iter().enumerate().map(|(i, id)| Member::new(id.clone(), format!("h:{}", i + 1))).collect();
        let ring = Ring::new(members, DEFAULT_VNODES).unwrap();
        if streams.iter().all(|s| ring.owner(s).id == ids[home]) {
            return ids;
        }
    }
    unreachable!()
}

/// A store over a client that learned the ring from a member that is not `home`, scoped to
/// `home`. Connected on the shared runtime, where the façade runs the client's calls.
fn connect_through_others(cluster: &TestCluster, home: usize) -> Result<Store, String> {
    let mut seeds: Vec<String> = cluster.nodes.iter().map(|n| n.url()).collect();
    seeds.rotate_left(home + 1);
    let seeds = seeds.join(",");
    block_on_shared(async {
        let client = Client::connect(&seeds).await.map_err(|e| e.to_string())?;
        let home_id = client.members()[home].id.clone();
        client.on_node(&home_id).map(Store::from_client).map_err(|e| e.to_string())
    })
}

/// The cluster of one scenario. The store is declared first: it closes before the nodes stop.
struct OnCluster {
    store: Store,
    cluster: TestCluster,
    /// The member holding every stream of the scenario.
    home: usize,
    runtime: tokio::runtime::Handle,
    _keys: tempfile::TempDir,
}

impl Opened for OnCluster {
    fn store(&self) -> &Store {
        &self.store
    }

    /// Restarts every node of the cluster (SIGTERM, then start again on the same data) and
    /// connects a new client.
    fn reopen(&mut self) -> graveyard::Result<()> {
        self.store.close();
        self.runtime.block_on(async {
            for node in &mut self.cluster.nodes {
                node.terminate();
                node.wait_exit().await;
            }
            for node in &mut self.cluster.nodes {
                node.restart().await;
            }
        });
        self.store = connect_through_others(&self.cluster, self.home).map_err(Error::Unavailable)?;
        Ok(())
    }
}
