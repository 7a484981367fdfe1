//! The classroom's Python servers (`classroom/`), each the way the course teaches one model, answer our load
//! generator on both protocols they speak, keep-alive and a connection per request, and curl on HTTP: they are
//! servers the lab can measure beside its own.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use crate::load_support::{assert_consistent, config, run};
use serverlab::protocol::Proto;

/// Every classroom server, by file.
const SERVERS: [&str; 7] = [
    "sequential.py",
    "threading_server.py",
    "forking_server.py",
    "select_server.py",
    "pool_server.py",
    "asyncio_server.py",
    "process_pool_server.py",
];

/// A classroom server in a process group of its own; dropping it kills the group (forked children and pool
/// processes included) and reaps the server.
struct Classroom {
    child: Child,
    addrs: Vec<SocketAddr>,
}

impl Classroom {
    fn start(file: &str, proto: &str) -> Classroom {
        assert!(
            crate::support::have("python3"),
            "python3 is needed: README's test command installs it"
        );
        let path = format!("{}/classroom/{file}", env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new("python3")
            .args([path.as_str(), "--port", "0", "--proto", proto])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let listeners = if file == "select_server.py" { 2 } else { 1 };
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addrs = (0..listeners)
            .map(|_| {
                let line = lines.next().expect("a ready line").unwrap();
                let rest = line
                    .strip_prefix("listening on ")
                    .unwrap_or_else(|| panic!("{file}: {line}"));
                rest.split_whitespace().next().unwrap().parse().unwrap()
            })
            .collect();
        Classroom { child, addrs }
    }
}

impl Drop for Classroom {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(-(self.child.id() as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

#[test]
fn every_classroom_server_answers_our_load_on_both_protocols() {
    for file in SERVERS {
        for (proto, name) in [(Proto::Http, "http"), (Proto::Echo, "echo")] {
            let server = Classroom::start(file, name);
            for addr in &server.addrs {
                for connect_per_request in [false, true] {
                    let mut c = config(proto, *addr, 4);
                    c.requests = Some(40);
                    c.connect_per_request = connect_per_request;
                    let r = run(&c);
                    assert_consistent(&r);
                    assert_eq!(
                        r.successes, 40,
                        "{file} {name} (a connection per request: {connect_per_request}): {:?}",
                        r.error_examples
                    );
                }
            }
        }
    }
}

#[test]
fn every_classroom_server_answers_curl() {
    if !crate::support::have("curl") {
        panic!("curl is needed: README's test command installs it");
    }
    for file in SERVERS {
        let server = Classroom::start(file, "http");
        let out = Command::new("curl")
            .args(["-s", "-i", "--max-time", "10"])
            .arg(format!("http://{}/", server.addrs[0]))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{file}: {text}");
        assert!(text.contains("Python classroom server"), "{file}: {text}");
    }
}
