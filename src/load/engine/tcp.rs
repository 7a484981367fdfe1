//! TCP clients (echo, daytime, http): the connection opened, the request written, the reply read and checked.
//!
//! Why first connections are opened a few at a time: a thousand clients connecting in the same millisecond
//! overflow the server's accept queue by themselves (`connect_batch`). A client waiting for its turn has not
//! really started, so its request is taken back and started afresh when a slot frees (its clock restarts).
//!
//! Why a request is sometimes sent twice: a reused keep-alive connection that the server closed before any byte
//! of the reply (an idle timeout racing the request, or a server that serves one request per connection) is not
//! the request's fault; HTTP clients retry an idempotent request once on a new connection, and so does this.

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use mio::Token;

use super::super::clock::Nanos;
use super::super::connect::{ConnectError, connect, connected};
use super::super::protocol::{Feed, Request};
use super::super::report::ErrorKind;
use super::client::{Client, Phase, Sock};
use super::{ThreadResult, Worker};

/// At most so many connects of this thread under way at once; first connections beyond them wait their turn.
pub(super) struct ConnectGate {
    connecting: usize,
    max: usize,
    waiting: VecDeque<usize>,
}

impl ConnectGate {
    pub(super) fn new(max: usize) -> ConnectGate {
        ConnectGate {
            connecting: 0,
            max: max.max(1),
            waiting: VecDeque::new(),
        }
    }

    pub(super) fn nobody_waits(&self) -> bool {
        self.waiting.is_empty()
    }
}

impl Worker<'_> {
    /// Opens client `i`'s connection, or puts it in line for a slot if it is its first.
    pub(super) fn open_tcp(&mut self, i: usize, now: Nanos) {
        let c = &mut self.clients[i];
        if !c.ever_connected && self.gate.connecting >= self.gate.max {
            c.phase = Phase::SlotWait;
            self.gate.waiting.push_back(i);
            return;
        }
        if let Err(e) = self.connect(i, now) {
            self.fail(i, now, ErrorKind::Other, &e.to_string());
        }
    }

    /// Starts client `i`'s connection. A failed connect is the request's failure; a socket that the poll would not
    /// take is the caller's to handle (returned).
    fn connect(&mut self, i: usize, now: Nanos) -> io::Result<()> {
        let c = &mut self.clients[i];
        c.ever_connected = true;
        c.reused = false;
        if self.ring.is_some() {
            return self.ring_connect(i, now);
        }
        match connect(self.poll.registry(), self.plan.config.target, Token(i)) {
            Ok(s) => self.connecting(i, Sock::Tcp(s)),
            Err(ConnectError::Connect(e)) => {
                self.fail(i, now, ErrorKind::of(&e), &connect_message(&e));
            }
            Err(ConnectError::Register(e)) => return Err(e),
        }
        Ok(())
    }

    /// A connection was started: counted, and it holds one of the thread's connect slots until it is up.
    pub(super) fn connecting(&mut self, i: usize, sock: Sock) {
        let c = &mut self.clients[i];
        c.sock = sock;
        c.phase = Phase::Connecting;
        self.gate.connecting += 1;
        self.out.connections += 1;
        self.open += 1;
    }

    /// A connect is over, either way: the next client in line (if any) may start.
    pub(super) fn connect_done(&mut self) {
        self.gate.connecting -= 1;
        if let Some(j) = self.gate.waiting.pop_front() {
            // Its request started already; it only waited for a slot.
            self.unbegin_and_queue(j);
        }
    }

    /// An event on a connection being opened: it is up (send at once), not yet, or failed.
    pub(super) fn on_connect_event(&mut self, i: usize, now: Nanos, closed: bool) {
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
                let c = &mut self.clients[i];
                c.backoff.reset();
                // Out of `Connecting` before the slot is given back, so that a failed first write does not give it
                // back twice.
                c.phase = Phase::Sending;
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

    /// Writes what is left of the request on client `i`'s connection.
    pub(super) fn send_bytes(&mut self, i: usize, now: Nanos) {
        let plan = self.plan;
        let c = &mut self.clients[i];
        let Sock::Tcp(s) = &mut c.sock else {
            unreachable!("send_bytes without a connection")
        };
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
                Err(e) => return self.transfer_failed(i, now, &e),
            }
        }
        c.phase = Phase::Receiving;
    }

    /// A reused keep-alive connection that the server closed before any byte of the reply: the request is sent
    /// again, once, on a new connection. Every request here is idempotent.
    pub(super) fn retry_on_new_connection(&mut self, i: usize, now: Nanos) -> bool {
        let c = &mut self.clients[i];
        // Not once the run is over: that would open a connection only to close it.
        if self.draining || !c.reused || c.retried || c.checker.started() {
            return false;
        }
        c.retried = true;
        c.written = 0;
        c.checker.reset();
        self.close(i);
        self.connect(i, now).is_ok()
    }

    /// Reads the reply on client `i`'s connection. `closed`: the server's close is already known, so read to the
    /// end.
    pub(super) fn receive_bytes(&mut self, i: usize, now: Nanos, closed: bool) {
        let plan = self.plan;
        loop {
            let c = &mut self.clients[i];
            let Sock::Tcp(s) = &mut c.sock else { return };
            match s.read(&mut self.buf) {
                Ok(0) => return self.reply_ended(i, now),
                Ok(n) => {
                    let fed = feed_reply(c, &plan.request, &self.buf[..n], &mut self.out);
                    match fed {
                        // A short read drained the socket: the next byte brings a new edge.
                        Fed::More if n < self.buf.len() && !closed && !c.checker.needs_eof() => {
                            return;
                        }
                        Fed::More => {}
                        // A close already queued behind the reply: the connection is done for.
                        fed => return self.reply_fed(i, now, fed, !closed),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.transfer_failed(i, now, &e),
            }
        }
    }

    /// What a piece of the reply did: the request is over (right or wrong), or waits for more. `reusable`: the
    /// connection may carry the next request if the reply allows.
    pub(super) fn reply_fed(&mut self, i: usize, now: Nanos, fed: Fed, reusable: bool) {
        match fed {
            Fed::More => {}
            Fed::Done { keep_alive } => self.complete(i, keep_alive && reusable),
            Fed::TooLong => self.fail(i, now, ErrorKind::BadReply, "more bytes than the reply"),
            Fed::Bad(m) => self.fail(i, now, ErrorKind::BadReply, &m),
        }
    }

    /// The server closed the connection while a reply was awaited: the end of a reply that runs to the close, or
    /// a reply cut short.
    pub(super) fn reply_ended(&mut self, i: usize, now: Nanos) {
        let plan = self.plan;
        match self.clients[i].checker.feed_eof(&plan.request) {
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
        }
    }

    /// Sending or receiving failed: a reused connection gets its retry, any other fails the request.
    pub(super) fn transfer_failed(&mut self, i: usize, now: Nanos, e: &io::Error) {
        if self.retry_on_new_connection(i, now) {
            return;
        }
        self.fail(i, now, ErrorKind::of(e), &e.to_string());
    }

    /// Bytes (or a close) on a connection with no request in flight.
    pub(super) fn drain_idle_connection(&mut self, i: usize) {
        let Sock::Tcp(s) = &mut self.clients[i].sock else {
            return;
        };
        loop {
            match s.read(&mut self.buf) {
                // Closed by the server between requests (an idle timeout): reconnect when needed.
                Ok(0) => return self.close(i),
                // Bytes nobody asked for: the connection cannot be trusted any more.
                Ok(_) => return self.close(i),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.close(i),
            }
        }
    }
}

/// What a piece of the reply did to the request.
pub(super) enum Fed {
    More,
    Done {
        keep_alive: bool,
    },
    /// The reply was complete before the bytes ran out.
    TooLong,
    Bad(String),
}

/// Hands `bytes` of client `c`'s reply to its checker, counting them if the request is measured.
pub(super) fn feed_reply(
    c: &mut Client,
    request: &Request,
    bytes: &[u8],
    out: &mut ThreadResult,
) -> Fed {
    if c.measured {
        out.bytes_received += bytes.len() as u64;
    }
    match c.checker.feed(request, bytes) {
        Feed::More => Fed::More,
        Feed::Done { used, .. } if used < bytes.len() => Fed::TooLong,
        Feed::Done { keep_alive, .. } => Fed::Done { keep_alive },
        Feed::Bad(m) => Fed::Bad(m),
    }
}

pub(super) fn connect_message(e: &io::Error) -> String {
    format!("connect: {e}")
}
