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
//! waits for them, and sums their counters. Children ask the kernel to kill them if the parent dies
//! (`PR_SET_PDEATHSIG`), so a killed parent leaves nothing behind.
//!
//! **Counters in shared memory.** Each child counts into its own slot of a `MAP_SHARED` mapping made before the
//! first fork, so the parent sees every request as it is counted: a child that crashes or is killed loses
//! nothing from the report, and nothing has to be sent at exit.
//!
//! **A stop with a bound.** At a stop the parent takes the shared listeners out of LISTEN (new clients are
//! refused at once), sends SIGTERM, and waits for the children's own drain time plus a grace second. A child
//! still there (stopped with SIGSTOP, or wedged) is then killed with SIGKILL and reaped: the server exits.

use std::collections::HashMap;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};
use tracing::{info, warn};

use super::sequential;
use super::{Listeners, Shared};
use crate::shutdown::Shutdown;
use crate::stats::{Stats, Tallies, shared_tallies};

/// A child that dies sooner than this after starting is restarted only after a pause, so a child that cannot
/// start does not become a fork loop.
const MIN_CHILD_LIFE: Duration = Duration::from_secs(1);

/// How long past their drain deadline children are given to exit on their own before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(1);

pub fn serve(listeners: Listeners, shared: &Shared) -> io::Result<()> {
    ensure_single_threaded()?;
    let tallies = shared_tallies(shared.config.workers)?;
    // SIGCHLD wakes the parent's poll when a child dies.
    let (child_died, child_died_signal) = UnixStream::pair()?;
    child_died.set_nonblocking(true)?;
    let sigchld =
        signal_hook::low_level::pipe::register(signal_hook::consts::SIGCHLD, child_died_signal)?;

    let mut supervisor = Supervisor {
        listeners: &listeners,
        shared,
        tallies,
        children: HashMap::new(),
    };
    for slot in 0..shared.config.workers {
        supervisor.start_child(slot)?;
    }
    let result = supervisor.supervise(&child_died);
    signal_hook::low_level::unregister(sigchld);
    // What the children counted, including any killed along the way.
    for slot in tallies {
        shared.stats.absorb(&slot.snapshot());
    }
    result
}

struct Supervisor<'a> {
    listeners: &'a Listeners,
    shared: &'a Shared,
    /// One slot of counters per worker, shared with the child that fills it.
    tallies: &'static [Tallies],
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
                    &self.tallies[slot],
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
    /// children have exited after a stop, or have been killed for outstaying it.
    fn supervise(&mut self, child_died: &UnixStream) -> io::Result<()> {
        // Set at the stop: when children still running are killed.
        let mut kill_at: Option<Instant> = None;
        loop {
            let mut fds = vec![PollFd::new(child_died.as_fd(), PollFlags::POLLIN)];
            if kill_at.is_none() {
                fds.push(PollFd::new(
                    self.shared.shutdown.wake_fd(),
                    PollFlags::POLLIN,
                ));
            }
            // SIGCHLD and the stop request both wake the poll; the timeout is a safety net, and the kill time.
            let mut timeout = Duration::from_secs(1);
            if let Some(at) = kill_at {
                timeout = timeout.min(at.saturating_duration_since(Instant::now()));
            }
            let millis = timeout.as_millis().min(1000) as u16;
            match poll(&mut fds, PollTimeout::from(millis)) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            let mut drain = [0u8; 64];
            while (&*child_died).read(&mut drain).is_ok_and(|n| n > 0) {}

            if self.shared.shutdown.is_requested() && kill_at.is_none() {
                self.shared.shutdown.stop_listening();
                kill_at = Some(self.shared.shutdown.drain_deadline() + KILL_GRACE);
                info!(children = self.children.len(), "stopping workers");
                for pid in self.children.keys() {
                    let _ = kill(*pid, Signal::SIGTERM);
                }
            }
            self.reap(kill_at.is_some())?;
            if kill_at.is_some() && self.children.is_empty() {
                return Ok(());
            }
            if kill_at.is_some_and(|at| Instant::now() >= at) {
                return self.kill_the_rest();
            }
        }
    }

    /// The stop's bound is over: SIGKILL every child still there (a stopped process dies of it too) and reap it.
    fn kill_the_rest(&mut self) -> io::Result<()> {
        warn!(
            children = self.children.len(),
            "workers outstayed the drain time; killing them"
        );
        for pid in self.children.keys() {
            let _ = kill(*pid, Signal::SIGKILL);
        }
        for (pid, _) in std::mem::take(&mut self.children) {
            while let Err(Errno::EINTR) = waitpid(pid, None) {}
            self.shared.stats.thread_left();
        }
        Ok(())
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
            // A stop noticed here, before `supervise` did, still wins: children that keep dying must not keep
            // the stop waiting behind restarts.
            if stopping || self.shared.shutdown.is_requested() {
                continue;
            }
            // The slot's counts are the server's; the child that takes the slot over starts from zero.
            self.shared.stats.absorb(&self.tallies[slot].snapshot());
            self.tallies[slot].reset();
            warn!(%pid, slot, how, "worker died; starting a new one");
            if started.elapsed() < MIN_CHILD_LIFE && !self.shared.shutdown.sleep(MIN_CHILD_LIFE) {
                // The stop came during the pause.
                continue;
            }
            if self.shared.shutdown.is_requested() {
                continue;
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
    tallies: &'static Tallies,
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
        stats: Stats::in_shared_memory(tallies),
    };
    let served = match listeners {
        Listeners::Tcp(list) => sequential::serve_tcp(list, &child),
        Listeners::Udp(list) => sequential::serve_udp(list, &child),
    };
    if let Err(e) = served {
        warn!(slot, error = %e, "worker failed");
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
