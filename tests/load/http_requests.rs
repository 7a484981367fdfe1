//! HTTP requests as wrk, oha and hey users write them: `--method`, `-H` (repeatable), `--body` or `--body-file`,
//! encoded once and seen by the server exactly as given.

use std::sync::mpsc::Receiver;

use crate::load_support::recording_http_server;
use crate::support::run_cli;

/// Runs `serverlab load --no-progress ARGS`, which must succeed; returns its stdout.
fn load(args: &[&str]) -> String {
    let mut full = vec!["load", "--no-progress"];
    full.extend_from_slice(args);
    let out = run_cli(&full);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Every request the server got so far: all the same, one returned.
fn the_one_request(requests: &Receiver<String>, expected_count: usize) -> String {
    let all: Vec<String> = requests.try_iter().collect();
    assert_eq!(all.len(), expected_count, "{all:?}");
    assert!(all.iter().all(|r| *r == all[0]), "encoded once: {all:?}");
    all[0].clone()
}

#[test]
fn method_headers_and_body_go_out_as_given() {
    let (addr, requests) = recording_http_server();
    let url = format!("http://{addr}/submit");
    let stdout = load(&[
        &url,
        "--clients",
        "2",
        "--requests",
        "6",
        "-m",
        "POST",
        "-H",
        "X-Token: abc",
        "--header",
        "Accept: */*",
        "--body",
        "hello=world",
    ]);
    assert!(stdout.contains("6 ok, 0 errors"), "{stdout}");
    let request = the_one_request(&requests, 6);
    assert_eq!(
        request,
        format!(
            "POST /submit HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: serverlab-load\r\nX-Token: abc\r\n\
             Accept: */*\r\nContent-Length: 11\r\n\r\nhello=world"
        )
    );
}

#[test]
fn a_body_file_and_a_host_of_ones_own() {
    let (addr, requests) = recording_http_server();
    let path = std::env::temp_dir().join(format!("serverlab-body-{}.json", std::process::id()));
    std::fs::write(&path, "{\"n\": 1}\n").unwrap();
    let url = format!("http://{addr}/");
    let stdout = load(&[
        &url,
        "--requests",
        "3",
        "--method",
        "PUT",
        "-H",
        "Host: example.test",
        "-H",
        "Content-Type: application/json",
        "--body-file",
        &path.to_string_lossy(),
    ]);
    let _ = std::fs::remove_file(&path);
    assert!(stdout.contains("3 ok, 0 errors"), "{stdout}");
    let request = the_one_request(&requests, 3);
    assert!(request.starts_with("PUT / HTTP/1.1\r\n"), "{request}");
    assert_eq!(request.matches("Host:").count(), 1, "{request}");
    assert!(request.contains("\r\nHost: example.test\r\n"), "{request}");
    assert!(
        request.ends_with("Content-Length: 9\r\n\r\n{\"n\": 1}\n"),
        "{request}"
    );
}

#[test]
fn a_reply_to_head_has_no_body_and_keeps_the_connection() {
    let (addr, requests) = recording_http_server();
    let url = format!("http://{addr}/");
    let stdout = load(&[
        &url,
        "--requests",
        "5",
        "--clients",
        "1",
        "-m",
        "HEAD",
        "--json",
        "-",
    ]);
    let raw: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // Waiting for the 2 bytes its Content-Length announces would time out instead.
    assert_eq!(raw["report"]["successes"], 5, "{raw}");
    assert_eq!(
        raw["report"]["connections"], 1,
        "one keep-alive connection: {raw}"
    );
    assert_eq!(raw["config"]["method"], "HEAD");
    assert!(
        the_one_request(&requests, 5).starts_with("HEAD / HTTP/1.1\r\n"),
        "HEAD"
    );
}

#[test]
fn requests_that_cannot_be_sent_are_bad_usage() {
    let url = "http://127.0.0.1:9/";
    for (args, needle) in [
        (vec![url, "-H", "NoColon"], "Name: value"),
        (vec![url, "-H", "Content-Length: 3"], "framing"),
        (vec![url, "-m", "GE T"], "--method"),
        (
            vec![url, "--body", "x", "--body-file", "/etc/hostname"],
            "--body",
        ),
        (vec![url, "--body-file", "/no/such/file"], "/no/such/file"),
        (vec!["127.0.0.1:9", "--body", "x"], "need HTTP"),
    ] {
        let mut full = vec!["load", "--no-progress", "--requests", "1"];
        full.extend(args.iter().copied());
        let out = run_cli(&full);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
