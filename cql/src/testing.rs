//! A real Apache Cassandra for tests (feature `testing`): one node started by
//! scripts/cassandra.sh in a directory of its own, on free ports of loopback, stopped when
//! dropped (also when the test panics).

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Cassandra {
    dir: tempfile::TempDir,
    port: u16,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/cassandra.sh")
}

fn run_script(args: &[&str]) {
    let status =
        Command::new("bash").arg(script()).args(args).status().expect("running scripts/cassandra.sh");
    assert!(status.success(), "scripts/cassandra.sh {args:?} failed");
}

/// A port with the ones the script puts beside it (storage, JMX) free as well.
fn free_ports() -> u16 {
    loop {
        let port = fastrand::u16(20_000..50_000);
        let free = [port, port + 1, port + 11]
            .iter()
            .all(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok());
        if free {
            return port;
        }
    }
}

impl Cassandra {
    /// Starts one node (fetching Cassandra's jars first if the cache lacks them) and returns
    /// once it answers CQL.
    pub fn start() -> Cassandra {
        let dir = tempfile::tempdir().expect("a directory for Cassandra");
        let port = free_ports();
        run_script(&["start", dir.path().to_str().expect("a UTF-8 path"), "1", &port.to_string()]);
        Cassandra { dir, port }
    }

    /// `127.0.0.1:port` of its CQL.
    pub fn contact(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL: nothing flushed, the commit log as it was last synced.
    pub fn kill(&self) {
        run_script(&["kill", self.dir.path().to_str().expect("a UTF-8 path"), "1"]);
    }

    /// Starts the node again on its data; returns once it answers CQL.
    pub fn restart(&self) {
        run_script(&["restart", self.dir.path().to_str().expect("a UTF-8 path"), "1"]);
    }
}

impl Drop for Cassandra {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["stop", self.dir.path().to_str().unwrap_or_default()])
            .status();
    }
}
