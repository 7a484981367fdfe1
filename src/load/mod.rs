//! The load generator: many clients against one server, latency measured without lying.
//!
//! - [`config`] — what a run is asked to do ([`LoadConfig`]).
//! - [`protocol`] — the client side of each protocol, sans-IO: the request encoded once, replies checked.
//! - `engine` (private) — one `mio` event loop per thread, a state machine per client: TCP, UDP, the open-loop
//!   timetable, each in a file of its own.
//! - [`report`] — what a run found ([`LoadReport`]): counts, errors by kind, fairness.
//! - [`latency`] — latency distributions as HdrHistograms, written in their V2 format, added exactly.
//! - [`merge`] — results as JSON files, and merging runs made on several machines.
//! - [`print`](mod@print) — the human summary.
//! - [`segment`] — one run split across machines (`--segment I/N`): which part of it this process runs.
//! - [`start`] — when a run starts (`--start-at`), and the wall-clock window it measured.
//! - [`status`] — HTTP replies by status code, and which codes count as a success (`--expect-status`).
//! - [`target`] — what a run is aimed at, as people type it: a URL or `HOST:PORT`.
//! - `hold` (private) — `--hold N`: N connections opened, answered once and held open (the client side of C10K).
//! - `slow` (private) — slowloris connections beside the clients (`--slow`), on a thread of their own.
//! - `mismatch` (private) — a server of another protocol than the one asked for, named with the fix.
//! - `backoff` (private) — how long a client waits before trying a refused connection again.
//! - `connect` (private) — a connection opened and registered with a poll, for the clients and the slow ones.
//! - `clock` (private) — the run's time: `Nanos` since its start, no bare integers.
//! - `sys` (private) — timerfd, per-thread CPU time, UDP sockets.
//!
//! The engine is a library call, so an experiment can drive it in-process:
//! ```
//! use serverlab::models::{Model, ServerConfig};
//! use serverlab::protocol::Proto;
//! use serverlab::load::{Control, LoadConfig};
//! use serverlab::server::Server;
//!
//! let config = ServerConfig::new(Proto::Echo, Model::Threads, "127.0.0.1:0".parse().unwrap());
//! let server = Server::bind(config).unwrap().spawn().unwrap();
//! let mut load = LoadConfig::new(Proto::Echo, server.addr());
//! load.clients = 2;
//! load.requests = Some(100);
//! load.duration = None;
//! let report = serverlab::load::run(&load, &Control::new()).unwrap();
//! assert_eq!(report.successes, 100);
//! assert_eq!(report.requests, report.successes + report.errors.total());
//! server.stop().unwrap();
//! ```

//!
//! An experiment's cell (the classroom client: connect, ask, read, close, start over; about 1.5 s, but at least
//! until every client has finished 2 requests, never more than 10 s) is
//! `LoadConfig { connect_per_request: true, duration: Some(1.5 s), min_per_client: 2, max_duration: Some(10 s), .. }`.
//! Meanwhile another thread may sample [`Control::completed`] for a live rate, or call [`Control::stop`]. Requests
//! still waiting when the run ends are in [`LoadReport::unfinished`] with their age; the generator's own CPU time
//! (its threads only, not the process: a server may share the process) is in [`LoadReport::cpu`].

mod backoff;
mod clock;
pub mod config;
mod connect;
mod engine;
mod hold;
pub mod latency;
pub mod merge;
mod mismatch;
pub mod print;
pub mod protocol;
pub mod report;
pub mod segment;
mod slow;
pub mod start;
pub mod status;
mod sys;
pub mod target;
pub mod timeline;
mod window;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Instant, SystemTime};

pub use config::{LoadConfig, LoadIo, Payload};
pub use report::{ErrorKind, HoldReport, LoadReport, SlowReport};

use crate::settings::ConfigError;
use clock::{Clock, Nanos};
use engine::{Plan, first_index_at, run_thread};
use protocol::{HttpRequest, Request};
use segment::Part;
use slow::{SlowPlan, run_slow};
use timeline::Recorder;
use window::Window;

/// The caller's handle on a running load: stop it from any thread, and watch its progress.
#[derive(Debug, Default)]
pub struct Control {
    stop: Arc<AtomicBool>,
    /// Requests finished so far, successes and errors, warm-up included (each thread adds its count every 10 ms or
    /// 1,024 requests).
    completed: AtomicU64,
    /// Of which errors.
    errors: AtomicU64,
    /// `--hold`: every connection is open (or has failed) and the hold has begun.
    holding: AtomicBool,
}

impl Control {
    pub fn new() -> Control {
        Control::default()
    }

    /// Ends the run soon (within a few tens of milliseconds); the report still comes, marked `stopped_early`.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The flag behind [`Control::stop`], for signal handlers (`signal_hook::flag::register`).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Requests finished so far (successes and errors, warm-up included): sample it to show a live rate.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Failed requests so far (warm-up included).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// `--hold`: whether the connections are all open and being held, the moment to measure the server. Then
    /// [`Control::completed`] less [`Control::errors`] is how many were answered.
    pub fn holding(&self) -> bool {
        self.holding.load(Ordering::Relaxed)
    }
}

/// Why a run could not be made at all (failed requests are results, not errors).
#[derive(Debug)]
pub enum LoadError {
    Config(ConfigError),
    Io(std::io::Error),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Config(e) => write!(f, "{e}"),
            LoadError::Io(e) => write!(f, "load generator failed: {e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// Checks that this process may open a file for every connection (raising its soft limit if needed): 1,000
/// clients need more than the usual soft limit.
pub fn check_open_files(config: &LoadConfig) -> Result<(), ConfigError> {
    let part = Part::of(config);
    if let Ok(limit) = crate::net::raise_fd_limit() {
        let (connections, flags) = match config.hold {
            Some(n) => (n, format!("--hold {n} connections")),
            None => (
                part.clients + part.slow,
                format!("--clients {} (and --slow {})", part.clients, part.slow),
            ),
        };
        let needed = connections as u64 + 64;
        if limit < needed {
            return Err(ConfigError::new(format!(
                "{flags} need about {needed} open files, but this process may have only {limit} (raise the \
                 hard limit: ulimit -Hn)"
            )));
        }
    }
    Ok(())
}

/// Checks that something listens at the target before any client starts (not for udp-echo, which has no
/// connection): a refused first connection is then one line at once, not a run of nothing but refused attempts
/// (about ten a second per client, with the backoff). Other failures (a timeout, an unreachable host) are left to
/// the run, which counts them by kind.
pub fn check_listening(config: &LoadConfig) -> Result<(), String> {
    if config.proto.is_datagram() {
        return Ok(());
    }
    match std::net::TcpStream::connect_timeout(&config.target, config.timeout) {
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => Err(format!(
            "nothing is listening on {} (connection refused)",
            config.target
        )),
        _ => Ok(()),
    }
}

/// Runs a load as `config` says until it is over or `control` stops it, on `config.threads` threads of its own;
/// returns what it found. With `config.hold`, holds connections instead, on the calling thread (see `hold.rs`).
pub fn run(config: &LoadConfig, control: &Control) -> Result<LoadReport, LoadError> {
    config.validate().map_err(LoadError::Config)?;
    check_open_files(config).map_err(LoadError::Config)?;
    if config.io == LoadIo::Uring {
        crate::uring::check_available("--io uring")
            .map_err(|why| LoadError::Config(ConfigError::new(why)))?;
    }
    if config.hold.is_some() {
        return hold::run(config, control);
    }
    let part = Part::of(config);
    if let Some(at) = config.start_at {
        start::wait_until(at, control).map_err(LoadError::Config)?;
    }
    let threads = config.effective_threads();
    let n = part.clients;
    let request = request_of(config);
    let warm = Nanos::from_duration(config.warmup);
    let window = Window::new(
        warm,
        config.duration.map(Nanos::from_duration),
        config.max_duration.map(Nanos::from_duration),
        config
            .ramp_limit
            .map(|limit| (n, Nanos::from_duration(limit))),
    );
    let first_measured = match config.rate {
        Some(rate) => first_index_at(warm, rate),
        None => 0,
    };
    let max_connecting = (config.connect_batch / threads).max(1);
    let clients_done = AtomicBool::new(false);
    let slow_settled = AtomicUsize::new(0);
    // A part keeps its share of the slow connections.
    let slow_config = LoadConfig {
        slow: part.slow,
        ..config.clone()
    };
    let slow_plan = SlowPlan {
        config: &slow_config,
        control,
        clock: Clock::start(),
        over: &clients_done,
        settled: &slow_settled,
    };
    let (results, slow, wall_start, warm, ready_at) = std::thread::scope(|scope| {
        let slow = (part.slow > 0).then(|| {
            std::thread::Builder::new()
                .name("load-slow".into())
                .spawn_scoped(scope, || run_slow(&slow_plan))
        });
        // The attack is in place before the clients come, as it would be: they start once every slow connection
        // is up (or has failed once), a second at most. The run's clock starts with them.
        let gate = Instant::now();
        while part.slow > 0
            && slow_settled.load(Ordering::Relaxed) < part.slow
            && gate.elapsed() < std::time::Duration::from_secs(1)
            && !control.stop_requested()
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // The run's zero by the wall clock, for its window.
        let wall_start = SystemTime::now();
        let plan = Plan {
            config,
            request,
            control,
            unsatisfied: AtomicUsize::new(if config.min_per_client > 0 { n } else { 0 }),
            clock: Clock::start(),
            window,
            first_measured,
        };
        let results = run_clients(&plan, &part, threads, max_connecting);
        let warm = plan.window.warm();
        let ready_at = plan.window.ready_at();
        // The slow connections end with the clients.
        clients_done.store(true, Ordering::Relaxed);
        let slow = slow.map(|h| match h {
            Ok(h) => h
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the slow thread panicked"))),
            Err(e) => Err(e),
        });
        (results, slow, wall_start, warm, ready_at)
    });
    let mut report = LoadReport {
        clients: n,
        threads,
        target_rate: part.rate,
        connect_per_request: config.connect_per_request,
        per_client: Vec::with_capacity(n),
        stopped_early: control.stop_requested(),
        all_served_ms: ready_at.map(|at| at.as_micros() as f64 / 1000.0),
        segments: config.segment.into_iter().collect(),
        ..LoadReport::empty(config.proto, config.target.to_string())
    };
    let mut timeline = Recorder::default();
    if let Some(slow) = slow {
        let (slow, cpu) = slow.map_err(LoadError::Io)?;
        report.slow = Some(slow);
        report.cpu.add(&cpu);
    }
    let mut end = Nanos::ZERO;
    for result in results {
        let r = result.map_err(LoadError::Io)?;
        end = end.max(r.end);
        report.successes += r.successes;
        report.errors.merge(&r.errors);
        r.statuses.add_to(&mut report.statuses);
        for (kind, example) in r.examples {
            report.error_examples.entry(kind).or_insert(example);
        }
        report.sent += r.sent;
        report.late_replies += r.late;
        report.bytes_sent += r.bytes_sent;
        report.bytes_received += r.bytes_received;
        report.connections += r.connections;
        report.per_client.extend(r.per_client);
        // Numbered within this report, like `per_client`.
        report
            .unfinished
            .extend(r.unfinished.into_iter().map(|u| report::Unfinished {
                client: u.client - part.first_client,
                ..u
            }));
        report.latency.add(&r.latency);
        report.service_time.add(&r.service);
        report.cpu.add(&r.cpu);
        timeline.merge(r.timeline);
    }
    report.timeline = timeline.finish(warm);
    report.requests = report.successes + report.errors.total();
    report.duration_us = end.saturating_sub(warm).as_micros();
    let measured_from = start::unix_micros(wall_start) + warm.as_micros();
    report.window = Some(start::WallClockWindow {
        start_unix_us: measured_from,
        end_unix_us: measured_from + report.duration_us,
    });
    if let Some(rate) = config.rate {
        // Sends the timetable called for between the end of the warm-up and the end of the run: the end of the
        // measured window, not the moment the last thread noticed it (a busy machine notices a few ms late, and
        // the slots of those ms were never asked for).
        let window_end = config
            .duration
            .map_or(end, |d| end.min(warm + Nanos::from_duration(d)));
        let mut due_by_end = first_index_at(window_end, rate).max(first_measured);
        if let Some(m) = config.requests {
            due_by_end = due_by_end.min(first_measured + m);
        }
        // A part is due only its own clients' slots.
        let expected = part.slots(first_measured..due_by_end);
        report.missed_sends = expected.saturating_sub(report.sent);
    }
    Ok(report)
}

/// The request of a run, encoded once for every client.
fn request_of(config: &LoadConfig) -> Request {
    let host = config
        .host
        .clone()
        .unwrap_or_else(|| config.target.to_string());
    let message = config.payload.bytes(config.proto);
    let mut request = match config.proto {
        crate::protocol::Proto::Http => Request::http(
            &HttpRequest {
                method: &config.method,
                path: &config.path,
                host: &host,
                headers: &config.headers,
                body: &config.body,
            },
            config.connect_per_request,
        ),
        proto => Request::new(proto, &message, "", "", config.connect_per_request),
    };
    request.expect_status = config.expect_status.clone();
    request
}

/// Runs this part's clients on `threads` event-loop threads, each with its share, until the run is over.
fn run_clients(
    plan: &Plan<'_>,
    part: &Part,
    threads: usize,
    max_connecting: usize,
) -> Vec<std::io::Result<engine::ThreadResult>> {
    let n = part.clients;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let first = part.first_client + t * n / threads;
                let end = part.first_client + (t + 1) * n / threads;
                let tickets = part.requests.map(|m| {
                    let share = |c: usize| (u128::from(m) * c as u128 / n as u128) as u64;
                    share(end - part.first_client) - share(first - part.first_client)
                });
                std::thread::Builder::new()
                    .name(format!("load-{t}"))
                    .spawn_scoped(scope, move || {
                        run_thread(plan, first, end - first, tickets, max_connecting)
                    })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("a load thread panicked"))),
                Err(e) => Err(e),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_config_is_refused_before_anything_runs() {
        let mut config =
            LoadConfig::new(crate::protocol::Proto::Echo, "127.0.0.1:9".parse().unwrap());
        config.clients = 0;
        assert!(matches!(
            run(&config, &Control::new()),
            Err(LoadError::Config(_))
        ));
    }
}
