//! What happened *during* a run, not only in total: per 100 ms, the requests that completed (and failed), their
//! p99 latency, and the connections open. Totals hide a ramp of 5,000 connections, a server that stalls for a
//! second, a client starved while the others are served; a timeline shows them at a glance.
//!
//! Buckets are by completion time, from the start of the run (the warm-up included, so a ramp shows; requests
//! the totals do not count are kept apart, as `uncounted`), and fed from the same completions as the totals: the
//! buckets' `ok` and `errors` add up to the report's successes and errors. Each bucket keeps a small
//! HdrHistogram (2 significant digits) for its p99. A long run does not grow it without bound: past
//! [`MAX_BUCKETS`] buckets, neighbours are merged and the bucket doubles its width.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::clock::Nanos;

/// The finest bucket: 100 ms.
pub const BUCKET_MS: u64 = 100;

/// Most buckets kept; a longer run makes its buckets wider instead.
pub const MAX_BUCKETS: usize = 600;

/// One stretch of the run, as the report gives it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelineBucket {
    /// When the bucket starts, in ms since the run started (the warm-up included).
    pub start_ms: u64,
    /// Requests that completed in it and count in the totals.
    pub ok: u64,
    pub errors: u64,
    /// Requests that completed in it but do not count (the warm-up's).
    pub uncounted: u64,
    /// p99 latency of the requests that completed in it, in ms (0 when none did).
    pub p99_ms: f64,
    /// Most connections open at once during it.
    pub open: u64,
}

/// A run's timeline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Each bucket's width, in ms (100, or a multiple of it for long runs).
    pub bucket_ms: u64,
    /// When measuring started (the end of the warm-up), in ms since the run started.
    pub measured_from_ms: u64,
    pub buckets: Vec<TimelineBucket>,
}

impl Timeline {
    /// Completed requests per second in each bucket that lies wholly after the warm-up.
    pub fn rates(&self) -> Vec<f64> {
        let width_s = self.bucket_ms as f64 / 1000.0;
        self.buckets
            .iter()
            .filter(|b| b.start_ms >= self.measured_from_ms)
            .map(|b| (b.ok + b.errors) as f64 / width_s)
            .collect()
    }

    /// A stall at the end: the last second's throughput below half the median second's. Returns (last second,
    /// median), in requests per second.
    pub fn stall_at_end(&self) -> Option<(f64, f64)> {
        let per_second = (1000 / self.bucket_ms.max(1)).max(1) as usize;
        let mut rates = self.rates();
        // The last bucket is cut short by the run's end: a part of a bucket is not a slow bucket.
        rates.pop();
        // Whole seconds counted back from the end, the last second first.
        let seconds: Vec<f64> = rates
            .rchunks_exact(per_second)
            .map(|c| c.iter().sum::<f64>() / per_second as f64)
            .collect();
        if seconds.len() < 2 {
            return None;
        }
        let last = seconds[0];
        let mut sorted = seconds.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        (last < median / 2.0).then_some((last, median))
    }

    /// As CSV: one line per bucket, with a header (for `load --timeline FILE`).
    pub fn to_csv(&self) -> String {
        let mut csv =
            String::from("start_s,requests_per_s,errors,uncounted,p99_ms,open_connections\n");
        let width_s = self.bucket_ms as f64 / 1000.0;
        for b in &self.buckets {
            csv.push_str(&format!(
                "{:.1},{:.1},{},{},{:.3},{}\n",
                b.start_ms as f64 / 1000.0,
                b.ok as f64 / width_s,
                b.errors,
                b.uncounted,
                b.p99_ms,
                b.open
            ));
        }
        csv
    }
}

/// A thread's timeline while the run goes on.
pub(super) struct Recorder {
    width: Nanos,
    tallies: Vec<Tally>,
}

struct Tally {
    ok: u64,
    errors: u64,
    uncounted: u64,
    latency: Histogram<u64>,
    open: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            ok: 0,
            errors: 0,
            uncounted: 0,
            // Auto-resizing: a bucket of fast replies stays a few KiB.
            latency: Histogram::new(2).expect("2 significant digits are valid"),
            open: 0,
        }
    }

    fn add(&mut self, other: &Tally) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.uncounted += other.uncounted;
        let _ = self.latency.add(&other.latency);
        self.open = self.open.max(other.open);
    }
}

impl Default for Recorder {
    fn default() -> Recorder {
        Recorder {
            width: Nanos::from_millis(BUCKET_MS),
            tallies: Vec::new(),
        }
    }
}

impl Recorder {
    fn tally(&mut self, at: Nanos) -> &mut Tally {
        let mut index = (at.as_nanos() / self.width.as_nanos()) as usize;
        while index >= MAX_BUCKETS {
            self.coarsen();
            index = (at.as_nanos() / self.width.as_nanos()) as usize;
        }
        if index >= self.tallies.len() {
            self.tallies.resize_with(index + 1, Tally::new);
        }
        &mut self.tallies[index]
    }

    /// Halves the resolution: each pair of buckets becomes one, twice as wide.
    fn coarsen(&mut self) {
        let mut merged = Vec::with_capacity(self.tallies.len() / 2 + 1);
        let mut pairs = std::mem::take(&mut self.tallies).into_iter();
        while let Some(mut first) = pairs.next() {
            if let Some(second) = pairs.next() {
                first.add(&second);
            }
            merged.push(first);
        }
        self.tallies = merged;
        self.width = Nanos::from_nanos(self.width.as_nanos() * 2);
    }

    /// A request completed at `at` after `latency_us`; `counted` if the totals count it.
    pub(super) fn success(&mut self, at: Nanos, latency_us: u64, counted: bool) {
        let tally = self.tally(at);
        if counted {
            tally.ok += 1;
        } else {
            tally.uncounted += 1;
        }
        let _ = tally.latency.record(latency_us.max(1));
    }

    /// A request failed at `at`.
    pub(super) fn failure(&mut self, at: Nanos, counted: bool) {
        let tally = self.tally(at);
        if counted {
            tally.errors += 1;
        } else {
            tally.uncounted += 1;
        }
    }

    /// `open` connections are open at `at`.
    pub(super) fn open(&mut self, at: Nanos, open: u64) {
        let tally = self.tally(at);
        tally.open = tally.open.max(open);
    }

    /// Adds another thread's timeline to this one. Open connections add up: the threads' clients are apart.
    pub(super) fn merge(&mut self, mut other: Recorder) {
        while other.width < self.width {
            other.coarsen();
        }
        while self.width < other.width {
            self.coarsen();
        }
        if other.tallies.len() > self.tallies.len() {
            self.tallies.resize_with(other.tallies.len(), Tally::new);
        }
        for (mine, theirs) in self.tallies.iter_mut().zip(other.tallies) {
            let open = mine.open + theirs.open;
            mine.add(&theirs);
            mine.open = open;
        }
    }

    /// The timeline as the report gives it; `measured_from` is the end of the warm-up.
    pub(super) fn finish(self, measured_from: Nanos) -> Timeline {
        let width_ms = self.width.as_nanos() / 1_000_000;
        Timeline {
            bucket_ms: width_ms,
            measured_from_ms: measured_from.as_nanos() / 1_000_000,
            buckets: self
                .tallies
                .into_iter()
                .enumerate()
                .map(|(i, t)| TimelineBucket {
                    start_ms: i as u64 * width_ms,
                    ok: t.ok,
                    errors: t.errors,
                    uncounted: t.uncounted,
                    p99_ms: if t.latency.is_empty() {
                        0.0
                    } else {
                        t.latency.value_at_quantile(0.99) as f64 / 1000.0
                    },
                    open: t.open,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_count_by_completion_time_and_threads_add_up() {
        let mut a = Recorder::default();
        a.success(Nanos::from_millis(50), 1_000, false);
        a.success(Nanos::from_millis(150), 2_000, true);
        a.failure(Nanos::from_millis(160), true);
        a.open(Nanos::from_millis(120), 3);
        let mut b = Recorder::default();
        b.success(Nanos::from_millis(250), 5_000, true);
        b.open(Nanos::from_millis(110), 2);
        a.merge(b);
        let t = a.finish(Nanos::from_millis(100));
        assert_eq!(t.bucket_ms, 100);
        assert_eq!(t.measured_from_ms, 100);
        let ok: Vec<u64> = t.buckets.iter().map(|b| b.ok).collect();
        assert_eq!(ok, [0, 1, 1]);
        assert_eq!(t.buckets[0].uncounted, 1);
        assert_eq!(t.buckets[1].errors, 1);
        assert_eq!(t.buckets[1].open, 5, "two threads' connections add up");
        assert!((t.buckets[2].p99_ms - 5.0).abs() < 0.1);
        assert_eq!(t.rates(), [20.0, 10.0]);
    }

    #[test]
    fn a_long_run_widens_its_buckets_instead_of_growing() {
        let mut r = Recorder::default();
        for s in 0..200u64 {
            r.success(Nanos::from_millis(s * 1000), 10, true);
        }
        let t = r.finish(Nanos::ZERO);
        assert!(t.buckets.len() <= MAX_BUCKETS);
        assert_eq!(t.bucket_ms, 400);
        assert_eq!(t.buckets.iter().map(|b| b.ok).sum::<u64>(), 200);
    }

    #[test]
    fn a_stall_at_the_end_is_seen() {
        let bucket = |ok| TimelineBucket {
            ok,
            ..TimelineBucket::default()
        };
        let mut t = Timeline {
            bucket_ms: 100,
            measured_from_ms: 0,
            buckets: (0..30).map(|_| bucket(100)).collect(),
        };
        assert_eq!(t.stall_at_end(), None);
        // The last second before the (partial) last bucket.
        for b in &mut t.buckets[19..] {
            b.ok = 10;
        }
        assert_eq!(t.stall_at_end(), Some((100.0, 1000.0)));
    }
}
