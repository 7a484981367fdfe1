//! Connections opened and closed, told at the default log level: a classroom watching `nc` connect wants to see
//! each one. Under load that would be thousands of lines a second and the log would become the load, so at most
//! [`PER_SECOND`] connection lines are written in any second, and the first line of the next second says how
//! many were left out.

use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::info;

/// Connection lines written in one second at the most.
pub const PER_SECOND: u64 = 20;

static SECOND: AtomicU64 = AtomicU64::new(0);
static WRITTEN: AtomicU64 = AtomicU64::new(0);
static LEFT_OUT: AtomicU64 = AtomicU64::new(0);

/// Whether a connection line may be written now; says first how many the last busy second left out.
fn may_write() -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if SECOND.swap(now, Ordering::Relaxed) != now {
        WRITTEN.store(0, Ordering::Relaxed);
        let left_out = LEFT_OUT.swap(0, Ordering::Relaxed);
        if left_out > 0 {
            info!(left_out, "connection lines left out in a busy second");
        }
    }
    if WRITTEN.fetch_add(1, Ordering::Relaxed) < PER_SECOND {
        true
    } else {
        LEFT_OUT.fetch_add(1, Ordering::Relaxed);
        false
    }
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
