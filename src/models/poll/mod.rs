//! One thread, one readiness loop: the classroom's `select()` server done properly (with epoll, through mio).
//!
//! Every socket is non-blocking and registered with one `Poll`. The thread sleeps in `poll` until some socket is
//! ready, then does for each ready socket only what can be done *without waiting*: accept every pending
//! connection, read what has arrived, write what the socket will take. A connection's state between events lives
//! in its `Connection` — protocol session, unsent output — not on a thread's stack, so 10,000 connections cost
//! 10,000 small structs instead of 10,000 threads.
//!
//! The rules that make it correct:
//! - mio is edge-triggered: after an event, read (or write) until the socket is drained, or no further event
//!   comes. A read that comes back short has drained it: the next arrival brings a new event, so the loop does
//!   not read again until then (the read that would only say `WouldBlock` is a system call a round trip).
//! - A reply the socket will not take at once stays in the connection's output buffer and is finished on the
//!   next writable event; meanwhile that connection's reads pause, so a client that never reads cannot make the
//!   server buffer without bound. The HTTP page in that buffer is shared, not copied, and a client that takes
//!   nothing for the send timeout is closed.
//! - Every connection has one deadline timer, armed at the nearest of its deadlines (header, idle, send, drain:
//!   see [`ConnectionClock`]); when it fires the rule is asked again, so input arriving never touches the timers.
//!   A closed connection takes its timer with it: the timers number the open connections, not the connections
//!   of the last ten seconds, so churn does not grow the loop's memory.
//! - Nothing may block. `sleep:D` work becomes a timer: the loop serves everyone else while it runs. `cpu:D` and
//!   `block:D` do hold the thread — every other connection waits, the honest cost of computing or blocking inside
//!   an event loop — unless `--offload N` hands them to N helper threads (the Flash paper's AMPED design).
//! - One thread means one thread: signals arrive through the shutdown descriptor and logging writes in place.
//!
//! This file is the chapter: the loop and a connection's life, from accept to close. The helpers it calls live
//! beside it: `timers.rs` (work, deadlines, the drain), `datagrams.rs` (UDP) and `offload.rs` (helper threads).

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;
use tracing::warn;

mod datagrams;
mod offload;
mod timers;

use super::offload::{Helpers, Job};
use timers::{Timer, TimerKey};

use super::deadlines::{ConnectionClock, Expiry};
use super::{Listeners, Shared};
use crate::protocol::{self, Output, Session, Step};
use crate::stats::Counted;
use crate::work::Work;

/// Token of the shutdown descriptor.
const SHUTDOWN: Token = Token(usize::MAX);
/// Token of the waker that helper threads use to say "work finished".
const HELPERS_DONE: Token = Token(usize::MAX - 1);
/// Listening and UDP sockets take tokens from 0; connections from here on.
const FIRST_CONNECTION: usize = 1 << 20;
/// How long to stop accepting after running out of file descriptors, so that closing connections can free some.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Most connections accepted in one turn of the loop.
const ACCEPT_BATCH: usize = 64;

pub fn serve(listeners: Listeners, shared: &Shared) -> io::Result<()> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), HELPERS_DONE)?);
    thread::scope(|scope| {
        let helpers = shared
            .config
            .offload
            .map(|n| Helpers::start(scope, n, shared, move || drop(waker.wake())));
        EventLoop::new(poll, listeners, helpers, shared)?.run()
    })
}

/// One client connection and everything the loop must remember about it between events.
struct Connection<'a> {
    /// Distinguishes this connection from a later one that reuses its slab slot, for timers still in flight.
    id: u64,
    stream: TcpStream,
    peer: SocketAddr,
    session: Box<dyn Session>,
    /// Reply bytes not yet taken by the socket.
    output: Output,
    /// Replies in `output` not yet fully sent: a request counts as served once its reply is.
    owed: u64,
    /// Per-request work is in progress (a timer or a helper thread); the connection waits for it.
    working: bool,
    clock: ConnectionClock,
    /// Bytes arrived since the clock last heard of it.
    fresh_input: bool,
    /// The socket took bytes since the clock last heard of it.
    fresh_output: bool,
    /// A read came back short: the socket holds nothing more until its next readable event.
    input_drained: bool,
    /// An event said the peer will send nothing more.
    read_closed: bool,
    /// This connection's deadline timer, if it is set.
    armed: Option<TimerKey>,
    _open: Counted<'a>,
}

/// What driving a connection as far as it can go ended with.
enum Drive {
    /// Waiting for the socket to become readable or writable.
    Wait,
    /// A request needs its per-request work before the reply.
    Work,
    /// The connection is finished.
    Close(&'static str),
    Failed(io::Error),
}

impl Connection<'_> {
    /// Does everything that can be done without waiting: send pending output, let the protocol answer what it
    /// can, read what has arrived. Reads only when all output is sent (the loop's backpressure).
    fn drive(&mut self, scratch: &mut [u8], shared: &Shared) -> Drive {
        loop {
            while !self.output.is_empty() {
                match self.output.write_to(&mut self.stream) {
                    Ok(0) => return Drive::Close("peer stopped reading"),
                    Ok(_) => self.fresh_output = true,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Drive::Wait,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Drive::Failed(e),
                }
            }
            shared.stats.requests_served(std::mem::take(&mut self.owed));
            match self.session.step() {
                Step::Request { work: true } if shared.config.work != Work::None => {
                    self.working = true;
                    return Drive::Work;
                }
                Step::Request { .. } => self.reply(),
                Step::Close => return Drive::Close("done"),
                // Drained by a short read: the next arrival brings an event, so reading now would only
                // return WouldBlock (a system call per round trip for nothing).
                // (Unless the peer has closed: the end of input brings no further event, and must be read.)
                Step::NeedInput if self.input_drained && !self.read_closed => return Drive::Wait,
                Step::NeedInput => match self.stream.read(scratch) {
                    Ok(0) => self.session.feed_eof(),
                    Ok(n) => {
                        self.session.feed(&scratch[..n]);
                        self.fresh_input = true;
                        self.input_drained = n < scratch.len();
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.input_drained = true;
                        return Drive::Wait;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Drive::Failed(e),
                },
            }
        }
    }

    /// Produces the reply to the request whose work is done.
    fn reply(&mut self) {
        self.working = false;
        if self.output.is_empty() {
            // A new reply starts its send deadline (a partly sent one keeps counting from its last progress).
            self.fresh_output = true;
        }
        self.session.respond(SystemTime::now(), &mut self.output);
        self.owed += 1;
    }

    /// Nothing in progress, nothing unsent, no half-received request: closing loses nothing.
    fn is_idle(&self) -> bool {
        !self.working && self.output.is_empty() && !self.session.has_partial_request()
    }

    /// Brings the clock up to date after a drive, and returns the deadline of what the connection now waits for
    /// (`None`: nothing, or its work, which only the drain bounds).
    fn next_deadline(
        &mut self,
        now: Instant,
        shared: &Shared,
        stopping: bool,
    ) -> Option<(Instant, Expiry)> {
        if std::mem::take(&mut self.fresh_input) {
            self.clock.input(now);
        }
        if std::mem::take(&mut self.fresh_output) {
            self.clock.output(now);
        }
        if self.working {
            None
        } else if !self.output.is_empty() {
            Some(self.clock.send_deadline(shared, stopping))
        } else {
            self.clock.track_head(self.session.as_ref(), now);
            self.clock.input_deadline(shared, stopping)
        }
    }
}

/// The loop's whole state. Only ever touched by the one thread that runs it.
struct EventLoop<'a> {
    shared: &'a Shared,
    poll: Poll,
    listeners: Vec<TcpListener>,
    udp: Vec<UdpSocket>,
    connections: Slab<Connection<'a>>,
    /// Ordered by when they fire; a timer can be taken out by its key before then.
    timers: BTreeMap<TimerKey, Timer>,
    timer_seq: u64,
    helpers: Option<Helpers>,
    /// One read buffer for every connection: data is handed to the session at once.
    scratch: Vec<u8>,
    next_id: u64,
    stopping: bool,
    drained: bool,
    accept_paused: bool,
    /// Datagram replies waiting on a timer or a helper.
    datagrams_pending: usize,
}

impl<'a> EventLoop<'a> {
    fn new(
        poll: Poll,
        listeners: Listeners,
        helpers: Option<Helpers>,
        shared: &'a Shared,
    ) -> io::Result<Self> {
        let (mut tcp, mut udp) = (Vec::new(), Vec::new());
        match listeners {
            Listeners::Tcp(list) => tcp = list.into_iter().map(TcpListener::from_std).collect(),
            Listeners::Udp(list) => udp = list.into_iter().map(UdpSocket::from_std).collect(),
        }
        for (i, listener) in tcp.iter_mut().enumerate() {
            poll.registry()
                .register(listener, Token(i), Interest::READABLE)?;
        }
        for (i, socket) in udp.iter_mut().enumerate() {
            poll.registry()
                .register(socket, Token(i), Interest::READABLE)?;
        }
        let wake_fd: RawFd = shared.shutdown.wake_fd().as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&wake_fd), SHUTDOWN, Interest::READABLE)?;
        Ok(EventLoop {
            shared,
            poll,
            listeners: tcp,
            udp,
            connections: Slab::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            helpers,
            scratch: vec![0; 64 * 1024],
            next_id: 0,
            stopping: false,
            drained: false,
            accept_paused: false,
            datagrams_pending: 0,
        })
    }

    fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        if self.shared.shutdown.is_requested() {
            self.begin_stop();
        }
        loop {
            let in_flight = self.helpers.as_ref().map_or(0, |h| h.in_flight);
            let owed = in_flight > 0 || self.datagrams_pending > 0;
            if self.stopping && self.connections.is_empty() && (self.drained || !owed) {
                return Ok(());
            }
            let timeout = self
                .timers
                .first_key_value()
                .map(|((at, _), _)| at.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for event in events.iter() {
                match event.token() {
                    SHUTDOWN => self.begin_stop(),
                    HELPERS_DONE => self.collect_helper_results(),
                    Token(i) if i < FIRST_CONNECTION && !self.udp.is_empty() => {
                        self.receive_datagrams(i)
                    }
                    Token(i) if i < FIRST_CONNECTION => self.accept_all(i),
                    Token(i) => {
                        let key = i - FIRST_CONNECTION;
                        if let Some(connection) = self.connections.get_mut(key) {
                            connection.read_closed |= event.is_read_closed() || event.is_error();
                            connection.input_drained &= !event.is_readable();
                        }
                        self.advance(key)
                    }
                }
            }
            self.fire_due_timers();
        }
    }

    /// Accepts every connection waiting on listener `i`.
    fn accept_all(&mut self, i: usize) {
        let mut accepted = 0;
        while !self.stopping && !self.accept_paused {
            if accepted == ACCEPT_BATCH {
                // Take turns: connections already open get their events served before more are accepted.
                // (Clients that reconnect at once would otherwise keep this loop going for ever.)
                self.add_timer(Instant::now(), Timer::ResumeAccept);
                return;
            }
            accepted += 1;
            let Some(listener) = self.listeners.get(i) else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => self.add_connection(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                // A stop noticed during inline work has already taken the listener out of LISTEN (EINVAL): the
                // loop sees the stop itself in a moment.
                Err(_) if self.shared.shutdown.is_requested() => return,
                Err(e) => {
                    // Usually EMFILE: out of descriptors. Stop accepting for a moment; clients wait in the backlog.
                    self.shared.stats.error();
                    super::connection_log::accept_failed(&e);
                    self.accept_paused = true;
                    self.add_timer(Instant::now() + ACCEPT_PAUSE, Timer::ResumeAccept);
                }
            }
        }
    }

    fn add_connection(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let entry = self.connections.vacant_entry();
        let key = entry.key();
        let token = Token(FIRST_CONNECTION + key);
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            warn!(%peer, error = %e, "cannot watch a connection");
            return;
        }
        self.next_id += 1;
        let id = self.next_id;
        super::connection_log::opened(&peer);
        let config = &self.shared.config;
        let now = Instant::now();
        entry.insert(Connection {
            id,
            stream,
            peer,
            session: protocol::new_session(config.proto, &config.page, config.max_body),
            output: Output::default(),
            owed: 0,
            working: false,
            clock: ConnectionClock::accepted(now),
            fresh_input: false,
            fresh_output: false,
            input_drained: false,
            read_closed: false,
            armed: None,
            _open: self.shared.stats.connection_opened(),
        });
        if self.stopping {
            self.connections[key].session.server_stopping();
        }
        self.arm_deadline(key, now);
        // Not served here but on its first event, which epoll gives every new socket (it is writable, and may
        // already be readable): new connections take their turn with the open ones instead of jumping the queue.
    }

    /// Drives connection `key` as far as it goes, then starts its work or closes it as needed.
    fn advance(&mut self, key: usize) {
        let shared = self.shared;
        loop {
            let Some(connection) = self.connections.get_mut(key) else {
                return;
            };
            if connection.working {
                return;
            }
            match connection.drive(&mut self.scratch, shared) {
                Drive::Wait => {
                    if self.drained {
                        return self.close(key, "drain timeout");
                    }
                    return self.arm_deadline(key, Instant::now());
                }
                Drive::Close(why) => return self.close(key, why),
                Drive::Failed(e) => {
                    shared.stats.error();
                    super::connection_log::failed(&connection.peer, &e);
                    return self.close(key, "error");
                }
                Drive::Work => {
                    let id = connection.id;
                    match shared.config.work {
                        Work::Sleep(d) => {
                            self.add_timer(Instant::now() + d, Timer::WorkDone { key, id });
                            return;
                        }
                        work => match &mut self.helpers {
                            Some(helpers) => {
                                helpers.send(work, Job::Connection { key, id });
                                return;
                            }
                            None => {
                                // Inline: every other client waits while this runs. That is the lesson.
                                if !work.run_bounded(&shared.shutdown) {
                                    return self.close(key, "drain timeout");
                                }
                                connection.reply();
                            }
                        },
                    }
                }
            }
        }
    }

    /// The work of connection `key` is over: reply and carry on.
    fn work_done(&mut self, key: usize, id: u64) {
        let Some(connection) = self.connections.get_mut(key) else {
            return;
        };
        if connection.id != id {
            return;
        }
        connection.reply();
        self.advance(key);
    }

    fn close(&mut self, key: usize, why: &'static str) {
        if self.connections.contains(key) {
            let mut connection = self.connections.remove(key);
            if let Some(timer) = connection.armed {
                self.timers.remove(&timer);
            }
            let _ = self.poll.registry().deregister(&mut connection.stream);
            super::discard_unread(&mut connection.stream);
            super::connection_log::closed(&connection.peer, why);
        }
    }

    /// A stop was requested: stop listening, close what is idle and may be closed, give the rest the drain time.
    fn begin_stop(&mut self) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        for mut listener in self.listeners.drain(..) {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        for socket in &mut self.udp {
            // Kept open to send replies still owed, but no longer read.
            let _ = self.poll.registry().deregister(socket);
        }
        // Every connection first serves what has already arrived (its next reply says the server is stopping);
        // then the ones left idle, whose protocol allows it, are closed now and the rest get the drain time.
        let keys: Vec<usize> = self.connections.iter().map(|(key, _)| key).collect();
        for key in keys {
            // Read once more even if drained: input whose event is still on its way is served too.
            self.connections[key].input_drained = false;
            let may_close = self.connections[key].session.server_stopping();
            self.advance(key);
            if may_close && self.connections.get(key).is_some_and(Connection::is_idle) {
                self.close(key, "server stopping");
            }
        }
        let deadline = self.shared.shutdown.drain_deadline();
        self.add_timer(deadline, Timer::DrainOver);
    }
}
