//! What a load run found, as data: counts, errors by kind, per-client fairness, and the latency histograms
//! (kept as HdrHistograms, see [`super::latency`]).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use super::latency::{Latency, LatencySummary};
use super::segment::Segment;
use super::start::WallClockWindow;
use super::timeline::Timeline;

use crate::protocol::Proto;

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The connection was refused (nothing listens there, or the backlog turned it away); for udp-echo, an
    /// ICMP port-unreachable.
    Refused,
    /// The connection was reset.
    Reset,
    /// The server closed the connection before the reply was complete.
    Closed,
    /// No complete reply within `--timeout`.
    Timeout,
    /// A reply came, but it was wrong.
    BadReply,
    /// No local port was free to connect from (EADDRNOTAVAIL): TIME_WAIT piled up.
    PortsExhausted,
    /// Anything else.
    Other,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Refused,
        ErrorKind::Reset,
        ErrorKind::Closed,
        ErrorKind::Timeout,
        ErrorKind::BadReply,
        ErrorKind::PortsExhausted,
        ErrorKind::Other,
    ];

    /// Words for people.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorKind::Refused => "connection refused",
            ErrorKind::Reset => "connection reset",
            ErrorKind::Closed => "closed before the reply was complete",
            ErrorKind::Timeout => "timeout",
            ErrorKind::BadReply => "bad reply",
            ErrorKind::PortsExhausted => "local ports exhausted",
            ErrorKind::Other => "other",
        }
    }

    /// Sorts an I/O error into a kind.
    pub fn of(error: &std::io::Error) -> ErrorKind {
        match error.raw_os_error() {
            Some(libc::ECONNREFUSED) => ErrorKind::Refused,
            Some(libc::ECONNRESET | libc::EPIPE | libc::ECONNABORTED) => ErrorKind::Reset,
            Some(libc::EADDRNOTAVAIL) => ErrorKind::PortsExhausted,
            Some(libc::ETIMEDOUT) => ErrorKind::Timeout,
            _ => ErrorKind::Other,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Failed requests, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    pub refused: u64,
    pub reset: u64,
    pub closed: u64,
    pub timeout: u64,
    pub bad_reply: u64,
    pub ports_exhausted: u64,
    pub other: u64,
}

impl ErrorCounts {
    fn slot(&mut self, kind: ErrorKind) -> &mut u64 {
        match kind {
            ErrorKind::Refused => &mut self.refused,
            ErrorKind::Reset => &mut self.reset,
            ErrorKind::Closed => &mut self.closed,
            ErrorKind::Timeout => &mut self.timeout,
            ErrorKind::BadReply => &mut self.bad_reply,
            ErrorKind::PortsExhausted => &mut self.ports_exhausted,
            ErrorKind::Other => &mut self.other,
        }
    }

    pub fn add(&mut self, kind: ErrorKind, n: u64) {
        *self.slot(kind) += n;
    }

    pub fn get(&self, kind: ErrorKind) -> u64 {
        match kind {
            ErrorKind::Refused => self.refused,
            ErrorKind::Reset => self.reset,
            ErrorKind::Closed => self.closed,
            ErrorKind::Timeout => self.timeout,
            ErrorKind::BadReply => self.bad_reply,
            ErrorKind::PortsExhausted => self.ports_exhausted,
            ErrorKind::Other => self.other,
        }
    }

    pub fn total(&self) -> u64 {
        ErrorKind::ALL.iter().map(|k| self.get(*k)).sum()
    }

    pub fn merge(&mut self, other: &ErrorCounts) {
        for kind in ErrorKind::ALL {
            self.add(kind, other.get(kind));
        }
    }

    /// The kind seen most often, if any.
    pub fn commonest(&self) -> Option<(ErrorKind, u64)> {
        ErrorKind::ALL
            .iter()
            .map(|k| (*k, self.get(*k)))
            .filter(|(_, n)| *n > 0)
            .max_by_key(|(_, n)| *n)
    }
}

/// What one client got done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCount {
    pub ok: u64,
    pub errors: u64,
}

/// A request still waiting for its reply when the run ended: neither a success nor an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unfinished {
    pub client: usize,
    /// Microseconds since the request was due (open loop) or started (closed loop).
    pub age_us: u64,
}

/// CPU time the generator's own threads used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuTime {
    pub user_us: u64,
    pub system_us: u64,
}

impl CpuTime {
    pub fn total(&self) -> Duration {
        Duration::from_micros(self.user_us + self.system_us)
    }

    pub fn add(&mut self, other: &CpuTime) {
        self.user_us += other.user_us;
        self.system_us += other.system_us;
    }
}

/// The result of a load run (or of several, merged).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    pub proto: Proto,
    /// The target(s), as given.
    pub target: String,
    pub clients: usize,
    pub threads: usize,
    /// Open loop: the rate asked for, in requests per second (summed over merged runs).
    pub target_rate: Option<f64>,
    pub connect_per_request: bool,
    /// How many runs this report is made of (1 unless merged).
    pub runs: u32,
    /// The measured period (after the warm-up), in microseconds; the longest of merged runs.
    pub duration_us: u64,
    /// Requests finished: `successes + errors.total()`. Requests still in flight at the end are in `unfinished`.
    pub requests: u64,
    pub successes: u64,
    pub errors: ErrorCounts,
    /// The first message seen for each error kind.
    pub error_examples: BTreeMap<ErrorKind, String>,
    /// Open loop: requests sent (including those not yet answered at the end).
    pub sent: u64,
    /// Open loop: sends the timetable called for that were never made, because the clients were still waiting
    /// for earlier replies.
    pub missed_sends: u64,
    /// udp-echo replies that arrived after their request had timed out.
    pub late_replies: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Connections opened (including the warm-up's).
    pub connections: u64,
    /// Per client, in client order (merged runs: one run's clients after another's).
    pub per_client: Vec<ClientCount>,
    pub unfinished: Vec<Unfinished>,
    /// Latency of successful requests. Open loop: from the *scheduled* send time (coordinated omission
    /// corrected); closed loop: from the actual start, connection included when one had to be opened.
    pub latency: Latency,
    /// From the actual start of each request to its reply (the raw service time). Same as `latency` in a closed
    /// loop.
    pub service_time: Latency,
    /// CPU time of the generator's threads.
    pub cpu: CpuTime,
    /// The run was stopped early (Ctrl-C or the caller's stop flag).
    pub stopped_early: bool,
    /// What became of the slowloris connections (`--slow`), when there were any. They are not clients: nothing
    /// above counts them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow: Option<SlowReport>,
    /// Per 100 ms: completions, p99 and open connections, from the start of the run (the warm-up included).
    /// Empty for merged runs, whose clocks differ.
    #[serde(default)]
    pub timeline: Timeline,
    /// When every client had completed an exchange (ms since the start), if the run waited for them and they
    /// all did (`ramp_limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_served_ms: Option<f64>,
    /// The parts of a split run (`--segment`) this report holds, in order; empty for a run not split.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<Segment>,
    /// The measured period by the wall clock; merged runs: from the first start to the last end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WallClockWindow>,
    /// HTTP: replies by status code (those counted as successes and those counted as bad replies alike).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub statuses: BTreeMap<u16, u64>,
    /// `--hold N`: what the server did with N connections held open. The exchanges are the requests above
    /// (`successes` answered, `errors` failed and why, `latency` connect included); nothing else above applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldReport>,
}

/// What became of the connections of `load --hold N`: how many the server took, answered and kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldReport {
    /// Connections asked for (`--hold`; summed over merged runs).
    pub asked: u64,
    /// Connections whose connect succeeded: the handshake was over (the server may not have accepted them yet).
    pub opened: u64,
    /// Connections whose connect failed (refused, timed out, ...): the others of `LoadReport::errors` are
    /// exchanges that failed.
    pub connect_failures: u64,
    /// Connections whose one exchange got its whole reply, and a right one: served by the server.
    pub answered: u64,
    /// Answered connections still open when the hold ended: the server was holding them.
    pub held: u64,
    /// Answered connections the server closed (or reset) before the hold ended...
    pub closed_by_server: u64,
    /// ...this long after their answer at the soonest and at the latest, in microseconds.
    pub closed_after_min_us: Option<u64>,
    pub closed_after_max_us: Option<u64>,
    /// Connections never tried: the run was stopped, or so many connects in a row had failed that the server had
    /// stopped accepting (each would have cost a timeout).
    pub not_tried: u64,
    /// The time to open them all: from the start until the last exchange finished or failed, in microseconds.
    pub open_us: u64,
    /// How long they were then held, in microseconds: `--duration`, or less when stopped early or when the
    /// server had closed every one.
    pub hold_us: u64,
}

impl HoldReport {
    /// An answered connection the server closed `after_us` after its answer.
    pub fn record_close(&mut self, after_us: u64) {
        self.closed_by_server += 1;
        self.closed_after_min_us = Some(
            self.closed_after_min_us
                .map_or(after_us, |m| m.min(after_us)),
        );
        self.closed_after_max_us = Some(
            self.closed_after_max_us
                .map_or(after_us, |m| m.max(after_us)),
        );
    }

    /// Adds runs made at the same time (from several machines): counts add, times are the longest.
    pub fn merge(&mut self, other: &HoldReport) {
        self.asked += other.asked;
        self.opened += other.opened;
        self.connect_failures += other.connect_failures;
        self.answered += other.answered;
        self.held += other.held;
        self.closed_by_server += other.closed_by_server;
        self.closed_after_min_us = match (self.closed_after_min_us, other.closed_after_min_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.closed_after_max_us = self.closed_after_max_us.max(other.closed_after_max_us);
        self.not_tried += other.not_tried;
        self.open_us = self.open_us.max(other.open_us);
        self.hold_us = self.hold_us.max(other.hold_us);
    }
}

/// What the server did with connections that trickle a request head and never finish it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlowReport {
    /// Slow connections kept at once (`--slow`; summed over merged runs).
    pub connections: usize,
    /// Connections opened: one a server closed is opened again.
    pub opened: u64,
    /// Connection attempts that failed (refused, reset, ...): retried after a backoff.
    pub failed_connects: u64,
    /// Bytes of unfinished request heads sent.
    pub bytes_sent: u64,
    /// Connections the server closed (or reset) while their head was still unfinished...
    pub closed_by_server: u64,
    /// ...after answering with this status first (e.g. 408 Request Timeout): status code -> connections.
    pub answered: BTreeMap<u16, u64>,
    /// How long the server kept a slow connection before closing it, from connect to close: shortest and
    /// longest, in microseconds.
    pub closed_after_min_us: Option<u64>,
    pub closed_after_max_us: Option<u64>,
    /// Still open when the run ended: the server had not closed them...
    pub open_at_end: u64,
    /// ...the oldest of them held this long, in microseconds.
    pub oldest_open_us: u64,
}

impl SlowReport {
    /// Connections closed with a status line before the close.
    pub fn answered_total(&self) -> u64 {
        self.answered.values().sum()
    }

    /// A connection the server closed `held_us` after it was opened, having answered `status` first, if any.
    pub fn record_close(&mut self, held_us: u64, status: Option<u16>) {
        self.closed_by_server += 1;
        if let Some(status) = status {
            *self.answered.entry(status).or_default() += 1;
        }
        self.closed_after_min_us =
            Some(self.closed_after_min_us.map_or(held_us, |m| m.min(held_us)));
        self.closed_after_max_us =
            Some(self.closed_after_max_us.map_or(held_us, |m| m.max(held_us)));
    }

    pub fn merge(&mut self, other: &SlowReport) {
        self.connections += other.connections;
        self.opened += other.opened;
        self.failed_connects += other.failed_connects;
        self.bytes_sent += other.bytes_sent;
        self.closed_by_server += other.closed_by_server;
        for (status, n) in &other.answered {
            *self.answered.entry(*status).or_default() += n;
        }
        let pick = |a: Option<u64>, b: Option<u64>, f: fn(u64, u64) -> u64| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            (a, b) => a.or(b),
        };
        self.closed_after_min_us = pick(
            self.closed_after_min_us,
            other.closed_after_min_us,
            u64::min,
        );
        self.closed_after_max_us = pick(
            self.closed_after_max_us,
            other.closed_after_max_us,
            u64::max,
        );
        self.open_at_end += other.open_at_end;
        self.oldest_open_us = self.oldest_open_us.max(other.oldest_open_us);
    }
}

impl LoadReport {
    /// A report of nothing yet: one run of no clients against `target`.
    pub fn empty(proto: Proto, target: String) -> LoadReport {
        LoadReport {
            proto,
            target,
            clients: 0,
            threads: 0,
            target_rate: None,
            connect_per_request: false,
            runs: 1,
            duration_us: 0,
            requests: 0,
            successes: 0,
            errors: ErrorCounts::default(),
            error_examples: BTreeMap::new(),
            sent: 0,
            missed_sends: 0,
            late_replies: 0,
            bytes_sent: 0,
            bytes_received: 0,
            connections: 0,
            per_client: Vec::new(),
            unfinished: Vec::new(),
            latency: Latency::default(),
            service_time: Latency::default(),
            cpu: CpuTime::default(),
            stopped_early: false,
            slow: None,
            timeline: Timeline::default(),
            all_served_ms: None,
            segments: Vec::new(),
            window: None,
            statuses: BTreeMap::new(),
            hold: None,
        }
    }

    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.duration_us)
    }

    fn per_second(&self, n: u64) -> f64 {
        if self.duration_us == 0 {
            0.0
        } else {
            n as f64 * 1e6 / self.duration_us as f64
        }
    }

    /// Successful requests per second.
    pub fn requests_per_sec(&self) -> f64 {
        self.per_second(self.successes)
    }

    /// Bytes (sent and received) per second.
    pub fn bytes_per_sec(&self) -> f64 {
        self.per_second(self.bytes_sent + self.bytes_received)
    }

    /// Open loop: requests sent per second.
    pub fn send_rate(&self) -> f64 {
        self.per_second(self.sent)
    }

    /// Open loop: whether the rate asked for was reached (within 2%).
    pub fn rate_reached(&self) -> Option<bool> {
        self.target_rate
            .map(|r| self.missed_sends == 0 || self.send_rate() >= 0.98 * r)
    }

    /// Fewest and most successful requests of one client.
    pub fn fairness(&self) -> Option<(u64, u64)> {
        let min = self.per_client.iter().map(|c| c.ok).min()?;
        let max = self.per_client.iter().map(|c| c.ok).max()?;
        Some((min, max))
    }

    /// Generator CPU seconds per 1,000 finished requests.
    pub fn cpu_per_1000(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.cpu.total().as_secs_f64() * 1000.0 / self.requests as f64)
    }

    /// Adds `other` to this report: counts and histograms add; the duration is the span of both wall-clock
    /// windows (the longest, for reports without one: runs on several machines at once); clients are listed one
    /// run after another.
    pub fn merge(&mut self, other: &LoadReport) {
        // Runs on other machines have clocks of their own: their timelines do not line up.
        self.timeline = Timeline::default();
        self.all_served_ms = None;
        if self.target != other.target {
            self.target = format!("{}, {}", self.target, other.target);
        }
        self.clients += other.clients;
        self.threads += other.threads;
        self.target_rate = match (self.target_rate, other.target_rate) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.runs += other.runs;
        self.duration_us = self.duration_us.max(other.duration_us);
        self.requests += other.requests;
        self.successes += other.successes;
        self.errors.merge(&other.errors);
        for (code, n) in &other.statuses {
            *self.statuses.entry(*code).or_default() += n;
        }
        for (kind, example) in &other.error_examples {
            self.error_examples
                .entry(*kind)
                .or_insert_with(|| example.clone());
        }
        self.sent += other.sent;
        self.missed_sends += other.missed_sends;
        self.late_replies += other.late_replies;
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.connections += other.connections;
        let offset = self.per_client.len();
        self.per_client.extend_from_slice(&other.per_client);
        self.unfinished
            .extend(other.unfinished.iter().map(|u| Unfinished {
                client: u.client + offset,
                age_us: u.age_us,
            }));
        self.latency.add(&other.latency);
        self.service_time.add(&other.service_time);
        self.cpu.add(&other.cpu);
        self.stopped_early |= other.stopped_early;
        self.slow = match (self.slow.take(), &other.slow) {
            (Some(mut mine), Some(theirs)) => {
                mine.merge(theirs);
                Some(mine)
            }
            (mine, theirs) => mine.or_else(|| theirs.clone()),
        };
        self.hold = match (self.hold.take(), &other.hold) {
            (Some(mut mine), Some(theirs)) => {
                mine.merge(theirs);
                Some(mine)
            }
            (mine, theirs) => mine.or_else(|| theirs.clone()),
        };
        self.segments.extend_from_slice(&other.segments);
        self.segments.sort();
        self.window = match (self.window, other.window) {
            (Some(a), Some(b)) => Some(a.union(b)),
            _ => None,
        };
        if let Some(window) = self.window {
            self.duration_us = window.span_us();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_survive_json_and_add_exactly() {
        let mut a = Latency::default();
        let mut b = Latency::default();
        for v in [1, 50, 900, 12_000, 3_000_000] {
            a.record(v);
        }
        for v in [7, 7, 40_000] {
            b.record(v);
        }
        let json = serde_json::to_string(&a).unwrap();
        let back: Latency = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
        let mut both = back;
        both.add(&b);
        assert_eq!(both.count(), 8);
        assert_eq!(both.summary().min, 1);
        assert!(both.summary().max >= 3_000_000);
    }

    #[test]
    fn slow_reports_merge_and_survive_json() {
        let mut a = SlowReport {
            connections: 2,
            opened: 2,
            ..SlowReport::default()
        };
        a.record_close(1_000_000, Some(408));
        a.record_close(1_200_000, None);
        let mut b = SlowReport {
            connections: 1,
            opened: 1,
            open_at_end: 1,
            oldest_open_us: 3_000_000,
            ..SlowReport::default()
        };
        b.record_close(900_000, Some(408));
        a.merge(&b);
        assert_eq!(
            (a.connections, a.closed_by_server, a.answered_total()),
            (3, 3, 2)
        );
        assert_eq!(a.answered[&408], 2);
        assert_eq!(
            (a.closed_after_min_us, a.closed_after_max_us),
            (Some(900_000), Some(1_200_000))
        );
        let back: SlowReport = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn hold_reports_merge_and_survive_json() {
        let mut a = HoldReport {
            asked: 3,
            opened: 3,
            answered: 3,
            held: 1,
            open_us: 2_000,
            hold_us: 1_000_000,
            ..HoldReport::default()
        };
        a.record_close(500_000);
        a.record_close(700_000);
        let mut b = HoldReport {
            asked: 2,
            opened: 1,
            answered: 1,
            not_tried: 1,
            open_us: 9_000,
            hold_us: 900_000,
            ..HoldReport::default()
        };
        b.record_close(100_000);
        a.merge(&b);
        assert_eq!((a.asked, a.opened, a.answered, a.held), (5, 4, 4, 1));
        assert_eq!((a.closed_by_server, a.not_tried), (3, 1));
        assert_eq!(
            (a.closed_after_min_us, a.closed_after_max_us),
            (Some(100_000), Some(700_000))
        );
        assert_eq!((a.open_us, a.hold_us), (9_000, 1_000_000));
        let back: HoldReport = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back, a);
        // A report without a hold reads as it did before there were holds.
        let report = LoadReport::empty(Proto::Echo, "127.0.0.1:7".into());
        let text = serde_json::to_string(&report).unwrap();
        assert!(!text.contains("hold"), "{text}");
    }

    #[test]
    fn error_kinds_from_os_errors() {
        let e = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(ErrorKind::of(&e), ErrorKind::Refused);
        let e = std::io::Error::from_raw_os_error(libc::EADDRNOTAVAIL);
        assert_eq!(ErrorKind::of(&e), ErrorKind::PortsExhausted);
        let mut c = ErrorCounts::default();
        c.add(ErrorKind::Timeout, 2);
        c.add(ErrorKind::Reset, 1);
        assert_eq!(c.total(), 3);
        assert_eq!(c.commonest(), Some((ErrorKind::Timeout, 2)));
    }
}
