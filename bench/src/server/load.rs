//! The load generator: C clients, each an async task with its own connection(s), appending single
//! events for a fixed time, and what it costs in CPU on each side.

use std::future::Future;
use std::time::{Duration, Instant};

use graveyard::{Client, ClientOptions, CurrentRevision, EventData, ExpectedVersion};
use hdrhistogram::Histogram;

use crate::driver::{histogram, record, Measurement};
use crate::stores::{bench_error, BoxError, Result};
use crate::workload::{payload, EVENT_TYPE};

/// Streams each client owns. Many, so appends spread over a realistic number of streams (the
/// version check looks each one up) instead of hammering one hot stream per client.
pub const STREAMS_PER_CLIENT: usize = 1_000;

/// One client of a store: appends one event after an expected revision.
pub trait Appender: Send + 'static {
    /// Appends one event with `payload` to `stream`, whose last revision the caller believes is
    /// `expected` (`None`: the stream must not exist yet). The revision the event got, or why it
    /// failed (a version conflict included).
    fn append(
        &mut self,
        stream: &str,
        expected: Option<u64>,
        payload: Vec<u8>,
    ) -> impl Future<Output = std::result::Result<u64, String>> + Send;

    /// The stream's last revision, asked after a failure left it in doubt.
    fn last_revision(
        &mut self,
        stream: &str,
    ) -> impl Future<Output = std::result::Result<Option<u64>, BoxError>> + Send;
}

impl Appender for Client {
    async fn append(
        &mut self,
        stream: &str,
        expected: Option<u64>,
        payload: Vec<u8>,
    ) -> std::result::Result<u64, String> {
        let expected = expected.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
        let event = EventData::json_bytes(EVENT_TYPE, payload);
        match Client::append(self, stream, expected, vec![event]).await {
            Ok(result) => Ok(result.last_revision),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn last_revision(&mut self, stream: &str) -> std::result::Result<Option<u64>, BoxError> {
        Ok(match self.stream_info(stream).await?.current {
            CurrentRevision::NoStream => None,
            CurrentRevision::Revision(r) => Some(r),
        })
    }
}

/// What one run (one store, one number of clients) did.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Successful appends (`events`), wall time, and the latency of successful appends only.
    pub measurement: Measurement,
    /// Failed appends: never counted in `events`.
    pub errors: u64,
    pub first_error: Option<String>,
    /// CPU time used during the run, in cores (CPU seconds per wall second), by this process
    /// (the load generator), by the store's processes, and by everything else on the machine
    /// (other processes; kernel work charged to no process, such as softirqs of the loopback).
    pub bench_cpu: f64,
    pub store_cpu: f64,
    pub other_cpu: f64,
}

struct Tally {
    events: u64,
    errors: u64,
    first_error: Option<String>,
    latency: Histogram<u64>,
}

/// Runs one task per appender for `duration`. Client `i` owns [`STREAMS_PER_CLIENT`] streams
/// named `{prefix}-c{i}-s{k}` and appends to one of them picked at random each time, with the
/// expected version it knows, so every append is a real optimistic-concurrency check.
/// `store_pids` are the processes whose CPU time counts as the store's.
pub async fn drive<A: Appender>(
    appenders: Vec<A>,
    prefix: &str,
    duration: Duration,
    store_pids: impl Fn() -> Vec<u32>,
) -> Result<LoadResult> {
    let cpu_before = (ticks_by_pid(&store_pids()), self_cpu_ticks(), machine_busy_ticks());
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = appenders
        .into_iter()
        .enumerate()
        .map(|(client, appender)| tokio::spawn(client_loop(appender, client, prefix.to_owned(), deadline)))
        .collect();
    let mut tallies = Vec::with_capacity(tasks.len());
    let mut open_clients = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (appender, tally) =
            task.await.map_err(|e| bench_error(format!("a client task failed: {e}")))??;
        open_clients.push(appender);
        tallies.push(tally);
    }
    let elapsed = start.elapsed();
    // Sampled while every client is still connected: a PostgreSQL backend exits with its
    // connection, and its CPU time with it.
    let cpu_after = (ticks_by_pid(&store_pids()), self_cpu_ticks(), machine_busy_ticks());
    drop(open_clients);

    let mut measurement = Measurement::empty(elapsed);
    let (mut errors, mut first_error) = (0, None);
    for tally in tallies {
        measurement.events += tally.events;
        measurement.ops += tally.events + tally.errors;
        measurement.busiest_thread_events = measurement.busiest_thread_events.max(tally.events);
        measurement
            .latency
            .add(&tally.latency)
            .map_err(|e| bench_error(format!("merging histograms: {e:?}")))?;
        errors += tally.errors;
        first_error = first_error.or(tally.first_error);
    }
    let cores = |before: Option<u64>, after: Option<u64>| match (before, after) {
        (Some(b), Some(a)) => a.saturating_sub(b) as f64 / CLOCK_TICKS_PER_SEC / elapsed.as_secs_f64(),
        _ => f64::NAN,
    };
    let store_ticks = store_ticks_during(&cpu_before.0, &cpu_after.0);
    let (store_cpu, bench_cpu) = (cores(Some(0), store_ticks), cores(cpu_before.1, cpu_after.1));
    let other_cpu = (cores(cpu_before.2, cpu_after.2) - store_cpu - bench_cpu).max(0.0);
    Ok(LoadResult { measurement, errors, first_error, bench_cpu, store_cpu, other_cpu })
}

async fn client_loop<A: Appender>(
    mut appender: A,
    client: usize,
    prefix: String,
    deadline: Instant,
) -> Result<(A, Tally)> {
    let streams: Vec<String> = (0..STREAMS_PER_CLIENT).map(|k| format!("{prefix}-c{client}-s{k}")).collect();
    let mut last_revisions: Vec<Option<u64>> = vec![None; STREAMS_PER_CLIENT];
    let mut rng = fastrand::Rng::with_seed(client as u64);
    let mut tally = Tally { events: 0, errors: 0, first_error: None, latency: histogram() };
    // Payload numbers of client i start at i << 40, so every event of a run differs.
    let mut seq = (client as u64) << 40;
    while Instant::now() < deadline {
        let k = rng.usize(..STREAMS_PER_CLIENT);
        let expected = last_revisions[k];
        // The payload is built before the clock starts: we time the store, not format!.
        let data = payload(seq);
        seq += 1;
        let started = Instant::now();
        match appender.append(&streams[k], expected, data).await {
            Ok(revision) => {
                record(&mut tally.latency, started.elapsed());
                let wanted = expected.map_or(0, |r| r + 1);
                if revision != wanted {
                    // A store that gives the wrong revision breaks the contract: no number of it
                    // would mean anything.
                    return Err(bench_error(format!(
                        "append to {} after {expected:?} got revision {revision}, not {wanted}",
                        streams[k]
                    )));
                }
                last_revisions[k] = Some(revision);
                tally.events += 1;
            }
            Err(error) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(error);
                // The append may or may not have been written: ask, untimed, before using the
                // stream again. If even that fails the store is in trouble; pause instead of
                // spinning on it, and ask again next time.
                match appender.last_revision(&streams[k]).await {
                    Ok(revision) => last_revisions[k] = revision,
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        }
    }
    Ok((appender, tally))
}

/// GraveyardDB clients: each its own `Client` (its own connection to every node, like separate
/// application instances), every connection opened before the clock starts; appending over
/// `AppendSession` calls (`sessions`, the client's default) or unary `Append` calls.
pub async fn graveyard_clients(endpoints: &str, count: usize, sessions: bool) -> Result<Vec<Client>> {
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        let options = ClientOptions { append_sessions: sessions, ..ClientOptions::default() };
        let client = Client::connect_with(endpoints.split(','), options).await?;
        // Connections are dialled lazily: one cheap call per node opens them all now, so the
        // first timed append of a client does not pay a TCP and HTTP/2 handshake.
        for member in client.members() {
            client.on_node(&member.id)?.head_position().await?;
        }
        clients.push(client);
    }
    Ok(clients)
}

/// Events in the `$all` logs of every node together.
pub async fn graveyard_event_count(endpoints: &str) -> Result<u64> {
    let client = Client::connect(endpoints).await?;
    let mut total = 0;
    for member in client.members() {
        total += client.on_node(&member.id)?.head_position().await?;
    }
    Ok(total)
}

/// The kernel reports CPU times in /proc in USER_HZ, which Linux fixes at 100 for userspace on
/// every architecture it runs on.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// Ticks every CPU of the machine spent busy (neither idle nor waiting for I/O), from the first
/// line of /proc/stat: `cpu user nice system idle iowait irq softirq steal ...`.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse_busy_ticks(stat.lines().next()?)
}

fn parse_busy_ticks(cpu_line: &str) -> Option<u64> {
    let mut fields = cpu_line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    // Guest time is already counted in user time: only the first 8 fields add up.
    let ticks: Vec<u64> = fields.take(8).map(|f| f.parse().ok()).collect::<Option<_>>()?;
    let (idle, iowait) = (*ticks.get(3)?, *ticks.get(4)?);
    Some(ticks.iter().sum::<u64>() - idle - iowait)
}

/// User + system CPU ticks of this process (all its threads).
fn self_cpu_ticks() -> Option<u64> {
    cpu_ticks_of("self")
}

/// User + system CPU ticks of each of these processes that can be read.
fn ticks_by_pid(pids: &[u32]) -> Vec<(u32, u64)> {
    pids.iter().filter_map(|&pid| Some((pid, cpu_ticks_of(&pid.to_string())?))).collect()
}

/// CPU ticks the store's processes used between two samples. A process that started in between
/// (a PostgreSQL autovacuum worker) counts whole; one that ended in between is lost with its
/// ticks, a small undercount. None if no process could be read (not Linux).
fn store_ticks_during(before: &[(u32, u64)], after: &[(u32, u64)]) -> Option<u64> {
    if after.is_empty() {
        return None;
    }
    let ticks_before = |pid: u32| before.iter().find(|(p, _)| *p == pid).map_or(0, |(_, t)| *t);
    Some(after.iter().map(|&(pid, ticks)| ticks.saturating_sub(ticks_before(pid))).sum())
}

fn cpu_ticks_of(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_ticks(&stat)
}

/// utime + stime from a /proc/PID/stat line: fields 14 and 15, counted after the command name,
/// which is in parentheses and may itself hold spaces or parentheses.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// The postmaster and its children (backends, WAL writer, checkpointer ...): the processes of a
/// PostgreSQL cluster, found by parent pid in /proc.
pub fn postgres_pids(postmaster: Option<u32>) -> Vec<u32> {
    let Some(postmaster) = postmaster else { return Vec::new() };
    let mut pids = vec![postmaster];
    let Ok(entries) = std::fs::read_dir("/proc") else { return pids };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let parent = stat
            .rfind(')')
            .and_then(|end| stat[end + 1..].split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if parent == Some(postmaster) {
            pids.push(pid);
        }
    }
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_ticks_past_odd_command_names() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 56 0 0 20 0 9 0 100";
        assert_eq!(parse_cpu_ticks(stat), Some(1234 + 56));
        assert_eq!(parse_cpu_ticks("garbage"), None);
        assert!(self_cpu_ticks().is_some());
    }

    #[test]
    fn store_ticks_count_new_processes_whole() {
        let before = [(1, 100), (2, 50), (3, 10)];
        // 3 ended, 4 started during the row.
        let after = [(1, 150), (2, 60), (4, 5)];
        assert_eq!(store_ticks_during(&before, &after), Some(50 + 10 + 5));
        assert_eq!(store_ticks_during(&before, &[]), None);
    }

    #[test]
    fn parses_busy_ticks_of_the_machine() {
        let line = "cpu  100 5 30 1000 200 1 2 3 50 0";
        assert_eq!(parse_busy_ticks(line), Some(100 + 5 + 30 + 1 + 2 + 3));
        assert_eq!(parse_busy_ticks("cpu0 1 2 3 4 5 6 7 8"), None);
        assert_eq!(parse_busy_ticks("cpu 1 2"), None);
        assert!(machine_busy_ticks().is_some());
    }
}
