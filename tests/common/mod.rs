//! Test support: start the real `serverlab` binary on port 0 and clean up whatever happens.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;

use serverlab::experiment::server_process::{lines_of, text_of};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_serverlab");

/// A `serverlab serve` process. Dropping it kills it and reaps it, even when the test panicked.
pub struct ServerProcess {
    child: Child,
    pub addrs: Vec<SocketAddr>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
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

impl ServerProcess {
    /// Starts `serverlab serve ARGS`, adding `--listen 127.0.0.1:0` unless ARGS has a --listen, and waits for
    /// every `listening on` line.
    pub fn start(args: &[&str]) -> ServerProcess {
        let mut full: Vec<&str> = vec!["serve"];
        full.extend_from_slice(args);
        if !args.contains(&"--log-level") {
            full.extend_from_slice(&["--log-level", "debug"]);
        }
        let listeners = args.iter().filter(|a| **a == "--listen").count();
        if listeners == 0 {
            full.extend_from_slice(&["--listen", "127.0.0.1:0"]);
        }
        let mut command = Command::new(BIN);
        command.args(&full);
        ServerProcess::from_command_with(command, listeners.max(1))
    }

    /// Starts a `serverlab serve` command built by the caller (with one `--listen`), and waits for it to listen.
    pub fn from_command(command: Command) -> ServerProcess {
        ServerProcess::from_command_with(command, 1)
    }

    fn from_command_with(mut command: Command, listeners: usize) -> ServerProcess {
        let full = format!("{command:?}");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start serverlab");
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = text_of(child.stderr.take().unwrap());
        let mut server = ServerProcess {
            child,
            addrs: Vec::new(),
            stdout,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while server.addrs.len() < listeners {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match server.stdout.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => {
                    let _ = server.child.kill();
                    let err = server
                        .stderr
                        .recv_timeout(Duration::from_secs(5))
                        .unwrap_or_default();
                    panic!("server did not report listening ({full}); stderr:\n{err}");
                }
            };
            let rest = line
                .strip_prefix("listening on ")
                .unwrap_or_else(|| panic!("unexpected line {line:?}"));
            let addr = rest.split_whitespace().next().unwrap();
            server.addrs.push(addr.parse().unwrap());
        }
        server
    }

    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends a signal without waiting.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal).unwrap();
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
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "server still running after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // Read until the pipe closes: the reader thread may still be behind the process's last line.
        let mut stdout = Vec::new();
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(5)) {
            stdout.push(line);
        }
        let stderr = self
            .stderr
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default();
        Finished {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
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
pub const MODELS: [&str; 6] = ["sequential", "threads", "pool", "poll", "async", "prefork"];

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
