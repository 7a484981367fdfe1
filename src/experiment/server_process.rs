//! A server under test, run as its own process so its CPU, memory and threads can be measured apart from the
//! load generator's, and so a misbehaving model cannot disturb the measurement.
//!
//! The server is `serverlab serve` on port 0; its address comes from its `listening on` line. It is asked to die
//! with the experiment (`PR_SET_PDEATHSIG`), so even a killed experiment leaves no server behind. While a cell
//! runs, [`Sampler`] reads `/proc` for the whole process tree (prefork's children included); at the end the
//! server's own exit report adds what `/proc` cannot give per process, such as context switches of all threads.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::server::ExitReport;

/// A running `serverlab serve` child.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl ServerProcess {
    /// Starts `bin serve ARGS` (adding `--listen 127.0.0.1:0` unless ARGS has a `--listen`) and waits (at most
    /// `startup`) for its address.
    pub fn start(bin: &Path, args: &[String], startup: Duration) -> Result<ServerProcess, String> {
        let mut command = Command::new(bin);
        command
            .arg("serve")
            .args(args)
            .args(["--log-level", "warn"]);
        if !args.iter().any(|a| a == "--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: Ctrl-C at the terminal stops the experiment, which then stops the server
            // once the cell's load is over, instead of the server dying in the middle of a measurement.
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
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stdout = lines_of(child.stdout.take().expect("piped stdout"));
        let stderr = text_of(child.stderr.take().expect("piped stderr"));
        let first = stdout.recv_timeout(startup);
        let addr = first.ok().and_then(|line| {
            line.strip_prefix("listening on ")?
                .split_whitespace()
                .next()?
                .parse::<SocketAddr>()
                .ok()
        });
        match addr {
            Some(addr) => Ok(ServerProcess {
                child,
                addr,
                stdout,
                stderr,
            }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                let why = stderr
                    .recv_timeout(Duration::from_secs(2))
                    .unwrap_or_default();
                let why = why
                    .lines()
                    .last()
                    .unwrap_or("no message")
                    .trim()
                    .to_string();
                Err(format!("server did not start: {why}"))
            }
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Starts sampling the server's process tree every `every`.
    pub fn sampler(&self, every: Duration) -> Sampler {
        Sampler::start(self.pid(), every)
    }

    /// Stops the server gracefully and returns its exit report; kills it if it does not exit within `limit`.
    pub fn stop(mut self, limit: Duration) -> Result<ExitReport, String> {
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGTERM);
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!("server did not stop within {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut last_json = None;
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(2)) {
            if line.starts_with('{') {
                last_json = Some(line);
            }
        }
        let line = last_json.ok_or_else(|| {
            let err = self
                .stderr
                .recv_timeout(Duration::from_secs(1))
                .unwrap_or_default();
            format!(
                "server printed no exit report; stderr: {}",
                err.lines().last().unwrap_or("")
            )
        })?;
        serde_json::from_str(&line).map_err(|e| format!("unreadable exit report: {e}"))
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

/// One reading of a process tree.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TreeReading {
    /// User plus system CPU time of every live process in the tree, in seconds.
    pub cpu_s: f64,
    pub threads: u64,
    pub rss_kib: u64,
    /// Proportional set size: shared pages split among the processes sharing them (fair for prefork).
    pub pss_kib: u64,
    pub processes: u64,
}

/// Reads `/proc` for `pid` and all its descendants.
pub fn read_tree(pid: i32) -> Option<TreeReading> {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let mut reading = TreeReading::default();
    let mut pending = vec![pid];
    let mut found = false;
    while let Some(pid) = pending.pop() {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        found = true;
        // Fields after the command name, which may contain spaces, start after the last ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let field = |n: usize| {
            fields
                .get(n - 3)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        reading.cpu_s += (field(14) + field(15)) / ticks;
        reading.threads += field(20) as u64;
        reading.processes += 1;
        if let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
            reading.rss_kib += kib_field(&rollup, "Rss:");
            reading.pss_kib += kib_field(&rollup, "Pss:");
        }
        if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
            pending.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<i32>().ok()),
            );
        }
    }
    found.then_some(reading)
}

fn kib_field(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// What sampling a server during a cell found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSample {
    /// CPU seconds the server tree used between the first and the last reading...
    pub cpu_s: f64,
    /// ...and the wall-clock seconds between them.
    pub wall_s: f64,
    pub peak_threads: u64,
    pub peak_rss_kib: u64,
    pub peak_pss_kib: u64,
    pub peak_processes: u64,
    pub readings: u64,
}

/// Samples a process tree on a thread of its own until stopped.
pub struct Sampler {
    running: Arc<AtomicBool>,
    thread: Option<JoinHandle<ServerSample>>,
}

impl Sampler {
    fn start(pid: i32, every: Duration) -> Sampler {
        let running = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&running);
        let thread = std::thread::spawn(move || {
            let mut sample = ServerSample::default();
            let mut first = None;
            loop {
                if let Some(reading) = read_tree(pid) {
                    let (first_cpu, started) =
                        *first.get_or_insert((reading.cpu_s, Instant::now()));
                    sample.cpu_s = reading.cpu_s - first_cpu;
                    sample.wall_s = started.elapsed().as_secs_f64();
                    sample.peak_threads = sample.peak_threads.max(reading.threads);
                    sample.peak_rss_kib = sample.peak_rss_kib.max(reading.rss_kib);
                    sample.peak_pss_kib = sample.peak_pss_kib.max(reading.pss_kib);
                    sample.peak_processes = sample.peak_processes.max(reading.processes);
                    sample.readings += 1;
                }
                if !flag.load(Ordering::Relaxed) {
                    return sample;
                }
                std::thread::park_timeout(every);
            }
        });
        Sampler {
            running,
            thread: Some(thread),
        }
    }

    /// Takes a last reading and returns the whole sample.
    pub fn finish(mut self) -> ServerSample {
        self.running.store(false, Ordering::Relaxed);
        let thread = self.thread.take().expect("finished once");
        thread.thread().unpark();
        thread.join().unwrap_or_default()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.running.store(false, Ordering::Relaxed);
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_tree() {
        let reading = read_tree(std::process::id() as i32).unwrap();
        assert!(reading.threads >= 1);
        assert!(reading.rss_kib > 0 && reading.pss_kib > 0);
        assert!(read_tree(i32::MAX).is_none());
    }
}
