//! Targets as people type them: a URL (`serverlab load http://127.0.0.1:8080/path`, as for wrk, oha and hey), or
//! `HOST:PORT` with `--proto` for the raw protocols.

use crate::load_support::recording_http_server;
use crate::support::{ServerProcess, run_cli};

fn load(args: &[&str]) -> std::process::Output {
    let mut full = vec!["load", "--no-progress"];
    full.extend_from_slice(args);
    run_cli(&full)
}

#[test]
fn a_url_speaks_http_to_its_host_and_path() {
    let (addr, requests) = recording_http_server();
    let url = format!("http://{addr}/some/page?x=1");
    for args in [vec![url.as_str()], vec!["--target", url.as_str()]] {
        let mut full = args.clone();
        full.extend(["--clients", "2", "--requests", "10"]);
        let out = load(&full);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stdout}");
        assert!(stdout.contains("http to "), "HTTP for a URL: {stdout}");
        assert!(stdout.contains("10 ok, 0 errors"), "{stdout}");
    }
    let first = requests.try_recv().unwrap();
    assert!(
        first.starts_with("GET /some/page?x=1 HTTP/1.1\r\n"),
        "{first}"
    );
    assert!(first.contains(&format!("\r\nHost: {addr}\r\n")), "{first}");
}

#[test]
fn host_port_keeps_the_raw_protocols() {
    let server = ServerProcess::start(&["--proto", "echo"]);
    let target = server.addr().to_string();
    let out = load(&[&target, "--requests", "20"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("echo to "), "echo by default: {stdout}");
    assert!(stdout.contains("20 ok, 0 errors"), "{stdout}");
}

#[test]
fn urls_that_cannot_work_are_bad_usage() {
    let (addr, _requests) = recording_http_server();
    let url = format!("http://{addr}/");
    for (args, needle) in [
        (vec![url.as_str(), "--proto", "echo"], "--proto"),
        (vec![url.as_str(), "--path", "/x"], "--path"),
        (vec!["https://127.0.0.1:1/"], "http://"),
        (vec![url.as_str(), "--target", url.as_str()], "--target"),
        (vec![], "URL"),
    ] {
        let mut full = args.clone();
        full.extend(["--requests", "1"]);
        let out = load(&full);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
