//! Protocols, kept apart from concurrency: *what to say*, never *how to serve*.
//!
//! A [`Session`] is one connection's protocol state. It never touches a socket, a thread or a clock: the model
//! that drives it feeds it the bytes it read, asks it what to do next ([`Step`]), runs the per-request work when
//! told to, and writes whatever [`Session::respond`] produced. Because of that, one protocol implementation serves
//! every model — a blocking thread, an event loop or an async task — and adding a model never touches a protocol.
//! This is Python `socketserver`'s split between the request handler and the server class, made strict enough
//! that the handler also works inside an event loop.

pub mod daytime;
pub mod echo;
pub mod http;

use std::fmt;
use std::io::{self, IoSlice, Write};
use std::sync::Arc;
use std::time::SystemTime;

/// The application protocol a server speaks.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Proto {
    /// RFC 862 echo over TCP: every batch of bytes read is sent back.
    Echo,
    /// RFC 867 daytime: the time as one line on connect, then close.
    Daytime,
    /// A minimal HTTP/1.1 server of one HTML page.
    Http,
    /// RFC 862 echo over UDP: every datagram is sent back to its sender.
    UdpEcho,
}

impl Proto {
    /// Whether this protocol runs over datagrams rather than connections.
    pub fn is_datagram(self) -> bool {
        matches!(self, Proto::UdpEcho)
    }

    pub fn name(self) -> &'static str {
        match self {
            Proto::Echo => "echo",
            Proto::Daytime => "daytime",
            Proto::Http => "http",
            Proto::UdpEcho => "udp-echo",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the model must do next for a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing complete yet: read more bytes (or report end of input).
    NeedInput,
    /// A request is complete. If `work` is set, run the per-request work first; then call `respond`.
    Request { work: bool },
    /// Everything owed has been produced: close the connection.
    Close,
}

/// One connection's protocol state machine: bytes in, bytes out.
pub trait Session: Send {
    /// Hands over bytes read from the peer.
    fn feed(&mut self, bytes: &[u8]);

    /// Tells the session the peer will send nothing more.
    fn feed_eof(&mut self);

    /// What to do next; call again after each `feed`, `feed_eof` or `respond`.
    fn step(&mut self) -> Step;

    /// Appends the reply to the request that `step` announced to `out`. `now` is the wall-clock time to put in it.
    fn respond(&mut self, now: SystemTime, out: &mut Output);

    /// True while part of a request has arrived but not all of it: closing now would lose a request.
    fn has_partial_request(&self) -> bool;

    /// True while the next request's head is awaited under the header deadline: it has begun to arrive, or it is
    /// the connection's first. Protocols without a request head (echo, daytime) never are.
    fn head_in_progress(&self) -> bool {
        false
    }

    /// The header deadline passed: the next `step` announces the protocol's timeout answer (HTTP: 408), after
    /// which the connection closes.
    fn head_timed_out(&mut self) {}

    /// Tells the session the server is stopping. Returns true when a connection with nothing pending may be
    /// closed at once (HTTP: the client reconnects); false when it should be given the drain time (echo: the
    /// client may still be about to send).
    fn server_stopping(&mut self) -> bool;
}

/// A reply on its way out: the bytes made for it, then (HTTP) a page that every connection shares and none copies.
///
/// A server sending a 2 MB page to 100 clients that do not read holds one page, not 100 copies: the page goes
/// out with `writev` straight from the shared buffer.
#[derive(Debug, Default)]
pub struct Output {
    bytes: Vec<u8>,
    shared: Option<Arc<[u8]>>,
    /// How much of `bytes` then `shared` the socket has taken.
    sent: usize,
}

/// A buffer larger than this is freed once sent, so an idle connection holds no big allocation.
const KEEP_BUFFER: usize = 4096;

impl Output {
    /// Appends bytes made for this reply.
    pub fn push(&mut self, bytes: &[u8]) {
        self.flatten();
        self.bytes.extend_from_slice(bytes);
    }

    /// Appends a buffer shared with other connections, without copying it (unless more bytes follow it).
    pub fn push_shared(&mut self, body: &Arc<[u8]>) {
        self.flatten();
        self.shared = Some(Arc::clone(body));
    }

    /// Takes `bytes` as the whole output when nothing is pending (echo hands its input over without a copy).
    pub fn push_owned(&mut self, bytes: &mut Vec<u8>) {
        if self.is_empty() {
            self.clear();
            std::mem::swap(&mut self.bytes, bytes);
            bytes.clear();
        } else {
            self.push(bytes);
            bytes.clear();
        }
    }

    /// A second reply after a shared page: the page is copied so the replies stay in order.
    fn flatten(&mut self) {
        if let Some(shared) = self.shared.take() {
            self.bytes.extend_from_slice(&shared);
        }
    }

    /// Bytes not yet sent.
    pub fn unsent(&self) -> usize {
        self.bytes.len() + self.shared.as_ref().map_or(0, |s| s.len()) - self.sent
    }

    /// Nothing left to send.
    pub fn is_empty(&self) -> bool {
        self.unsent() == 0
    }

    /// Writes as much as `out` takes in one call (`writev` when a shared page follows). Once everything is sent
    /// the output is emptied, ready for the next reply.
    pub fn write_to(&mut self, out: &mut impl Write) -> io::Result<usize> {
        let n = {
            let (first, second) = self.slices();
            if second.is_empty() {
                out.write(first)?
            } else {
                out.write_vectored(&[IoSlice::new(first), IoSlice::new(second)])?
            }
        };
        self.advance(n);
        Ok(n)
    }

    /// The unsent bytes as (at most) two slices.
    pub fn slices(&self) -> (&[u8], &[u8]) {
        let shared: &[u8] = self.shared.as_deref().unwrap_or(&[]);
        if self.sent < self.bytes.len() {
            (&self.bytes[self.sent..], shared)
        } else {
            (&shared[self.sent - self.bytes.len()..], &[])
        }
    }

    /// Marks `n` more bytes as sent.
    pub fn advance(&mut self, n: usize) {
        self.sent += n;
        if self.is_empty() {
            self.clear();
        }
    }

    /// Drops whatever is pending.
    pub fn clear(&mut self) {
        self.shared = None;
        self.sent = 0;
        if self.bytes.capacity() > KEEP_BUFFER {
            self.bytes = Vec::new();
        } else {
            self.bytes.clear();
        }
    }

    /// Everything unsent, copied into one buffer (for tests and tools).
    pub fn to_vec(&self) -> Vec<u8> {
        let (first, second) = self.slices();
        [first, second].concat()
    }
}

/// Makes the session for a new connection.
///
/// # Panics
/// For a datagram protocol, which has no connections: models check [`Proto::is_datagram`] first.
pub fn new_session(proto: Proto, page: &Arc<[u8]>, max_body: u64) -> Box<dyn Session> {
    match proto {
        Proto::Echo => Box::new(echo::EchoSession::default()),
        Proto::Daytime => Box::new(daytime::DaytimeSession::default()),
        Proto::Http => Box::new(http::HttpSession::new(Arc::clone(page), max_body)),
        Proto::UdpEcho => unreachable!("udp-echo has no connections"),
    }
}

/// Writes the reply to one datagram into `out`, the datagram counterpart of [`Session`].
pub fn datagram_reply(proto: Proto, datagram: &[u8], out: &mut Vec<u8>) {
    match proto {
        Proto::UdpEcho => echo::datagram_reply(datagram, out),
        other => unreachable!("{other} is not a datagram protocol"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sends_bytes_then_the_shared_page_without_copying_it() {
        let page: Arc<[u8]> = Arc::from(&b"PAGE"[..]);
        let mut out = Output::default();
        out.push(b"head:");
        out.push_shared(&page);
        assert_eq!(Arc::strong_count(&page), 2, "shared, not copied");
        assert_eq!(out.unsent(), 9);
        let mut sink = Vec::new();
        // A socket that takes 3 bytes at a time.
        while !out.is_empty() {
            let (first, _) = out.slices();
            let n = first.len().min(3);
            sink.extend_from_slice(&first[..n]);
            out.advance(n);
        }
        assert_eq!(sink, b"head:PAGE");
        assert_eq!(Arc::strong_count(&page), 1, "released once sent");
    }

    #[test]
    fn a_reply_after_a_shared_page_keeps_the_order() {
        let page: Arc<[u8]> = Arc::from(&b"P1"[..]);
        let mut out = Output::default();
        out.push(b"a");
        out.push_shared(&page);
        out.push(b"b");
        out.push_shared(&page);
        let mut sink = Vec::new();
        while !out.is_empty() {
            out.write_to(&mut sink).unwrap();
        }
        assert_eq!(sink, b"aP1bP1");
    }
}
