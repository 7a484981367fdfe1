//! The end of a run: requests still out when it ends get their replies read, uncounted, and every connection
//! ends with the client's close after a reply. Closing with a request in flight made each server's reply meet a
//! reset, and servers logged one ("Connection reset by peer", a Python traceback) per connection after every run.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::load_support::{assert_consistent, config, run};
use serverlab::load::{LoadIo, Payload};
use serverlab::protocol::Proto;

/// How a connection to the slow server ended, as the server saw it.
#[derive(Debug, PartialEq)]
enum Ending {
    /// The client closed after reading every reply.
    Clean,
    Failed(ErrorKind),
}

#[derive(Default)]
struct Seen {
    endings: Vec<Ending>,
    replies: u64,
}

/// An echo server that takes `delay` over every reply (so a run always ends with each client waiting for one) and
/// records how each connection ended.
fn slow_echo(delay: Duration) -> (SocketAddr, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let record = Arc::clone(&record);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let ending = loop {
                    match stream.read(&mut buf) {
                        // A reply that met a closed socket drew a reset, which reading leaves pending.
                        Ok(0) => match stream.take_error() {
                            Ok(Some(e)) => break Ending::Failed(e.kind()),
                            _ => break Ending::Clean,
                        },
                        Ok(n) => {
                            std::thread::sleep(delay);
                            if let Err(e) = stream.write_all(&buf[..n]) {
                                break Ending::Failed(e.kind());
                            }
                            record.lock().unwrap().replies += 1;
                        }
                        Err(e) => break Ending::Failed(e.kind()),
                    }
                };
                record.lock().unwrap().endings.push(ending);
            });
        }
    });
    (addr, seen)
}

fn requests_in_flight_at_the_end_are_answered_then_closed(io: LoadIo) {
    const CLIENTS: usize = 4;
    let (addr, seen) = slow_echo(Duration::from_millis(100));
    let mut c = config(Proto::Echo, addr, CLIENTS);
    c.io = io;
    c.duration = Some(Duration::from_millis(550));
    c.warmup = Duration::ZERO;
    c.payload = Payload::Message(MESSAGE.into());
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.errors.total(), 0, "{:?}", r.error_examples);
    // Each client waits 100 ms a reply: at 550 ms every one of them has a request out.
    assert_eq!(r.unfinished.len(), CLIENTS, "{:?}", r.unfinished);
    let waited = Instant::now();
    while seen.lock().unwrap().endings.len() < CLIENTS && waited.elapsed() < Duration::from_secs(3)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.endings,
        (0..CLIENTS).map(|_| Ending::Clean).collect::<Vec<_>>(),
        "{io:?}: every connection ends with the client's close after its last reply"
    );
    assert_eq!(
        seen.replies,
        r.successes + CLIENTS as u64,
        "{io:?}: the replies read after the end are not counted ({} counted)",
        r.successes
    );
    assert_eq!(
        r.bytes_received,
        r.successes * MESSAGE.len() as u64,
        "{io:?}: nor are their bytes"
    );
}

const MESSAGE: &str = "the end of a run";

/// Client 1's first reply comes only after the run's end: the run did not serve every client, drained or not.
fn a_first_reply_after_the_end_does_not_serve_a_client(io: LoadIo) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut first = true;
                while let Ok(k @ 1..) = stream.read(&mut buf) {
                    if n == 1 && std::mem::take(&mut first) {
                        std::thread::sleep(Duration::from_millis(400));
                    }
                    if stream.write_all(&buf[..k]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let mut c = config(Proto::Echo, addr, 2);
    c.io = io;
    c.threads = 1;
    c.duration = Some(Duration::from_millis(250));
    c.warmup = Duration::ZERO;
    // Measuring waits for every client's first exchange, for 100 ms at most: then the run goes on without it.
    c.ramp_limit = Some(Duration::from_millis(100));
    let r = run(&c);
    assert_consistent(&r);
    assert!(r.successes > 0, "{io:?}: the other client was served");
    assert_eq!(r.all_served_ms, None, "{io:?}: {r:#?}");
}

#[test]
fn on_epoll_a_first_reply_after_the_end_does_not_serve_a_client() {
    a_first_reply_after_the_end_does_not_serve_a_client(LoadIo::Epoll);
}

#[test]
fn on_io_uring_a_first_reply_after_the_end_does_not_serve_a_client() {
    a_first_reply_after_the_end_does_not_serve_a_client(LoadIo::Uring);
}

#[test]
fn on_epoll_requests_out_at_the_end_are_answered_then_closed() {
    requests_in_flight_at_the_end_are_answered_then_closed(LoadIo::Epoll);
}

#[test]
fn on_io_uring_requests_out_at_the_end_are_answered_then_closed() {
    requests_in_flight_at_the_end_are_answered_then_closed(LoadIo::Uring);
}
