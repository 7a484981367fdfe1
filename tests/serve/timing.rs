//! The behaviour the classroom notes teach, asserted with bounds that cannot flake: lower bounds that physics
//! fixes, and upper bounds with at least a 2x margin against a figure measured in the same test. Everything timed
//! Timed tests take a lock, so that they run one at a time and nothing else in this binary competes for the CPU.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::{ServerProcess, connect};

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

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Time for `clients` simultaneous clients against a server started with `flags`.
fn timed(flags: &[&str], clients: usize) -> Duration {
    let mut args = vec!["--proto", "echo"];
    args.extend_from_slice(flags);
    let server = ServerProcess::start(&args);
    let elapsed = burst(server.addr(), clients);
    assert!(server.terminate().status.success());
    elapsed
}

#[test]
fn sequential_stalls_while_threads_and_pool_overlap_io_waits() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sequential = timed(&["--model", "sequential", "--work", "sleep:100ms"], 5);
    // Five requests of 100 ms each, one after another: physics says at least 500 ms.
    assert!(
        sequential >= Duration::from_millis(500),
        "sequential took only {sequential:?}"
    );
    for model in ["threads", "pool"] {
        let elapsed = timed(&["--model", model, "--work", "sleep:100ms"], 5);
        // Ideal is 100 ms (a 5x speed-up); 0.6x of the measured sequential time leaves more than a 2x margin.
        assert!(
            elapsed.as_secs_f64() < 0.6 * sequential.as_secs_f64(),
            "{model} took {elapsed:?}, sequential {sequential:?}"
        );
    }
}

#[test]
fn event_loops_overlap_timers_but_a_blocking_call_serialises_them() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sequential = timed(&["--model", "sequential", "--work", "sleep:100ms"], 10);
    assert!(
        sequential >= Duration::from_secs(1),
        "sequential took only {sequential:?}"
    );
    let limit = 0.6 * sequential.as_secs_f64();
    for model in ["poll", "async", "uring"] {
        let elapsed = timed(&["--model", model, "--work", "sleep:100ms"], 10);
        assert!(
            elapsed.as_secs_f64() < limit,
            "{model} with sleep: {elapsed:?}, sequential {sequential:?}"
        );
    }
    // A blocking call inside the one loop thread: ten of them run one after another, whatever the loop does.
    let blocked = timed(&["--model", "poll", "--work", "block:100ms"], 10);
    assert!(
        blocked >= Duration::from_secs(1),
        "poll with block: only {blocked:?}"
    );
    // Handing the blocking calls to ten helper threads frees the loop again (Flash's AMPED).
    for model in ["poll", "async", "uring"] {
        let offloaded = timed(
            &["--model", model, "--work", "block:100ms", "--offload", "10"],
            10,
        );
        assert!(
            offloaded.as_secs_f64() < limit,
            "{model} offloaded: {offloaded:?}, sequential {sequential:?}"
        );
    }
}
