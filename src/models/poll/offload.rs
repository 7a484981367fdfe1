//! `--offload N` in the poll model: the helper threads are the shared [`Helpers`](crate::models::offload); a
//! finished job wakes the loop through a mio `Waker`, and the loop replies here.

use super::EventLoop;
use crate::models::offload::Job;

impl EventLoop<'_> {
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
                } => self.deliver_owed(socket, peer, &reply),
            }
        }
    }
}
