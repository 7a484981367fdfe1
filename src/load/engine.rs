//! One event-loop thread of the generator: its share of the clients, one `mio` poll, nothing shared on the hot
//! path. The shape is wrk's: sockets registered once (edge-triggered, readable and writable), the request
//! encoded once for everybody, one read buffer per thread, the reply only checked, never kept; per-thread
//! histograms, merged when the run is over.
//!
//! Each client is a small state machine: idle -> (connecting ->) sending -> receiving -> done, then the next
//! request. A closed loop starts the next request as soon as the last one finished; an open loop waits for the
//! client's next slot on a fixed timetable (client `i` of `N` sends requests `i, i+N, i+2N...`, request `j` due at
//! `j / rate` seconds) and measures latency from that slot, however late the send was.
//!
//! Requests never call each other: a finished request puts its client on the `ready` queue (or the timer heap),
//! which the loop drains between polls, so an error that repeats at once cannot recurse. It also means that every
//! reply of a round is read (and timed) before the next requests are written, as wrk does: a reply's timestamp is
//! not padded by the generator's own writes. Each request's start is timed when it is actually written.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mio::net::{TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token};

use super::Control;
use super::backoff::Backoff;
use super::config::LoadConfig;
use super::connect::{ConnectError, connect, connected, register};
use super::protocol::{Checker, Datagram, Feed, Request, check_datagram};
use super::report::{ClientCount, CpuTime, ErrorCounts, ErrorKind, Latency, Unfinished};
use super::sys::{Timer, thread_cpu, thread_cpu_since, udp_socket};
use crate::protocol::Proto;

/// What every thread of one run reads.
pub(super) struct Plan<'a> {
    pub config: &'a LoadConfig,
    pub request: Request,
    pub control: &'a Control,
    /// Clients that have not yet finished `min_per_client` requests.
    pub unsatisfied: AtomicUsize,
    /// When the run started (the warm-up begins); every time below is nanoseconds since then.
    pub t0: Instant,
    /// Measuring starts here.
    pub warm_ns: u64,
    /// No new request after this (unless clients still owe `min_per_client`).
    pub end_ns: u64,
    /// Nothing at all after this.
    pub hard_end_ns: u64,
    /// Open loop: the index of the first measured request on the global timetable.
    pub first_measured: u64,
}

impl Plan<'_> {
    /// Open loop: when request `j` of the global timetable is due.
    fn due(&self, j: u64) -> u64 {
        let rate = self.config.rate.expect("open loop");
        (j as f64 * 1e9 / rate) as u64
    }
}

/// What one thread found.
#[derive(Default)]
pub(super) struct ThreadResult {
    pub latency: Latency,
    pub service: Latency,
    pub successes: u64,
    pub errors: ErrorCounts,
    pub examples: BTreeMap<ErrorKind, String>,
    pub sent: u64,
    pub late: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub connections: u64,
    pub per_client: Vec<ClientCount>,
    pub unfinished: Vec<Unfinished>,
    pub cpu: CpuTime,
    /// When this thread stopped (ns since t0).
    pub end_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests, holding its connection (if any) open.
    Idle,
    /// Waiting for a slot to open its first connection.
    SlotWait,
    Connecting,
    Sending,
    Receiving,
    /// Its share of the requests is done.
    Done,
}

enum Sock {
    None,
    Tcp(TcpStream),
    Udp(UdpSocket),
}

struct Client {
    /// Index among all clients of the run.
    index: usize,
    sock: Sock,
    phase: Phase,
    /// The connection already carried a request (a close before any byte of the next reply is then retried once,
    /// as HTTP clients do with idempotent requests on a reused connection).
    reused: bool,
    retried: bool,
    /// Has opened a connection before (only first connections wait for a slot).
    ever_connected: bool,
    written: usize,
    checker: Checker,
    /// When the current request was due (open loop) or started (closed loop).
    sched: u64,
    /// When it actually started.
    start: u64,
    deadline: u64,
    measured: bool,
    /// Open loop: the index of this client's next request on the global timetable.
    next_j: u64,
    /// udp-echo: the sequence number of the request in flight.
    seq: u64,
    count: ClientCount,
    satisfied: bool,
    /// Starts no request before this (ns since t0): it is waiting after a refused connection.
    not_before: u64,
    backoff: Backoff,
}

impl Client {
    fn in_flight(&self) -> bool {
        matches!(
            self.phase,
            Phase::Connecting | Phase::Sending | Phase::Receiving
        )
    }
}

/// How long a client waits after "no local port free" before it tries again.
const PORTS_BACKOFF_NS: u64 = 10_000_000;
/// The longest the loop sleeps without looking at the stop flag.
const STOP_CHECK_NS: u64 = 20_000_000;
const READ_BUFFER: usize = 64 * 1024;
/// The timerfd's token; clients are numbered from 0.
const TIMER: Token = Token(usize::MAX);
/// How often a thread publishes its progress at most.
const PUBLISH_EVERY_NS: u64 = 10_000_000;

struct Worker<'a> {
    plan: &'a Plan<'a>,
    poll: Poll,
    clients: Vec<Client>,
    buf: Vec<u8>,
    datagram: Vec<u8>,
    ready: VecDeque<usize>,
    slot_wait: VecDeque<usize>,
    timers: BinaryHeap<Reverse<(u64, usize)>>,
    /// Wakes the loop for the earliest of `timers` (open loop only).
    timer: Option<Timer>,
    connecting: usize,
    max_connecting: usize,
    in_flight: usize,
    /// Closed loop with `requests`: measured requests this thread may still start.
    tickets: Option<u64>,
    /// Open loop with `requests`: the global timetable ends before this index.
    last_j: u64,
    open: bool,
    next_scan: u64,
    scan_every: u64,
    /// Requests finished since progress was last published to the caller.
    progress: u64,
    /// Of which errors.
    progress_errors: u64,
    next_publish: u64,
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
    let open = config.rate.is_some();
    let clients = (first..first + count)
        .map(|index| Client {
            index,
            sock: Sock::None,
            phase: Phase::Idle,
            reused: false,
            retried: false,
            ever_connected: false,
            written: 0,
            checker: Checker::new(config.proto),
            sched: 0,
            start: 0,
            deadline: u64::MAX,
            measured: false,
            next_j: index as u64,
            seq: 0,
            count: ClientCount::default(),
            satisfied: config.min_per_client == 0,
            not_before: 0,
            backoff: Backoff::default(),
        })
        .collect();
    let timeout_ns = config.timeout.as_nanos() as u64;
    let mut w = Worker {
        plan,
        poll: Poll::new()?,
        clients,
        buf: vec![0; READ_BUFFER],
        datagram: Vec::new(),
        ready: VecDeque::new(),
        slot_wait: VecDeque::new(),
        timers: BinaryHeap::new(),
        timer: None,
        connecting: 0,
        max_connecting: max_connecting.max(1),
        in_flight: 0,
        tickets: if open { None } else { tickets },
        last_j: match (open, config.requests) {
            (true, Some(m)) => plan.first_measured + m,
            _ => u64::MAX,
        },
        open,
        next_scan: 0,
        scan_every: (timeout_ns / 4).clamp(1_000_000, 10_000_000),
        progress: 0,
        progress_errors: 0,
        next_publish: 0,
        out: ThreadResult::default(),
    };
    w.run()?;
    let mut out = w.finish();
    out.cpu = thread_cpu_since(cpu_before);
    Ok(out)
}

impl Worker<'_> {
    fn now(&self) -> u64 {
        self.plan.t0.elapsed().as_nanos() as u64
    }

    fn run(&mut self) -> io::Result<()> {
        // Open-loop sends are due to the microsecond: a timerfd wakes the loop for them. The thread's timer slack
        // (50 us by default) goes too, for the same reason.
        if self.open {
            let timer = Timer::new()?;
            self.poll.registry().register(
                &mut mio::unix::SourceFd(&timer.raw()),
                TIMER,
                Interest::READABLE,
            )?;
            self.timer = Some(timer);
            // SAFETY: PR_SET_TIMERSLACK takes a plain integer.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
        }
        for i in 0..self.clients.len() {
            self.next_request(i, 0);
        }
        let mut events = Events::with_capacity(1024);
        loop {
            let now = self.now();
            self.drain_timers(now);
            self.drain_ready(now);
            if self.should_stop(now) {
                self.out.end_ns = now;
                break;
            }
            if self.in_flight > 0 && now >= self.next_scan {
                self.scan_timeouts(now);
                self.next_scan = now + self.scan_every;
                if !self.ready.is_empty() {
                    continue;
                }
            }
            if let (Some(timer), Some(Reverse((due, _)))) = (&mut self.timer, self.timers.peek()) {
                timer.arm(*due, now);
            }
            let wait = self.wait_until(now).saturating_sub(now);
            match self
                .poll
                .poll(&mut events, Some(Duration::from_nanos(wait)))
            {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            for event in events.iter() {
                if event.token() == TIMER {
                    if let Some(timer) = &mut self.timer {
                        timer.clear();
                    }
                    continue;
                }
                let i = event.token().0;
                let closed = event.is_read_closed() || event.is_error();
                self.on_event(i, event.is_readable() || closed, closed);
            }
            // Progress is shared with the caller: published in batches, not per request, so that the threads
            // do not fight over one cache line.
            if self.progress >= 1024 || (self.progress > 0 && now >= self.next_publish) {
                self.publish();
                self.next_publish = now + PUBLISH_EVERY_NS;
            }
        }
        Ok(())
    }

    /// Tells the caller how many requests finished since last time.
    fn publish(&mut self) {
        let control = self.plan.control;
        control
            .completed
            .fetch_add(self.progress, Ordering::Relaxed);
        if self.progress_errors > 0 {
            control
                .errors
                .fetch_add(self.progress_errors, Ordering::Relaxed);
        }
        self.progress = 0;
        self.progress_errors = 0;
    }

    fn should_stop(&self, now: u64) -> bool {
        let plan = self.plan;
        if plan.control.stop_requested() || now >= plan.hard_end_ns {
            return true;
        }
        if now >= plan.end_ns && plan.unsatisfied.load(Ordering::Relaxed) == 0 {
            return true;
        }
        // Every client has done its share (or is out of time and idle).
        self.in_flight == 0
            && self.ready.is_empty()
            && self.timers.is_empty()
            && self.slot_wait.is_empty()
    }

    fn wait_until(&self, now: u64) -> u64 {
        let plan = self.plan;
        if !self.ready.is_empty() {
            return now;
        }
        let mut until = now + STOP_CHECK_NS;
        if self.timer.is_none()
            && let Some(Reverse((due, _))) = self.timers.peek()
        {
            until = until.min(*due);
        }
        if self.in_flight > 0 {
            until = until.min(self.next_scan);
        }
        if now < plan.end_ns {
            until = until.min(plan.end_ns);
        }
        until.min(plan.hard_end_ns)
    }

    /// Whether new requests may start now.
    fn accepting(&self, now: u64) -> bool {
        let plan = self.plan;
        if plan.control.stop_requested() || now >= plan.hard_end_ns {
            return false;
        }
        now < plan.end_ns || plan.unsatisfied.load(Ordering::Relaxed) > 0
    }

    fn drain_timers(&mut self, now: u64) {
        while let Some(Reverse((due, i))) = self.timers.peek().copied() {
            if due > now {
                break;
            }
            self.timers.pop();
            self.ready.push_back(i);
        }
    }

    fn drain_ready(&mut self, now: u64) {
        // Only those queued now: a client that fails at once queues itself again for the next round.
        for _ in 0..self.ready.len() {
            let Some(i) = self.ready.pop_front() else {
                break;
            };
            self.begin(i, now);
        }
    }

    /// Decides when client `i` sends next: at once (closed loop), at its next slot (open loop), or never.
    fn next_request(&mut self, i: usize, now: u64) {
        let c = &mut self.clients[i];
        if self.open {
            let j = c.next_j;
            if j >= self.last_j {
                return self.done(i);
            }
            let due = self.plan.due(j);
            c.sched = due;
            c.phase = Phase::Idle;
            if due <= now {
                self.ready.push_back(i);
            } else {
                self.timers.push(Reverse((due, i)));
            }
        } else {
            c.phase = Phase::Idle;
            self.ready.push_back(i);
        }
    }

    /// Client `i` has nothing left to send: it hangs up, as a real client would (a sequential server is serving
    /// it to the end, and others wait behind it).
    fn done(&mut self, i: usize) {
        self.clients[i].phase = Phase::Done;
        self.close(i);
    }

    /// Starts client `i`'s next request, if the run and its share allow.
    fn begin(&mut self, i: usize, now: u64) {
        if !self.accepting(now) {
            return;
        }
        // Still waiting after a refused connection (or no free local port): come back then.
        let not_before = self.clients[i].not_before;
        if now < not_before {
            self.timers.push(Reverse((not_before, i)));
            return;
        }
        // A fresh clock: `now` was read before this round's earlier sends, each a system call.
        let now = self.now();
        let plan = self.plan;
        let c = &mut self.clients[i];
        let sched = if self.open { c.sched } else { now };
        let measured = sched >= plan.warm_ns;
        if !self.open && measured {
            match &mut self.tickets {
                Some(0) => return self.done(i),
                Some(t) => *t -= 1,
                None => {}
            }
        }
        if self.open {
            c.next_j += plan.config.clients as u64;
        }
        c.sched = sched;
        c.start = now;
        c.deadline = now + plan.config.timeout.as_nanos() as u64;
        c.measured = measured;
        c.retried = false;
        c.written = 0;
        c.checker.reset();
        if measured {
            self.out.sent += 1;
        }
        self.in_flight += 1;
        self.open_and_send(i, now);
    }

    /// Sends the current request, opening a socket first when there is none.
    fn open_and_send(&mut self, i: usize, now: u64) {
        let proto = self.plan.config.proto;
        if !matches!(self.clients[i].sock, Sock::None) {
            self.send(i, now);
            return;
        }
        if proto == Proto::UdpEcho {
            match udp_socket(self.plan.config.target) {
                Ok(mut s) => {
                    if let Err(e) = register(self.poll.registry(), &mut s, Token(i)) {
                        return self.fail(i, now, ErrorKind::Other, &e.to_string());
                    }
                    self.clients[i].sock = Sock::Udp(s);
                    self.send(i, now);
                }
                Err(e) => self.fail(i, now, ErrorKind::of(&e), &e.to_string()),
            }
            return;
        }
        let c = &mut self.clients[i];
        if !c.ever_connected && self.connecting >= self.max_connecting {
            c.phase = Phase::SlotWait;
            self.slot_wait.push_back(i);
            return;
        }
        if let Err(e) = self.connect(i, now) {
            self.fail(i, now, ErrorKind::Other, &e.to_string());
        }
    }

    /// Starts client `i`'s connection. A failed connect is the request's failure; a socket that the poll would not
    /// take is the caller's to handle (returned).
    fn connect(&mut self, i: usize, now: u64) -> io::Result<()> {
        let c = &mut self.clients[i];
        c.ever_connected = true;
        c.reused = false;
        match connect(self.poll.registry(), self.plan.config.target, Token(i)) {
            Ok(s) => {
                c.sock = Sock::Tcp(s);
                c.phase = Phase::Connecting;
                self.connecting += 1;
                self.out.connections += 1;
            }
            Err(ConnectError::Connect(e)) => {
                self.fail(i, now, ErrorKind::of(&e), &connect_message(&e));
            }
            Err(ConnectError::Register(e)) => return Err(e),
        }
        Ok(())
    }

    fn connect_done(&mut self) {
        self.connecting -= 1;
        if let Some(j) = self.slot_wait.pop_front() {
            self.clients[j].phase = Phase::Idle;
            // Its request started already; it only waited for a slot.
            self.in_flight -= 1;
            self.unbegin_and_queue(j);
        }
    }

    /// A client that waited for a connection slot starts over as if new (its wait is the generator's, not the
    /// server's, so its clock restarts).
    fn unbegin_and_queue(&mut self, j: usize) {
        let c = &mut self.clients[j];
        if c.measured {
            self.out.sent -= 1;
            if let Some(t) = &mut self.tickets {
                *t += 1;
            }
        }
        if self.open {
            c.next_j -= self.plan.config.clients as u64;
        }
        self.ready.push_back(j);
    }

    fn on_event(&mut self, i: usize, readable: bool, closed: bool) {
        let now = self.now();
        match self.clients[i].phase {
            Phase::Connecting => {
                let Sock::Tcp(s) = &self.clients[i].sock else {
                    return;
                };
                let status = connected(s).inspect(|&up| {
                    if up {
                        let _ = s.set_nodelay(true);
                    }
                });
                match status {
                    Ok(false) => {}
                    Ok(true) => {
                        self.clients[i].backoff.reset();
                        self.connect_done();
                        self.send(i, now);
                        // A daytime server may have answered (and closed) already.
                        if self.clients[i].phase == Phase::Receiving {
                            self.receive(i, now, closed);
                        }
                    }
                    Err(e) => self.fail(i, now, ErrorKind::of(&e), &connect_message(&e)),
                }
            }
            Phase::Sending => {
                self.send(i, now);
                if readable && self.clients[i].phase == Phase::Receiving {
                    self.receive(i, now, closed);
                }
            }
            Phase::Receiving => {
                if readable {
                    self.receive(i, now, closed);
                }
            }
            Phase::Idle | Phase::Done | Phase::SlotWait => {
                if readable {
                    self.drain_idle(i);
                }
            }
        }
    }

    /// Writes what is left of the request.
    fn send(&mut self, i: usize, now: u64) {
        let plan = self.plan;
        let c = &mut self.clients[i];
        match &mut c.sock {
            Sock::Udp(s) => {
                c.seq += 1;
                plan.request.datagram(c.seq, &mut self.datagram);
                match s.send(&self.datagram) {
                    Ok(n) => {
                        if c.measured {
                            self.out.bytes_sent += n as u64;
                        }
                        c.phase = Phase::Receiving;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        c.seq -= 1;
                        c.phase = Phase::Sending;
                    }
                    Err(e) => {
                        let kind = ErrorKind::of(&e);
                        self.fail(i, now, kind, &e.to_string());
                    }
                }
            }
            Sock::Tcp(s) => {
                let bytes = &plan.request.bytes;
                while c.written < bytes.len() {
                    match s.write(&bytes[c.written..]) {
                        Ok(n) => {
                            c.written += n;
                            if c.measured {
                                self.out.bytes_sent += n as u64;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            c.phase = Phase::Sending;
                            return;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            if self.retry_on_new_connection(i, now) {
                                return;
                            }
                            let kind = ErrorKind::of(&e);
                            return self.fail(i, now, kind, &e.to_string());
                        }
                    }
                }
                c.phase = Phase::Receiving;
            }
            Sock::None => unreachable!("send without a socket"),
        }
    }

    /// A reused keep-alive connection that the server closed before any byte of the reply: the request is sent
    /// again, once, on a new connection (the server had closed an idle connection as the request went out, or
    /// serves one request per connection like the classroom's echo server). Every request here is idempotent.
    fn retry_on_new_connection(&mut self, i: usize, now: u64) -> bool {
        let c = &mut self.clients[i];
        if !c.reused || c.retried || c.checker.started() {
            return false;
        }
        c.retried = true;
        c.written = 0;
        c.checker.reset();
        self.close(i);
        self.connect(i, now).is_ok()
    }

    /// Reads the reply. `closed`: the server's close is already known, so read to the end.
    fn receive(&mut self, i: usize, now: u64, closed: bool) {
        if matches!(self.clients[i].sock, Sock::Udp(_)) {
            return self.receive_datagrams(i, now);
        }
        let plan = self.plan;
        loop {
            let c = &mut self.clients[i];
            let Sock::Tcp(s) = &mut c.sock else { return };
            match s.read(&mut self.buf) {
                Ok(0) => {
                    let feed = c.checker.feed_eof();
                    return match feed {
                        Some(Feed::Done { .. }) => self.complete(i, false),
                        Some(Feed::Bad(m)) => self.fail(i, now, ErrorKind::BadReply, &m),
                        _ => {
                            if self.retry_on_new_connection(i, now) {
                                return;
                            }
                            self.fail(
                                i,
                                now,
                                ErrorKind::Closed,
                                "the server closed the connection before the reply was complete",
                            )
                        }
                    };
                }
                Ok(n) => {
                    if c.measured {
                        self.out.bytes_received += n as u64;
                    }
                    match c.checker.feed(&plan.request, &self.buf[..n]) {
                        Feed::More => {
                            if n < self.buf.len() && !closed && !c.checker.needs_eof() {
                                // A short read drained the socket: the next byte brings a new edge.
                                return;
                            }
                        }
                        Feed::Done { used, keep_alive } => {
                            if used < n {
                                return self.fail(
                                    i,
                                    now,
                                    ErrorKind::BadReply,
                                    "more bytes than the reply",
                                );
                            }
                            // A close already queued behind the reply: the connection is done for.
                            return self.complete(i, keep_alive && !closed);
                        }
                        Feed::Bad(m) => return self.fail(i, now, ErrorKind::BadReply, &m),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if self.retry_on_new_connection(i, now) {
                        return;
                    }
                    let kind = ErrorKind::of(&e);
                    return self.fail(i, now, kind, &e.to_string());
                }
            }
        }
    }

    fn receive_datagrams(&mut self, i: usize, now: u64) {
        let plan = self.plan;
        loop {
            let c = &mut self.clients[i];
            let Sock::Udp(s) = &mut c.sock else { return };
            match s.recv(&mut self.buf) {
                Ok(n) => {
                    let awaited = (c.phase == Phase::Receiving).then_some(c.seq);
                    match check_datagram(&plan.request, awaited, &self.buf[..n]) {
                        Datagram::Reply => {
                            if c.measured {
                                self.out.bytes_received += n as u64;
                            }
                            self.complete(i, true);
                        }
                        Datagram::Late => {
                            if now >= plan.warm_ns {
                                self.out.late += 1;
                            }
                        }
                        Datagram::Bad(m) => {
                            if awaited.is_some() {
                                self.fail(i, now, ErrorKind::BadReply, m);
                            }
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if self.clients[i].phase == Phase::Receiving {
                        let kind = ErrorKind::of(&e);
                        self.fail(i, now, kind, &e.to_string());
                    }
                    // The error is consumed by reading it; go on with the socket.
                }
            }
        }
    }

    /// Bytes (or a close) on a connection with no request in flight.
    fn drain_idle(&mut self, i: usize) {
        let c = &mut self.clients[i];
        match &mut c.sock {
            Sock::Tcp(s) => loop {
                match s.read(&mut self.buf) {
                    // Closed by the server between requests (an idle timeout): reconnect when needed.
                    Ok(0) => return self.close(i),
                    // Bytes nobody asked for: the connection cannot be trusted any more.
                    Ok(_) => return self.close(i),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return self.close(i),
                }
            },
            Sock::Udp(_) => self.receive_datagrams(i, self.now()),
            Sock::None => {}
        }
    }

    fn close(&mut self, i: usize) {
        let c = &mut self.clients[i];
        match std::mem::replace(&mut c.sock, Sock::None) {
            Sock::Tcp(mut s) => {
                let _ = self.poll.registry().deregister(&mut s);
            }
            Sock::Udp(mut s) => {
                let _ = self.poll.registry().deregister(&mut s);
            }
            Sock::None => {}
        }
    }

    /// Whether a request finishing at `now` counts. A closed loop run for a duration: it completes inside the
    /// measured window, as in wrk (counting only requests *started* after the warm-up would drop the queue's
    /// worth of completions that open the window, and understate a busy server's throughput). Open loop: it was
    /// *scheduled* after the warm-up, as in wrk2, since the timetable defines what was asked. With a request
    /// budget: it was started after the warm-up, so that exactly the budget is counted.
    fn counts(&self, i: usize, now: u64) -> bool {
        self.clients[i].measured || (self.window_counts() && now >= self.plan.warm_ns)
    }

    /// Closed loop for a duration: what completes in the measured window counts, whenever it started.
    fn window_counts(&self) -> bool {
        !self.open && self.tickets.is_none()
    }

    fn complete(&mut self, i: usize, keep_alive: bool) {
        let now = self.now();
        let counts = self.counts(i, now);
        let c = &mut self.clients[i];
        self.in_flight -= 1;
        self.progress += 1;
        if counts {
            self.out.latency.record(now.saturating_sub(c.sched) / 1_000);
            self.out.service.record(now.saturating_sub(c.start) / 1_000);
            self.out.successes += 1;
            c.count.ok += 1;
        }
        c.reused = true;
        c.backoff.reset();
        if !keep_alive || self.plan.config.connect_per_request {
            self.close(i);
        }
        self.finished(i, now);
    }

    fn fail(&mut self, i: usize, now: u64, kind: ErrorKind, message: &str) {
        let counts = self.counts(i, now);
        let c = &mut self.clients[i];
        let was_connecting = c.phase == Phase::Connecting;
        self.in_flight -= 1;
        self.progress += 1;
        if counts {
            self.out.errors.add(kind, 1);
            c.count.errors += 1;
            self.out
                .examples
                .entry(kind)
                .or_insert_with(|| message.to_string());
        }
        self.progress_errors += 1;
        // A udp socket stays, so that a late reply is still recognized as late.
        if !matches!(c.sock, Sock::Udp(_)) || kind != ErrorKind::Timeout {
            self.close(i);
        }
        if was_connecting {
            self.connect_done();
        }
        // Retry after a pause, not at once: ports come back only as TIME_WAIT expires, and a refused connection
        // retried at once is hundreds of thousands of attempts a second.
        let c = &mut self.clients[i];
        match kind {
            ErrorKind::PortsExhausted => c.not_before = now + PORTS_BACKOFF_NS,
            ErrorKind::Refused => c.not_before = now + c.backoff.next_delay(),
            _ => {}
        }
        self.finished(i, now);
    }

    /// Bookkeeping after a request ended either way, then the next one.
    fn finished(&mut self, i: usize, now: u64) {
        let c = &mut self.clients[i];
        c.phase = Phase::Idle;
        c.deadline = u64::MAX;
        if !c.satisfied && c.count.ok + c.count.errors >= self.plan.config.min_per_client {
            c.satisfied = true;
            self.plan.unsatisfied.fetch_sub(1, Ordering::Relaxed);
        }
        self.next_request(i, now);
    }

    fn scan_timeouts(&mut self, now: u64) {
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

    fn finish(mut self) -> ThreadResult {
        let end = self.out.end_ns;
        let window = self.window_counts();
        for c in &self.clients {
            if c.in_flight() && (c.measured || window) {
                self.out.unfinished.push(Unfinished {
                    client: c.index,
                    age_us: end.saturating_sub(c.sched) / 1_000,
                });
            }
        }
        self.publish();
        self.out.per_client = self.clients.iter().map(|c| c.count).collect();
        self.out
    }
}

fn connect_message(e: &io::Error) -> String {
    format!("connect: {e}")
}
