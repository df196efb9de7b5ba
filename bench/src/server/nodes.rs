//! Real `graveyard` nodes for the benchmark: the release binary, started as one node or as a
//! cluster on free loopback ports, each in a temporary directory, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use graveyard::client::{node_client, TransportOptions};
use graveyard::wire::v1 as pb;

use crate::stores::{bench_error, Result};

/// How long a node gets to answer Health. Generous: only a node that never answers fails.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// A port probed free can be taken by another process before the node binds it; then the
/// whole topology is started again on other ports, this many times at most.
const START_ATTEMPTS: usize = 5;

/// The `graveyard` binary: `--graveyard-bin`, or the one built next to this bench binary
/// (`cargo build --release -p graveyard-server` puts both in `target/release`).
pub fn locate_binary(given: Option<&Path>) -> Result<PathBuf> {
    let path = match given {
        Some(path) => path.to_path_buf(),
        None => {
            let exe = std::env::current_exe()?;
            exe.parent().ok_or_else(|| bench_error("the bench binary has no directory"))?.join("graveyard")
        }
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(bench_error(format!(
            "no graveyard binary at {}: build it with `cargo build --release -p graveyard-server` \
             (same target dir as the bench) or pass --graveyard-bin",
            path.display()
        )))
    }
}

/// One node process and its directory (data and log).
struct Node {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Node {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node.log")).unwrap_or_default()
    }

    /// Waits until the node answers Health; on failure, the reason and the tail of its log.
    async fn wait_ready(&mut self) -> std::result::Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut client = node_client(&self.url(), &TransportOptions::default()).map_err(|e| e.to_string())?;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Err(format!("exited with {status}: {}", tail(&self.log()))),
                Ok(None) => {}
                Err(e) => return Err(format!("cannot watch the process: {e}")),
            }
            if client.health(pb::HealthRequest {}).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("no answer after {STARTUP_TIMEOUT:?}: {}", tail(&self.log())));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Node {
    // SIGKILL, also when the bench fails or panics: the directory goes with the node, so there is
    // nothing a clean shutdown would keep.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last lines of a log, on one line, for an error message.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

/// One node, or several forming a cluster (members `n1`, `n2`, ...). Dropping it kills them.
pub struct Cluster {
    nodes: Vec<Node>,
}

impl Cluster {
    /// Starts `size` nodes with default settings (so default durability: fsync on every commit)
    /// plus `flags`, and waits until each answers Health. `named`: a single node gets
    /// `--node-id n1` too (a commit log on Cassandra is named after it).
    pub async fn start(
        binary: &Path,
        size: usize,
        flags: &[String],
        base: &Path,
        named: bool,
    ) -> Result<Cluster> {
        let mut last_error = String::new();
        for _attempt in 0..START_ATTEMPTS {
            let ports = free_ports(size)?;
            let members: Vec<String> =
                ports.iter().enumerate().map(|(i, port)| format!("n{}=127.0.0.1:{port}", i + 1)).collect();
            let mut nodes = Vec::with_capacity(size);
            for (i, &port) in ports.iter().enumerate() {
                let dir = tempfile::Builder::new().prefix("graveyard-bench-node-").tempdir_in(base)?;
                // A single node runs with no cluster flags at all: the shape most users start.
                let mut cluster_args = if size == 1 && named {
                    vec!["--node-id".to_owned(), "n1".to_owned()]
                } else if size == 1 {
                    Vec::new()
                } else {
                    vec![
                        "--node-id".to_owned(),
                        format!("n{}", i + 1),
                        "--members".to_owned(),
                        members.join(","),
                    ]
                };
                cluster_args.extend_from_slice(flags);
                let child = spawn(binary, dir.path(), port, &cluster_args)?;
                nodes.push(Node { child, port, dir });
            }
            let mut lost_port = false;
            for (i, node) in nodes.iter_mut().enumerate() {
                match node.wait_ready().await {
                    Ok(()) => {}
                    Err(log) if log.contains("cannot listen") => {
                        last_error = log;
                        lost_port = true;
                        break;
                    }
                    Err(log) => return Err(bench_error(format!("node n{} did not start: {log}", i + 1))),
                }
            }
            if !lost_port {
                return Ok(Cluster { nodes });
            }
        }
        Err(bench_error(format!("no free ports after {START_ATTEMPTS} attempts: {last_error}")))
    }

    /// Every node's URL, comma-separated, as `Client::connect` takes them.
    pub fn endpoints(&self) -> String {
        self.nodes.iter().map(Node::url).collect::<Vec<_>>().join(",")
    }

    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.child.id()).collect()
    }
}

fn spawn(binary: &Path, dir: &Path, port: u16, cluster_args: &[String]) -> Result<Child> {
    let log = std::fs::File::create(dir.join("node.log"))?;
    let data = dir.join("data");
    let mut command = Command::new(binary);
    command
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data")
        .arg(&data)
        .args(cluster_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // Settings from the caller's environment would change what is measured (a token, TLS,
    // another data directory): the node gets only the flags above.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GRAVEYARD_") {
            command.env_remove(key);
        }
    }
    command.spawn().map_err(|e| bench_error(format!("cannot start {}: {e}", binary.display())))
}

/// `count` distinct loopback ports that were free a moment ago.
pub fn free_ports(count: usize) -> Result<Vec<u16>> {
    // Holding every listener until all are picked keeps the ports distinct.
    let listeners: Vec<std::net::TcpListener> =
        (0..count).map(|_| std::net::TcpListener::bind("127.0.0.1:0")).collect::<std::io::Result<_>>()?;
    listeners.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}
