//! Slowloris connections (`load --slow N`): N connections that each send an HTTP request head one byte at a
//! time (`GET / HTTP/1.1`, `Host:`, then `X-a: b` header lines without end), never finishing it.
//!
//! Why: a server that gives each connection a thread, a worker or a process holds it while the head trickles in;
//! a few such connections tie up every worker and the real clients get nothing. An event loop only keeps a
//! buffer per connection. A header deadline (nginx's `client_header_timeout`) bounds how long a worker can be
//! held: the server answers `408` and closes. This module measures exactly that: how many slow connections were
//! opened, which ones the server closed and after how long, and whether it answered first.
//!
//! The connections run on one thread of their own with one `mio` poll, like the engine's threads, beside the
//! run's clients and for as long as they run. A connection the server closes is opened again (the attack goes
//! on), after a backoff if it lived less than one interval, so a server that closes at once is not hammered.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use mio::net::TcpStream;
use mio::{Events, Poll, Token};

use super::Control;
use super::backoff::Backoff;
use super::clock::{Clock, Nanos};
use super::config::LoadConfig;
use super::connect::{connect, connected};
use super::report::{CpuTime, SlowReport};
use super::sys::{thread_cpu, thread_cpu_since};

/// What is repeated after the request line and the Host header, one byte at a time, for ever.
const FILLER: &[u8] = b"X-a: b\r\n";
/// The longest the thread sleeps without looking at the stop flags.
const STOP_CHECK: Nanos = Nanos::from_millis(20);
/// Bytes of the server's answer kept to read its status line.
const ANSWER_KEPT: usize = 256;

/// The unfinished request head: the request line and Host, then `FILLER` for ever.
struct Head {
    start: Vec<u8>,
}

impl Head {
    fn new(path: &str, host: &str) -> Head {
        Head {
            start: format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n").into_bytes(),
        }
    }

    /// Byte number `k` of the head.
    fn byte(&self, k: usize) -> u8 {
        match self.start.get(k) {
            Some(b) => *b,
            None => FILLER[(k - self.start.len()) % FILLER.len()],
        }
    }
}

enum State {
    /// Waiting to (re)connect at this time.
    Waiting(Nanos),
    Connecting(TcpStream),
    /// Connected at `since`; the next byte goes out at `next_send`.
    Trickling {
        stream: TcpStream,
        since: Nanos,
        next_send: Nanos,
    },
}

struct SlowConn {
    state: State,
    /// Has connected, or failed to, once.
    settled: bool,
    /// Bytes of the head sent on this connection.
    sent: usize,
    /// The start of whatever the server answered on this connection.
    answer: Vec<u8>,
    backoff: Backoff,
}

/// What the slow connections' thread needs from the run.
pub(super) struct SlowPlan<'a> {
    pub config: &'a LoadConfig,
    pub control: &'a Control,
    /// The slow connections' clock (it starts before the clients' own).
    pub clock: Clock,
    /// Raised when the run's clients are done: the slow connections stop with them.
    pub over: &'a AtomicBool,
    /// Slow connections that are up or have failed once: the clients start when all are.
    pub settled: &'a AtomicUsize,
}

/// Keeps `config.slow` slow connections going until the run is over; returns what the server did with them and
/// the thread's CPU time.
pub(super) fn run_slow(plan: &SlowPlan<'_>) -> io::Result<(SlowReport, CpuTime)> {
    let cpu_before = thread_cpu();
    let config = plan.config;
    let host = config
        .host
        .clone()
        .unwrap_or_else(|| config.target.to_string());
    let mut slow = Slow {
        plan,
        poll: Poll::new()?,
        head: Head::new(&config.path, &host),
        interval: Nanos::from_duration(config.slow_interval),
        conns: (0..config.slow)
            .map(|_| SlowConn {
                state: State::Waiting(Nanos::ZERO),
                settled: false,
                sent: 0,
                answer: Vec::new(),
                backoff: Backoff::default(),
            })
            .collect(),
        report: SlowReport {
            connections: config.slow,
            ..SlowReport::default()
        },
        buf: vec![0; 4096],
    };
    slow.run()?;
    let report = slow.finish();
    Ok((report, thread_cpu_since(cpu_before)))
}

struct Slow<'a> {
    plan: &'a SlowPlan<'a>,
    poll: Poll,
    head: Head,
    interval: Nanos,
    conns: Vec<SlowConn>,
    report: SlowReport,
    buf: Vec<u8>,
}

impl Slow<'_> {
    fn now(&self) -> Nanos {
        self.plan.clock.now()
    }

    fn over(&self) -> bool {
        self.plan.over.load(Ordering::Relaxed) || self.plan.control.stop_requested()
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        while !self.over() {
            let now = self.now();
            for i in 0..self.conns.len() {
                self.on_time(i, now);
            }
            let next = self.conns.iter().filter_map(|c| due(&c.state)).min();
            let until = next.unwrap_or(Nanos::NEVER).min(now + STOP_CHECK);
            let wait = until.saturating_sub(self.now());
            match self.poll.poll(&mut events, Some(wait.to_duration())) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            for event in events.iter() {
                self.on_event(event.token().0);
            }
        }
        Ok(())
    }

    /// Connects or sends the next byte when it is time.
    fn on_time(&mut self, i: usize, now: Nanos) {
        match &self.conns[i].state {
            State::Waiting(at) if *at <= now => self.connect(i, now),
            State::Trickling { next_send, .. } if *next_send <= now => self.send_byte(i, now),
            _ => {}
        }
    }

    fn connect(&mut self, i: usize, now: Nanos) {
        match connect(self.poll.registry(), self.plan.config.target, Token(i)) {
            Ok(stream) => self.conns[i].state = State::Connecting(stream),
            Err(_) => self.retry_later(i, now),
        }
    }

    /// A connection attempt failed: try again after the backoff.
    fn retry_later(&mut self, i: usize, now: Nanos) {
        self.report.failed_connects += 1;
        self.settle(i);
        let c = &mut self.conns[i];
        c.state = State::Waiting(now + c.backoff.next_delay());
    }

    fn on_event(&mut self, i: usize) {
        let now = self.now();
        if let State::Connecting(stream) = &self.conns[i].state {
            match connected(stream) {
                Ok(false) => return,
                Ok(true) => {
                    let State::Connecting(stream) =
                        std::mem::replace(&mut self.conns[i].state, State::Waiting(Nanos::ZERO))
                    else {
                        unreachable!("checked above")
                    };
                    self.report.opened += 1;
                    self.settle(i);
                    let c = &mut self.conns[i];
                    c.sent = 0;
                    c.answer.clear();
                    c.state = State::Trickling {
                        stream,
                        since: now,
                        next_send: now,
                    };
                    return self.send_byte(i, now);
                }
                Err(_) => {
                    self.drop_stream(i);
                    return self.retry_later(i, now);
                }
            }
        }
        self.read_answer(i, now);
    }

    /// Sends the next byte of the head, if the socket takes it.
    fn send_byte(&mut self, i: usize, now: Nanos) {
        let byte = self.head.byte(self.conns[i].sent);
        let interval = self.interval;
        let c = &mut self.conns[i];
        let State::Trickling {
            stream, next_send, ..
        } = &mut c.state
        else {
            return;
        };
        match stream.write(&[byte]) {
            Ok(1) => {
                c.sent += 1;
                self.report.bytes_sent += 1;
                *next_send = now + interval;
            }
            Ok(_) => *next_send = now + interval,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => *next_send = now + interval,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // The server closed or reset the connection; what it said before is still to be read.
            Err(_) => {
                *next_send = Nanos::NEVER;
                self.read_answer(i, now);
                if matches!(self.conns[i].state, State::Trickling { .. }) {
                    self.closed_by_server(i, now);
                }
            }
        }
    }

    /// Reads whatever the server sent; a close (or reset) ends the connection.
    fn read_answer(&mut self, i: usize, now: Nanos) {
        loop {
            let c = &mut self.conns[i];
            let State::Trickling { stream, .. } = &mut c.state else {
                return;
            };
            match stream.read(&mut self.buf) {
                Ok(0) => return self.closed_by_server(i, now),
                Ok(n) => {
                    let room = ANSWER_KEPT.saturating_sub(c.answer.len());
                    c.answer.extend_from_slice(&self.buf[..n.min(room)]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A reset ends it as surely as a close.
                Err(_) => return self.closed_by_server(i, now),
            }
        }
    }

    /// The server ended a slow connection: record it, and open another.
    fn closed_by_server(&mut self, i: usize, now: Nanos) {
        let State::Trickling { since, .. } = self.conns[i].state else {
            return;
        };
        let held = now.saturating_sub(since);
        let status = status_code(&self.conns[i].answer);
        self.report.record_close(held.as_micros(), status);
        self.drop_stream(i);
        let c = &mut self.conns[i];
        // Held a full interval or more: the server let it live, so come back at once, as slowloris does.
        if held >= self.interval {
            c.backoff.reset();
        }
        c.state = State::Waiting(now + c.backoff.next_delay());
    }

    /// Tells the run the first attempt of connection `i` is over.
    fn settle(&mut self, i: usize) {
        let c = &mut self.conns[i];
        if !c.settled {
            c.settled = true;
            self.plan.settled.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn drop_stream(&mut self, i: usize) {
        match std::mem::replace(&mut self.conns[i].state, State::Waiting(Nanos::NEVER)) {
            State::Connecting(mut s) | State::Trickling { stream: mut s, .. } => {
                let _ = self.poll.registry().deregister(&mut s);
            }
            State::Waiting(_) => {}
        }
    }

    fn finish(mut self) -> SlowReport {
        let now = self.now();
        for c in &self.conns {
            if let State::Trickling { since, .. } = c.state {
                self.report.open_at_end += 1;
                self.report.oldest_open_us = self
                    .report
                    .oldest_open_us
                    .max(now.saturating_sub(since).as_micros());
            }
        }
        self.report
    }
}

/// When a connection next needs the thread, if at a set time.
fn due(state: &State) -> Option<Nanos> {
    match state {
        State::Waiting(at) => Some(*at),
        State::Trickling { next_send, .. } => Some(*next_send),
        State::Connecting(_) => None,
    }
}

/// The status code of an HTTP status line at the start of `answer` (`HTTP/1.1 408 Request Timeout`).
fn status_code(answer: &[u8]) -> Option<u16> {
    let rest = answer.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    if rest.get(1) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_never_ends() {
        let head = Head::new("/", "example:80");
        let bytes: Vec<u8> = (0..80).map(|k| head.byte(k)).collect();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("GET / HTTP/1.1\r\nHost: example:80\r\nX-a: b\r\nX-a: b\r\n"));
        assert!(!text.contains("\r\n\r\n"), "no blank line, ever: {text:?}");
    }

    #[test]
    fn status_lines_are_read_and_anything_else_is_not() {
        assert_eq!(status_code(b"HTTP/1.1 408 Request Timeout\r\n"), Some(408));
        assert_eq!(status_code(b"HTTP/1.0 400 Bad"), Some(400));
        assert_eq!(status_code(b"HTTP/1.1 40"), None);
        assert_eq!(status_code(b"hello"), None);
        assert_eq!(status_code(b""), None);
    }
}
