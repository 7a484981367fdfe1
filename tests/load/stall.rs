//! Coordinated omission: a server that stalls once cannot hide the stall from an open-loop run.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::load_support::{assert_consistent, config, run, tiny_tcp_server};
use serverlab::protocol::Proto;

static REQUESTS: AtomicUsize = AtomicUsize::new(0);
/// Every reply goes out under this lock, so one stalled reply stalls the whole server.
static SERVER: Mutex<()> = Mutex::new(());

/// An echo server that, at its 200th request (about 1 s into a 200/s run), stops for 1 s.
fn stalls_once(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            return;
        }
        let guard = SERVER.lock().unwrap();
        if REQUESTS.fetch_add(1, Ordering::SeqCst) + 1 == 200 {
            std::thread::sleep(Duration::from_secs(1));
        }
        drop(guard);
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

#[test]
fn a_one_second_stall_shows_in_corrected_latency_not_in_service_time() {
    let addr = tiny_tcp_server(stalls_once);
    let mut c = config(Proto::Echo, addr, 2);
    c.rate = Some(200.0);
    c.duration = Some(Duration::from_secs(3));
    c.timeout = Duration::from_secs(5);
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.errors.total(), 0, "{:?}", r.error_examples);
    assert!(r.successes >= 590, "{}", r.successes);
    let corrected = r.latency.summary();
    let service = r.service_time.summary();
    assert!(
        corrected.p99 >= 500_000,
        "corrected p99 {} us: the stall is hidden",
        corrected.p99
    );
    assert!(
        service.p99 < 200_000,
        "service p99 {} us: only the requests in flight saw the stall",
        service.p99
    );
    assert!(
        service.max >= 900_000,
        "the requests in flight did see it: {service:?}"
    );
    assert!(
        r.service_time.0.count_between(900_000, 2_000_000) <= 2,
        "at most the 2 requests in flight took the stall"
    );

    // The timeline adds up to the totals, and the stall is a stretch of empty buckets.
    let t = &r.timeline;
    assert_eq!(t.buckets.iter().map(|b| b.ok).sum::<u64>(), r.successes);
    assert_eq!(
        t.buckets.iter().map(|b| b.errors).sum::<u64>(),
        r.errors.total()
    );
    let measured: Vec<u64> = t
        .buckets
        .iter()
        .filter(|b| b.start_ms >= t.measured_from_ms)
        .map(|b| b.ok + b.errors)
        .collect();
    let zeros = measured.iter().filter(|&&n| n == 0).count();
    // 1 s of nothing, in 100 ms buckets: at least 8 whole buckets empty (the stall's edges may cut two).
    assert!(zeros >= 8, "buckets {measured:?}");
    let last_empty = measured.iter().rposition(|&n| n == 0).unwrap();
    assert!(
        last_empty + 5 < measured.len(),
        "the stall is mid-run: {measured:?}"
    );
}
