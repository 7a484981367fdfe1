//! Closing, in two steps, and stopping. The kernel holds pointers into a connection (the bytes of a send in
//! flight) and a file reference to its socket (so closing the descriptor would not end an operation the kernel
//! still waits on: a send to a client that never reads would wait for ever). So a close first cancels the
//! connection's operations, and the connection is released — its socket closed, its memory freed — only when the
//! last of them has completed. The loop itself ends only once the kernel holds nothing of it.

use std::os::fd::AsRawFd;
use std::time::Instant;

use io_uring::cqueue;
use io_uring::opcode;
use io_uring::types::{CancelBuilder, Fd};

use super::ring::Op;
use super::timers::Timer;
use super::{Connection, EventLoop, RELEASE_BOUND};

impl EventLoop<'_> {
    /// Starts closing connection `key`: cancels what the kernel is doing for it, and releases it once that is over.
    pub(super) fn close(&mut self, key: usize, why: &'static str) {
        let Some(connection) = self.connections.get_mut(key) else {
            return;
        };
        if connection.closing.is_some() {
            return;
        }
        connection.closing = Some(why);
        let (fd, sleep) = (
            connection.stream.as_raw_fd(),
            connection.op(key, |key, id| Op::Sleep { key, id }),
        );
        let (io, sleeping) = (
            connection.receiving || connection.sending,
            connection.sleeping,
        );
        if let Some(timer) = connection.armed.take() {
            self.timers.remove(&timer);
        }
        if io {
            let cancel = opcode::AsyncCancel2::new(CancelBuilder::fd(Fd(fd)).all());
            self.submit(cancel.build(), Op::Ignore);
        }
        if sleeping {
            self.submit(opcode::TimeoutRemove::new(sleep).build(), Op::Ignore);
        }
        self.release_if_done(key);
    }

    /// Closes the socket and frees connection `key` once the kernel has finished every operation it had.
    pub(super) fn release_if_done(&mut self, key: usize) {
        if self
            .connections
            .get(key)
            .is_some_and(|c| c.closing.is_some() && !c.in_flight())
        {
            let mut connection = self.connections.remove(key);
            let why = connection.closing.unwrap_or("done");
            crate::models::connection_log::closed(&super::PeerOf(&connection.stream), why);
            crate::models::discard_unread(&mut connection.stream);
        }
    }

    /// A stop was requested: stop listening, close what is idle and may be closed, give the rest the drain time.
    pub(super) fn begin_stop(&mut self) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        // Out of LISTEN at once (new clients are refused); the accepts, cancelled, close the listeners.
        self.shared.shutdown.stop_listening();
        // UDP sockets stay open to send replies still owed, but are no longer read.
        let udp = self.udp.iter().map(AsRawFd::as_raw_fd);
        let sockets: Vec<i32> = self
            .listeners
            .iter()
            .flatten()
            .map(AsRawFd::as_raw_fd)
            .chain(udp)
            .collect();
        for fd in sockets {
            let cancel = opcode::AsyncCancel2::new(CancelBuilder::fd(Fd(fd)).all());
            self.submit(cancel.build(), Op::Ignore);
        }
        // Every connection first serves what has already arrived (its next reply says the server is stopping);
        // then the ones left idle, whose protocol allows it, are closed now and the rest get the drain time.
        let keys: Vec<usize> = self.connections.iter().map(|(key, _)| key).collect();
        for key in keys {
            let may_close = self.connections[key].session.server_stopping();
            self.advance(key);
            if may_close && self.connections.get(key).is_some_and(Connection::is_idle) {
                self.close(key, "server stopping");
            }
        }
        let deadline = self.shared.shutdown.drain_deadline();
        self.add_timer(deadline, Timer::DrainOver);
    }

    /// The end: cancels whatever the kernel still does for the loop and waits (bounded) until it has let go.
    pub(super) fn release_everything(&mut self) {
        self.submit(
            opcode::AsyncCancel2::new(CancelBuilder::any()).build(),
            Op::Ignore,
        );
        let bound = Instant::now() + RELEASE_BOUND;
        while self.in_flight > 0 && Instant::now() < bound {
            if self.enter(Some(bound)).is_err() {
                break;
            }
            let finished = self
                .ring
                .completion()
                .filter(|c| !cqueue::more(c.flags()))
                .count();
            self.in_flight -= finished;
        }
    }
}
