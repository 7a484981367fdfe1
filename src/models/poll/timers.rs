//! The poll model's timers: per-request `sleep:` work, connection deadlines, the end of the drain, paused
//! accepts. One ordered map keyed by when each fires; the loop sleeps in `poll` until the first is due.
//!
//! Each connection has at most one deadline timer, set at the nearest of its deadlines. Input arriving never
//! touches it: when it fires, the rule ([`ConnectionClock`](crate::models::deadlines::ConnectionClock)) is asked again, and either acts or sets the timer
//! for the new nearest deadline. A closed connection removes its timer, so the map holds one timer per open
//! connection, however fast connections come and go.

use std::net::SocketAddr;
use std::time::Instant;

use super::EventLoop;
use crate::models::deadlines::Expiry;

/// When a timer fires, and a sequence number that makes every key unique.
pub(super) type TimerKey = (Instant, u64);

/// Something the loop must do at a given time.
#[derive(Debug)]
pub(super) enum Timer {
    /// A connection's `sleep:` work is over.
    WorkDone { key: usize, id: u64 },
    /// A connection's nearest deadline may have passed: ask the rule again.
    Deadline { key: usize, id: u64 },
    /// A datagram's `sleep:` work is over: send its reply.
    DatagramDue {
        socket: usize,
        peer: SocketAddr,
        reply: Vec<u8>,
    },
    /// Try accepting again after running out of descriptors.
    ResumeAccept,
    /// The drain time after a stop is over: close whatever is idle.
    DrainOver,
}

impl EventLoop<'_> {
    pub(super) fn add_timer(&mut self, at: Instant, timer: Timer) -> TimerKey {
        self.timer_seq += 1;
        let key = (at, self.timer_seq);
        self.timers.insert(key, timer);
        key
    }

    /// Sets connection `key`'s deadline timer, unless one already fires at or before its nearest deadline.
    pub(super) fn arm_deadline(&mut self, key: usize, now: Instant) {
        let (shared, stopping) = (self.shared, self.stopping);
        let Some(connection) = self.connections.get_mut(key) else {
            return;
        };
        let Some((at, _)) = connection.next_deadline(now, shared, stopping) else {
            return;
        };
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
    pub(super) fn check_deadline(&mut self, key: usize, id: u64, now: Instant) {
        let (shared, stopping) = (self.shared, self.stopping);
        let Some(connection) = self.connections.get_mut(key) else {
            return;
        };
        if connection.id != id {
            return;
        }
        connection.armed = None;
        match connection.next_deadline(now, shared, stopping) {
            Some((at, Expiry::Header)) if at <= now => {
                // Answer 408; the session closes after it.
                connection.session.head_timed_out();
                self.advance(key);
            }
            Some((at, why)) if at <= now => self.close(key, why.reason()),
            _ => self.arm_deadline(key, now),
        }
    }

    pub(super) fn fire_due_timers(&mut self) {
        let now = Instant::now();
        while self
            .timers
            .first_key_value()
            .is_some_and(|((at, _), _)| *at <= now)
        {
            let Some((_, timer)) = self.timers.pop_first() else {
                break;
            };
            match timer {
                Timer::WorkDone { key, id } => self.work_done(key, id),
                Timer::Deadline { key, id } => self.check_deadline(key, id, now),
                Timer::DatagramDue {
                    socket,
                    peer,
                    reply,
                } => self.deliver_owed(socket, peer, &reply),
                Timer::ResumeAccept => {
                    self.accept_paused = false;
                    for i in 0..self.listeners.len() {
                        self.accept_all(i);
                    }
                }
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
}
