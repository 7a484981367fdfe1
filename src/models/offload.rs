//! `--offload N` for the single-threaded event loops (`poll`, `uring`): N helper threads that run CPU and
//! blocking work so the loop does not have to (the Flash paper's AMPED design). A finished job is handed back on a
//! channel and the loop is woken by `wake` (a mio `Waker` for `poll`, an eventfd the ring reads for `uring`);
//! the loop then replies.

use std::net::SocketAddr;
use std::thread;

use crossbeam_channel::{Receiver, Sender, unbounded};
use tracing::warn;

use super::Shared;
use crate::work::Work;

/// Work handed to a helper thread, and what it hands back.
pub enum Job {
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

/// N helper threads fed by one queue.
pub struct Helpers {
    pub jobs: Sender<(Work, Job)>,
    done: Receiver<Job>,
    /// Jobs handed out and not yet collected.
    pub in_flight: usize,
}

impl Helpers {
    pub fn start<'scope>(
        scope: &'scope thread::Scope<'scope, '_>,
        count: usize,
        shared: &'scope Shared,
        wake: impl Fn() + Clone + Send + 'scope,
    ) -> Helpers {
        let (jobs, queue) = unbounded::<(Work, Job)>();
        let (finished, done) = unbounded::<Job>();
        for n in 0..count {
            let queue = queue.clone();
            let finished = finished.clone();
            let wake = wake.clone();
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
                        wake();
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

    /// Hands `job` to a helper.
    pub fn send(&mut self, work: Work, job: Job) {
        self.in_flight += 1;
        let _ = self.jobs.send((work, job));
    }

    /// The jobs finished since the last call.
    pub fn finished(&mut self) -> Vec<Job> {
        let finished: Vec<Job> = self.done.try_iter().collect();
        self.in_flight -= finished.len();
        finished
    }
}
