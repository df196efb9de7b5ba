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

use crate::metrics::Metrics;

pub struct Cluster {
    pub node_id: String,
    pub ring: Ring,
    /// A client for every other member, by id.
    peers: Vec<(String, NodeClient)>,
    node_header: AsciiMetadataValue,
    metrics: Arc<Metrics>,
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
        Ok(Cluster { node_id, ring, peers, node_header, metrics })
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
    /// on the peer). The owner's answer, errors included, is passed on as it is; a failure to
    /// reach it becomes UNAVAILABLE naming it.
    pub async fn forward<Req, Resp, F, Fut>(
        &self,
        peer: Peer,
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
        call(peer.client, forwarded).await.map_err(|status| self.unreachable(&peer.id, status))
    }

    /// A status from a peer: passed on when it is the peer's own answer, made a typed
    /// UNAVAILABLE when it is the transport's.
    pub fn unreachable(&self, peer: &str, status: Status) -> Status {
        if graveyard::wire::status_detail(&status).is_some() {
            return status;
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

    /// Sends every version of a schema to every other member (see `ReplicateSchema`). All are
    /// asked, in parallel; UNAVAILABLE names those that could not store them.
    pub async fn replicate_schema(&self, versions: Vec<pb::RegisteredSchema>) -> Result<(), Status> {
        let calls: Vec<_> = self
            .peers()
            .map(|peer| {
                let request = self.mark(pb::ReplicateSchemaRequest { versions: versions.clone() });
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

    /// Fetches from `peer` every version of every schema it has beyond this node's own: a
    /// member that was down during an upsert catches up when it starts, without waiting for the
    /// next upsert of that schema. Returns the histories to store, oldest version first.
    pub async fn schemas_ahead(
        &self,
        peer: &Peer,
        local: impl Fn(&str) -> u32,
    ) -> Result<Vec<Vec<pb::RegisteredSchema>>, Error> {
        let mut client = peer.client.clone();
        let failed = |status: Status| call_error(&peer.id, &status);
        let latest = client.list_schemas(self.mark(pb::ListSchemasRequest {})).await.map_err(failed)?;
        let mut histories = Vec::new();
        for schema in latest.into_inner().schemas {
            let Some(name) = schema.schema.as_ref().map(|s| s.name.clone()) else { continue };
            if schema.version <= local(&name) {
                continue;
            }
            let mut history = Vec::new();
            for version in 1..=schema.version {
                let request = self.mark(pb::GetSchemaRequest { name: name.clone(), version: Some(version) });
                let answer = client.get_schema(request).await.map_err(failed)?;
                history.extend(answer.into_inner().schema);
            }
            histories.push(history);
        }
        Ok(histories)
    }

    fn refuse(&self, message: String) -> Status {
        self.metrics.record_error(ErrorCode::Unavailable);
        tracing::warn!(error = %message, "forwarded request refused");
        graveyard::wire::code_status(ErrorCode::Unavailable, message)
    }
}
