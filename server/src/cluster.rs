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
//!   here (the client knows whether its request may be retried; a node does not).

use std::future::Future;
use std::sync::Arc;

use graveyard::client::{call_error, node_client, NodeClient, TransportOptions, FORWARDED_HEADER};
use graveyard::cluster::Ring;
use graveyard::wire::v1 as pb;
use graveyard::{Error, ErrorCode};
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::telemetry;

pub struct Cluster {
    pub node_id: String,
    pub ring: Ring,
    /// A client for every other member, by id.
    peers: Vec<(String, NodeClient)>,
    node_header: AsciiMetadataValue,
    metrics: Arc<Metrics>,
    /// Held while this node fetches and stores a schema's versions: two concurrent fetches of
    /// the same history would otherwise both store its missing versions, the second as extra ones.
    pub schema_sync: tokio::sync::Mutex<()>,
}

/// Where a request is served.
pub enum Route {
    Local,
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
        Ok(Cluster { node_id, ring, peers, node_header, metrics, schema_sync: tokio::sync::Mutex::new(()) })
    }

    pub fn peers(&self) -> impl Iterator<Item = Peer> + '_ {
        self.peers.iter().map(|(id, client)| Peer { id: id.clone(), client: client.clone() })
    }

    /// Whether `metadata` says another member forwarded this request.
    pub fn is_forwarded(metadata: &MetadataMap) -> bool {
        metadata.contains_key(FORWARDED_HEADER)
    }

    /// Where a request about `stream` is served.
    pub fn route(&self, stream: &str, metadata: &MetadataMap) -> Result<Route, Status> {
        let owner = &self.ring.owner(stream).id;
        if *owner == self.node_id {
            return Ok(Route::Local);
        }
        if Cluster::is_forwarded(metadata) {
            let from = metadata.get(FORWARDED_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("?");
            return Err(self.refuse(format!(
                "node {from} forwarded a request for stream '{stream}' to node {}, whose members list gives \
                 it to node {owner}: the nodes disagree on the members; a request is never forwarded twice",
                self.node_id
            )));
        }
        let peer = self.peers.iter().find(|(id, _)| id == owner).expect("every other member has a peer");
        Ok(Route::Forward(Peer { id: peer.0.clone(), client: peer.1.clone() }))
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
        let deadline = request.metadata().get("grpc-timeout").cloned();
        let mut forwarded = self.mark(request.into_inner());
        if let Some(deadline) = deadline {
            forwarded.metadata_mut().insert("grpc-timeout", deadline);
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
        self.metrics.record_error(error.code());
        graveyard::wire::error_to_status(&error)
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

    fn refuse(&self, message: String) -> Status {
        self.metrics.record_error(ErrorCode::Unavailable);
        tracing::warn!(error = %message, "forwarded request refused");
        graveyard::wire::code_status(ErrorCode::Unavailable, message)
    }
}
