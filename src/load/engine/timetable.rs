//! When each request is due, and from when its latency is counted.
//!
//! A closed loop schedules nothing: a client sends its next request as soon as its last one finished, and the
//! latency runs from the send. An open loop (`--rate`) keeps one global timetable: request `j` is due at
//! `j / rate` seconds, and client `i` of `N` sends requests `i, i+N, i+2N...`. Its latency runs from the slot,
//! however late the send was: while a server stalls, the requests due meanwhile wait, and that wait is the
//! server's doing. Timing from the actual send would leave it out (coordinated omission, the flaw wrk2 fixed).
//!
//! Slots are due to the microsecond, so a timerfd wakes the loop for them (an `epoll_wait` timeout is rounded up
//! to whole milliseconds). The same heap of wake-ups holds clients waiting out a backoff, in either loop.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;

use mio::{Interest, Registry, Token};

use super::super::clock::Nanos;
use super::super::config::LoadConfig;
use super::super::sys::Timer;

/// The schedule of one thread's clients.
pub(super) struct Timetable {
    /// Open loop: requests per second, all clients together; `None`: closed loop.
    rate: Option<f64>,
    /// Open loop: how far apart on the timetable one client's requests are (the run's number of clients).
    stride: u64,
    /// Open loop with `requests`: the timetable ends before this index.
    end: u64,
    /// Clients to wake, earliest first: at their next slot, or at the end of a backoff.
    wakeups: BinaryHeap<Reverse<(Nanos, usize)>>,
    /// Open loop: wakes the loop for the earliest of `wakeups`.
    timer: Option<Timer>,
}

impl Timetable {
    /// `first_measured`: the index of the first request due after the warm-up.
    pub(super) fn new(config: &LoadConfig, first_measured: u64) -> Timetable {
        Timetable {
            rate: config.rate,
            stride: config.clients as u64,
            end: match (config.rate, config.requests) {
                (Some(_), Some(m)) => first_measured + m,
                _ => u64::MAX,
            },
            wakeups: BinaryHeap::new(),
            timer: None,
        }
    }

    pub(super) fn is_open_loop(&self) -> bool {
        self.rate.is_some()
    }

    /// Open loop: when request `j` of the global timetable is due; `None` once the timetable is over.
    pub(super) fn due(&self, j: u64) -> Option<Nanos> {
        let rate = self.rate.expect("open loop");
        (j < self.end).then(|| due_at(j, rate))
    }

    /// Open loop: the index of a client's request after request `j`.
    pub(super) fn after(&self, j: u64) -> u64 {
        j + self.stride
    }

    /// Open loop: the index of a client's request before request `j` (a start taken back).
    pub(super) fn before(&self, j: u64) -> u64 {
        j - self.stride
    }

    /// What a request's latency is counted from: its slot (open loop) or its send (closed loop).
    pub(super) fn counted_from(&self, slot: Nanos, send: Nanos) -> Nanos {
        if self.is_open_loop() { slot } else { send }
    }

    /// Open loop: a timerfd in `registry` under `token` for the slots; and no timer slack for this thread (50 us
    /// by default), for the same reason.
    pub(super) fn start_timer(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        if !self.is_open_loop() {
            return Ok(());
        }
        let timer = Timer::new()?;
        registry.register(
            &mut mio::unix::SourceFd(&timer.raw()),
            token,
            Interest::READABLE,
        )?;
        self.timer = Some(timer);
        self.precise_wakeups();
        Ok(())
    }

    /// Open loop: no timer slack for this thread (50 us by default), so that a wait ends when the slot is due.
    pub(super) fn precise_wakeups(&self) {
        if self.is_open_loop() {
            // SAFETY: PR_SET_TIMERSLACK takes a plain integer.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
        }
    }

    /// Client `i` is to be woken at `at`.
    pub(super) fn wake_at(&mut self, at: Nanos, i: usize) {
        self.wakeups.push(Reverse((at, i)));
    }

    /// The next client whose wake-up time has come, if any.
    pub(super) fn pop_due(&mut self, now: Nanos) -> Option<usize> {
        let Reverse((at, i)) = *self.wakeups.peek()?;
        if at > now {
            return None;
        }
        self.wakeups.pop();
        Some(i)
    }

    pub(super) fn nobody_waits(&self) -> bool {
        self.wakeups.is_empty()
    }

    /// Sets the timerfd (if any) for the earliest wake-up.
    pub(super) fn arm(&mut self, now: Nanos) {
        if let (Some(timer), Some(Reverse((at, _)))) = (&mut self.timer, self.wakeups.peek()) {
            timer.arm(*at, now);
        }
    }

    /// The timerfd fired: clear it, so that the next expiry is a new edge.
    pub(super) fn on_timer(&mut self) {
        if let Some(timer) = &mut self.timer {
            timer.clear();
        }
    }

    /// The earliest wake-up the poll's own timeout must keep: none when the timerfd keeps them.
    pub(super) fn poll_deadline(&self) -> Option<Nanos> {
        if self.timer.is_some() {
            return None;
        }
        self.wakeups.peek().map(|Reverse((at, _))| *at)
    }
}

/// When request `j` is due at `rate` requests per second.
fn due_at(j: u64, rate: f64) -> Nanos {
    Nanos::from_nanos((j as f64 * 1e9 / rate) as u64)
}

/// The first request of the open-loop timetable due at or after `t`.
pub(in crate::load) fn first_index_at(t: Nanos, rate: f64) -> u64 {
    let mut j = (t.as_nanos() as f64 * rate / 1e9).ceil() as u64;
    while j > 0 && due_at(j - 1, rate) >= t {
        j -= 1;
    }
    while due_at(j, rate) < t {
        j += 1;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timetable_index_at_a_time_is_exact() {
        let at = |t: u64, rate: f64| first_index_at(Nanos::from_nanos(t), rate);
        // At 3 requests/s, request j is due at j/3 s.
        assert_eq!(at(0, 3.0), 0);
        assert_eq!(at(1, 3.0), 1);
        assert_eq!(at(333_333_333, 3.0), 1);
        assert_eq!(at(333_333_334, 3.0), 2);
        assert_eq!(at(1_000_000_000, 3.0), 3);
        for rate in [1.0, 7.0, 200.0, 12_345.6] {
            for t in [0u64, 1, 999, 1_000_000, 123_456_789, 2_000_000_000] {
                let j = at(t, rate);
                let t = Nanos::from_nanos(t);
                assert!(due_at(j, rate) >= t, "rate {rate} t {t:?}");
                assert!(j == 0 || due_at(j - 1, rate) < t, "rate {rate} t {t:?}");
            }
        }
    }

    #[test]
    fn wakeups_come_earliest_first_and_not_before_their_time() {
        let config = LoadConfig::new(crate::protocol::Proto::Echo, "127.0.0.1:9".parse().unwrap());
        let mut table = Timetable::new(&config, 0);
        table.wake_at(Nanos::from_millis(5), 1);
        table.wake_at(Nanos::from_millis(2), 2);
        assert_eq!(table.poll_deadline(), Some(Nanos::from_millis(2)));
        assert_eq!(table.pop_due(Nanos::from_millis(1)), None);
        assert_eq!(table.pop_due(Nanos::from_millis(5)), Some(2));
        assert_eq!(table.pop_due(Nanos::from_millis(5)), Some(1));
        assert!(table.nobody_waits());
    }
}
