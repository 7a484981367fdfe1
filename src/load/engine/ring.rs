//! The generator on io_uring (`--io uring`): the same clients and the same state machine, with completion instead
//! of readiness underneath.
//!
//! On epoll a request costs the generator two system calls (a `send`, a `recv`) plus its share of an `epoll_wait`.
//! Here a client's connection has one *multishot* receive, armed once when it connects, that completes each time a
//! piece of the reply arrives, into a buffer the kernel picks from the thread's provided-buffer ring; a request is
//! one send entry. Every entry of a turn goes to the kernel in the turn's one `io_uring_enter`, which also waits
//! for the next completions. With a hundred clients per thread a turn carries about a hundred requests out and a
//! hundred replies in (a full submission queue is handed over early, in an extra enter): the generator's system
//! calls per request fall far below one, and the CPU it leaves to the
//! server grows by what those calls cost.
//!
//! What changes for the measurement: a request's send is queued when it starts and leaves with the rest of the
//! turn, a few microseconds later (the clock is read at the start, so that wait counts in its latency, as it
//! would in any batching client); replies are timed when their completion is seen, as epoll replies are when
//! their readiness is.
//!
//! Why sockets are closed a turn late: the kernel resolves an entry's descriptor number when it takes the entry,
//! at the next enter. A socket closed at once could hand its number to the next connection while an entry queued
//! for the old one still names it. So a closed socket has its operations cancelled, and its descriptor waits in
//! `closing` until the turn's entries are with the kernel. (An operation in flight holds the socket itself, not
//! the number, so the cancel is what lets the connection really close.)

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use io_uring::types::{CancelBuilder, Fd, SubmitArgs, Timespec};
use io_uring::{IoUring, cqueue, opcode};
use socket2::SockAddr;

use super::super::clock::Nanos;
use super::super::report::ErrorKind;
use super::Worker;
use super::client::{Phase, Sock};
use super::tcp::{connect_message, feed_reply};
use crate::uring::{BUFFER_GROUP, BufRing, new_ring, push};

/// Provided buffers: at most this many per thread (fewer for fewer clients), each this large. A buffer is given
/// back as soon as its bytes are checked, so a turn needs about one per client that received.
const MAX_BUFFERS: u16 = 1024;
const BUFFER_SIZE: usize = 8 * 1024;
/// How long the thread waits, at the end of its run, for the kernel to give back what it holds.
const RELEASE_BOUND: Nanos = Nanos::from_millis(1000);

/// A thread's ring and what it shares with the kernel through it.
pub(super) struct Ring {
    ring: IoUring,
    buffers: BufRing,
    /// The target, as the connect entries point to it.
    target: SockAddr,
    /// Sockets closed this turn, closed for real once the turn's entries are with the kernel.
    closing: Vec<OwnedFd>,
    /// Operations the kernel has not finished (a multishot receive counts until its last completion).
    in_kernel: usize,
    /// The id of the next connection (it travels in `user_data`, so a late completion of an old connection is
    /// recognized as such).
    next_id: u32,
    /// The turn's completions, copied out of the queue so that handling them can queue new entries.
    completions: Vec<(u64, i32, u32)>,
}

/// A client's connection on the ring.
pub(super) struct RingSocket {
    fd: OwnedFd,
    id: u32,
}

/// What an operation was for: kind in the top 8 bits, the client in the next 24, the connection's id below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Connect {
        client: usize,
        id: u32,
    },
    Recv {
        client: usize,
        id: u32,
    },
    Send {
        client: usize,
        id: u32,
    },
    /// A cancellation: nothing to do when it completes.
    Ignore,
}

impl Op {
    fn encode(self) -> u64 {
        let (kind, client, id) = match self {
            Op::Connect { client, id } => (1, client, id),
            Op::Recv { client, id } => (2, client, id),
            Op::Send { client, id } => (3, client, id),
            Op::Ignore => (0, 0, 0),
        };
        (kind << 56) | ((client as u64 & 0xff_ffff) << 32) | u64::from(id)
    }

    fn decode(data: u64) -> Op {
        let client = ((data >> 32) & 0xff_ffff) as usize;
        let id = data as u32;
        match data >> 56 {
            1 => Op::Connect { client, id },
            2 => Op::Recv { client, id },
            3 => Op::Send { client, id },
            _ => Op::Ignore,
        }
    }
}

/// Clients a thread may have on the ring: the client's index must fit in `user_data`'s 24 bits.
const MAX_CLIENTS: usize = 1 << 24;

impl Ring {
    /// A ring sized for `clients` clients of one thread, aimed at `target`.
    pub(super) fn new(clients: usize, target: std::net::SocketAddr) -> io::Result<Ring> {
        if clients > MAX_CLIENTS {
            return Err(io::Error::other(format!(
                "--io uring: at most {MAX_CLIENTS} clients a thread"
            )));
        }
        let entries = (2 * clients).next_power_of_two().clamp(64, 4096) as u32;
        let ring = new_ring(entries)?;
        let count = (2 * clients)
            .next_power_of_two()
            .clamp(64, usize::from(MAX_BUFFERS)) as u16;
        let buffers = BufRing::register(&ring, count, BUFFER_SIZE)?;
        Ok(Ring {
            ring,
            buffers,
            target: SockAddr::from(target),
            closing: Vec::new(),
            in_kernel: 0,
            next_id: 0,
            completions: Vec::new(),
        })
    }

    fn queue(&mut self, entry: io_uring::squeue::Entry, op: Op) -> io::Result<()> {
        push(&mut self.ring, entry.user_data(op.encode()))?;
        if op != Op::Ignore {
            self.in_kernel += 1;
        }
        Ok(())
    }

    fn arm_receive(&mut self, client: usize, s: &RingSocket) -> io::Result<()> {
        let entry = opcode::RecvMulti::new(Fd(s.fd.as_raw_fd()), BUFFER_GROUP).build();
        self.queue(entry, Op::Recv { client, id: s.id })
    }

    /// Submits every queued entry and waits for a completion, at most `wait`.
    fn enter(&mut self, wait: Nanos) -> io::Result<()> {
        let timeout = Timespec::from(wait.to_duration());
        let args = SubmitArgs::new().timespec(&timeout);
        let entered = self.ring.submitter().submit_with_args(1, &args);
        if self.ring.submission().is_empty() {
            self.closing.clear();
        }
        crate::uring::entered(entered)
    }

    /// Copies the completions out of the queue, counting the operations that are over.
    fn take_completions(&mut self) {
        self.completions.clear();
        for entry in self.ring.completion() {
            let (data, result, flags) = (entry.user_data(), entry.result(), entry.flags());
            if Op::decode(data) != Op::Ignore && !cqueue::more(flags) {
                self.in_kernel -= 1;
            }
            self.completions.push((data, result, flags));
        }
    }
}

impl Worker<'_> {
    /// Starts client `i`'s connection on the ring. A socket that cannot be made fails the request.
    pub(super) fn ring_connect(&mut self, i: usize, now: Nanos) -> io::Result<()> {
        let ring = self.ring.as_mut().expect("the ring engine");
        let fd = match tcp_socket(&ring.target) {
            Ok(fd) => fd,
            Err(e) => {
                self.fail(i, now, ErrorKind::of(&e), &connect_message(&e));
                return Ok(());
            }
        };
        ring.next_id = ring.next_id.wrapping_add(1);
        let id = ring.next_id;
        let entry = opcode::Connect::new(
            Fd(fd.as_raw_fd()),
            ring.target.as_ptr().cast(),
            ring.target.len(),
        )
        .build();
        ring.queue(entry, Op::Connect { client: i, id })?;
        let socket = RingSocket { fd, id };
        self.connecting(i, Sock::Ring(socket));
        Ok(())
    }

    /// Queues the rest of client `i`'s request.
    pub(super) fn ring_send(&mut self, i: usize, now: Nanos) {
        let plan = self.plan;
        let ring = self.ring.as_mut().expect("the ring engine");
        let c = &mut self.clients[i];
        let Sock::Ring(s) = &mut c.sock else {
            unreachable!("ring_send without a ring socket")
        };
        let rest = &plan.request.bytes[c.written..];
        if rest.is_empty() {
            // daytime asks nothing: the reply comes by itself.
            c.phase = Phase::Receiving;
            return;
        }
        // SAFETY (of the pointer the kernel reads): the request outlives the thread, which waits at its end until
        // the kernel holds nothing of it.
        let entry = opcode::Send::new(Fd(s.fd.as_raw_fd()), rest.as_ptr(), rest.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build();
        if let Err(e) = ring.queue(
            entry,
            Op::Send {
                client: i,
                id: s.id,
            },
        ) {
            return self.fail(i, now, ErrorKind::Other, &e.to_string());
        }
        c.phase = Phase::Sending;
    }

    /// Closes a ring socket: its operations cancelled, its descriptor closed once the turn's entries are in.
    pub(super) fn ring_close(&mut self, s: RingSocket) {
        let ring = self.ring.as_mut().expect("the ring engine");
        let cancel =
            opcode::AsyncCancel2::new(CancelBuilder::fd(Fd(s.fd.as_raw_fd())).all()).build();
        let _ = ring.queue(cancel, Op::Ignore);
        ring.closing.push(s.fd);
    }

    /// The turn's one system call, then every completion it brought.
    pub(super) fn ring_turn(&mut self, wait: Nanos) -> io::Result<()> {
        let ring = self.ring.as_mut().expect("the ring engine");
        ring.enter(wait)?;
        ring.take_completions();
        let completions = std::mem::take(&mut ring.completions);
        let now = self.now();
        for &(data, result, flags) in &completions {
            let bid = cqueue::buffer_select(flags);
            self.on_completion(Op::decode(data), result, flags, bid, now);
            if let Some(bid) = bid {
                self.ring.as_mut().expect("the ring").buffers.give_back(bid);
            }
        }
        self.ring.as_mut().expect("the ring").completions = completions;
        Ok(())
    }

    fn on_completion(&mut self, op: Op, result: i32, flags: u32, bid: Option<u16>, now: Nanos) {
        let (client, id) = match op {
            Op::Connect { client, id } | Op::Recv { client, id } | Op::Send { client, id } => {
                (client, id)
            }
            Op::Ignore => return,
        };
        if !self.is_current(client, id) {
            // A late completion of a connection closed since.
            return;
        }
        match op {
            Op::Connect { .. } => self.on_connected(client, result, now),
            Op::Send { .. } => self.on_sent(client, result, now),
            Op::Recv { .. } => {
                let ended = !cqueue::more(flags);
                self.on_received(client, result, bid, now);
                // A multishot receive the kernel ended (out of buffers, a full completion queue) on a connection
                // that lives on is armed again, or its next reply would never be seen. A closed connection's ended
                // with it.
                if ended && self.is_current(client, id) {
                    self.armed_to_receive(client, now);
                }
            }
            Op::Ignore => {}
        }
    }

    /// Whether client `i` still has the connection named `id`.
    fn is_current(&self, i: usize, id: u32) -> bool {
        matches!(&self.clients[i].sock, Sock::Ring(s) if s.id == id)
    }

    fn on_connected(&mut self, i: usize, result: i32, now: Nanos) {
        if result < 0 {
            let e = io::Error::from_raw_os_error(-result);
            return self.fail(i, now, ErrorKind::of(&e), &connect_message(&e));
        }
        let c = &mut self.clients[i];
        c.backoff.reset();
        // Out of `Connecting` before the slot is given back, so that a failure from here on does not give it back
        // twice.
        c.phase = Phase::Sending;
        self.connect_done();
        if self.armed_to_receive(i, now) {
            self.send(i, now);
        }
    }

    fn on_sent(&mut self, i: usize, result: i32, now: Nanos) {
        let c = &mut self.clients[i];
        if result > 0 && c.measured {
            self.out.bytes_sent += result as u64;
        }
        if c.phase != Phase::Sending {
            // The reply came (or the request failed) before the send's completion was seen.
            return;
        }
        if result < 0 {
            return self.transfer_failed(i, now, &io::Error::from_raw_os_error(-result));
        }
        c.written += result as usize;
        if c.written < self.plan.request.bytes.len() {
            return self.ring_send(i, now);
        }
        c.phase = Phase::Receiving;
    }

    fn on_received(&mut self, i: usize, result: i32, bid: Option<u16>, now: Nanos) {
        let plan = self.plan;
        let phase = self.clients[i].phase;
        let awaited = matches!(phase, Phase::Sending | Phase::Receiving);
        if result < 0 {
            return match -result {
                // Out of buffers: armed again by the caller. Cancelled: the connection is closing.
                libc::ENOBUFS | libc::ECANCELED => {}
                errno if awaited => {
                    self.transfer_failed(i, now, &io::Error::from_raw_os_error(errno))
                }
                _ => self.close(i),
            };
        }
        if !awaited {
            // A close, or bytes nobody asked for, between requests: the connection is done for.
            return self.close(i);
        }
        if result == 0 {
            return self.reply_ended(i, now);
        }
        let ring = self.ring.as_ref().expect("the ring");
        let bytes = ring.buffers.filled(bid.unwrap_or(0), result as usize);
        let c = &mut self.clients[i];
        let fed = feed_reply(c, &plan.request, bytes, &mut self.out);
        // A reply complete while its request was still being sent: the connection is not reused.
        self.reply_fed(i, now, fed, phase == Phase::Receiving);
    }

    /// Arms client `i`'s multishot receive; whether it could be (if not, the request failed).
    fn armed_to_receive(&mut self, i: usize, now: Nanos) -> bool {
        let ring = self.ring.as_mut().expect("the ring");
        let Sock::Ring(s) = &self.clients[i].sock else {
            return false;
        };
        match ring.arm_receive(i, s) {
            Ok(()) => true,
            Err(e) => {
                self.fail(i, now, ErrorKind::Other, &e.to_string());
                false
            }
        }
    }

    /// The run is over: every connection's operations are cancelled, and the thread waits (a second at most)
    /// until the kernel has finished them all, so that nothing it still holds points into freed memory.
    pub(super) fn ring_release(&mut self) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        let cancel = opcode::AsyncCancel2::new(CancelBuilder::any()).build();
        let _ = ring.queue(cancel, Op::Ignore);
        let bound = self.plan.clock.now() + RELEASE_BOUND;
        loop {
            let now = self.plan.clock.now();
            let ring = self.ring.as_mut().expect("the ring");
            if ring.in_kernel == 0 || now >= bound {
                break;
            }
            if ring.enter(bound.saturating_sub(now)).is_err() {
                break;
            }
            ring.take_completions();
            for &(_, _, flags) in &ring.completions {
                if let Some(bid) = cqueue::buffer_select(flags) {
                    ring.buffers.give_back(bid);
                }
            }
        }
    }
}

/// A non-blocking TCP socket for `target`, with Nagle off (a request is one small write).
fn tcp_socket(target: &SockAddr) -> io::Result<OwnedFd> {
    let socket = socket2::Socket::new(target.domain(), socket2::Type::STREAM.nonblocking(), None)?;
    socket.set_tcp_nodelay(true)?;
    Ok(OwnedFd::from(socket))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_comes_back_as_it_went() {
        for op in [
            Op::Connect { client: 0, id: 1 },
            Op::Recv {
                client: MAX_CLIENTS - 1,
                id: u32::MAX,
            },
            Op::Send {
                client: 12_345,
                id: 7,
            },
            Op::Ignore,
        ] {
            assert_eq!(Op::decode(op.encode()), op);
        }
    }
}
