//! Every protocol in every model, through the real binary and real clients.

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use crate::support::{MODELS, ServerProcess, connect, have};

fn check_echo(server: &ServerProcess) {
    let mut client = connect(server.addr());
    for message in [
        &b"hello"[..],
        b"Ola mundo da internet!",
        b"line\r\n",
        &[0u8, 255, 7][..],
    ] {
        client.write_all(message).unwrap();
        let mut reply = vec![0u8; message.len()];
        client.read_exact(&mut reply).unwrap();
        assert_eq!(reply, message);
    }
    // A large message comes back whole, however the kernel splits it.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let writer = {
        let mut client = client.try_clone().unwrap();
        let big = big.clone();
        std::thread::spawn(move || client.write_all(&big).unwrap())
    };
    let mut reply = vec![0u8; big.len()];
    client.read_exact(&mut reply).unwrap();
    writer.join().unwrap();
    assert_eq!(reply, big);
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "the server closes after the client does");
}

#[test]
fn echo_in_every_model() {
    for model in MODELS {
        let server = ServerProcess::start(&["--proto", "echo", "--model", model]);
        check_echo(&server);
        let finished = server.terminate();
        assert!(finished.status.success(), "{model}: {}", finished.stderr);
        let report = finished.report();
        assert_eq!(report["model"], model);
        assert_eq!(report["connections"], 1);
        assert!(report["requests"].as_u64().unwrap() >= 5, "{report}");
    }
}

fn check_daytime(server: &ServerProcess) {
    let mut client = connect(server.addr());
    let mut text = String::new();
    client.read_to_string(&mut text).unwrap();
    assert!(text.ends_with("\r\n"), "{text:?}");
    let line = text.trim_end();
    assert_eq!(line.len(), 24, "ctime layout: {line:?}");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert!(
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&fields[0]),
        "{line:?}"
    );
    let year: i32 = fields[4].parse().unwrap();
    assert!(year >= 2024);
}

#[test]
fn daytime_in_every_model() {
    for model in MODELS {
        let server = ServerProcess::start(&["--proto", "daytime", "--model", model]);
        check_daytime(&server);
        check_daytime(&server);
        let finished = server.terminate();
        assert!(finished.status.success());
        assert_eq!(finished.report()["requests"], 2);
    }
}

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "-S", "--max-time", "10"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check_http(server: &ServerProcess) {
    let base = format!("http://{}", server.addr());
    let (body, _) = curl(&[&format!("{base}/")]);
    assert!(body.contains("<h1>Hello from serverlab</h1>"), "{body}");
    let (code, _) = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{base}/missing"),
    ]);
    assert_eq!(code, "404");
    let (head, _) = curl(&["-I", &format!("{base}/index.html")]);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    // Two URLs in one curl run share one keep-alive connection.
    let (both, log) = curl(&["-v", &format!("{base}/"), &format!("{base}/index.html")]);
    assert_eq!(both.matches("<h1>Hello from serverlab</h1>").count(), 2);
    assert!(
        log.contains("Re-using existing connection") || log.contains("Reusing existing"),
        "{log}"
    );
    let (code, _) = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "DELETE",
        &format!("{base}/"),
    ]);
    assert_eq!(code, "405");
    let (code, _) = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--http1.0",
        &format!("{base}/"),
    ]);
    assert_eq!(code, "200");
}

#[test]
fn http_in_every_model_with_curl() {
    assert!(
        have("curl"),
        "curl is needed: README's test command installs it"
    );
    for model in MODELS {
        let server = ServerProcess::start(&["--proto", "http", "--model", model]);
        check_http(&server);
        let finished = server.terminate();
        assert!(finished.status.success(), "{}", finished.stderr);
        assert!(finished.report()["requests"].as_u64().unwrap() >= 7);
    }
}

#[test]
fn udp_echo_in_every_model() {
    for model in MODELS {
        let server = ServerProcess::start(&["--proto", "udp-echo", "--model", model]);
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client.connect(server.addr()).unwrap();
        for n in 0..5u8 {
            let message = [b'p', b'i', b'n', b'g', n];
            client.send(&message).unwrap();
            let mut reply = [0u8; 64];
            let len = client.recv(&mut reply).unwrap();
            assert_eq!(&reply[..len], &message, "{model}");
        }
        let finished = server.terminate();
        assert!(finished.status.success());
        assert_eq!(finished.report()["requests"], 5);
    }
}

#[test]
fn every_model_serves_every_listen_address() {
    for model in MODELS {
        let server = ServerProcess::start(&[
            "--model",
            model,
            "--listen",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
        ]);
        assert_eq!(server.addrs.len(), 2);
        assert_ne!(server.addrs[0], server.addrs[1]);
        for addr in server.addrs.clone() {
            let mut client = connect(addr);
            client.write_all(b"hi").unwrap();
            let mut reply = [0u8; 2];
            client.read_exact(&mut reply).unwrap();
            assert_eq!(&reply, b"hi", "{model} on {addr}");
        }
        assert!(server.terminate().status.success());
    }
}

#[test]
fn a_users_page_file_is_served() {
    let dir = std::env::temp_dir().join(format!("serverlab-page-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("page.html");
    std::fs::write(&page, "<html><body>my own page</body></html>").unwrap();
    let server = ServerProcess::start(&["--proto", "http", "--page", page.to_str().unwrap()]);
    let (body, _) = curl(&[&format!("http://{}/", server.addr())]);
    assert_eq!(body, "<html><body>my own page</body></html>");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn python_classroom_client_with_twenty_threads() {
    assert!(
        have("python3"),
        "python3 is needed: README's test command installs it"
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/classroom_client.py"
    );
    for model in MODELS {
        let server = ServerProcess::start(&["--proto", "echo", "--model", model]);
        let out = Command::new("python3")
            .args([script, "127.0.0.1", &server.addr().port().to_string(), "20"])
            .output()
            .expect("run python3");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{model}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("20 of 20 clients got their message back"),
            "{text}"
        );
        assert!(
            text.contains("recebeu: b'Ola mundo da internet! 7'"),
            "{text}"
        );
        let finished = server.terminate();
        assert_eq!(finished.report()["connections"], 20);
    }
}

#[test]
fn connections_are_logged_at_the_default_level_but_not_a_thousand_a_second() {
    for model in MODELS {
        let server = ServerProcess::start(&["--model", model, "--log-level", "info"]);
        // A classroom watching `nc` connect: each connection shows.
        for _ in 0..3 {
            let mut c = connect(server.addr());
            c.write_all(b"hi").unwrap();
            let mut two = [0u8; 2];
            c.read_exact(&mut two).unwrap();
        }
        // Then a burst: far more connections than lines allowed in a second.
        for _ in 0..300 {
            let mut c = connect(server.addr());
            c.write_all(b"x").unwrap();
            let mut one = [0u8; 1];
            c.read_exact(&mut one).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(1100));
        // A few more, so a new second reports what the busy one left out (prefork: in every child, each of
        // which keeps its own count, so each needs one).
        for _ in 0..10 {
            let mut c = connect(server.addr());
            c.write_all(b"y").unwrap();
            let mut one = [0u8; 1];
            c.read_exact(&mut one).unwrap();
        }
        let finished = server.terminate();
        let lines = |what: &str| finished.stderr.lines().filter(|l| l.contains(what)).count();
        assert!(
            lines("connection opened") >= 3,
            "{model}: {}",
            finished.stderr
        );
        assert!(
            lines("connection closed") >= 3,
            "{model}: {}",
            finished.stderr
        );
        // 300 connections in well under 3 s, 20 lines a second at most (prefork: each child counts its own).
        let limit = if model == "prefork" { 200 } else { 100 };
        assert!(
            lines("connection opened") + lines("connection closed") <= limit,
            "{model}: {} lines",
            lines("connection")
        );
        assert!(lines("left out") >= 1, "{model}: {}", finished.stderr);
    }
}
