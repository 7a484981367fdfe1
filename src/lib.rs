//! serverlab: a lab for network-server concurrency.
//!
//! # Layout
//! - [`protocol`] — *what to say*: echo, daytime and HTTP as sans-IO state machines (bytes in, bytes out, plus
//!   "do the work now" and "close" signals). No sockets, threads or clocks.
//! - [`models`] — *how to serve*: one file per concurrency model (sequential, threads, pool, poll, async,
//!   prefork), all driving the same protocol code.
//! - [`work`] — the simulated per-request work: sleeping (I/O wait) or computing (CPU time).
//! - [`server`] — binding, running and stopping a server; [`shutdown`] is the one place a stop is decided.
//! - [`stats`] — what a server counts about itself and reports at exit.
//! - [`config`], [`net`], [`logging`] — settings, socket setup, log output.
//! - [`experiment`] — the matrix of models x clients x work, run, predicted, analysed and reported.
//! - [`system`] — provenance of results (for `load --json` and the experiment) and kernel counters.
//! - [`load`] — the client side: a load generator for every protocol (one event loop per thread, open and closed
//!   loop, HdrHistogram latencies, errors by kind, fairness), usable in-process through [`load::run`].
//! - [`cli`] — the `serverlab` command: flags in, library calls out.
//!
//! The library is usable without the CLI:
//! ```
//! use serverlab::config::{Model, Proto, ServerConfig};
//! use serverlab::server::Server;
//! use std::io::{Read, Write};
//!
//! let config = ServerConfig::new(Proto::Echo, Model::Threads, "127.0.0.1:0".parse().unwrap());
//! let server = Server::bind(config).unwrap().spawn().unwrap();
//! let mut client = std::net::TcpStream::connect(server.addr()).unwrap();
//! client.write_all(b"hello").unwrap();
//! let mut reply = [0u8; 5];
//! client.read_exact(&mut reply).unwrap();
//! assert_eq!(&reply, b"hello");
//! drop(client);
//! let report = server.stop().unwrap();
//! assert_eq!(report.counters.requests, 1);
//! ```

pub mod cli;
pub mod config;
pub mod duration;
pub mod experiment;
pub mod load;
pub mod logging;
pub mod models;
pub mod net;
pub mod protocol;
pub mod server;
pub mod shutdown;
pub mod stats;
pub mod system;
pub mod work;
