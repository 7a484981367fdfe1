//! Servers that are not ours: a Python classroom echo server (one client at a time, one reply per connection)
//! and Python's `http.server` (HTTP/1.0, closes after each reply). Skipped when python3 is missing.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::load_support::{assert_consistent, config, run};
use serverlab::protocol::Proto;

/// A Python server; killed and reaped when dropped.
struct Python(Child);

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `python3 -u -c CODE`; CODE prints its port on the first line.
fn python(code: &str) -> (Python, SocketAddr) {
    assert!(
        crate::support::have("python3"),
        "python3 is needed: README's test command installs it"
    );
    let mut child = Command::new("python3")
        .args(["-u", "-c", code])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("a port");
    (Python(child), SocketAddr::from(([127, 0, 0, 1], port)))
}

const CLASSROOM_ECHO: &str = r#"
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(5)
print(s.getsockname()[1])
while True:
    c, _ = s.accept()
    c.sendall(c.recv(1024))
    c.close()
"#;

const HTTP_SERVER: &str = r#"
import http.server, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
print(server.server_address[1])
server.serve_forever()
"#;

#[test]
fn a_python_classroom_echo_server() {
    let (_server, addr) = python(CLASSROOM_ECHO);
    // The classroom client: a connection per request.
    let mut c = config(Proto::Echo, addr, 4);
    c.requests = Some(100);
    c.connect_per_request = true;
    c.payload = serverlab::load::Payload::Message("Ola mundo da internet!".into());
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.successes, 100, "{:?}", r.error_examples);
    // Keep-alive clients find each connection closed after one reply and reconnect, without errors.
    c.connect_per_request = false;
    let r = run(&c);
    assert_eq!(r.successes, 100, "{:?}", r.error_examples);
}

#[test]
fn python_http_server_one_reply_per_connection() {
    let (_server, addr) = python(HTTP_SERVER);
    let mut c = config(Proto::Http, addr, 2);
    c.requests = Some(40);
    c.timeout = Duration::from_secs(3);
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.successes, 40, "{:?}", r.error_examples);
    assert!(r.connections >= 40, "HTTP/1.0 closes: one connection each");
    let mut c404 = c.clone();
    c404.path = "/no/such/file".into();
    let r = run(&c404);
    assert_eq!(r.errors.bad_reply, 40);
}
