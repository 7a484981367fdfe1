//! `load --hold N`: open N connections, do one exchange on each, hold them all open for `--duration`, then close
//! them and say how many the server kept.
//!
//! Why: this is the client side of the C10K measurement. An idle connection costs a server memory (a thread and
//! its stack, a process, or only a buffer and an epoll entry, depending on the model), and the way to see that
//! cost is to make a server hold many connections at once, 10,000 of them, and measure it meanwhile (`--hold`
//! works against any server, nginx included). The exchange (the protocol's usual request: an echo message, one
//! keep-alive `GET`) proves that a connection was served, not only queued in the kernel's listen backlog; the
//! hold shows whether the server kept it: an idle timeout closes it, a model at its cap never answers it.
//!
//! How: one thread and one `mio` poll, a small state machine per connection, as the engine's clients; no thread
//! per connection. Connects are started a bounded number at a time (`connect_batch`): past a full accept queue
//! the kernel drops SYNs, and a burst of 10,000 would fill it by itself. Each connect, and then each exchange,
//! gets `--timeout`. Once two batches' worth of connects in a row have failed, the server has stopped accepting
//! and the rest are not tried: each would only cost a timeout. The time to open ends when the last exchange has
//! finished or failed; the hold starts then. A failed exchange's connection is closed at once (it is not held),
//! and [`Control::stop`] (Ctrl-C) ends either phase early with a report all the same.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use mio::net::TcpStream;
use mio::{Events, Poll, Token};

use super::clock::{Clock, Nanos};
use super::config::LoadConfig;
use super::connect::{ConnectError, connect, connected};
use super::protocol::{Checker, Feed, Request};
use super::report::{ErrorKind, HoldReport, LoadReport, Unfinished};
use super::start::{WallClockWindow, unix_micros};
use super::sys::{thread_cpu, thread_cpu_since};
use super::{Control, LoadError};

/// The longest the loop sleeps without looking at the stop flag.
const STOP_CHECK: Nanos = Nanos::from_millis(20);
const READ_BUFFER: usize = 64 * 1024;
/// Connects failed in a row, in batches, after which the server is taken to have stopped accepting.
const GIVE_UP_AFTER_BATCHES: usize = 2;

enum State {
    Connecting(TcpStream),
    /// Connected: the request is being written (`written` bytes so far), then its reply read.
    Exchanging {
        stream: TcpStream,
        written: usize,
        checker: Checker,
    },
    /// Answered at `since`, and open.
    Held {
        stream: TcpStream,
        since: Nanos,
    },
    /// Failed, or closed by the server: nothing left to do.
    Over,
}

struct Conn {
    state: State,
    /// When its connect started: an exchange's latency counts from here.
    started: Nanos,
}

/// Which step a deadline is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Connect,
    Exchange,
}

struct Hold<'a> {
    config: &'a LoadConfig,
    request: Request,
    control: &'a Control,
    clock: Clock,
    poll: Poll,
    timeout: Nanos,
    /// Every connection tried, in order; its index is its token.
    conns: Vec<Conn>,
    /// Deadlines in the order they fall (every step gets the same timeout, so they are pushed in order).
    deadlines: VecDeque<(Nanos, usize, Step)>,
    connecting: usize,
    exchanging: usize,
    /// Connects failed since the last one that worked.
    failed_in_a_row: usize,
    gave_up: bool,
    buf: Vec<u8>,
    report: LoadReport,
    hold: HoldReport,
}

/// Opens `config.hold` connections, holds them for `config.duration` and reports (see the module's docs).
pub(super) fn run(config: &LoadConfig, control: &Control) -> Result<LoadReport, LoadError> {
    let cpu_before = thread_cpu();
    let asked = config.hold.unwrap_or(0);
    let wall_start = SystemTime::now();
    let mut h = Hold {
        config,
        request: super::request_of(config),
        control,
        clock: Clock::start(),
        poll: Poll::new().map_err(LoadError::Io)?,
        timeout: Nanos::from_duration(config.timeout),
        conns: Vec::with_capacity(asked),
        deadlines: VecDeque::new(),
        connecting: 0,
        exchanging: 0,
        failed_in_a_row: 0,
        gave_up: false,
        buf: vec![0; READ_BUFFER],
        report: LoadReport {
            clients: asked,
            threads: 1,
            ..LoadReport::empty(config.proto, config.target.to_string())
        },
        hold: HoldReport {
            asked: asked as u64,
            ..HoldReport::default()
        },
    };
    let mut events = Events::with_capacity(1024);
    h.open(asked, &mut events).map_err(LoadError::Io)?;
    let opened_at = h.now();
    h.hold.open_us = opened_at.as_micros();
    if !control.stop_requested() {
        control.holding.store(true, Ordering::Relaxed);
        let end = opened_at + Nanos::from_duration(config.duration.unwrap_or_default());
        h.keep(end, &mut events).map_err(LoadError::Io)?;
    }
    let end = h.now();
    h.hold.hold_us = end.saturating_sub(opened_at).as_micros();
    let mut report = h.finish(asked, end);
    report.cpu = thread_cpu_since(cpu_before);
    let start_us = unix_micros(wall_start);
    report.window = Some(WallClockWindow {
        start_unix_us: start_us,
        end_unix_us: start_us + report.duration_us,
    });
    Ok(report)
}

impl Hold<'_> {
    fn now(&self) -> Nanos {
        self.clock.now()
    }

    fn stopped(&self) -> bool {
        self.control.stop_requested()
    }

    /// Opens the connections and does their exchanges, until every one has finished or failed.
    fn open(&mut self, asked: usize, events: &mut Events) -> io::Result<()> {
        loop {
            if self.stopped() {
                return Ok(());
            }
            let now = self.now();
            self.expire(now);
            while self.connecting < self.config.connect_batch
                && self.conns.len() < asked
                && !self.gave_up
            {
                self.start_connect(now)?;
            }
            let all_tried = self.conns.len() == asked || self.gave_up;
            if all_tried && self.connecting == 0 && self.exchanging == 0 {
                return Ok(());
            }
            let next = self.deadlines.front().map_or(Nanos::NEVER, |d| d.0);
            let wait = next.min(now + STOP_CHECK).saturating_sub(self.now());
            self.wait(events, wait)?;
        }
    }

    /// Keeps the answered connections open until `end`, seeing which ones the server closes; ends sooner when it
    /// has closed them all.
    fn keep(&mut self, end: Nanos, events: &mut Events) -> io::Result<()> {
        loop {
            let now = self.now();
            let held = self.report.successes - self.hold.closed_by_server;
            if now >= end || self.stopped() || held == 0 {
                return Ok(());
            }
            let wait = end.min(now + STOP_CHECK).saturating_sub(now);
            self.wait(events, wait)?;
        }
    }

    /// Waits at most `wait` for events and handles them.
    fn wait(&mut self, events: &mut Events, wait: Nanos) -> io::Result<()> {
        match self.poll.poll(events, Some(wait.to_duration())) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            let now = self.now();
            self.on_event(event.token().0, now);
        }
        Ok(())
    }

    /// Starts the next connection. Only a poll that will not take its socket is an error of the run.
    fn start_connect(&mut self, now: Nanos) -> io::Result<()> {
        let i = self.conns.len();
        self.report.connections += 1;
        match connect(self.poll.registry(), self.config.target, Token(i)) {
            Ok(stream) => {
                self.conns.push(Conn {
                    state: State::Connecting(stream),
                    started: now,
                });
                self.connecting += 1;
                self.deadlines
                    .push_back((now + self.timeout, i, Step::Connect));
            }
            Err(ConnectError::Connect(e)) => {
                self.conns.push(Conn {
                    state: State::Over,
                    started: now,
                });
                self.count_error(ErrorKind::of(&e), format!("connect: {e}"));
                self.connect_failed();
            }
            Err(ConnectError::Register(e)) => return Err(e),
        }
        Ok(())
    }

    fn on_event(&mut self, i: usize, now: Nanos) {
        match &self.conns[i].state {
            State::Connecting(stream) => match connected(stream) {
                Ok(false) => {}
                Ok(true) => self.connected(i, now),
                Err(e) => self.fail(i, ErrorKind::of(&e), format!("connect: {e}")),
            },
            State::Exchanging { .. } => self.exchange(i, now),
            State::Held { .. } => self.watch(i, now),
            State::Over => {}
        }
    }

    /// Connection `i` is up: its exchange starts, with a deadline of its own.
    fn connected(&mut self, i: usize, now: Nanos) {
        let State::Connecting(stream) = std::mem::replace(&mut self.conns[i].state, State::Over)
        else {
            return;
        };
        let _ = stream.set_nodelay(true);
        self.connecting -= 1;
        self.exchanging += 1;
        self.failed_in_a_row = 0;
        self.hold.opened += 1;
        self.conns[i].state = State::Exchanging {
            stream,
            written: 0,
            checker: Checker::new(&self.request),
        };
        self.deadlines
            .push_back((now + self.timeout, i, Step::Exchange));
        self.exchange(i, now);
    }

    /// Writes what is left of the request, then reads what there is of the reply.
    fn exchange(&mut self, i: usize, now: Nanos) {
        let State::Exchanging {
            stream,
            written,
            checker,
        } = &mut self.conns[i].state
        else {
            return;
        };
        let bytes = &self.request.bytes;
        while *written < bytes.len() {
            match stream.write(&bytes[*written..]) {
                Ok(n) => {
                    *written += n;
                    self.report.bytes_sent += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.fail(i, ErrorKind::of(&e), e.to_string()),
            }
        }
        loop {
            let feed = match stream.read(&mut self.buf) {
                Ok(0) => match checker.feed_eof(&self.request) {
                    Some(feed) => feed,
                    None => {
                        let why = "the server closed the connection before the reply was complete";
                        return self.fail(i, ErrorKind::Closed, why.into());
                    }
                },
                Ok(n) => {
                    self.report.bytes_received += n as u64;
                    match checker.feed(&self.request, &self.buf[..n]) {
                        Feed::Done { used, .. } if used < n => {
                            Feed::Bad("more bytes than the reply".into())
                        }
                        feed => feed,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.fail(i, ErrorKind::of(&e), e.to_string()),
            };
            if !matches!(feed, Feed::More)
                && let Some(code) = checker.status()
            {
                *self.report.statuses.entry(code).or_default() += 1;
            }
            match feed {
                Feed::More => {}
                Feed::Done { .. } => return self.answered(i, now),
                Feed::Bad(why) => return self.fail(i, ErrorKind::BadReply, why),
            }
        }
    }

    /// Connection `i` got its reply: it is held from now on (a server that said it would close will, and is
    /// seen doing it).
    fn answered(&mut self, i: usize, now: Nanos) {
        let State::Exchanging { stream, .. } =
            std::mem::replace(&mut self.conns[i].state, State::Over)
        else {
            return;
        };
        self.exchanging -= 1;
        self.hold.answered += 1;
        self.report.successes += 1;
        self.report
            .latency
            .record(now.saturating_sub(self.conns[i].started).as_micros());
        self.control.completed.fetch_add(1, Ordering::Relaxed);
        self.conns[i].state = State::Held { stream, since: now };
        // Bytes or a close may have come behind the reply.
        self.watch(i, now);
    }

    /// Reads a held connection: a close or a reset from the server ends it; bytes nobody asked for are dropped.
    fn watch(&mut self, i: usize, now: Nanos) {
        let State::Held { stream, since } = &mut self.conns[i].state else {
            return;
        };
        let since = *since;
        loop {
            match stream.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => self.report.bytes_received += n as u64,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        self.hold
            .record_close(now.saturating_sub(since).as_micros());
        self.close(i);
    }

    /// Connects and exchanges past their deadline time out.
    fn expire(&mut self, now: Nanos) {
        while let Some(&(deadline, i, step)) = self.deadlines.front() {
            if deadline > now {
                return;
            }
            self.deadlines.pop_front();
            let timeout = humantime::format_duration(self.config.timeout);
            match (step, &self.conns[i].state) {
                (Step::Connect, State::Connecting(_)) => self.fail(
                    i,
                    ErrorKind::Timeout,
                    format!("connect: no connection within {timeout}"),
                ),
                (Step::Exchange, State::Exchanging { .. }) => self.fail(
                    i,
                    ErrorKind::Timeout,
                    format!("no complete reply within {timeout}"),
                ),
                _ => {}
            }
        }
    }

    /// Connection `i`'s connect or exchange failed: counted, and the connection closed.
    fn fail(&mut self, i: usize, kind: ErrorKind, why: String) {
        match self.conns[i].state {
            State::Connecting(_) => {
                self.connecting -= 1;
                self.connect_failed();
            }
            State::Exchanging { .. } => self.exchanging -= 1,
            State::Held { .. } | State::Over => {}
        }
        self.count_error(kind, why);
        self.close(i);
    }

    fn count_error(&mut self, kind: ErrorKind, why: String) {
        self.report.errors.add(kind, 1);
        self.report.error_examples.entry(kind).or_insert(why);
        self.control.completed.fetch_add(1, Ordering::Relaxed);
        self.control.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Another connect failed: after two batches' worth in a row the server is not accepting any more.
    fn connect_failed(&mut self) {
        self.hold.connect_failures += 1;
        self.failed_in_a_row += 1;
        if self.failed_in_a_row >= GIVE_UP_AFTER_BATCHES * self.config.connect_batch {
            self.gave_up = true;
        }
    }

    fn close(&mut self, i: usize) {
        match std::mem::replace(&mut self.conns[i].state, State::Over) {
            State::Connecting(mut stream)
            | State::Exchanging { mut stream, .. }
            | State::Held { mut stream, .. } => {
                let _ = self.poll.registry().deregister(&mut stream);
            }
            State::Over => {}
        }
    }

    /// The report, once the hold is over (or stopped) at `end`: what is still held, still under way, never tried.
    /// Every connection is closed when the `Hold` is dropped.
    fn finish(mut self, asked: usize, end: Nanos) -> LoadReport {
        for (i, conn) in self.conns.iter().enumerate() {
            match conn.state {
                State::Held { .. } => self.hold.held += 1,
                State::Connecting(_) | State::Exchanging { .. } => {
                    self.report.unfinished.push(Unfinished {
                        client: i,
                        age_us: end.saturating_sub(conn.started).as_micros(),
                    });
                }
                State::Over => {}
            }
        }
        self.hold.not_tried = (asked - self.conns.len()) as u64;
        let mut report = std::mem::replace(
            &mut self.report,
            LoadReport::empty(self.config.proto, String::new()),
        );
        report.requests = report.successes + report.errors.total();
        report.duration_us = end.as_micros();
        report.stopped_early = self.control.stop_requested();
        report.hold = Some(self.hold.clone());
        report
    }
}
