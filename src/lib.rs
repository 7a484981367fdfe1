//! serverlab: a lab for network-server concurrency.
//!
//! # Layout
//! Layers, each using only the ones below it (a plain `grep -rn "use crate::" src` shows it):
//!
//! ```text
//! cli                        flags in, library calls out
//! experiment                 the matrix of models x clients x work: run, predicted, analysed, reported
//! load        server         the client side; a bound server with a model, run and stopped
//! models                     how to serve: one file per concurrency model, their settings and shared state
//! protocol  work  stats  shutdown  net  system  confine  uring  duration  settings  logging
//! ```
//!
//! - [`protocol`] — *what to say*: echo, daytime and HTTP as sans-IO state machines (bytes in, bytes out, plus
//!   "do the work now" and "close" signals). No sockets, threads or clocks. [`protocol::Proto`] names them.
//! - [`models`] — *how to serve*: one file per concurrency model (sequential, threads, pool, poll, async,
//!   prefork, uring), all driving the same protocol code; [`models::Model`] names them, [`models::ServerConfig`] is
//!   what a server is asked to be, [`models::Shared`] what its threads share, and [`models::deadlines`] the one
//!   rule for how long a connection may wait.
//! - [`server`] — binding, running and stopping a server, and its exit report.
//! - [`load`] — the client side: a load generator for every protocol (one event loop per thread, open and closed
//!   loop, HdrHistogram latencies, errors by kind, fairness), usable in-process through [`load::run`].
//! - [`experiment`] — the matrix of models x clients x work, run, predicted, analysed and reported.
//! - [`cli`] — the `serverlab` command: flags in, library calls out.
//! - Below them all: [`work`] (the simulated per-request work), [`stats`] (what a server counts),
//!   [`shutdown`] (the one place a stop is decided, and its bound), [`net`] (socket setup), [`system`] (the
//!   machine: CPUs, provenance, kernel counters), [`confine`] (the CPUs and CPU quota a started server is held
//!   to), [`uring`] (io_uring set-up shared by the `uring` model and the generator), [`duration`] (durations and
//!   their range), [`settings`] (the error a bad setting gives), [`logging`].
//!
//! The library is usable without the CLI:
//! ```
//! use serverlab::models::{Model, ServerConfig};
//! use serverlab::protocol::Proto;
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
pub mod confine;
pub mod duration;
pub mod experiment;
pub mod load;
pub mod logging;
pub mod models;
pub mod net;
pub mod protocol;
pub mod server;
pub mod settings;
pub mod shutdown;
pub mod stats;
pub mod system;
pub mod uring;
pub mod work;
