//! What a server counts about itself, and the report it prints when it exits.
//!
//! Counters are atomics bumped by whichever thread serves; peaks are kept with `fetch_max`. The exit report adds
//! `getrusage` for the process and its children, because `/proc/PID/status` only counts the main thread's
//! context switches and a multi-threaded server's story is in all of them.

use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::resource::{UsageWho, getrusage};
use serde::Serialize;

/// Live counters shared by every thread of a server.
#[derive(Debug)]
pub struct Stats {
    connections: AtomicU64,
    open_connections: AtomicU64,
    peak_open_connections: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    live_threads: AtomicU64,
    peak_threads: AtomicU64,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            connections: AtomicU64::new(0),
            open_connections: AtomicU64::new(0),
            peak_open_connections: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            // The thread that runs the server counts as one.
            live_threads: AtomicU64::new(1),
            peak_threads: AtomicU64::new(1),
        }
    }
}

impl Stats {
    /// Counts a connection as open until the guard is dropped.
    pub fn connection_opened(&self) -> Counted<'_> {
        self.connections.fetch_add(1, Ordering::Relaxed);
        let open = self.open_connections.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_open_connections
            .fetch_max(open, Ordering::Relaxed);
        Counted(&self.open_connections)
    }

    /// Counts a thread as alive until the guard is dropped: call it first thing in every thread a model starts.
    pub fn thread_started(&self) -> Counted<'_> {
        let live = self.live_threads.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_threads.fetch_max(live, Ordering::Relaxed);
        Counted(&self.live_threads)
    }

    /// Counts a thread that some other code starts and stops (a runtime's workers); pair with `thread_left`.
    pub fn thread_entered(&self) {
        std::mem::forget(self.thread_started());
    }

    pub fn thread_left(&self) {
        self.live_threads.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn request_served(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn requests_served(&self, n: u64) {
        if n > 0 {
            self.requests.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds what a worker process counted (prefork) to these counters. Peaks add up too: each worker's peak
    /// happened at some moment, so their sum bounds the true peak from above.
    pub fn absorb(&self, other: &Counters) {
        self.connections
            .fetch_add(other.connections, Ordering::Relaxed);
        self.requests.fetch_add(other.requests, Ordering::Relaxed);
        self.errors.fetch_add(other.errors, Ordering::Relaxed);
        self.peak_open_connections
            .fetch_add(other.peak_open_connections, Ordering::Relaxed);
    }

    pub fn open_connections(&self) -> u64 {
        self.open_connections.load(Ordering::Relaxed)
    }

    /// The counters as they stand now.
    pub fn snapshot(&self) -> Counters {
        Counters {
            connections: self.connections.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            peak_open_connections: self.peak_open_connections.load(Ordering::Relaxed),
            peak_threads: self.peak_threads.load(Ordering::Relaxed),
        }
    }
}

/// Decrements its counter when dropped.
#[derive(Debug)]
pub struct Counted<'a>(&'a AtomicU64);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Counters {
    pub connections: u64,
    pub requests: u64,
    pub errors: u64,
    pub peak_open_connections: u64,
    pub peak_threads: u64,
}

/// Resource use as the kernel accounts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct ResourceUsage {
    pub user_cpu_s: f64,
    pub system_cpu_s: f64,
    pub voluntary_context_switches: i64,
    pub involuntary_context_switches: i64,
    pub max_rss_kib: i64,
}

impl ResourceUsage {
    /// `getrusage` of this process (all its threads) or of its waited-for children.
    pub fn of(who: UsageWho) -> ResourceUsage {
        match getrusage(who) {
            Ok(usage) => {
                let seconds =
                    |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
                ResourceUsage {
                    user_cpu_s: seconds(usage.user_time()),
                    system_cpu_s: seconds(usage.system_time()),
                    voluntary_context_switches: usage.voluntary_context_switches(),
                    involuntary_context_switches: usage.involuntary_context_switches(),
                    max_rss_kib: usage.max_rss(),
                }
            }
            Err(_) => ResourceUsage::default(),
        }
    }
}

/// The line a server prints on stdout when it exits, for scripts and the experiment to read.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct ExitReport {
    pub proto: crate::config::Proto,
    pub model: crate::config::Model,
    #[serde(flatten)]
    pub counters: Counters,
    pub rusage_self: ResourceUsage,
    /// Only for models that run child processes.
    pub rusage_children: Option<ResourceUsage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_live_and_peak() {
        let stats = Stats::default();
        {
            let _a = stats.connection_opened();
            let _b = stats.connection_opened();
            let _t = stats.thread_started();
            assert_eq!(stats.open_connections(), 2);
        }
        assert_eq!(stats.open_connections(), 0);
        let counters = stats.snapshot();
        assert_eq!(counters.connections, 2);
        assert_eq!(counters.peak_open_connections, 2);
        assert_eq!(counters.peak_threads, 2);
    }

    #[test]
    fn rusage_reads_real_figures() {
        let usage = ResourceUsage::of(UsageWho::RUSAGE_SELF);
        assert!(usage.max_rss_kib > 0);
    }
}
