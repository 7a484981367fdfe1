//! Stopping a server: decided in one place, seen everywhere.
//!
//! A stop request (SIGINT, SIGTERM, or [`Shutdown::trigger`] from code) sets a flag *and* writes one byte into a
//! socket pair that nobody ever reads. From then on the read end stays readable, so every thread that includes
//! [`Shutdown::wake_fd`] in its `poll` wakes at once, however many there are, with no thread of its own to
//! deliver the news: the signal handler itself writes the byte (signal-hook's self-pipe), so signal handling
//! starts no thread — the `poll` model runs in exactly one.

use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use signal_hook::SigId;
use std::time::{Duration, Instant};

/// A server's stop switch. Shared by reference-counting between the acceptor, the workers and whoever may stop it.
#[derive(Debug)]
pub struct Shutdown {
    requested: Arc<AtomicBool>,
    /// Readable once a stop was requested; never drained.
    wake_read: UnixStream,
    /// Written once per stop request (by code or by the signal handler's own clone).
    wake_write: UnixStream,
    /// When connections with nothing pending must be closed; fixed by the first thread that asks.
    drain_deadline: OnceLock<Instant>,
    drain_timeout: Duration,
    /// The signal handlers this switch installed, so a forked child can remove them.
    handlers: Mutex<Vec<SigId>>,
}

impl Shutdown {
    pub fn new(drain_timeout: Duration) -> io::Result<Shutdown> {
        let (wake_read, wake_write) = UnixStream::pair()?;
        wake_write.set_nonblocking(true)?;
        Ok(Shutdown {
            requested: Arc::new(AtomicBool::new(false)),
            wake_read,
            wake_write,
            drain_deadline: OnceLock::new(),
            drain_timeout,
            handlers: Mutex::new(Vec::new()),
        })
    }

    /// Asks the server to stop gracefully. Safe to call many times, from any thread.
    pub fn trigger(&self) {
        self.requested.store(true, Ordering::SeqCst);
        // A full buffer means a byte is already there, which is all that matters.
        let _ = (&self.wake_write).write(&[1]);
    }

    /// Makes SIGINT and SIGTERM trigger this switch. A second signal exits at once with status 130: the user
    /// insisted. Registers plain signal handlers; starts no thread.
    pub fn install_signal_handlers(&self) -> io::Result<()> {
        let mut handlers = self.handlers.lock().unwrap_or_else(|e| e.into_inner());
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Registered first, so the first signal finds the flag still false and does not exit.
            let flag = Arc::clone(&self.requested);
            handlers.push(signal_hook::flag::register_conditional_shutdown(
                signal, 130, flag,
            )?);
            handlers.push(signal_hook::flag::register(
                signal,
                Arc::clone(&self.requested),
            )?);
            handlers.push(signal_hook::low_level::pipe::register(
                signal,
                self.wake_write.try_clone()?,
            )?);
        }
        Ok(())
    }

    /// Removes the handlers `install_signal_handlers` added: a forked worker must not stop its parent.
    pub fn uninstall_signal_handlers(&self) {
        let mut handlers = self.handlers.lock().unwrap_or_else(|e| e.into_inner());
        for id in handlers.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }

    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// A descriptor that becomes readable, and stays so, once a stop is requested: put it in every `poll`.
    pub fn wake_fd(&self) -> BorrowedFd<'_> {
        self.wake_read.as_fd()
    }

    /// A second handle on the wake descriptor, for code that waits through its own reactor (tokio).
    pub fn wake_stream(&self) -> io::Result<UnixStream> {
        let stream = self.wake_read.try_clone()?;
        stream.set_nonblocking(true)?;
        Ok(stream)
    }

    /// The moment idle connections are closed during a stop: the drain timeout after the stop was first noticed.
    pub fn drain_deadline(&self) -> Instant {
        *self
            .drain_deadline
            .get_or_init(|| Instant::now() + self.drain_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

    fn readable(shutdown: &Shutdown) -> bool {
        let mut fds = [PollFd::new(shutdown.wake_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::ZERO).unwrap() == 1
    }

    #[test]
    fn trigger_wakes_every_poller_and_stays_readable() {
        let shutdown = Shutdown::new(Duration::from_secs(1)).unwrap();
        assert!(!shutdown.is_requested());
        assert!(!readable(&shutdown));
        shutdown.trigger();
        shutdown.trigger();
        assert!(shutdown.is_requested());
        assert!(readable(&shutdown));
        assert!(readable(&shutdown), "the wake byte is never consumed");
        let deadline = shutdown.drain_deadline();
        assert_eq!(deadline, shutdown.drain_deadline(), "fixed once");
    }
}
