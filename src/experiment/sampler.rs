//! Measuring a server process from outside: while a cell runs, [`Sampler`] reads `/proc` for the whole process
//! tree (prefork's children included) — CPU, threads, RSS and PSS, processes. At the end the server's own exit
//! report adds what `/proc` cannot give per process, such as context switches of all threads. The process
//! itself is a [`crate::server::process::ServerProcess`].
//!
//! The first reading is taken before [`Sampler::start`] returns, so it is the server before any client: what a
//! hold cell's connections cost is the memory they add to it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One reading of a process tree.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TreeReading {
    /// User plus system CPU time of every live process in the tree and of the children they have reaped, in
    /// seconds.
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
        let fields = stat_fields(&stat);
        let field = |n: usize| {
            fields
                .get(n - 3)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // Its own time (utime, stime) and that of the children it has reaped (cutime, cstime): a forking server's
        // children live one connection each, and their CPU would vanish with them otherwise.
        reading.cpu_s += (field(14) + field(15) + field(16) + field(17)) / ticks;
        reading.threads += field(20) as u64;
        reading.processes += 1;
        if let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
            reading.rss_kib += kib_field(&rollup, "Rss:");
            reading.pss_kib += kib_field(&rollup, "Pss:");
        }
        pending.extend(children(pid, field(20) as usize));
    }
    found.then_some(reading)
}

/// The fields of a `/proc/PID/stat` line after the command name (which may hold spaces and parentheses): the
/// first is field 3, the state.
pub fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect()
}

/// Processes with more threads than this have their main thread's children followed, not every thread's: a
/// thread-per-connection server of 1,000 threads would cost the sampler 1,000 reads a reading (a tenth of a
/// core at ten readings a second) to find children such servers do not fork from their connection threads.
const THREADS_WALKED: usize = 64;

/// The children of process `pid` of `threads` threads: those of every thread (a process forked from a worker
/// thread, as a `ProcessPoolExecutor` does, is that thread's child), or of the main thread past
/// [`THREADS_WALKED`].
fn children(pid: i32, threads: usize) -> Vec<i32> {
    let tasks: Vec<std::path::PathBuf> = if threads <= THREADS_WALKED {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|task| task.path())
            .collect()
    } else {
        vec![format!("/proc/{pid}/task/{pid}").into()]
    };
    tasks
        .iter()
        .filter_map(|task| std::fs::read_to_string(task.join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|c| c.parse::<i32>().ok())
                .collect::<Vec<_>>()
        })
        .collect()
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
    /// RSS and PSS at the first reading, before the cell's first connection.
    #[serde(default)]
    pub first_rss_kib: u64,
    #[serde(default)]
    pub first_pss_kib: u64,
    /// A hold cell: RSS and PSS once every connection was open and held (see `run.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holding_rss_kib: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holding_pss_kib: Option<u64>,
}

impl ServerSample {
    /// Adds a reading to the peaks and the CPU since `first` (the first reading, and when it was taken).
    fn add(&mut self, reading: &TreeReading, first: (f64, Instant)) {
        let (first_cpu, started) = first;
        self.cpu_s = reading.cpu_s - first_cpu;
        self.wall_s = started.elapsed().as_secs_f64();
        self.peak_threads = self.peak_threads.max(reading.threads);
        self.peak_rss_kib = self.peak_rss_kib.max(reading.rss_kib);
        self.peak_pss_kib = self.peak_pss_kib.max(reading.pss_kib);
        self.peak_processes = self.peak_processes.max(reading.processes);
        self.readings += 1;
    }
}

/// The tree's CPU over time: (seconds since the sampler started, CPU seconds since the first reading).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CpuTimeline(Vec<(f64, f64)>);

impl CpuTimeline {
    /// Cores busy on average from `from` to `to` (seconds since the sampler started), the CPU read between
    /// readings by straight lines; `None` unless readings surround the span.
    pub fn cores_between(&self, from: f64, to: f64) -> Option<f64> {
        let at = |t: f64| -> Option<f64> {
            let after = self.0.iter().position(|&(time, _)| time >= t)?;
            let (t1, c1) = self.0[after];
            if after == 0 {
                return (t1 - t <= 1e-3).then_some(c1);
            }
            let (t0, c0) = self.0[after - 1];
            Some(c0 + (c1 - c0) * (t - t0) / (t1 - t0).max(1e-9))
        };
        (to > from).then_some(())?;
        Some((at(to)? - at(from)?) / (to - from))
    }
}

/// Samples a process tree on a thread of its own until stopped.
pub struct Sampler {
    running: Arc<AtomicBool>,
    started: Instant,
    thread: Option<JoinHandle<(ServerSample, CpuTimeline)>>,
}

impl Sampler {
    /// Takes the first reading of the process tree of `pid`, then samples it every `every` on a thread.
    pub fn start(pid: i32, every: Duration) -> Sampler {
        let running = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&running);
        let started = Instant::now();
        let mut sample = ServerSample::default();
        let mut timeline = CpuTimeline::default();
        let mut first = None;
        if let Some(reading) = read_tree(pid) {
            first = Some((reading.cpu_s, Instant::now()));
            sample.first_rss_kib = reading.rss_kib;
            sample.first_pss_kib = reading.pss_kib;
            sample.add(&reading, (reading.cpu_s, Instant::now()));
            timeline.0.push((started.elapsed().as_secs_f64(), 0.0));
        }
        let thread = std::thread::spawn(move || {
            loop {
                std::thread::park_timeout(every);
                if let Some(reading) = read_tree(pid) {
                    let first = *first.get_or_insert((reading.cpu_s, Instant::now()));
                    sample.add(&reading, first);
                    timeline
                        .0
                        .push((started.elapsed().as_secs_f64(), reading.cpu_s - first.0));
                }
                if !flag.load(Ordering::Relaxed) {
                    return (sample, timeline);
                }
            }
        });
        Sampler {
            running,
            started,
            thread: Some(thread),
        }
    }

    /// When sampling started: the origin of the [`CpuTimeline`].
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Takes a last reading and returns the whole sample, and the CPU over time.
    pub fn finish(mut self) -> (ServerSample, CpuTimeline) {
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

    #[test]
    fn cores_between_two_times_are_read_off_straight_lines() {
        // One core busy for a second, then idle for a second.
        let timeline = CpuTimeline(vec![(0.0, 0.0), (0.5, 0.5), (1.0, 1.0), (2.0, 1.0)]);
        assert_eq!(timeline.cores_between(0.0, 1.0), Some(1.0));
        assert_eq!(timeline.cores_between(0.25, 0.75), Some(1.0));
        assert_eq!(timeline.cores_between(0.5, 1.5), Some(0.5));
        assert_eq!(timeline.cores_between(1.0, 2.0), Some(0.0));
        assert_eq!(
            timeline.cores_between(1.0, 2.5),
            None,
            "no reading after the span"
        );
        assert_eq!(timeline.cores_between(1.0, 1.0), None);
        assert_eq!(CpuTimeline::default().cores_between(0.0, 1.0), None);
    }

    #[test]
    fn reaped_children_still_count() {
        // A shell runs a child that computes for 0.2 s of CPU (however long that takes on a busy machine), reaps
        // it, then sleeps: its tree is down to the shell and its sleep, yet still holds the child's CPU.
        use std::os::unix::process::CommandExt;
        let mut shell = std::process::Command::new("sh")
            .args([
                "-c",
                "python3 -c 'import time\nend = time.process_time() + 0.2\nwhile time.process_time() < end: pass'; sleep 30; exit 0",
            ])
            .process_group(0)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let reading = loop {
            let reading = read_tree(shell.id() as i32).unwrap();
            let sleeping =
                std::fs::read_to_string(format!("/proc/{}/task/{0}/children", shell.id()))
                    .ok()
                    .and_then(|c| c.split_whitespace().next().map(str::to_string))
                    .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
                    .is_some_and(|comm| comm.trim() == "sleep");
            if sleeping || Instant::now() > deadline {
                break reading;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The whole group: the sleep too.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(-(shell.id() as i32)),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = shell.wait();
        assert_eq!(reading.processes, 2, "the shell and its sleep");
        assert!(reading.cpu_s >= 0.15, "the reaped child's CPU: {reading:?}");
    }
}
