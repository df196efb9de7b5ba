//! Prometheus metrics: counters kept in atomics, and the store's own state (head, groups, size
//! on disk) read at each scrape, rendered in the text exposition format; served at `/metrics`
//! by the node's HTTP stack (http.rs), which also shows a summary in the console.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use graveyard::{Db, ErrorCode};

/// Upper bounds of the append latency buckets, in seconds. A durable append costs at least one
/// fsync (about 0.3 ms here), so the buckets start just below that.
const LATENCY_BUCKETS: [f64; 14] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// What a subscription is a subscription to (the `kind` label).
#[derive(Debug, Clone, Copy)]
pub enum SubscriptionKind {
    Stream = 0,
    All = 1,
    Group = 2,
}

const SUBSCRIPTION_KINDS: [&str; 3] = ["stream", "all", "group"];

/// What a read reads (the `target` label).
#[derive(Debug, Clone, Copy)]
pub enum ReadKind {
    Stream = 0,
    All = 1,
}

const READ_KINDS: [&str; 2] = ["stream", "all"];

/// What the console shows of the counters.
#[derive(Debug, serde::Serialize)]
pub struct Summary {
    pub appends: u64,
    pub appends_failed: u64,
    pub appended_events: u64,
    /// The upper bound of the latency bucket holding the 99th percentile of appends; `None`
    /// when none was answered, or when it is past the last bucket (2.5 s).
    pub append_p99_seconds: Option<f64>,
    pub append_mean_seconds: Option<f64>,
    /// Open subscriptions by kind (`stream`, `all`, `group`).
    pub subscriptions: std::collections::BTreeMap<String, u64>,
    pub delivered_events: u64,
    pub read_events: u64,
    pub errors: u64,
    pub forwards: u64,
}

#[derive(Default)]
pub struct Metrics {
    append_ok: AtomicU64,
    append_failed: AtomicU64,
    appended_events: AtomicU64,
    /// Per bucket, not cumulative; the last slot is +Inf.
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_nanos: AtomicU64,
    subscriptions: [AtomicI64; SUBSCRIPTION_KINDS.len()],
    /// Indexed like `ErrorCode::ALL`.
    errors: [AtomicU64; ErrorCode::ALL.len()],
    /// Requests forwarded to the member that owns their stream (or group, or schema).
    forwards: AtomicU64,
    reads: [AtomicU64; READ_KINDS.len()],
    read_events: [AtomicU64; READ_KINDS.len()],
    /// Events handed to subscribers and group members, by subscription kind.
    delivered: [AtomicU64; SUBSCRIPTION_KINDS.len()],
    /// The position after the last event each open $all subscription delivered (0: none yet),
    /// for their lag; pruned of the closed ones as it is read.
    all_positions: Mutex<Vec<Weak<AtomicU64>>>,
}

impl Metrics {
    /// One append answered: `events` is how many it carried when it succeeded.
    pub fn record_append(&self, elapsed: Duration, events: Option<usize>) {
        match events {
            Some(n) => {
                self.append_ok.fetch_add(1, Ordering::Relaxed);
                self.appended_events.fetch_add(n as u64, Ordering::Relaxed);
            }
            None => {
                self.append_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS.iter().position(|&b| seconds <= b).unwrap_or(LATENCY_BUCKETS.len());
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// One read request: `events` read and sent so far when it ends (or the client leaves).
    pub fn record_read(&self, kind: ReadKind, events: u64) {
        self.reads[kind as usize].fetch_add(1, Ordering::Relaxed);
        self.read_events[kind as usize].fetch_add(events, Ordering::Relaxed);
    }

    pub fn record_forward(&self) {
        self.forwards.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_error(&self, code: ErrorCode) {
        let index = ErrorCode::ALL.iter().position(|c| *c == code).unwrap_or(ErrorCode::ALL.len() - 1);
        self.errors[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a subscription (or group member) as active until the guard drops.
    pub fn subscription_started(self: &Arc<Self>, kind: SubscriptionKind) -> ActiveSubscription {
        self.subscriptions[kind as usize].fetch_add(1, Ordering::Relaxed);
        let position = Arc::new(AtomicU64::new(0));
        if matches!(kind, SubscriptionKind::All) {
            let mut positions = self.all_positions.lock().unwrap_or_else(|p| p.into_inner());
            positions.retain(|p| p.strong_count() > 0);
            positions.push(Arc::downgrade(&position));
        }
        ActiveSubscription { metrics: self.clone(), kind, position }
    }

    /// The counters, for the console (which derives rates from two of them).
    pub fn summary(&self) -> Summary {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let buckets: Vec<u64> = self.latency_buckets.iter().map(load).collect();
        let answered: u64 = buckets.iter().sum();
        // The upper bound of the bucket holding the 99th percentile (None past the last bound).
        let p99_seconds = (answered > 0).then(|| {
            let rank = answered.saturating_mul(99).div_ceil(100);
            let mut seen = 0;
            let index = buckets.iter().position(|&n| {
                seen += n;
                seen >= rank
            });
            index.and_then(|i| LATENCY_BUCKETS.get(i).copied())
        });
        Summary {
            appends: load(&self.append_ok),
            appends_failed: load(&self.append_failed),
            appended_events: load(&self.appended_events),
            append_p99_seconds: p99_seconds.flatten(),
            append_mean_seconds: (answered > 0)
                .then(|| load(&self.latency_sum_nanos) as f64 / answered as f64 / 1e9),
            subscriptions: SUBSCRIPTION_KINDS
                .iter()
                .zip(&self.subscriptions)
                .map(|(kind, n)| ((*kind).to_owned(), n.load(Ordering::Relaxed).max(0) as u64))
                .collect(),
            delivered_events: self.delivered.iter().map(load).sum(),
            read_events: self.read_events.iter().map(load).sum(),
            errors: self.errors.iter().map(load).sum(),
            forwards: load(&self.forwards),
        }
    }

    /// The metrics, with the store's own state read now (`db`: the head, the groups of this
    /// node, the size on disk of `data`).
    pub fn render(&self, db: &Db, data: &Path) -> String {
        let mut out = self.render_counters();
        let _ = writeln!(out, "# HELP graveyard_build_info The node's build; always 1.");
        let _ = writeln!(out, "# TYPE graveyard_build_info gauge");
        let _ = writeln!(out, "graveyard_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));

        let head = db.head_position().ok();
        if let Some(head) = head {
            let _ = writeln!(out, "# HELP graveyard_head_position The position the next event of $all gets.");
            let _ = writeln!(out, "# TYPE graveyard_head_position gauge");
            let _ = writeln!(out, "graveyard_head_position {head}");
            // The furthest behind of the open $all subscriptions that delivered an event.
            let lag = {
                let positions = self.all_positions.lock().unwrap_or_else(|p| p.into_inner());
                positions
                    .iter()
                    .filter_map(Weak::upgrade)
                    .map(|p| p.load(Ordering::Relaxed))
                    .filter(|&next| next > 0)
                    .map(|next| head.saturating_sub(next))
                    .max()
                    .unwrap_or(0)
            };
            let _ = writeln!(
                out,
                "# HELP graveyard_subscription_lag_events Events of $all not yet delivered to the furthest \
                 behind of the open $all subscriptions."
            );
            let _ = writeln!(out, "# TYPE graveyard_subscription_lag_events gauge");
            let _ = writeln!(out, "graveyard_subscription_lag_events {lag}");
        }

        let _ = writeln!(out, "# HELP graveyard_store_size_bytes Disk space the store's files take.");
        let _ = writeln!(out, "# TYPE graveyard_store_size_bytes gauge");
        let _ = writeln!(out, "graveyard_store_size_bytes {}", disk_usage(data));

        let groups: Vec<_> = db
            .list_groups()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|name| db.group_info(&name).ok())
            .collect();
        type Field = fn(&graveyard::GroupInfo) -> u64;
        let series: [(&str, &str, Field); 5] = [
            (
                "graveyard_group_lag_events",
                "Events committed to the group's target beyond its checkpoint.",
                |g| g.lag,
            ),
            (
                "graveyard_group_in_flight",
                "Events delivered to the group's members and not yet settled.",
                |g| g.in_flight,
            ),
            ("graveyard_group_parked", "Parked events waiting for a replay.", |g| g.parked),
            ("graveyard_group_replaying", "Parked events handed back and not yet settled again.", |g| {
                g.replaying
            }),
            ("graveyard_group_members", "Members connected to the group on this node.", |g| {
                g.members.len() as u64
            }),
        ];
        for (name, help, field) in series {
            let _ = writeln!(out, "# HELP {name} {help} By consumer group, on the node that holds it.");
            let _ = writeln!(out, "# TYPE {name} gauge");
            for group in &groups {
                let _ = writeln!(out, "{name}{{group=\"{}\"}} {}", label(&group.name), field(group));
            }
        }
        out
    }

    fn render_counters(&self) -> String {
        let mut out = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP graveyard_append_requests_total Append requests answered, by outcome.");
        let _ = writeln!(out, "# TYPE graveyard_append_requests_total counter");
        let _ = writeln!(out, "graveyard_append_requests_total{{outcome=\"ok\"}} {}", load(&self.append_ok));
        let _ = writeln!(
            out,
            "graveyard_append_requests_total{{outcome=\"error\"}} {}",
            load(&self.append_failed)
        );
        let _ = writeln!(out, "# HELP graveyard_appended_events_total Events in successful appends.");
        let _ = writeln!(out, "# TYPE graveyard_appended_events_total counter");
        let _ = writeln!(out, "graveyard_appended_events_total {}", load(&self.appended_events));

        let _ = writeln!(
            out,
            "# HELP graveyard_append_duration_seconds Time from receiving an append to answering it \
             (durable on success)."
        );
        let _ = writeln!(out, "# TYPE graveyard_append_duration_seconds histogram");
        let mut cumulative = 0;
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            cumulative += load(count);
            let _ = writeln!(out, "graveyard_append_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += load(&self.latency_buckets[LATENCY_BUCKETS.len()]);
        let _ = writeln!(out, "graveyard_append_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = load(&self.latency_sum_nanos) as f64 / 1e9;
        let _ = writeln!(out, "graveyard_append_duration_seconds_sum {sum}");
        let _ = writeln!(out, "graveyard_append_duration_seconds_count {cumulative}");

        let _ = writeln!(
            out,
            "# HELP graveyard_subscriptions_active Open subscriptions and consumer group members, by kind."
        );
        let _ = writeln!(out, "# TYPE graveyard_subscriptions_active gauge");
        for (kind, gauge) in SUBSCRIPTION_KINDS.iter().zip(&self.subscriptions) {
            let value = gauge.load(Ordering::Relaxed);
            let _ = writeln!(out, "graveyard_subscriptions_active{{kind=\"{kind}\"}} {value}");
        }

        let _ =
            writeln!(out, "# HELP graveyard_errors_total Requests answered with an error, by error code.");
        let _ = writeln!(out, "# TYPE graveyard_errors_total counter");
        for (code, count) in ErrorCode::ALL.iter().zip(&self.errors) {
            let _ = writeln!(out, "graveyard_errors_total{{code=\"{code}\"}} {}", load(count));
        }

        let _ = writeln!(
            out,
            "# HELP graveyard_forwards_total Requests forwarded to the node owning their stream."
        );
        let _ = writeln!(out, "# TYPE graveyard_forwards_total counter");
        let _ = writeln!(out, "graveyard_forwards_total {}", load(&self.forwards));

        let _ = writeln!(out, "# HELP graveyard_read_requests_total Read requests, by target.");
        let _ = writeln!(out, "# TYPE graveyard_read_requests_total counter");
        for (kind, count) in READ_KINDS.iter().zip(&self.reads) {
            let _ = writeln!(out, "graveyard_read_requests_total{{target=\"{kind}\"}} {}", load(count));
        }
        let _ = writeln!(out, "# HELP graveyard_read_events_total Events sent to readers, by target.");
        let _ = writeln!(out, "# TYPE graveyard_read_events_total counter");
        for (kind, count) in READ_KINDS.iter().zip(&self.read_events) {
            let _ = writeln!(out, "graveyard_read_events_total{{target=\"{kind}\"}} {}", load(count));
        }
        let _ = writeln!(
            out,
            "# HELP graveyard_delivered_events_total Events handed to subscribers and consumer group members, by kind."
        );
        let _ = writeln!(out, "# TYPE graveyard_delivered_events_total counter");
        for (kind, count) in SUBSCRIPTION_KINDS.iter().zip(&self.delivered) {
            let _ = writeln!(out, "graveyard_delivered_events_total{{kind=\"{kind}\"}} {}", load(count));
        }
        out
    }
}

/// A label value escaped for the text exposition format.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The disk space the files of `dir` take (blocks allocated, not the sparse length).
fn disk_usage(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                m.blocks() * 512
            }
            #[cfg(not(unix))]
            {
                m.len()
            }
        })
        .sum()
}

pub struct ActiveSubscription {
    metrics: Arc<Metrics>,
    kind: SubscriptionKind,
    /// The position after the last event delivered ($all subscriptions' lag).
    position: Arc<AtomicU64>,
}

impl ActiveSubscription {
    /// One event handed to the subscriber or member, at `position` in $all.
    pub fn delivered(&self, position: u64) {
        self.metrics.delivered[self.kind as usize].fetch_add(1, Ordering::Relaxed);
        self.position.store(position.saturating_add(1), Ordering::Relaxed);
    }
}

impl Drop for ActiveSubscription {
    fn drop(&mut self) {
        self.metrics.subscriptions[self.kind as usize].fetch_sub(1, Ordering::Relaxed);
    }
}
