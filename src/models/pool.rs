//! A fixed pool of worker threads fed by a bounded queue (Python's `queue.Queue` + worker threads, or
//! `concurrent.futures.ThreadPoolExecutor` with a bounded submit).
//!
//! One acceptor thread puts accepted connections on a queue of `queue` places; `workers` threads take them off
//! and serve each to its end. At most `workers` clients are served at once whatever the load, so the server's
//! threads and memory stay fixed. When every worker is busy and the queue is full the acceptor blocks on the
//! queue (backpressure), and new clients wait in the listen backlog. A pool of P workers with P idle keep-alive
//! clients serves nobody else: the starvation an event loop avoids.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::thread;

use crossbeam_channel::bounded;
use tracing::error;

use super::Shared;
use super::blocking::{accept_next, answer_datagram, recv_next, serve_connection};

pub fn serve_tcp(listeners: &[TcpListener], shared: &Shared) -> io::Result<()> {
    run_pool(
        shared,
        || accept_next(listeners, shared),
        |connection| serve_connection(connection, shared),
    )
}

/// A datagram waiting for a worker.
struct Job {
    socket: usize,
    datagram: Vec<u8>,
    peer: SocketAddr,
}

/// Over UDP: the receiver queues datagrams, the workers do the work and reply.
pub fn serve_udp(sockets: &[UdpSocket], shared: &Shared) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    run_pool(
        shared,
        || {
            let (socket, len, peer) = recv_next(sockets, shared, &mut buf)?;
            Some(Job {
                socket,
                datagram: buf[..len].to_vec(),
                peer,
            })
        },
        |job| answer_datagram(&sockets[job.socket], &job.datagram, job.peer, shared),
    )
}

/// The pool itself: `--workers` threads take jobs off a queue of `--queue` places and `handle` each, while the
/// calling thread `produce`s jobs (accepts connections, receives datagrams) until that returns `None`, blocking
/// while the queue is full. Returns once every queued job has been handled.
fn run_pool<T: Send>(
    shared: &Shared,
    mut produce: impl FnMut() -> Option<T>,
    handle: impl Fn(T) + Sync,
) -> io::Result<()> {
    let (queue, jobs) = bounded::<T>(shared.config.queue);
    let handle = &handle;
    thread::scope(|scope| {
        for n in 0..shared.config.workers {
            let jobs = jobs.clone();
            let worker = thread::Builder::new()
                .name(format!("worker-{n}"))
                .spawn_scoped(scope, move || {
                    let _alive = shared.stats.thread_started();
                    // Ends when the producer has hung up and the queue is empty.
                    for job in jobs {
                        handle(job);
                    }
                });
            if let Err(e) = worker {
                error!(error = %e, "cannot start a pool worker");
                shared.shutdown.trigger();
                return Err(e);
            }
        }
        drop(jobs);
        while let Some(job) = produce() {
            // Blocks while the queue is full: the backpressure that keeps the pool bounded.
            if queue.send(job).is_err() {
                break;
            }
        }
        // Hanging up lets the workers finish what is queued, then leave; the scope waits for them.
        drop(queue);
        Ok(())
    })
}
