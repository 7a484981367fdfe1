//! Concurrency models: *how to serve*, never *what to say*.
//!
//! Blocking models: `sequential`, `threads`, `pool`. Event-driven: `poll` (one thread, mio), `async` (tokio) and
//! `uring` (one thread, io_uring: completion rather than readiness). Multi-process: `prefork`.
//!
//! Each model is one file that reads top to bottom like a chapter: how it accepts, who serves a connection, what
//! stops it. They all drive the same protocol sessions (see [`crate::protocol`]) and share the blocking plumbing
//! in [`blocking`]: waiting for a socket or a stop request, accepting, and serving one connection to its end.

pub mod async_runtime;
pub mod blocking;
pub mod config;
pub mod connection_log;
pub mod deadlines;
pub mod offload;
pub mod poll;
pub mod pool;
pub mod prefork;
pub mod sequential;
pub mod threads;
pub mod uring;

use std::io;
use std::sync::Arc;

use std::fmt;
use std::net::{SocketAddr, TcpListener, UdpSocket};

use crate::shutdown::Shutdown;
use crate::stats::Stats;
pub use config::ServerConfig;

/// How a server serves many clients at once.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// One client at a time, to the end (Python's `TCPServer`).
    Sequential,
    /// A thread per connection, capped by `max_conns` (`ThreadingTCPServer`).
    Threads,
    /// A fixed set of worker threads fed by a bounded queue.
    Pool,
    /// One thread, one readiness loop over every socket (`select`/`epoll`, through mio).
    Poll,
    /// A tokio runtime: one task per connection over a few worker threads.
    Async,
    /// Worker processes forked after binding, each serving one connection at a time (Apache's prefork).
    Prefork,
    /// One thread, one io_uring: the kernel does the reads and writes and reports them done (completion, not
    /// readiness).
    Uring,
}

impl Model {
    pub fn name(self) -> &'static str {
        match self {
            Model::Sequential => "sequential",
            Model::Threads => "threads",
            Model::Pool => "pool",
            Model::Poll => "poll",
            Model::Async => "async",
            Model::Prefork => "prefork",
            Model::Uring => "uring",
        }
    }

    /// Every model, in the order a lesson presents them.
    pub const ALL: [Model; 7] = [
        Model::Sequential,
        Model::Threads,
        Model::Pool,
        Model::Poll,
        Model::Async,
        Model::Prefork,
        Model::Uring,
    ];

    /// Whether the model runs its connections from an event loop, where `--offload` has a meaning.
    pub fn is_event_driven(self) -> bool {
        matches!(self, Model::Poll | Model::Async | Model::Uring)
    }

    /// The `--workers` default: 8 threads for the pool, one thread or process per CPU for async and prefork.
    pub fn default_workers(self) -> usize {
        self.default_workers_on(crate::system::cpus())
    }

    /// The `--workers` default of a server that may run on `cpus` CPUs (a pinned one counts only its own: two
    /// async workers pinned to one core take turns on it, each switch a cost the single worker never pays).
    pub fn default_workers_on(self, cpus: usize) -> usize {
        match self {
            Model::Async | Model::Prefork => cpus,
            _ => DEFAULT_POOL_WORKERS,
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What every part of a running server shares.
#[derive(Debug)]
pub struct Shared {
    pub config: ServerConfig,
    pub shutdown: Shutdown,
    pub stats: Stats,
}

/// The sockets a server serves: listeners for connection protocols, bound sockets for datagram ones.
#[derive(Debug)]
pub enum Listeners {
    Tcp(Vec<TcpListener>),
    Udp(Vec<UdpSocket>),
}

impl Listeners {
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        match self {
            Listeners::Tcp(list) => list.iter().map(TcpListener::local_addr).collect(),
            Listeners::Udp(list) => list.iter().map(UdpSocket::local_addr).collect(),
        }
    }
}

/// The pool's worker threads unless `--workers` says otherwise.
pub const DEFAULT_POOL_WORKERS: usize = 8;

/// Serves `listeners` with the configured model until a stop is requested and everything accepted is finished.
pub fn serve(listeners: Listeners, shared: &Arc<Shared>) -> io::Result<()> {
    match (shared.config.model, listeners) {
        (Model::Sequential, Listeners::Tcp(l)) => sequential::serve_tcp(&l, shared),
        (Model::Sequential, Listeners::Udp(s)) => sequential::serve_udp(&s, shared),
        (Model::Threads, Listeners::Tcp(l)) => threads::serve_tcp(&l, shared),
        (Model::Threads, Listeners::Udp(s)) => threads::serve_udp(&s, shared),
        (Model::Pool, Listeners::Tcp(l)) => pool::serve_tcp(&l, shared),
        (Model::Pool, Listeners::Udp(s)) => pool::serve_udp(&s, shared),
        (Model::Poll, listeners) => poll::serve(listeners, shared),
        (Model::Async, listeners) => async_runtime::serve(listeners, shared),
        (Model::Prefork, listeners) => prefork::serve(listeners, shared),
        (Model::Uring, listeners) => uring::serve(listeners, shared),
    }
}

/// Reads and throws away what the peer sent that will never be answered (the rest of a refused request, say),
/// up to 64 KiB and without waiting: `stream` must be non-blocking.
/// Closing a socket with unread input makes the kernel send a reset, which can destroy the reply the peer has
/// not read yet; a 431 or 400 would then never arrive.
pub fn discard_unread(stream: &mut impl io::Read) {
    let mut sink = [0u8; 4096];
    for _ in 0..16 {
        match stream.read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}
