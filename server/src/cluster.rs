//! The node's place in the cluster: which member owns a stream, and the one-hop forwarding of a
//! request to that owner.
//!
//! Rules:
//! - a request about a stream is served by the stream's owner; any other node forwards it there
//!   with the header [`FORWARDED_HEADER`], once;
//! - a node that receives a forwarded request it does not own (the two nodes disagree on the
//!   members) refuses it with UNAVAILABLE rather than forward it again, so a request never
//!   travels more than one hop and a misconfigured cluster never loops;
//! - an owner that cannot be reached fails the request at once with UNAVAILABLE naming it: the
//!   connection attempt is bounded by the transport's connect timeout, and nothing is retried
//!   here (the client knows whether its request may be retried; a node does not);
//! - with the logs in Cassandra, a stream's owner is the member whose log holds it, and the
//!   request goes to whoever serves that log: the owner, or while it is down the member that
//!   took its log over (failover.rs);
//! - a request about a log itself (`$all`, its head, its listings) names the member whose log
//!   it is in the header [`LOG_HEADER`], and goes wherever that log is served, the same way;
//!   without the header it is about the log of the node asked.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use graveyard::client::{
    call_error, node_client, NodeClient, TransportOptions, FORWARDED_HEADER, LOG_HEADER,
};
use graveyard::cluster::Ring;
use graveyard::wire::v1 as pb;
use graveyard::{Db, Error, ErrorCode, Store};
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::failover::Failover;
use crate::metrics::Metrics;
use crate::telemetry;

/// A store this node serves: its own, or the log of a member it took over.
#[derive(Clone)]
pub struct Local {
    pub db: Db,
    /// The same store through the core's façade: group sessions use its delivery ids, so any
    /// session of a group on this node settles any of the group's deliveries.
    pub store: Store,
}

pub struct Cluster {
    pub node_id: String,
    pub ring: Ring,
    /// This node's own store.
    pub own: Local,
    /// With the logs in Cassandra: who serves each member's log.
    pub failover: Option<Arc<Failover>>,
    /// A client for every other member, by id.
    peers: Vec<(String, NodeClient)>,
    node_header: AsciiMetadataValue,
    metrics: Arc<Metrics>,
    /// Held while this node fetches and stores a schema's versions: two concurrent fetches of
    /// the same history would otherwise both store its missing versions, the second as extra ones.
    pub schema_sync: tokio::sync::Mutex<()>,
}

/// How long a request waits for this node to be ready to serve its stream's log (see
/// `serve_log`): longer than a takeover or a handback takes, shorter than a client's patience.
const LOG_PATIENCE: Duration = Duration::from_secs(10);

/// Where a request is served.
pub enum Route {
    Local(Local),
    Forward(Peer),
}

/// Another member, to forward a request to.
#[derive(Clone)]
pub struct Peer {
    pub id: String,
    client: NodeClient,
}

impl Cluster {
    /// Connections to the other members are made lazily: a member that is down at start is
    /// only an error for the requests it owns.
    pub fn new(
        node_id: String,
        ring: Ring,
        own: Db,
        failover: Option<Arc<Failover>>,
        transport: TransportOptions,
        metrics: Arc<Metrics>,
    ) -> Result<Cluster, String> {
        let peers = ring
            .members()
            .iter()
            .filter(|m| m.id != node_id)
            .map(|m| {
                node_client(&m.endpoint, &transport)
                    .map(|client| (m.id.clone(), client))
                    .map_err(|e| format!("member '{}': {e}", m.id))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let node_header = AsciiMetadataValue::try_from(node_id.as_str())
            .map_err(|_| format!("node id '{node_id}' cannot travel in a header"))?;
        let own = Local { store: Store::from_db(own.clone()), db: own };
        Ok(Cluster {
            node_id,
            ring,
            own,
            failover,
            peers,
            node_header,
            metrics,
            schema_sync: tokio::sync::Mutex::new(()),
        })
    }

    pub fn peers(&self) -> impl Iterator<Item = Peer> + '_ {
        self.peers.iter().map(|(id, client)| Peer { id: id.clone(), client: client.clone() })
    }

    /// Whether `metadata` says another member forwarded this request.
    pub fn is_forwarded(metadata: &MetadataMap) -> bool {
        metadata.contains_key(FORWARDED_HEADER)
    }

    /// Where a request about `stream` is served.
    pub async fn route(&self, stream: &str, metadata: &MetadataMap) -> Result<Route, Status> {
        let owner = &self.ring.owner(stream).id;
        self.route_to_log(owner, metadata, || format!("stream '{stream}'")).await
    }

    /// Where a request about a log itself is served: the log of the member named by
    /// [`LOG_HEADER`], or this node's own when there is none (served like the others: once this
    /// node serves its log again after a restart). A name this node does not know as a member is
    /// UNAVAILABLE (the members lists disagree, as while a member is added), a header that is not
    /// text INVALID_ARGUMENT.
    pub async fn route_log(&self, metadata: &MetadataMap) -> Result<Route, Status> {
        let Some(named) = metadata.get(LOG_HEADER) else {
            return self
                .route_to_log(&self.node_id, metadata, || format!("the log of node {}", self.node_id))
                .await;
        };
        let Ok(id) = named.to_str() else {
            return Err(self.fail(Error::InvalidArgument(format!("the header {LOG_HEADER} is not text"))));
        };
        let Some(member) = self.ring.members().iter().find(|m| m.id == id) else {
            return Err(self.refuse(format!(
                "the header {LOG_HEADER} names '{id}', which node {} does not know as a member: the nodes \
                 disagree on the members",
                self.node_id
            )));
        };
        self.route_to_log(&member.id, metadata, || format!("the log of node {}", member.id)).await
    }

    /// Where a request about `owner`'s log (`what` names it for an error) is served.
    async fn route_to_log(
        &self,
        owner: &str,
        metadata: &MetadataMap,
        what: impl FnOnce() -> String,
    ) -> Result<Route, Status> {
        let holder = match &self.failover {
            Some(failover) => failover.holder(owner),
            None => owner.to_owned(),
        };
        if holder == self.node_id {
            return self.serve_log(owner).await.map(Route::Local);
        }
        if Cluster::is_forwarded(metadata) {
            let from = metadata.get(FORWARDED_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("?");
            let gives = if holder == owner {
                format!("gives it to node {owner}: the nodes disagree on the members")
            } else {
                format!("has it served by node {holder} while node {owner} is down: the nodes do not yet agree on who is down")
            };
            return Err(self.refuse(format!(
                "node {from} forwarded a request for {} to node {}, whose view of the cluster {gives}; a \
                 request is never forwarded twice",
                what(),
                self.node_id
            )));
        }
        let peer = self.peers.iter().find(|(id, _)| *id == holder).expect("every other member has a peer");
        Ok(Route::Forward(Peer { id: peer.0.clone(), client: peer.1.clone() }))
    }

    /// The store of `owner`'s log, which this node serves: its own, or one it took over. While
    /// it is not ready to (it has just started and waits for its log back, or is taking the log
    /// over) the request waits up to `LOG_PATIENCE`.
    async fn serve_log(&self, owner: &str) -> Result<Local, Status> {
        let Some(failover) = &self.failover else { return Ok(self.own.clone()) };
        if owner == self.node_id {
            let own =
                failover.wait_for(LOG_PATIENCE, || failover.own_ready().then(|| self.own.clone())).await;
            return own.ok_or_else(|| {
                self.refuse(format!(
                    "node {} has just started and waits until no other member serves its log before it serves \
                     its streams; try again",
                    self.node_id
                ))
            });
        }
        failover.wait_for(LOG_PATIENCE, || failover.serving(owner)).await.ok_or_else(|| {
            self.refuse(format!(
                "node {owner} is down and node {} is taking its log over; try again",
                self.node_id
            ))
        })
    }

    /// The stores this node serves: its own, then those of members it took over.
    pub fn locals(&self) -> Vec<Local> {
        let mut locals = vec![self.own.clone()];
        if let Some(failover) = &self.failover {
            locals.extend(failover.served().into_iter().map(|(_, local)| local));
        }
        locals
    }

    /// The store among those this node serves that holds consumer group `name`. Its own store
    /// only once it serves it (a node that has just started may still have its log served
    /// elsewhere, where the group's sessions then are): the request waits for that as a
    /// stream's would.
    pub async fn local_group(&self, name: &str) -> Result<Option<Local>, Status> {
        if let Some(failover) = &self.failover {
            if failover.wait_for(LOG_PATIENCE, || failover.own_ready().then_some(())).await.is_none() {
                return Err(self.refuse(format!(
                    "node {} has just started and waits until no other member serves its log; try again",
                    self.node_id
                )));
            }
        }
        for local in self.locals() {
            match local.db.group_info(name) {
                Ok(_) => return Ok(Some(local)),
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(None)
    }

    /// A member's answer to `Health`, asked as a member (not forwarded on).
    pub async fn health(&self, peer: &Peer) -> Result<pb::HealthResponse, Status> {
        let request = self.mark(pb::HealthRequest {});
        Ok(peer.client.clone().health(request).await?.into_inner())
    }

    /// Sends `request` to `peer`, marked as forwarded, through `call` (the RPC of the same name
    /// on the peer; `method` names it in the trace). The owner's answer, errors included, is
    /// passed on as it is; a failure to reach it becomes UNAVAILABLE naming it.
    pub async fn forward<Req, Resp, F, Fut>(
        &self,
        peer: Peer,
        method: &'static str,
        request: Request<Req>,
        call: F,
    ) -> Result<Response<Resp>, Status>
    where
        F: FnOnce(NodeClient, Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        self.metrics.record_forward();
        // What the peer must see of the caller's request: its deadline, and whose log it is about.
        let deadline = request.metadata().get("grpc-timeout").cloned();
        let log = request.metadata().get(LOG_HEADER).cloned();
        let mut forwarded = self.mark(request.into_inner());
        if let Some(deadline) = deadline {
            forwarded.metadata_mut().insert("grpc-timeout", deadline);
        }
        if let Some(log) = log {
            forwarded.metadata_mut().insert(LOG_HEADER, log);
        }
        let span = telemetry::forward(method, &self.node_id, &peer.id, forwarded.metadata_mut());
        let answer = call(peer.client, forwarded).instrument(span.clone()).await;
        answer.map_err(|status| {
            let status = self.unreachable(&peer.id, status);
            telemetry::failed(&span, &status);
            status
        })
    }

    /// A status from a peer: passed on when it is the peer's own answer, made a typed
    /// UNAVAILABLE when it is the transport's.
    pub fn unreachable(&self, peer: &str, status: Status) -> Status {
        if let Some(detail) = graveyard::wire::status_detail(&status) {
            // The caller's own credentials were checked here; a refusal by the peer is a
            // misconfigured cluster (members with different tokens), not the caller's fault.
            if detail.code != "UNAUTHENTICATED" && detail.code != "PERMISSION_DENIED" {
                return status;
            }
            tracing::error!(peer, code = %detail.code, "a member refused this node's credentials");
            return self.refuse(format!(
                "member {peer} refused the credentials of node {} ({}): the members must share one token",
                self.node_id, detail.code
            ));
        }
        let error = match call_error(peer, &status) {
            Error::Unavailable(why) => {
                Error::Unavailable(format!("{why} (node {} could not forward the request)", self.node_id))
            }
            other => other,
        };
        self.fail(error)
    }

    /// `request`, marked as forwarded by this node.
    fn mark<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.metadata_mut().insert(FORWARDED_HEADER, self.node_header.clone());
        request
    }

    /// The member that holds consumer group `name`, when it is not this node. A group lives on
    /// one node (with its stream, or where it was created for `$all`): the others are asked.
    /// `Ok(None)` when no member has it; UNAVAILABLE when a member that might have it cannot
    /// be asked, rather than a NOT_FOUND that could be wrong.
    pub async fn find_group(&self, name: &str) -> Result<Option<Peer>, Status> {
        let mut unreachable = Vec::new();
        for peer in self.peers() {
            let request = self.mark(pb::GetGroupRequest { name: name.to_owned() });
            match peer.client.clone().get_group(request).await {
                Ok(_) => return Ok(Some(peer)),
                Err(status) => match call_error(&peer.id, &status) {
                    Error::NotFound(_) => {}
                    // A member whose log another serves (it is down): its groups are in that
                    // member's store of its log, asked here too (or this node's, see
                    // `local_group`).
                    Error::Unavailable(_)
                        if self.failover.as_ref().is_some_and(|f| f.holder(&peer.id) != peer.id) => {}
                    Error::Unavailable(_) => unreachable.push(peer.id),
                    _ => return Err(self.unreachable(&peer.id, status)),
                },
            }
        }
        if unreachable.is_empty() {
            return Ok(None);
        }
        Err(self.refuse(format!(
            "consumer group '{name}' is not on node {} and node(s) {} could not be asked",
            self.node_id,
            unreachable.join(", ")
        )))
    }

    /// Tells every other member that schema `name` has a new version (see `ReplicateSchema`),
    /// in parallel, and waits until each has fetched and stored it. UNAVAILABLE names those that
    /// could not.
    pub async fn announce_schema(&self, name: &str) -> Result<(), Status> {
        let calls: Vec<_> = self
            .peers()
            .map(|peer| {
                let request = self.mark(pb::ReplicateSchemaRequest { name: name.to_owned() });
                let mut client = peer.client.clone();
                (peer.id, tokio::spawn(async move { client.replicate_schema(request).await }))
            })
            .collect();
        let mut failed = Vec::new();
        for (id, call) in calls {
            match call.await {
                Ok(Ok(_)) => {}
                Ok(Err(status)) => failed.push(format!("{id}: {}", call_error(&id, &status))),
                Err(e) => failed.push(format!("{id}: {e}")),
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        Err(self.refuse(format!(
            "the schema is stored on node {} but not yet on every member ({}); upsert the same definition \
             again once they are back: nothing new is written, and the replication completes",
            self.node_id,
            failed.join("; ")
        )))
    }

    /// Every version of schema `name`, oldest first, from the member that orders its upserts (the
    /// owner of its stream); `None` when that is this node.
    pub async fn schema_history(&self, name: &str) -> Result<Option<Vec<pb::RegisteredSchema>>, Error> {
        let owner = &self.ring.owner(&graveyard::schema::schema_stream(name)).id;
        let owner = &match &self.failover {
            Some(failover) => failover.holder(owner),
            None => owner.clone(),
        };
        let Some((_, client)) = self.peers.iter().find(|(id, _)| id == owner) else { return Ok(None) };
        let mut client = client.clone();
        let failed = |status: Status| call_error(owner, &status);
        let request = self.mark(pb::GetSchemaRequest { name: name.to_owned(), version: None });
        let latest = client.get_schema(request).await.map_err(failed)?.into_inner();
        let latest = latest.schema.map_or(0, |s| s.version);
        let mut history = Vec::with_capacity(latest as usize);
        for version in 1..=latest {
            let request = self.mark(pb::GetSchemaRequest { name: name.to_owned(), version: Some(version) });
            history.extend(client.get_schema(request).await.map_err(failed)?.into_inner().schema);
        }
        Ok(Some(history))
    }

    /// The names of the schemas of every other member, and the members that could not be asked.
    pub async fn schema_names(&self) -> (Vec<String>, Vec<String>) {
        let mut names = Vec::new();
        let mut unreachable = Vec::new();
        for peer in self.peers() {
            let request = self.mark(pb::ListSchemasRequest {});
            match peer.client.clone().list_schemas(request).await {
                Ok(list) => names
                    .extend(list.into_inner().schemas.into_iter().filter_map(|s| s.schema).map(|s| s.name)),
                Err(status) => unreachable.push(format!("{}: {}", peer.id, call_error(&peer.id, &status))),
            }
        }
        names.sort();
        names.dedup();
        (names, unreachable)
    }

    fn fail(&self, error: Error) -> Status {
        crate::wire_errors::failure(&self.metrics, error)
    }

    fn refuse(&self, message: String) -> Status {
        self.metrics.record_error(ErrorCode::Unavailable);
        tracing::warn!(error = %message, "forwarded request refused");
        graveyard::wire::code_status(ErrorCode::Unavailable, message)
    }
}
