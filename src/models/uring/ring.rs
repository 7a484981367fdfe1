//! The ring and what the loop shares with the kernel through it: setting it up (or saying why it cannot be),
//! naming each operation so its completion finds its way home, and the provided-buffer ring that receives go
//! into.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Instant;

use io_uring::types::{BufRingEntry, Fd, SubmitArgs, Timespec};
use io_uring::{IoUring, opcode, squeue};
use tracing::debug;

use super::{Connection, EventLoop};

/// Where Linux says whether io_uring may be used: 0 yes, 1 only by a privileged group, 2 by nobody.
pub const DISABLED_SWITCH: &str = "/proc/sys/kernel/io_uring_disabled";

/// Submission queue entries: room for a read and a write for every connection served in one turn.
const SUBMISSION_ENTRIES: u32 = 4096;

/// The one buffer group, and its buffers: enough that a turn in which a thousand connections all receive finds
/// a buffer for each (a receive that finds none fails with ENOBUFS and is tried again next turn). 4 KiB holds any
/// echo message or request head of the benchmarks; a longer input simply takes several receives.
pub const BUFFER_GROUP: u16 = 0;
pub const BUFFERS: u16 = 1024;
pub const BUFFER_SIZE: usize = 4096;

/// Whether io_uring can be used on this machine, as the one-line reason to refuse `--model uring` if not.
/// Reads [`DISABLED_SWITCH`] and, unless it says no outright, sets up a ring and a buffer ring as the model will.
pub fn check_available() -> Result<(), String> {
    let switch = std::fs::read_to_string(DISABLED_SWITCH).ok();
    refusal(switch.as_deref(), || {
        let ring = new_ring(8)?;
        BufRing::register(&ring, 1, 64).map(drop)
    })
}

/// Turns the switch's setting (`None`: the file is absent, as on kernels older than 6.6) and the outcome of an
/// attempt to set up a ring into the reason to refuse, if there is one.
pub fn refusal(
    switch: Option<&str>,
    attempt: impl FnOnce() -> io::Result<()>,
) -> Result<(), String> {
    let setting = switch.map(str::trim);
    if setting == Some("2") {
        return Err(format!(
            "--model uring: io_uring is disabled on this machine ({DISABLED_SWITCH} is 2)"
        ));
    }
    let Err(e) = attempt() else {
        return Ok(());
    };
    let why = match (e.raw_os_error(), setting) {
        (Some(libc::EPERM), Some("1")) => format!(
            "io_uring is restricted to the kernel.io_uring_group group ({DISABLED_SWITCH} is 1), which this process is not in"
        ),
        (Some(libc::EPERM | libc::EACCES), _) => {
            "io_uring is not permitted here (a seccomp filter, as in many containers, or a security module)".into()
        }
        (Some(libc::ENOSYS), _) => "this kernel has no io_uring (older than 5.1, or built without it)".into(),
        (Some(libc::EINVAL), _) => {
            "this kernel's io_uring lacks what the model uses (provided-buffer rings: Linux 5.19 or later)".into()
        }
        _ => format!("cannot set up an io_uring: {e}"),
    };
    Err(format!("--model uring: {why}"))
}

/// A ring for one thread: the kernel runs completion work only when that thread enters (`DEFER_TASKRUN`), so
/// nothing interrupts the loop between its turns. Plain on kernels without those flags (before 6.1).
pub fn new_ring(entries: u32) -> io::Result<IoUring> {
    IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_submit_all()
        .build(entries)
        .or_else(|_| IoUring::new(entries))
}

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

/// Puts `entry` in the submission queue; when the queue is full, submits what is there first (a rare extra
/// `io_uring_enter`).
pub fn push(ring: &mut IoUring, entry: squeue::Entry) -> io::Result<()> {
    loop {
        // SAFETY: every pointer in an entry the loop builds stays valid until the operation completes (see the
        // callers: buffers owned by a connection that is not released while it has operations in flight).
        if unsafe { ring.submission().push(&entry) }.is_ok() {
            return Ok(());
        }
        ring.submit()?;
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
        match entered {
            Err(e)
                if !matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) =>
            {
                Err(e)
            }
            _ => Ok(()),
        }
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

/// Provided buffers: the kernel picks a free one when data arrives, so a connection waiting for input holds no
/// buffer of its own. The loop gives each back as soon as its bytes are handed to the session.
pub struct BufRing {
    /// The ring of entries the kernel takes buffers from, page-aligned as it requires.
    entries: *mut BufRingEntry,
    layout: std::alloc::Layout,
    count: u16,
    size: usize,
    tail: u16,
    memory: Vec<u8>,
}

impl BufRing {
    /// Registers `count` (a power of two) buffers of `size` bytes as [`BUFFER_GROUP`] with `ring`.
    pub fn register(ring: &IoUring, count: u16, size: usize) -> io::Result<BufRing> {
        let bytes = usize::from(count) * std::mem::size_of::<BufRingEntry>();
        let layout = std::alloc::Layout::from_size_align(bytes.max(4096), 4096)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: the layout has a non-zero size.
        let entries = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<BufRingEntry>();
        if entries.is_null() {
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        let mut ring_of_buffers = BufRing {
            entries,
            layout,
            count,
            size,
            tail: 0,
            memory: vec![0; usize::from(count) * size],
        };
        // SAFETY: the entries are page-aligned, `count` long, and live as long as the `BufRing`, which the loop
        // drops after the ring.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                entries as u64,
                count,
                BUFFER_GROUP,
                0,
            )?;
        }
        for bid in 0..count {
            ring_of_buffers.give_back(bid);
        }
        Ok(ring_of_buffers)
    }

    /// The first `len` bytes of buffer `bid`, as the kernel filled them.
    pub fn filled(&self, bid: u16, len: usize) -> &[u8] {
        let start = usize::from(bid) * self.size;
        &self.memory[start..start + len.min(self.size)]
    }

    /// Makes buffer `bid` available to the kernel again.
    pub fn give_back(&mut self, bid: u16) {
        let slot = usize::from(self.tail & (self.count - 1));
        let addr = self.memory.as_ptr() as u64 + (usize::from(bid) * self.size) as u64;
        // SAFETY: `slot` is below `count`; the kernel reads an entry only once the tail covers it.
        unsafe {
            let entry = &mut *self.entries.add(slot);
            entry.set_addr(addr);
            entry.set_len(self.size as u32);
            entry.set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail shares the first entry's reserved field; the kernel reads it with acquire ordering.
        unsafe {
            let tail = BufRingEntry::tail(self.entries)
                .cast_mut()
                .cast::<AtomicU16>();
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `register` with this layout.
        unsafe { std::alloc::dealloc(self.entries.cast(), self.layout) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails(errno: i32) -> impl FnOnce() -> io::Result<()> {
        move || Err(io::Error::from_raw_os_error(errno))
    }

    #[test]
    fn the_switch_at_2_refuses_without_trying() {
        let refused = refusal(Some("2\n"), || panic!("must not try")).unwrap_err();
        assert_eq!(
            refused,
            "--model uring: io_uring is disabled on this machine (/proc/sys/kernel/io_uring_disabled is 2)"
        );
    }

    #[test]
    fn the_switch_at_1_refuses_only_when_the_ring_is_refused() {
        assert_eq!(refusal(Some("1\n"), || Ok(())), Ok(()));
        let refused = refusal(Some("1\n"), fails(libc::EPERM)).unwrap_err();
        assert!(
            refused.contains("restricted to the kernel.io_uring_group group"),
            "{refused}"
        );
        assert!(refused.contains("io_uring_disabled is 1"), "{refused}");
    }

    #[test]
    fn other_failures_say_what_is_missing() {
        assert_eq!(refusal(Some("0"), || Ok(())), Ok(()));
        assert_eq!(refusal(None, || Ok(())), Ok(()));
        let seccomp = refusal(Some("0"), fails(libc::EPERM)).unwrap_err();
        assert!(seccomp.contains("seccomp"), "{seccomp}");
        let old = refusal(None, fails(libc::ENOSYS)).unwrap_err();
        assert!(old.contains("this kernel has no io_uring"), "{old}");
        let no_buf_ring = refusal(None, fails(libc::EINVAL)).unwrap_err();
        assert!(no_buf_ring.contains("5.19"), "{no_buf_ring}");
        for reason in [seccomp, old, no_buf_ring] {
            assert!(reason.starts_with("--model uring: ") && !reason.contains('\n'));
        }
    }

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
