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
pub mod poll;
pub mod pool;
pub mod prefork;
pub mod sequential;
pub mod threads;

use std::io;
use std::sync::Arc;
use std::time::Instant;

use crate::config::Model;
use crate::server::{Listeners, Shared};

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

/// How long a connection waiting for input may wait: until its idle timeout, or once the server is stopping,
/// until the drain deadline, whichever comes first (`None`: for ever).
pub fn input_deadline(shared: &Shared, last_input: Instant, stopping: bool) -> Option<Instant> {
    let idle = shared.config.idle_timeout.map(|t| last_input + t);
    let drain = stopping.then(|| shared.shutdown.drain_deadline());
    match (idle, drain) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
