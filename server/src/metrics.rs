//! Prometheus metrics on the Prometheus project's client library (`prometheus-client`): the
//! registry, the metric families and the OpenMetrics text exposition are its; the node counts
//! into them as requests are answered, and the store's own state (head, groups, size on disk)
//! is read into a second registry at each scrape. Served at `/metrics` by the node's HTTP stack
//! (http.rs), which also shows a summary in the console.
//!
//! The append latency histogram is the node's own type (lock-free atomics, readable for the
//! console's p99), encoded through the library's histogram encoder.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use graveyard::{Db, ErrorCode};
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};

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

impl SubscriptionKind {
    /// The kind's name, as in the `kind` label.
    pub fn label(self) -> &'static str {
        SUBSCRIPTION_KINDS[self as usize]
    }
}

/// What a read reads (the `target` label).
#[derive(Debug, Clone, Copy)]
pub enum ReadKind {
    Stream = 0,
    All = 1,
}

const READ_KINDS: [&str; 2] = ["stream", "all"];

/// One label: its name and value.
type Label = [(&'static str, &'static str); 1];

pub struct Metrics {
    registry: Registry,
    // The series, each taken from its family once, so the request path is one atomic add (a
    // family finds a series by hashing its labels under a lock).
    appends_ok: Counter,
    appends_failed: Counter,
    appended_events: Counter,
    append_duration: LatencyHistogram,
    subscriptions: [Gauge; SUBSCRIPTION_KINDS.len()],
    /// Indexed like `ErrorCode::ALL`.
    errors: Vec<Counter>,
    /// Requests forwarded to the member that owns their stream (or group, or schema).
    forwards: Counter,
    reads: [Counter; READ_KINDS.len()],
    read_events: [Counter; READ_KINDS.len()],
    /// Events handed to subscribers and group members, by subscription kind.
    delivered: [Counter; SUBSCRIPTION_KINDS.len()],
    /// The position after the last event each open $all subscription delivered (0: none yet),
    /// for their lag; pruned of the closed ones as it is read.
    all_positions: Mutex<Vec<Weak<AtomicU64>>>,
}

/// A family with one series per value of its one label, all created now (so each shows from
/// the start, at zero: a dashboard sees `code="INTERNAL"} 0` rather than nothing), and the
/// series in the order of `values`.
fn family<M: Default + Clone>(name: &'static str, values: &[&'static str]) -> (Family<Label, M>, Vec<M>) {
    let family = Family::<Label, M>::default();
    let series = values.iter().map(|value| family.get_or_create(&[(name, *value)]).clone()).collect();
    (family, series)
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let (appends, outcomes) = family::<Counter>("outcome", &["ok", "error"]);
        let codes: Vec<&'static str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        let (errors, error_series) = family::<Counter>("code", &codes);
        let (subscriptions, subscription_series) = family::<Gauge>("kind", &SUBSCRIPTION_KINDS);
        let (delivered, delivered_series) = family::<Counter>("kind", &SUBSCRIPTION_KINDS);
        let (reads, read_series) = family::<Counter>("target", &READ_KINDS);
        let (read_events, read_event_series) = family::<Counter>("target", &READ_KINDS);
        let metrics = Metrics {
            registry: Registry::default(),
            appends_ok: outcomes[0].clone(),
            appends_failed: outcomes[1].clone(),
            appended_events: Counter::default(),
            append_duration: LatencyHistogram::default(),
            subscriptions: subscription_series.try_into().expect("one gauge per kind"),
            errors: error_series,
            forwards: Counter::default(),
            reads: read_series.try_into().expect("one counter per target"),
            read_events: read_event_series.try_into().expect("one counter per target"),
            delivered: delivered_series.try_into().expect("one counter per kind"),
            all_positions: Mutex::default(),
        };
        registry.register("graveyard_append_requests", "Append requests answered, by outcome", appends);
        registry.register(
            "graveyard_appended_events",
            "Events in successful appends",
            metrics.appended_events.clone(),
        );
        registry.register_with_unit(
            "graveyard_append_duration",
            "Time from receiving an append to answering it (durable on success)",
            Unit::Seconds,
            metrics.append_duration.clone(),
        );
        registry.register(
            "graveyard_subscriptions_active",
            "Open subscriptions and consumer group members, by kind",
            subscriptions,
        );
        registry.register("graveyard_errors", "Requests answered with an error, by error code", errors);
        registry.register(
            "graveyard_forwards",
            "Requests forwarded to the member that owns their stream, holds their group or orders their schema",
            metrics.forwards.clone(),
        );
        registry.register("graveyard_read_requests", "Read requests, by target", reads);
        registry.register("graveyard_read_events", "Events sent to readers, by target", read_events);
        registry.register(
            "graveyard_delivered_events",
            "Events handed to subscribers and consumer group members, by kind",
            delivered,
        );
        Metrics { registry, ..metrics }
    }
}

impl Metrics {
    /// One append answered: `events` is how many it carried when it succeeded.
    pub fn record_append(&self, elapsed: Duration, events: Option<usize>) {
        match events {
            Some(n) => {
                self.appends_ok.inc();
                self.appended_events.inc_by(n as u64);
            }
            None => {
                self.appends_failed.inc();
            }
        }
        self.append_duration.observe(elapsed);
    }

    /// One read request: `events` read and sent so far when it ends (or the client leaves).
    pub fn record_read(&self, kind: ReadKind, events: u64) {
        self.reads[kind as usize].inc();
        self.read_events[kind as usize].inc_by(events);
    }

    pub fn record_forward(&self) {
        self.forwards.inc();
    }

    pub fn record_error(&self, code: ErrorCode) {
        let index = ErrorCode::ALL.iter().position(|c| *c == code).unwrap_or(ErrorCode::ALL.len() - 1);
        self.errors[index].inc();
    }

    /// Counts a subscription (or group member) as active until the guard drops.
    pub fn subscription_started(self: &Arc<Self>, kind: SubscriptionKind) -> ActiveSubscription {
        self.subscriptions[kind as usize].inc();
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
        let (_, append_p99_seconds, append_mean_seconds) = self.append_duration.summary();
        Summary {
            appends: self.appends_ok.get(),
            appends_failed: self.appends_failed.get(),
            appended_events: self.appended_events.get(),
            append_p99_seconds,
            append_mean_seconds,
            subscriptions: SUBSCRIPTION_KINDS
                .iter()
                .zip(&self.subscriptions)
                .map(|(kind, gauge)| ((*kind).to_owned(), gauge.get().max(0) as u64))
                .collect(),
            delivered_events: self.delivered.iter().map(Counter::get).sum(),
            read_events: self.read_events.iter().map(Counter::get).sum(),
            errors: self.errors.iter().map(Counter::get).sum(),
            forwards: self.forwards.get(),
        }
    }

    /// The metrics in the OpenMetrics text format, with the store's own state read now (`db`:
    /// the head, the groups of this node, the size on disk of `data`).
    pub fn render(&self, db: &Db, data: &Path) -> String {
        let mut scrape = Registry::default();
        let build = Family::<[(&'static str, &'static str); 1], Gauge>::default();
        build.get_or_create(&[("version", env!("CARGO_PKG_VERSION"))]).set(1);
        scrape.register("graveyard_build_info", "The node's build; always 1", build);
        if let Ok(stopped) = db.stopped() {
            let gauge = Gauge::<i64>::default();
            gauge.set(i64::from(stopped.is_some()));
            scrape.register(
                "graveyard_store_stopped",
                "1 while the node's own store takes no writes (its commit log cannot be written or is out of reach; the node's log says why), else 0",
                gauge,
            );
        }

        if let Ok(head) = db.head_position() {
            let gauge = Gauge::<i64>::default();
            gauge.set(head as i64);
            scrape.register("graveyard_head_position", "The position the next event of $all gets", gauge);
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
            let gauge = Gauge::<i64>::default();
            gauge.set(lag as i64);
            scrape.register(
                "graveyard_subscription_lag_events",
                "Events of $all not yet delivered to the furthest behind of the open $all subscriptions",
                gauge,
            );
        }
        let size = Gauge::<i64>::default();
        size.set(disk_usage(data) as i64);
        scrape.register("graveyard_store_size_bytes", "Disk space the store's files take", size);

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
                "Events committed to the group's target beyond its checkpoint",
                |g| g.lag,
            ),
            (
                "graveyard_group_in_flight",
                "Events delivered to the group's members and not yet settled",
                |g| g.in_flight,
            ),
            ("graveyard_group_parked", "Parked events waiting for a replay", |g| g.parked),
            ("graveyard_group_replaying", "Parked events handed back and not yet settled again", |g| {
                g.replaying
            }),
            ("graveyard_group_members", "Members connected to the group on this node", |g| {
                g.members.len() as u64
            }),
        ];
        for (name, help, field) in series {
            let family = Family::<[(&'static str, String); 1], Gauge>::default();
            for group in &groups {
                family.get_or_create(&[("group", group.name.clone())]).set(field(group) as i64);
            }
            scrape.register(name, format!("{help}. By consumer group, on the node that holds it"), family);
        }

        let mut out = String::new();
        let encoded = prometheus_client::encoding::text::encode_registry(&mut out, &self.registry)
            .and_then(|()| prometheus_client::encoding::text::encode_registry(&mut out, &scrape))
            .and_then(|()| prometheus_client::encoding::text::encode_eof(&mut out));
        if let Err(e) = encoded {
            tracing::error!(error = %e, "metrics: encoding failed");
        }
        out
    }
}

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

/// The append latency histogram: lock-free (one atomic add per bucket and sum on the append
/// path) and readable (the console's p99), which the library's histogram is not.
#[derive(Debug, Clone, Default)]
struct LatencyHistogram(Arc<LatencyCounts>);

#[derive(Debug, Default)]
struct LatencyCounts {
    /// Per bucket, not cumulative; the last slot is +Inf.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl LatencyHistogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS.iter().position(|&b| seconds <= b).unwrap_or(LATENCY_BUCKETS.len());
        self.0.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.0.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn counts(&self) -> Vec<u64> {
        self.0.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect()
    }

    /// (answered, the upper bound of the bucket holding the 99th percentile, the mean).
    fn summary(&self) -> (u64, Option<f64>, Option<f64>) {
        let counts = self.counts();
        let answered: u64 = counts.iter().sum();
        if answered == 0 {
            return (0, None, None);
        }
        let rank = answered.saturating_mul(99).div_ceil(100);
        let mut seen = 0;
        let index = counts.iter().position(|&n| {
            seen += n;
            seen >= rank
        });
        let p99 = index.and_then(|i| LATENCY_BUCKETS.get(i).copied());
        let mean = self.0.sum_nanos.load(Ordering::Relaxed) as f64 / answered as f64 / 1e9;
        (answered, p99, Some(mean))
    }
}

impl TypedMetric for LatencyHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let counts = self.counts();
        // The library's convention: per-bucket counts, the last bound f64::MAX for +Inf.
        let buckets: Vec<(f64, u64)> = LATENCY_BUCKETS
            .iter()
            .copied()
            .chain(std::iter::once(f64::MAX))
            .zip(counts.iter().copied())
            .collect();
        let sum = self.0.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, counts.iter().sum(), &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
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
        self.metrics.delivered[self.kind as usize].inc();
        self.position.store(position.saturating_add(1), Ordering::Relaxed);
    }
}

impl Drop for ActiveSubscription {
    fn drop(&mut self) {
        self.metrics.subscriptions[self.kind as usize].dec();
    }
}
