//! UDP in the uring model, and the results of offloaded work.
//!
//! Each UDP socket has one `recvmsg` in flight, into a slot of its own (the kernel writes the datagram and its
//! sender's address there), submitted again when it completes. A reply is sent at once with `sendto` when its
//! work is done: a datagram send never waits for the peer, so there is nothing to hand the kernel to finish
//! later. Replies waiting for their work are bounded by `--max-datagrams`; past it a datagram is dropped and
//! counted, as a full socket buffer would drop it.

use std::net::SocketAddr;

use io_uring::opcode;
use io_uring::types::{Fd, Timespec};
use socket2::{SockAddr, SockAddrStorage};
use tracing::debug;

use super::EventLoop;
use super::ring::Op;
use crate::models::offload::Job;
use crate::protocol;
use crate::work::Work;

/// Where one `recvmsg` puts a datagram and who sent it. Boxed: the kernel holds pointers into it.
pub(super) struct DatagramSlot {
    buf: Vec<u8>,
    addr: SockAddrStorage,
    iov: libc::iovec,
    msg: libc::msghdr,
}

impl DatagramSlot {
    pub(super) fn new() -> Box<DatagramSlot> {
        let mut slot = Box::new(DatagramSlot {
            buf: vec![0; 64 * 1024],
            addr: SockAddrStorage::zeroed(),
            iov: libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
            // SAFETY: an all-zero msghdr is a valid empty one.
            msg: unsafe { std::mem::zeroed() },
        });
        slot.iov = libc::iovec {
            iov_base: slot.buf.as_mut_ptr().cast(),
            iov_len: slot.buf.len(),
        };
        slot.msg.msg_iov = &mut slot.iov;
        slot.msg.msg_iovlen = 1;
        slot.msg.msg_name = (&mut slot.addr as *mut SockAddrStorage).cast();
        slot
    }
}

impl EventLoop<'_> {
    /// Asks for the next datagram on UDP socket `i`.
    pub(super) fn arm_datagram(&mut self, i: usize) {
        let slot = &mut self.udp_slots[i];
        slot.msg.msg_namelen = slot.addr.size_of();
        let fd = Fd(std::os::fd::AsRawFd::as_raw_fd(&self.udp[i]));
        let entry = opcode::RecvMsg::new(fd, &mut slot.msg).build();
        self.submit(entry, Op::Datagram(i));
    }

    /// A datagram arrived on UDP socket `i` (or the receive failed): answer it, and ask for the next.
    pub(super) fn datagram_received(&mut self, i: usize, result: i32) {
        if result < 0 {
            if result != -libc::ECANCELED {
                debug!(error = %std::io::Error::from_raw_os_error(-result), "receive failed");
            }
        } else {
            let slot = &self.udp_slots[i];
            // SAFETY: the kernel wrote a socket address of `msg_namelen` bytes into `addr` (plain bytes, copied).
            let peer = unsafe { SockAddr::new(std::ptr::read(&slot.addr), slot.msg.msg_namelen) }
                .as_socket();
            let datagram = &slot.buf[..result as usize];
            let waits = self.shared.config.work != Work::None;
            let pending =
                self.datagram_replies.len() + self.helpers.as_ref().map_or(0, |h| h.in_flight);
            if let Some(peer) = peer {
                if waits && pending >= self.shared.config.max_datagrams {
                    // Bounded memory: past the cap a datagram is dropped, as a full socket buffer would drop it.
                    self.shared.stats.dropped();
                } else {
                    let mut reply = Vec::with_capacity(datagram.len());
                    protocol::datagram_reply(self.shared.config.proto, datagram, &mut reply);
                    self.work_on_datagram(i, peer, reply);
                }
            }
        }
        if !self.stopping {
            self.arm_datagram(i);
        }
    }

    fn work_on_datagram(&mut self, socket: usize, peer: SocketAddr, reply: Vec<u8>) {
        match (self.shared.config.work, &mut self.helpers) {
            (Work::None, _) => self.send_datagram(socket, peer, &reply),
            (Work::Sleep(d), _) => {
                let slot = self.datagram_replies.insert((socket, peer, reply));
                let timespec = Box::new(Timespec::from(d));
                let entry = opcode::Timeout::new(&*timespec).build();
                self.timespecs.push(timespec);
                self.submit(entry, Op::DatagramSleep(slot));
            }
            (work, Some(helpers)) => helpers.send(
                work,
                Job::Datagram {
                    socket,
                    peer,
                    reply,
                },
            ),
            (work, None) => {
                if work.run_bounded(&self.shared.shutdown) {
                    self.send_datagram(socket, peer, &reply);
                }
            }
        }
    }

    /// The `sleep:` work of the datagram whose reply waits at `slot` is over.
    pub(super) fn datagram_slept(&mut self, slot: usize) {
        if let Some((socket, peer, reply)) = self.datagram_replies.try_remove(slot) {
            self.send_datagram(socket, peer, &reply);
        }
    }

    fn send_datagram(&mut self, socket: usize, peer: SocketAddr, reply: &[u8]) {
        match self.udp[socket].send_to(reply, peer) {
            Ok(_) => self.shared.stats.request_served(),
            Err(e) => {
                // UDP may drop; a full send buffer drops here rather than blocking the loop.
                self.shared.stats.error();
                debug!(%peer, error = %e, "reply not sent");
            }
        }
    }

    /// Asks the ring to tell when a helper thread has finished a job (it writes the eventfd).
    pub(super) fn arm_helpers_done(&mut self) {
        let fd = Fd(std::os::fd::AsRawFd::as_raw_fd(&*self.wake));
        let entry = opcode::Read::new(fd, self.wake_count.as_mut_ptr(), 8).build();
        self.submit(entry, Op::HelpersDone);
    }

    pub(super) fn collect_helper_results(&mut self) {
        let Some(helpers) = &mut self.helpers else {
            return;
        };
        for job in helpers.finished() {
            match job {
                Job::Connection { key, id } => self.work_done(key, id),
                Job::Datagram {
                    socket,
                    peer,
                    reply,
                } => self.send_datagram(socket, peer, &reply),
            }
        }
    }
}
