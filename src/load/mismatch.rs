//! A server that speaks another protocol than the one asked for, named with the fix: people aim the default
//! (echo) at an HTTP server, or HTTP at an echo server, and a bare "bad reply" does not tell them why.
//!
//! Only the first bytes of a wrong reply are looked at, and only when it is already known to be wrong: nothing
//! here runs for a right reply.

use super::protocol::Request;
use crate::protocol::Proto;

/// Shortest echo of the request taken for an echo server (fewer bytes prove nothing).
const MIN_ECHOED: usize = 4;

/// When the first bytes of a wrong reply show the server speaks another protocol than the one asked for, says so
/// with the fix, in one line: an HTTP status line to an echo request, or an HTTP request echoed back.
pub(super) fn wrong_protocol(request: &Request, reply: &[u8]) -> Option<String> {
    let first_line = |bytes: &[u8]| {
        let line = bytes
            .split(|&b| b == b'\r' || b == b'\n')
            .next()
            .unwrap_or(bytes);
        String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned()
    };
    match request.proto {
        Proto::Echo if reply.starts_with(b"HTTP/1.") => {
            // The version and the code: "HTTP/1.1 400".
            let line = first_line(reply);
            let status: Vec<&str> = line.split_whitespace().take(2).collect();
            Some(format!(
                "the server answered \"{}\" — is it an HTTP server? try --proto http",
                status.join(" ")
            ))
        }
        Proto::Http => {
            let echoed = reply.len().min(request.bytes.len());
            (echoed >= MIN_ECHOED && reply[..echoed] == request.bytes[..echoed]).then(|| {
                format!(
                    "the server answered \"{}\", the request itself — is it an echo server? try --proto echo",
                    first_line(reply)
                )
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::protocol::{Checker, Feed};
    use super::*;

    #[test]
    fn a_server_of_another_protocol_gets_a_hint_with_the_fix() {
        let request = Request::new(Proto::Echo, b"hello", "", "", false);
        let mut c = Checker::new(&request);
        let feed = c.feed(
            &request,
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(
            feed,
            Feed::Bad(
                "the server answered \"HTTP/1.1 400\" — is it an HTTP server? try --proto http"
                    .into()
            )
        );
        let request = Request::new(Proto::Http, b"", "/", "localhost", false);
        let mut c = Checker::new(&request);
        let echoed = request.bytes.clone();
        let feed = c.feed(&request, &echoed);
        assert!(
            matches!(&feed, Feed::Bad(m) if m.contains("\"GET / HTTP/1.1\"") && m.ends_with("try --proto echo")),
            "{feed:?}"
        );
        c.reset();
        assert!(
            matches!(c.feed(&request, b"SSH-2.0-OpenSSH\r\n\r\n"), Feed::Bad(m) if m.contains("not HTTP")),
            "no hint without a reason"
        );
    }
}
