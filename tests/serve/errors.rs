//! Bad input gets a clear one-line error and a non-zero status; bad clients affect only themselves.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::support::{ServerProcess, connect, run_cli};

fn assert_one_line_error(out: &std::process::Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(needle),
        "{stderr:?} should mention {needle:?}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    assert_one_line_error(&run_cli(&["serve", "--model", "forks"]), 2, "forks");
    assert_one_line_error(&run_cli(&["serve", "--proto", "gopher"]), 2, "gopher");
    assert_one_line_error(&run_cli(&["serve", "--work", "nap:1s"]), 2, "nap:1s");
    assert_one_line_error(&run_cli(&["serve", "--work", "sleep:soon"]), 2, "soon");
    assert_one_line_error(&run_cli(&["serve", "--listen", "nowhere"]), 2, "nowhere");
    assert_one_line_error(&run_cli(&["serve", "--workers", "-3"]), 2, "-3");
    assert_one_line_error(&run_cli(&["serve", "--bogus"]), 2, "--bogus");
    assert_one_line_error(&run_cli(&["launch"]), 2, "launch");
}

#[test]
fn typos_get_clap_s_suggestion_and_the_subcommand_s_help() {
    let cases: [(&[&str], &str, &str); 4] = [
        (
            &["serve", "--modle", "threads"],
            "a similar argument exists: '--model'",
            "(see serverlab serve --help)",
        ),
        (
            &["lod", "--target", "127.0.0.1:1"],
            "a similar subcommand exists: 'load'",
            "(see serverlab --help)",
        ),
        (
            &["serve", "--model", "thread"],
            "a similar value exists: 'threads'",
            "(see serverlab serve --help)",
        ),
        (
            &["experiment", "--modls", "poll"],
            "a similar argument exists: '--models'",
            "(see serverlab experiment --help)",
        ),
    ];
    for (args, tip, help) in cases {
        let out = run_cli(args);
        assert_one_line_error(&out, 2, tip);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.trim_end().ends_with(help), "{args:?}: {stderr}");
    }
}

#[test]
fn enum_values_take_any_case() {
    let server = ServerProcess::start(&["--model", "Threads", "--proto", "ECHO"]);
    let mut client = connect(server.addr());
    client.write_all(b"hi").unwrap();
    let mut reply = [0u8; 2];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"hi");
    // Still one line for a value that is no value in any case.
    assert_one_line_error(&run_cli(&["serve", "--model", "FORKS"]), 2, "FORKS");
}

#[test]
fn impossible_settings_are_usage_errors() {
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        run_cli(&args)
    };
    assert_one_line_error(&serve(&["--workers", "0"]), 2, "--workers");
    assert_one_line_error(
        &serve(&["--proto", "udp-echo", "--idle-timeout", "1s"]),
        2,
        "udp-echo",
    );
    assert_one_line_error(&serve(&["--page", "x.html"]), 2, "--page");
    assert_one_line_error(&serve(&["--log-level", "loud["]), 2, "log-level");
    // Negative numbers are read as numbers, then refused, not mistaken for a flag.
    assert_one_line_error(
        &serve(&["--backlog", "-1"]),
        2,
        "--backlog must be between 1",
    );
    // Upper bounds are checked before anything is bound or allocated.
    assert_one_line_error(&serve(&["--queue", "1000000000000"]), 2, "--queue");
    assert_one_line_error(&serve(&["--workers", "100000"]), 2, "--workers");
    assert_one_line_error(&serve(&["--max-conns", "100000000"]), 2, "--max-conns");
    assert_one_line_error(&serve(&["--backlog", "100000000"]), 2, "--backlog");
    // Durations have a range and never overflow.
    assert_one_line_error(
        &serve(&["--idle-timeout", "18446744073709551615s"]),
        2,
        "18446744073709551615s",
    );
    assert_one_line_error(&serve(&["--work", "sleep:99999999h"]), 2, "1day");
    assert_one_line_error(&serve(&["--drain-timeout", "0s"]), 2, "1ms");
    assert_one_line_error(&serve(&["--send-timeout", "3days"]), 2, "1day");
    assert_one_line_error(
        &serve(&["--header-timeout", "1s"]),
        2,
        "--header-timeout applies to http",
    );
}

#[test]
fn a_page_that_is_not_a_regular_file_is_refused_at_once() {
    let dir = std::env::temp_dir().join(format!("serverlab-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("page.fifo");
    let _ = std::fs::remove_file(&fifo);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    // Reading a FIFO with no writer would block the start for ever; run_cli fails the test after 20 s.
    let out = run_cli(&[
        "serve",
        "--proto",
        "http",
        "--listen",
        "127.0.0.1:0",
        "--page",
        fifo.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_one_line_error(&out, 2, "is not a regular file");
}

#[test]
fn a_port_in_use_is_one_clear_line() {
    let server = ServerProcess::start(&[]);
    let busy = server.addr().to_string();
    let out = run_cli(&["serve", "--listen", &busy]);
    assert_one_line_error(
        &out,
        1,
        &format!("cannot listen on {busy}: Address already in use"),
    );
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let busy = udp.local_addr().unwrap().to_string();
    assert_one_line_error(
        &run_cli(&["serve", "--proto", "udp-echo", "--listen", &busy]),
        1,
        "in use",
    );
}

#[test]
fn an_unreadable_page_file_is_one_clear_line() {
    let out = run_cli(&[
        "serve",
        "--proto",
        "http",
        "--listen",
        "127.0.0.1:0",
        "--page",
        "/no/such/page.html",
    ]);
    assert_one_line_error(&out, 2, "cannot read page file /no/such/page.html");
}

#[test]
fn help_and_version_succeed() {
    let out = run_cli(&["serve", "--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--max-conns"));
    assert!(run_cli(&["--version"]).status.success());
}

fn raw_http(server: &ServerProcess, request: &[u8]) -> String {
    let mut client = connect(server.addr());
    client.write_all(request).unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    String::from_utf8_lossy(&reply).into_owned()
}

#[test]
fn malformed_http_gets_the_proper_status_and_the_server_carries_on() {
    let server = ServerProcess::start(&["--proto", "http", "--model", "sequential"]);
    assert!(raw_http(&server, b"\x16\x03\x01garbage\r\n\r\n").starts_with("HTTP/1.1 400 "));
    assert!(raw_http(&server, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 505 "));
    let mut huge = b"GET / HTTP/1.1\r\nHost: x\r\nCookie: ".to_vec();
    huge.extend(std::iter::repeat_n(b'c', 9000));
    huge.extend_from_slice(b"\r\n\r\n");
    assert!(raw_http(&server, &huge).starts_with("HTTP/1.1 431 "));
    let reply = raw_http(
        &server,
        b"PUT / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert!(
        reply.starts_with("HTTP/1.1 405 ") && reply.contains("Allow: GET, HEAD\r\n"),
        "{reply}"
    );
    // Pipelined: three requests in one write, three answers in order.
    let reply = raw_http(
        &server,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /no HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let codes: Vec<&str> = reply
        .split('\n')
        .filter_map(|l| l.strip_prefix("HTTP/1.1 "))
        .map(|r| &r[..3])
        .collect();
    assert_eq!(codes, ["200", "404", "200"]);
    let finished = server.terminate();
    assert!(finished.status.success());
}

#[test]
fn a_client_that_vanishes_mid_request_affects_only_itself() {
    let server = ServerProcess::start(&["--proto", "http", "--model", "threads"]);
    {
        let mut quitter = connect(server.addr());
        quitter.write_all(b"GET / HTTP/1.1\r\nHos").unwrap();
    }
    {
        // Reset instead of a clean close.
        let rude = socket2::Socket::from(connect(server.addr()));
        rude.set_linger(Some(Duration::ZERO)).unwrap();
        (&rude).write_all(b"GET / HTTP/1.1\r\n").unwrap();
    }
    let reply = raw_http(
        &server,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK"));
    assert!(server.terminate().status.success());
}

#[test]
fn idle_timeout_closes_quiet_connections() {
    let server = ServerProcess::start(&["--proto", "echo", "--idle-timeout", "300ms"]);
    let mut client = connect(server.addr());
    let start = Instant::now();
    let mut buf = [0u8; 1];
    assert_eq!(client.read(&mut buf).unwrap(), 0, "closed by the server");
    assert!(start.elapsed() >= Duration::from_millis(300));
    // Without the flag, echo never hangs up on a quiet client.
    let patient = ServerProcess::start(&["--proto", "echo"]);
    let client = connect(patient.addr());
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let err = (&client).read(&mut buf).unwrap_err();
    assert!(matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));
}

#[test]
fn impossible_experiments_are_usage_errors_too() {
    assert_one_line_error(
        &run_cli(&[
            "experiment",
            "--allow-debug",
            "--proto",
            "udp-echo",
            "--keep-alive",
        ]),
        2,
        "--keep-alive",
    );
    assert_one_line_error(
        &run_cli(&[
            "experiment",
            "--allow-debug",
            "--preset",
            "slowloris",
            "--proto",
            "echo",
        ]),
        2,
        "need --proto http",
    );
    assert_one_line_error(
        &run_cli(&[
            "experiment",
            "--allow-debug",
            "--models",
            "poll",
            "--offload",
            "0",
        ]),
        2,
        "--offload",
    );
}
