//! The uring model's timers: connection deadlines, the end of the drain, paused accepts. One ordered map keyed
//! by when each fires; the loop's `io_uring_enter` waits no longer than the first. (`sleep:` work is not here:
//! it is a timeout operation in the ring itself.)
//!
//! As in `poll`, each connection has at most one deadline timer, set at the nearest of its deadlines
//! ([`ConnectionClock`](crate::models::deadlines::ConnectionClock)); input arriving never touches it. When it
//! fires the rule is asked again, and either acts or sets the timer for the new nearest deadline.

use std::time::Instant;

use super::EventLoop;
use crate::models::deadlines::Expiry;

/// When a timer fires, and a sequence number that makes every key unique.
pub(super) type TimerKey = (Instant, u64);

/// Something the loop must do at a given time.
#[derive(Debug)]
pub(super) enum Timer {
    /// A connection's nearest deadline may have passed: ask the rule again.
    Deadline { key: usize, id: u64 },
    /// Accept again on listener `i` after running out of descriptors.
    ResumeAccept(usize),
    /// The drain time after a stop is over: close whatever is open.
    DrainOver,
}

impl EventLoop<'_> {
    pub(super) fn add_timer(&mut self, at: Instant, timer: Timer) -> TimerKey {
        self.timer_seq += 1;
        let key = (at, self.timer_seq);
        self.timers.insert(key, timer);
        key
    }

    /// The deadline of what connection `key` now waits for (`None`: nothing, or its work, which only the drain
    /// bounds).
    fn next_deadline(&mut self, key: usize) -> Option<(Instant, Expiry)> {
        let (shared, stopping, now) = (self.shared, self.stopping, self.now);
        let connection = self.connections.get_mut(key)?;
        if connection.working || connection.closing.is_some() {
            None
        } else if !connection.output.is_empty() {
            Some(connection.clock.send_deadline(shared, stopping))
        } else {
            connection
                .clock
                .track_head(connection.session.as_ref(), now);
            connection.clock.input_deadline(shared, stopping)
        }
    }

    /// Sets connection `key`'s deadline timer, unless one already fires at or before its nearest deadline.
    pub(super) fn arm_deadline(&mut self, key: usize) {
        let Some((at, _)) = self.next_deadline(key) else {
            return;
        };
        let connection = &mut self.connections[key];
        if connection.armed.is_some_and(|(armed, _)| armed <= at) {
            return;
        }
        let (id, earlier) = (connection.id, connection.armed.take());
        if let Some(earlier) = earlier {
            self.timers.remove(&earlier);
        }
        let timer = self.add_timer(at, Timer::Deadline { key, id });
        self.connections[key].armed = Some(timer);
    }

    /// Connection `key`'s deadline timer fired: act on a deadline that has passed, or set the timer again.
    fn check_deadline(&mut self, key: usize, id: u64) {
        match self.connections.get_mut(key) {
            Some(connection) if connection.id == id => connection.armed = None,
            _ => return,
        }
        match self.next_deadline(key) {
            Some((at, Expiry::Header)) if at <= self.now => {
                // Answer 408; the session closes after it.
                self.connections[key].session.head_timed_out();
                self.advance(key);
            }
            Some((at, why)) if at <= self.now => self.close(key, why.reason()),
            _ => self.arm_deadline(key),
        }
    }

    pub(super) fn fire_due_timers(&mut self) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            match entry.remove() {
                Timer::Deadline { key, id } => self.check_deadline(key, id),
                Timer::ResumeAccept(i) => self.arm_accept(i),
                Timer::DrainOver => {
                    // The bound of the whole stop: whatever is still open closes now, work in progress included.
                    self.drained = true;
                    let open: Vec<usize> = self.connections.iter().map(|(key, _)| key).collect();
                    for key in open {
                        self.close(key, "drain timeout");
                    }
                }
            }
        }
    }

    /// Connection `key`'s `sleep:` work is over (or was cancelled by its close).
    pub(super) fn slept(&mut self, key: usize, id: u64) {
        if let Some(connection) = self.connections.get_mut(key).filter(|c| c.id == id) {
            connection.sleeping = false;
            self.work_done(key, id);
            self.release_if_done(key);
        }
    }
}
