//! The behaviour the classroom notes teach, asserted with bounds that cannot flake: lower bounds that physics
//! fixes, and upper bounds with at least a 2x margin against a figure measured in the same test. Everything timed
//! lives in this one test so nothing else in this binary competes for the CPU.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{ServerProcess, connect};

/// `clients` clients connect at once, each sends one message and waits for its echo; returns the wall time
/// until the last reply.
fn burst(addr: SocketAddr, clients: usize) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|n| {
            std::thread::spawn(move || {
                let mut stream = connect(addr);
                let message = format!("client {n}");
                stream.write_all(message.as_bytes()).unwrap();
                let mut reply = vec![0u8; message.len()];
                stream.read_exact(&mut reply).unwrap();
                assert_eq!(reply, message.as_bytes());
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    start.elapsed()
}

fn timed(model: &str) -> Duration {
    let server =
        ServerProcess::start(&["--proto", "echo", "--model", model, "--work", "sleep:100ms"]);
    let elapsed = burst(server.addr(), 5);
    assert!(server.terminate().status.success());
    elapsed
}

#[test]
fn sequential_stalls_while_threads_and_pool_overlap_io_waits() {
    let sequential = timed("sequential");
    // Five requests of 100 ms each, one after another: physics says at least 500 ms.
    assert!(
        sequential >= Duration::from_millis(500),
        "sequential took only {sequential:?}"
    );
    for model in ["threads", "pool"] {
        let elapsed = timed(model);
        // Ideal is 100 ms (a 5x speed-up); 0.6x of the measured sequential time leaves more than a 2x margin.
        assert!(
            elapsed.as_secs_f64() < 0.6 * sequential.as_secs_f64(),
            "{model} took {elapsed:?}, sequential {sequential:?}"
        );
    }
}
