//! Starts the real `graveyard` binary on a free loopback port with its own data directory, and
//! connects the generated tonic client to it.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use graveyard::wire::v1 as pb;
use graveyard::wire::v1::graveyard_client::GraveyardClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Status};

pub const BINARY: &str = env!("CARGO_BIN_EXE_graveyard");
/// How long a node gets to come up. Generous: a loaded CI machine is slow, and only a node that
/// never answers fails the test.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A client carrying an optional bearer token on every request.
pub type Client = GraveyardClient<InterceptedService<Channel, Bearer>>;

#[derive(Clone)]
pub struct Bearer(Option<String>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(token) = &self.0 {
            request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        Ok(request)
    }
}

/// How to start a node.
#[derive(Default, Clone)]
pub struct NodeOptions {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// PEM of the CA the client trusts: the node serves TLS.
    pub tls_ca: Option<String>,
    /// The token the readiness probe sends.
    pub token: Option<String>,
}

pub struct Node {
    pub child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    options: NodeOptions,
}

/// A port that was free a moment ago. The node may still lose it to another process: `start`
/// then tries another one.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Node {
    pub async fn start() -> Node {
        Node::start_with(NodeOptions::default()).await
    }

    pub async fn start_with(options: NodeOptions) -> Node {
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let child = spawn(&options, dir.path(), port);
            let mut node = Node { child, port, dir, options: options.clone() };
            match node.wait_ready().await {
                Ok(()) => return node,
                // Another process took the port between our probe and the node's bind.
                Err(log) if log.contains("cannot listen") => continue,
                Err(log) => panic!("the node did not start:\n{log}"),
            }
        }
        panic!("no free port after 5 attempts");
    }

    /// Kills the process (SIGKILL: nothing is flushed or closed).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the node again, on the same port and data, after `kill` or an exit.
    pub async fn restart(&mut self) {
        self.kill();
        self.child = spawn(&self.options, self.dir.path(), self.port);
        if let Err(log) = self.wait_ready().await {
            panic!("the node did not restart:\n{log}");
        }
    }

    /// Starts the node again on the same port and data with other options (kept for later
    /// restarts); the node's log when it does not come up.
    pub async fn restart_with(&mut self, options: NodeOptions) -> Result<(), String> {
        self.kill();
        self.options = options;
        self.child = spawn(&self.options, self.dir.path(), self.port);
        self.wait_ready().await
    }

    /// The options the node runs with (a cluster member's include its id and members).
    pub fn options(&self) -> &NodeOptions {
        &self.options
    }

    /// `127.0.0.1:port`, as members list it.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node.log")).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        let scheme = if self.options.tls_ca.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub async fn channel(&self) -> Result<Channel, tonic::transport::Error> {
        let mut endpoint = Endpoint::from_shared(self.url()).unwrap();
        if let Some(ca) = &self.options.tls_ca {
            graveyard::client::install_crypto_provider();
            endpoint = endpoint.tls_config(
                ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)).domain_name("127.0.0.1"),
            )?;
        }
        endpoint.connect().await
    }

    /// A client sending the token the node was started with (if any).
    pub async fn client(&self) -> Client {
        self.client_with_token(self.options.token.clone()).await
    }

    pub async fn client_with_token(&self, token: Option<String>) -> Client {
        let channel = self.channel().await.expect("connect to the node");
        GraveyardClient::with_interceptor(channel, Bearer(token))
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX)
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("exited with {status}:\n{}", self.log()));
            }
            if let Ok(channel) = self.channel().await {
                let mut client =
                    GraveyardClient::with_interceptor(channel, Bearer(self.options.token.clone()));
                if client.health(pb::HealthRequest {}).await.is_ok() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!("no answer after {STARTUP_TIMEOUT:?}:\n{}", self.log()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit, without bounding the wait by a timing assertion: a node
    /// that never exits hangs the test, which the harness reports.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Real nodes forming one cluster on loopback ports: members `n1`, `n2`, ... in that order.
pub struct TestCluster {
    pub nodes: Vec<Node>,
}

impl TestCluster {
    pub async fn start(size: usize, options: NodeOptions) -> TestCluster {
        let ids: Vec<String> = (1..=size).map(|i| format!("n{i}")).collect();
        TestCluster::start_named(&ids, options).await
    }

    /// A cluster whose members have these ids, in this order.
    pub async fn start_named(ids: &[String], options: NodeOptions) -> TestCluster {
        let size = ids.len();
        'attempt: for _attempt in 0..5 {
            let mut ports = Vec::new();
            while ports.len() < size {
                let port = free_port();
                if !ports.contains(&port) {
                    ports.push(port);
                }
            }
            let members: Vec<String> =
                ids.iter().zip(&ports).map(|(id, port)| format!("{id}=127.0.0.1:{port}")).collect();
            let mut nodes = Vec::new();
            for (i, port) in ports.iter().enumerate() {
                let mut options = options.clone();
                options.args.extend([
                    "--node-id".into(),
                    ids[i].clone(),
                    "--members".into(),
                    members.join(","),
                ]);
                let dir = tempfile::tempdir().unwrap();
                let child = spawn(&options, dir.path(), *port);
                nodes.push(Node { child, port: *port, dir, options });
            }
            for node in &mut nodes {
                match node.wait_ready().await {
                    Ok(()) => {}
                    Err(log) if log.contains("cannot listen") => continue 'attempt,
                    Err(log) => panic!("a node of the cluster did not start:\n{log}"),
                }
            }
            return TestCluster { nodes };
        }
        panic!("no free ports after 5 attempts");
    }

    /// Every node's URL, comma-separated, as `Client::connect` takes them.
    pub fn endpoints(&self) -> String {
        self.nodes.iter().map(Node::url).collect::<Vec<_>>().join(",")
    }

    /// The node with member id `id` (`n1`, ...).
    pub fn node(&mut self, id: &str) -> &mut Node {
        let index: usize = id.strip_prefix('n').and_then(|n| n.parse().ok()).expect("an id n<number>");
        &mut self.nodes[index - 1]
    }
}

fn spawn(options: &NodeOptions, dir: &Path, port: u16) -> Child {
    let log = std::fs::File::create(dir.join("node.log")).unwrap();
    let mut command = Command::new(BINARY);
    command
        .arg("serve")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--data", dir.join("data").to_str().unwrap()])
        .args(&options.args)
        .env_remove("GRAVEYARD_LISTEN")
        .env_remove("GRAVEYARD_DATA")
        .env("GRAVEYARD_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // Traces only where a test asks for them, whatever the shell running the tests exports.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("OTEL_") || key.starts_with("GRAVEYARD_OTLP_") {
            command.env_remove(&*key);
        }
    }
    for (key, value) in &options.env {
        command.env(key, value);
    }
    command.spawn().expect("start the graveyard binary")
}

/// Runs the binary to completion (for settings that must be refused).
pub fn run_binary(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> std::process::Output {
    let mut command = Command::new(BINARY);
    command.args(args).current_dir(cwd).stdin(Stdio::null());
    for var in [
        "GRAVEYARD_LISTEN",
        "GRAVEYARD_DATA",
        "GRAVEYARD_NODE_ID",
        "GRAVEYARD_MEMBERS",
        "GRAVEYARD_TLS_CERT",
        "GRAVEYARD_TLS_KEY",
        "GRAVEYARD_TOKEN_FILE",
        "GRAVEYARD_MASTER_KEY_FILE",
        "GRAVEYARD_METRICS_LISTEN",
        "GRAVEYARD_REFLECTION",
        "GRAVEYARD_ENDPOINTS",
        "GRAVEYARD_CA_FILE",
        "GRAVEYARD_OTLP_ENDPOINT",
        "GRAVEYARD_OTLP_CA_FILE",
        "GRAVEYARD_OTLP_SAMPLE_RATIO",
    ] {
        command.env_remove(var);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run the graveyard binary")
}

/// A self-signed certificate for `localhost` and 127.0.0.1, its PEM and key written into `dir`:
/// (the certificate file, the key file, the generated certificate).
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf, rcgen::CertifiedKey<rcgen::KeyPair>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert, key, certified)
}

// ---- request helpers ------------------------------------------------------------------------

pub fn json_event(event_type: &str, json: &str) -> pb::EventData {
    pb::EventData { r#type: event_type.into(), data: json.as_bytes().to_vec(), ..Default::default() }
}

pub fn exact(revision: u64) -> Option<pb::ExpectedVersion> {
    Some(pb::ExpectedVersion { kind: pb::expected_version::Kind::Exact.into(), revision })
}

pub fn expected(kind: pb::expected_version::Kind) -> Option<pb::ExpectedVersion> {
    Some(pb::ExpectedVersion { kind: kind.into(), revision: 0 })
}

pub async fn append(
    client: &mut Client,
    stream: &str,
    expected: Option<pb::ExpectedVersion>,
    events: Vec<pb::EventData>,
) -> Result<pb::AppendResult, Status> {
    let request = pb::AppendRequest { stream: stream.into(), expected, events };
    Ok(client.append(request).await?.into_inner().result.expect("an append answers with its result"))
}

/// Every event of a streaming read.
pub async fn collect(
    mut stream: tonic::Streaming<pb::ReadResponse>,
) -> Result<Vec<pb::RecordedEvent>, Status> {
    let mut events = Vec::new();
    while let Some(batch) = stream.message().await? {
        events.extend(batch.events);
    }
    Ok(events)
}

pub async fn read_stream(client: &mut Client, stream: &str) -> Result<Vec<pb::RecordedEvent>, Status> {
    let request = pb::ReadStreamRequest { stream: stream.into(), ..Default::default() };
    collect(client.read_stream(request).await?.into_inner()).await
}

/// The error detail of a status, asserting its code.
pub fn detail(status: &Status, code: &str) -> pb::ErrorDetail {
    let detail = graveyard::wire::status_detail(status)
        .unwrap_or_else(|| panic!("status without an error detail: {status:?}"));
    assert_eq!(detail.code, code, "unexpected error: {status:?}");
    detail
}

/// The options of cluster members keeping their commit logs in the Cassandra at `contact`, in
/// `keyspace` (`--storage cql`; each member's `--node-id` names its log).
pub fn on_cassandra(contact: &str, keyspace: &str) -> NodeOptions {
    let args = ["--storage", "cql", "--cql-contact-points", contact, "--cql-keyspace", keyspace];
    NodeOptions { args: args.map(String::from).to_vec(), ..Default::default() }
}
