//! [`Client`]: the cluster client. It learns the ring from any node, sends each request about a
//! stream straight to the stream's owner, retries idempotent requests on another node after a
//! failure, and reports every subscription drop to the caller.
//!
//! What is global and what belongs to one node (see `docs/semantics.md`, "Cluster"):
//! - streams (appends, reads, subscriptions, metadata, deletes, snapshots) live on their owner;
//! - schemas are replicated to every node, so every owner validates against the same versions;
//! - `$all`, the head position and consumer groups on `$all` are those of one node's log: the node
//!   this client calls its *home* (the first endpoint that answered), or the one chosen with
//!   [`Client::on_node`]. A position is a position in that node's log. Such requests name the log
//!   ([`LOG_HEADER`]): when the node is down they are tried on the others, which serve them from
//!   its log when they took it over (logs in Cassandra) or forward them to the member that did.
//! - a consumer group on a stream lives with its stream; a group is found by name on any node.

mod session;
mod transport;

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Status, Streaming};

pub use transport::{
    call_error, install_crypto_provider, node_client, BearerToken, NodeClient, TransportOptions,
    FORWARDED_HEADER, LOG_HEADER, MAX_MESSAGE_BYTES,
};

use crate::cluster::{Member, Ring};
use crate::error::{Error, Result};
use crate::group::{GroupInfo, GroupSettings, GroupTarget, NackAction};
use crate::schema::{RegisteredSchema, Schema, SchemaUpsert};
use crate::subscription::{SubscribeOptions, SubscriptionMessage};
use crate::types::{
    AppendResult, EventData, ExpectedVersion, ListStreamsOptions, ReadAllOptions, ReadOptions, RecordedEvent,
    ReplayInfo, Snapshot, StreamInfo, StreamMetadata, StreamSummary, SubscriptionStart,
};
use crate::wire;
use crate::wire::v1 as pb;

/// How a [`Client`] reaches the cluster and how hard it retries.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub transport: TransportOptions,
    /// Further attempts of an idempotent request after a failure that says the node may be
    /// down (UNAVAILABLE), each on another node. Non-idempotent requests are never retried.
    pub retries: u32,
    /// Pause before the first retry; doubled before each next one.
    pub retry_backoff: Duration,
    /// Appends go over one `AppendSession` call per node (true, the default: cheaper per
    /// append) or as unary `Append` calls (false: for a proxy between client and nodes that does
    /// not carry bidirectional streams).
    pub append_sessions: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            transport: TransportOptions::default(),
            retries: 3,
            retry_backoff: Duration::from_millis(50),
            append_sessions: true,
        }
    }
}

/// The cluster client. Cheap to clone; clones share connections and the learned ring.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    /// The node for node-scoped requests (`$all`, head, groups on `$all`); `None`: the home node.
    node: Option<String>,
}

struct Shared {
    options: ClientOptions,
    /// The endpoints given to `connect`, asked again when every known node fails.
    seeds: Vec<String>,
    view: RwLock<Arc<View>>,
    /// The member that answered first at connect: node-scoped requests are about its log, for
    /// the client's life. Its `$all` positions mean nothing in another member's log, so a refresh
    /// never moves it; if it leaves the ring, those requests fail with UNAVAILABLE.
    home: String,
    /// Set by `close`: every request after it fails with CLOSED.
    closed: AtomicBool,
    /// The `AppendSession` calls appends go through, one per node.
    sessions: session::Sessions,
    /// Members whose last call failed in the transport (down, or unreachable), and when: a
    /// stream's requests go to another member first for `AVOID_UNREACHABLE`, which forwards them
    /// to whoever serves the stream now (with logs in Cassandra, the member that took the log
    /// over), instead of each paying a failed connection to the owner first.
    unreachable: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// Whether `unreachable` may hold a member: while it does not, a call that reached its node
    /// (nearly every call) takes no lock.
    any_unreachable: AtomicBool,
}

/// How long a member whose call failed in the transport is asked last for its streams.
const AVOID_UNREACHABLE: Duration = Duration::from_secs(3);

impl Shared {
    fn recently_unreachable(&self, node: &str) -> bool {
        if !self.any_unreachable.load(Ordering::Acquire) {
            return false;
        }
        let unreachable = self.unreachable.lock().unwrap_or_else(|p| p.into_inner());
        unreachable.get(node).is_some_and(|at| at.elapsed() < AVOID_UNREACHABLE)
    }

    /// Records how a call to `node` went: a failure of the transport marks it, an answer clears it.
    fn reached(&self, node: &str, reached: bool) {
        if reached && !self.any_unreachable.load(Ordering::Acquire) {
            return;
        }
        let mut unreachable = self.unreachable.lock().unwrap_or_else(|p| p.into_inner());
        if reached {
            unreachable.remove(node);
        } else {
            unreachable.insert(node.to_owned(), std::time::Instant::now());
        }
        // Under the lock, so that a concurrent insert is never hidden by a stale `false`.
        self.any_unreachable.store(!unreachable.is_empty(), Ordering::Release);
    }
}

/// What the client knows of the cluster.
struct View {
    ring: Ring,
    /// One connection per member, in the ring's member order.
    nodes: Vec<(Member, NodeClient)>,
}

impl View {
    fn node(&self, id: &str) -> Option<&(Member, NodeClient)> {
        self.nodes.iter().find(|(m, _)| m.id == id)
    }
}

/// Where a request goes.
#[derive(Clone, Copy)]
enum Route<'a> {
    /// The owner of this stream first; on a retry another node, which forwards it in one hop with
    /// its own (possibly newer) view of the ring.
    Stream(&'a str),
    /// A request about the log of the client's node (`$all`, its head, its listings), which
    /// names that log ([`LOG_HEADER`]): the node first; on a retry another member, which serves
    /// the log if it took it over or forwards the request to whoever serves it. Never another
    /// node's own log: its `$all` is not this one's.
    Node,
    /// The client's node itself and no other: a request about the node, not its log (its keys).
    Only,
    /// Any node: the home first, then the others.
    Any,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    Idempotent,
    Once,
}

impl Client {
    /// Connects to a cluster given one or more of its nodes, comma-separated
    /// (`"http://127.0.0.1:50051,http://127.0.0.1:50052"`), with default options.
    pub async fn connect(endpoints: &str) -> Result<Client> {
        Client::connect_with(endpoints.split(','), ClientOptions::default()).await
    }

    /// Connects with options: asks the given nodes, in order, for the ring, and keeps the first
    /// answer. Fails with UNAVAILABLE when none answers, INVALID_ARGUMENT for a bad endpoint.
    pub async fn connect_with<I, S>(endpoints: I, options: ClientOptions) -> Result<Client>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let seeds: Vec<String> =
            endpoints.into_iter().map(|e| e.as_ref().trim().to_owned()).filter(|e| !e.is_empty()).collect();
        if seeds.is_empty() {
            return Err(Error::InvalidArgument("no endpoint given to connect to".into()));
        }
        for seed in &seeds {
            node_client(seed, &options.transport)?;
        }
        let (view, home) = learn(&seeds, &options.transport).await?;
        let shared = Shared {
            options,
            seeds,
            view: RwLock::new(Arc::new(view)),
            home,
            closed: AtomicBool::new(false),
            sessions: session::Sessions::default(),
            unreachable: Default::default(),
            any_unreachable: AtomicBool::new(false),
        };
        Ok(Client { shared: Arc::new(shared), node: None })
    }

    /// A client whose node-scoped requests (`$all`, head position, groups on `$all`) go to the
    /// member `node_id`. INVALID_ARGUMENT if the cluster has no such member.
    pub fn on_node(&self, node_id: &str) -> Result<Client> {
        if self.view().node(node_id).is_none() {
            return Err(Error::InvalidArgument(format!("the cluster has no member '{node_id}'")));
        }
        Ok(Client { shared: self.shared.clone(), node: Some(node_id.to_owned()) })
    }

    /// Closes the client and its clones: every request after it fails with CLOSED. Open
    /// subscriptions and group sessions are not cut: drop them to leave.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.sessions.close();
    }

    fn check_open(&self) -> Result<()> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// The members of the cluster, as last learned.
    pub fn members(&self) -> Vec<Member> {
        self.view().ring.members().to_vec()
    }

    /// The member that owns `stream`.
    pub fn owner(&self, stream: &str) -> Member {
        self.view().ring.owner(stream).clone()
    }

    /// Asks the cluster for its ring again.
    pub async fn refresh(&self) -> Result<()> {
        let mut endpoints = self.shared.seeds.clone();
        endpoints.extend(self.view().nodes.iter().map(|(m, _)| m.endpoint.clone()));
        let (view, _) = learn(&endpoints, &self.shared.options.transport).await?;
        *self.shared.view.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(view);
        Ok(())
    }

    /// `message` as a request about the log of this client's node ([`LOG_HEADER`]), so that
    /// whichever member it reaches answers for that log.
    fn scoped<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let node = self.node.as_deref().unwrap_or(&self.shared.home);
        // Member ids are checked by their nodes to travel in a header; one that cannot is
        // asked of the node it reaches, which is that member on a first attempt.
        if let Ok(value) = tonic::metadata::AsciiMetadataValue::try_from(node) {
            request.metadata_mut().insert(LOG_HEADER, value);
        }
        request
    }

    fn view(&self) -> Arc<View> {
        self.shared.view.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The node a request goes to on its `attempt` (0-based).
    fn pick(&self, view: &View, route: Route<'_>, attempt: u32) -> Result<(String, NodeClient)> {
        self.check_open()?;
        let scoped = self.node.as_deref().unwrap_or(&self.shared.home);
        let first = match route {
            Route::Stream(stream) => view.ring.owner(stream).id.as_str(),
            Route::Node | Route::Only | Route::Any => scoped,
        };
        if matches!(route, Route::Node | Route::Only) && view.node(scoped).is_none() {
            return Err(Error::Unavailable(format!("node {scoped} is no longer a member of the cluster")));
        }
        // A node found unreachable a moment ago is asked last, not first.
        let attempt = match route {
            Route::Stream(_) | Route::Node
                if view.nodes.len() > 1 && self.shared.recently_unreachable(first) =>
            {
                attempt + 1
            }
            Route::Only => 0,
            _ => attempt,
        };
        let index = view.nodes.iter().position(|(m, _)| m.id == first).unwrap_or(0);
        let (member, client) = &view.nodes[(index + attempt as usize) % view.nodes.len()];
        Ok((member.id.clone(), client.clone()))
    }

    /// Runs `call` on the node `route` picks, retrying an idempotent call on the next node while
    /// the failure says the node may be down.
    async fn call<R, T, F, Fut>(&self, route: Route<'_>, retry: Retry, request: R, call: F) -> Result<T>
    where
        R: Clone,
        F: Fn(NodeClient, R) -> Fut,
        Fut: Future<Output = std::result::Result<T, Status>>,
    {
        Ok(self.call_named(route, retry, request, call).await?.1)
    }

    /// [`Client::call`], also saying which node answered (a stream's messages come from it).
    /// The request is copied only for an attempt that another may follow: a call that is not
    /// retried, and the last retry, send the caller's request itself.
    async fn call_named<R, T, F, Fut>(
        &self,
        route: Route<'_>,
        retry: Retry,
        request: R,
        call: F,
    ) -> Result<(String, T)>
    where
        R: Clone,
        F: Fn(NodeClient, R) -> Fut,
        Fut: Future<Output = std::result::Result<T, Status>>,
    {
        self.call_on(route, retry, request, |_, client, request| call(client, request)).await
    }

    /// [`Client::call_named`], telling `call` the id of the node it calls.
    async fn call_on<R, T, F, Fut>(
        &self,
        route: Route<'_>,
        retry: Retry,
        request: R,
        call: F,
    ) -> Result<(String, T)>
    where
        R: Clone,
        F: Fn(&str, NodeClient, R) -> Fut,
        Fut: Future<Output = std::result::Result<T, Status>>,
    {
        let options = &self.shared.options;
        let mut request = Some(request);
        let mut attempt = 0;
        loop {
            let view = self.view();
            let (node, client) = self.pick(&view, route, attempt)?;
            let last = retry == Retry::Once || attempt >= options.retries;
            let this = if last { request.take() } else { request.clone() };
            let this = this.expect("the request is taken only by the last attempt");
            let error = match call(&node, client, this).await {
                Ok(value) => {
                    self.shared.reached(&node, true);
                    return Ok((node, value));
                }
                Err(status) => {
                    // A node's own answer carries its typed detail; one without is the transport's.
                    self.shared.reached(&node, wire::status_detail(&status).is_some());
                    call_error(&node, &status)
                }
            };
            if last || !matches!(error, Error::Unavailable(_)) {
                return Err(error);
            }
            tokio::time::sleep(options.retry_backoff.saturating_mul(1 << attempt.min(16))).await;
            // The ring may have changed; a failure to learn it leaves the old view.
            let _ = self.refresh().await;
            attempt += 1;
        }
    }

    // ---- streams ----------------------------------------------------------------------------

    /// Appends to a stream on its owner, over the client's `AppendSession` with that node (so
    /// that concurrent appends share one call). Events without an id get one here, so a retry
    /// after a lost answer is recognised by the node and writes nothing twice: appends are
    /// retried.
    pub async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        let events: Vec<pb::EventData> = events
            .into_iter()
            .map(|mut event| {
                event.id.get_or_insert_with(uuid::Uuid::now_v7);
                event.into()
            })
            .collect();
        let request =
            pb::AppendRequest { stream: stream.to_owned(), expected: Some(expected.into()), events };
        let result = if self.shared.options.append_sessions {
            let sessions = &self.shared.sessions;
            let timeout = self.shared.options.transport.request_timeout;
            let call =
                |node: &str, client, request| sessions.append(node.to_owned(), client, request, timeout);
            self.call_on(Route::Stream(stream), Retry::Idempotent, request, call).await?.1
        } else {
            let call = |client, request| session::unary(client, request);
            self.call(Route::Stream(stream), Retry::Idempotent, request, call).await?
        };
        Ok(result.into())
    }

    /// Reads a stream on its owner.
    pub async fn read_stream(&self, stream: &str, options: ReadOptions) -> Result<Vec<RecordedEvent>> {
        let request = pb::ReadStreamRequest {
            stream: stream.to_owned(),
            direction: wire::direction_to_wire(options.direction),
            from: options.from,
            limit: Some(options.limit),
        };
        let pages = self
            .call(Route::Stream(stream), Retry::Idempotent, request, |mut c, request| async move {
                collect_pages(c.read_stream(request).await?.into_inner()).await
            })
            .await?;
        events_from_wire(pages)
    }

    /// Reads the `$all` log of this client's node.
    pub async fn read_all(&self, options: ReadAllOptions) -> Result<Vec<RecordedEvent>> {
        let request = pb::ReadAllRequest {
            direction: wire::direction_to_wire(options.direction),
            from: options.from,
            limit: Some(options.limit),
            filter: Some(options.filter.into()),
        };
        let pages = self
            .call(Route::Node, Retry::Idempotent, request, |mut c, request| {
                let request = self.scoped(request);
                async move { collect_pages(c.read_all(request).await?.into_inner()).await }
            })
            .await?;
        events_from_wire(pages)
    }

    /// One page of the streams this client's node holds ([`crate::Db::list_streams`]); list
    /// the other members through [`Client::on_node`].
    pub async fn list_streams(&self, options: &ListStreamsOptions) -> Result<Vec<StreamSummary>> {
        let request = pb::ListStreamsRequest {
            prefix: options.prefix.clone(),
            after: options.after.clone(),
            limit: options.limit,
        };
        let response = self
            .call(Route::Node, Retry::Idempotent, request, |mut c, request| {
                let request = self.scoped(request);
                async move { c.list_streams(request).await }
            })
            .await?;
        Ok(response.into_inner().streams.into_iter().map(Into::into).collect())
    }

    pub async fn stream_info(&self, stream: &str) -> Result<StreamInfo> {
        let request = pb::GetStreamInfoRequest { stream: stream.to_owned() };
        let response = self
            .call(Route::Stream(stream), Retry::Idempotent, request, |mut c, request| async move {
                c.get_stream_info(request).await
            })
            .await?;
        Ok(required(response.into_inner().info, "GetStreamInfoResponse.info")?.into())
    }

    pub async fn set_stream_metadata(&self, stream: &str, metadata: StreamMetadata) -> Result<()> {
        let request =
            pb::SetStreamMetadataRequest { stream: stream.to_owned(), metadata: Some(metadata.into()) };
        self.call(Route::Stream(stream), Retry::Idempotent, request, |mut c, request| async move {
            c.set_stream_metadata(request).await
        })
        .await?;
        Ok(())
    }

    pub async fn get_stream_metadata(&self, stream: &str) -> Result<StreamMetadata> {
        let request = pb::GetStreamMetadataRequest { stream: stream.to_owned() };
        let response = self
            .call(Route::Stream(stream), Retry::Idempotent, request, |mut c, request| async move {
                c.get_stream_metadata(request).await
            })
            .await?;
        Ok(required(response.into_inner().metadata, "GetStreamMetadataResponse.metadata")?.into())
    }

    /// Soft-deletes a stream. Not retried: after a lost answer, a second delete would meet the
    /// first one's result and fail where the first succeeded.
    pub async fn delete_stream(&self, stream: &str, expected: ExpectedVersion) -> Result<()> {
        let request = pb::DeleteStreamRequest { stream: stream.to_owned(), expected: Some(expected.into()) };
        self.call(Route::Stream(stream), Retry::Once, request, |mut c, request| async move {
            c.delete_stream(request).await
        })
        .await?;
        Ok(())
    }

    /// Tombstones a stream (for good). Not retried, like [`Client::delete_stream`].
    pub async fn tombstone_stream(&self, stream: &str, expected: ExpectedVersion) -> Result<()> {
        let request =
            pb::TombstoneStreamRequest { stream: stream.to_owned(), expected: Some(expected.into()) };
        self.call(Route::Stream(stream), Retry::Once, request, |mut c, request| async move {
            c.tombstone_stream(request).await
        })
        .await?;
        Ok(())
    }

    /// Crypto-shreds a stream on its owner (see [`crate::Db::shred_stream`]). Retried: shredding
    /// twice is not an error.
    pub async fn shred_stream(&self, stream: &str) -> Result<()> {
        let request = pb::ShredStreamRequest { stream: stream.to_owned() };
        self.call(Route::Stream(stream), Retry::Idempotent, request, |mut c, request| async move {
            c.shred_stream(request).await
        })
        .await?;
        Ok(())
    }

    /// Rewraps every data key of one node under `new_key` (see [`crate::Db::rotate_master_key`]):
    /// the home node, or the node of [`Client::on_node`]. Nodes accept it over TLS or from
    /// loopback only, since it carries the key. Not retried.
    pub async fn rotate_master_key(&self, new_key: &crate::crypto::Key) -> Result<()> {
        let request = pb::RotateMasterKeyRequest { new_key: new_key.expose().to_vec() };
        self.call(Route::Only, Retry::Once, request, |mut c, request| async move {
            c.rotate_master_key(request).await
        })
        .await?;
        Ok(())
    }

    pub async fn save_snapshot(&self, stream: &str, revision: u64, data: Vec<u8>) -> Result<()> {
        let request = pb::SaveSnapshotRequest { stream: stream.to_owned(), revision, data };
        self.call(Route::Stream(stream), Retry::Idempotent, request, |mut c, request| async move {
            c.save_snapshot(request).await
        })
        .await?;
        Ok(())
    }

    pub async fn get_snapshot(&self, stream: &str) -> Result<Option<Snapshot>> {
        let request = pb::GetSnapshotRequest { stream: stream.to_owned() };
        let response = self
            .call(Route::Stream(stream), Retry::Idempotent, request, |mut c, request| async move {
                c.get_snapshot(request).await
            })
            .await?;
        Ok(response.into_inner().snapshot.map(Into::into))
    }

    /// The number of events in this client's node's `$all` log: the position its next event gets.
    pub async fn head_position(&self) -> Result<u64> {
        let response = self
            .call(Route::Node, Retry::Idempotent, pb::GetHeadPositionRequest {}, |mut c, request| {
                let request = self.scoped(request);
                async move { c.get_head_position(request).await }
            })
            .await?;
        Ok(response.into_inner().head_position)
    }

    /// Asks this client's node (the home, or the one of [`Client::on_node`]) how it is, and no
    /// other: an answer says that node is up. Not retried.
    pub async fn node_health(&self) -> Result<NodeHealth> {
        let response = self
            .call(Route::Only, Retry::Once, pb::HealthRequest {}, |mut c, request| async move {
                c.health(request).await
            })
            .await?
            .into_inner();
        Ok(NodeHealth {
            draining: response.status() == pb::health_response::Status::Draining,
            node_id: response.node_id,
            version: response.version,
            head_position: response.head_position,
            serving_for: response.serving_for,
            stopped: Some(response.stopped).filter(|why| !why.is_empty()),
        })
    }

    // ---- subscriptions ------------------------------------------------------------------------

    /// Subscribes to a stream on its owner: `options.start` is a revision, `options.page_size`
    /// bounds what the node reads (and holds) at once; the filter is not used.
    pub async fn subscribe_to_stream(
        &self,
        stream: &str,
        options: SubscribeOptions,
    ) -> Result<ClientSubscription> {
        let request = pb::SubscribeToStreamRequest {
            stream: stream.to_owned(),
            start: Some(options.start.into()),
            page_size: Some(options.page_size),
        };
        let (node, inner) = self
            .call_named(Route::Stream(stream), Retry::Idempotent, request, |mut c, request| async move {
                c.subscribe_to_stream(request).await
            })
            .await?;
        Ok(ClientSubscription::new(inner.into_inner(), node, format!("stream '{stream}'"), "revision"))
    }

    /// Subscribes to the `$all` log of this client's node, filtered; `options.start` is a
    /// position of that log.
    pub async fn subscribe_to_all(&self, options: SubscribeOptions) -> Result<ClientSubscription> {
        let request = pb::SubscribeToAllRequest {
            start: Some(options.start.into()),
            filter: Some(options.filter.into()),
            page_size: Some(options.page_size),
        };
        let (node, inner) = self
            .call_named(Route::Node, Retry::Idempotent, request, |mut c, request| {
                let request = self.scoped(request);
                async move { c.subscribe_to_all(request).await }
            })
            .await?;
        Ok(ClientSubscription::new(inner.into_inner(), node, "$all".to_owned(), "position"))
    }

    // ---- schemas --------------------------------------------------------------------------------

    /// Registers a schema version on every node (see [`crate::Db::upsert_schema`]). After
    /// UNAVAILABLE (a member could not be reached), upserting the same definition again completes
    /// the replication without a new version. Not retried here: the version may be committed,
    /// and a retry after another client's newer upsert would store this one again on top of it.
    pub async fn upsert_schema(&self, schema: &Schema) -> Result<SchemaUpsert> {
        let request = pb::UpsertSchemaRequest { schema: Some(schema.into()) };
        let response =
            self.call(Route::Any, Retry::Once, request, |mut c, request| async move {
                c.upsert_schema(request).await
            })
            .await?;
        Ok(response.into_inner().into())
    }

    pub async fn get_schema(&self, name: &str, version: Option<u32>) -> Result<RegisteredSchema> {
        let request = pb::GetSchemaRequest { name: name.to_owned(), version };
        let response = self
            .call(Route::Any, Retry::Idempotent, request, |mut c, request| async move {
                c.get_schema(request).await
            })
            .await?;
        required(response.into_inner().schema, "GetSchemaResponse.schema")?.try_into()
    }

    pub async fn list_schemas(&self) -> Result<Vec<RegisteredSchema>> {
        let response = self
            .call(Route::Any, Retry::Idempotent, pb::ListSchemasRequest {}, |mut c, request| async move {
                c.list_schemas(request).await
            })
            .await?;
        response.into_inner().schemas.into_iter().map(TryInto::try_into).collect()
    }

    // ---- consumer groups --------------------------------------------------------------------

    /// Creates a group: on the stream's owner for a group on a stream, on this client's node for
    /// a group on `$all`. Not retried (a second create would find the first).
    pub async fn create_group(
        &self,
        name: &str,
        target: GroupTarget,
        start: SubscriptionStart,
        settings: GroupSettings,
    ) -> Result<GroupInfo> {
        let route = match &target {
            GroupTarget::Stream(stream) => Route::Stream(stream),
            GroupTarget::All(_) => Route::Node,
        };
        let request = pb::CreateGroupRequest {
            name: name.to_owned(),
            target: Some(target.clone().into()),
            start: Some(start.into()),
            settings: Some(settings.into()),
        };
        let response = self
            .call(route, Retry::Once, request, |mut c, request| {
                let request = self.scoped(request);
                async move { c.create_group(request).await }
            })
            .await?;
        required(response.into_inner().group, "CreateGroupResponse.group")?.try_into()
    }

    /// Changes a group's settings, wherever the group lives.
    pub async fn update_group(&self, name: &str, settings: GroupSettings) -> Result<GroupInfo> {
        let request = pb::UpdateGroupRequest { name: name.to_owned(), settings: Some(settings.into()) };
        let response = self
            .call(Route::Node, Retry::Idempotent, request, |mut c, request| async move {
                c.update_group(request).await
            })
            .await?;
        required(response.into_inner().group, "UpdateGroupResponse.group")?.try_into()
    }

    pub async fn delete_group(&self, name: &str) -> Result<()> {
        let request = pb::DeleteGroupRequest { name: name.to_owned() };
        self.call(Route::Node, Retry::Once, request, |mut c, request| async move {
            c.delete_group(request).await
        })
        .await?;
        Ok(())
    }

    pub async fn group_info(&self, name: &str) -> Result<GroupInfo> {
        let request = pb::GetGroupRequest { name: name.to_owned() };
        let response = self
            .call(Route::Node, Retry::Idempotent, request, |mut c, request| async move {
                c.get_group(request).await
            })
            .await?;
        required(response.into_inner().group, "GetGroupResponse.group")?.try_into()
    }

    /// The names of the groups of every member's log, sorted (a member that is down is asked
    /// through the one serving its log). UNAVAILABLE if a log cannot be asked: a partial list
    /// would hide groups.
    pub async fn list_groups(&self) -> Result<Vec<String>> {
        self.check_open()?;
        let mut names = BTreeSet::new();
        for member in self.members() {
            let on = self.on_node(&member.id)?;
            let response = on
                .call(Route::Node, Retry::Idempotent, pb::ListGroupsRequest {}, |mut c, request| {
                    let request = on.scoped(request);
                    async move { c.list_groups(request).await }
                })
                .await?;
            names.extend(response.into_inner().names);
        }
        Ok(names.into_iter().collect())
    }

    /// Hands parked events of group `name` (the oldest first, all or `limit`) back to its
    /// members, wherever the group lives. Not retried: a second replay would hand back more.
    pub async fn replay_parked(&self, name: &str, limit: Option<u64>) -> Result<ReplayInfo> {
        let request = pb::ReplayParkedRequest { group: name.to_owned(), limit };
        let response = self
            .call(Route::Node, Retry::Once, request, |mut c, request| async move {
                c.replay_parked(request).await
            })
            .await?;
        response.into_inner().try_into()
    }

    /// Joins a group as `member` (wherever the group lives: nodes forward the session). Tried
    /// on another node while the one asked is unreachable (a join that failed there left no
    /// session).
    pub async fn join_group(&self, group: &str, member: &str) -> Result<ClientGroupMember> {
        let join = pb::consume_request::Join { group: group.to_owned(), member: member.to_owned() };
        let join = pb::ConsumeRequest { request: Some(pb::consume_request::Request::Join(join)) };
        let open = |mut c: NodeClient, join| async move {
            let (requests, outgoing) = mpsc::unbounded_channel();
            requests.send(join).expect("the receiver is alive");
            let mut incoming = c.consume(UnboundedReceiverStream::new(outgoing)).await?.into_inner();
            let first = incoming.message().await?;
            Ok((requests, incoming, first))
        };
        let (node, (requests, incoming, first)) =
            self.call_named(Route::Node, Retry::Idempotent, join, open).await?;
        let info = match first {
            Some(pb::ConsumeResponse { response: Some(pb::consume_response::Response::Joined(joined)) }) => {
                required(joined.group, "Joined.group")?.try_into()?
            }
            _ => {
                return Err(Error::Internal(format!(
                    "node {node} did not answer the join of group '{group}'"
                )))
            }
        };
        Ok(ClientGroupMember::start(requests, incoming, node, group.to_owned(), info))
    }
}

/// Asks `endpoints` in order for the ring; the first answer wins. Returns it with the id of the
/// member that answered. That member is dialled at the endpoint that reached it: the endpoint it
/// lists for itself may be its listen address (`0.0.0.0:50051`), not one a client can dial.
async fn learn(endpoints: &[String], transport: &TransportOptions) -> Result<(View, String)> {
    let mut failures = Vec::new();
    for endpoint in endpoints {
        let mut client = match node_client(endpoint, transport) {
            Ok(client) => client,
            Err(e) => {
                failures.push(format!("{endpoint}: {e}"));
                continue;
            }
        };
        let topology = match client.get_topology(pb::GetTopologyRequest {}).await {
            Ok(response) => response.into_inner(),
            Err(status) => {
                let error = call_error(endpoint, &status);
                // A node that refuses the token refuses it on every node: say so at once.
                if matches!(error, Error::Unauthenticated(_)) {
                    return Err(error);
                }
                failures.push(format!("{endpoint}: {error}"));
                continue;
            }
        };
        let members: Vec<Member> =
            topology.members.into_iter().map(|m| Member::new(m.id, m.endpoint)).collect();
        let ring = Ring::new(members, topology.virtual_nodes)
            .map_err(|e| Error::Internal(format!("node at {endpoint} described an invalid ring: {e}")))?;
        let nodes = ring
            .members()
            .iter()
            .map(|m| {
                let dial = if m.id == topology.node_id { endpoint } else { &m.endpoint };
                Ok((m.clone(), node_client(dial, transport)?))
            })
            .collect::<Result<Vec<_>>>()?;
        return Ok((View { ring, nodes }, topology.node_id));
    }
    Err(Error::Unavailable(format!("no node of the cluster answered: {}", failures.join("; "))))
}

async fn collect_pages(
    mut pages: Streaming<pb::ReadResponse>,
) -> std::result::Result<Vec<pb::RecordedEvent>, Status> {
    let mut events = Vec::new();
    while let Some(page) = pages.message().await? {
        events.extend(page.events);
    }
    Ok(events)
}

fn events_from_wire(events: Vec<pb::RecordedEvent>) -> Result<Vec<RecordedEvent>> {
    events.into_iter().map(RecordedEvent::try_from).collect()
}

/// A field a node must send: its absence is a node of another version, or a bug.
fn required<T>(value: Option<T>, what: &str) -> Result<T> {
    value.ok_or_else(|| Error::Internal(format!("the node's answer has no {what}")))
}

/// A subscription through a node. It ends only when closed: if the node or the connection goes
/// away, [`ClientSubscription::next`] returns one UNAVAILABLE error saying where to resume, and
/// `None` after it.
pub struct ClientSubscription {
    inner: Option<Streaming<pb::SubscribeResponse>>,
    node: String,
    what: String,
    cursor_name: &'static str,
    /// The cursor of the last event delivered: where to resume.
    last: Option<u64>,
}

impl ClientSubscription {
    fn new(
        inner: Streaming<pb::SubscribeResponse>,
        node: String,
        what: String,
        cursor_name: &'static str,
    ) -> ClientSubscription {
        ClientSubscription { inner: Some(inner), node, what, cursor_name, last: None }
    }

    /// The next message; `None` once closed or after the drop was reported.
    pub async fn next(&mut self) -> Option<Result<SubscriptionMessage>> {
        let inner = self.inner.as_mut()?;
        let failure = match inner.message().await {
            Ok(Some(pb::SubscribeResponse { message: Some(message) })) => {
                return Some(match message {
                    pb::subscribe_response::Message::Event(event) => {
                        RecordedEvent::try_from(event).map(|event| {
                            self.last = Some(if self.cursor_name == "revision" {
                                event.revision
                            } else {
                                event.position
                            });
                            SubscriptionMessage::Event(event)
                        })
                    }
                    pb::subscribe_response::Message::CaughtUp(_) => Ok(SubscriptionMessage::CaughtUp),
                });
            }
            Ok(Some(_)) => Error::Internal(format!("node {} sent an empty subscription message", self.node)),
            // A node never ends a subscription on its own: an end is a drop.
            Ok(None) => Error::Unavailable(format!("node {} ended the subscription", self.node)),
            Err(status) => call_error(&self.node, &status),
        };
        self.inner = None;
        let resume = match self.last {
            Some(last) => format!("subscribe again after {} {last}", self.cursor_name),
            None => "subscribe again from the same start".to_owned(),
        };
        Some(Err(match failure {
            Error::Unavailable(why) => {
                Error::Unavailable(format!("the subscription to {} dropped ({why}); {resume}", self.what))
            }
            other => other,
        }))
    }

    /// The subscription as a [`Stream`](futures_util::Stream); it ends where `next` returns
    /// `None` (after reporting a drop). Dropping it closes the subscription.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Result<SubscriptionMessage>> + Send {
        futures_util::stream::unfold(self, |mut subscription| async move {
            subscription.next().await.map(|message| (message, subscription))
        })
    }

    /// The cursor (revision, or position for `$all`) of the last event delivered.
    pub fn last_cursor(&self) -> Option<u64> {
        self.last
    }

    /// Stops the subscription; `next` returns `None` afterwards.
    pub fn close(&mut self) {
        self.inner = None;
    }
}

/// What a node says of itself ([`Client::node_health`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeHealth {
    pub node_id: String,
    /// The node's version.
    pub version: String,
    /// The node is shutting down: it finishes what is in flight and takes nothing new for long.
    pub draining: bool,
    /// Events in the node's own log.
    pub head_position: u64,
    /// Members whose logs this node serves because it found them down (logs in Cassandra).
    pub serving_for: Vec<String>,
    /// Why the node's own store takes no writes now ([`crate::Db::stopped`]), or `None`.
    pub stopped: Option<String>,
}

/// One event handed to a [`ClientGroupMember`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientDelivery {
    pub event: RecordedEvent,
    /// 1 for the first delivery.
    pub attempt: u32,
    /// The revision of its copy in the group's parked stream when this is a parked event handed
    /// back by a replay; `None` for an event of the target.
    pub parked_revision: Option<u64>,
    /// The node's id of the delivery: a redelivery of the same event has the same id.
    pub id: u64,
}

/// A settle waiting for the node's answer, in the order the requests were sent.
struct PendingSettle {
    ids: Vec<u64>,
    answer: tokio::sync::oneshot::Sender<Result<()>>,
}

/// What the session's reader shares with the member.
struct SessionState {
    /// Settles sent and not answered yet, oldest first (the node answers in order).
    pending: VecDeque<PendingSettle>,
    /// Set when the session dropped: the error later calls report.
    ended: Option<Error>,
}

/// A member of a consumer group, through a node. Deliveries and settles go both ways at once:
/// a reader task owns the node's half of the session, hands deliveries to [`next`] and answers
/// to the settles waiting for them, so [`ack`] and [`nack`] work on a shared reference while
/// another thread waits in `next`. Dropping it leaves the group: its unsettled deliveries go to
/// the other members.
///
/// [`next`]: ClientGroupMember::next
/// [`ack`]: ClientGroupMember::ack
/// [`nack`]: ClientGroupMember::nack
pub struct ClientGroupMember {
    requests: mpsc::UnboundedSender<pb::ConsumeRequest>,
    deliveries: tokio::sync::Mutex<mpsc::UnboundedReceiver<Result<ClientDelivery>>>,
    state: Arc<std::sync::Mutex<SessionState>>,
    reader: tokio::task::JoinHandle<()>,
    group: String,
    info: GroupInfo,
}

impl ClientGroupMember {
    fn start(
        requests: mpsc::UnboundedSender<pb::ConsumeRequest>,
        incoming: Streaming<pb::ConsumeResponse>,
        node: String,
        group: String,
        info: GroupInfo,
    ) -> ClientGroupMember {
        let (deliver, deliveries) = mpsc::unbounded_channel();
        let state = Arc::new(std::sync::Mutex::new(SessionState { pending: VecDeque::new(), ended: None }));
        let reader = tokio::spawn(read_session(incoming, node, group.clone(), deliver, state.clone()));
        ClientGroupMember {
            requests,
            deliveries: tokio::sync::Mutex::new(deliveries),
            state,
            reader,
            group,
            info,
        }
    }

    /// The group as it was when this member joined.
    pub fn joined_info(&self) -> &GroupInfo {
        &self.info
    }

    /// The next delivery. After a drop of the node or the connection: UNAVAILABLE once, saying
    /// to join again (the group's unsettled events are delivered again, to this member or
    /// another), and the same error from then on. Cancel-safe.
    pub async fn next(&self) -> Result<ClientDelivery> {
        let mut deliveries = self.deliveries.lock().await;
        match deliveries.recv().await {
            Some(delivery) => delivery,
            None => Err(self.gone()),
        }
    }

    /// Acknowledges deliveries; returns once the node has made that durable.
    pub async fn ack(&self, deliveries: &[ClientDelivery]) -> Result<()> {
        self.ack_ids(&deliveries.iter().map(|d| d.id).collect::<Vec<_>>()).await
    }

    /// Nacks deliveries with one action; returns once the node has made that durable.
    pub async fn nack(&self, deliveries: &[ClientDelivery], action: NackAction) -> Result<()> {
        self.nack_ids(&deliveries.iter().map(|d| d.id).collect::<Vec<_>>(), action).await
    }

    /// [`ClientGroupMember::ack`] by delivery id ([`ClientDelivery::id`]).
    pub async fn ack_ids(&self, ids: &[u64]) -> Result<()> {
        let ack = pb::consume_request::Ack { delivery_ids: ids.to_vec() };
        self.settle(ids, pb::consume_request::Request::Ack(ack)).await
    }

    /// [`ClientGroupMember::nack`] by delivery id ([`ClientDelivery::id`]).
    pub async fn nack_ids(&self, ids: &[u64], action: NackAction) -> Result<()> {
        let nack = pb::consume_request::Nack {
            delivery_ids: ids.to_vec(),
            action: wire::nack_action_to_wire(action),
        };
        self.settle(ids, pb::consume_request::Request::Nack(nack)).await
    }

    async fn settle(&self, ids: &[u64], request: pb::consume_request::Request) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let (answer, answered) = tokio::sync::oneshot::channel();
        {
            // Queued and sent under one lock: the queue's order is the order the node answers in.
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(error) = &state.ended {
                return Err(error.clone());
            }
            // A send fails once the call is over, which can be before the reader has seen
            // why (a deleted group's NOT_FOUND, say). The settle then waits in the queue all
            // the same: the reader ends the session under this lock and answers everything
            // queued with the reason, so the caller gets the call's own error, not a guess.
            let _ = self.requests.send(pb::ConsumeRequest { request: Some(request) });
            state.pending.push_back(PendingSettle { ids: ids.to_vec(), answer });
        }
        answered.await.unwrap_or_else(|_| Err(self.gone()))
    }

    /// Leaves the group now, as dropping the member does, even while calls through it are in
    /// flight: the session's call ends (the node hands its unsettled deliveries to the other
    /// members), settles waiting for an answer fail with CLOSED, and so does every later call.
    pub fn leave(&self) {
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if state.ended.is_none() {
                state.ended = Some(Error::Closed);
            }
            for waiting in state.pending.drain(..) {
                let _ = waiting.answer.send(Err(Error::Closed));
            }
        }
        // Dropping the response stream with the reader cancels the call.
        self.reader.abort();
    }

    fn gone(&self) -> Error {
        ended(&self.state.lock().unwrap_or_else(|p| p.into_inner()), &self.group)
    }
}

/// What a call on a session that has ended fails with: the error that ended it, with its code
/// (NOT_FOUND for a deleted group, UNAVAILABLE for a drop).
fn ended(state: &SessionState, group: &str) -> Error {
    state.ended.clone().unwrap_or_else(|| {
        Error::Unavailable(format!("the session of group '{group}' has ended; join again"))
    })
}

impl Drop for ClientGroupMember {
    fn drop(&mut self) {
        // The request side closes with `requests`; the reader goes too, so the node sees the
        // session end at once, not at its next delivery.
        self.reader.abort();
    }
}

/// The reader of a session: deliveries to the member, answers to the settles waiting for them.
/// On a drop it fails every waiting settle and reports the drop once as the next delivery.
async fn read_session(
    mut incoming: Streaming<pb::ConsumeResponse>,
    node: String,
    group: String,
    deliver: mpsc::UnboundedSender<Result<ClientDelivery>>,
    state: Arc<std::sync::Mutex<SessionState>>,
) {
    let failure = loop {
        let response = match incoming.message().await {
            Ok(Some(pb::ConsumeResponse { response: Some(response) })) => response,
            Ok(Some(_)) => break Error::Internal(format!("node {node} sent an empty group message")),
            Ok(None) => break Error::Unavailable(format!("node {node} ended the session")),
            Err(status) => break call_error(&node, &status),
        };
        match response {
            pb::consume_response::Response::Delivery(delivery) => {
                let delivery = required(delivery.event, "Delivery.event").and_then(|event| {
                    Ok(ClientDelivery {
                        event: event.try_into()?,
                        attempt: delivery.attempt,
                        parked_revision: delivery.parked_revision,
                        id: delivery.delivery_id,
                    })
                });
                match delivery {
                    Ok(delivery) => {
                        if deliver.send(Ok(delivery)).is_err() {
                            return;
                        }
                    }
                    // A message this client cannot read ends the session like a drop does,
                    // so settles waiting for an answer get one.
                    Err(error) => break error,
                }
            }
            pb::consume_response::Response::Settled(settled) => {
                let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
                // Answers come in order; one for a settle whose caller stopped waiting finds
                // its receiver gone, which is fine.
                while let Some(waiting) = state.pending.pop_front() {
                    if waiting.ids == settled.delivery_ids {
                        let _ = waiting.answer.send(Ok(()));
                        break;
                    }
                    let _ = waiting.answer.send(Err(Error::Internal(format!(
                        "node {node} answered another settle than the one sent in the session of group '{group}'"
                    ))));
                }
            }
            pb::consume_response::Response::Joined(_) => {
                break Error::Internal(format!("node {node} sent a second Joined message in group '{group}'"))
            }
        }
    };
    let failure = match failure {
        Error::Unavailable(why) => Error::Unavailable(format!(
            "the session of group '{group}' dropped ({why}); join again: unsettled events are delivered again"
        )),
        other => other,
    };
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    state.ended = Some(failure.clone());
    for waiting in state.pending.drain(..) {
        let _ = waiting.answer.send(Err(failure.clone()));
    }
    drop(state);
    let _ = deliver.send(Err(failure));
}
