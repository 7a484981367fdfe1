//! Each client is a small state machine: idle -> (connecting ->) sending -> receiving -> idle, and done when its
//! share is over. Here are its states and the moves between them that do not depend on the transport: when the
//! next request starts, what a finished or failed request counts, and how a socket event is dispatched. The
//! socket work itself is in [`tcp`](super::tcp) and [`udp`](super::udp).
//!
//! Why a failure never starts the next request at once: the next start goes through the `ready` queue or a
//! wake-up, so a refused connection retried in a loop is neither a recursion nor a busy loop.

use std::sync::atomic::Ordering;

use mio::net::{TcpStream, UdpSocket};

use super::super::backoff::Backoff;
use super::super::clock::Nanos;
use super::super::config::LoadConfig;
use super::super::protocol::{Checker, Request};
use super::super::report::{ClientCount, ErrorKind};
use super::Worker;
use super::ring::RingSocket;
use crate::protocol::Proto;

/// How long a client waits after "no local port free" before it tries again.
const PORTS_BACKOFF: Nanos = Nanos::from_millis(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
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

pub(super) enum Sock {
    None,
    Tcp(TcpStream),
    Udp(UdpSocket),
    /// A TCP connection on the thread's io_uring (`--io uring`).
    Ring(RingSocket),
}

pub(super) struct Client {
    /// Index among all clients of the run.
    pub index: usize,
    pub sock: Sock,
    pub phase: Phase,
    /// The connection already carried a request (a close before any byte of the next reply is then retried once,
    /// as HTTP clients do with idempotent requests on a reused connection).
    pub reused: bool,
    pub retried: bool,
    /// Has opened a connection before (only first connections wait for a slot).
    pub ever_connected: bool,
    /// Bytes of the current request written so far.
    pub written: usize,
    pub checker: Checker,
    /// What the current request's latency counts from: when it was due (open loop) or started (closed loop).
    pub scheduled: Nanos,
    /// When it actually started.
    pub started: Nanos,
    pub deadline: Nanos,
    /// It counts whenever it finishes: it was scheduled after the warm-up.
    pub measured: bool,
    /// Open loop: the index of this client's next request on the global timetable.
    pub next_slot: u64,
    /// udp-echo: the sequence number of the request in flight.
    pub seq: u64,
    pub count: ClientCount,
    /// Has finished `min_per_client` requests.
    pub satisfied: bool,
    /// Has completed an exchange (the window may wait for every client to have one).
    pub exchanged: bool,
    /// Starts no request before this: it is waiting after a refused connection.
    pub not_before: Nanos,
    pub backoff: Backoff,
}

impl Client {
    pub(super) fn new(index: usize, config: &LoadConfig, request: &Request) -> Client {
        Client {
            index,
            sock: Sock::None,
            phase: Phase::Idle,
            reused: false,
            retried: false,
            ever_connected: false,
            written: 0,
            checker: Checker::new(request),
            scheduled: Nanos::ZERO,
            started: Nanos::ZERO,
            deadline: Nanos::NEVER,
            measured: false,
            next_slot: index as u64,
            seq: 0,
            count: ClientCount::default(),
            satisfied: config.min_per_client == 0,
            exchanged: false,
            not_before: Nanos::ZERO,
            backoff: Backoff::default(),
        }
    }

    pub(super) fn in_flight(&self) -> bool {
        matches!(
            self.phase,
            Phase::Connecting | Phase::Sending | Phase::Receiving
        )
    }
}

impl Worker<'_> {
    /// Decides when client `i` sends next: at once (closed loop), at its next slot (open loop), or never.
    pub(super) fn next_request(&mut self, i: usize, now: Nanos) {
        let c = &mut self.clients[i];
        c.phase = Phase::Idle;
        if !self.timetable.is_open_loop() {
            self.ready.push_back(i);
            return;
        }
        let Some(due) = self.timetable.due(c.next_slot) else {
            return self.done(i);
        };
        c.scheduled = due;
        if due <= now {
            self.ready.push_back(i);
        } else {
            self.timetable.wake_at(due, i);
        }
    }

    /// Client `i` has nothing left to send: it hangs up, as a real client would (a sequential server is serving
    /// it to the end, and others wait behind it).
    fn done(&mut self, i: usize) {
        self.clients[i].phase = Phase::Done;
        self.close(i);
    }

    /// Starts client `i`'s next request, if the run and its share allow.
    pub(super) fn begin(&mut self, i: usize, now: Nanos) {
        if !self.accepting(now) {
            return;
        }
        // Still waiting after a refused connection (or no free local port): come back then.
        let not_before = self.clients[i].not_before;
        if now < not_before {
            self.timetable.wake_at(not_before, i);
            return;
        }
        // A fresh clock: `now` was read before this round's earlier sends, each a system call.
        let now = self.now();
        let plan = self.plan;
        let open = self.timetable.is_open_loop();
        let c = &mut self.clients[i];
        let scheduled = self.timetable.counted_from(c.scheduled, now);
        let measured = scheduled >= plan.window.warm();
        if !open && measured {
            match &mut self.tickets {
                Some(0) => return self.done(i),
                Some(t) => *t -= 1,
                None => {}
            }
        }
        if open {
            c.next_slot = self.timetable.after(c.next_slot);
        }
        c.scheduled = scheduled;
        c.started = now;
        c.deadline = now + Nanos::from_nanos(plan.config.timeout.as_nanos() as u64);
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
    fn open_and_send(&mut self, i: usize, now: Nanos) {
        if !matches!(self.clients[i].sock, Sock::None) {
            self.send(i, now);
        } else if self.plan.config.proto == Proto::UdpEcho {
            self.open_udp(i, now);
        } else {
            self.open_tcp(i, now);
        }
    }

    /// A client that waited for a connection slot starts over as if new (its wait is the generator's, not the
    /// server's, so its clock restarts).
    pub(super) fn unbegin_and_queue(&mut self, i: usize) {
        let c = &mut self.clients[i];
        c.phase = Phase::Idle;
        self.in_flight -= 1;
        if c.measured {
            self.out.sent -= 1;
            if let Some(t) = &mut self.tickets {
                *t += 1;
            }
        }
        if self.timetable.is_open_loop() {
            c.next_slot = self.timetable.before(c.next_slot);
        }
        self.ready.push_back(i);
    }

    pub(super) fn on_event(&mut self, i: usize, readable: bool, closed: bool) {
        let now = self.now();
        match self.clients[i].phase {
            Phase::Connecting => self.on_connect_event(i, now, closed),
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
    pub(super) fn send(&mut self, i: usize, now: Nanos) {
        match self.clients[i].sock {
            Sock::Udp(_) => self.send_datagram(i, now),
            Sock::Tcp(_) => self.send_bytes(i, now),
            Sock::Ring(_) => self.ring_send(i, now),
            Sock::None => unreachable!("send without a socket"),
        }
    }

    /// Reads the reply. `closed`: the server's close is already known, so read to the end.
    pub(super) fn receive(&mut self, i: usize, now: Nanos, closed: bool) {
        if matches!(self.clients[i].sock, Sock::Udp(_)) {
            self.receive_datagrams(i, now);
        } else {
            self.receive_bytes(i, now, closed);
        }
    }

    /// Bytes (or a close) on a connection with no request in flight.
    fn drain_idle(&mut self, i: usize) {
        match self.clients[i].sock {
            Sock::Tcp(_) => self.drain_idle_connection(i),
            Sock::Udp(_) => self.receive_datagrams(i, self.now()),
            // Its receives come as completions, not as reads after an event.
            Sock::Ring(_) | Sock::None => {}
        }
    }

    pub(super) fn close(&mut self, i: usize) {
        let c = &mut self.clients[i];
        match std::mem::replace(&mut c.sock, Sock::None) {
            Sock::Tcp(mut s) => {
                let _ = self.poll.registry().deregister(&mut s);
                self.open -= 1;
            }
            Sock::Udp(mut s) => {
                let _ = self.poll.registry().deregister(&mut s);
                self.open -= 1;
            }
            Sock::Ring(s) => {
                self.ring_close(s);
                self.open -= 1;
            }
            Sock::None => {}
        }
    }

    /// Whether a request finishing at `now` counts. A closed loop run for a duration: it completes inside the
    /// measured window, as in wrk (counting only requests *started* after the warm-up would drop the queue's
    /// worth of completions that open the window, and understate a busy server's throughput). Open loop: it was
    /// *scheduled* after the warm-up, as in wrk2, since the timetable defines what was asked. With a request
    /// budget: it was started after the warm-up, so that exactly the budget is counted.
    fn counts(&self, i: usize, now: Nanos) -> bool {
        self.clients[i].measured || (self.window_counts() && now >= self.plan.window.warm())
    }

    /// Closed loop for a duration: what completes in the measured window counts, whenever it started.
    pub(super) fn window_counts(&self) -> bool {
        !self.timetable.is_open_loop() && self.tickets.is_none()
    }

    /// The reply is complete and right.
    pub(super) fn complete(&mut self, i: usize, keep_alive: bool) {
        if self.draining {
            return self.drained(i);
        }
        let now = self.now();
        let counts = self.counts(i, now);
        let c = &mut self.clients[i];
        self.in_flight -= 1;
        self.progress.count(false);
        let latency_us = now.saturating_sub(c.scheduled).as_micros();
        self.out.timeline.success(now, latency_us, counts);
        if !c.exchanged {
            c.exchanged = true;
            self.plan.window.client_ready(now);
        }
        if counts {
            if let Some(code) = c.checker.status() {
                self.out.statuses.add(code);
            }
            self.out.latency.record(latency_us);
            self.out
                .service
                .record(now.saturating_sub(c.started).as_micros());
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

    pub(super) fn fail(&mut self, i: usize, now: Nanos, kind: ErrorKind, message: &str) {
        if self.draining {
            return self.drained(i);
        }
        let counts = self.counts(i, now);
        let c = &mut self.clients[i];
        let was_connecting = c.phase == Phase::Connecting;
        self.in_flight -= 1;
        self.progress.count(true);
        self.out.timeline.failure(now, counts);
        if counts {
            // A reply whose status was not expected, or whose body went wrong, still came with its code.
            if let Some(code) = c.checker.status() {
                self.out.statuses.add(code);
            }
            self.out.errors.add(kind, 1);
            c.count.errors += 1;
            self.out
                .examples
                .entry(kind)
                .or_insert_with(|| message.to_string());
        }
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
            ErrorKind::PortsExhausted => c.not_before = now + PORTS_BACKOFF,
            ErrorKind::Refused => c.not_before = now + c.backoff.next_delay(),
            _ => {}
        }
        self.finished(i, now);
    }

    /// A request ended, either way, after the run was over ([`Worker::drain`](super::Worker)): nothing of it
    /// counts — not a success, an error, a first exchange, nor a point of the timeline — and the client hangs up.
    fn drained(&mut self, i: usize) {
        self.in_flight -= 1;
        self.done(i);
    }

    /// Bookkeeping after a request ended either way, then the next one.
    fn finished(&mut self, i: usize, now: Nanos) {
        let c = &mut self.clients[i];
        c.phase = Phase::Idle;
        c.deadline = Nanos::NEVER;
        if !c.satisfied && c.count.ok + c.count.errors >= self.plan.config.min_per_client {
            c.satisfied = true;
            self.plan.unsatisfied.fetch_sub(1, Ordering::Relaxed);
        }
        self.next_request(i, now);
    }
}
