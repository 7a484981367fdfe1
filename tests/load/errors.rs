//! Failed requests are counted by kind, never as successes; a run where nothing succeeded exits 1 with one line.

use std::time::{Duration, Instant};

use crate::load_support::{
    assert_consistent, closed_port, config, failing_http, run, shouting_echo, tiny_tcp_server,
    udp_echo_with_one_late_reply,
};
use crate::support::run_cli;
use serverlab::load::ErrorKind;
use serverlab::protocol::Proto;

#[test]
fn a_wrong_echo_is_a_bad_reply() {
    let addr = tiny_tcp_server(shouting_echo);
    let mut c = config(Proto::Echo, addr, 2);
    c.requests = Some(20);
    c.payload = serverlab::load::Payload::Message("hello".into());
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.successes, 0);
    assert_eq!(r.errors.bad_reply, 20, "{r:#?}");
    assert!(r.error_examples[&ErrorKind::BadReply].contains("byte 0"));

    // Digits and punctuation survive upper-casing: the same server then answers right.
    c.payload = serverlab::load::Payload::Message("12345!".into());
    assert_eq!(run(&c).successes, 20);
}

#[test]
fn an_http_error_status_is_a_bad_reply_for_the_library_by_default() {
    let addr = tiny_tcp_server(failing_http);
    let mut c = config(Proto::Http, addr, 2);
    c.requests = Some(10);
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.errors.bad_reply, 10);
    assert!(r.error_examples[&ErrorKind::BadReply].contains("500"));
    assert_eq!(r.statuses, [(500, 10)].into(), "counted by code too");
}

#[test]
fn a_closed_port_is_refused_by_kind_and_retried_with_a_backoff() {
    let addr = closed_port();
    let mut c = config(Proto::Echo, addr, 3);
    c.requests = Some(30);
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.errors.refused, 30);

    // Retried with a backoff, not at full speed.
    let mut c = config(Proto::Echo, addr, 10);
    c.max_duration = None;
    c.duration = Some(Duration::from_secs(1));
    let r = run(&c);
    assert_consistent(&r);
    let refused = r.errors.refused;
    // Without a backoff this is hundreds of thousands; with one, each client tries about 16 times in 1 s.
    assert!(refused >= 10, "every client tried: {refused}");
    assert!(refused <= 2_000, "{refused} attempts in 1 s");
    assert_eq!(r.requests, refused);
}

#[test]
fn nothing_listening_stops_the_binary_at_once_with_one_line() {
    let target = closed_port().to_string();
    for proto in ["echo", "http", "daytime"] {
        let started = Instant::now();
        let out = run_cli(&[
            "load",
            "--target",
            &target,
            "--proto",
            proto,
            "--clients",
            "10",
            "--duration",
            "5s",
            "--no-progress",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{proto}: {stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!("serverlab: nothing is listening on {target} (connection refused)"),
        );
        assert!(out.stdout.is_empty(), "no summary of a run never made");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{proto}: at once, not after --duration 5s"
        );
    }
}

#[test]
fn udp_timeouts_and_late_replies_are_told_apart() {
    // The 3rd datagram is answered 600 ms late; the timeout is 200 ms.
    let addr = udp_echo_with_one_late_reply(3, Duration::from_millis(600));
    let mut c = config(Proto::UdpEcho, addr, 1);
    c.threads = 1;
    c.timeout = Duration::from_millis(200);
    c.duration = Some(Duration::from_millis(1000));
    let r = run(&c);
    assert_consistent(&r);
    // Exactly one on a quiet machine; a busy one may delay another reply past 200 ms too.
    assert!(r.errors.timeout >= 1, "{r:#?}");
    assert_eq!(r.errors.bad_reply, 0, "a late reply is not a bad one");
    assert!(r.late_replies >= 1, "{r:#?}");
    assert!(r.successes > 10);
}

#[test]
fn nothing_listening_for_udp_is_refused() {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    drop(socket);
    let mut c = config(Proto::UdpEcho, addr, 1);
    c.requests = Some(5);
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.errors.refused, 5, "{r:#?}");
}

#[test]
fn timeouts_are_counted_when_the_server_never_answers() {
    fn silent(stream: std::net::TcpStream) {
        std::thread::sleep(Duration::from_secs(3));
        drop(stream);
    }
    let addr = tiny_tcp_server(silent);
    let mut c = config(Proto::Echo, addr, 2);
    c.requests = Some(2);
    c.timeout = Duration::from_millis(200);
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.errors.timeout, 2, "{r:#?}");
    assert!(r.duration() < Duration::from_secs(1));
}

#[test]
fn bad_usage_exits_2_with_one_line() {
    let closed = closed_port().to_string();
    for (args, needle) in [
        (vec!["--clients", "0"], "--clients"),
        (vec!["--requests", "5", "--duration", "1s"], "--duration"),
        (vec!["--rate", "0"], "--rate"),
        (vec!["--proto", "gopher"], "gopher"),
        (vec!["--size", "10", "--message", "x"], "--message"),
        (vec!["--proto", "http", "--path", "nope"], "--path"),
        (vec!["--timeout", "soon"], "soon"),
        (vec!["--duration", "0"], "--duration"),
        (vec!["--duration", "0s"], "1ms to 1day"),
        (vec!["--duration", "25h"], "--duration"),
        (vec!["--duration", "99999999999999999h"], "--duration"),
        (vec!["--requests", "0"], "--requests"),
        (vec!["--timeout", "0"], "--timeout"),
        (vec!["--timeout", "2days"], "--timeout"),
        (vec!["--warmup", "1000000h"], "--warmup"),
        (vec!["--slow-interval", "0s"], "--slow-interval"),
        (vec!["--slow", "1"], "--slow"),
    ] {
        let mut full = vec!["load", "--target", &closed, "--no-progress"];
        full.extend(args.iter().copied());
        let out = run_cli(&full);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let out = run_cli(&["load", "--target", "nowhere", "--requests", "1"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn more_clients_than_open_files_is_a_usage_error() {
    let closed = closed_port().to_string();
    let script = format!(
        "ulimit -n 200 && exec {} load --target {closed} --clients 500 --requests 5",
        crate::support::BIN
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("open files"), "{stderr}");
}

#[test]
fn a_server_of_another_protocol_is_named_with_the_fix() {
    // Echo (the default) aimed at an HTTP server, and HTTP at an echo server.
    for (serves, flags, answer) in [
        (
            "http",
            &[][..],
            "the server answered \"HTTP/1.1 400\" — is it an HTTP server? try --proto http",
        ),
        (
            "echo",
            &["--proto", "http"][..],
            "is it an echo server? try --proto echo",
        ),
    ] {
        let server = crate::support::ServerProcess::start(&["--proto", serves]);
        let target = server.addr().to_string();
        let mut args = vec!["load", &target, "--requests", "5", "--no-progress"];
        args.extend_from_slice(flags);
        let out = run_cli(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{flags:?} to {serves}: {stderr}"
        );
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(answer), "{flags:?} to {serves}: {stderr}");
    }
}

#[test]
fn numbers_too_large_to_count_are_usage_errors_not_panics() {
    for args in [
        &["--start-at", "1e20"][..],
        &["--start-at", "1e19"],
        &["--rate", "1e300", "--requests", "10"],
        &["--rate", "100", "--requests", "18446744073709551615"],
    ] {
        let mut full = vec!["load", "127.0.0.1:9", "--duration", "1s"];
        full.extend_from_slice(args);
        let out = run_cli(&full);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    }
}
