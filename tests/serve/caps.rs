//! At a cap, a model stops accepting — it never accepts and then drops — so extra clients wait in the backlog
//! and are served when a place frees up.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::{ServerProcess, connect};

fn send(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).unwrap();
}

fn replied_within(stream: &mut TcpStream, message: &[u8], wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut reply = vec![0u8; message.len()];
    match stream.read_exact(&mut reply) {
        Ok(()) => {
            assert_eq!(reply, message);
            true
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(e) => panic!("connection failed instead of waiting: {e}"),
    }
}

/// With room for `room` clients, the first `room` are answered, the next one waits until one leaves.
fn check_cap(flags: &[&str], room: usize) -> serde_json::Value {
    let server = ServerProcess::start(flags);
    let mut served: Vec<TcpStream> = (0..room).map(|_| connect(server.addr())).collect();
    for (i, stream) in served.iter_mut().enumerate() {
        send(stream, format!("in {i}").as_bytes());
        assert!(replied_within(
            stream,
            format!("in {i}").as_bytes(),
            Duration::from_secs(5)
        ));
    }
    let mut waiting = connect(server.addr());
    send(&mut waiting, b"waiting");
    assert!(
        !replied_within(&mut waiting, b"waiting", Duration::from_millis(400)),
        "{flags:?}: served past its cap"
    );
    drop(served.remove(0));
    assert!(
        replied_within(&mut waiting, b"waiting", Duration::from_secs(5)),
        "{flags:?}: never served"
    );
    drop(served);
    drop(waiting);
    server.terminate().report()
}

#[test]
fn threads_stop_accepting_at_max_conns() {
    let report = check_cap(&["--model", "threads", "--max-conns", "2"], 2);
    assert_eq!(report["peak_open_connections"], 2, "{report}");
    // The acceptor plus at most two connection threads.
    assert!(report["peak_threads"].as_u64().unwrap() <= 3, "{report}");
}

#[test]
fn pool_serves_as_many_as_it_has_workers() {
    // One worker and one queue place: the second client is accepted and queued, not served.
    let report = check_cap(&["--model", "pool", "--workers", "1", "--queue", "1"], 1);
    assert_eq!(report["peak_threads"], 2, "{report}");
}

#[test]
fn prefork_serves_as_many_as_it_has_children() {
    check_cap(&["--model", "prefork", "--workers", "2"], 2);
}

#[test]
fn sequential_serves_one_at_a_time() {
    check_cap(&["--model", "sequential"], 1);
}
