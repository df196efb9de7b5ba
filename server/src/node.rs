//! A node's life: start (every setting checked before anything is served), serve, and shut down
//! gracefully on SIGTERM or Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use graveyard::client::TransportOptions;
use graveyard::wire::v1::graveyard_server::GraveyardServer;
use graveyard::{Db, Options};
use tokio::sync::watch;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::auth::BearerAuth;
use crate::cluster::Cluster;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::service::{catch_up_schemas, GraveyardService};

/// Largest request accepted. An append may carry several events of the largest size; an event
/// over that size must reach the core to be refused with INVALID_ARGUMENT and its typed detail,
/// rather than by the transport with a bare RESOURCE_EXHAUSTED.
fn max_request_bytes(max_event_size: usize) -> usize {
    max_event_size.saturating_mul(4).saturating_add(1024 * 1024)
}
/// How long requests in flight get to finish once shutdown starts. Below the 30 s most process
/// supervisors wait between SIGTERM and SIGKILL, so the store is always closed cleanly.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// Pings on idle connections, so a subscriber that vanished without closing is noticed.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs the node until a shutdown signal, then closes the store. The error is for people: it
/// names the setting or the step that failed.
pub async fn run(settings: Settings) -> Result<(), String> {
    let mut server = Server::builder()
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT));
    if let Some(tls) = &settings.tls {
        let identity = Identity::from_pem(&tls.cert_pem, &tls.key_pem);
        server = server.tls_config(ServerTlsConfig::new().identity(identity)).map_err(|e| {
            format!("{}: not a usable TLS certificate chain and key: {}", tls.names, chain(&e))
        })?;
    }
    let incoming = TcpIncoming::bind(settings.listen)
        .map_err(|e| format!("cannot listen on {} (--listen / GRAVEYARD_LISTEN): {e}", settings.listen))?
        .with_nodelay(Some(true));
    let metrics_listener = match settings.metrics_listen {
        Some(address) => Some(tokio::net::TcpListener::bind(address).await.map_err(|e| {
            format!("cannot listen on {address} (--metrics-listen / GRAVEYARD_METRICS_LISTEN): {e}")
        })?),
        None => None,
    };
    let admin_listener = match settings.admin_listen {
        Some(address) => Some(tokio::net::TcpListener::bind(address).await.map_err(|e| {
            format!("cannot listen on {address} (--admin-listen / GRAVEYARD_ADMIN_LISTEN): {e}")
        })?),
        None => None,
    };
    let signal = shutdown_signal()?;
    let mut options = Options::new(&settings.data)
        .max_event_size(settings.max_event_size)
        .max_json_depth(settings.max_json_depth)
        .durability(settings.durability);
    if settings.durability == graveyard::Durability::NoFsyncUnsafe {
        tracing::warn!(
            "--durability no-fsync-unsafe: appends are acknowledged before they are on disk; a crash of \
             the machine can lose the last ones"
        );
    }
    if let Some(master_key) = &settings.master_key {
        options = options.master_key(master_key.key());
    }
    // With the logs in Cassandra, a member's log is served by another while it is down.
    let failover = match &settings.cql {
        Some(cql) if settings.ring.members().len() > 1 => Some(Arc::new(crate::failover::Failover::new(
            settings.node_id.clone(),
            settings.ring.members().iter().map(|m| m.id.clone()).collect(),
            settings.data.clone(),
            cql.clone(),
            settings.max_event_size,
            settings.max_json_depth,
        ))),
        _ => None,
    };
    if let Some(cql) = settings.cql.clone() {
        let contact = cql.contact_points.join(",");
        let source = tokio::task::spawn_blocking(move || graveyard_cql::CqlLogSource::connect(cql))
            .await
            .map_err(|e| format!("connecting to Cassandra: {e}"))?
            .map_err(|e| format!("cannot use Cassandra at {contact} (--storage cql): {e}"))?;
        options = options.commit_log(source);
    }
    let db = tokio::task::spawn_blocking(move || Db::open_with(options))
        .await
        .map_err(|e| format!("opening the store: {e}"))?
        .map_err(|e| {
            format!("cannot open the store in '{}' (--data / GRAVEYARD_DATA): {e}", settings.data.display())
        })?;

    let metrics = Arc::new(Metrics::default());
    let (drain, draining) = watch::channel(false);
    if let Some(listener) = metrics_listener {
        let mut stop = draining.clone();
        tokio::spawn(crate::http::serve_metrics(
            listener,
            metrics.clone(),
            db.clone(),
            settings.data.clone(),
            async move {
                let _ = stop.wait_for(|&d| d).await;
            },
        ));
    }
    if let Some(listener) = admin_listener {
        // The API reads through a client of this node, as the command line does, so streams and
        // groups are found on whichever member holds them.
        let this = settings.ring.member(&settings.node_id).map(|m| m.endpoint.clone());
        let endpoint = this.unwrap_or_else(|| settings.listen.to_string());
        let admin = crate::http::Admin {
            store: tokio::sync::OnceCell::new(),
            endpoint,
            transport: peer_transport(&settings),
            token: settings.token.clone(),
            metrics: metrics.clone(),
            db: db.clone(),
            node_id: settings.node_id.clone(),
            ring: settings.ring.clone(),
            draining: draining.clone(),
        };
        let tls = match &settings.tls {
            Some(tls) => Some(Arc::new(
                crate::http::tls_config(&tls.cert_pem, &tls.key_pem)
                    .map_err(|e| format!("{} (for --admin-listen): {e}", tls.names))?,
            )),
            None => None,
        };
        let mut stop = draining.clone();
        tokio::spawn(crate::http::serve_admin(listener, Arc::new(admin), tls, async move {
            let _ = stop.wait_for(|&d| d).await;
        }));
    }
    let cluster = Arc::new(Cluster::new(
        settings.node_id.clone(),
        settings.ring.clone(),
        db.clone(),
        failover.clone(),
        peer_transport(&settings),
        metrics.clone(),
    )?);
    if let Some(failover) = &failover {
        tokio::spawn(failover.clone().run(cluster.clone(), db.clone(), draining.clone()));
    }
    if cluster.ring.members().len() > 1 {
        tokio::spawn(catch_up_schemas(db.clone(), cluster.clone(), draining.clone()));
    }
    let service = GraveyardServer::new(GraveyardService::new(
        db.clone(),
        cluster,
        metrics.clone(),
        draining.clone(),
        settings.tls.is_some(),
    ))
    .max_decoding_message_size(max_request_bytes(settings.max_event_size))
    .max_encoding_message_size(graveyard::client::MAX_MESSAGE_BYTES);
    let service = InterceptedService::new(service, BearerAuth::new(settings.token.clone(), metrics.clone()));

    // The standard health service (grpc-health-probe, Kubernetes gRPC probes): SERVING for the
    // node ("") and the GraveyardDB service until a drain starts, NOT_SERVING from then on. It
    // needs no token, as probes carry none; it tells nothing but that.
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<GraveyardServer<GraveyardService>>().await;
    health.set_service_status("", tonic_health::ServingStatus::Serving).await;
    {
        let mut draining = draining.clone();
        tokio::spawn(async move {
            let _ = draining.wait_for(|&d| d).await;
            health.set_not_serving::<GraveyardServer<GraveyardService>>().await;
            health.set_service_status("", tonic_health::ServingStatus::NotServing).await;
        });
    }
    // Server reflection (grpcurl, Postman, grpcui), v1 and v1alpha, behind the token like the
    // API it describes.
    let reflection = if settings.reflection {
        let builder = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(graveyard::wire::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let v1 = builder().build_v1().map_err(|e| format!("building gRPC reflection: {e}"))?;
        let v1alpha = builder().build_v1alpha().map_err(|e| format!("building gRPC reflection: {e}"))?;
        let auth = BearerAuth::new(settings.token.clone(), metrics.clone());
        Some((InterceptedService::new(v1, auth.clone()), InterceptedService::new(v1alpha, auth)))
    } else {
        None
    };

    if !settings.listen.ip().is_loopback() && settings.tls.is_none() {
        tracing::warn!(
            listen = %settings.listen,
            "serving without TLS on a non-loopback address: requests{} travel in clear",
            if settings.token.is_some() { " and the token" } else { "" }
        );
    }
    tracing::info!(
        listen = %settings.listen,
        data = %settings.data.display(),
        node_id = %settings.node_id,
        members = ?settings.ring.members().iter().map(|m| format!("{}={}", m.id, m.endpoint)).collect::<Vec<_>>(),
        tls = settings.tls.is_some(),
        auth = settings.token.is_some(),
        metrics = ?settings.metrics_listen,
        admin = ?settings.admin_listen,
        reflection = settings.reflection,
        durability = ?settings.durability,
        // Whether, not where: a collector's URL may carry credentials.
        traces = settings.otlp.is_some(),
        version = env!("CARGO_PKG_VERSION"),
        "graveyard node serving"
    );

    tokio::spawn(async move {
        let signal = signal.await;
        tracing::info!(
            signal,
            grace_seconds = SHUTDOWN_GRACE.as_secs(),
            "shutting down: draining requests in flight"
        );
        let _ = drain.send(true);
    });

    let mut stop_accepting = draining.clone();
    let serve = server
        .layer(crate::wire_errors::layer(metrics.clone()))
        .add_service(service)
        .add_service(health_service)
        .add_optional_service(reflection.as_ref().map(|(v1, _)| v1.clone()))
        .add_optional_service(reflection.map(|(_, v1alpha)| v1alpha))
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = stop_accepting.wait_for(|&d| d).await;
        });
    let mut grace = draining.clone();
    let served = tokio::select! {
        served = serve => served.map_err(|e| format!("serving gRPC: {}", chain(&e))),
        () = async move {
            let _ = grace.wait_for(|&d| d).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("requests still in flight after {SHUTDOWN_GRACE:?}: closing their connections");
            Ok(())
        }
    };

    // Waits for the calls still inside the store (an append being committed finishes and is
    // durable), then closes it: the next open finds it clean.
    let closing = db.clone();
    tokio::task::spawn_blocking(move || {
        if let Some(failover) = failover {
            failover.close();
        }
        closing.close()
    })
    .await
    .map_err(|e| format!("closing the store: {e}"))?;
    tracing::info!("store closed");
    served
}

/// How this node reaches the other members: with its own token (one token per cluster), over
/// TLS when it serves TLS, trusting `--peer-ca` (by default its own certificate chain).
fn peer_transport(settings: &Settings) -> TransportOptions {
    TransportOptions {
        token: settings.token.as_ref().map(|t| String::from_utf8_lossy(t.as_bytes()).into_owned()),
        ca_certificate_pem: settings.peer_ca.clone(),
        // A forwarded request fails fast when its owner is down: a member on a reachable host
        // answers a connection within milliseconds; one that does not in 1 s counts as down.
        connect_timeout: Duration::from_secs(1),
        request_timeout: None,
    }
}

/// Waits for the signal that asks the node to stop and returns its name. The handlers are
/// installed before this returns its future, so a signal sent once the node is serving is never
/// taken by the default action (which would kill the process without closing the store).
fn shutdown_signal() -> Result<impl std::future::Future<Output = &'static str>, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let install = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| format!("cannot install the {name} handler: {e}"))
        };
        let mut interrupt = install(SignalKind::interrupt(), "SIGINT")?;
        let mut terminate = install(SignalKind::terminate(), "SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            "Ctrl-C"
        })
    }
}

/// An error with its sources: transport errors say little at the top.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
