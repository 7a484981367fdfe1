//! Stopping a server: decided in one place, seen everywhere.
//!
//! A stop request (SIGINT, SIGTERM, or [`Shutdown::trigger`] from code) sets a flag *and* writes one byte into a
//! socket pair that nobody ever reads. From then on the read end stays readable, so every thread that includes
//! [`Shutdown::wake_fd`] in its `poll` wakes at once, however many there are, with no thread of its own to
//! deliver the news: the signal handler itself writes the byte (signal-hook's self-pipe), so signal handling
//! starts no thread — the `poll` model runs in exactly one.
//!
//! A stop is bounded: [`Shutdown::drain_deadline`] is when every connection still open is closed, whatever its
//! client does, and [`Shutdown::sleep`] is a wait that never outlasts it, so per-request work cannot hold a stop
//! either. The listening sockets stop listening the moment any part of the server notices the stop
//! ([`Shutdown::stop_listening`]), so a client that connects after it is refused instead of queued and reset.

use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
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
    /// Listening sockets to take out of LISTEN once the stop is noticed (emptied once done).
    listeners: Mutex<Vec<RawFd>>,
    /// The listeners have been taken out of LISTEN (a cheap check for hot paths).
    listening_stopped: AtomicBool,
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
            listeners: Mutex::new(Vec::new()),
            listening_stopped: AtomicBool::new(false),
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
        handlers.extend(flag_on_stop_signals(&self.requested)?);
        for signal in STOP_SIGNALS {
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

    /// A stop was requested and its drain time is over: nothing may wait any longer.
    pub fn past_drain(&self) -> bool {
        if !self.is_requested() {
            return false;
        }
        self.stop_listening();
        Instant::now() >= self.drain_deadline()
    }

    /// Sleeps for `duration`, or until the drain deadline if a stop comes first. Returns whether the whole
    /// duration was slept.
    pub fn sleep(&self, duration: Duration) -> bool {
        let end = Instant::now() + duration;
        loop {
            let stopping = self.is_requested();
            let bound = if stopping {
                end.min(self.drain_deadline())
            } else {
                end
            };
            let now = Instant::now();
            if now >= bound {
                return now >= end;
            }
            if stopping {
                self.stop_listening();
                std::thread::sleep(bound - now);
            } else {
                // Wakes early if a stop comes, to start counting down the drain time.
                let millis = (bound - now)
                    .as_micros()
                    .div_ceil(1000)
                    .min(i32::MAX as u128) as i32;
                let mut fds = [PollFd::new(self.wake_fd(), PollFlags::POLLIN)];
                let _ = poll(
                    &mut fds,
                    PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX),
                );
            }
        }
    }

    /// Registers the server's listening sockets, to be taken out of LISTEN by [`Shutdown::stop_listening`].
    /// The caller keeps them open until it calls [`Shutdown::forget_listeners`].
    pub fn stop_listening_at_stop(&self, fds: Vec<RawFd>) {
        *self.listeners.lock().unwrap_or_else(|e| e.into_inner()) = fds;
    }

    /// Stops accepting connections on every registered listener, at once and for every process that shares them
    /// (prefork's children hold copies, so closing this process's descriptor would not be enough):
    /// `shutdown(SHUT_RD)` on a listener moves it out of LISTEN, so new clients are refused. Idempotent.
    pub fn stop_listening(&self) {
        if self.listening_stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        let fds = std::mem::take(&mut *self.listeners.lock().unwrap_or_else(|e| e.into_inner()));
        for fd in fds {
            // SAFETY: the fd is a listener the server still owns (see `stop_listening_at_stop`).
            unsafe { libc::shutdown(fd, libc::SHUT_RD) };
        }
    }

    /// The listeners are about to be closed: never touch those descriptor numbers again.
    pub fn forget_listeners(&self) {
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// The signals that ask a program to stop: Ctrl-C and `kill`.
const STOP_SIGNALS: [i32; 2] = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];

/// The process group a forced exit (the second Ctrl-C) kills first: a server of someone else's and its children,
/// which no destructor will stop then. 0: none.
static GROUP_TO_KILL: AtomicI32 = AtomicI32::new(0);

/// Has a forced exit kill process group `pgid` first (0: none).
pub fn kill_group_on_forced_exit(pgid: i32) {
    GROUP_TO_KILL.store(pgid, Ordering::SeqCst);
}

/// The stop convention of every serverlab command: the first SIGINT or SIGTERM sets `flag` (the program then
/// stops gracefully and still reports), a second one exits at once with status 130. Starts no thread.
pub fn flag_on_stop_signals(flag: &Arc<AtomicBool>) -> io::Result<Vec<SigId>> {
    let mut handlers = Vec::new();
    for signal in STOP_SIGNALS {
        let stopping = Arc::clone(flag);
        // SAFETY: the action only loads atomics and calls kill(2), both async-signal-safe. Registered before the
        // exit below, so it runs first.
        handlers.push(unsafe {
            signal_hook::low_level::register(signal, move || {
                let group = GROUP_TO_KILL.load(Ordering::SeqCst);
                if stopping.load(Ordering::SeqCst) && group > 0 {
                    libc::kill(-group, libc::SIGKILL);
                }
            })
        }?);
        // Registered first, so the first signal finds the flag still false and does not exit.
        handlers.push(signal_hook::flag::register_conditional_shutdown(
            signal,
            130,
            Arc::clone(flag),
        )?);
        handlers.push(signal_hook::flag::register(signal, Arc::clone(flag))?);
    }
    Ok(handlers)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn sleep_never_outlasts_the_drain() {
        let shutdown = Arc::new(Shutdown::new(Duration::from_millis(100)).unwrap());
        assert!(
            shutdown.sleep(Duration::from_millis(20)),
            "no stop: sleeps it all"
        );
        let stopper = Arc::clone(&shutdown);
        let trigger = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            stopper.trigger();
        });
        let start = Instant::now();
        assert!(!shutdown.sleep(Duration::from_secs(3600)), "cut short");
        // 50 ms until the stop plus 100 ms of drain; an hour without the bound.
        assert!(start.elapsed() >= Duration::from_millis(150));
        assert!(start.elapsed() < Duration::from_secs(60));
        trigger.join().unwrap();
        assert!(shutdown.past_drain());
    }
}
