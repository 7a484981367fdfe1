//! How long a client waits before it tries a failed connection again.
//!
//! Without a pause, a client whose connect is refused tries again at once: against a port where nothing listens
//! that is hundreds of thousands of attempts per second, which measures nothing and burns a core. Each failure
//! doubles the wait, from 1 ms up to 100 ms (about 10 tries a second per client at worst); a success starts over.

use super::clock::Nanos;

/// The first wait after a failure.
pub(super) const FIRST: Nanos = Nanos::from_millis(1);
/// The longest wait.
pub(super) const MAX: Nanos = Nanos::from_millis(100);

/// Exponential backoff for one client.
#[derive(Clone, Copy, Debug)]
pub(super) struct Backoff {
    next: Nanos,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { next: FIRST }
    }
}

impl Backoff {
    /// The wait before the next attempt; the one after it will be twice as long (up to the cap).
    pub(super) fn next_delay(&mut self) -> Nanos {
        let delay = self.next;
        self.next = (delay + delay).min(MAX);
        delay
    }

    /// A success: the next failure waits the shortest time again.
    pub(super) fn reset(&mut self) {
        self.next = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_starts_over_after_a_success() {
        let mut b = Backoff::default();
        let waits: Vec<u64> = (0..9).map(|_| b.next_delay().as_micros() / 1_000).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 100, 100]);
        b.reset();
        assert_eq!(b.next_delay(), FIRST);
    }
}
