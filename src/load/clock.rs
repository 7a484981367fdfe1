//! The generator's time: nanoseconds since its run started, as a type of its own.
//!
//! Why a newtype and not `Instant`: every request is timed two or three times, and timestamps sit in every
//! client and in the wake-up heap. A `u64` is 8 bytes, orders and compares as an integer and costs nothing to
//! subtract; an `Instant` is 16 bytes and its arithmetic checks for overflow. Why not a bare `u64`: it said
//! neither its unit nor its origin, so a microsecond could be added to a nanosecond, or a time to a count. The
//! clock is still read once per round and per send, as before (`clock_gettime` through the vDSO, no system call).
//!
//! One type serves both for a point in the run ("3 s after the start") and for a span ("2 ms"): the run's start
//! is zero, so a point is the span since then, and the engine's arithmetic is only `point + span`,
//! `point - earlier point` and comparisons.

use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::{Duration, Instant};

/// Nanoseconds since the run's start, or between two times of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub(super) struct Nanos(u64);

impl Nanos {
    pub(super) const ZERO: Nanos = Nanos(0);
    /// Later than any time a run reaches: "no deadline", "not armed", "not before the end of time".
    pub(super) const NEVER: Nanos = Nanos(u64::MAX);

    #[inline]
    pub(super) const fn from_nanos(ns: u64) -> Nanos {
        Nanos(ns)
    }

    #[inline]
    pub(super) const fn from_millis(ms: u64) -> Nanos {
        Nanos(ms * 1_000_000)
    }

    /// A configured duration. Past about 146 years it is taken as 146 years, so that sums of a few of them (the
    /// warm-up plus the run) cannot overflow.
    #[inline]
    pub(super) fn from_duration(d: Duration) -> Nanos {
        Nanos(d.as_nanos().min(u128::from(u64::MAX / 4)) as u64)
    }

    #[inline]
    pub(super) const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole microseconds, rounded down: the unit of the latency histograms and the report.
    #[inline]
    pub(super) const fn as_micros(self) -> u64 {
        self.0 / 1_000
    }

    #[inline]
    pub(super) const fn to_duration(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// The time from `earlier` to `self`, zero if `earlier` is in fact later.
    #[inline]
    pub(super) const fn saturating_sub(self, earlier: Nanos) -> Nanos {
        Nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add for Nanos {
    type Output = Nanos;
    #[inline]
    fn add(self, span: Nanos) -> Nanos {
        Nanos(self.0 + span.0)
    }
}

impl AddAssign for Nanos {
    #[inline]
    fn add_assign(&mut self, span: Nanos) {
        self.0 += span.0;
    }
}

impl Sub for Nanos {
    type Output = Nanos;
    #[inline]
    fn sub(self, earlier: Nanos) -> Nanos {
        Nanos(self.0 - earlier.0)
    }
}

impl SubAssign for Nanos {
    #[inline]
    fn sub_assign(&mut self, span: Nanos) {
        self.0 -= span.0;
    }
}

/// A run's clock: reads the time as [`Nanos`] since it was started.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock whose zero is now.
    pub(super) fn start() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    #[inline]
    pub(super) fn now(&self) -> Nanos {
        Nanos(self.start.elapsed().as_nanos() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_add_and_subtract_as_integers_do() {
        let t = Nanos::from_millis(3);
        assert_eq!(t + Nanos::from_nanos(5), Nanos::from_nanos(3_000_005));
        assert_eq!(t.saturating_sub(Nanos::from_millis(5)), Nanos::ZERO);
        assert_eq!((t - Nanos::from_millis(1)).as_micros(), 2_000);
        assert_eq!(t.to_duration(), Duration::from_millis(3));
        assert!(t < Nanos::NEVER);
    }

    #[test]
    fn huge_durations_are_capped_so_that_sums_cannot_overflow() {
        let huge = Nanos::from_duration(Duration::MAX);
        assert_eq!(huge.as_nanos(), u64::MAX / 4);
        assert!((huge + huge + huge) < Nanos::NEVER);
        assert_eq!(
            Nanos::from_duration(Duration::from_secs(2)),
            Nanos::from_millis(2_000)
        );
    }
}
