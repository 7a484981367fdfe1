//! The ring as this model uses it: naming each operation so its completion finds its way home, entering the ring
//! once a turn, and the send of a reply. Setting a ring up (or saying why it cannot be) and the provided-buffer ring
//! are shared with the load generator (`crate::uring`).

use std::io;
use std::os::fd::AsRawFd;
use std::time::Instant;

use io_uring::types::{Fd, SubmitArgs, Timespec};
use io_uring::{IoUring, opcode, squeue};
use tracing::debug;

use super::{Connection, EventLoop};
pub use crate::uring::{BUFFER_GROUP, BufRing, new_ring, push};

/// Whether io_uring can be used on this machine, as the one-line reason to refuse `--model uring` if not.
pub fn check_available() -> Result<(), String> {
    crate::uring::check_available("--model uring")
}

/// Submission queue entries: room for a read and a write for every connection served in one turn.
const SUBMISSION_ENTRIES: u32 = 4096;

/// The buffers of the one buffer group: enough that a turn in which a thousand connections all receive finds
/// a buffer for each (a receive that finds none fails with ENOBUFS and is tried again next turn). 4 KiB holds any
/// echo message or request head of the benchmarks; a longer input simply takes several receives.
pub const BUFFERS: u16 = 1024;
pub const BUFFER_SIZE: usize = 4096;

pub fn new_server_ring() -> io::Result<IoUring> {
    new_ring(SUBMISSION_ENTRIES)
}

/// What an operation was for: carried in its `user_data` and given back with its completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Multishot accept on listener `i`.
    Accept(usize),
    Recv {
        key: usize,
        id: u64,
    },
    Send {
        key: usize,
        id: u64,
    },
    /// A connection's `sleep:` work.
    Sleep {
        key: usize,
        id: u64,
    },
    /// The shutdown descriptor turned readable.
    Stop,
    /// A helper thread finished a job (the eventfd was written).
    HelpersDone,
    /// A datagram arrived on UDP socket `i`.
    Datagram(usize),
    /// A datagram's `sleep:` work, for the reply kept at `slot`.
    DatagramSleep(usize),
    /// A cancellation: nothing to do when it completes.
    Ignore,
}

impl Op {
    /// Kind in the top 8 bits, index in the next 24, the connection's id (its low 32 bits) below.
    pub fn encode(self) -> u64 {
        let (kind, index, id) = match self {
            Op::Accept(i) => (1, i, 0),
            Op::Recv { key, id } => (2, key, id),
            Op::Send { key, id } => (3, key, id),
            Op::Sleep { key, id } => (4, key, id),
            Op::Stop => (5, 0, 0),
            Op::HelpersDone => (6, 0, 0),
            Op::Datagram(i) => (7, i, 0),
            Op::DatagramSleep(slot) => (8, slot, 0),
            Op::Ignore => (0, 0, 0),
        };
        (kind << 56) | ((index as u64 & 0xff_ffff) << 32) | (id & 0xffff_ffff)
    }

    pub fn decode(data: u64) -> Op {
        let index = ((data >> 32) & 0xff_ffff) as usize;
        let (key, id) = (index, data & 0xffff_ffff);
        match data >> 56 {
            1 => Op::Accept(index),
            2 => Op::Recv { key, id },
            3 => Op::Send { key, id },
            4 => Op::Sleep { key, id },
            5 => Op::Stop,
            6 => Op::HelpersDone,
            7 => Op::Datagram(index),
            8 => Op::DatagramSleep(index),
            _ => Op::Ignore,
        }
    }
}

/// Entering the kernel and queueing for it.
impl EventLoop<'_> {
    /// The turn's one system call: submits everything queued, waits for a completion or until `until`.
    pub(super) fn enter(&mut self, until: Option<Instant>) -> io::Result<()> {
        let entered = match until {
            Some(at) => {
                let wait = Timespec::from(at.saturating_duration_since(Instant::now()));
                let args = SubmitArgs::new().timespec(&wait);
                self.ring.submitter().submit_with_args(1, &args)
            }
            None => self.ring.submit_and_wait(1),
        };
        // The kernel reads a Timeout's timespec when it takes the entry: keep them all until every queued entry
        // has been taken (an error or a busy ring can leave some queued for the next turn).
        if self.ring.submission().is_empty() {
            self.timespecs.clear();
        }
        crate::uring::entered(entered)
    }

    /// Queues `entry` for the next enter, named `op`.
    pub(super) fn submit(&mut self, entry: squeue::Entry, op: Op) {
        self.submit_raw(entry.user_data(op.encode()));
    }

    pub(super) fn submit_raw(&mut self, entry: squeue::Entry) {
        match push(&mut self.ring, entry) {
            Ok(()) => self.in_flight += 1,
            Err(e) => debug!(error = %e, "cannot submit"),
        }
    }
}

/// The send of what `connection` has not sent yet: `send` for one slice, `writev` when the shared page follows.
pub(super) fn send_entry(connection: &mut Connection<'_>) -> squeue::Entry {
    let fd = Fd(connection.stream.as_raw_fd());
    match connection.output.slices() {
        (bytes, []) => opcode::Send::new(fd, bytes.as_ptr(), bytes.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build(),
        (head, page) => {
            for (iovec, slice) in connection.iovecs.iter_mut().zip([head, page]) {
                *iovec = libc::iovec {
                    iov_base: slice.as_ptr().cast_mut().cast(),
                    iov_len: slice.len(),
                };
            }
            opcode::Writev::new(fd, connection.iovecs.as_ptr(), 2).build()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_comes_back_as_it_went() {
        for op in [
            Op::Accept(3),
            Op::Recv { key: 70_000, id: 5 },
            Op::Send {
                key: 1,
                id: u64::from(u32::MAX),
            },
            Op::Sleep { key: 0, id: 9 },
            Op::Stop,
            Op::HelpersDone,
            Op::Datagram(1),
            Op::DatagramSleep(12),
            Op::Ignore,
        ] {
            assert_eq!(Op::decode(op.encode()), op);
        }
    }
}
