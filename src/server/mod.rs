//! A server: bound sockets, a model to serve them, a stop switch and counters.
//!
//! Binding is separate from running so that the caller learns the real addresses (port 0) and sees "address in
//! use" before anything is served. [`Server::run`] serves on the calling thread until stopped; the `poll` model
//! depends on that to stay single-threaded. [`Server::spawn`] runs it on a thread of its own, for tests and tools.

pub mod process;

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::thread::JoinHandle;

use nix::sys::resource::UsageWho;
use tracing::info;

use crate::models::{Listeners, ServerConfig, Shared};
use crate::shutdown::Shutdown;
use crate::stats::{Counters, ResourceUsage, Stats};
use serde::Serialize;

/// The line a server prints on stdout when it exits, for scripts and the experiment to read.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct ExitReport {
    pub proto: crate::protocol::Proto,
    pub model: crate::models::Model,
    #[serde(flatten)]
    pub counters: Counters,
    pub rusage_self: ResourceUsage,
    /// Only for models that run child processes.
    pub rusage_children: Option<ResourceUsage>,
}

/// A bound server, not yet serving.
#[derive(Debug)]
pub struct Server {
    listeners: Listeners,
    shared: Arc<Shared>,
}

impl Server {
    /// Validates `config` and binds every address in it. Errors say which address failed and why.
    pub fn bind(config: ServerConfig) -> io::Result<Server> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        if config.model == crate::models::Model::Uring {
            // Refused before anything is bound, with the reason: no io_uring here.
            crate::models::uring::check_available().map_err(io::Error::other)?;
        }
        let bind_error = |addr: &SocketAddr, e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("cannot listen on {addr}: {}", plain_os_error(&e)),
            )
        };
        let listeners = if config.proto.is_datagram() {
            let sockets = config
                .listen
                .iter()
                .map(|a| crate::net::udp_socket(*a).map_err(|e| bind_error(a, e)));
            Listeners::Udp(sockets.collect::<io::Result<_>>()?)
        } else {
            let sockets = config.listen.iter().map(|a| {
                crate::net::tcp_listener(*a, config.backlog).map_err(|e| bind_error(a, e))
            });
            Listeners::Tcp(sockets.collect::<io::Result<_>>()?)
        };
        let shutdown = Shutdown::new(config.drain_timeout)?;
        if let Listeners::Tcp(list) = &listeners {
            shutdown.stop_listening_at_stop(list.iter().map(AsRawFd::as_raw_fd).collect());
        }
        let shared = Shared {
            shutdown,
            stats: Stats::default(),
            config,
        };
        Ok(Server {
            listeners,
            shared: Arc::new(shared),
        })
    }

    /// The addresses actually bound, in `--listen` order (port 0 replaced by the port the OS chose).
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.listeners.local_addrs()
    }

    /// A handle that stops this server from anywhere.
    pub fn stopper(&self) -> Stopper {
        Stopper(Arc::clone(&self.shared))
    }

    /// The stop switch, for wiring signals to it.
    pub fn shutdown(&self) -> &Shutdown {
        &self.shared.shutdown
    }

    /// Serves on the calling thread until stopped, then reports what the server did.
    pub fn run(self) -> io::Result<ExitReport> {
        let config = &self.shared.config;
        info!(proto = %config.proto, model = %config.model, work = %config.work, "serving");
        let served = crate::models::serve(self.listeners, &self.shared);
        // The listeners are closed by now; their descriptor numbers may be reused.
        self.shared.shutdown.forget_listeners();
        served?;
        let counters = self.shared.stats.snapshot();
        info!(
            connections = counters.connections,
            requests = counters.requests,
            errors = counters.errors,
            peak_open_connections = counters.peak_open_connections,
            peak_threads = counters.peak_threads,
            "server stopped"
        );
        Ok(ExitReport {
            proto: config.proto,
            model: config.model,
            counters,
            rusage_self: ResourceUsage::of(UsageWho::RUSAGE_SELF),
            // Only prefork has children; their usage is counted once they have been waited for.
            rusage_children: (config.model == crate::models::Model::Prefork)
                .then(|| ResourceUsage::of(UsageWho::RUSAGE_CHILDREN)),
        })
    }

    /// Serves on a new thread; the returned handle knows the addresses and can stop and join it.
    pub fn spawn(self) -> io::Result<RunningServer> {
        let addrs = self.local_addrs()?;
        let stopper = self.stopper();
        let thread = std::thread::Builder::new()
            .name("server".into())
            .spawn(move || self.run())?;
        Ok(RunningServer {
            addrs,
            stopper,
            thread: Some(thread),
        })
    }
}

/// Stops a server gracefully when asked.
#[derive(Clone, Debug)]
pub struct Stopper(Arc<Shared>);

impl Stopper {
    pub fn stop(&self) {
        self.0.shutdown.trigger();
    }
}

/// A server serving on its own thread. Dropping it stops it and waits for it.
#[derive(Debug)]
pub struct RunningServer {
    pub addrs: Vec<SocketAddr>,
    stopper: Stopper,
    thread: Option<JoinHandle<io::Result<ExitReport>>>,
}

impl RunningServer {
    /// The first bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn stopper(&self) -> &Stopper {
        &self.stopper
    }

    /// Stops the server gracefully and waits for its report.
    pub fn stop(mut self) -> io::Result<ExitReport> {
        self.stopper.stop();
        let thread = self.thread.take().expect("joined once");
        thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("server thread panicked")))
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stopper.stop();
            let _ = thread.join();
        }
    }
}

/// "Address already in use" rather than "Address already in use (os error 98)": the message is for people.
fn plain_os_error(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
