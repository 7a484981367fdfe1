//! UDP in the poll model: every datagram read at once, its reply sent when its work is done (a timer for
//! `sleep:`, a helper thread with `--offload`, inline otherwise). Replies waiting for their work are bounded by
//! `--max-datagrams`; past it a datagram is dropped and counted, as a full socket buffer would drop it.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use tracing::debug;

use super::EventLoop;
use super::timers::Timer;
use crate::models::offload::Job;
use crate::protocol;
use crate::work::Work;

impl EventLoop<'_> {
    /// Reads every datagram waiting on UDP socket `i` and answers each.
    pub(super) fn receive_datagrams(&mut self, i: usize) {
        while !self.stopping {
            let Some(socket) = self.udp.get(i) else {
                return;
            };
            let (len, peer) = match socket.recv_from(&mut self.scratch) {
                Ok(received) => received,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    debug!(error = %e, "receive failed");
                    continue;
                }
            };
            let waits = self.shared.config.work != Work::None;
            if waits && self.datagrams_pending >= self.shared.config.max_datagrams {
                // Bounded memory: past the cap a datagram is dropped, as a full socket buffer would drop it.
                self.shared.stats.dropped();
                continue;
            }
            let mut reply = Vec::with_capacity(len);
            protocol::datagram_reply(self.shared.config.proto, &self.scratch[..len], &mut reply);
            match (self.shared.config.work, &mut self.helpers) {
                (Work::None, _) => self.send_datagram(i, peer, &reply),
                (Work::Sleep(d), _) => {
                    self.datagrams_pending += 1;
                    self.add_timer(
                        Instant::now() + d,
                        Timer::DatagramDue {
                            socket: i,
                            peer,
                            reply,
                        },
                    );
                }
                (work, Some(helpers)) => {
                    self.datagrams_pending += 1;
                    helpers.send(
                        work,
                        Job::Datagram {
                            socket: i,
                            peer,
                            reply,
                        },
                    );
                }
                (work, None) => {
                    if work.run_bounded(&self.shared.shutdown) {
                        self.send_datagram(i, peer, &reply);
                    }
                }
            }
        }
    }

    pub(super) fn send_datagram(&mut self, socket: usize, peer: SocketAddr, reply: &[u8]) {
        match self.udp[socket].send_to(reply, peer) {
            Ok(_) => self.shared.stats.request_served(),
            Err(e) => {
                // UDP may drop; a full send buffer drops here rather than blocking the loop.
                self.shared.stats.error();
                debug!(%peer, error = %e, "reply not sent");
            }
        }
    }

    /// Sends a datagram reply that was waiting on its work (a timer or a helper).
    pub(super) fn deliver_owed(&mut self, socket: usize, peer: SocketAddr, reply: &[u8]) {
        self.datagrams_pending -= 1;
        self.send_datagram(socket, peer, reply);
    }
}
