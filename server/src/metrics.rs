//! Prometheus metrics: counters kept in atomics, rendered in the text exposition format by a
//! minimal HTTP/1.1 handler on their own port. A handful of series does not justify a metrics
//! framework and an HTTP stack as dependencies.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use graveyard::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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
        ActiveSubscription { metrics: self.clone(), kind }
    }

    pub fn render(&self) -> String {
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
        out
    }
}

pub struct ActiveSubscription {
    metrics: Arc<Metrics>,
    kind: SubscriptionKind,
}

impl Drop for ActiveSubscription {
    fn drop(&mut self) {
        self.metrics.subscriptions[self.kind as usize].fetch_sub(1, Ordering::Relaxed);
    }
}

/// Largest request head read; a scraper's is a few hundred bytes.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// A connection that has not sent its request head by then is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `GET /metrics` until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let (socket, peer) = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics: accept failed");
                    continue;
                }
            },
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = tokio::time::timeout(REQUEST_TIMEOUT, answer(socket, &metrics)).await {
                tracing::debug!(%peer, error = %e, "metrics: request timed out");
            }
        });
    }
}

async fn answer(mut socket: TcpStream, metrics: &Metrics) {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
        if head.len() > MAX_REQUEST_HEAD {
            return respond(&mut socket, "431 Request Header Fields Too Large", "text/plain", "").await;
        }
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    match (method, path) {
        (b"GET", b"/metrics") => {
            let body = metrics.render();
            respond(&mut socket, "200 OK", "text/plain; version=0.0.4; charset=utf-8", &body).await
        }
        (b"GET", _) => respond(&mut socket, "404 Not Found", "text/plain", "try /metrics\n").await,
        _ => respond(&mut socket, "405 Method Not Allowed", "text/plain", "").await,
    }
}

async fn respond(socket: &mut TcpStream, status: &str, content_type: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}
