//! Stopping: SIGINT/SIGTERM finish what was accepted, close what is idle, exit 0 and report.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::support::{MODELS, ServerProcess, connect};
use nix::sys::signal::Signal;

#[test]
fn a_request_in_flight_still_gets_its_reply() {
    for model in MODELS {
        let server = ServerProcess::start(&[
            "--model",
            model,
            "--work",
            "sleep:600ms",
            "--drain-timeout",
            "1s",
        ]);
        let mut client = connect(server.addr());
        client.write_all(b"in flight").unwrap();
        // The server is now inside its 600 ms of work.
        std::thread::sleep(Duration::from_millis(150));
        server.signal(Signal::SIGTERM);
        let mut reply = [0u8; 9];
        client.read_exact(&mut reply).expect("reply after SIGTERM");
        assert_eq!(&reply, b"in flight", "{model}");
        let mut server = server;
        let finished = server.wait_within(Duration::from_secs(10));
        assert!(finished.status.success(), "{model}: {}", finished.stderr);
        let report = finished.report();
        assert_eq!(report["requests"], 1);
        assert!(report["rusage_self"]["max_rss_kib"].as_i64().unwrap() > 0);
        assert!(
            finished.stderr.contains("server stopped"),
            "{}",
            finished.stderr
        );
    }
}

#[test]
fn sigint_stops_too_and_a_new_client_is_refused_after() {
    let server = ServerProcess::start(&["--model", "threads"]);
    let addr = server.addr();
    server.signal(Signal::SIGINT);
    let mut server = server;
    let finished = server.wait_within(Duration::from_secs(10));
    assert!(finished.status.success());
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "nothing listens after the stop"
    );
}

#[test]
fn idle_echo_connections_are_closed_after_the_drain_timeout() {
    let server = ServerProcess::start(&["--model", "threads", "--drain-timeout", "700ms"]);
    let mut idle = connect(server.addr());
    idle.write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    idle.read_exact(&mut one).unwrap();
    let start = Instant::now();
    let finished = server.terminate();
    let waited = start.elapsed();
    assert!(finished.status.success());
    // The idle connection was given the drain time, then closed.
    assert!(
        waited >= Duration::from_millis(700),
        "closed after only {waited:?}"
    );
    let mut rest = Vec::new();
    assert_eq!(idle.read_to_end(&mut rest).unwrap(), 0);
}

#[test]
fn idle_http_keep_alive_connections_are_closed_at_once() {
    let server = ServerProcess::start(&[
        "--proto",
        "http",
        "--model",
        "pool",
        "--drain-timeout",
        "30s",
    ]);
    let mut client = connect(server.addr());
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 15];
    client.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK");
    // Far less than the 30 s drain: an idle keep-alive connection may be closed at any time.
    let finished = server.terminate_within(Duration::from_secs(10));
    assert!(finished.status.success());
}

#[test]
fn queued_connections_of_the_pool_are_served_before_it_exits() {
    let server =
        ServerProcess::start(&["--model", "pool", "--workers", "1", "--work", "sleep:300ms"]);
    let clients: Vec<_> = (0..3)
        .map(|n| {
            let mut stream = connect(server.addr());
            stream.write_all(format!("m{n}").as_bytes()).unwrap();
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    server.signal(Signal::SIGTERM);
    for (n, mut stream) in clients.into_iter().enumerate() {
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        assert_eq!(reply, format!("m{n}"));
    }
    let mut server = server;
    assert!(server.wait_within(Duration::from_secs(10)).status.success());
}

#[test]
fn http_requests_already_accepted_are_answered_with_connection_close() {
    // The pool has one worker, so two of the three connections wait in its queue when the stop arrives.
    for flags in [
        &["--model", "pool", "--workers", "1"][..],
        &["--model", "threads"],
        &["--model", "poll"],
        &["--model", "async"],
    ] {
        let mut args = vec!["--proto", "http", "--work", "sleep:300ms"];
        args.extend_from_slice(flags);
        let server = ServerProcess::start(&args);
        let clients: Vec<_> = (0..3)
            .map(|_| {
                let mut stream = connect(server.addr());
                stream
                    .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    .unwrap();
                stream
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        server.signal(Signal::SIGTERM);
        for mut stream in clients {
            let mut reply = String::new();
            stream.read_to_string(&mut reply).unwrap();
            assert!(reply.starts_with("HTTP/1.1 200 OK"), "{flags:?}: {reply:?}");
            assert!(
                reply.contains("Connection: close\r\n"),
                "{flags:?}: {reply}"
            );
        }
        let mut server = server;
        let finished = server.wait_within(Duration::from_secs(10));
        assert!(finished.status.success());
        assert_eq!(finished.report()["requests"], 3, "{flags:?}");
    }
}

#[test]
fn ctrl_c_at_a_terminal_stops_prefork_gracefully() {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    // A terminal sends SIGINT to the whole foreground process group; run the server in a group of its own.
    let mut child = std::process::Command::new(crate::support::BIN)
        .args([
            "serve",
            "--model",
            "prefork",
            "--workers",
            "2",
            "--work",
            "sleep:500ms",
        ])
        .args(["--listen", "127.0.0.1:0", "--log-level", "warn"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr: std::net::SocketAddr = line.split_whitespace().nth(2).unwrap().parse().unwrap();
    let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
    let mut client = connect(addr);
    client.write_all(b"in flight").unwrap();
    std::thread::sleep(Duration::from_millis(150));
    nix::sys::signal::kill(group, Signal::SIGINT).unwrap();
    let mut reply = [0u8; 9];
    let answered = client.read_exact(&mut reply);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = nix::sys::signal::kill(group, Signal::SIGKILL);
            panic!("prefork did not stop");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    answered.expect("the request in flight is answered");
    assert!(child.wait().unwrap().success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(
        rest.contains("\"requests\":1"),
        "the worker's count reached the parent: {rest}"
    );
}

#[test]
fn a_stop_noticed_inside_inline_work_is_not_an_accept_failure() {
    // The work notices the stop first and takes the listener out of LISTEN; the loop, back from the work, finds
    // accepts failing (EINVAL). That is the stop, not an error, and nothing is logged as one.
    for model in ["poll", "uring"] {
        let server = ServerProcess::start(&[
            "--model",
            model,
            "--work",
            "cpu:800ms",
            "--drain-timeout",
            "3s",
        ]);
        let mut busy = connect(server.addr());
        busy.write_all(b"compute").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        // Waits in the backlog while the loop computes.
        let _queued = std::net::TcpStream::connect(server.addr()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        server.signal(Signal::SIGTERM);
        let mut reply = [0u8; 7];
        busy.read_exact(&mut reply).expect("reply after SIGTERM");
        let mut server = server;
        let finished = server.wait_within(Duration::from_secs(10));
        assert!(finished.status.success(), "{model}: {}", finished.stderr);
        assert_eq!(
            finished.report()["errors"],
            0,
            "{model}: {}",
            finished.stderr
        );
        assert!(
            !finished.stderr.contains("accept failed"),
            "{model}: {}",
            finished.stderr
        );
    }
}
