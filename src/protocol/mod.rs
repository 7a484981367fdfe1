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

use std::sync::Arc;
use std::time::SystemTime;

use crate::config::Proto;

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
    fn respond(&mut self, now: SystemTime, out: &mut Vec<u8>);

    /// True while part of a request has arrived but not all of it: closing now would lose a request.
    fn has_partial_request(&self) -> bool;

    /// Tells the session the server is stopping. Returns true when a connection with nothing pending may be
    /// closed at once (HTTP: the client reconnects); false when it should be given the drain time (echo: the
    /// client may still be about to send).
    fn server_stopping(&mut self) -> bool;
}

/// Makes the session for a new connection.
///
/// # Panics
/// For a datagram protocol, which has no connections: models check [`Proto::is_datagram`] first.
pub fn new_session(proto: Proto, page: &Arc<[u8]>) -> Box<dyn Session> {
    match proto {
        Proto::Echo => Box::new(echo::EchoSession::default()),
        Proto::Daytime => Box::new(daytime::DaytimeSession::default()),
        Proto::Http => Box::new(http::HttpSession::new(Arc::clone(page))),
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
