//! One event-loop thread of the generator: its share of the clients, one `mio` poll, nothing shared on the hot
//! path. The shape is wrk's: sockets registered once (edge-triggered, readable and writable), the request
//! encoded once for everybody, one read buffer per thread, the reply only checked, never kept; per-thread
//! histograms, merged when the run is over.
//!
//! - this file — the loop: wait for events and wake-ups, start what is ready, stop when the run is over.
//! - [`client`] — each client's state machine: idle -> (connecting ->) sending -> receiving -> done, then the
//!   next request; what a finished or failed request counts.
//! - [`tcp`] — connections: opened a few at a time, requests written, replies read, a reused connection that
//!   the server closed retried once.
//! - [`udp`] — udp-echo: a datagram out, the reply with the same sequence number back.
//! - [`ring`] — `--io uring`: the TCP clients' sends and receives as io_uring operations, one
//!   `io_uring_enter` a turn instead of an `epoll_wait` and a `send` and a `recv` per request.
//! - [`timetable`] — when each request is due (open loop) and from when its latency counts.
//!
//! Requests never call each other: a finished request puts its client on the `ready` queue (or the timetable's
//! wake-ups), which the loop drains between polls, so an error that repeats at once cannot recurse. It also
//! means that every reply of a round is read (and timed) before the next requests are written, as wrk does: a
//! reply's timestamp is not padded by the generator's own writes. Each request's start is timed when it is
//! actually written.

mod client;
mod ring;
mod tcp;
mod timetable;
mod udp;

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use mio::{Events, Poll, Token};

use super::Control;
use super::clock::{Clock, Nanos};
use super::config::{LoadConfig, LoadIo};
use super::protocol::Request;
use super::report::{ClientCount, CpuTime, ErrorCounts, ErrorKind, Latency, Unfinished};
use super::status::StatusCounts;
use super::sys::{thread_cpu, thread_cpu_since};
use super::timeline::Recorder;
use super::window::Window;
use client::{Client, Phase};
use ring::Ring;
use tcp::ConnectGate;
use timetable::Timetable;

pub(super) use timetable::first_index_at;

/// What every thread of one run reads.
pub(super) struct Plan<'a> {
    pub config: &'a LoadConfig,
    pub request: Request,
    pub control: &'a Control,
    /// Clients that have not yet finished `min_per_client` requests.
    pub unsatisfied: AtomicUsize,
    /// The run's clock: zero when the run started (the warm-up begins).
    pub clock: Clock,
    /// When measuring starts and ends.
    pub window: Window,
    /// Open loop: the index of the first measured request on the global timetable.
    pub first_measured: u64,
}

/// What one thread found.
#[derive(Default)]
pub(super) struct ThreadResult {
    pub latency: Latency,
    pub service: Latency,
    pub successes: u64,
    pub errors: ErrorCounts,
    pub examples: BTreeMap<ErrorKind, String>,
    /// HTTP replies by status code, successes and bad replies alike.
    pub statuses: StatusCounts,
    pub sent: u64,
    pub late: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub connections: u64,
    pub per_client: Vec<ClientCount>,
    pub unfinished: Vec<Unfinished>,
    pub cpu: CpuTime,
    /// When this thread stopped.
    pub end: Nanos,
    pub timeline: Recorder,
}

/// The longest the loop sleeps without looking at the stop flag.
const STOP_CHECK: Nanos = Nanos::from_millis(20);
/// How long, at most, the replies still on their way when a run ends are waited for (see [`Worker::drain`]).
const DRAIN_BOUND: Nanos = Nanos::from_millis(500);
const READ_BUFFER: usize = 64 * 1024;
/// The timerfd's token; clients are numbered from 0.
const TIMER: Token = Token(usize::MAX);

struct Worker<'a> {
    plan: &'a Plan<'a>,
    poll: Poll,
    /// `--io uring`: the thread's ring, which the TCP clients' I/O goes through instead of the poll.
    ring: Option<Ring>,
    clients: Vec<Client>,
    /// The thread's one read buffer: replies are checked as they come, never kept.
    buf: Vec<u8>,
    /// udp-echo: the datagram being sent, built in place.
    datagram: Vec<u8>,
    /// Clients whose next request starts in the coming round.
    ready: VecDeque<usize>,
    timetable: Timetable,
    gate: ConnectGate,
    /// Requests started and not yet finished.
    in_flight: usize,
    /// Closed loop with `requests`: measured requests this thread may still start.
    tickets: Option<u64>,
    /// When requests in flight are next checked for their deadline, and how often.
    next_scan: Nanos,
    scan_every: Nanos,
    progress: Progress,
    /// Sockets open now (for the timeline).
    open: u64,
    /// The run is over: replies still arriving are read, so the connection ends cleanly, but not counted (a
    /// request that ends now goes to `drained` instead of `complete` or `fail`).
    draining: bool,
    out: ThreadResult,
}

/// Runs the clients `first..first + count` until the run is over.
pub(super) fn run_thread(
    plan: &Plan<'_>,
    first: usize,
    count: usize,
    tickets: Option<u64>,
    max_connecting: usize,
) -> io::Result<ThreadResult> {
    let cpu_before = thread_cpu();
    let config = plan.config;
    let timetable = Timetable::new(config, plan.first_measured);
    let open = timetable.is_open_loop();
    let timeout = Nanos::from_duration(config.timeout);
    let mut w = Worker {
        plan,
        poll: Poll::new()?,
        ring: match config.io {
            LoadIo::Uring => Some(Ring::new(count, config.target)?),
            LoadIo::Epoll => None,
        },
        clients: (first..first + count)
            .map(|index| Client::new(index, config, &plan.request))
            .collect(),
        buf: vec![0; READ_BUFFER],
        datagram: Vec::new(),
        ready: VecDeque::new(),
        timetable,
        gate: ConnectGate::new(max_connecting),
        in_flight: 0,
        tickets: if open { None } else { tickets },
        next_scan: Nanos::ZERO,
        scan_every: Nanos::from_nanos((timeout.as_nanos() / 4).clamp(1_000_000, 10_000_000)),
        progress: Progress::default(),
        open: 0,
        draining: false,
        out: ThreadResult::default(),
    };
    let ran = w.run();
    // The run's CPU: what the drain spends after it serves no counted request.
    let cpu = thread_cpu_since(cpu_before);
    if ran.is_ok() {
        // Uncounted, so a failure here loses nothing measured.
        let _ = w.drain();
    }
    w.ring_release();
    ran?;
    let mut out = w.finish();
    out.cpu = cpu;
    Ok(out)
}

impl Worker<'_> {
    fn now(&self) -> Nanos {
        self.plan.clock.now()
    }

    fn run(&mut self) -> io::Result<()> {
        if self.ring.is_some() {
            // The ring's wait takes a timeout to the nanosecond: no timerfd needed for the slots.
            self.timetable.precise_wakeups();
        } else {
            self.timetable.start_timer(self.poll.registry(), TIMER)?;
        }
        for i in 0..self.clients.len() {
            self.next_request(i, Nanos::ZERO);
        }
        let mut events = Events::with_capacity(1024);
        loop {
            let now = self.now();
            while let Some(i) = self.timetable.pop_due(now) {
                self.ready.push_back(i);
            }
            self.drain_ready(now);
            if self.should_stop(now) {
                self.out.end = now;
                self.note_unfinished();
                break;
            }
            if self.in_flight > 0 && now >= self.next_scan {
                self.scan_timeouts(now);
                self.next_scan = now + self.scan_every;
                if !self.ready.is_empty() {
                    continue;
                }
            }
            let wait = self.wait_until(now).saturating_sub(now);
            if self.ring.is_some() {
                self.ring_turn(wait)?;
            } else {
                self.timetable.arm(now);
                self.epoll_turn(&mut events, wait)?;
            }
            self.progress.publish_now_and_then(self.plan.control, now);
            self.out.timeline.open(now, self.open);
        }
        Ok(())
    }

    /// The run is over, and some requests are still out: their replies are read (for at most the request
    /// timeout, and [`DRAIN_BOUND`]) and not counted, so that every connection ends with the client's close
    /// after a reply, as a user's client ends it. Closing with a request in flight would make the server's
    /// reply meet a reset: servers log it ("Connection reset by peer", a Python traceback) after every run.
    /// Not after Ctrl-C, which stops at once; not for udp-echo, which has no connection to end.
    fn drain(&mut self) -> io::Result<()> {
        if self.plan.control.stop_requested()
            || self.plan.config.proto == crate::protocol::Proto::UdpEcho
        {
            return Ok(());
        }
        self.draining = true;
        for i in 0..self.clients.len() {
            let c = &mut self.clients[i];
            // Nothing of what follows is measured: not the bytes of the replies read, not the requests.
            c.measured = false;
            // A connection not yet up (or not yet begun) carries no request: closing it now is an accept and an
            // end of input for the server, and no request starts after the end.
            if matches!(c.phase, Phase::Connecting | Phase::SlotWait) {
                c.phase = Phase::Done;
                self.in_flight -= 1;
                self.close(i);
            }
        }
        let start = self.now();
        let bound = Nanos::from_duration(self.plan.config.timeout).min(DRAIN_BOUND);
        let mut events = Events::with_capacity(1024);
        loop {
            let now = self.now();
            if self.in_flight == 0 || now >= start + bound || self.plan.control.stop_requested() {
                return Ok(());
            }
            let wait = (start + bound).min(now + STOP_CHECK).saturating_sub(now);
            if self.ring.is_some() {
                self.ring_turn(wait)?;
            } else {
                self.epoll_turn(&mut events, wait)?;
            }
        }
    }

    /// Waits for events (at most `wait`) and handles them.
    fn epoll_turn(&mut self, events: &mut Events, wait: Nanos) -> io::Result<()> {
        match self.poll.poll(events, Some(wait.to_duration())) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            if event.token() == TIMER {
                self.timetable.on_timer();
                continue;
            }
            let i = event.token().0;
            let closed = event.is_read_closed() || event.is_error();
            self.on_event(i, event.is_readable() || closed, closed);
        }
        Ok(())
    }

    fn should_stop(&self, now: Nanos) -> bool {
        let plan = self.plan;
        if plan.control.stop_requested() || now >= plan.window.hard_end() {
            return true;
        }
        if now >= plan.window.end() && plan.unsatisfied.load(Ordering::Relaxed) == 0 {
            return true;
        }
        // Every client has done its share (or is out of time and idle).
        self.in_flight == 0
            && self.ready.is_empty()
            && self.timetable.nobody_waits()
            && self.gate.nobody_waits()
    }

    fn wait_until(&self, now: Nanos) -> Nanos {
        let plan = self.plan;
        if !self.ready.is_empty() {
            return now;
        }
        let mut until = now + STOP_CHECK;
        if let Some(wakeup) = self.timetable.poll_deadline() {
            until = until.min(wakeup);
        }
        if self.in_flight > 0 {
            until = until.min(self.next_scan);
        }
        let end = plan.window.end();
        if now < end {
            until = until.min(end);
        }
        until.min(plan.window.hard_end())
    }

    /// Whether new requests may start now.
    fn accepting(&self, now: Nanos) -> bool {
        let plan = self.plan;
        if plan.control.stop_requested() || now >= plan.window.hard_end() {
            return false;
        }
        now < plan.window.end() || plan.unsatisfied.load(Ordering::Relaxed) > 0
    }

    fn drain_ready(&mut self, now: Nanos) {
        // Only those queued now: a client that fails at once queues itself again for the next round.
        for _ in 0..self.ready.len() {
            let Some(i) = self.ready.pop_front() else {
                break;
            };
            self.begin(i, now);
        }
    }

    fn scan_timeouts(&mut self, now: Nanos) {
        for i in 0..self.clients.len() {
            let c = &self.clients[i];
            if c.in_flight() && c.deadline <= now {
                let message = format!(
                    "no complete reply within {}",
                    humantime::format_duration(self.plan.config.timeout)
                );
                self.fail(i, now, ErrorKind::Timeout, &message);
            }
        }
    }

    /// The requests still out when the run ended: measured ones are reported as unfinished.
    fn note_unfinished(&mut self) {
        let end = self.out.end;
        let window = self.window_counts();
        for c in &self.clients {
            if c.in_flight() && (c.measured || window) {
                self.out.unfinished.push(Unfinished {
                    client: c.index,
                    age_us: end.saturating_sub(c.scheduled).as_micros(),
                });
            }
        }
    }

    fn finish(mut self) -> ThreadResult {
        self.progress.publish(self.plan.control);
        self.out.per_client = self.clients.iter().map(|c| c.count).collect();
        self.out
    }
}

/// Requests finished since the caller was last told, for its live rate ([`Control::completed`]). Told in
/// batches, not per request, so that the threads do not fight over one cache line.
#[derive(Default)]
struct Progress {
    finished: u64,
    /// Of which errors.
    errors: u64,
    next_publish: Nanos,
}

/// How often a thread publishes its progress at most (or every so many requests).
const PUBLISH_EVERY: Nanos = Nanos::from_millis(10);
const PUBLISH_BATCH: u64 = 1024;

impl Progress {
    fn count(&mut self, error: bool) {
        self.finished += 1;
        self.errors += u64::from(error);
    }

    /// Publishes after a batch of requests, or when the last publication is old enough.
    fn publish_now_and_then(&mut self, control: &Control, now: Nanos) {
        if self.finished >= PUBLISH_BATCH || (self.finished > 0 && now >= self.next_publish) {
            self.publish(control);
            self.next_publish = now + PUBLISH_EVERY;
        }
    }

    fn publish(&mut self, control: &Control) {
        control
            .completed
            .fetch_add(self.finished, Ordering::Relaxed);
        if self.errors > 0 {
            control.errors.fetch_add(self.errors, Ordering::Relaxed);
        }
        self.finished = 0;
        self.errors = 0;
    }
}
