//! One thread, one io_uring: completion instead of readiness, and the way below one system call a round trip.
//!
//! Every other event model here asks the kernel a *readiness* question — `select`, `poll`, epoll: "tell me when
//! this socket can be read" — and then does the I/O itself: an `epoll_wait` to learn that a socket is readable, a
//! `recvfrom` to read it, a `sendto` to answer. Three system calls a round trip at best, each a trip into the
//! kernel and back. io_uring asks for *completion* instead: "do this read, and tell me when it is done". The
//! program writes requests (submission queue entries) into memory it shares with the kernel, one
//! `io_uring_enter` hands over all of them and waits, and the results come back as completion entries in the
//! same shared memory. The read has already happened when its completion is seen; the reply written in answer
//! is just another entry, submitted with everyone else's by the next enter. With 100 busy connections, one
//! `io_uring_enter` carries a hundred replies out and brings a hundred requests in: the system calls per round
//! trip fall below one, because the cost of entering the kernel is shared by everything done in that turn.
//!
//! The loop:
//! - Each turn is exactly one `io_uring_enter`: it submits every entry queued since the last turn and waits
//!   until at least one completion is there, or until the first timer is due (the wait's own timeout). Then
//!   every completion is handled, and due timers fire.
//! - A listener has one *multishot* accept: submitted once, it completes once per new connection for ever.
//! - A connection has one *multishot* receive, submitted once and completing each time data arrives, with no
//!   buffer of its own: the kernel takes one from the *provided-buffer ring* (1,024 buffers of 4 KiB, `ring.rs`),
//!   and the loop hands the bytes to the session and gives the buffer back at once. So 10,000 idle connections
//!   hold no buffers, and a round trip costs the loop one submission (the reply), not two.
//! - A reply is a send of the connection's `Output` (a `writev` when the shared HTTP page follows), submitted in
//!   the same turn's batch as every other. A short send is submitted again for the rest. Input that arrives while
//!   a reply or its work is pending is held until the session asks for it, and the receive is cancelled until
//!   then: the loop's backpressure, as in `poll`. The price of a receive that is always armed: what the kernel
//!   took before the cancel arrived stays held (a turn's worth, about half a MiB for a client that floods
//!   without reading); after it, such a client fills its own socket, as it would under `poll`.
//! - `sleep:D` work is a timeout operation in the ring; `cpu:D` and `block:D` run inline (every other connection
//!   waits) or, with `--offload N`, on helper threads that wake the loop through an eventfd the ring reads.
//! - The deadlines are every model's ([`ConnectionClock`]): one timer per connection in an ordered map, set at
//!   the nearest deadline and asked again when it fires, as in `poll` (`timers.rs`).
//! - The kernel holds pointers into the loop's memory (a send's bytes, a buffer ring) until an operation
//!   completes. So a connection is closed in two steps: its operations are cancelled, and it is released — its
//!   socket closed, its memory freed — only when the last of them has completed. The loop itself ends only once
//!   the kernel holds nothing of it (`closing.rs`).
//!
//! Where io_uring is unavailable (switched off by `/proc/sys/kernel/io_uring_disabled`, an old kernel, a seccomp
//! filter) the model refuses to start and says why ([`ring::check_available`]).
//!
//! This file is the chapter: the loop and a connection's life. Beside it: `ring.rs` (the ring, entering it,
//! operation names, provided buffers), `closing.rs` (closing and stopping), `timers.rs` (deadlines, the drain)
//! and `datagrams.rs` (UDP and offloaded work).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use io_uring::types::{Fd, Timespec};
use io_uring::{IoUring, cqueue, opcode, squeue};
use slab::Slab;
use tracing::debug;

mod closing;
mod datagrams;
pub mod ring;
mod timers;

use datagrams::DatagramSlot;
use ring::{BUFFER_GROUP, BUFFER_SIZE, BUFFERS, BufRing, Op, send_entry};
use timers::{Timer, TimerKey};

use super::deadlines::ConnectionClock;
use super::offload::{Helpers, Job};
use super::{Listeners, Shared};
use crate::protocol::{self, Output, Session, Step};
use crate::stats::Counted;
use crate::work::Work;

pub use ring::check_available;

/// How long to stop accepting after running out of file descriptors, so that closing connections can free some.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// How long the loop waits, at its end, for the kernel to give back what it holds.
const RELEASE_BOUND: Duration = Duration::from_secs(1);

pub fn serve(listeners: Listeners, shared: &Shared) -> io::Result<()> {
    let ring = ring::new_server_ring()?;
    let buffers = BufRing::register(&ring, BUFFERS, BUFFER_SIZE)?;
    // SAFETY: eventfd returns a new descriptor that nothing else owns.
    let wake = match unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) } {
        -1 => return Err(io::Error::last_os_error()),
        fd => Arc::new(std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) })),
    };
    thread::scope(|scope| {
        let helpers = shared.config.offload.map(|n| {
            let wake = Arc::clone(&wake);
            Helpers::start(scope, n, shared, move || {
                let _ = (&*wake).write(&1u64.to_ne_bytes());
            })
        });
        EventLoop::new(ring, buffers, listeners, helpers, wake, shared).run()
    })
}

/// One client connection and everything the loop must remember about it between completions.
struct Connection<'a> {
    /// Distinguishes this connection from a later one in its slab slot (32 bits: it travels in `user_data`).
    id: u64,
    stream: TcpStream,
    session: Box<dyn Session>,
    /// Reply bytes not yet sent; the kernel reads them while `sending`.
    output: Output,
    /// Replies in `output` not yet fully sent: a request counts as served once its reply is.
    owed: u64,
    /// The request's work is in progress (a timeout op or a helper thread).
    working: bool,
    clock: ConnectionClock,
    /// Operations in flight: the connection is not released while any is. (`receiving`: the multishot receive
    /// is armed, until its last completion.)
    receiving: bool,
    sending: bool,
    sleeping: bool,
    /// The receive is being cancelled: input came while the session was not asking for it.
    pausing: bool,
    /// Input received while the session was not asking for it, and how it ended (0: end of input, or -errno).
    held: Vec<u8>,
    held_end: Option<i32>,
    /// Why it is being closed, once it is: it waits only for its operations to finish.
    closing: Option<&'static str>,
    armed: Option<TimerKey>,
    /// The two slices of a `writev`, where the kernel can find them until it completes.
    iovecs: Box<[libc::iovec; 2]>,
    _open: Counted<'a>,
}

impl Connection<'_> {
    /// Produces the reply to the request whose work is done.
    fn reply(&mut self, now: Instant) {
        self.working = false;
        if self.output.is_empty() {
            // A new reply starts its send deadline (a partly sent one keeps counting from its last progress).
            self.clock.output(now);
        }
        self.session.respond(SystemTime::now(), &mut self.output);
        self.owed += 1;
    }

    /// Nothing in progress, nothing unsent, no half-received request: closing loses nothing.
    fn is_idle(&self) -> bool {
        !self.working && self.output.is_empty() && !self.session.has_partial_request()
    }

    fn in_flight(&self) -> bool {
        self.receiving || self.sending || self.sleeping
    }

    /// The session is asking for input: no reply or work is pending.
    fn wants_input(&self) -> bool {
        !self.working && !self.sending && self.output.is_empty()
    }

    fn op(&self, key: usize, kind: fn(usize, u64) -> Op) -> u64 {
        kind(key, self.id).encode()
    }
}

/// The loop's whole state. Only ever touched by the one thread that runs it. The ring is declared first so it is
/// dropped first: the memory the kernel may still point into outlives it.
struct EventLoop<'a> {
    ring: IoUring,
    buffers: BufRing,
    shared: &'a Shared,
    /// `None` once closed at a stop.
    listeners: Vec<Option<TcpListener>>,
    udp: Vec<UdpSocket>,
    #[expect(
        clippy::vec_box,
        reason = "the kernel holds pointers into each slot: it must not move"
    )]
    udp_slots: Vec<Box<DatagramSlot>>,
    connections: Slab<Connection<'a>>,
    timers: BTreeMap<TimerKey, Timer>,
    timer_seq: u64,
    /// Timeouts of `sleep:` work: the kernel reads them when they are submitted, at the next enter.
    #[expect(
        clippy::vec_box,
        reason = "the kernel reads each where it was when queued: it must not move"
    )]
    timespecs: Vec<Box<Timespec>>,
    helpers: Option<Helpers>,
    wake: Arc<std::fs::File>,
    wake_count: Box<[u8; 8]>,
    /// Datagram replies waiting for their `sleep:` work.
    datagram_replies: Slab<(usize, std::net::SocketAddr, Vec<u8>)>,
    /// Operations the kernel has not finished with.
    in_flight: usize,
    /// Connections whose receive found no free buffer: receive again next turn.
    starved: Vec<usize>,
    /// Receives are multishot (false on kernels before 6.0, found out by the first receive).
    multishot_recv: bool,
    now: Instant,
    next_id: u64,
    stopping: bool,
    drained: bool,
}

impl<'a> EventLoop<'a> {
    fn new(
        ring: IoUring,
        buffers: BufRing,
        listeners: Listeners,
        helpers: Option<Helpers>,
        wake: Arc<std::fs::File>,
        shared: &'a Shared,
    ) -> Self {
        let (mut tcp, mut udp) = (Vec::new(), Vec::new());
        match listeners {
            Listeners::Tcp(list) => tcp = list.into_iter().map(Some).collect(),
            Listeners::Udp(list) => udp = list,
        }
        EventLoop {
            ring,
            buffers,
            shared,
            listeners: tcp,
            udp_slots: udp.iter().map(|_| DatagramSlot::new()).collect(),
            udp,
            connections: Slab::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            timespecs: Vec::new(),
            helpers,
            wake,
            wake_count: Box::new([0; 8]),
            datagram_replies: Slab::new(),
            in_flight: 0,
            starved: Vec::new(),
            multishot_recv: true,
            now: Instant::now(),
            next_id: 0,
            stopping: false,
            drained: false,
        }
    }

    fn run(mut self) -> io::Result<()> {
        let stop_fd = self.shared.shutdown.wake_fd().as_raw_fd();
        self.submit(
            opcode::PollAdd::new(Fd(stop_fd), libc::POLLIN as u32).build(),
            Op::Stop,
        );
        for i in 0..self.listeners.len() {
            self.arm_accept(i);
        }
        for i in 0..self.udp.len() {
            self.arm_datagram(i);
        }
        if self.helpers.is_some() {
            self.arm_helpers_done();
        }
        if self.shared.shutdown.is_requested() {
            self.begin_stop();
        }
        let served = self.turn_until_done();
        self.release_everything();
        served
    }

    fn turn_until_done(&mut self) -> io::Result<()> {
        loop {
            let helpers_busy = self.helpers.as_ref().is_some_and(|h| h.in_flight > 0);
            let owed = helpers_busy || !self.datagram_replies.is_empty();
            if self.stopping && self.connections.is_empty() && (self.drained || !owed) {
                return Ok(());
            }
            let first_timer = self.timers.first_key_value().map(|((at, _), _)| *at);
            self.enter(first_timer)?;
            self.now = Instant::now();
            let mut stop = false;
            let completions: Vec<cqueue::Entry> = self.ring.completion().collect();
            for completion in completions {
                let op = Op::decode(completion.user_data());
                if !cqueue::more(completion.flags()) {
                    self.in_flight -= 1;
                }
                // A stop is handled after the rest of the batch: input that came with it is served first.
                match op {
                    Op::Stop => stop = true,
                    op => self.complete(op, completion.result(), completion.flags()),
                }
            }
            if stop {
                self.begin_stop();
            }
            self.fire_due_timers();
            for key in std::mem::take(&mut self.starved) {
                self.advance(key);
            }
        }
    }

    fn complete(&mut self, op: Op, result: i32, flags: u32) {
        match op {
            Op::Accept(i) => self.accepted(i, result, flags),
            Op::Recv { key, id } => self.received(key, id, result, flags),
            Op::Send { key, id } => self.sent(key, id, result),
            Op::Sleep { key, id } => self.slept(key, id),
            Op::HelpersDone => {
                self.collect_helper_results();
                self.arm_helpers_done();
            }
            Op::Datagram(i) => self.datagram_received(i, result),
            Op::DatagramSleep(slot) => self.datagram_slept(slot),
            Op::Stop | Op::Ignore => {}
        }
    }

    fn arm_accept(&mut self, i: usize) {
        if let Some(Some(listener)) = self.listeners.get(i) {
            let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
            let accept = opcode::AcceptMulti::new(Fd(listener.as_raw_fd())).flags(flags);
            self.submit(accept.build(), Op::Accept(i));
        }
    }

    /// The multishot accept on listener `i` completed: a new connection, or an error that may have ended it.
    fn accepted(&mut self, i: usize, result: i32, flags: u32) {
        if result >= 0 {
            // SAFETY: the kernel gives the accepted descriptor to us alone.
            let stream = unsafe { TcpStream::from_raw_fd(result) };
            self.add_connection(stream);
        } else if !self.stopping
            && result != -libc::ECONNABORTED
            // A stop noticed during inline work has already taken the listener out of LISTEN (EINVAL).
            && !self.shared.shutdown.is_requested()
        {
            // Usually EMFILE: out of descriptors. Clients wait in the backlog while closing connections free some.
            self.shared.stats.error();
            super::connection_log::accept_failed(&io::Error::from_raw_os_error(-result));
        }
        if cqueue::more(flags) {
            return;
        }
        if self.stopping {
            self.listeners[i] = None;
        } else if result < 0 {
            self.add_timer(self.now + ACCEPT_PAUSE, Timer::ResumeAccept(i));
        } else {
            self.arm_accept(i);
        }
    }

    fn add_connection(&mut self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        self.next_id = (self.next_id + 1) & 0xffff_ffff;
        let config = &self.shared.config;
        let key = self.connections.insert(Connection {
            id: self.next_id,
            stream,
            session: protocol::new_session(config.proto, &config.page, config.max_body),
            output: Output::default(),
            owed: 0,
            working: false,
            clock: ConnectionClock::accepted(self.now),
            receiving: false,
            sending: false,
            sleeping: false,
            pausing: false,
            held: Vec::new(),
            held_end: None,
            closing: None,
            armed: None,
            iovecs: Box::new(
                [libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                }; 2],
            ),
            _open: self.shared.stats.connection_opened(),
        });
        crate::models::connection_log::opened(&PeerOf(&self.connections[key].stream));
        if self.stopping {
            self.connections[key].session.server_stopping();
        }
        self.advance(key);
    }

    /// Takes connection `key` as far as it goes without waiting: sends what is unsent, lets the protocol answer
    /// what it can, and otherwise asks for input. Never more than one send or receive in flight.
    fn advance(&mut self, key: usize) {
        let shared = self.shared;
        loop {
            let Some(connection) = self.connections.get_mut(key) else {
                return;
            };
            if connection.closing.is_some() || connection.working || connection.sending {
                return;
            }
            if !connection.output.is_empty() {
                let entry = send_entry(connection);
                connection.sending = true;
                let op = connection.op(key, |key, id| Op::Send { key, id });
                self.submit_raw(entry.user_data(op));
                return self.arm_deadline(key);
            }
            shared
                .stats
                .requests_served(std::mem::take(&mut connection.owed));
            match connection.session.step() {
                Step::Request { work: true } if shared.config.work != Work::None => {
                    connection.working = true;
                    return self.start_work(key);
                }
                Step::Request { .. } => connection.reply(self.now),
                Step::Close => return self.close(key, "done"),
                Step::NeedInput if self.drained => return self.close(key, "drain timeout"),
                Step::NeedInput if !connection.held.is_empty() => {
                    // At most a buffer at a time, as it would have been read.
                    let n = connection.held.len().min(BUFFER_SIZE);
                    connection.session.feed(&connection.held[..n]);
                    connection.held.drain(..n);
                }
                Step::NeedInput if connection.held_end.is_some() => {
                    match connection.held_end.take() {
                        Some(0) => connection.session.feed_eof(),
                        Some(e) => return self.fail(key, e),
                        None => {}
                    }
                }
                Step::NeedInput => {
                    if !connection.receiving {
                        connection.receiving = true;
                        let fd = Fd(connection.stream.as_raw_fd());
                        let entry = if self.multishot_recv {
                            opcode::RecvMulti::new(fd, BUFFER_GROUP).build()
                        } else {
                            let recv =
                                opcode::Recv::new(fd, std::ptr::null_mut(), BUFFER_SIZE as u32);
                            recv.buf_group(BUFFER_GROUP)
                                .build()
                                .flags(squeue::Flags::BUFFER_SELECT)
                        };
                        let op = connection.op(key, |key, id| Op::Recv { key, id });
                        self.submit_raw(entry.user_data(op));
                    }
                    return self.arm_deadline(key);
                }
            }
        }
    }

    /// The receive completed: bytes (in a provided buffer), the end of input, or an error. Unless the kernel
    /// says more will come, the receive is over and is submitted again when the session next asks for input.
    fn received(&mut self, key: usize, id: u64, result: i32, flags: u32) {
        let bid = cqueue::buffer_select(flags);
        let Some(connection) = live(&mut self.connections, key, id) else {
            return;
        };
        if !cqueue::more(flags) {
            connection.receiving = false;
            connection.pausing = false;
        }
        let wanted = connection.wants_input();
        if let Some(bid) = bid {
            if connection.closing.is_none() && result > 0 {
                let bytes = self.buffers.filled(bid, result as usize);
                if wanted {
                    connection.session.feed(bytes);
                } else {
                    connection.held.extend_from_slice(bytes);
                }
                connection.clock.input(self.now);
            }
            self.buffers.give_back(bid);
        }
        match result {
            _ if connection.closing.is_some() => return self.release_if_done(key),
            n if n > 0 => {}
            e if e == -libc::ENOBUFS => return self.starved.push(key),
            // ECANCELED: the pause below ended it; receive again when the session asks.
            e if e == -libc::EINTR || e == -libc::EAGAIN || e == -libc::ECANCELED => {}
            // A kernel before 6.0 has no multishot receive: one receive per read, then.
            e if e == -libc::EINVAL && self.multishot_recv => self.multishot_recv = false,
            0 if wanted => connection.session.feed_eof(),
            e if wanted => return self.fail(key, e),
            end => connection.held_end = Some(end),
        }
        if !wanted && connection.receiving && !connection.pausing {
            // Backpressure: nothing more is read until the session asks for it.
            connection.pausing = true;
            let recv = connection.op(key, |key, id| Op::Recv { key, id });
            self.submit(opcode::AsyncCancel::new(recv).build(), Op::Ignore);
        }
        self.advance(key);
    }

    /// A send completed: the socket took `result` bytes, or it failed.
    fn sent(&mut self, key: usize, id: u64, result: i32) {
        let now = self.now;
        let Some(connection) = live(&mut self.connections, key, id) else {
            return;
        };
        connection.sending = false;
        match result {
            _ if connection.closing.is_some() => return self.release_if_done(key),
            0 => return self.close(key, "peer stopped reading"),
            n if n > 0 => {
                connection.output.advance(n as usize);
                connection.clock.output(now);
            }
            e if e == -libc::EINTR || e == -libc::EAGAIN => {}
            e => return self.fail(key, e),
        }
        self.advance(key);
    }

    /// Runs the work of connection `key`'s request: a timeout op for `sleep:`, a helper, or inline.
    fn start_work(&mut self, key: usize) {
        let connection = &mut self.connections[key];
        let id = connection.id;
        match self.shared.config.work {
            Work::Sleep(d) => {
                connection.sleeping = true;
                let op = connection.op(key, |key, id| Op::Sleep { key, id });
                let timespec = Box::new(Timespec::from(d));
                let entry = opcode::Timeout::new(&*timespec).build();
                self.timespecs.push(timespec);
                self.submit_raw(entry.user_data(op));
            }
            work => match &mut self.helpers {
                Some(helpers) => helpers.send(work, Job::Connection { key, id }),
                None => {
                    // Inline: every other client waits while this runs. That is the lesson. The replies already
                    // made go out first, as `poll` writes them, instead of waiting behind it for the turn's end.
                    if let Err(e) = self.ring.submit() {
                        debug!(error = %e, "cannot submit");
                    }
                    if !work.run_bounded(&self.shared.shutdown) {
                        return self.close(key, "drain timeout");
                    }
                    self.work_done(key, id);
                }
            },
        }
    }

    /// The work of connection `key` is over: reply and carry on.
    fn work_done(&mut self, key: usize, id: u64) {
        let now = self.now;
        let Some(connection) = live(&mut self.connections, key, id) else {
            return;
        };
        if connection.closing.is_none() {
            connection.reply(now);
            self.advance(key);
        }
    }

    fn fail(&mut self, key: usize, errno: i32) {
        self.shared.stats.error();
        if let Some(connection) = self.connections.get(key) {
            let error = io::Error::from_raw_os_error(-errno);
            crate::models::connection_log::failed(&PeerOf(&connection.stream), &error);
        }
        self.close(key, "error");
    }
}

/// The connection in slot `key`, if it is still the one with `id`.
fn live<'c, 'a>(
    connections: &'c mut Slab<Connection<'a>>,
    key: usize,
    id: u64,
) -> Option<&'c mut Connection<'a>> {
    connections.get_mut(key).filter(|c| c.id == id)
}

/// A connection's peer, looked up only if a log line is written.
pub(super) struct PeerOf<'a>(pub &'a std::net::TcpStream);

impl std::fmt::Display for PeerOf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.peer_addr() {
            Ok(addr) => write!(f, "{addr}"),
            Err(_) => f.write_str("?"),
        }
    }
}
