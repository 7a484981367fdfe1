//! Plumbing shared by the blocking models (sequential, threads, pool).
//!
//! A blocking `accept()` or `read()` cannot be interrupted by a stop request, so every wait here is a `poll` on
//! the socket(s) *and* the shutdown descriptor: the thread sleeps in the kernel until there is something to do
//! or the server is stopping. (Only an acceptor waiting at its connection cap looks again every 50 ms: a stop
//! request cannot wake a condition variable.)
//!
//! Writes are waits too. A blocking `write()` of a reply to a client that does not read would sleep for ever
//! (or, with `SO_SNDTIMEO`, restart its timer on every partial write and never hear the stop), so each write is
//! a non-blocking `send` and the thread waits in `poll` for the socket to drain, bounded by the send deadline and
//! the stop. Every wait's deadline comes from [`ConnectionClock`], the rule all models share.

use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::SockRef;
use tracing::{debug, warn};

use super::Shared;
use super::deadlines::{ConnectionClock, Expiry};
use crate::protocol::{self, Output, Session, Step};
use crate::stats::Counted;

/// A connection taken off a listener, counted as open until dropped.
pub struct Accepted<'a> {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub open: Counted<'a>,
}

/// What a wait ended with.
enum Wake {
    /// `fds[i]` is readable (or has hung up or failed, which a read will report).
    Ready(usize),
    /// The server is stopping.
    Stop,
    /// The deadline passed.
    Deadline,
}

/// Sleeps until one of `fds` is ready for `interest` (readable, or writable), the server is told to stop (unless
/// `watch_stop` is false), or `deadline` passes. Starts looking at `fds[first]`, so that several listeners take
/// turns. Whoever notices a stop first takes the listeners out of LISTEN.
fn wait(
    fds: &[BorrowedFd],
    interest: PollFlags,
    first: usize,
    shared: &Shared,
    watch_stop: bool,
    deadline: Option<Instant>,
) -> io::Result<Wake> {
    loop {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(Wake::Deadline);
                }
                // Round up: waking a millisecond early would only loop.
                let millis = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
                PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut polled: Vec<PollFd> = fds.iter().map(|fd| PollFd::new(*fd, interest)).collect();
        if watch_stop {
            polled.push(PollFd::new(shared.shutdown.wake_fd(), PollFlags::POLLIN));
        }
        match poll(&mut polled, timeout) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
        // A socket with something to read comes first: a request that has already arrived is answered even
        // when the stop request arrived at the same time.
        for offset in 0..fds.len() {
            let i = (first + offset) % fds.len();
            if polled[i].any().unwrap_or(false) {
                return Ok(Wake::Ready(i));
            }
        }
        if watch_stop && polled[fds.len()].any().unwrap_or(false) {
            shared.shutdown.stop_listening();
            return Ok(Wake::Stop);
        }
    }
}

/// Waits for the next connection on any listener and accepts it; `None` once the server is stopping.
pub fn accept_next<'a>(listeners: &[TcpListener], shared: &'a Shared) -> Option<Accepted<'a>> {
    let accepted = take_turns(listeners, shared, |listener| match listener.accept() {
        Ok((stream, peer)) => {
            // Accepted sockets do not inherit the listener's O_NONBLOCK on Linux, but say so explicitly.
            if let Err(e) = stream.set_nonblocking(false) {
                warn!(%peer, error = %e, "cannot make the connection blocking");
                return None;
            }
            Some(Accepted {
                stream,
                peer,
                open: shared.stats.connection_opened(),
            })
        }
        // Another thread or process took it, or the client gave up before we got to it.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::ConnectionAborted
            ) =>
        {
            None
        }
        Err(e) => {
            // Out of file descriptors or memory: back off instead of spinning, and let clients queue.
            shared.stats.error();
            super::connection_log::accept_failed(&e);
            std::thread::sleep(Duration::from_millis(10));
            None
        }
    });
    accepted.map(|(_, connection)| connection)
}

/// Waits for the next datagram on any socket; returns which socket, its length in `buf` and its sender.
/// `None` once the server is stopping.
pub fn recv_next(
    sockets: &[UdpSocket],
    shared: &Shared,
    buf: &mut [u8],
) -> Option<(usize, usize, SocketAddr)> {
    let (socket, (len, peer)) =
        take_turns(sockets, shared, |socket| match socket.recv_from(buf) {
            Ok(received) => Some(received),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(e) => {
                // An ICMP "port unreachable" from an earlier reply surfaces here; it concerns that client only.
                debug!(error = %e, "receive failed");
                None
            }
        })?;
    Some((socket, len, peer))
}

/// Waits until one of `sockets` is readable and tries `take` on it, the sockets taking turns, until `take` gives
/// something; returns which socket and what. `None` once the server is stopping.
fn take_turns<S: AsFd, T>(
    sockets: &[S],
    shared: &Shared,
    mut take: impl FnMut(&S) -> Option<T>,
) -> Option<(usize, T)> {
    let fds: Vec<BorrowedFd> = sockets.iter().map(AsFd::as_fd).collect();
    let mut turn = 0;
    loop {
        if shared.shutdown.is_requested() {
            shared.shutdown.stop_listening();
            return None;
        }
        let ready = match wait(&fds, PollFlags::POLLIN, turn, shared, true, None) {
            Ok(Wake::Ready(i)) => i,
            Ok(Wake::Stop | Wake::Deadline) => return None,
            Err(e) => {
                warn!(error = %e, "waiting for a socket failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        turn = ready + 1;
        if let Some(taken) = take(&sockets[ready]) {
            return Some((ready, taken));
        }
    }
}

/// Does the work for one datagram and sends the reply back to its sender.
pub fn answer_datagram(socket: &UdpSocket, datagram: &[u8], peer: SocketAddr, shared: &Shared) {
    if !shared.config.work.run_bounded(&shared.shutdown) {
        return;
    }
    let mut reply = Vec::with_capacity(datagram.len());
    protocol::datagram_reply(shared.config.proto, datagram, &mut reply);
    match socket.send_to(&reply, peer) {
        Ok(_) => shared.stats.request_served(),
        Err(e) => {
            shared.stats.error();
            debug!(%peer, error = %e, "reply not sent");
        }
    }
}

/// Serves one connection to its end on the calling thread: read, let the protocol decide, work, reply, repeat.
pub fn serve_connection(accepted: Accepted<'_>, shared: &Shared) {
    let Accepted { stream, peer, open } = accepted;
    super::connection_log::opened(&peer);
    let mut session = protocol::new_session(
        shared.config.proto,
        &shared.config.page,
        shared.config.max_body,
    );
    let mut stream = stream;
    match drive(&mut stream, session.as_mut(), shared) {
        Ok(why) => super::connection_log::closed(&peer, why),
        Err(e) => {
            shared.stats.error();
            super::connection_log::failed(&peer, &e);
        }
    }
    if stream.set_nonblocking(true).is_ok() {
        super::discard_unread(&mut stream);
    }
    drop(open);
}

fn drive(
    stream: &mut TcpStream,
    session: &mut dyn Session,
    shared: &Shared,
) -> io::Result<&'static str> {
    // Replies are small and written whole: send them now rather than wait for Nagle.
    stream.set_nodelay(true)?;
    let mut input = [0u8; 16 * 1024];
    let mut output = Output::default();
    let mut clock = ConnectionClock::accepted(Instant::now());
    let mut stopping = false;
    loop {
        match session.step() {
            Step::Request { work } => {
                if work && !shared.config.work.run_bounded(&shared.shutdown) {
                    return Ok("drain timeout");
                }
                if !stopping && shared.shutdown.is_requested() {
                    // Say so in this reply (HTTP: `Connection: close`) rather than close after it unannounced.
                    stopping = true;
                    shared.shutdown.stop_listening();
                    session.server_stopping();
                }
                session.respond(SystemTime::now(), &mut output);
                if let Some(expired) = send(stream, &mut output, &mut clock, shared, &mut stopping)?
                {
                    return Ok(expired.reason());
                }
                shared.stats.request_served();
            }
            Step::Close => return Ok("done"),
            Step::NeedInput => {
                clock.track_head(session, Instant::now());
                let deadline = clock.input_deadline(shared, stopping);
                let at = deadline.map(|(at, _)| at);
                match wait(
                    &[stream.as_fd()],
                    PollFlags::POLLIN,
                    0,
                    shared,
                    !stopping,
                    at,
                )? {
                    Wake::Ready(_) => match stream.read(&mut input) {
                        Ok(0) => session.feed_eof(),
                        Ok(n) => {
                            session.feed(&input[..n]);
                            clock.input(Instant::now());
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    },
                    Wake::Stop => {
                        stopping = true;
                        if session.server_stopping() && !session.has_partial_request() {
                            return Ok("server stopping");
                        }
                    }
                    Wake::Deadline => match deadline.map(|(_, why)| why) {
                        Some(Expiry::Header) => session.head_timed_out(),
                        Some(why) => return Ok(why.reason()),
                        None => {}
                    },
                }
            }
        }
    }
}

/// Sends all of `output` without ever blocking in `write`: what the socket does not take now is waited for in
/// `poll`, up to the send deadline (or the drain deadline once stopping). Returns the deadline that ended it,
/// if one did.
fn send(
    stream: &TcpStream,
    output: &mut Output,
    clock: &mut ConnectionClock,
    shared: &Shared,
    stopping: &mut bool,
) -> io::Result<Option<Expiry>> {
    // Whether bytes went out since the clock last heard: the clock is read only when the socket is full.
    let mut progressed = true;
    while !output.is_empty() {
        match output.write_to(&mut NonBlockingSend(stream)) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => progressed = true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if std::mem::take(&mut progressed) {
                    clock.output(Instant::now());
                }
                let (at, why) = clock.send_deadline(shared, *stopping);
                match wait(
                    &[stream.as_fd()],
                    PollFlags::POLLOUT,
                    0,
                    shared,
                    !*stopping,
                    Some(at),
                )? {
                    Wake::Ready(_) => {}
                    // The deadline shrinks to the drain time: look again.
                    Wake::Stop => *stopping = true,
                    Wake::Deadline => return Ok(Some(why)),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Writes to a blocking socket without blocking (`MSG_DONTWAIT`), so a thread never sleeps inside `write`.
struct NonBlockingSend<'a>(&'a TcpStream);

impl Write for NonBlockingSend<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        SockRef::from(self.0).send_with_flags(buf, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        SockRef::from(self.0)
            .send_vectored_with_flags(bufs, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
