//! Appends over `AppendSession` calls: one long call per node carries every append the client
//! sends it, each answered by its id, instead of one unary call (an HTTP/2 stream, its headers
//! and trailers) per append. A session whose call fails fails what it has in flight with
//! UNAVAILABLE and is replaced by the next append; the client's retry then resends those appends
//! with the same event ids, which the node recognises, as it does after a unary call lost.
//! A node that does not serve `AppendSession` (an older build) gets unary appends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message as _;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Code, Status};

use super::NodeClient;
use crate::wire;
use crate::wire::v1 as pb;

type Answer = oneshot::Sender<Result<pb::AppendResult, Status>>;

/// Appends larger than this go as unary calls. A session's messages share the node's decode
/// limit (4 × its largest event + 1 MiB, never below 1 MiB): one append over it would end the
/// whole session and fail everything in flight on it, where as a unary call it gets its own
/// answer (INVALID_ARGUMENT for an event too large) and nothing else is touched.
const SESSION_MAX_APPEND_BYTES: usize = 1024 * 1024 - 1024;

/// How long a node that answered UNIMPLEMENTED gets unary appends before a session is tried
/// again (it may have been upgraded meanwhile).
const UNARY_RECHECK: Duration = Duration::from_secs(60);

/// The sessions of one client, by node id.
#[derive(Default)]
pub(super) struct Sessions {
    nodes: Mutex<Nodes>,
}

#[derive(Default)]
struct Nodes {
    slots: HashMap<String, Slot>,
    /// Set by `close`: sessions opened by appends still running are not kept.
    closed: bool,
}

#[derive(Clone)]
enum Slot {
    Open(Arc<Session>),
    /// The node answered UNIMPLEMENTED at that instant: unary appends for a while.
    Unary(Instant),
}

impl Sessions {
    /// Appends through node `node` (reached by `client`): over its session, opened if needed.
    pub(super) async fn append(
        &self,
        node: String,
        mut client: NodeClient,
        request: pb::AppendRequest,
        timeout: Option<Duration>,
    ) -> Result<pb::AppendResult, Status> {
        if request.encoded_len() > SESSION_MAX_APPEND_BYTES {
            return unary(client, request).await;
        }
        let session = match self.slot(&node) {
            Some(Slot::Open(session)) => session,
            Some(Slot::Unary(_)) => return unary(client, request).await,
            None => match Session::open(&mut client, timeout).await {
                // Appends that found no session at once each open one; the first kept serves
                // them all, the others end unused.
                Ok(session) => match self.keep(&node, Slot::Open(session)) {
                    Slot::Open(session) => session,
                    Slot::Unary(_) => return unary(client, request).await,
                },
                Err(status) if status.code() == Code::Unimplemented => {
                    self.keep(&node, Slot::Unary(Instant::now()));
                    return unary(client, request).await;
                }
                Err(status) => return Err(status),
            },
        };
        session.append(request, timeout).await
    }

    /// The live slot of `node`; a session that ended, or a unary slot due for a new try, is
    /// forgotten.
    fn slot(&self, node: &str) -> Option<Slot> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        match nodes.slots.get(node) {
            Some(Slot::Open(session)) if session.ended() => {
                nodes.slots.remove(node);
                None
            }
            Some(Slot::Unary(since)) if since.elapsed() >= UNARY_RECHECK => {
                nodes.slots.remove(node);
                None
            }
            slot => slot.cloned(),
        }
    }

    /// Keeps `slot` for `node` unless a live one is there already (or the client was closed);
    /// the slot to use.
    fn keep(&self, node: &str, slot: Slot) -> Slot {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        if nodes.closed {
            // Serves the append that opened it, then ends with its last reference.
            return slot;
        }
        match nodes.slots.get(node) {
            Some(Slot::Open(session)) if !session.ended() => Slot::Open(session.clone()),
            Some(Slot::Unary(since)) => Slot::Unary(*since),
            _ => {
                nodes.slots.insert(node.to_owned(), slot.clone());
                slot
            }
        }
    }

    /// Ends every session: the nodes answer what is in flight, then end the calls.
    pub(super) fn close(&self) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        nodes.closed = true;
        nodes.slots.clear();
    }
}

/// One unary `Append`.
pub(super) async fn unary(
    mut client: NodeClient,
    request: pb::AppendRequest,
) -> Result<pb::AppendResult, Status> {
    let answer = client.append(request).await?.into_inner();
    answer.result.ok_or_else(|| Status::internal("the node's AppendResponse has no result"))
}

/// One `AppendSession` call. Dropping the last reference ends the client's side.
struct Session {
    requests: mpsc::UnboundedSender<pb::AppendSessionRequest>,
    pending: Arc<Pending>,
    next_id: AtomicU64,
}

/// Appends sent and not answered yet, or, once the call ended, the status that ended it.
#[derive(Default)]
struct Pending {
    state: Mutex<PendingState>,
}

#[derive(Default)]
struct PendingState {
    waiting: HashMap<u64, Answer>,
    ended: Option<Status>,
}

impl Session {
    /// Opens the call; `timeout` bounds the wait for the node's response headers, which a proxy
    /// that buffers streams might hold back for ever.
    async fn open(client: &mut NodeClient, timeout: Option<Duration>) -> Result<Arc<Session>, Status> {
        let (requests, rx) = mpsc::unbounded_channel();
        let call = client.append_session(UnboundedReceiverStream::new(rx));
        let answer = match timeout {
            None => call.await,
            Some(timeout) => tokio::time::timeout(timeout, call).await.unwrap_or_else(|_| {
                Err(Status::deadline_exceeded(format!(
                    "the node did not open the append session within {timeout:?}"
                )))
            }),
        };
        let mut answers = answer?.into_inner();
        let pending = Arc::new(Pending::default());
        let mut reader = Reader { pending: pending.clone(), end: None };
        tokio::spawn(async move {
            let end = loop {
                match answers.message().await {
                    Ok(Some(answer)) => reader.pending.answer(answer),
                    Ok(None) => break Status::unavailable("the node ended the append session"),
                    Err(status) => break status,
                }
            };
            reader.ended(end);
        });
        Ok(Arc::new(Session { requests, pending, next_id: AtomicU64::new(0) }))
    }

    fn ended(&self) -> bool {
        self.pending.state.lock().unwrap_or_else(|p| p.into_inner()).ended.is_some()
            || self.requests.is_closed()
    }

    /// One append; `timeout` bounds the wait for its answer as the channel's timeout bounds a
    /// unary call (the session's call itself is a stream, which that timeout does not cover).
    async fn append(
        &self,
        request: pb::AppendRequest,
        timeout: Option<Duration>,
    ) -> Result<pb::AppendResult, Status> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            // Registered under the lock that the end of the call takes: an append is either
            // failed by the end or sent before it.
            let mut state = self.pending.state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(status) = &state.ended {
                return Err(lost(status));
            }
            state.waiting.insert(id, tx);
        }
        if self.requests.send(pb::AppendSessionRequest { id, append: Some(request) }).is_err() {
            self.pending.state.lock().unwrap_or_else(|p| p.into_inner()).waiting.remove(&id);
            return Err(Status::unavailable("the append session ended before the append was sent"));
        }
        let answer = match timeout {
            None => rx.await,
            Some(timeout) => match tokio::time::timeout(timeout, rx).await {
                Ok(answer) => answer,
                Err(_) => {
                    self.pending.state.lock().unwrap_or_else(|p| p.into_inner()).waiting.remove(&id);
                    return Err(Status::deadline_exceeded(format!(
                        "the append was not answered within {timeout:?}; its outcome is unknown"
                    )));
                }
            },
        };
        answer.unwrap_or_else(|_| Err(Status::unavailable("the append session ended")))
    }
}

/// The task reading a session's answers. However it stops (the call ended, or its runtime shut
/// down and dropped it), the appends it would have answered are failed, never left waiting.
struct Reader {
    pending: Arc<Pending>,
    /// Why the call ended, once it has.
    end: Option<Status>,
}

impl Reader {
    /// The call ended with `status`: what it has in flight fails with it when the reader goes.
    fn ended(&mut self, status: Status) {
        self.end = Some(status);
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let end =
            self.end.take().unwrap_or_else(|| Status::unavailable("the append session's task was stopped"));
        self.pending.end(end);
    }
}

impl Pending {
    fn answer(&self, answer: pb::AppendSessionResponse) {
        let Some(waiting) = self.state.lock().unwrap_or_else(|p| p.into_inner()).waiting.remove(&answer.id)
        else {
            return;
        };
        let outcome = match answer.outcome {
            Some(pb::append_session_response::Outcome::Result(result)) => Ok(result),
            Some(pb::append_session_response::Outcome::Error(status)) => {
                Err(wire::status_from_message(&status))
            }
            None => Err(Status::internal("the node answered an append with neither a result nor an error")),
        };
        // The caller may have stopped waiting; the append stands all the same.
        let _ = waiting.send(outcome);
    }

    /// Fails every append in flight, whose outcome is unknown, with UNAVAILABLE (retried with
    /// the same event ids).
    fn end(&self, status: Status) {
        let waiting = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.ended = Some(status.clone());
            std::mem::take(&mut state.waiting)
        };
        for (_, answer) in waiting {
            let _ = answer.send(Err(lost(&status)));
        }
    }
}

/// What an append in flight on a call that ended gets: the node's own status when it said why
/// (shutting down), else UNAVAILABLE keeping the transport's message. Either way retried.
fn lost(status: &Status) -> Status {
    if wire::status_detail(status).is_some() && status.code() == Code::Unavailable {
        return status.clone();
    }
    Status::unavailable(format!(
        "the append session ended, the outcome of the append is unknown: {}",
        status.message()
    ))
}
