//! The conformance scenarios (`conformance/*.json`), run through `graveyard::Client` against a
//! fresh 3-node cluster each: the cluster keeps the contract of the embedded store. The runner
//! is the core's (`core/tests/conformance/runner.rs`); `CONFORMANCE_FILTER=<text>` narrows it.
//!
//! In a cluster, `$all`, its positions, the head position and the uniqueness of event ids belong
//! to each node's own log (docs/semantics.md, "Cluster"), while the scenarios expect one log
//! across their streams. So each scenario gets a cluster whose member ids make the ring place
//! all its streams on one member, and the client, which learns the ring from another member,
//! asks that member for `$all` and the head (`Client::on_node`). Everything goes through the
//! client and the wire; schema upserts are replicated to all three members. What crosses
//! members (forwarding, streams on different owners, a member down) is tested in cluster.rs.

mod common;
#[path = "../../core/tests/conformance/runner.rs"]
mod runner;

use common::{NodeOptions, TestCluster};
use graveyard::cluster::{Member, Ring, DEFAULT_VNODES};
use graveyard::schema::{RegisteredSchema, Schema, SchemaUpsert};
use graveyard::{
    AppendResult, Client, EventData, ExpectedVersion, ReadAllOptions, ReadOptions, RecordedEvent, Result,
    Snapshot, StreamInfo, StreamMetadata,
};

#[test]
fn conformance_through_the_client_on_three_nodes() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut scenario = 0;
    runner::run_all(&mut |fresh| {
        let mut options = NodeOptions::default();
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
        // The streams live on a different member from one scenario to the next.
        scenario += 1;
        let (ids, home) = colocating_ids(fresh.streams, scenario % 3);
        let cluster = runtime.block_on(TestCluster::start_named(&ids, options));
        let client = runtime.block_on(connect_through_others(&cluster, home))?;
        Ok(Box::new(ThroughClient { runtime: runtime.handle().clone(), cluster, home, client, _keys: keys }))
    });
}

/// Member ids for a 3-node cluster whose ring gives every stream of `streams` to member `home`.
/// The ring hashes member ids only (not endpoints), so this is decided before any port is known.
fn colocating_ids(streams: &[String], home: usize) -> (Vec<String>, usize) {
    for attempt in 0u64.. {
        let ids: Vec<String> = ["a", "b", "c"].iter().map(|p| format!("{p}{attempt}")).collect();
        let members =
            ids.iter().enumerate().map(|(i, id)| Member::new(id.clone(), format!("h:{}", i + 1))).collect();
        let ring = Ring::new(members, DEFAULT_VNODES).unwrap();
        if streams.iter().all(|s| ring.owner(s).id == ids[home]) {
            return (ids, home);
        }
    }
    unreachable!()
}

/// A client that learned the ring from a member that is not `home`, scoped to `home`.
async fn connect_through_others(cluster: &TestCluster, home: usize) -> Result<Client, String> {
    let mut seeds: Vec<String> = cluster.nodes.iter().map(|n| n.url()).collect();
    seeds.rotate_left(home + 1);
    let client = Client::connect(&seeds.join(",")).await.map_err(|e| e.to_string())?;
    let home_id = client.members()[home].id.clone();
    client.on_node(&home_id).map_err(|e| e.to_string())
}

struct ThroughClient {
    runtime: tokio::runtime::Handle,
    cluster: TestCluster,
    /// The member holding every stream of the scenario.
    home: usize,
    client: Client,
    _keys: tempfile::TempDir,
}

impl runner::Store for ThroughClient {
    fn append(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        self.runtime.block_on(self.client.append(stream, expected, events))
    }
    fn read_stream(&mut self, stream: &str, options: ReadOptions) -> Result<Vec<RecordedEvent>> {
        self.runtime.block_on(self.client.read_stream(stream, options))
    }
    fn read_all(&mut self, options: ReadAllOptions) -> Result<Vec<RecordedEvent>> {
        self.runtime.block_on(self.client.read_all(options))
    }
    fn stream_info(&mut self, stream: &str) -> Result<StreamInfo> {
        self.runtime.block_on(self.client.stream_info(stream))
    }
    fn set_stream_metadata(&mut self, stream: &str, metadata: StreamMetadata) -> Result<()> {
        self.runtime.block_on(self.client.set_stream_metadata(stream, metadata))
    }
    fn get_stream_metadata(&mut self, stream: &str) -> Result<StreamMetadata> {
        self.runtime.block_on(self.client.get_stream_metadata(stream))
    }
    fn delete_stream(&mut self, stream: &str, expected: ExpectedVersion) -> Result<()> {
        self.runtime.block_on(self.client.delete_stream(stream, expected))
    }
    fn tombstone_stream(&mut self, stream: &str, expected: ExpectedVersion) -> Result<()> {
        self.runtime.block_on(self.client.tombstone_stream(stream, expected))
    }
    fn shred_stream(&mut self, stream: &str) -> Result<()> {
        self.runtime.block_on(self.client.shred_stream(stream))
    }
    fn save_snapshot(&mut self, stream: &str, revision: u64, data: Vec<u8>) -> Result<()> {
        self.runtime.block_on(self.client.save_snapshot(stream, revision, data))
    }
    fn get_snapshot(&mut self, stream: &str) -> Result<Option<Snapshot>> {
        self.runtime.block_on(self.client.get_snapshot(stream))
    }
    fn head_position(&mut self) -> Result<u64> {
        self.runtime.block_on(self.client.head_position())
    }
    fn upsert_schema(&mut self, schema: &Schema) -> Result<SchemaUpsert> {
        self.runtime.block_on(self.client.upsert_schema(schema))
    }
    fn get_schema(&mut self, name: &str, version: Option<u32>) -> Result<RegisteredSchema> {
        self.runtime.block_on(self.client.get_schema(name, version))
    }
    fn list_schemas(&mut self) -> Result<Vec<RegisteredSchema>> {
        self.runtime.block_on(self.client.list_schemas())
    }
    fn close(&mut self) {
        self.client.close();
    }
    /// Restarts every node of the cluster (SIGTERM, then start again on the same data) and
    /// connects a new client.
    fn reopen(&mut self) -> Result<()> {
        self.client.close();
        let runtime = self.runtime.clone();
        runtime.block_on(async {
            for node in &mut self.cluster.nodes {
                node.terminate();
                node.wait_exit().await;
            }
            for node in &mut self.cluster.nodes {
                node.restart().await;
            }
            self.client = connect_through_others(&self.cluster, self.home)
                .await
                .map_err(graveyard::Error::Unavailable)?;
            Ok(())
        })
    }
}
