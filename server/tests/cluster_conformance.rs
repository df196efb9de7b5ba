//! The conformance scenarios (`conformance/*.json`), run through `graveyard::Client` against a
//! fresh 3-node cluster each: the cluster keeps the contract of the embedded store. The runner
//! is the core's (`core/tests/conformance/runner.rs`); `CONFORMANCE_FILTER=<text>` narrows it.
//!
//! `$all` and the head position are those of the client's node (docs/semantics.md, "Cluster"):
//! the scenarios that read them use streams that the ring places on that node (see `options`).

mod common;
#[path = "../../core/tests/conformance/runner.rs"]
mod runner;

use common::{NodeOptions, TestCluster};
use graveyard::schema::{RegisteredSchema, Schema, SchemaUpsert};
use graveyard::{
    AppendResult, Client, EventData, ExpectedVersion, ReadAllOptions, ReadOptions, RecordedEvent, Result,
    Snapshot, StreamInfo, StreamMetadata,
};

#[test]
fn conformance_through_the_client_on_three_nodes() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runner::run_all(&mut |max_event_size| {
        let mut options = NodeOptions::default();
        if let Some(size) = max_event_size {
            options.args.extend(["--max-event-size".to_owned(), size.to_string()]);
        }
        let cluster = runtime.block_on(TestCluster::start(3, options));
        let client = runtime.block_on(Client::connect(&cluster.endpoints())).map_err(|e| e.to_string())?;
        Ok(Box::new(ThroughClient { runtime: runtime.handle().clone(), cluster, client }))
    });
}

struct ThroughClient {
    runtime: tokio::runtime::Handle,
    cluster: TestCluster,
    client: Client,
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
            self.client = Client::connect(&self.cluster.endpoints()).await?;
            Ok(())
        })
    }
}
