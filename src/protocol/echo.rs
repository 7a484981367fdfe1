//! Echo (RFC 862): whatever arrives goes back unchanged.
//!
//! A "request" is one batch of bytes as it was read, not a line: a client that sends `hello` without a newline
//! and waits in `recv(1024)` gets `hello` back at once, which is what every classroom echo client does.

use std::time::SystemTime;

use super::{Output, Session, Step};

/// Echo over a connection: lives until the client closes its side.
#[derive(Debug, Default)]
pub struct EchoSession {
    /// Bytes read and not yet echoed; empty (and unallocated) between requests.
    pending: Vec<u8>,
    /// The client has closed its sending side.
    eof: bool,
}

impl Session for EchoSession {
    fn feed(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    fn feed_eof(&mut self) {
        self.eof = true;
    }

    fn step(&mut self) -> Step {
        if !self.pending.is_empty() {
            Step::Request { work: true }
        } else if self.eof {
            Step::Close
        } else {
            Step::NeedInput
        }
    }

    fn respond(&mut self, _now: SystemTime, out: &mut Output) {
        // Hands the bytes over without copying when nothing else is pending.
        out.push_owned(&mut self.pending);
    }

    fn has_partial_request(&self) -> bool {
        // Every byte read is a complete request.
        false
    }

    fn server_stopping(&mut self) -> bool {
        false
    }
}

/// Echo over UDP: the reply to a datagram is the datagram.
pub fn datagram_reply(datagram: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(datagram);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_each_batch_and_closes_after_eof() {
        let mut session = EchoSession::default();
        assert_eq!(session.step(), Step::NeedInput);
        session.feed(b"Ola mundo da internet!");
        assert_eq!(session.step(), Step::Request { work: true });
        let mut out = Output::default();
        session.respond(SystemTime::now(), &mut out);
        assert_eq!(out.to_vec(), b"Ola mundo da internet!");
        assert_eq!(session.step(), Step::NeedInput);
        session.feed(b"again");
        session.feed_eof();
        assert_eq!(session.step(), Step::Request { work: true });
        let mut out = Output::default();
        out.push(b"x");
        session.respond(SystemTime::now(), &mut out);
        assert_eq!(out.to_vec(), b"xagain");
        assert_eq!(session.step(), Step::Close);
    }

    #[test]
    fn datagrams_come_back_unchanged() {
        let mut out = Vec::new();
        datagram_reply(b"\x00\x01ping", &mut out);
        assert_eq!(out, b"\x00\x01ping");
    }
}
