//! How long a client waits before it tries a failed connection again.
//!
//! Without a pause, a client whose connect is refused tries again at once: against a port where nothing listens
//! that is hundreds of thousands of attempts per second, which measures nothing and burns a core. Each failure
//! doubles the wait, from 1 ms up to 100 ms (about 10 tries a second per client at worst); a success starts over.

/// The first wait after a failure.
pub(super) const FIRST_NS: u64 = 1_000_000;
/// The longest wait.
pub(super) const MAX_NS: u64 = 100_000_000;

/// Exponential backoff for one client.
#[derive(Clone, Copy, Debug)]
pub(super) struct Backoff {
    next_ns: u64,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { next_ns: FIRST_NS }
    }
}

impl Backoff {
    /// The wait before the next attempt, in nanoseconds; the one after it will be twice as long (up to the cap).
    pub(super) fn next_delay(&mut self) -> u64 {
        let delay = self.next_ns;
        self.next_ns = (delay * 2).min(MAX_NS);
        delay
    }

    /// A success: the next failure waits the shortest time again.
    pub(super) fn reset(&mut self) {
        self.next_ns = FIRST_NS;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_starts_over_after_a_success() {
        let mut b = Backoff::default();
        let waits: Vec<u64> = (0..9).map(|_| b.next_delay() / 1_000_000).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 100, 100]);
        b.reset();
        assert_eq!(b.next_delay(), FIRST_NS);
    }
}
