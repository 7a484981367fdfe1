//! When the measured window opens and closes.
//!
//! A fixed warm-up is wrong when the clients are many: 5,000 keep-alive clients take longer to connect than any
//! fixed warm-up a small run wants, and counting the ramp reads a server at 3,883 req/s that serves 4,999 once
//! connected. So a run may also wait, after its warm-up, until every client has completed one exchange, and
//! measure from then — but never later than a bound, so that a client starved for good (slow connections holding
//! every worker, say) cannot keep the window from opening. The window's end follows its start.
//!
//! Every thread reads the start with one relaxed atomic load; it only ever moves earlier, from the bound to the
//! moment the last client was served, and that is written once.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::clock::Nanos;

pub(super) struct Window {
    /// When measuring starts: the bound until every client is ready, then the moment the last one was.
    warm: AtomicU64,
    /// The warm-up: measuring never starts earlier.
    min_warm: Nanos,
    duration: Option<Nanos>,
    max_duration: Option<Nanos>,
    /// Clients that have not yet completed an exchange (0 when the window does not wait for them).
    not_ready: AtomicUsize,
    /// When the last client completed its first exchange.
    ready_at: AtomicU64,
}

impl Window {
    /// Measuring starts at `warm`, lasts `duration` (`None`: until the requests are done) and never more than
    /// `max_duration`. With `ramp`, it waits, after `warm`, for each of `clients` to complete one exchange, at
    /// most `ramp` longer.
    pub(super) fn new(
        warm: Nanos,
        duration: Option<Nanos>,
        max_duration: Option<Nanos>,
        ramp: Option<(usize, Nanos)>,
    ) -> Window {
        let (not_ready, start) = match ramp {
            Some((clients, bound)) if clients > 0 => (clients, warm + bound),
            _ => (0, warm),
        };
        Window {
            warm: AtomicU64::new(start.as_nanos()),
            min_warm: warm,
            duration,
            max_duration,
            not_ready: AtomicUsize::new(not_ready),
            ready_at: AtomicU64::new(u64::MAX),
        }
    }

    /// When measuring starts.
    #[inline]
    pub(super) fn warm(&self) -> Nanos {
        Nanos::from_nanos(self.warm.load(Ordering::Relaxed))
    }

    /// No new request after this (unless clients still owe their minimum).
    #[inline]
    pub(super) fn end(&self) -> Nanos {
        self.duration.map_or(Nanos::NEVER, |d| self.warm() + d)
    }

    /// Nothing at all after this.
    #[inline]
    pub(super) fn hard_end(&self) -> Nanos {
        self.max_duration.map_or(Nanos::NEVER, |d| self.warm() + d)
    }

    /// A client completed its first exchange at `now`: when it is the last, the window opens (after the warm-up).
    pub(super) fn client_ready(&self, now: Nanos) {
        if self.not_ready.load(Ordering::Relaxed) == 0 {
            return;
        }
        if self.not_ready.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.ready_at.store(now.as_nanos(), Ordering::Relaxed);
            let start = now.max(self.min_warm);
            self.warm.fetch_min(start.as_nanos(), Ordering::Relaxed);
        }
    }

    /// When every client had completed an exchange, if it waited for them and they all did.
    pub(super) fn ready_at(&self) -> Option<Nanos> {
        let at = self.ready_at.load(Ordering::Relaxed);
        (at != u64::MAX).then(|| Nanos::from_nanos(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_opens_when_the_last_client_is_served_but_not_before_the_warm_up() {
        let ms = Nanos::from_millis;
        let w = Window::new(ms(200), Some(ms(1000)), None, Some((2, ms(5000))));
        assert_eq!(w.warm(), ms(5200), "the bound until every client is ready");
        w.client_ready(ms(50));
        assert_eq!(w.warm(), ms(5200));
        w.client_ready(ms(90));
        assert_eq!(w.warm(), ms(200), "not before the warm-up");
        assert_eq!(w.end(), ms(1200));
        assert_eq!(w.ready_at(), Some(ms(90)));
        let late = Window::new(ms(200), Some(ms(1000)), None, Some((1, ms(5000))));
        late.client_ready(ms(900));
        assert_eq!(late.warm(), ms(900));
        let fixed = Window::new(ms(200), None, Some(ms(3000)), None);
        fixed.client_ready(ms(10));
        assert_eq!((fixed.warm(), fixed.hard_end()), (ms(200), ms(3200)));
        assert_eq!(fixed.ready_at(), None);
    }
}
