//! Thread per connection (Python's `socketserver.ThreadingTCPServer`), with a cap.
//!
//! The acceptor hands each connection to a new thread and goes straight back to `accept`, so a slow client only
//! holds up its own thread. Python starts threads without limit; here at most `max_conns` run at once. At the
//! cap the acceptor *stops accepting* until a connection ends, so new clients wait in the kernel's listen backlog
//! rather than being accepted and dropped.
//!
//! The threads are scoped: the scope ends only when every connection thread has finished, which is exactly the
//! graceful stop — no new connections, every accepted one served to its end.

use std::io;
use std::net::{TcpListener, UdpSocket};
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::Duration;

use tracing::error;

use super::Shared;
use super::blocking::{accept_next, answer_datagram, recv_next, serve_connection};

pub fn serve_tcp(listeners: &[TcpListener], shared: &Shared) -> io::Result<()> {
    let slots = Slots::new(shared.config.max_conns);
    thread::scope(|scope| {
        // Wait for a free slot *before* accepting: at the cap, clients stay in the backlog.
        while let Some(slot) = slots.take(shared) {
            let Some(connection) = accept_next(listeners, shared) else {
                break;
            };
            let spawned = thread::Builder::new()
                .name("connection".into())
                .spawn_scoped(scope, move || {
                    let alive = shared.stats.thread_started();
                    serve_connection(connection, shared);
                    // Counted out before the slot is given back, so the thread that takes the slot next never
                    // finds this one still counted: the peak stays at the cap.
                    drop(alive);
                    drop(slot);
                });
            if let Err(e) = spawned {
                // The connection (inside the closure) is closed; the server itself carries on.
                shared.stats.error();
                error!(error = %e, "cannot start a thread for a connection");
            }
        }
    });
    Ok(())
}

/// Over UDP, like `ThreadingUDPServer`: a thread per datagram, at most `max_conns` at once.
pub fn serve_udp(sockets: &[UdpSocket], shared: &Shared) -> io::Result<()> {
    let slots = Slots::new(shared.config.max_conns);
    let mut buf = vec![0u8; 64 * 1024];
    thread::scope(|scope| {
        while let Some(slot) = slots.take(shared) {
            let Some((socket, len, peer)) = recv_next(sockets, shared, &mut buf) else {
                break;
            };
            let datagram = buf[..len].to_vec();
            let socket = &sockets[socket];
            let spawned =
                thread::Builder::new()
                    .name("datagram".into())
                    .spawn_scoped(scope, move || {
                        let alive = shared.stats.thread_started();
                        answer_datagram(socket, &datagram, peer, shared);
                        drop(alive);
                        drop(slot);
                    });
            if let Err(e) = spawned {
                shared.stats.error();
                error!(error = %e, "cannot start a thread for a datagram");
            }
        }
    });
    Ok(())
}

/// A counting semaphore: at most `capacity` slots are out at once.
struct Slots {
    free: Mutex<usize>,
    returned: Condvar,
}

/// One taken slot; dropping it gives it back.
struct Slot<'a>(&'a Slots);

impl Slots {
    fn new(capacity: usize) -> Slots {
        Slots {
            free: Mutex::new(capacity),
            returned: Condvar::new(),
        }
    }

    /// Waits for a free slot; `None` if the server is stopping first.
    fn take<'a>(&'a self, shared: &Shared) -> Option<Slot<'a>> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if shared.shutdown.is_requested() {
                shared.shutdown.stop_listening();
                return None;
            }
            if *free > 0 {
                *free -= 1;
                return Some(Slot(self));
            }
            // A stop request cannot signal a condvar, so look again now and then while at the cap.
            free = self
                .returned
                .wait_timeout(free, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.returned.notify_one();
    }
}
