//! udp-echo clients: one connected UDP socket each, a datagram out, the reply with the same sequence number back.
//!
//! Why sequence numbers: UDP loses and reorders, and a reply that comes after its request timed out must not be
//! taken for the reply to the next one; it is counted as late instead. That is also why a timed-out client keeps
//! its socket (see `fail`).

use std::io;

use mio::Token;

use super::super::clock::Nanos;
use super::super::connect::register;
use super::super::protocol::{Datagram, check_datagram};
use super::super::report::ErrorKind;
use super::super::sys::udp_socket;
use super::Worker;
use super::client::{Phase, Sock};

impl Worker<'_> {
    /// Opens client `i`'s socket and sends the request.
    pub(super) fn open_udp(&mut self, i: usize, now: Nanos) {
        match udp_socket(self.plan.config.target) {
            Ok(mut s) => {
                if let Err(e) = register(self.poll.registry(), &mut s, Token(i)) {
                    return self.fail(i, now, ErrorKind::Other, &e.to_string());
                }
                self.clients[i].sock = Sock::Udp(s);
                self.open += 1;
                self.send(i, now);
            }
            Err(e) => self.fail(i, now, ErrorKind::of(&e), &e.to_string()),
        }
    }

    /// Sends the request as a datagram with the client's next sequence number.
    pub(super) fn send_datagram(&mut self, i: usize, now: Nanos) {
        let plan = self.plan;
        let c = &mut self.clients[i];
        let Sock::Udp(s) = &mut c.sock else {
            unreachable!("send_datagram without a socket")
        };
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

    /// Reads every datagram waiting on client `i`'s socket: the awaited reply, a late one, or garbage.
    pub(super) fn receive_datagrams(&mut self, i: usize, now: Nanos) {
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
                            if now >= plan.window.warm() {
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
}
