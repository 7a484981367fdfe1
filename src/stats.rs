//! What a server counts about itself, and the report it prints when it exits.
//!
//! Counters are atomics bumped by whichever thread serves; peaks are kept with `fetch_max`. The exit report adds
//! `getrusage` for the process and its children, because `/proc/PID/status` only counts the main thread's
//! context switches and a multi-threaded server's story is in all of them.

use std::io;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
use nix::sys::resource::{UsageWho, getrusage};
use serde::Serialize;

/// The counters themselves: plain atomics and nothing that points elsewhere, so they can live in memory shared
/// with forked children (prefork), where the parent reads them as they change and a child killed with SIGKILL
/// loses nothing it counted.
#[derive(Debug)]
pub struct Tallies {
    connections: AtomicU64,
    open_connections: AtomicU64,
    peak_open_connections: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    dropped: AtomicU64,
    live_threads: AtomicU64,
    peak_threads: AtomicU64,
}

impl Tallies {
    const fn new() -> Tallies {
        Tallies {
            connections: AtomicU64::new(0),
            open_connections: AtomicU64::new(0),
            peak_open_connections: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            // The thread that runs the server counts as one.
            live_threads: AtomicU64::new(1),
            peak_threads: AtomicU64::new(1),
        }
    }

    /// Starts again from nothing (a restarted prefork child takes over its slot).
    pub fn reset(&self) {
        for counter in [
            &self.connections,
            &self.open_connections,
            &self.peak_open_connections,
            &self.requests,
            &self.errors,
            &self.dropped,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        self.live_threads.store(1, Ordering::Relaxed);
        self.peak_threads.store(1, Ordering::Relaxed);
    }

    /// The counters as they stand now.
    pub fn snapshot(&self) -> Counters {
        Counters {
            connections: self.connections.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            peak_open_connections: self.peak_open_connections.load(Ordering::Relaxed),
            peak_threads: self.peak_threads.load(Ordering::Relaxed),
        }
    }
}

/// `count` sets of tallies in one anonymous shared mapping, inherited by every child forked after this call.
/// The mapping is never unmapped: children that outlive a failed parent could still write to it.
pub fn shared_tallies(count: usize) -> io::Result<&'static [Tallies]> {
    let count = count.max(1);
    let length =
        NonZeroUsize::new(count * size_of::<Tallies>()).expect("Tallies is not zero-sized");
    // SAFETY: a fresh anonymous mapping, aligned to a page; every slot is initialised before a reference to the
    // slice exists, and `Tallies` holds only atomics, which are sound to share across processes.
    unsafe {
        let memory = mmap_anonymous(
            None,
            length,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
        )?
        .cast::<Tallies>();
        for i in 0..count {
            memory.as_ptr().add(i).write(Tallies::new());
        }
        Ok(std::slice::from_raw_parts(memory.as_ptr(), count))
    }
}

/// Live counters shared by every thread of a server.
#[derive(Debug)]
pub struct Stats {
    tallies: Home,
}

/// Where a server's tallies live: its own heap, or a slot of a mapping shared with its parent.
#[derive(Debug)]
enum Home {
    Own(Box<Tallies>),
    Shared(&'static Tallies),
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            tallies: Home::Own(Box::new(Tallies::new())),
        }
    }
}

impl Stats {
    /// Counters kept in `tallies`, a slot of [`shared_tallies`] that another process reads.
    pub fn in_shared_memory(tallies: &'static Tallies) -> Stats {
        Stats {
            tallies: Home::Shared(tallies),
        }
    }

    fn t(&self) -> &Tallies {
        match &self.tallies {
            Home::Own(tallies) => tallies,
            Home::Shared(tallies) => tallies,
        }
    }

    /// Counts a connection as open until the guard is dropped.
    pub fn connection_opened(&self) -> Counted<'_> {
        let t = self.t();
        t.connections.fetch_add(1, Ordering::Relaxed);
        let open = t.open_connections.fetch_add(1, Ordering::Relaxed) + 1;
        t.peak_open_connections.fetch_max(open, Ordering::Relaxed);
        Counted(&t.open_connections)
    }

    /// Counts a thread as alive until the guard is dropped: call it first thing in every thread a model starts.
    pub fn thread_started(&self) -> Counted<'_> {
        let t = self.t();
        let live = t.live_threads.fetch_add(1, Ordering::Relaxed) + 1;
        t.peak_threads.fetch_max(live, Ordering::Relaxed);
        Counted(&t.live_threads)
    }

    /// Counts a thread that some other code starts and stops (a runtime's workers); pair with `thread_left`.
    pub fn thread_entered(&self) {
        std::mem::forget(self.thread_started());
    }

    pub fn thread_left(&self) {
        self.t().live_threads.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn request_served(&self) {
        self.t().requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn requests_served(&self, n: u64) {
        if n > 0 {
            self.t().requests.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn error(&self) {
        self.t().errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A datagram dropped because too many were already waiting for their work.
    pub fn dropped(&self) {
        self.t().dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds what a worker process counted (prefork) to these counters. Peaks add up too: each worker's peak
    /// happened at some moment, so their sum bounds the true peak from above.
    pub fn absorb(&self, other: &Counters) {
        let t = self.t();
        t.connections
            .fetch_add(other.connections, Ordering::Relaxed);
        t.requests.fetch_add(other.requests, Ordering::Relaxed);
        t.errors.fetch_add(other.errors, Ordering::Relaxed);
        t.dropped.fetch_add(other.dropped, Ordering::Relaxed);
        t.peak_open_connections
            .fetch_add(other.peak_open_connections, Ordering::Relaxed);
    }

    pub fn open_connections(&self) -> u64 {
        self.t().open_connections.load(Ordering::Relaxed)
    }

    /// The counters as they stand now.
    pub fn snapshot(&self) -> Counters {
        self.t().snapshot()
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
    /// Datagrams dropped because too many were waiting for their work (`--max-datagrams`).
    #[serde(default)]
    pub dropped: u64,
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
    /// Adds `other`'s times and counts (the largest RSS stays the largest).
    pub fn add(&mut self, other: &ResourceUsage) {
        self.user_cpu_s += other.user_cpu_s;
        self.system_cpu_s += other.system_cpu_s;
        self.voluntary_context_switches += other.voluntary_context_switches;
        self.involuntary_context_switches += other.involuntary_context_switches;
        self.max_rss_kib = self.max_rss_kib.max(other.max_rss_kib);
    }

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
    fn shared_tallies_are_seen_by_a_forked_child_and_survive_its_kill() {
        let slots = shared_tallies(2).unwrap();
        // SAFETY: the child only touches atomics in the shared mapping, then waits to be killed.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let stats = Stats::in_shared_memory(&slots[1]);
                stats.requests_served(7);
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while slots[1].snapshot().requests < 7 {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "the child's count never arrived"
                    );
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL).unwrap();
                nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(slots[1].snapshot().requests, 7, "kept after SIGKILL");
                assert_eq!(slots[0].snapshot().requests, 0);
                slots[1].reset();
                assert_eq!(slots[1].snapshot().requests, 0);
            }
        }
    }

    #[test]
    fn rusage_reads_real_figures() {
        let usage = ResourceUsage::of(UsageWho::RUSAGE_SELF);
        assert!(usage.max_rss_kib > 0);
    }
}
