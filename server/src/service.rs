//! The gRPC service: each RPC converts its request with `graveyard::wire`, calls the core,
//! and converts the answer back. No logic of the store lives here.
//!
//! Threading: appends go through `Db::append_async`, which queues on the caller's thread and
//! resolves after the group commit, so concurrent requests share commits. Reads are LMDB reads
//! on the calling worker thread, without `spawn_blocking`: every read here is one record or one
//! bounded page (at most `READ_PAGE_EVENTS` events or about `READ_PAGE_BYTES`, `READ_SCAN_LIMIT`
//! events scanned by a filtered read, `SUBSCRIPTION_PAGE` for a subscription). Measured on the
//! 2-core development machine: a page of 512 events of ~190 bytes, read in place and converted
//! to its wire form, takes ~120 µs; a filtered scan of 4,096 events ~145 µs. That is about the
//! time a task may run between awaits without starving its neighbours, so a hop to a blocking
//! thread would cost every read without helping any. The other writes (metadata, deletes,
//! snapshots, groups, schemas, group acks) have no async form in the core and wait for a durable
//! commit: they run in `block_in_place`, so the runtime moves its other tasks off the waiting
//! worker instead of stalling them behind an fsync.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt as _;
use graveyard::client::FORWARDED_HEADER;
use graveyard::runtime::Next;
use graveyard::wire;
use graveyard::wire::v1 as pb;
use graveyard::wire::v1::graveyard_server::Graveyard;
use graveyard::{
    Db, Direction, Error, ErrorCode, EventRef, Filter, ListStreamsOptions, ReadAllOptions, ReadOptions,
    StoreMember, SubscribeOptions, Subscription, SubscriptionMessage,
};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::{Request, Response, Status, Streaming};

use crate::cluster::{Cluster, Local, Peer, Route};
use crate::metrics::{Metrics, ReadKind, SubscriptionKind};
use crate::telemetry;
use crate::wire_errors::{failure, protocol_failure};
use opentelemetry::trace::SpanContext;
use tracing::{Instrument, Span};

/// Most events in one read batch.
const READ_PAGE_EVENTS: u64 = 512;
/// A read batch ends after the event that brings its data and metadata past this many bytes.
const READ_PAGE_BYTES: usize = 1024 * 1024;
/// Most events a filtered $all read scans per batch, matching or not, so a rare filter cannot
/// turn one batch into a scan of the whole log.
const READ_SCAN_LIMIT: u64 = 4096;
/// Batches read ahead of a slow reader.
const READ_BUFFER: usize = 2;
/// Most events a subscription reads (and holds) at once, unless the client asks for another
/// page size (at most `MAX_SUBSCRIPTION_PAGE`).
const SUBSCRIPTION_PAGE: u64 = 512;
const MAX_SUBSCRIPTION_PAGE: u64 = 65_536;
/// Messages a subscription or a group member runs ahead of a slow client. With the core's page,
/// it bounds what one slow client costs the node.
const STREAM_BUFFER: usize = 64;

/// Serves a request where `$route` (a `Route`) says: when that is another member, returns its
/// answer from the enclosing RPC; else evaluates to the store to serve it from. `relay` for RPCs
/// that answer a stream.
macro_rules! served_at {
    ($self:ident, $request:ident, $route:expr, $rpc:ident) => {
        match $route {
            Route::Local(local) => local,
            Route::Forward(peer) => {
                return $self
                    .cluster
                    .forward(peer, stringify!($rpc), $request, |mut c, r| async move { c.$rpc(r).await })
                    .await
            }
        }
    };
    ($self:ident, $request:ident, $route:expr, $rpc:ident, relay $buffer:expr, $span:expr) => {
        match $route {
            Route::Local(local) => local,
            Route::Forward(peer) => {
                let answer =
                    $self
                        .cluster
                        .forward(peer.clone(), stringify!($rpc), $request, |mut c, r| async move {
                            c.$rpc(r).await
                        })
                        .await?;
                return Ok(Response::new($self.relay(peer.id, answer.into_inner(), $buffer, $span)));
            }
        }
    };
}

/// Serves a request on the member that serves the log of `key` (a stream name).
macro_rules! on_owner {
    ($self:ident, $request:ident, $key:expr, $rpc:ident $(, $relay:tt $buffer:expr, $span:expr)?) => {
        served_at!(
            $self,
            $request,
            $self.cluster.route($key, $request.metadata()).await?,
            $rpc
            $(, $relay $buffer, $span)?
        )
    };
}

/// Serves a request about a log itself (`$all`, its head, its listings) on the member that
/// serves the log its `LOG_HEADER` names (this node's own without it).
macro_rules! on_log {
    ($self:ident, $request:ident, $rpc:ident $(, $relay:tt $buffer:expr, $span:expr)?) => {
        served_at!($self, $request, $self.cluster.route_log($request.metadata()).await?, $rpc $(, $relay $buffer, $span)?)
    };
}

/// Serves a request about consumer group `name` on the member that holds it; evaluates to the
/// store holding it when that is this node.
macro_rules! on_group_node {
    ($self:ident, $request:ident, $name:expr, $rpc:ident) => {
        match $self.group_elsewhere($name, $request.metadata()).await? {
            GroupAt::Here(local) => local,
            GroupAt::There(peer) => {
                return $self
                    .cluster
                    .forward(peer, stringify!($rpc), $request, |mut c, r| async move { c.$rpc(r).await })
                    .await
            }
        }
    };
}

/// Where a consumer group is.
enum GroupAt {
    /// In this store of this node (its own when no store here has it and the request was
    /// forwarded: it then answers NOT_FOUND).
    Here(Local),
    There(Peer),
}

pub struct GraveyardService {
    /// This node's own store: its schemas (every store of the node holds the same versions), its
    /// keys, its health. Requests about a log ($all, its head, its listings) go by `on_log!`.
    db: Db,
    cluster: Arc<Cluster>,
    metrics: Arc<Metrics>,
    /// Becomes true when the node starts shutting down.
    draining: watch::Receiver<bool>,
    /// Clients reach this node over TLS.
    tls: bool,
}

impl GraveyardService {
    pub fn new(
        db: Db,
        cluster: Arc<Cluster>,
        metrics: Arc<Metrics>,
        draining: watch::Receiver<bool>,
        tls: bool,
    ) -> GraveyardService {
        GraveyardService { db, cluster, metrics, draining, tls }
    }

    fn fail(&self, error: Error) -> Status {
        failure(&self.metrics, error)
    }

    /// Where consumer group `name` is: in a store this node serves, or on another member (unless
    /// the request was forwarded here: then this node answers, NOT_FOUND if it lacks the group).
    async fn group_elsewhere(&self, name: &str, metadata: &MetadataMap) -> Result<GroupAt, Status> {
        if let Some(local) = self.cluster.local_group(name).await? {
            return Ok(GroupAt::Here(local));
        }
        if Cluster::is_forwarded(metadata) {
            return Ok(GroupAt::Here(self.cluster.own.clone()));
        }
        Ok(match self.cluster.find_group(name).await? {
            Some(peer) => GroupAt::There(peer),
            None => GroupAt::Here(self.cluster.own.clone()),
        })
    }

    /// Passes a stream answered by `peer` on to the client, through a bounded channel (a slow
    /// client slows the peer's stream down; at most `buffer` messages wait here). A transport failure becomes
    /// UNAVAILABLE naming the peer; a drain of this node ends the stream like its own ones.
    fn relay<T: Send + 'static>(
        &self,
        peer: String,
        mut inner: Streaming<T>,
        buffer: usize,
        span: Span,
    ) -> ReceiverStream<Result<T, Status>> {
        let (tx, rx) = mpsc::channel(buffer);
        let cluster = self.cluster.clone();
        let metrics = self.metrics.clone();
        let mut draining = self.draining.clone();
        tokio::spawn(
            async move {
                loop {
                    let item = tokio::select! {
                        message = inner.message() => match message {
                            Ok(Some(message)) => Ok(message),
                            Ok(None) => return,
                            Err(status) => Err(cluster.unreachable(&peer, status)),
                        },
                        () = tx.closed() => return,
                        () = drained(&mut draining) => Err(shutting_down(&metrics)),
                    };
                    if let Err(status) = &item {
                        telemetry::failed(&Span::current(), status);
                    }
                    let last = item.is_err();
                    if tx.send(item).await.is_err() || last {
                        return;
                    }
                }
            }
            .instrument(span),
        );
        ReceiverStream::new(rx)
    }
}

/// Commits one append on this node. A task of its own: an append handed to the writer commits
/// even when its client goes away (the caller is then dropped), and it is counted all the same.
async fn commit_append(
    db: Db,
    metrics: Arc<Metrics>,
    request: pb::AppendRequest,
) -> Result<graveyard::AppendResult, Error> {
    let started = Instant::now();
    tokio::spawn(async move {
        let outcome = async {
            let expected = wire::expected_from_wire(request.expected)?;
            let events = wire::events_from_wire(request.events)?;
            let count = events.len();
            let result = db.append_async(&request.stream, expected, events).await?;
            Ok::<_, Error>((result, count))
        }
        .await;
        metrics.record_append(started.elapsed(), outcome.as_ref().ok().map(|(_, count)| *count));
        outcome.map(|(result, _)| result)
    })
    .await
    .unwrap_or_else(|e| Err(Error::Internal(format!("the append task failed: {e}"))))
}

/// Appends in flight on one `AppendSession` at most: a client sending more waits (HTTP/2 flow
/// control) until some are answered.
const SESSION_IN_FLIGHT: u32 = 1024;
/// Answers of an `AppendSession` buffered for a client that reads them slowly.
const SESSION_BUFFER: usize = 256;

/// One `AppendSession` call: each append is served as a unary `Append` would be, in a task of
/// its own, answered by its id.
struct AppendSession {
    cluster: Arc<Cluster>,
    metrics: Arc<Metrics>,
    /// The call's metadata: whether it was forwarded, the caller's trace context.
    metadata: MetadataMap,
}

impl AppendSession {
    async fn run(
        self: Arc<Self>,
        mut incoming: Streaming<pb::AppendSessionRequest>,
        tx: mpsc::Sender<Result<pb::AppendSessionResponse, Status>>,
        mut draining: watch::Receiver<bool>,
    ) {
        let permits = Arc::new(tokio::sync::Semaphore::new(SESSION_IN_FLIGHT as usize));
        let end = loop {
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                () = drained(&mut draining) => break Some(shutting_down(&self.metrics)),
            };
            let item = tokio::select! {
                item = incoming.message() => item,
                () = tx.closed() => break None,
                () = drained(&mut draining) => break Some(shutting_down(&self.metrics)),
            };
            let item = match item {
                Ok(Some(item)) => item,
                // The client ended its side: what is in flight is answered, then the call ends.
                Ok(None) => break None,
                Err(status) => break Some(crate::wire_errors::refuse(&self.metrics, status)),
            };
            let (session, tx) = (self.clone(), tx.clone());
            tokio::spawn(
                async move {
                    let answer = async {
                        match item.append {
                            Some(request) => session.append(request).await,
                            None => Err(protocol_failure(
                                &session.metrics,
                                ErrorCode::InvalidArgument,
                                "an AppendSessionRequest without its append".to_owned(),
                            )),
                        }
                    };
                    // A panic serving one append answers it INTERNAL, as a unary call's would
                    // end: its caller is never left waiting and the session goes on.
                    let answer = AssertUnwindSafe(answer).catch_unwind().await.unwrap_or_else(|_| {
                        tracing::error!(id = item.id, "serving an append of a session panicked");
                        Err(protocol_failure(
                            &session.metrics,
                            ErrorCode::Internal,
                            "serving the append failed unexpectedly (a bug; see the node's log)".to_owned(),
                        ))
                    });
                    let outcome = match answer {
                        Ok(result) => pb::append_session_response::Outcome::Result(result),
                        Err(status) => {
                            pb::append_session_response::Outcome::Error(wire::status_to_message(&status))
                        }
                    };
                    // A client gone misses the answer; the append stands all the same.
                    let _ =
                        tx.send(Ok(pb::AppendSessionResponse { id: item.id, outcome: Some(outcome) })).await;
                    drop(permit);
                }
                .in_current_span(),
            );
        };
        // Every append in flight is answered before the call ends.
        let _ = permits.acquire_many(SESSION_IN_FLIGHT).await;
        if let Some(status) = end {
            telemetry::failed(&Span::current(), &status);
            let _ = tx.send(Err(status)).await;
        }
    }

    /// One append of the session: on this node when it owns the stream, else forwarded to the
    /// owner as a unary `Append`.
    async fn append(&self, request: pb::AppendRequest) -> Result<pb::AppendResult, Status> {
        // A child of the session's span (the current one): no trace context of its own.
        let span =
            telemetry::serve("Append", &MetadataMap::new(), &self.cluster.node_id, Some(&request.stream));
        span.record("graveyard.events", request.events.len());
        let result = async {
            match self.cluster.route(&request.stream, &self.metadata).await? {
                Route::Forward(peer) => {
                    let answer = self
                        .cluster
                        .forward(peer, "Append", Request::new(request), |mut c, r| async move {
                            c.append(r).await
                        })
                        .await?;
                    answer.into_inner().result.ok_or_else(|| {
                        protocol_failure(
                            &self.metrics,
                            ErrorCode::Internal,
                            "the owner's answer to a forwarded append has no result".to_owned(),
                        )
                    })
                }
                Route::Local(local) => commit_append(local.db, self.metrics.clone(), request)
                    .await
                    .map(Into::into)
                    .map_err(|e| failure(&self.metrics, e)),
            }
        }
        .instrument(span.clone())
        .await;
        if let Err(status) = &result {
            telemetry::failed(&span, status);
        }
        result
    }
}

fn shutting_down(metrics: &Metrics) -> Status {
    protocol_failure(
        metrics,
        ErrorCode::Unavailable,
        "the node is shutting down; resume from your last checkpoint on another node or after its restart"
            .to_owned(),
    )
}

/// Runs a call that waits for a commit (see the module documentation).
fn committing<T>(write: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(write)
}

/// The page size a subscription asked for, or the default.
fn subscription_page(asked: Option<u64>) -> Result<u64, Error> {
    match asked {
        None => Ok(SUBSCRIPTION_PAGE),
        Some(page) if (1..=MAX_SUBSCRIPTION_PAGE).contains(&page) => Ok(page),
        Some(page) => Err(Error::InvalidArgument(format!(
            "a subscription's page size is 1 to {MAX_SUBSCRIPTION_PAGE}, not {page}"
        ))),
    }
}

/// Resolves once the node starts draining (or its drain signal is gone).
async fn drained(draining: &mut watch::Receiver<bool>) {
    let _ = draining.wait_for(|&d| d).await;
}

type RpcResult<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl Graveyard for GraveyardService {
    async fn append(&self, request: Request<pb::AppendRequest>) -> RpcResult<pb::AppendResponse> {
        let span = telemetry::serve(
            "Append",
            request.metadata(),
            &self.cluster.node_id,
            Some(&request.get_ref().stream),
        );
        span.record("graveyard.events", request.get_ref().events.len());
        telemetry::traced(span, async move {
            let local = on_owner!(self, request, &request.get_ref().stream, append);
            let result = commit_append(local.db, self.metrics.clone(), request.into_inner())
                .await
                .map_err(|e| self.fail(e))?;
            Ok(Response::new(pb::AppendResponse { result: Some(result.into()) }))
        })
        .await
    }

    type AppendSessionStream = ReceiverStream<Result<pb::AppendSessionResponse, Status>>;

    async fn append_session(
        &self,
        request: Request<Streaming<pb::AppendSessionRequest>>,
    ) -> RpcResult<Self::AppendSessionStream> {
        let span = telemetry::serve("AppendSession", request.metadata(), &self.cluster.node_id, None);
        let session = Arc::new(AppendSession {
            cluster: self.cluster.clone(),
            metrics: self.metrics.clone(),
            metadata: request.metadata().clone(),
        });
        let (tx, rx) = mpsc::channel(SESSION_BUFFER);
        tokio::spawn(session.run(request.into_inner(), tx, self.draining.clone()).instrument(span));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    type ReadStreamStream = ReceiverStream<Result<pb::ReadResponse, Status>>;

    async fn read_stream(
        &self,
        request: Request<pb::ReadStreamRequest>,
    ) -> RpcResult<Self::ReadStreamStream> {
        let span = telemetry::serve(
            "ReadStream",
            request.metadata(),
            &self.cluster.node_id,
            Some(&request.get_ref().stream),
        );
        telemetry::traced(span, async move {
            // The read's span lasts until its last page is relayed.
            let local =
                on_owner!(self, request, &request.get_ref().stream, read_stream, relay READ_BUFFER, Span::current());
            let request = request.into_inner();
            let direction = wire::direction_from_wire(request.direction).map_err(|e| self.fail(e))?;
            let pager = Pager::new(
                local.db,
                ReadTarget::Stream(request.stream),
                direction,
                request.from,
                request.limit,
            );
            self.stream_pages(pager, ReadKind::Stream)
        })
        .await
    }

    type ReadAllStream = ReceiverStream<Result<pb::ReadResponse, Status>>;

    async fn read_all(&self, request: Request<pb::ReadAllRequest>) -> RpcResult<Self::ReadAllStream> {
        let span = telemetry::serve("ReadAll", request.metadata(), &self.cluster.node_id, None);
        telemetry::traced(span, async move {
            let local = on_log!(self, request, read_all, relay READ_BUFFER, Span::current());
            let request = request.into_inner();
            let direction = wire::direction_from_wire(request.direction).map_err(|e| self.fail(e))?;
            let filter = wire::filter_from_wire(request.filter);
            let pager = Pager::new(local.db, ReadTarget::All(filter), direction, request.from, request.limit);
            self.stream_pages(pager, ReadKind::All)
        })
        .await
    }

    type SubscribeToStreamStream = ReceiverStream<Result<pb::SubscribeResponse, Status>>;

    async fn subscribe_to_stream(
        &self,
        request: Request<pb::SubscribeToStreamRequest>,
    ) -> RpcResult<Self::SubscribeToStreamStream> {
        let span = telemetry::serve(
            "SubscribeToStream",
            request.metadata(),
            &self.cluster.node_id,
            Some(&request.get_ref().stream),
        );
        telemetry::traced(span, async move {
            // A subscription's span ends with the call that opens it, as on the owner; its
            // deliveries have their own.
            let local = on_owner!(
                self,
                request,
                &request.get_ref().stream,
                subscribe_to_stream,
                relay STREAM_BUFFER,
                Span::none()
            );
            let request = request.into_inner();
            let subscription = wire::start_from_wire(request.start)
                .and_then(|start| {
                    let page_size = subscription_page(request.page_size)?;
                    let options = SubscribeOptions { start, filter: Filter::default(), page_size };
                    local.db.subscribe_to_stream(&request.stream, options)
                })
                .map_err(|e| self.fail(e))?;
            Ok(Response::new(self.pump_subscription(subscription, SubscriptionKind::Stream)))
        })
        .await
    }

    type SubscribeToAllStream = ReceiverStream<Result<pb::SubscribeResponse, Status>>;

    async fn subscribe_to_all(
        &self,
        request: Request<pb::SubscribeToAllRequest>,
    ) -> RpcResult<Self::SubscribeToAllStream> {
        let span = telemetry::serve("SubscribeToAll", request.metadata(), &self.cluster.node_id, None);
        telemetry::traced(span, async move {
            let local = on_log!(self, request, subscribe_to_all, relay STREAM_BUFFER, Span::none());
            let request = request.into_inner();
            let subscription = wire::start_from_wire(request.start)
                .and_then(|start| {
                    let filter = wire::filter_from_wire(request.filter);
                    let page_size = subscription_page(request.page_size)?;
                    local.db.subscribe_to_all(SubscribeOptions { start, filter, page_size })
                })
                .map_err(|e| self.fail(e))?;
            Ok(Response::new(self.pump_subscription(subscription, SubscriptionKind::All)))
        })
        .await
    }

    async fn list_streams(
        &self,
        request: Request<pb::ListStreamsRequest>,
    ) -> RpcResult<pb::ListStreamsResponse> {
        let local = on_log!(self, request, list_streams);
        let request = request.into_inner();
        let options =
            ListStreamsOptions { prefix: request.prefix, after: request.after, limit: request.limit };
        let streams = local.db.list_streams(&options).map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::ListStreamsResponse { streams: streams.into_iter().map(Into::into).collect() }))
    }

    async fn get_stream_info(
        &self,
        request: Request<pb::GetStreamInfoRequest>,
    ) -> RpcResult<pb::GetStreamInfoResponse> {
        let local = on_owner!(self, request, &request.get_ref().stream, get_stream_info);
        let info = local.db.stream_info(&request.into_inner().stream).map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::GetStreamInfoResponse { info: Some(info.into()) }))
    }

    async fn set_stream_metadata(
        &self,
        request: Request<pb::SetStreamMetadataRequest>,
    ) -> RpcResult<pb::SetStreamMetadataResponse> {
        let local = on_owner!(self, request, &request.get_ref().stream, set_stream_metadata);
        let request = request.into_inner();
        let metadata = request.metadata.map(graveyard::StreamMetadata::from).unwrap_or_default();
        committing(|| local.db.set_stream_metadata(&request.stream, metadata)).map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::SetStreamMetadataResponse {}))
    }

    async fn get_stream_metadata(
        &self,
        request: Request<pb::GetStreamMetadataRequest>,
    ) -> RpcResult<pb::GetStreamMetadataResponse> {
        let local = on_owner!(self, request, &request.get_ref().stream, get_stream_metadata);
        let metadata =
            local.db.get_stream_metadata(&request.into_inner().stream).map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::GetStreamMetadataResponse { metadata: Some(metadata.into()) }))
    }

    async fn delete_stream(
        &self,
        request: Request<pb::DeleteStreamRequest>,
    ) -> RpcResult<pb::DeleteStreamResponse> {
        let local = on_owner!(self, request, &request.get_ref().stream, delete_stream);
        let request = request.into_inner();
        wire::expected_from_wire(request.expected)
            .and_then(|expected| committing(|| local.db.delete_stream(&request.stream, expected)))
            .map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::DeleteStreamResponse {}))
    }

    async fn tombstone_stream(
        &self,
        request: Request<pb::TombstoneStreamRequest>,
    ) -> RpcResult<pb::TombstoneStreamResponse> {
        let local = on_owner!(self, request, &request.get_ref().stream, tombstone_stream);
        let request = request.into_inner();
        wire::expected_from_wire(request.expected)
            .and_then(|expected| committing(|| local.db.tombstone_stream(&request.stream, expected)))
            .map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::TombstoneStreamResponse {}))
    }

    async fn shred_stream(
        &self,
        request: Request<pb::ShredStreamRequest>,
    ) -> RpcResult<pb::ShredStreamResponse> {
        let local = on_owner!(self, request, &request.get_ref().stream, shred_stream);
        let request = request.into_inner();
        committing(|| local.db.shred_stream(&request.stream)).map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::ShredStreamResponse {}))
    }

    async fn rotate_master_key(
        &self,
        request: Request<pb::RotateMasterKeyRequest>,
    ) -> RpcResult<pb::RotateMasterKeyResponse> {
        // Key material: only over TLS or from this machine (a loopback client of a plaintext node).
        let local = request.remote_addr().is_some_and(|a| a.ip().is_loopback());
        if !self.tls && !local {
            return Err(self.fail(Error::PermissionDenied(
                "RotateMasterKey carries a key: call it over TLS or from the node's own machine".into(),
            )));
        }
        let key = zeroize::Zeroizing::new(request.into_inner().new_key);
        let key = graveyard::crypto::Key::from_bytes(&key).map_err(|e| self.fail(e))?;
        committing(|| self.db.rotate_master_key(key)).map_err(|e| self.fail(e))?;
        tracing::info!("the master key was rotated: restart this node with the new key");
        Ok(Response::new(pb::RotateMasterKeyResponse {}))
    }

    async fn save_snapshot(
        &self,
        request: Request<pb::SaveSnapshotRequest>,
    ) -> RpcResult<pb::SaveSnapshotResponse> {
        let local = on_owner!(self, request, &request.get_ref().stream, save_snapshot);
        let request = request.into_inner();
        committing(|| local.db.save_snapshot(&request.stream, request.revision, request.data))
            .map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::SaveSnapshotResponse {}))
    }

    async fn get_snapshot(
        &self,
        request: Request<pb::GetSnapshotRequest>,
    ) -> RpcResult<pb::GetSnapshotResponse> {
        let local = on_owner!(self, request, &request.get_ref().stream, get_snapshot);
        let snapshot = local.db.get_snapshot(&request.into_inner().stream).map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::GetSnapshotResponse { snapshot: snapshot.map(Into::into) }))
    }

    async fn get_head_position(
        &self,
        request: Request<pb::GetHeadPositionRequest>,
    ) -> RpcResult<pb::GetHeadPositionResponse> {
        let local = on_log!(self, request, get_head_position);
        let head_position = local.db.head_position().map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::GetHeadPositionResponse { head_position }))
    }

    async fn create_group(
        &self,
        request: Request<pb::CreateGroupRequest>,
    ) -> RpcResult<pb::CreateGroupResponse> {
        // Group names are unique in the cluster, since requests find a group by name: the node
        // the client asked checks the others (two creates racing on two nodes can still both
        // succeed; the docs say so).
        if !Cluster::is_forwarded(request.metadata()) {
            let name = &request.get_ref().name;
            // This node's stores too: the group may be in another of them than the one the
            // create goes to (its own, and those of the logs it serves).
            let holder = match self.cluster.local_group(name).await? {
                Some(_) => Some(self.cluster.node_id.clone()),
                None => self.cluster.find_group(name).await?.map(|peer| peer.id),
            };
            if let Some(node) = holder {
                let taken = format!("a consumer group named '{name}' exists on node {node}");
                return Err(self.fail(Error::InvalidArgument(taken)));
            }
        }
        // A group on a stream lives with its stream; a group on $all with the log it reads (the
        // one its LOG_HEADER names, else the node asked's own).
        let local = if let Some(pb::GroupTarget { target: Some(pb::group_target::Target::Stream(stream)) }) =
            &request.get_ref().target
        {
            let stream = stream.clone();
            on_owner!(self, request, &stream, create_group)
        } else {
            on_log!(self, request, create_group)
        };
        let request = request.into_inner();
        let info = (|| {
            let target = wire::group_target_from_wire(request.target)?;
            let start = wire::start_from_wire(request.start)?;
            let settings = wire::group_settings_from_wire(request.settings)?;
            committing(|| local.db.create_group(&request.name, target, start, settings))
        })()
        .map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::CreateGroupResponse { group: Some(info.into()) }))
    }

    async fn update_group(
        &self,
        request: Request<pb::UpdateGroupRequest>,
    ) -> RpcResult<pb::UpdateGroupResponse> {
        let local = on_group_node!(self, request, &request.get_ref().name, update_group);
        let request = request.into_inner();
        let info = wire::group_settings_from_wire(request.settings)
            .and_then(|settings| committing(|| local.db.update_group(&request.name, settings)))
            .map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::UpdateGroupResponse { group: Some(info.into()) }))
    }

    async fn delete_group(
        &self,
        request: Request<pb::DeleteGroupRequest>,
    ) -> RpcResult<pb::DeleteGroupResponse> {
        let local = on_group_node!(self, request, &request.get_ref().name, delete_group);
        committing(|| local.db.delete_group(&request.into_inner().name)).map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::DeleteGroupResponse {}))
    }

    async fn get_group(&self, request: Request<pb::GetGroupRequest>) -> RpcResult<pb::GetGroupResponse> {
        let local = on_group_node!(self, request, &request.get_ref().name, get_group);
        let info = local.db.group_info(&request.into_inner().name).map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::GetGroupResponse { group: Some(info.into()) }))
    }

    async fn list_groups(
        &self,
        request: Request<pb::ListGroupsRequest>,
    ) -> RpcResult<pb::ListGroupsResponse> {
        let local = on_log!(self, request, list_groups);
        let names = local.db.list_groups().map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::ListGroupsResponse { names }))
    }

    async fn replay_parked(
        &self,
        request: Request<pb::ReplayParkedRequest>,
    ) -> RpcResult<pb::ReplayParkedResponse> {
        let local = on_group_node!(self, request, &request.get_ref().group, replay_parked);
        let request = request.into_inner();
        let info =
            committing(|| local.db.replay_parked(&request.group, request.limit)).map_err(|e| self.fail(e))?;
        Ok(Response::new(info.into()))
    }

    type ConsumeStream = ReceiverStream<Result<pb::ConsumeResponse, Status>>;

    async fn consume(
        &self,
        request: Request<Streaming<pb::ConsumeRequest>>,
    ) -> RpcResult<Self::ConsumeStream> {
        let span = telemetry::serve("Consume", request.metadata(), &self.cluster.node_id, None);
        telemetry::traced(span, async move {
            let forwarded = Cluster::is_forwarded(request.metadata());
            let mut incoming = request.into_inner();
            let first = incoming.message().await.map_err(|s| crate::wire_errors::refuse(&self.metrics, s))?;
            let join = match first {
                Some(pb::ConsumeRequest { request: Some(pb::consume_request::Request::Join(join)) }) => join,
                _ => {
                    return Err(protocol_failure(
                        &self.metrics,
                        ErrorCode::InvalidArgument,
                        "the first request of a Consume call must be a Join".to_owned(),
                    ))
                }
            };
            let mut metadata = MetadataMap::new();
            if forwarded {
                metadata.insert(FORWARDED_HEADER, AsciiMetadataValue::from_static("?"));
            }
            Span::current().record("graveyard.group", join.group.as_str());
            let local = match self.group_elsewhere(&join.group, &metadata).await? {
                GroupAt::Here(local) => local,
                GroupAt::There(peer) => return self.forward_session(peer, join, incoming).await,
            };
            let member = local.store.join_group(&join.group, &join.member).await.map_err(|e| self.fail(e))?;
            let info = local.db.group_info(&join.group).map_err(|e| self.fail(e))?;
            let (tx, rx) = mpsc::channel(STREAM_BUFFER);
            let session = MemberSession {
                member,
                incoming,
                tx,
                metrics: self.metrics.clone(),
                draining: self.draining.clone(),
                node: self.cluster.node_id.clone(),
                group: join.group.clone(),
                opened: telemetry::current_context(),
            };
            tokio::spawn(session.run(info));
            Ok(Response::new(ReceiverStream::new(rx)))
        })
        .await
    }

    async fn upsert_schema(
        &self,
        request: Request<pb::UpsertSchemaRequest>,
    ) -> RpcResult<pb::UpsertSchemaResponse> {
        // Every upsert of a schema goes through the member that owns its stream, which orders
        // them; it then has every other member fetch the versions it lacks.
        let local = match &request.get_ref().schema {
            Some(schema) => {
                let home = graveyard::schema::schema_stream(&schema.name);
                on_owner!(self, request, &home, upsert_schema)
            }
            None => self.cluster.own.clone(),
        };
        let schema = request.into_inner().schema.ok_or_else(|| {
            let missing =
                Error::InvalidSchema { schema: String::new(), problems: vec!["no schema given".into()] };
            self.fail(missing)
        })?;
        let upsert = wire::schema_from_wire(schema)
            .and_then(|schema| committing(|| local.db.upsert_schema(&schema)))
            .map_err(|e| self.fail(e))?;
        // Stored in a log this node serves for a member that is down: its other stores (its
        // own among them) get it from there, as the members get it from here.
        for other in self.cluster.locals() {
            if other.db.path().ok() != local.db.path().ok() {
                committing(|| copy_schema(&local.db, &other.db, &upsert.name)).map_err(|e| self.fail(e))?;
            }
        }
        if self.cluster.ring.members().len() > 1 {
            self.cluster.announce_schema(&upsert.name).await?;
        }
        Ok(Response::new(upsert.into()))
    }

    async fn replicate_schema(
        &self,
        request: Request<pb::ReplicateSchemaRequest>,
    ) -> RpcResult<pb::ReplicateSchemaResponse> {
        if !Cluster::is_forwarded(request.metadata()) {
            return Err(protocol_failure(
                &self.metrics,
                ErrorCode::PermissionDenied,
                "ReplicateSchema is sent by members to each other, not by clients: use UpsertSchema"
                    .to_owned(),
            ));
        }
        let name = request.into_inner().name;
        // Into every store this node serves: a log it took over must enforce the schema too.
        let stores: Vec<Db> = self.cluster.locals().into_iter().map(|local| local.db).collect();
        let stored = pull_schema(&stores, &self.cluster, &name).await.map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::ReplicateSchemaResponse { stored }))
    }

    async fn get_schema(&self, request: Request<pb::GetSchemaRequest>) -> RpcResult<pb::GetSchemaResponse> {
        let request = request.into_inner();
        let registered = self.db.get_schema(&request.name, request.version).map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::GetSchemaResponse { schema: Some((&registered).into()) }))
    }

    async fn list_schemas(
        &self,
        _request: Request<pb::ListSchemasRequest>,
    ) -> RpcResult<pb::ListSchemasResponse> {
        let schemas = self.db.list_schemas().map_err(|e| self.fail(e))?;
        Ok(Response::new(pb::ListSchemasResponse { schemas: schemas.iter().map(Into::into).collect() }))
    }

    async fn get_topology(
        &self,
        _request: Request<pb::GetTopologyRequest>,
    ) -> RpcResult<pb::GetTopologyResponse> {
        let ring = &self.cluster.ring;
        Ok(Response::new(pb::GetTopologyResponse {
            node_id: self.cluster.node_id.clone(),
            members: ring
                .members()
                .iter()
                .map(|m| pb::Member { id: m.id.clone(), endpoint: m.endpoint.clone() })
                .collect(),
            virtual_nodes: ring.vnodes(),
        }))
    }

    async fn health(&self, _request: Request<pb::HealthRequest>) -> RpcResult<pb::HealthResponse> {
        let head_position = self.db.head_position().map_err(|e| self.fail(e))?;
        let status = if *self.draining.borrow() {
            pb::health_response::Status::Draining
        } else {
            pb::health_response::Status::Serving
        };
        Ok(Response::new(pb::HealthResponse {
            status: status.into(),
            node_id: self.cluster.node_id.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            head_position,
            serving_for: self.cluster.failover.as_ref().map(|f| f.serving_for()).unwrap_or_default(),
            stopped: self.db.stopped().map_err(|e| self.fail(e))?.unwrap_or_default(),
        }))
    }
}

// ---- reads ----------------------------------------------------------------------------------

enum ReadTarget {
    Stream(String),
    All(Filter),
}

/// A read cut into pages, each one bounded (see the constants), none holding an LMDB snapshot
/// beyond its own visit.
struct Pager {
    db: Db,
    target: ReadTarget,
    direction: Direction,
    /// The next revision or position to read; `None` is the start (forwards) or end (backwards).
    next: Option<u64>,
    remaining: u64,
    done: bool,
}

impl Pager {
    fn new(db: Db, target: ReadTarget, direction: Direction, from: Option<u64>, limit: Option<u64>) -> Pager {
        let remaining = limit.unwrap_or(u64::MAX);
        Pager { db, target, direction, next: from, remaining, done: remaining == 0 }
    }

    /// The next page (possibly empty when a filter matched nothing in it), or `None` at the end.
    fn next_page(&mut self) -> Result<Option<Vec<pb::RecordedEvent>>, Error> {
        if self.done {
            return Ok(None);
        }
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        let mut last = None;
        let mut stopped_for_bytes = false;
        let direction = self.direction;
        let remaining = self.remaining;
        // Whether the page stopped at one of its bounds (so more may follow), rather than at the
        // end of what there is to read.
        let page_full = {
            let mut take = |event: &EventRef<'_>| {
                bytes += event.data.len() + event.metadata.len();
                batch.push(wire::event_ref_to_wire(event));
                if bytes >= READ_PAGE_BYTES {
                    stopped_for_bytes = true;
                }
                !stopped_for_bytes && (batch.len() as u64) < remaining
            };
            match &self.target {
                ReadTarget::Stream(stream) => {
                    let limit = remaining.min(READ_PAGE_EVENTS);
                    let options = ReadOptions { direction, from: self.next, limit };
                    self.db.visit_stream(stream, options, |event| {
                        last = Some(event.revision);
                        take(&event)
                    })?;
                    stopped_for_bytes || batch.len() as u64 == limit
                }
                ReadTarget::All(filter) => {
                    // Filtered while visiting, so the page bounds the events scanned, matching or
                    // not, and the cursor moves past every one of them.
                    let limit =
                        if filter.is_empty() { remaining.min(READ_PAGE_EVENTS) } else { READ_SCAN_LIMIT };
                    let options =
                        ReadAllOptions { direction, from: self.next, limit, filter: Filter::default() };
                    let mut scanned = 0u64;
                    self.db.visit_all(&options, |event| {
                        scanned += 1;
                        last = Some(event.position);
                        if !filter.matches(event.stream, event.event_type) {
                            return true;
                        }
                        take(&event)
                    })?;
                    stopped_for_bytes || scanned == limit
                }
            }
        };
        self.remaining -= batch.len() as u64;
        // The next page continues after the last event visited.
        let more = page_full && self.remaining > 0;
        self.next = match (last, direction) {
            (Some(last), Direction::Forwards) => last.checked_add(1),
            (Some(last), Direction::Backwards) => last.checked_sub(1),
            (None, _) => None,
        };
        if !more || self.next.is_none() {
            self.done = true;
        }
        if batch.is_empty() && self.done {
            return Ok(None);
        }
        Ok(Some(batch))
    }
}

impl GraveyardService {
    /// Reads the first page now, so an error of the read (NOT_FOUND, STREAM_DELETED, a bad
    /// argument) is the answer to the call rather than a failure of its stream; the rest is sent
    /// as the client takes it.
    fn stream_pages(
        &self,
        mut pager: Pager,
        kind: ReadKind,
    ) -> RpcResult<ReceiverStream<Result<pb::ReadResponse, Status>>> {
        let first = pager.next_page().map_err(|e| self.fail(e))?;
        let (tx, rx) = mpsc::channel(READ_BUFFER);
        let metrics = self.metrics.clone();
        tokio::spawn(
            async move {
                // Counted when the read ends, however it ends, with the events sent until then.
                struct Counted(Arc<Metrics>, ReadKind, u64);
                impl Drop for Counted {
                    fn drop(&mut self) {
                        self.0.record_read(self.1, self.2);
                    }
                }
                let mut counted = Counted(metrics.clone(), kind, 0);
                let mut page = first;
                loop {
                    match page {
                        None => return,
                        Some(events) if events.is_empty() => {}
                        Some(events) => {
                            let n = events.len() as u64;
                            if tx.send(Ok(pb::ReadResponse { events })).await.is_err() {
                                return; // the client went away
                            }
                            counted.2 += n;
                        }
                    }
                    page = match pager.next_page() {
                        Ok(page) => page,
                        Err(e) => {
                            let status = failure(&metrics, e);
                            telemetry::failed(&Span::current(), &status);
                            let _ = tx.send(Err(status)).await;
                            return;
                        }
                    };
                }
            }
            // The read's span lasts until its last page is sent.
            .instrument(Span::current()),
        );
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    /// Moves a subscription's messages to the client through a bounded channel: the core
    /// subscription is pulled only when the channel has room, so a slow client holds at most
    /// `STREAM_BUFFER` messages plus one page of the core, however far behind it is.
    fn pump_subscription(
        &self,
        mut subscription: Subscription,
        kind: SubscriptionKind,
    ) -> ReceiverStream<Result<pb::SubscribeResponse, Status>> {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let metrics = self.metrics.clone();
        let mut draining = self.draining.clone();
        let node = self.cluster.node_id.clone();
        let opened = telemetry::current_context();
        tokio::spawn(async move {
            let active = metrics.subscription_started(kind);
            loop {
                let permit = tokio::select! {
                    permit = tx.reserve() => match permit {
                        Ok(permit) => permit,
                        Err(_) => return, // the client went away
                    },
                    () = drained(&mut draining) => break,
                };
                let message = tokio::select! {
                    message = subscription.next() => message,
                    () = tx.closed() => return,
                    () = drained(&mut draining) => break,
                };
                let (item, last) = match message {
                    Some(Ok(SubscriptionMessage::Event(event))) => {
                        active.delivered(event.position);
                        let _span =
                            telemetry::deliver(kind.label(), None, &node, (&event).into(), opened.as_ref())
                                .entered();
                        let message = pb::subscribe_response::Message::Event(event.into());
                        (Ok(pb::SubscribeResponse { message: Some(message) }), false)
                    }
                    Some(Ok(SubscriptionMessage::CaughtUp)) => {
                        let caught_up = pb::subscribe_response::CaughtUp {};
                        let message = pb::subscribe_response::Message::CaughtUp(caught_up);
                        (Ok(pb::SubscribeResponse { message: Some(message) }), false)
                    }
                    Some(Err(e)) => (Err(failure(&metrics, e)), true),
                    // The core ends a subscription only after an error, delivered above; this
                    // is never silent either way.
                    None => (Err(failure(&metrics, Error::Internal("the subscription ended".into()))), true),
                };
                permit.send(item);
                if last {
                    return;
                }
            }
            // Draining: end the stream with a status the client can act on, not a silent end.
            let _ = tx.send(Err(shutting_down(&metrics))).await;
        });
        ReceiverStream::new(rx)
    }
}

// ---- consumer groups ------------------------------------------------------------------------

/// One member's Consume call: deliveries out, acks and nacks in.
struct MemberSession {
    member: StoreMember,
    incoming: Streaming<pb::ConsumeRequest>,
    tx: mpsc::Sender<Result<pb::ConsumeResponse, Status>>,
    metrics: Arc<Metrics>,
    draining: watch::Receiver<bool>,
    /// This node's id and the span of the Consume call, for the spans of deliveries.
    node: String,
    group: String,
    opened: Option<SpanContext>,
}

impl MemberSession {
    async fn run(mut self, info: graveyard::GroupInfo) {
        let active = self.metrics.subscription_started(SubscriptionKind::Group);
        let joined =
            pb::consume_response::Response::Joined(pb::consume_response::Joined { group: Some(info.into()) });
        if self.tx.send(Ok(pb::ConsumeResponse { response: Some(joined) })).await.is_err() {
            return;
        }
        let ending = loop {
            tokio::select! {
                () = drained(&mut self.draining) => break shutting_down(&self.metrics),
                request = self.incoming.message() => match request {
                    Ok(Some(request)) => match self.settle(request).await {
                        Ok(settled) => {
                            let settled = pb::consume_response::Settled { delivery_ids: settled };
                            let response = pb::consume_response::Response::Settled(settled);
                            if self.tx.send(Ok(pb::ConsumeResponse { response: Some(response) })).await.is_err() {
                                return;
                            }
                        }
                        Err(status) => break status,
                    },
                    // A request that is not a valid message: refused, and the session ends.
                    Err(status) if crate::wire_errors::remap(&status).is_some() => {
                        break crate::wire_errors::refuse(&self.metrics, status)
                    }
                    // The client closed its side, or its connection failed: leave the group
                    // (dropping the member hands its deliveries to the others).
                    Ok(None) | Err(_) => return,
                },
                delivery = next_delivery(&self.member, &self.tx) => match delivery {
                    Some(Ok(delivery)) => {
                        active.delivered(delivery.event.position);
                        let span = telemetry::deliver("group", Some(&self.group), &self.node, (&delivery.event).into(), self.opened.as_ref());
                        span.record("graveyard.attempt", delivery.attempt);
                        let response = pb::consume_response::Response::Delivery(pb::consume_response::Delivery {
                            delivery_id: delivery.id,
                            event: Some(delivery.event.into()),
                            attempt: delivery.attempt,
                            parked_revision: delivery.parked_revision,
                        });
                        let sent = self.tx.send(Ok(pb::ConsumeResponse { response: Some(response) }));
                        if sent.instrument(span).await.is_err() {
                            return;
                        }
                    }
                    Some(Err(e)) => break failure(&self.metrics, e),
                    None => return, // the client went away
                },
            }
        };
        let _ = self.tx.send(Err(ending)).await;
    }

    /// Settles the deliveries a request names, in one commit; returns their ids once the
    /// settlements are durable. The façade waits for the commit in a blocking section, so the
    /// runtime moves its other tasks off this worker meanwhile. An id not outstanding in the
    /// group on this node ends the session with INVALID_ARGUMENT.
    async fn settle(&mut self, request: pb::ConsumeRequest) -> Result<Vec<u64>, Status> {
        use pb::consume_request::Request as R;
        let (ids, action) = match request.request {
            Some(R::Ack(ack)) => (ack.delivery_ids, None),
            Some(R::Nack(nack)) => {
                let action =
                    wire::nack_action_from_wire(nack.action).map_err(|e| failure(&self.metrics, e))?;
                (nack.delivery_ids, Some(action))
            }
            Some(R::Join(_)) => {
                return Err(self.refuse("this Consume call has already joined a group".to_owned()));
            }
            None => return Err(self.refuse("a Consume request must be an Ack or a Nack".to_owned())),
        };
        let settled = match action {
            None => self.member.ack(&ids).await,
            Some(action) => self.member.nack(&ids, action).await,
        };
        settled.map_err(|e| failure(&self.metrics, e))?;
        Ok(ids)
    }

    fn refuse(&self, message: String) -> Status {
        protocol_failure(&self.metrics, ErrorCode::InvalidArgument, message)
    }
}

/// The member's next delivery, taken only once the channel to the client has room: a member
/// whose client does not read takes nothing more, and the group's ack timeout hands what it holds
/// to the others. `None` when the client went away.
async fn next_delivery(
    member: &StoreMember,
    tx: &mpsc::Sender<Result<pb::ConsumeResponse, Status>>,
) -> Option<Result<graveyard::StoreDelivery, Error>> {
    // Waits for room without keeping it: the reply to an ack may take the slot first, and then
    // the send of this delivery waits, bounded like every other.
    drop(tx.reserve().await.ok()?);
    match member.next(None).await {
        Ok(Next::Item(delivery)) => Some(Ok(delivery)),
        Ok(Next::Timeout | Next::Ended) => None,
        Err(e) => Some(Err(e)),
    }
}

impl GraveyardService {
    /// Carries a Consume session to the member holding its group: the Join, then every request
    /// the client sends, one way; every answer the other.
    async fn forward_session(
        &self,
        peer: Peer,
        join: pb::consume_request::Join,
        mut incoming: Streaming<pb::ConsumeRequest>,
    ) -> RpcResult<ReceiverStream<Result<pb::ConsumeResponse, Status>>> {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let join = pb::ConsumeRequest { request: Some(pb::consume_request::Request::Join(join)) };
        tx.try_send(join).expect("a new channel has room");
        tokio::spawn(async move {
            // Ends when the client closes its side or fails (the peer then sees the end too), or
            // when the peer's side of the session is gone.
            loop {
                let request = tokio::select! {
                    request = incoming.message() => request,
                    () = tx.closed() => return,
                };
                let Ok(Some(request)) = request else { return };
                if tx.send(request).await.is_err() {
                    return;
                }
            }
        });
        let session = Request::new(ReceiverStream::new(rx));
        let answer = self
            .cluster
            .forward(peer.clone(), "consume", session, |mut c, r| async move { c.consume(r).await })
            .await?;
        Ok(Response::new(self.relay(peer.id, answer.into_inner(), STREAM_BUFFER, Span::none())))
    }
}

/// Fetches the versions of schema `name` this node lacks from the member that orders its
/// upserts, and stores them; returns how many it stored. One fetch at a time per node.
async fn pull_schema(stores: &[Db], cluster: &Cluster, name: &str) -> Result<u32, Error> {
    let _one_at_a_time = cluster.schema_sync.lock().await;
    let Some(history) = cluster.schema_history(name).await? else { return Ok(0) };
    let versions = history
        .into_iter()
        .map(graveyard::schema::RegisteredSchema::try_from)
        .collect::<Result<Vec<_>, Error>>()?;
    let mut stored = 0;
    for db in stores {
        stored = stored.max(committing(|| store_schema_history(db, &versions))?);
    }
    Ok(stored)
}

/// Catches up, at start, with the schema versions this node missed while it was down: asks every
/// other member which schemas exist, and fetches each one's versions from the member that orders
/// its upserts. Schemas that reference others may need those first, so it goes over the list
/// again while a pass stores something; what still fails, or a member that cannot be asked, is
/// tried again every few seconds. Ends when everything is stored, or when the node drains.
pub async fn catch_up_schemas(db: Db, cluster: Arc<Cluster>, mut draining: watch::Receiver<bool>) {
    loop {
        let (names, unreachable) = cluster.schema_names().await;
        let mut failing: Vec<(String, Error)> = Vec::new();
        let mut pending = names;
        loop {
            failing.clear();
            let mut stored_any = false;
            for name in &pending {
                match pull_schema(std::slice::from_ref(&db), &cluster, name).await {
                    Ok(0) => {}
                    Ok(stored) => {
                        stored_any = true;
                        tracing::info!(schema = %name, stored, "schema versions caught up");
                    }
                    Err(e) => failing.push((name.clone(), e)),
                }
            }
            pending = failing.iter().map(|(name, _)| name.clone()).collect();
            if !stored_any || pending.is_empty() {
                break;
            }
        }
        if failing.is_empty() && unreachable.is_empty() {
            return;
        }
        for (name, error) in &failing {
            tracing::warn!(schema = %name, error = %error, "cannot catch up this schema yet; retrying");
        }
        for member in &unreachable {
            tracing::warn!(member = %member, "cannot ask this member for its schemas yet; retrying");
        }
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(3)) => {}
            () = drained(&mut draining) => return,
        }
    }
}

/// Copies every version of schema `name` that `from` holds into `to`, where they are missing;
/// how many were stored. Between the stores of one node: its own, and those of members' logs it
/// serves, which must enforce the same versions.
pub fn copy_schema(from: &Db, to: &Db, name: &str) -> Result<u32, Error> {
    let latest = from.get_schema(name, None)?.version;
    let versions = (1..=latest).map(|v| from.get_schema(name, Some(v))).collect::<Result<Vec<_>, Error>>()?;
    store_schema_history(to, &versions)
}

/// Stores the versions of a schema `db` lacks, from its whole history (from the member that
/// orders its upserts, or another store of this node). Upserting them in order gives them the
/// same numbers here, since this store's history is a prefix of it; anything else is a
/// divergence, refused. A version another writer of the same shared log stored meanwhile is
/// taken as stored (`Db::upsert_schema` finds it unchanged).
fn store_schema_history(db: &Db, versions: &[graveyard::schema::RegisteredSchema]) -> Result<u32, Error> {
    let Some(first) = versions.first() else { return Ok(0) };
    let name = &first.schema.name;
    let mut stored = 0;
    for (index, registered) in versions.iter().enumerate() {
        if registered.schema.name != *name || registered.version as usize != index + 1 {
            return Err(Error::InvalidArgument(format!(
                "a schema history holds versions 1 to N of one schema, in order; entry {index} is \
                 version {} of '{}'",
                registered.version, registered.schema.name
            )));
        }
        match db.get_schema(name, Some(registered.version)) {
            Ok(local) if local.schema == registered.schema => continue,
            Ok(_) => {
                return Err(Error::Internal(format!(
                    "version {} of schema '{name}' differs between this node and the member that orders \
                     its upserts",
                    registered.version
                )))
            }
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let upsert = db.upsert_schema(&registered.schema)?;
        if upsert.version != registered.version {
            return Err(Error::Internal(format!(
                "schema '{name}' version {} was stored here as version {}: the histories diverged",
                registered.version, upsert.version
            )));
        }
        stored += 1;
    }
    Ok(stored)
}
