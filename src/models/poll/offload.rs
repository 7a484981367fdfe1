//! `--offload N`: N helper threads that run CPU and blocking work so the loop does not have to (the Flash
//! paper's AMPED design). A finished job wakes the loop through a mio `Waker`, and the loop replies.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, Sender, unbounded};
use mio::Waker;
use tracing::warn;

use super::EventLoop;
use crate::models::Shared;
use crate::work::Work;

/// Work handed to a helper thread, and what it hands back.
pub(super) enum Job {
    Connection {
        key: usize,
        id: u64,
    },
    Datagram {
        socket: usize,
        peer: SocketAddr,
        reply: Vec<u8>,
    },
}

/// `--offload N`: N helper threads that run CPU and blocking work so the loop does not have to.
pub(super) struct Helpers {
    pub(super) jobs: Sender<(Work, Job)>,
    done: Receiver<Job>,
    pub(super) in_flight: usize,
}

impl Helpers {
    pub(super) fn start<'scope>(
        scope: &'scope thread::Scope<'scope, '_>,
        count: usize,
        shared: &'scope Shared,
        waker: Arc<Waker>,
    ) -> Helpers {
        let (jobs, queue) = unbounded::<(Work, Job)>();
        let (finished, done) = unbounded::<Job>();
        for n in 0..count {
            let queue = queue.clone();
            let finished = finished.clone();
            let waker = Arc::clone(&waker);
            let spawned = thread::Builder::new()
                .name(format!("helper-{n}"))
                .spawn_scoped(scope, move || {
                    let _alive = shared.stats.thread_started();
                    for (work, job) in queue {
                        // Work cut short by the end of a stop is never replied to; the loop has closed its
                        // connection already.
                        work.run_bounded(&shared.shutdown);
                        if finished.send(job).is_err() {
                            break;
                        }
                        let _ = waker.wake();
                    }
                });
            if let Err(e) = spawned {
                warn!(error = %e, "cannot start an offload helper thread");
            }
        }
        Helpers {
            jobs,
            done,
            in_flight: 0,
        }
    }
}

impl EventLoop<'_> {
    pub(super) fn collect_helper_results(&mut self) {
        let Some(helpers) = &mut self.helpers else {
            return;
        };
        let finished: Vec<Job> = helpers.done.try_iter().collect();
        helpers.in_flight -= finished.len();
        for job in finished {
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
