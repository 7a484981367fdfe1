//! Pre-forked worker processes (Apache's prefork; Python's `ForkingTCPServer` forks per connection instead).
//!
//! The parent binds the listening sockets, then forks `--workers` children before any thread or runtime exists
//! (fork copies only the calling thread, so forking a threaded process leaves locks held by threads that no
//! longer exist). Each child is a `sequential` server: it serves one connection at a time, to the end. The
//! kernel spreads connections over the children that wait in `accept`, so `workers` clients are served at once,
//! each in its own address space: a crash takes down one child, not the server.
//!
//! **Shared listener, not `SO_REUSEPORT`.** All children accept from the listener they inherited: one accept
//! queue for all. With `SO_REUSEPORT` each child would own a socket and the kernel would hash connections
//! among them; a child killed with connections queued on its socket loses them, and a busy child's queue waits
//! while others idle. With one shared queue, a killed child loses only the connection it was serving. The cost
//! is a thundering herd (every idle child wakes for each connection; all but one find nothing to accept), small
//! at a few children.
//!
//! The parent only supervises: it restarts a child that dies, passes SIGINT/SIGTERM on to the children once,
//! waits for them, and sums the counters they send back when they exit. Children ask the kernel to kill them if
//! the parent dies (`PR_SET_PDEATHSIG`), so a killed parent leaves nothing behind.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};
use tracing::{info, warn};

use super::sequential;
use crate::server::{Listeners, Shared};
use crate::shutdown::Shutdown;
use crate::stats::{Counters, Stats};

/// A child that dies sooner than this after starting is restarted only after a pause, so a child that cannot
/// start does not become a fork loop.
const MIN_CHILD_LIFE: Duration = Duration::from_secs(1);

pub fn serve(listeners: Listeners, shared: &Shared) -> io::Result<()> {
    ensure_single_threaded()?;
    // Children write their counters here when they exit; the parent reads them as they come, so the pipe
    // never fills however many children come and go.
    let (reports_in, reports_out) = nix::unistd::pipe()?;
    nix::fcntl::fcntl(
        &reports_in,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )?;
    // SIGCHLD wakes the parent's poll when a child dies.
    let (child_died, child_died_signal) = UnixStream::pair()?;
    child_died.set_nonblocking(true)?;
    let sigchld =
        signal_hook::low_level::pipe::register(signal_hook::consts::SIGCHLD, child_died_signal)?;

    let mut supervisor = Supervisor {
        listeners: &listeners,
        shared,
        reports_in: File::from(reports_in),
        unread_report: Vec::new(),
        reports_out,
        children: HashMap::new(),
    };
    for slot in 0..shared.config.workers {
        supervisor.start_child(slot)?;
    }
    let result = supervisor.supervise(&child_died);
    signal_hook::low_level::unregister(sigchld);
    supervisor.read_reports();
    result
}

struct Supervisor<'a> {
    listeners: &'a Listeners,
    shared: &'a Shared,
    /// Where children's counters arrive (non-blocking), and a line not yet complete.
    reports_in: File,
    unread_report: Vec<u8>,
    reports_out: OwnedFd,
    /// Live children: which worker slot each fills and when it started.
    children: HashMap<Pid, (usize, Instant)>,
}

impl Supervisor<'_> {
    fn start_child(&mut self, slot: usize) -> io::Result<()> {
        let parent = getpid();
        // Hold SIGINT/SIGTERM back across the fork: until the child has replaced the handlers it inherits with
        // its own, a stop aimed at it would land on the parent's handlers and be lost. Once unblocked, a signal
        // that arrived meanwhile is delivered to the right handler.
        let mut stop_signals = SigSet::empty();
        stop_signals.add(Signal::SIGINT);
        stop_signals.add(Signal::SIGTERM);
        let mut previous = SigSet::empty();
        sigprocmask(
            SigmaskHow::SIG_BLOCK,
            Some(&stop_signals),
            Some(&mut previous),
        )?;
        // SAFETY: the process has one thread (checked in `serve`), so the child starts from a consistent state.
        let forked = unsafe { fork() };
        match forked {
            Ok(ForkResult::Parent { child }) => {
                sigprocmask(SigmaskHow::SIG_SETMASK, Some(&previous), None)?;
                self.children.insert(child, (slot, Instant::now()));
                self.shared.stats.thread_entered();
                Ok(())
            }
            Ok(ForkResult::Child) => {
                let code = run_child(
                    slot,
                    parent,
                    self.listeners,
                    self.shared,
                    &self.reports_out,
                    &previous,
                );
                std::process::exit(code)
            }
            Err(e) => {
                sigprocmask(SigmaskHow::SIG_SETMASK, Some(&previous), None)?;
                Err(e.into())
            }
        }
    }

    /// Waits for a stop request or a child's death; restarts the dead, forwards the stop, returns when all
    /// children have exited after a stop.
    fn supervise(&mut self, child_died: &UnixStream) -> io::Result<()> {
        let mut stopping = false;
        loop {
            let mut fds = vec![
                PollFd::new(child_died.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.reports_in.as_fd(), PollFlags::POLLIN),
            ];
            if !stopping {
                fds.push(PollFd::new(
                    self.shared.shutdown.wake_fd(),
                    PollFlags::POLLIN,
                ));
            }
            // The timeout is only a safety net; SIGCHLD and the stop request both wake the poll.
            match poll(&mut fds, PollTimeout::from(1000u16)) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            let mut drain = [0u8; 64];
            while (&*child_died).read(&mut drain).is_ok_and(|n| n > 0) {}
            self.read_reports();

            if self.shared.shutdown.is_requested() && !stopping {
                stopping = true;
                info!(children = self.children.len(), "stopping workers");
                for pid in self.children.keys() {
                    let _ = kill(*pid, Signal::SIGTERM);
                }
            }
            self.reap(stopping)?;
            if stopping && self.children.is_empty() {
                return Ok(());
            }
        }
    }

    /// Adds the counters of every child that has reported to the server's.
    fn read_reports(&mut self) {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = self.reports_in.read(&mut buf) {
            self.unread_report.extend_from_slice(&buf[..n]);
        }
        while let Some(end) = self.unread_report.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.unread_report.drain(..=end).collect();
            if let Ok(counters) = serde_json::from_slice::<Counters>(&line) {
                self.shared.stats.absorb(&counters);
            }
        }
    }

    /// Collects every child that has exited; restarts it unless the server is stopping.
    fn reap(&mut self, stopping: bool) -> io::Result<()> {
        loop {
            let (pid, how) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, format!("exit status {code}")),
                Ok(WaitStatus::Signaled(pid, signal, _)) => (pid, format!("signal {signal}")),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(()),
                Ok(_) => continue,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            let Some((slot, started)) = self.children.remove(&pid) else {
                continue;
            };
            self.shared.stats.thread_left();
            if stopping {
                continue;
            }
            warn!(%pid, slot, how, "worker died; starting a new one");
            if started.elapsed() < MIN_CHILD_LIFE {
                std::thread::sleep(MIN_CHILD_LIFE);
            }
            self.start_child(slot)?;
        }
    }
}

/// The life of a child: become a sequential server on the inherited sockets, report, exit.
fn run_child(
    slot: usize,
    parent: Pid,
    listeners: &Listeners,
    shared: &Shared,
    reports: &OwnedFd,
    signal_mask: &SigSet,
) -> i32 {
    // Die with the parent; if it is already gone, the request came too late, so leave now.
    if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err() || getppid() != parent {
        return 1;
    }
    // A process group of its own: Ctrl-C in a terminal signals the parent's group only, and the parent passes
    // the stop on once; a child in the terminal's group would get it twice and take the second as "exit now".
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    // The parent's handlers would stop the parent's switch, not this process's.
    shared.shutdown.uninstall_signal_handlers();
    let Ok(shutdown) = Shutdown::new(shared.config.drain_timeout) else {
        return 1;
    };
    if shutdown.install_signal_handlers().is_err()
        || sigprocmask(SigmaskHow::SIG_SETMASK, Some(signal_mask), None).is_err()
    {
        return 1;
    }
    let child = Shared {
        config: shared.config.clone(),
        shutdown,
        stats: Stats::default(),
    };
    let served = match listeners {
        Listeners::Tcp(list) => sequential::serve_tcp(list, &child),
        Listeners::Udp(list) => sequential::serve_udp(list, &child),
    };
    if let Err(e) = served {
        warn!(slot, error = %e, "worker failed");
    }
    // One short line: a pipe write under PIPE_BUF is atomic, so lines from many children never interleave.
    if let Ok(mut line) = serde_json::to_string(&child.stats.snapshot()) {
        line.push('\n');
        let _ =
            File::from(reports.try_clone().expect("dup report pipe")).write_all(line.as_bytes());
    }
    0
}

/// Forking is only safe while this process has a single thread.
fn ensure_single_threaded() -> io::Result<()> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .map(str::trim)
        .unwrap_or("1");
    if threads != "1" {
        return Err(io::Error::other(format!(
            "prefork must fork before any thread exists, but this process has {threads} threads; run it as `serverlab serve --model prefork`"
        )));
    }
    Ok(())
}
