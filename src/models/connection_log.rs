//! What a server says about its connections, kept quiet when it is busy.
//!
//! Connections opened and closed are told at the default log level: a classroom watching `nc` connect wants to
//! see each one. A failed `accept` (usually the file-descriptor ceiling) is a warning. Under load either would be
//! thousands of lines a second and the log would become the load, so each kind has a budget of lines a second
//! ([`PerSecond`]), and the first line of a later second says how many the busy one left out.

use std::fmt::Display;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::{info, warn};

/// Connection lines written in one second at the most.
pub const PER_SECOND: u64 = 20;

/// A budget of lines a second, shared by every thread that logs one kind of event.
pub struct PerSecond {
    limit: u64,
    second: AtomicU64,
    written: AtomicU64,
    left_out: AtomicU64,
}

impl PerSecond {
    pub const fn new(limit: u64) -> PerSecond {
        PerSecond {
            limit,
            second: AtomicU64::new(0),
            written: AtomicU64::new(0),
            left_out: AtomicU64::new(0),
        }
    }

    /// Whether a line may be written now, and how many lines the last busy second left out (to be said once).
    pub fn allow(&self) -> (bool, u64) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut left_out = 0;
        if self.second.swap(now, Ordering::Relaxed) != now {
            self.written.store(0, Ordering::Relaxed);
            left_out = self.left_out.swap(0, Ordering::Relaxed);
        }
        if self.written.fetch_add(1, Ordering::Relaxed) < self.limit {
            (true, left_out)
        } else {
            self.left_out.fetch_add(1, Ordering::Relaxed);
            (false, left_out)
        }
    }
}

static CONNECTIONS: PerSecond = PerSecond::new(PER_SECOND);
static ACCEPT_FAILURES: PerSecond = PerSecond::new(1);

/// Whether a connection line may be written now; says first how many the last busy second left out.
fn may_write() -> bool {
    let (allowed, left_out) = CONNECTIONS.allow();
    if left_out > 0 {
        info!(left_out, "connection lines left out in a busy second");
    }
    allowed
}

/// A client connected.
pub fn opened(peer: &dyn Display) {
    if may_write() {
        info!(%peer, "connection opened");
    }
}

/// A connection ended, and why (`done`, `idle timeout`, `send timeout`, ...).
pub fn closed(peer: &dyn Display, why: &str) {
    if may_write() {
        info!(%peer, why, "connection closed");
    }
}

/// A connection ended on an error.
pub fn failed(peer: &dyn Display, error: &dyn Display) {
    if may_write() {
        info!(%peer, %error, "connection failed");
    }
}

/// A failed `accept`, at most once a second, with how many failures the silence hid.
pub fn accept_failed(error: &io::Error) {
    let (allowed, failures_not_logged) = ACCEPT_FAILURES.allow();
    if allowed {
        warn!(error = %error, failures_not_logged, "accept failed (out of file descriptors?); pausing accepts, serving open connections");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_lets_its_lines_through_and_counts_the_rest() {
        // A fresh budget starts its first second with nothing written.
        assert!(PerSecond::new(1).allow().0);
        let none = PerSecond::new(0);
        assert!(!none.allow().0);
        assert!(!none.allow().0);
        // Left out, and counted, unless a new second began and already reported them.
        let reported = none.allow().1 + none.left_out.load(Ordering::Relaxed);
        assert!(reported >= 1);
    }
}
