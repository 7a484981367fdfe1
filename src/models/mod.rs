//! Concurrency models: *how to serve*, never *what to say*.
//!
//! Blocking models: `sequential`, `threads`, `pool`. Event-driven: `poll` (one thread, mio) and `async` (tokio).
//! Multi-process: `prefork`.
//!
//! Each model is one file that reads top to bottom like a chapter: how it accepts, who serves a connection, what
//! stops it. They all drive the same protocol sessions (see [`crate::protocol`]) and share the blocking plumbing
//! in [`blocking`]: waiting for a socket or a stop request, accepting, and serving one connection to its end.

pub mod async_runtime;
pub mod blocking;
pub mod deadlines;
pub mod poll;
pub mod pool;
pub mod prefork;
pub mod sequential;
pub mod threads;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::warn;

use crate::config::Model;
pub use crate::server::{Listeners, Shared};

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
    }
}

/// Logs a failed `accept` at most once a second, with how many failures the silence hid: a server at its
/// file-descriptor ceiling fails thousands of accepts a second, and the log must not become the load.
pub fn warn_accept_failed(error: &io::Error) {
    static LAST_SECOND: AtomicU64 = AtomicU64::new(0);
    static HIDDEN: AtomicU64 = AtomicU64::new(0);
    let second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if LAST_SECOND.swap(second, Ordering::Relaxed) == second {
        HIDDEN.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let hidden = HIDDEN.swap(0, Ordering::Relaxed);
    warn!(error = %error, failures_not_logged = hidden, "accept failed (out of file descriptors?); pausing accepts, serving open connections");
}
