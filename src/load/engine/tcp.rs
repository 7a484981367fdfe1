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
use super::super::protocol::Feed;
use super::super::report::ErrorKind;
use super::Worker;
use super::client::{Phase, Sock};

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
        match connect(self.poll.registry(), self.plan.config.target, Token(i)) {
            Ok(s) => {
                c.sock = Sock::Tcp(s);
                c.phase = Phase::Connecting;
                self.gate.connecting += 1;
                self.out.connections += 1;
                self.open += 1;
            }
            Err(ConnectError::Connect(e)) => {
                self.fail(i, now, ErrorKind::of(&e), &connect_message(&e));
            }
            Err(ConnectError::Register(e)) => return Err(e),
        }
        Ok(())
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

    /// A reused keep-alive connection that the server closed before any byte of the reply: the request is sent
    /// again, once, on a new connection. Every request here is idempotent.
    fn retry_on_new_connection(&mut self, i: usize, now: Nanos) -> bool {
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

    /// Reads the reply on client `i`'s connection. `closed`: the server's close is already known, so read to the
    /// end.
    pub(super) fn receive_bytes(&mut self, i: usize, now: Nanos, closed: bool) {
        let plan = self.plan;
        loop {
            let c = &mut self.clients[i];
            let Sock::Tcp(s) = &mut c.sock else { return };
            match s.read(&mut self.buf) {
                Ok(0) => {
                    let feed = c.checker.feed_eof(&plan.request);
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

fn connect_message(e: &io::Error) -> String {
    format!("connect: {e}")
}
