//! `serverlab load --slow N` through the real binary: slowloris connections starve a pool server's workers but
//! not an event loop, and a server with a header deadline is seen closing them (with its 408).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::load_support::tiny_tcp_server;
use crate::support::{ServerProcess, run_cli};
use serverlab::load::merge::ResultFile;

/// Runs `serverlab load ARGS --json FILE`; returns the exit code, stdout, stderr and the result file.
fn load_json(name: &str, args: &[&str]) -> (Option<i32>, String, String, ResultFile) {
    let path: PathBuf =
        std::env::temp_dir().join(format!("serverlab-slow-{}-{name}.json", std::process::id()));
    let path_text = path.to_string_lossy().into_owned();
    let mut full = vec!["load", "--no-progress", "--json", &path_text];
    full.extend_from_slice(args);
    let out = run_cli(&full);
    let file = ResultFile::read(&path)
        .unwrap_or_else(|e| panic!("{e}; stderr: {}", String::from_utf8_lossy(&out.stderr)));
    let _ = std::fs::remove_file(&path);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        file,
    )
}

#[test]
fn two_slow_connections_starve_a_pool_of_two_workers_but_not_poll() {
    let pool = ServerProcess::start(&["--proto", "http", "--model", "pool", "--workers", "2"]);
    let target = pool.addr().to_string();
    let args = [
        "--target",
        &target,
        "--proto",
        "http",
        "--clients",
        "2",
        "--threads",
        "1",
        "--slow",
        "2",
        "--duration",
        "1500ms",
    ];
    let (code, stdout, stderr, file) = load_json("pool", &args);
    let r = &file.report;
    assert_eq!(
        r.successes, 0,
        "both workers are held by the slow connections: {stdout}"
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    let slow = r.slow.as_ref().expect("a slow report");
    assert_eq!((slow.connections, slow.opened), (2, 2), "{slow:?}");
    assert_eq!(slow.closed_by_server, 0, "no header deadline yet: {slow:?}");
    assert_eq!(slow.open_at_end, 2);
    assert!(
        slow.oldest_open_us >= 1_000_000,
        "held for the whole run: {slow:?}"
    );
    // One byte a second: the request line has begun, and is far from done.
    assert!((1..=10).contains(&slow.bytes_sent), "{slow:?}");
    assert!(stdout.contains("2 slowloris connections"), "{stdout}");
    assert!(stdout.contains("2 still open at the end"), "{stdout}");
    // They are not clients: nothing about them is counted as a request.
    assert_eq!(r.clients, 2);
    assert_eq!(r.per_client.len(), 2);
    // The workers come back once the slow connections are gone.
    drop(pool.terminate());

    let poll = ServerProcess::start(&["--proto", "http", "--model", "poll"]);
    let target = poll.addr().to_string();
    let args = [
        "--target",
        &target,
        "--proto",
        "http",
        "--clients",
        "2",
        "--threads",
        "1",
        "--slow",
        "2",
        "--duration",
        "1s",
    ];
    let (code, stdout, _, file) = load_json("poll", &args);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        file.report.successes > 10,
        "an event loop serves beside them: {stdout}"
    );
    assert_eq!(file.report.slow.as_ref().unwrap().open_at_end, 2);
}

/// A server with a 300 ms header deadline: a request head complete in time gets a 200, one that is not gets a 408
/// and the connection closed (what `serve --header-timeout` does).
fn header_deadline(mut stream: TcpStream) {
    let deadline = Duration::from_millis(300);
    let mut buf = [0u8; 4096];
    let mut head = Vec::new();
    let mut started = Instant::now();
    loop {
        let left = deadline.saturating_sub(started.elapsed());
        if left.is_zero() {
            let _ = stream.write_all(
                b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            );
            return;
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => return,
        }
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            head.drain(..end + 4);
            if stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .is_err()
            {
                return;
            }
            started = Instant::now();
        }
    }
}

#[test]
fn a_header_deadline_is_seen_closing_slow_connections_with_its_408() {
    let addr = tiny_tcp_server(header_deadline).to_string();
    let args = [
        "--target",
        &addr,
        "--proto",
        "http",
        "--clients",
        "1",
        "--threads",
        "1",
        "--slow",
        "2",
        "--slow-interval",
        "50ms",
        "--duration",
        "1500ms",
    ];
    let (code, stdout, _, file) = load_json("deadline", &args);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(file.report.successes > 0, "{stdout}");
    let slow = file.report.slow.as_ref().expect("a slow report");
    // Each connection lives 300 ms: about 5 each in 1.5 s; at least 2 rounds on a busy machine.
    assert!(slow.closed_by_server >= 4, "{slow:?}");
    assert_eq!(
        slow.answered.get(&408),
        Some(&slow.closed_by_server),
        "{slow:?}"
    );
    assert!(
        slow.opened >= slow.closed_by_server,
        "closed ones are opened again: {slow:?}"
    );
    assert!(
        slow.closed_after_min_us.unwrap() >= 300_000,
        "not before the deadline: {slow:?}"
    );
    assert!(slow.closed_after_max_us.unwrap() < 1_500_000, "{slow:?}");
    assert!(stdout.contains("answered first (408 x"), "{stdout}");
}

#[test]
fn slow_connections_need_http() {
    let target = crate::load_support::closed_port().to_string();
    let out = run_cli(&[
        "load",
        "--target",
        &target,
        "--slow",
        "2",
        "--duration",
        "1s",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--slow needs --proto http"), "{stderr}");
}
