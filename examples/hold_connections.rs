//! Opens many echo connections to one server, has each exchange a message, holds them, and says how many the
//! server actually served. Used by `bench/c10k.sh`; bounded in time, loopback only.
//!
//! `cargo run --release --example hold_connections -- ADDR COUNT [HOLD_SECONDS]`
//!
//! Connections open in batches no larger than a listen backlog, each batch non-blocking with a connect
//! timeout: past a server's cap the kernel drops SYNs, and blocking connects would stall in retransmits. Once
//! two batches in a row connect nothing, the server has stopped accepting and the rest are not tried.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

const BATCH: usize = 500;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
const MESSAGE: &[u8] = b"c10k ping";

fn main() {
    if let Err(e) = run() {
        eprintln!("hold_connections: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: hold_connections ADDR COUNT [HOLD_SECONDS]";
    let addr: SocketAddr = args
        .get(1)
        .ok_or(usage)?
        .parse()
        .map_err(|e| format!("bad address: {e}"))?;
    let count: usize = args
        .get(2)
        .ok_or(usage)?
        .parse()
        .map_err(|e| format!("bad count: {e}"))?;
    let hold: u64 = args
        .get(3)
        .map_or(Ok(0), |s| s.parse())
        .map_err(|e| format!("bad hold time: {e}"))?;
    let limit = serverlab::net::raise_fd_limit().map_err(|e| e.to_string())?;
    if (count as u64) + 64 > limit {
        return Err(format!(
            "the open-file hard limit is {limit}, too low for {count} connections plus a few files"
        ));
    }

    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(4096);
    let mut streams: HashMap<Token, TcpStream> = HashMap::new();
    let mut errors: HashMap<String, usize> = HashMap::new();
    let started = Instant::now();
    let mut empty_batches = 0;
    let mut next = 0usize;
    while next < count && empty_batches < 2 {
        let size = BATCH.min(count - next);
        let mut pending: HashMap<Token, TcpStream> = HashMap::new();
        for _ in 0..size {
            let token = Token(next);
            next += 1;
            match TcpStream::connect(addr) {
                Ok(mut stream) => {
                    poll.registry()
                        .register(&mut stream, token, Interest::WRITABLE)
                        .map_err(|e| e.to_string())?;
                    pending.insert(token, stream);
                }
                Err(e) => *errors.entry(format!("connect: {}", e.kind())).or_default() += 1,
            }
        }
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let mut connected = 0;
        while !pending.is_empty() && Instant::now() < deadline {
            poll.poll(&mut events, Some(deadline - Instant::now()))
                .map_err(|e| e.to_string())?;
            for event in events.iter() {
                let Some(mut stream) = pending.remove(&event.token()) else {
                    continue;
                };
                match stream.take_error() {
                    Ok(None) if stream.peer_addr().is_ok() => {
                        poll.registry()
                            .reregister(&mut stream, event.token(), Interest::READABLE)
                            .map_err(|e| e.to_string())?;
                        streams.insert(event.token(), stream);
                        connected += 1;
                    }
                    Ok(None) => {
                        pending.insert(event.token(), stream);
                    }
                    Ok(Some(e)) | Err(e) => {
                        *errors.entry(format!("connect: {}", e.kind())).or_default() += 1
                    }
                }
            }
        }
        *errors.entry("connect: timed out".into()).or_default() += pending.len();
        empty_batches = if connected == 0 { empty_batches + 1 } else { 0 };
    }
    let not_tried = count - next;
    let connect_seconds = started.elapsed().as_secs_f64();

    // Every connection sends one message and waits for its echo.
    let exchange_started = Instant::now();
    let mut waiting: HashMap<Token, usize> = HashMap::new();
    for (token, stream) in &mut streams {
        match stream.write(MESSAGE) {
            Ok(n) if n == MESSAGE.len() => {
                waiting.insert(*token, 0);
            }
            Ok(_) => *errors.entry("short write".into()).or_default() += 1,
            Err(e) => *errors.entry(format!("write: {}", e.kind())).or_default() += 1,
        }
    }
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut answered = 0;
    let mut buf = [0u8; 64];
    while !waiting.is_empty() && Instant::now() < deadline {
        poll.poll(&mut events, Some(deadline - Instant::now()))
            .map_err(|e| e.to_string())?;
        for event in events.iter() {
            let token = event.token();
            let (Some(stream), Some(got)) = (streams.get_mut(&token), waiting.get_mut(&token))
            else {
                continue;
            };
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => {
                        *errors.entry("closed by server".into()).or_default() += 1;
                        waiting.remove(&token);
                        break;
                    }
                    Ok(n) => {
                        *got += n;
                        if *got >= MESSAGE.len() {
                            answered += 1;
                            waiting.remove(&token);
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        *errors.entry(format!("read: {}", e.kind())).or_default() += 1;
                        waiting.remove(&token);
                        break;
                    }
                }
            }
        }
    }
    let unanswered = waiting.len();
    let mut errors: Vec<(String, usize)> = errors.into_iter().filter(|(_, n)| *n > 0).collect();
    errors.sort();
    let errors: Vec<String> = errors.iter().map(|(k, n)| format!("\"{k}\":{n}")).collect();
    println!(
        "{{\"asked\":{count},\"connected\":{},\"answered\":{answered},\"unanswered\":{unanswered},\"not_tried\":{not_tried},\"connect_s\":{connect_seconds:.3},\"exchange_s\":{:.3},\"errors\":{{{}}}}}",
        streams.len(),
        exchange_started.elapsed().as_secs_f64(),
        errors.join(",")
    );
    // Hold every connection open while the caller measures the server.
    std::thread::sleep(Duration::from_secs(hold));
    Ok(())
}
