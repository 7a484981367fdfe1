//! The client side of each protocol, sans-IO: the request encoded once, and a checker that is fed the reply's
//! bytes as they arrive and says when the reply is complete, or why it is wrong. No sockets, no clocks.
//!
//! Checking is minimal but strict, in the manner of wrk: echo compares every byte with what was sent; HTTP is read
//! by [`crate::protocol::http::ReplyReader`], framed by the same rules as our server's requests (head parsed once,
//! body counted by `Content-Length` or walked through its chunks without keeping it), then its status held against
//! the statuses expected (`--expect-status`); daytime wants a non-empty first line before the server closes;
//! udp-echo matches a sequence number.

use super::mismatch::wrong_protocol;
use super::status::StatusSet;
use crate::protocol::Proto;
use crate::protocol::http::{ReplyReader, ReplyStatus};

/// Bytes a udp-echo datagram starts with: the request's sequence number, big-endian.
pub const SEQ_LEN: usize = 8;

/// Most bytes of a daytime reply accepted before the reply is called bad.
const MAX_DAYTIME_REPLY: usize = 64 * 1024;

/// What feeding bytes to a checker found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// The reply is not complete yet.
    More,
    /// The reply is complete after `used` bytes of this chunk; `keep_alive` says whether the connection can
    /// carry the next request.
    Done { used: usize, keep_alive: bool },
    /// The reply is wrong; the reason is for people.
    Bad(String),
}

/// What an HTTP request is made of, before it is encoded.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The `Host` header, unless `headers` has one.
    pub host: &'a str,
    /// Header lines, `Name: value`.
    pub headers: &'a [String],
    pub body: &'a [u8],
}

impl<'a> HttpRequest<'a> {
    /// `GET path` with no headers of the caller's and no body.
    pub fn get(path: &'a str, host: &'a str) -> HttpRequest<'a> {
        HttpRequest {
            method: "GET",
            path,
            host,
            headers: &[],
            body: &[],
        }
    }
}

/// What the request looks like on the wire, built once per run and shared by every client.
#[derive(Debug, Clone)]
pub struct Request {
    pub proto: Proto,
    /// The bytes sent (for udp-echo: the datagram without its sequence number).
    pub bytes: Vec<u8>,
    /// HTTP: the method (a reply to HEAD has no body).
    pub method: String,
    /// HTTP: the statuses that count as a success (2xx unless set); a complete reply with another is a bad reply.
    pub expect_status: StatusSet,
}

impl Request {
    /// Encodes the request. `message` is the echo/udp-echo payload; `path` and `host` are for HTTP;
    /// `close` asks an HTTP server to close after replying (connect-per-request), so that the server, not the
    /// generator, keeps the TIME_WAIT.
    pub fn new(proto: Proto, message: &[u8], path: &str, host: &str, close: bool) -> Request {
        let bytes = match proto {
            Proto::Echo | Proto::UdpEcho => message.to_vec(),
            Proto::Daytime => Vec::new(),
            Proto::Http => return Request::http(&HttpRequest::get(path, host), close),
        };
        Request {
            proto,
            bytes,
            method: String::new(),
            expect_status: StatusSet::success(),
        }
    }

    /// Encodes an HTTP request: the head with `Host` and `User-Agent` (unless the caller's headers have them),
    /// the caller's headers, a `Content-Length` when there is a body (or the method usually carries one), then
    /// the body.
    pub fn http(spec: &HttpRequest<'_>, close: bool) -> Request {
        let has = |name: &str| {
            spec.headers.iter().any(|h| {
                h.split_once(':')
                    .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            })
        };
        let mut head = format!("{} {} HTTP/1.1\r\n", spec.method, spec.path);
        if !has("host") {
            head += &format!("Host: {}\r\n", spec.host);
        }
        if !has("user-agent") {
            head += "User-Agent: serverlab-load\r\n";
        }
        for header in spec.headers {
            head += &format!("{}\r\n", header.trim());
        }
        if !spec.body.is_empty() || matches!(spec.method, "POST" | "PUT" | "PATCH") {
            head += &format!("Content-Length: {}\r\n", spec.body.len());
        }
        if close && !has("connection") {
            head += "Connection: close\r\n";
        }
        head += "\r\n";
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(spec.body);
        Request {
            proto: Proto::Http,
            bytes,
            method: spec.method.to_string(),
            expect_status: StatusSet::success(),
        }
    }

    /// Writes the datagram for request number `seq` into `out` (udp-echo).
    pub fn datagram(&self, seq: u64, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&self.bytes);
    }
}

impl From<ReplyStatus> for Feed {
    fn from(status: ReplyStatus) -> Feed {
        match status {
            ReplyStatus::More => Feed::More,
            ReplyStatus::Done { used, keep_alive } => Feed::Done { used, keep_alive },
            ReplyStatus::Bad(why) => Feed::Bad(why),
        }
    }
}

/// What a udp-echo reply is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datagram {
    /// The reply to the request awaited.
    Reply,
    /// A reply to an earlier request, already counted as timed out.
    Late,
    /// Not an echo of anything sent.
    Bad(&'static str),
}

/// Classifies a udp-echo reply while request `awaited` is outstanding (`None`: nothing is).
pub fn check_datagram(request: &Request, awaited: Option<u64>, reply: &[u8]) -> Datagram {
    if reply.len() != SEQ_LEN + request.bytes.len() {
        return Datagram::Bad("datagram of the wrong length");
    }
    if reply[SEQ_LEN..] != request.bytes[..] {
        return Datagram::Bad("datagram content differs from what was sent");
    }
    let seq = u64::from_be_bytes(reply[..SEQ_LEN].try_into().expect("8 bytes"));
    match awaited {
        Some(a) if seq == a => Datagram::Reply,
        Some(a) if seq < a => Datagram::Late,
        None => Datagram::Late,
        Some(_) => Datagram::Bad("sequence number never sent"),
    }
}

/// The reply checker of one connection. Reset between requests with [`Checker::reset`]; keeps its allocation.
#[derive(Debug)]
pub enum Checker {
    Echo { got: usize },
    Daytime(Daytime),
    Http(ReplyReader),
}

impl Checker {
    /// A checker of the replies to `request`.
    pub fn new(request: &Request) -> Checker {
        match request.proto {
            Proto::Echo | Proto::UdpEcho => Checker::Echo { got: 0 },
            Proto::Daytime => Checker::Daytime(Daytime::default()),
            Proto::Http => Checker::Http(ReplyReader::for_method(&request.method)),
        }
    }

    /// Prepares for the next reply.
    pub fn reset(&mut self) {
        match self {
            Checker::Echo { got } => *got = 0,
            Checker::Daytime(d) => *d = Daytime::default(),
            Checker::Http(h) => h.reset(),
        }
    }

    /// Whether any byte of the current reply has arrived.
    pub fn started(&self) -> bool {
        match self {
            Checker::Echo { got } => *got > 0,
            Checker::Daytime(d) => d.len > 0,
            Checker::Http(h) => h.started(),
        }
    }

    /// Whether the reply ends only when the server closes (daytime, HTTP without a length): then the socket must
    /// be read to its end, since a short read says nothing about a close already queued behind the data.
    pub fn needs_eof(&self) -> bool {
        match self {
            Checker::Echo { .. } => false,
            Checker::Daytime(_) => true,
            Checker::Http(h) => h.needs_eof(),
        }
    }

    /// Feeds bytes of the reply to the request `request`.
    pub fn feed(&mut self, request: &Request, data: &[u8]) -> Feed {
        match self {
            Checker::Echo { got } => {
                let expected = &request.bytes[*got..];
                let take = expected.len().min(data.len());
                if data[..take] != expected[..take] {
                    if *got == 0
                        && let Some(hint) = wrong_protocol(request, data)
                    {
                        return Feed::Bad(hint);
                    }
                    return Feed::Bad(format!(
                        "echo differs from what was sent at byte {}",
                        *got + first_difference(&data[..take], &expected[..take])
                    ));
                }
                *got += take;
                if *got == request.bytes.len() {
                    Feed::Done {
                        used: take,
                        keep_alive: true,
                    }
                } else {
                    Feed::More
                }
            }
            Checker::Daytime(d) => d.feed(data),
            Checker::Http(h) => {
                let first = !h.started();
                match h.feed(data) {
                    ReplyStatus::Bad(why) => Feed::Bad(
                        first
                            .then(|| wrong_protocol(request, data))
                            .flatten()
                            .unwrap_or(why),
                    ),
                    status => expected(request, h.status(), Feed::from(status)),
                }
            }
        }
    }

    /// The server closed its side: the end of a daytime reply or of an HTTP body delimited by the close;
    /// anything else is a reply cut short (`None`).
    pub fn feed_eof(&mut self, request: &Request) -> Option<Feed> {
        match self {
            Checker::Echo { .. } => None,
            Checker::Daytime(d) => Some(d.finish()),
            Checker::Http(h) => h
                .feed_eof()
                .map(|status| expected(request, h.status(), Feed::from(status))),
        }
    }

    /// HTTP: the status of the current reply, once its head is read.
    #[inline]
    pub fn status(&self) -> Option<u16> {
        match self {
            Checker::Http(h) => h.status(),
            _ => None,
        }
    }
}

/// A complete HTTP reply whose status is not one the request expects is a bad reply.
fn expected(request: &Request, status: Option<u16>, feed: Feed) -> Feed {
    match (feed, status) {
        (Feed::Done { .. }, Some(code)) if !request.expect_status.contains(code) => {
            Feed::Bad(format!("HTTP status {code}"))
        }
        (feed, _) => feed,
    }
}

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A daytime reply: everything until the server closes; it must start with a non-empty line.
#[derive(Debug, Default)]
pub struct Daytime {
    len: usize,
    /// The first line is over (a newline was seen).
    line_over: bool,
    /// The first line has a character that is not white space.
    visible: bool,
}

impl Daytime {
    fn feed(&mut self, data: &[u8]) -> Feed {
        self.len += data.len();
        if self.len > MAX_DAYTIME_REPLY {
            return Feed::Bad(format!(
                "daytime reply longer than {MAX_DAYTIME_REPLY} bytes"
            ));
        }
        for &b in data {
            if self.line_over {
                break;
            }
            if b == b'\n' {
                self.line_over = true;
            } else if !b.is_ascii_whitespace() {
                self.visible = true;
            }
        }
        Feed::More
    }

    fn finish(&mut self) -> Feed {
        if self.visible {
            Feed::Done {
                used: 0,
                keep_alive: false,
            }
        } else if self.len == 0 {
            Feed::Bad("daytime server closed without a reply".into())
        } else {
            Feed::Bad("daytime reply has an empty first line".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> (Request, Checker) {
        (
            Request::new(Proto::Http, b"", "/", "localhost", false),
            Checker::new(&Request::new(Proto::Http, b"", "/", "localhost", false)),
        )
    }

    /// Feeds `reply` in pieces of `step` bytes; returns the final answer and bytes used in the last piece.
    fn feed_in_pieces(checker: &mut Checker, request: &Request, reply: &[u8], step: usize) -> Feed {
        let mut last = Feed::More;
        for piece in reply.chunks(step) {
            last = checker.feed(request, piece);
            if last != Feed::More {
                break;
            }
        }
        last
    }

    #[test]
    fn echo_must_match_byte_for_byte() {
        let request = Request::new(Proto::Echo, b"hello", "", "", false);
        let mut c = Checker::new(&request);
        assert_eq!(c.feed(&request, b"he"), Feed::More);
        assert_eq!(
            c.feed(&request, b"llo"),
            Feed::Done {
                used: 3,
                keep_alive: true
            }
        );
        c.reset();
        assert!(matches!(c.feed(&request, b"hEllo"), Feed::Bad(m) if m.contains("byte 1")));
        c.reset();
        assert_eq!(c.feed(&request, b"hel"), Feed::More);
        assert_eq!(c.feed_eof(&request), None, "a cut echo is not a reply");
    }

    #[test]
    fn http_content_length_in_any_split() {
        let (request, mut c) = http();
        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello";
        for step in 1..reply.len() + 1 {
            c.reset();
            assert_eq!(
                feed_in_pieces(&mut c, &request, reply, step),
                Feed::Done {
                    used: (reply.len() - 1) % step + 1,
                    keep_alive: true
                },
                "step {step}"
            );
        }
    }

    #[test]
    fn http_chunked_and_close() {
        let (request, mut c) = http();
        let reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;x=y\r\nhello\r\n0\r\nX-T: 1\r\n\r\n";
        for step in [1, 2, 7, reply.len()] {
            c.reset();
            let feed = feed_in_pieces(&mut c, &request, reply, step);
            assert!(
                matches!(
                    feed,
                    Feed::Done {
                        keep_alive: false,
                        ..
                    }
                ),
                "step {step}: {feed:?}"
            );
        }
        c.reset();
        let mut extra = reply.to_vec();
        extra.extend_from_slice(b"junk");
        assert_eq!(
            c.feed(&request, &extra),
            Feed::Done {
                used: reply.len(),
                keep_alive: false
            }
        );
    }

    #[test]
    fn http_errors_and_until_close() {
        let (request, mut c) = http();
        let feed = c.feed(
            &request,
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        );
        assert!(matches!(feed, Feed::Bad(m) if m.contains("404")));
        c.reset();
        assert!(matches!(
            c.feed(&request, b"SSH-2.0-OpenSSH\r\n\r\n"),
            Feed::Bad(_)
        ));
        c.reset();
        assert_eq!(c.feed(&request, b"HTTP/1.0 200 OK\r\n\r\nbody"), Feed::More);
        assert_eq!(
            c.feed_eof(&request),
            Some(Feed::Done {
                used: 0,
                keep_alive: false
            })
        );
        c.reset();
        assert!(matches!(
            c.feed(&request, b"HTTP/1.1 204 No Content\r\n\r\n"),
            Feed::Done {
                keep_alive: true,
                ..
            }
        ));
        c.reset();
        assert_eq!(
            c.feed(&request, b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhel"),
            Feed::More
        );
        assert_eq!(c.feed_eof(&request), None, "a short body is cut");
    }

    #[test]
    fn daytime_needs_a_visible_line() {
        let request = Request::new(Proto::Daytime, b"", "", "", false);
        let mut c = Checker::new(&request);
        assert_eq!(c.feed(&request, b"Tue Dec  1 "), Feed::More);
        assert_eq!(c.feed(&request, b"13:16:57 2026\r\n"), Feed::More);
        assert!(matches!(c.feed_eof(&request), Some(Feed::Done { .. })));
        c.reset();
        assert!(matches!(c.feed_eof(&request), Some(Feed::Bad(_))));
        c.reset();
        c.feed(&request, b"  \r\nlater");
        assert!(matches!(c.feed_eof(&request), Some(Feed::Bad(_))));
    }

    #[test]
    fn datagrams_carry_their_sequence() {
        let request = Request::new(Proto::UdpEcho, b"ping", "", "", false);
        let mut d = Vec::new();
        request.datagram(7, &mut d);
        assert_eq!(check_datagram(&request, Some(7), &d), Datagram::Reply);
        assert_eq!(check_datagram(&request, Some(9), &d), Datagram::Late);
        assert_eq!(check_datagram(&request, None, &d), Datagram::Late);
        assert!(matches!(
            check_datagram(&request, Some(3), &d),
            Datagram::Bad(_)
        ));
        d[9] = b'x';
        assert!(matches!(
            check_datagram(&request, Some(7), &d),
            Datagram::Bad(_)
        ));
    }
}
