//! Failover of the commit logs kept in Cassandra (`--storage cql`): when a member is down, the
//! first live member after it in the members list serves its streams from its log.
//!
//! Each member writes the log named after its id, and its streams (the ring's) live in that log
//! for good: failover moves who serves a log, never which log a stream is in. So positions,
//! revisions and groups stay valid, and the member that comes back finds everything written for
//! it in its own log.
//!
//! - Every node probes the others (`Health`, every `PROBE_EVERY`). A member whose probes fail
//!   for `DOWN_AFTER`, or that says it is draining, is down in this node's view.
//! - The log of a member that is down is served by the first member after it in the members
//!   list that is not down (its successor). The successor opens a store of that log under
//!   `<data>/logs/<member>` (kept between takeovers, so a later one replays only what is new),
//!   catches up with Cassandra and serves the member's streams from it; the other nodes forward
//!   the member's requests there. Each node keeps the log of the member before it open and caught
//!   up (every `STANDBY_CATCH_UP`), so the usual takeover has only a few records to apply.
//! - Correctness does not rest on the nodes agreeing: two nodes that both write a log can never
//!   both write the same record (the record's LSN is the key of a conditional write), and the one
//!   that loses applies the other's records and checks its commit again (docs/cql.md). A view
//!   that is wrong for a moment costs retries, never a revision lost or written twice.
//! - A member serves its own streams only while no other member says it serves its log (the
//!   `serving_for` of `Health`) and every member has either answered its last probe or been
//!   silent for `DOWN_AFTER`; once that holds it catches up with what was written for it. A member
//!   that took a log over lists it until its store of the log is closed (the commits in flight on
//!   it finished), though it forwards the member's requests to it as soon as it sees it back. A
//!   member that finds another serving its log while it serves it (it was thought down, but
//!   was not) stops serving its streams until that member hands the log back.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use graveyard::wire::v1 as pb;
use graveyard::{Db, Error, Options, Store};
use graveyard_cql::{CqlLogSource, CqlOptions};
use tokio::sync::watch;

use crate::cluster::{Cluster, Local};

/// How often the other members are probed.
const PROBE_EVERY: Duration = Duration::from_millis(500);
/// A probe not answered in this long failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// A member whose probes fail for this long is down. Long enough that a lost packet or a busy
/// moment does not move a log, short enough that a dead member's streams are back in seconds.
const DOWN_AFTER: Duration = Duration::from_secs(2);
/// A member that has not answered since this node started is down only after this long: at a
/// cluster's start every member takes a few seconds to connect to Cassandra and replay its log,
/// and taking its log over meanwhile would only make it wait to get it back.
const FIRST_ANSWER_WITHIN: Duration = Duration::from_secs(15);
/// How long after a failed open of a log's store it is tried again.
const REOPEN_AFTER: Duration = Duration::from_secs(5);
/// How often a log this node stands by for (not serving it) is brought up to date.
const STANDBY_CATCH_UP: Duration = Duration::from_secs(2);

/// A member unanswered `since` then is down by `now`: a shorter silence is a slow answer.
fn silent_too_long(since: Instant, now: Instant) -> bool {
    now.duration_since(since) >= DOWN_AFTER
}

/// What this node knows of the other members and the logs it holds.
pub struct Failover {
    node_id: String,
    /// Member ids in the order of the members list: a log goes to the first live member after
    /// its own.
    order: Vec<String>,
    /// Where the stores of other members' logs live: `<data>/logs/<member>`.
    dir: PathBuf,
    /// This node's settings for Cassandra; each log's store uses them with the log's name.
    cql: CqlOptions,
    max_event_size: usize,
    max_json_depth: usize,
    state: Mutex<State>,
    started: Instant,
    /// Bumped whenever this node starts serving a log (its own included), so that requests
    /// waiting for one wake.
    served: watch::Sender<u64>,
    /// This node's own store, once `run` starts: the schema versions of a log taken over are
    /// completed from it.
    own: std::sync::OnceLock<Db>,
    /// Set while the logs stood by for are being caught up.
    standing_by: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct State {
    /// The members that answered a probe since this node started.
    seen: HashSet<String>,
    /// Since when each member has failed its probes, with no success in between.
    failing: HashMap<String, Instant>,
    /// The members this node counts as down.
    down: HashSet<String>,
    /// What each member said it serves at its last answered probe (cleared when a probe fails).
    serves: HashMap<String, Vec<String>>,
    /// Stores of other members' logs, opened: served, or stood by for.
    stores: HashMap<String, Local>,
    /// Logs whose store is being opened.
    opening: HashSet<String>,
    /// Logs whose store failed to open, and when: tried again after `REOPEN_AFTER`.
    failed: HashMap<String, Instant>,
    /// The members whose logs this node serves now.
    serving: HashSet<String>,
    /// The members whose logs this node has stopped serving but whose stores are still being
    /// closed: still listed in `serving_for`, so that the member waits for the commits in flight.
    releasing: HashSet<String>,
    /// Set once no live member serves this node's own log.
    own_ready: bool,
    /// When the last catch-up of the logs stood by for ran.
    standby_caught_up: Option<Instant>,
}

impl Failover {
    pub fn new(
        node_id: String,
        order: Vec<String>,
        data: PathBuf,
        cql: CqlOptions,
        max_event_size: usize,
        max_json_depth: usize,
    ) -> Failover {
        Failover {
            node_id,
            order,
            dir: data.join("logs"),
            cql,
            max_event_size,
            max_json_depth,
            state: Mutex::new(State::default()),
            started: Instant::now(),
            served: watch::Sender::new(0),
            own: std::sync::OnceLock::new(),
            standing_by: Default::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The member that serves the log of `owner` in this node's view: `owner` unless it is down,
    /// else the first member after it in the members list that is not (this node counts itself
    /// up).
    pub fn holder(&self, owner: &str) -> String {
        let state = self.state();
        holder_in(&self.order, &self.node_id, &state.down, owner)
    }

    /// Whether this node serves its own streams yet (see the module's comment).
    pub fn own_ready(&self) -> bool {
        self.state().own_ready
    }

    /// The store of `owner`'s log, when this node serves it now.
    pub fn serving(&self, owner: &str) -> Option<Local> {
        let state = self.state();
        state.serving.contains(owner).then(|| state.stores.get(owner).cloned()).flatten()
    }

    /// Waits up to `patience` for `ready` to hold, checking it again whenever this node starts
    /// serving a log: a request that arrives while the node takes a log over or waits for its
    /// own waits for that instead of failing.
    pub async fn wait_for<T>(&self, patience: Duration, ready: impl Fn() -> Option<T>) -> Option<T> {
        let mut served = self.served.subscribe();
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            if let Some(value) = ready() {
                return Some(value);
            }
            if tokio::time::timeout_at(deadline, served.changed()).await.is_err() {
                return ready();
            }
        }
    }

    fn announce(&self) {
        self.served.send_modify(|n| *n += 1);
    }

    /// The stores of the logs this node serves now, with their members.
    pub fn served(&self) -> Vec<(String, Local)> {
        let state = self.state();
        let mut served: Vec<_> =
            state.serving.iter().filter_map(|m| Some((m.clone(), state.stores.get(m)?.clone()))).collect();
        served.sort_by(|a, b| a.0.cmp(&b.0));
        served
    }

    /// The members whose logs this node serves or is releasing, for `Health`.
    pub fn serving_for(&self) -> Vec<String> {
        let state = self.state();
        let mut serving: Vec<String> = state.serving.union(&state.releasing).cloned().collect();
        serving.sort();
        serving
    }

    /// The member before this one in the list: the one whose log it takes first.
    fn predecessor(&self) -> Option<String> {
        let at = self.order.iter().position(|m| *m == self.node_id)?;
        (self.order.len() > 1).then(|| self.order[(at + self.order.len() - 1) % self.order.len()].clone())
    }

    /// Probes the members and moves logs until the node drains. `own` is this node's store.
    pub async fn run(self: Arc<Self>, cluster: Arc<Cluster>, own: Db, mut draining: watch::Receiver<bool>) {
        let _ = self.own.set(own.clone());
        if let Some(member) = self.predecessor() {
            self.clone().open(member);
        }
        let mut waiting_logged = Instant::now() - Duration::from_secs(60);
        loop {
            let probes: Vec<_> = cluster
                .peers()
                .map(|peer| {
                    let cluster = cluster.clone();
                    tokio::spawn(async move {
                        let answer = tokio::time::timeout(PROBE_TIMEOUT, cluster.health(&peer)).await;
                        (peer.id, answer.ok().and_then(Result::ok))
                    })
                })
                .collect();
            let mut answers = Vec::with_capacity(probes.len());
            for probe in probes {
                if let Ok(answer) = probe.await {
                    answers.push(answer);
                }
            }
            let plan = self.observe(answers);
            if let Some(waiting_for) = plan.waiting_for {
                if waiting_logged.elapsed() > Duration::from_secs(5) {
                    tracing::info!(members = ?waiting_for, "waiting for the members serving this node's log to see it back");
                    waiting_logged = Instant::now();
                }
            } else if !self.own_ready() {
                // Nobody serves this node's log any more: what they wrote for it is applied
                // before its own streams are served.
                let db = own.clone();
                match tokio::task::spawn_blocking(move || db.catch_up()).await {
                    Ok(Ok(records)) => {
                        tracing::info!(records, "serving this node's own streams");
                        self.state().own_ready = true;
                        self.announce();
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "catching up with this node's own log failed"),
                    Err(e) => tracing::warn!(error = %e, "catching up with this node's own log failed"),
                }
            }
            for member in plan.take {
                self.clone().open(member);
            }
            for member in plan.hand_back {
                tracing::info!(member, "member back: its streams are served by it again");
                tokio::spawn(self.clone().hand_back(member));
            }
            // In the background: with Cassandra slow or out of reach a catch-up can take a
            // request timeout, and the probes must go on meanwhile.
            if plan.standby && !self.standing_by.swap(true, std::sync::atomic::Ordering::AcqRel) {
                let this = self.clone();
                tokio::spawn(async move {
                    this.catch_up_standby().await;
                    this.standing_by.store(false, std::sync::atomic::Ordering::Release);
                });
            }
            tokio::select! {
                () = tokio::time::sleep(PROBE_EVERY) => {}
                _ = draining.wait_for(|&d| d) => return,
            }
        }
    }

    /// Takes in one round of probes and decides what moves.
    fn observe(&self, answers: Vec<(String, Option<pb::HealthResponse>)>) -> Plan {
        let mut state = self.state();
        let now = Instant::now();
        for (member, answer) in answers {
            match answer {
                Some(health) if health.status() != pb::health_response::Status::Draining => {
                    state.failing.remove(&member);
                    state.seen.insert(member.clone());
                    if state.down.remove(&member) {
                        tracing::info!(member, "member answers again");
                    }
                    state.serves.insert(member, health.serving_for);
                }
                // Draining: it stops serving now, so its log moves at once.
                Some(health) => {
                    state.serves.remove(&member);
                    if state.down.insert(member.clone()) {
                        tracing::warn!(member, node = health.node_id, "member draining: its log moves");
                    }
                }
                None => {
                    state.serves.remove(&member);
                    let since = *state.failing.entry(member.clone()).or_insert(now);
                    let dead = if state.seen.contains(&member) {
                        silent_too_long(since, now)
                    } else {
                        now.duration_since(self.started) >= FIRST_ANSWER_WITHIN
                    };
                    if dead && state.down.insert(member.clone()) {
                        tracing::warn!(member, "member down: its log moves to the next live member");
                    }
                }
            }
        }
        // Members that may serve this node's log: those that say so, and those whose silence is
        // too short to tell (a slow answer is not a dead member).
        let mut waiting_for: Vec<String> = self
            .order
            .iter()
            .filter(|m| **m != self.node_id)
            .filter(|m| match state.serves.get(*m) {
                Some(serves) => serves.contains(&self.node_id),
                None => {
                    !state.down.contains(*m)
                        && state.failing.get(*m).is_none_or(|since| !silent_too_long(*since, now))
                }
            })
            .cloned()
            .collect();
        waiting_for.sort();
        let serving_me: Vec<&String> =
            state.serves.iter().filter(|(_, s)| s.contains(&self.node_id)).map(|(m, _)| m).collect();
        if state.own_ready && !serving_me.is_empty() {
            // This node was thought down, and another member writes its log: both serving its
            // streams would have each answer reads from its own copy.
            tracing::warn!(members = ?serving_me, "another member serves this node's log: this node's streams wait until it hands the log back");
            state.own_ready = false;
        }
        let mut plan = Plan {
            waiting_for: (!state.own_ready && !waiting_for.is_empty()).then_some(waiting_for),
            ..Plan::default()
        };
        let mine: HashSet<String> = self
            .order
            .iter()
            .filter(|m| {
                **m != self.node_id && holder_in(&self.order, &self.node_id, &state.down, m) == self.node_id
            })
            .cloned()
            .collect();
        let released: Vec<String> = state.serving.difference(&mine).cloned().collect();
        for member in released {
            state.serving.remove(&member);
            state.releasing.insert(member.clone());
            plan.hand_back.push(member);
        }
        for member in mine {
            let resting = state.failed.get(&member).is_some_and(|at| at.elapsed() < REOPEN_AFTER);
            if !state.serving.contains(&member) && !state.opening.contains(&member) && !resting {
                plan.take.push(member);
            }
        }
        let due = state.standby_caught_up.is_none_or(|at| at.elapsed() >= STANDBY_CATCH_UP);
        if due {
            state.standby_caught_up = Some(now);
            plan.standby = true;
        }
        plan
    }

    /// Opens (when needed) the store of `member`'s log and brings it up to date, in the
    /// background; then serves it if this node should by then.
    fn open(self: Arc<Self>, member: String) {
        {
            let mut state = self.state();
            if !state.opening.insert(member.clone()) {
                return;
            }
        }
        tokio::spawn(async move {
            let this = self.clone();
            let name = member.clone();
            let opened = tokio::task::spawn_blocking(move || this.open_blocking(&name))
                .await
                .unwrap_or_else(|e| Err(Error::Internal(format!("opening the store failed: {e}"))));
            let mut state = self.state();
            state.opening.remove(&member);
            match opened {
                Ok((local, records)) => {
                    state.failed.remove(&member);
                    let serve = holder_in(&self.order, &self.node_id, &state.down, &member) == self.node_id;
                    if !serve && self.predecessor().as_deref() != Some(member.as_str()) {
                        // The member came back during the open, and this node does not stand
                        // by for it: nothing to keep open.
                        drop(state);
                        tokio::task::spawn_blocking(move || local.db.close());
                        return;
                    }
                    if serve && state.serving.insert(member.clone()) {
                        tracing::warn!(
                            member,
                            records,
                            "serving the streams of a member that is down, from its log"
                        );
                    }
                    state.stores.insert(member, local);
                    drop(state);
                    self.announce();
                }
                Err(e) => {
                    tracing::warn!(member, error = %e, "cannot open the log of member");
                    state.failed.insert(member, Instant::now());
                }
            }
        });
    }

    /// Closes the store of a log handed back, which ends the subscriptions and group sessions
    /// still open on it (their clients are told UNAVAILABLE and go to the member, which now
    /// serves them: a group is never served by two nodes for long), then opens it again to stand
    /// by.
    async fn hand_back(self: Arc<Self>, member: String) {
        let local = self.state().stores.remove(&member);
        if let Some(local) = local {
            // Waits for the calls in flight on it: a commit being made finishes before the
            // member stops seeing this node in `serving_for`, and its catch-up then applies it.
            let _ = tokio::task::spawn_blocking(move || local.db.close()).await;
        }
        self.state().releasing.remove(&member);
        if self.predecessor().as_deref() == Some(member.as_str()) {
            self.open(member);
        }
    }

    /// The store of `member`'s log, opened if it is not, and caught up.
    fn open_blocking(&self, member: &str) -> Result<(Local, u64), Error> {
        let existing = self.state().stores.get(member).cloned();
        let local = match existing {
            Some(local) => local,
            None => {
                let mut options = self.cql.clone();
                options.log = member.to_owned();
                let source = CqlLogSource::connect(options)?;
                let dir = self.dir.join(member);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::Io(format!("creating {}: {e}", dir.display())))?;
                let db = Db::open_with(
                    Options::new(&dir)
                        .max_event_size(self.max_event_size)
                        .max_json_depth(self.max_json_depth)
                        .commit_log(source),
                )?;
                Local { store: Store::from_db(db.clone()), db }
            }
        };
        let records = local.db.catch_up()?;
        // Versions the member missed while it was down (replicated to the members meanwhile)
        // are enforced on its streams too.
        if let Some(own) = self.own.get() {
            for schema in own.list_schemas()? {
                if let Err(e) = crate::service::copy_schema(own, &local.db, &schema.schema.name) {
                    tracing::warn!(member, schema = schema.schema.name, error = %e, "completing a schema of a member's log failed");
                }
            }
        }
        Ok((local, records))
    }

    /// Brings the stores this node stands by for (not serving them) up to date.
    async fn catch_up_standby(&self) {
        let standby: Vec<(String, Db)> = {
            let state = self.state();
            state
                .stores
                .iter()
                .filter(|(member, _)| !state.serving.contains(*member))
                .map(|(member, local)| (member.clone(), local.db.clone()))
                .collect()
        };
        for (member, db) in standby {
            match tokio::task::spawn_blocking(move || db.catch_up()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::debug!(member, error = %e, "catching up with a log stood by for failed")
                }
                Err(e) => tracing::debug!(member, error = %e, "catching up with a log stood by for failed"),
            }
        }
    }

    /// Closes every store of another member's log: the node is stopping.
    pub fn close(&self) {
        let stores: Vec<Local> = self.state().stores.drain().map(|(_, local)| local).collect();
        for local in stores {
            local.db.close();
        }
    }
}

/// What one round of probes decided.
#[derive(Default)]
struct Plan {
    /// Members that still serve this node's log, while it waits to serve its own streams.
    waiting_for: Option<Vec<String>>,
    /// Logs to open and serve.
    take: Vec<String>,
    /// Logs no longer served here.
    hand_back: Vec<String>,
    /// The stores stood by for are due a catch-up.
    standby: bool,
}

/// The member serving `owner`'s log when `down` are down, as `me` sees it.
fn holder_in(order: &[String], me: &str, down: &HashSet<String>, owner: &str) -> String {
    if owner == me || !down.contains(owner) {
        return owner.to_owned();
    }
    let Some(at) = order.iter().position(|m| m == owner) else { return owner.to_owned() };
    (1..order.len())
        .map(|k| &order[(at + k) % order.len()])
        .find(|m| *m == me || !down.contains(*m))
        .cloned()
        .unwrap_or_else(|| owner.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_goes_to_the_first_live_member_after_its_own() {
        let order: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let down = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        assert_eq!(holder_in(&order, "b", &down(&[]), "a"), "a");
        assert_eq!(holder_in(&order, "b", &down(&["a"]), "a"), "b");
        assert_eq!(holder_in(&order, "c", &down(&["a"]), "a"), "b", "c forwards a's streams to b");
        assert_eq!(holder_in(&order, "c", &down(&["a", "b"]), "a"), "c");
        assert_eq!(holder_in(&order, "a", &down(&["c"]), "c"), "a", "wraps around");
        assert_eq!(holder_in(&order, "b", &down(&["b"]), "b"), "b", "a node never counts itself down");
        assert_eq!(holder_in(&order, "b", &down(&["a", "c"]), "c"), "b");
    }
}
