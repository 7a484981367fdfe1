//! How long a connection may wait, and what happens when it has waited too long: the one rule every model asks.
//!
//! A connection waits for one of two things. Waiting for *input*, it is bounded by the header deadline while a
//! request head is arriving (HTTP; counted from the head's first byte, or from accept for the first request,
//! however slowly the bytes trickle in: the slowloris defence), by the idle timeout between reads, and during a
//! stop by the drain deadline. Waiting to *send*, it is bounded by the send timeout since the output last moved
//! (a client that does not read) and by the drain deadline. Without these, one client that trickles or never
//! reads holds a thread, a worker or a process for ever: the pool model's 8 workers fall to 8 such clients.

use std::time::Instant;

use super::Shared;
use crate::protocol::Session;

/// Why a wait ended at its deadline, which decides what the model does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// The request head did not arrive in time: answer with the protocol's timeout reply (HTTP 408), then close.
    Header,
    /// Nothing arrived for the idle timeout: close.
    Idle,
    /// The client took nothing of the reply for the send timeout: close.
    Send,
    /// The stop's drain time is over: close.
    Drain,
}

impl Expiry {
    /// Why the connection was closed, for the log.
    pub fn reason(self) -> &'static str {
        match self {
            Expiry::Header => "header timeout",
            Expiry::Idle => "idle timeout",
            Expiry::Send => "send timeout",
            Expiry::Drain => "drain timeout",
        }
    }
}

/// The moments a connection's deadlines count from.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionClock {
    /// When the request head now arriving began (the accept, for the first request); `None` between requests.
    head_since: Option<Instant>,
    last_input: Instant,
    /// When the output last made progress, or started waiting to.
    last_output: Instant,
}

impl ConnectionClock {
    pub fn accepted(now: Instant) -> ConnectionClock {
        ConnectionClock {
            head_since: Some(now),
            last_input: now,
            last_output: now,
        }
    }

    /// Bytes arrived at `now`.
    pub fn input(&mut self, now: Instant) {
        self.last_input = now;
    }

    /// The socket took bytes at `now`, or a new reply starts waiting for it.
    pub fn output(&mut self, now: Instant) {
        self.last_output = now;
    }

    /// Looks at whether a request head is on its way; call before asking for the input deadline.
    pub fn track_head(&mut self, session: &dyn Session, now: Instant) {
        if session.head_in_progress() {
            self.head_since.get_or_insert(now);
        } else {
            self.head_since = None;
        }
    }

    /// The deadline of a wait for input, and what it means (`None`: wait for ever).
    pub fn input_deadline(&self, shared: &Shared, stopping: bool) -> Option<(Instant, Expiry)> {
        let config = &shared.config;
        let header = config
            .header_timeout
            .zip(self.head_since)
            .map(|(timeout, since)| (since + timeout, Expiry::Header));
        let idle = config
            .idle_timeout
            .map(|timeout| (self.last_input + timeout, Expiry::Idle));
        let drain = stopping.then(|| (shared.shutdown.drain_deadline(), Expiry::Drain));
        [header, idle, drain]
            .into_iter()
            .flatten()
            .min_by_key(|(at, _)| *at)
    }

    /// The deadline of a wait to send, and what it means.
    pub fn send_deadline(&self, shared: &Shared, stopping: bool) -> (Instant, Expiry) {
        let send = (self.last_output + shared.config.send_timeout, Expiry::Send);
        match stopping.then(|| shared.shutdown.drain_deadline()) {
            Some(drain) if drain < send.0 => (drain, Expiry::Drain),
            _ => send,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::models::Model;
    use crate::models::ServerConfig;
    use crate::protocol::Proto;
    use crate::protocol::http::{DEFAULT_MAX_BODY, HttpSession};
    use crate::shutdown::Shutdown;
    use crate::stats::Stats;

    fn shared(header: u64, idle: u64) -> Shared {
        let mut config =
            ServerConfig::new(Proto::Http, Model::Poll, "127.0.0.1:0".parse().unwrap());
        config.header_timeout = Some(Duration::from_secs(header));
        config.idle_timeout = Some(Duration::from_secs(idle));
        Shared {
            shutdown: Shutdown::new(config.drain_timeout).unwrap(),
            config,
            stats: Stats::default(),
        }
    }

    #[test]
    fn a_trickled_head_keeps_its_first_deadline() {
        let shared = shared(10, 5);
        let mut session = HttpSession::new(Arc::from(&b"page"[..]), DEFAULT_MAX_BODY);
        let t0 = Instant::now();
        let mut clock = ConnectionClock::accepted(t0);
        // One byte every 4 s: the idle timeout (5 s) never passes, the header deadline does.
        for second in [4, 8] {
            let now = t0 + Duration::from_secs(second);
            session.feed(b"G");
            clock.input(now);
            clock.track_head(&session, now);
        }
        let (at, why) = clock.input_deadline(&shared, false).unwrap();
        assert_eq!((at, why), (t0 + Duration::from_secs(10), Expiry::Header));
    }

    #[test]
    fn between_requests_only_the_idle_timeout_counts() {
        let shared = shared(10, 5);
        let session = HttpSession::new(Arc::from(&b"page"[..]), DEFAULT_MAX_BODY);
        let t0 = Instant::now();
        let mut clock = ConnectionClock::accepted(t0);
        clock.track_head(&session, t0);
        assert_eq!(
            clock.input_deadline(&shared, false).unwrap().1,
            Expiry::Idle
        );
        // After a reply the session awaits no head: the header deadline is gone.
        let mut served = session;
        served.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let _ = crate::protocol::Session::step(&mut served);
        let mut out = crate::protocol::Output::default();
        served.respond(std::time::SystemTime::now(), &mut out);
        clock.track_head(&served, t0 + Duration::from_secs(1));
        clock.input(t0 + Duration::from_secs(1));
        assert_eq!(
            clock.input_deadline(&shared, false).unwrap(),
            (t0 + Duration::from_secs(6), Expiry::Idle)
        );
    }

    #[test]
    fn a_stop_bounds_every_wait() {
        let shared = shared(100, 100);
        shared.shutdown.trigger();
        let clock = ConnectionClock::accepted(Instant::now());
        assert_eq!(
            clock.input_deadline(&shared, true).unwrap().1,
            Expiry::Drain
        );
        assert_eq!(clock.send_deadline(&shared, true).1, Expiry::Drain);
        assert_eq!(clock.send_deadline(&shared, false).1, Expiry::Send);
    }
}
