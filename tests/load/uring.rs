//! `--io uring`: the generator's TCP clients on io_uring count what the epoll clients count — every protocol,
//! kept-alive or a connection per request, wrong replies, refusals, silent servers, replies larger than a buffer,
//! the open loop's timetable — and close what they opened. Refused with a line where it does not apply.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::load_support::{
    assert_consistent, closed_port, config, failing_http, our_server, run, shouting_echo,
    tiny_tcp_server,
};
use crate::support::run_cli;
use serverlab::load::{ErrorKind, LoadConfig, LoadIo, Payload};
use serverlab::models::{Model, ServerConfig};
use serverlab::protocol::Proto;
use serverlab::server::Server;

fn on_ring(mut c: LoadConfig) -> LoadConfig {
    c.io = LoadIo::Uring;
    c
}

#[test]
fn every_tcp_protocol_is_served_kept_alive_and_a_connection_per_request() {
    for proto in [Proto::Echo, Proto::Http, Proto::Daytime] {
        let server = our_server(proto, Model::Poll);
        for per_request in [false, true] {
            let mut c = on_ring(config(proto, server.addr(), 4));
            c.requests = Some(400);
            c.connect_per_request = per_request;
            let r = run(&c);
            assert_consistent(&r);
            let what = format!("{proto:?}, a connection per request: {per_request}");
            assert_eq!(r.successes, 400, "{what}: {r:#?}");
            assert_eq!(r.errors.total(), 0, "{what}");
            // daytime closes after each reply, so it connects per request either way.
            if per_request || proto == Proto::Daytime {
                assert!(
                    r.connections >= 400,
                    "{what}: {} connections",
                    r.connections
                );
            } else {
                assert_eq!(r.connections, 4, "{what}: one connection per client");
            }
            assert!(r.bytes_received > 0 && r.latency.count() == 400, "{what}");
        }
    }
}

#[test]
fn wrong_replies_and_error_statuses_are_bad_replies() {
    let addr = tiny_tcp_server(shouting_echo);
    let mut c = on_ring(config(Proto::Echo, addr, 2));
    c.requests = Some(20);
    c.payload = Payload::Message("hello".into());
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!((r.successes, r.errors.bad_reply), (0, 20), "{r:#?}");
    assert!(r.error_examples[&ErrorKind::BadReply].contains("byte 0"));

    let addr = tiny_tcp_server(failing_http);
    let mut c = on_ring(config(Proto::Http, addr, 2));
    c.requests = Some(10);
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.errors.bad_reply, 10);
    assert_eq!(r.statuses, [(500, 10)].into());
}

#[test]
fn a_closed_port_is_refused_by_kind() {
    let mut c = on_ring(config(Proto::Echo, closed_port(), 3));
    c.requests = Some(30);
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.errors.refused, 30, "{r:#?}");
}

/// Accepts and reads, never answers; tells the channel when a connection reaches its end (the client closed it).
fn silent_server() -> (SocketAddr, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let (Ok(mut stream), tx) = (stream, tx.clone()) else {
                continue;
            };
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
                let _ = tx.send(());
            });
        }
    });
    (addr, rx)
}

#[test]
fn a_silent_server_times_out_and_its_connections_are_really_closed() {
    let (addr, ended) = silent_server();
    let mut c = on_ring(config(Proto::Echo, addr, 3));
    c.requests = Some(3);
    c.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.errors.timeout, 3, "{r:#?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "ended by its timeouts"
    );

    // Each timed-out connection is closed at once, not when the run ends: its pending receive cancelled, its
    // socket released, so the server reads the end of it while the run goes on.
    for n in 0..3 {
        ended
            .recv_timeout(Duration::from_secs(3))
            .unwrap_or_else(|_| panic!("connection {n} of the first run was never closed"));
    }
    let mut c = on_ring(config(Proto::Echo, addr, 3));
    c.timeout = Duration::from_millis(200);
    c.max_duration = None;
    c.duration = Some(Duration::from_secs(3));
    let running = std::thread::spawn(move || run(&c));
    for n in 0..6 {
        ended
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_else(|_| panic!("only {n} timed-out connections were closed"));
    }
    assert!(
        !running.is_finished(),
        "six connections were closed while the run went on"
    );
    let r = running.join().unwrap();
    assert!(r.errors.timeout >= 6, "{r:#?}");
}

#[test]
fn a_reply_larger_than_a_buffer_arrives_whole() {
    let body: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut config_of_server =
        ServerConfig::new(Proto::Http, Model::Poll, "127.0.0.1:0".parse().unwrap());
    config_of_server.page = body.into();
    let server = Server::bind(config_of_server).unwrap().spawn().unwrap();
    let mut c = on_ring(config(Proto::Http, server.addr(), 3));
    c.requests = Some(60);
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.successes, 60, "{r:#?}");
    assert!(r.bytes_received >= 60 * 100_000, "{}", r.bytes_received);
}

/// Answers one echo on each connection, then closes it without a word: a kept-alive connection's next request
/// finds it closed, and is retried once on a new one.
fn one_echo_per_connection(mut stream: TcpStream) {
    let mut buf = [0u8; 1024];
    if let Ok(n) = stream.read(&mut buf)
        && n > 0
    {
        let _ = stream.write_all(&buf[..n]);
    }
}

#[test]
fn a_kept_alive_connection_the_server_closed_is_retried_on_a_new_one() {
    let addr = tiny_tcp_server(one_echo_per_connection);
    let mut c = on_ring(config(Proto::Echo, addr, 2));
    c.requests = Some(40);
    c.payload = Payload::Message("ping".into());
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.successes, 40, "{r:#?}");
    assert!(r.connections >= 40, "{} connections", r.connections);
}

#[test]
fn the_open_loop_keeps_its_timetable() {
    let server = our_server(Proto::Echo, Model::Poll);
    let mut c = on_ring(config(Proto::Echo, server.addr(), 4));
    c.rate = Some(1_000.0);
    c.requests = Some(500);
    let started = Instant::now();
    let r = run(&c);
    let took = started.elapsed();
    assert_consistent(&r);
    assert_eq!(r.successes, 500, "{r:#?}");
    // 500 requests due over 0.5 s: not sooner (the timetable is kept), and not much later on an idle server.
    assert!(took >= Duration::from_millis(490), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn uring_is_refused_where_it_does_not_apply() {
    let out = run_cli(&[
        "load",
        "127.0.0.1:9",
        "--proto",
        "udp-echo",
        "--io",
        "uring",
        "--requests",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("udp-echo runs on epoll"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let out = run_cli(&[
        "load",
        "127.0.0.1:9",
        "--hold",
        "10",
        "--duration",
        "1s",
        "--io",
        "uring",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--hold cannot be used with --io uring"),
        "{err}"
    );
}
