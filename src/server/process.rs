//! A `serverlab serve` child process: started, told to stop, waited for, and read.
//!
//! The experiment runs every server as its own process, so its CPU, memory and threads can be measured apart from
//! the load generator's and a misbehaving model cannot disturb the measurement; the integration tests start the
//! real binary the same way. Both use this one type. The server listens on port 0 and its addresses come from its
//! `listening on` lines. It is asked to die with its parent (`PR_SET_PDEATHSIG`) and runs in a process group of
//! its own, so a killed experiment or a panicking test leaves no server behind, and a Ctrl-C at the terminal
//! reaches the experiment, which stops the server when the cell's load is over.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::ExitReport;
use crate::confine::Confinement;

/// A running `serverlab serve` child. Dropping it kills it and reaps it.
pub struct ServerProcess {
    child: Child,
    /// The bound addresses, in `--listen` order.
    pub addrs: Vec<SocketAddr>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

/// What a server that has exited left behind.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: String,
}

impl Finished {
    /// The exit report: the JSON line the server prints last on stdout.
    pub fn report(&self) -> Result<ExitReport, String> {
        let line = self.report_line()?;
        serde_json::from_str(line).map_err(|e| format!("unreadable exit report: {e}"))
    }

    /// The exit report as it was printed.
    pub fn report_line(&self) -> Result<&str, String> {
        self.stdout
            .iter()
            .rev()
            .find(|l| l.starts_with('{'))
            .map(String::as_str)
            .ok_or_else(|| {
                format!(
                    "server printed no exit report; stderr: {}",
                    self.stderr.lines().last().unwrap_or("")
                )
            })
    }
}

impl ServerProcess {
    /// Starts `bin serve ARGS` (adding `--listen 127.0.0.1:0` unless ARGS has a `--listen`, and `--log-level
    /// warn` unless it has a `--log-level`) and waits, at most `startup`, for every address.
    pub fn start(bin: &Path, args: &[String], startup: Duration) -> Result<ServerProcess, String> {
        ServerProcess::start_confined(bin, args, startup, Confinement::default())
    }

    /// [`ServerProcess::start`], the server pinned to CPUs and held to a quota of them when `confinement` says.
    pub fn start_confined(
        bin: &Path,
        args: &[String],
        startup: Duration,
        confinement: Confinement<'_>,
    ) -> Result<ServerProcess, String> {
        let mut command = Command::new(bin);
        confinement.apply(&mut command)?;
        command.arg("serve").args(args);
        if !args.iter().any(|a| a == "--log-level") {
            command.args(["--log-level", "warn"]);
        }
        let listeners = args.iter().filter(|a| *a == "--listen").count();
        if listeners == 0 {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        ServerProcess::spawn(command, listeners.max(1), startup)
    }

    /// Starts `command` (a `serve` with `listeners` addresses) and waits, at most `startup`, for them.
    pub fn spawn(
        mut command: Command,
        listeners: usize,
        startup: Duration,
    ) -> Result<ServerProcess, String> {
        let program = command.get_program().to_string_lossy().into_owned();
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: prctl is async-signal-safe, as a pre_exec hook must be.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let stdout = lines_of(child.stdout.take().expect("piped stdout"));
        let stderr = text_of(child.stderr.take().expect("piped stderr"));
        let mut server = ServerProcess {
            child,
            addrs: Vec::new(),
            stdout,
            stderr,
        };
        let deadline = Instant::now() + startup;
        while server.addrs.len() < listeners {
            let left = deadline.saturating_duration_since(Instant::now());
            let addr = server.stdout.recv_timeout(left).ok().and_then(|line| {
                line.strip_prefix("listening on ")?
                    .split_whitespace()
                    .next()?
                    .parse::<SocketAddr>()
                    .ok()
            });
            match addr {
                Some(addr) => server.addrs.push(addr),
                None => {
                    let _ = server.child.kill();
                    let _ = server.child.wait();
                    let why = server
                        .stderr
                        .recv_timeout(Duration::from_secs(2))
                        .unwrap_or_default();
                    let why = why.lines().last().unwrap_or("no message").trim();
                    return Err(format!("server did not start: {why}"));
                }
            }
        }
        Ok(server)
    }

    /// The first bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `signal` without waiting.
    pub fn signal(&self, signal: Signal) {
        let _ = kill(Pid::from_raw(self.pid()), signal);
    }

    /// Waits, at most `limit`, for the server to exit on its own, then collects what it printed. `None` if it
    /// is still running (it is then left running).
    pub fn wait(&mut self, limit: Duration) -> Option<Finished> {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break status;
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // Read until the pipe closes: the reader thread may still be behind the process's last line.
        let mut stdout = Vec::new();
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(2)) {
            stdout.push(line);
        }
        let stderr = self
            .stderr
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_default();
        Some(Finished {
            status,
            stdout,
            stderr,
        })
    }

    /// Sends SIGTERM and waits, at most `limit`, for the server to finish; kills it if it does not.
    pub fn terminate(mut self, limit: Duration) -> Result<Finished, String> {
        self.signal(Signal::SIGTERM);
        self.wait(limit)
            .ok_or_else(|| format!("server did not stop within {limit:?}"))
    }

    /// Stops the server gracefully and returns its exit report; kills it if it does not exit within `limit`.
    pub fn stop(self, limit: Duration) -> Result<ExitReport, String> {
        self.terminate(limit)?.report()
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

/// Hands each line `pipe` yields to the returned channel, from a thread of its own (so a child process never
/// blocks on a full pipe).
pub fn lines_of(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Hands all that `pipe` yields, once it closes, to the returned channel.
pub fn text_of(mut pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    rx
}
