//! An executor in another process: an SDK's own, started with `sh -c "<command>"`, one JSON
//! request per line on its stdin, one JSON answer per line on its stdout (conformance/README.md,
//! "Running the scenarios in an SDK"). Its stderr is passed through, for its logs.
//!
//! Every answer has a deadline, so an executor that hangs fails its scenario instead of the
//! run; an executor that died, hung or wrote something else than a JSON line is stopped, and
//! started again for the next scenario.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::runner::{display, Executor, Res};

/// The longest wait for any answer, on top of a `next`'s own timeout: a loaded machine, a
/// cluster executor starting nodes at `begin`, a JVM warming up.
const SLACK: Duration = Duration::from_secs(120);

pub struct ProcessExecutor {
    command: String,
    /// Prints every request and answer on stderr.
    trace: bool,
    running: Option<Running>,
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<std::io::Result<String>>,
}

impl ProcessExecutor {
    pub fn new(command: &str, trace: bool) -> ProcessExecutor {
        ProcessExecutor { command: command.to_owned(), trace, running: None }
    }

    fn start(&mut self) -> Res<&mut Running> {
        let mut command = if cfg!(windows) {
            let mut c = Command::new("cmd");
            c.args(["/C", &self.command]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &self.command]);
            c
        };
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", self.command))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (send, lines) = mpsc::channel();
        // A thread reads, so that a wait for an answer can give up.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let failed = line.is_err();
                if send.send(line).is_err() || failed {
                    return;
                }
            }
        });
        Ok(self.running.insert(Running { child, stdin, lines }))
    }

    /// Stops the executor: EOF on its stdin asks it to exit; it is killed if it does not.
    fn stop(&mut self) {
        if let Some(Running { mut child, stdin, .. }) = self.running.take() {
            drop(stdin);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn broke(&mut self, why: String) -> Res<Value> {
        self.broke_after(why, Duration::ZERO)
    }

    /// [`Self::broke`] for an executor whose pipes closed: it is most likely exiting, and its
    /// status says why better than the closed pipe does, so it gets `grace` to finish.
    fn broke_after(&mut self, why: String, grace: Duration) -> Res<Value> {
        let deadline = std::time::Instant::now() + grace;
        let status = loop {
            let status = self.running.as_mut().and_then(|r| r.child.try_wait().ok().flatten());
            if status.is_some() || std::time::Instant::now() >= deadline {
                break status;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if let Some(running) = self.running.as_mut() {
            let _ = running.child.kill();
        }
        self.stop();
        Err(match status {
            Some(status) => format!("{why} (the executor exited: {status})"),
            None => why,
        })
    }
}

/// How long an executor whose pipes closed gets to exit, so that its status is reported.
const EXIT_GRACE: Duration = Duration::from_secs(2);

impl Executor for ProcessExecutor {
    fn call(&mut self, request: &Value) -> Res<Value> {
        let timeout =
            SLACK + Duration::from_millis(request.get("timeout_ms").and_then(Value::as_u64).unwrap_or(0));
        let trace = self.trace;
        if trace {
            eprintln!("-> {request}");
        }
        let running = match self.running.as_mut() {
            Some(running) => running,
            None => self.start()?,
        };
        let mut line = request.to_string();
        line.push('\n');
        if let Err(e) = running.stdin.write_all(line.as_bytes()).and_then(|()| running.stdin.flush()) {
            return self.broke_after(format!("cannot send the request: {e}"), EXIT_GRACE);
        }
        match running.lines.recv_timeout(timeout) {
            Ok(Ok(line)) => match serde_json::from_str::<Value>(&line) {
                Ok(answer) => {
                    if trace {
                        eprintln!("<- {}", display(&answer));
                    }
                    Ok(answer)
                }
                Err(e) => self.broke(format!("it wrote a line that is not JSON ({e}): {line:?}")),
            },
            Ok(Err(e)) => self.broke(format!("cannot read its answer: {e}")),
            Err(RecvTimeoutError::Timeout) => self.broke(format!("no answer within {timeout:?}")),
            Err(RecvTimeoutError::Disconnected) => {
                self.broke_after("its stdout closed before it answered".to_owned(), EXIT_GRACE)
            }
        }
    }
}

impl Drop for ProcessExecutor {
    fn drop(&mut self) {
        self.stop();
    }
}
