//! Test support: start the real `serverlab` binary on port 0 and clean up whatever happens.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serverlab::server::process;

pub const BIN: &str = env!("CARGO_BIN_EXE_serverlab");

/// A `serverlab serve` process: the library's own [`process::ServerProcess`], with test defaults (debug log,
/// port 0) and panics instead of errors. Dropping it kills it and reaps it, even when the test panicked.
pub struct ServerProcess {
    inner: process::ServerProcess,
    pub addrs: Vec<SocketAddr>,
}

/// What a stopped server left behind.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: String,
}

impl Finished {
    /// The JSON report the server prints as its last stdout line.
    pub fn report(&self) -> serde_json::Value {
        let line = self
            .stdout
            .iter()
            .rev()
            .find(|l| l.starts_with('{'))
            .expect("an exit report on stdout");
        serde_json::from_str(line).expect("the exit report is JSON")
    }
}

impl From<process::Finished> for Finished {
    fn from(f: process::Finished) -> Finished {
        Finished {
            status: f.status,
            stdout: f.stdout,
            stderr: f.stderr,
        }
    }
}

impl ServerProcess {
    /// Starts `serverlab serve ARGS`, adding `--log-level debug` and `--listen 127.0.0.1:0` unless ARGS has
    /// them, and waits for every `listening on` line.
    pub fn start(args: &[&str]) -> ServerProcess {
        let mut full: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        if !args.contains(&"--log-level") {
            full.extend(["--log-level".into(), "debug".into()]);
        }
        let started = process::ServerProcess::start(BIN.as_ref(), &full, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("serve {full:?}: {e}"));
        ServerProcess::from(started)
    }

    /// Starts a `serverlab serve` command built by the caller (with one `--listen`), and waits for it to listen.
    pub fn from_command(command: Command) -> ServerProcess {
        let started = process::ServerProcess::spawn(command, 1, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{e}"));
        ServerProcess::from(started)
    }

    fn from(inner: process::ServerProcess) -> ServerProcess {
        ServerProcess {
            addrs: inner.addrs.clone(),
            inner,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn pid(&self) -> i32 {
        self.inner.pid()
    }

    /// Sends a signal without waiting.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        self.inner.signal(signal);
    }

    /// Sends SIGTERM and waits (at most `limit`) for the process to exit.
    pub fn terminate_within(mut self, limit: Duration) -> Finished {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        self.wait_within(limit)
    }

    pub fn terminate(self) -> Finished {
        self.terminate_within(Duration::from_secs(15))
    }

    /// Waits for the process to exit on its own (at most `limit`).
    pub fn wait_within(&mut self, limit: Duration) -> Finished {
        match self.inner.wait(limit) {
            Some(finished) => finished.into(),
            None => panic!("server still running after {limit:?}"),
        }
    }
}

/// Runs `serverlab ARGS` to completion (for commands that should fail fast).
pub fn run_cli(args: &[&str]) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serverlab");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serverlab {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// Every model that `serve` knows.
pub const MODELS: [&str; 7] = [
    "sequential",
    "threads",
    "pool",
    "poll",
    "async",
    "prefork",
    "uring",
];

/// A client socket with a read timeout, so a broken server fails the test instead of hanging it.
pub fn connect(addr: SocketAddr) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Whether a command exists on PATH.
pub fn have(command: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {command}"))
        .output()
        .is_ok_and(|o| o.status.success())
}
