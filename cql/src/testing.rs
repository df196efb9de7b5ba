//! A real Apache Cassandra for tests and benchmarks (feature `testing`): one node, or a ring of
//! several on 127.0.0.1, 127.0.0.2, ..., started by scripts/cassandra.sh in a directory of its
//! own, on free ports of loopback, stopped when dropped (also when a test panics).

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Cassandra {
    dir: tempfile::TempDir,
    port: u16,
    nodes: u8,
}

/// scripts/cassandra.sh of the source tree this crate was built from.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/cassandra.sh")
}

fn run_script(args: &[&str]) -> Result<(), String> {
    run_script_with(args, &[])
}

fn run_script_with(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let status = Command::new("bash")
        .arg(script())
        .args(args)
        .envs(env.iter().copied())
        .status()
        .map_err(|e| format!("running scripts/cassandra.sh: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("scripts/cassandra.sh {} failed ({status}); it said why above", args.join(" ")))
    }
}

/// A port free on the address of every node, with the ones the script puts beside it (storage,
/// and JMX on 127.0.0.1 at port + 10 + node) free as well.
fn free_ports(nodes: u8) -> u16 {
    loop {
        let port = fastrand::u16(20_000..50_000);
        let free = (1..=nodes).all(|node| {
            [(node, port), (node, port + 1), (1, port + 10 + u16::from(node))]
                .iter()
                .all(|(n, p)| std::net::TcpListener::bind((format!("127.0.0.{n}"), *p)).is_ok())
        });
        if free {
            return port;
        }
    }
}

impl Cassandra {
    /// Starts one node (fetching Cassandra's jars first if the cache lacks them) and returns
    /// once it answers CQL.
    pub fn start() -> Cassandra {
        Cassandra::start_ring(1)
    }

    /// Starts `nodes` nodes (1 to 9) on 127.0.0.1 to 127.0.0.`nodes`, one after another, and
    /// returns once each answers CQL.
    pub fn start_ring(nodes: u8) -> Cassandra {
        Cassandra::try_start_ring_in(&std::env::temp_dir(), nodes).unwrap_or_else(|e| panic!("{e}"))
    }

    /// One node that takes clients over TLS only, with the private key and certificate chain
    /// in the PEM file `key_and_chain`.
    pub fn start_tls(key_and_chain: &Path) -> Cassandra {
        let pem = key_and_chain.to_str().expect("a UTF-8 path");
        Cassandra::start_with(&std::env::temp_dir(), 1, &[("CASSANDRA_TLS_PEM", pem)])
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `start_ring` with the nodes' directory under `base`; the error says why it could not.
    pub fn try_start_ring_in(base: &Path, nodes: u8) -> Result<Cassandra, String> {
        Cassandra::start_with(base, nodes, &[])
    }

    fn start_with(base: &Path, nodes: u8, env: &[(&str, &str)]) -> Result<Cassandra, String> {
        if !(1..=9).contains(&nodes) {
            return Err(format!("scripts/cassandra.sh runs 1 to 9 nodes, not {nodes}"));
        }
        let dir = tempfile::Builder::new()
            .prefix("graveyard-cassandra-")
            .tempdir_in(base)
            .map_err(|e| format!("a directory for Cassandra under {}: {e}", base.display()))?;
        let port = free_ports(nodes);
        let cassandra = Cassandra { dir, port, nodes };
        // On failure the drop stops the nodes that did start.
        run_script_with(&["start", cassandra.dir_str(), &nodes.to_string(), &port.to_string()], env)?;
        Ok(cassandra)
    }

    /// The nodes' directory (what `scripts/cassandra.sh stop` takes).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn dir_str(&self) -> &str {
        self.dir.path().to_str().expect("a UTF-8 temporary path")
    }

    /// `127.0.0.1:port`: the CQL of the first node.
    pub fn contact(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The CQL address of every node.
    pub fn contacts(&self) -> Vec<String> {
        (1..=self.nodes).map(|node| format!("127.0.0.{node}:{}", self.port)).collect()
    }

    /// The process id of every running node (what a benchmark charges to the store's CPU).
    pub fn pids(&self) -> Vec<u32> {
        (1..=self.nodes)
            .filter_map(|node| std::fs::read_to_string(self.dir.path().join(format!("node{node}/pid"))).ok())
            .filter_map(|pid| pid.trim().parse().ok())
            .collect()
    }

    /// SIGKILL of the first node: nothing flushed, the commit log as it was last synced.
    pub fn kill(&self) {
        self.kill_node(1);
    }

    /// Starts the first node again on its data; returns once it answers CQL.
    pub fn restart(&self) {
        self.restart_node(1);
    }

    /// SIGKILL of node `node` (1-based).
    pub fn kill_node(&self, node: u8) {
        assert!((1..=self.nodes).contains(&node), "no node {node}");
        run_script(&["kill", self.dir_str(), &node.to_string()]).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Starts node `node` (1-based) again on its data; returns once it answers CQL.
    pub fn restart_node(&self, node: u8) {
        assert!((1..=self.nodes).contains(&node), "no node {node}");
        run_script(&["restart", self.dir_str(), &node.to_string()]).unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for Cassandra {
    fn drop(&mut self) {
        let _ = run_script(&["stop", self.dir_str()]);
    }
}

/// Appends one event to `stream` of `db` until the store takes writes again (a store stopped by
/// its log out of reach resumes by itself once the log is back), for up to 90 s; panics with the
/// last error after, or at once with an error other than UNAVAILABLE.
pub fn append_until_resumed(db: &graveyard::Db, stream: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let event = graveyard::EventData::json_bytes("Resumed", b"{}".to_vec());
        match db.append(stream, graveyard::ExpectedVersion::Any, vec![event]) {
            Ok(_) => return,
            Err(e)
                if e.code() == graveyard::ErrorCode::Unavailable && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(500))
            }
            Err(e) => panic!("the store did not resume once its log was back: {e}"),
        }
    }
}
