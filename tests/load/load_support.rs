//! Test support for the load generator: servers of our own started in-process, and tiny misbehaving servers.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use serverlab::load::{Control, LoadConfig, LoadReport};
use serverlab::models::Model;
use serverlab::models::ServerConfig;
use serverlab::protocol::Proto;
use serverlab::server::{RunningServer, Server};

/// One of our servers on 127.0.0.1, port 0, in this process. Dropping it stops it.
pub fn our_server(proto: Proto, model: Model) -> RunningServer {
    let config = ServerConfig::new(proto, model, "127.0.0.1:0".parse().unwrap());
    Server::bind(config).unwrap().spawn().unwrap()
}

/// A load config with bounded time: `requests` in total or 5 s at most.
pub fn config(proto: Proto, target: SocketAddr, clients: usize) -> LoadConfig {
    let mut c = LoadConfig::new(proto, target);
    c.clients = clients;
    c.threads = 2;
    c.duration = None;
    c.max_duration = Some(Duration::from_secs(5));
    c.timeout = Duration::from_secs(2);
    c
}

pub fn run(config: &LoadConfig) -> LoadReport {
    serverlab::load::run(config, &Control::new()).unwrap()
}

/// The invariants every report keeps.
pub fn assert_consistent(r: &LoadReport) {
    assert_eq!(r.requests, r.successes + r.errors.total(), "{r:#?}");
    let per_client: u64 = r.per_client.iter().map(|c| c.ok + c.errors).sum();
    assert_eq!(per_client, r.requests, "per-client counts add up");
    assert_eq!(
        r.latency.count(),
        r.successes,
        "one latency sample per success"
    );
    assert_eq!(r.service_time.count(), r.successes);
}

/// A TCP server on 127.0.0.1:0 that runs `handle` on each connection in a thread of its own. The accept thread
/// lives as long as the test process.
pub fn tiny_tcp_server(handle: fn(TcpStream)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || handle(stream));
        }
    });
    addr
}

/// Echoes every read, upper-cased: a wrong echo.
pub fn shouting_echo(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            return;
        }
        let reply = buf[..n].to_ascii_uppercase();
        if stream.write_all(&reply).is_err() {
            return;
        }
    }
}

/// Answers every HTTP request head with a 500.
pub fn failing_http(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    let mut seen = Vec::new();
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            return;
        }
        seen.extend_from_slice(&buf[..n]);
        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            seen.drain(..end + 4);
            let reply = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops";
            if stream.write_all(reply).is_err() {
                return;
            }
        }
    }
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A udp-echo server that holds back the reply to the datagram number `late` (counting from 1) for `delay`,
/// echoing everything else at once.
pub fn udp_echo_with_one_late_reply(late: usize, delay: Duration) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        let mut count = 0;
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            count += 1;
            if count == late {
                let reply = buf[..n].to_vec();
                let socket = socket.try_clone().unwrap();
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    let _ = socket.send_to(&reply, from);
                });
            } else {
                let _ = socket.send_to(&buf[..n], from);
            }
        }
    });
    addr
}

/// An HTTP server on 127.0.0.1:0 that sends every request it reads (head and body, as text) to the channel and
/// answers `200 OK` with a 2-byte body (none to HEAD), or the status NNN for a path `/status/NNN`. Keep-alive; the accept thread
/// lives as long as the test process.
pub fn recording_http_server() -> (SocketAddr, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || answer_and_record(stream, tx));
        }
    });
    (addr, rx)
}

fn answer_and_record(mut stream: TcpStream, tx: std::sync::mpsc::Sender<String>) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // A whole request: its head, then Content-Length bytes of body.
        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end + 4]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if seen.len() < end + 4 + length {
                break;
            }
            let request = String::from_utf8_lossy(&seen[..end + 4 + length]).into_owned();
            seen.drain(..end + 4 + length);
            let status = head
                .split_whitespace()
                .nth(1)
                .and_then(|path| path.strip_prefix("/status/"))
                .and_then(|code| code.parse::<u16>().ok())
                .unwrap_or(200);
            let _ = tx.send(request);
            // A reply to HEAD says how long the body would be, and has none.
            let body = if head.starts_with("HEAD ") { "" } else { "ok" };
            let reply = format!("HTTP/1.1 {status} Whatever\r\nContent-Length: 2\r\n\r\n{body}");
            if stream.write_all(reply.as_bytes()).is_err() {
                return;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}
