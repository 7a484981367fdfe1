//! Test support for the HTTP core: make a session, drive it the way every model does, and read what it wrote
//! back reply by reply, strictly enough that one malformed or misframed reply fails the test.
//!
//! The fuzz properties (`http_fuzz.rs`) and the corpus (`http_corpus.rs`) share this, so both judge a session's
//! output by the same rules and both change in one place when the session's constructor does.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::SystemTime;

use serverlab::protocol::http::{DEFAULT_MAX_BODY, DEFAULT_PAGE, HttpSession};
use serverlab::protocol::{Output, Session, Step};

/// Every status the server may send. 408 and 413 arrive with the strict-HTTP fix (issue 8).
pub const ALLOWED_STATUSES: [u16; 8] = [200, 400, 404, 405, 408, 413, 431, 505];

/// Statuses that answer a request and keep the connection usable; any other ends it.
pub const NON_FATAL_STATUSES: [u16; 3] = [200, 404, 405];

/// The one place a session is made: when `HttpSession::new` gains a parameter, only this changes.
pub fn new_session() -> HttpSession {
    HttpSession::new(Arc::from(DEFAULT_PAGE.as_bytes()), DEFAULT_MAX_BODY)
}

/// Steps a session may take without reading input before we call it a livelock.
const MAX_STEPS_PER_PUMP: usize = 100_000;

/// What a session wrote over a connection's life, and where each `respond` call's output ends.
#[derive(Debug, Default)]
pub struct Run {
    pub out: Vec<u8>,
    pub reply_ends: Vec<usize>,
    pub closed: bool,
}

impl Run {
    /// Steps until the session wants input or closes, answering every request it announces, as a model does.
    pub fn pump(&mut self, session: &mut dyn Session) -> Step {
        for _ in 0..MAX_STEPS_PER_PUMP {
            match session.step() {
                Step::Request { .. } => {
                    assert!(!self.closed, "a request announced after Close");
                    let mut reply = Output::default();
                    session.respond(SystemTime::now(), &mut reply);
                    assert!(!reply.is_empty(), "respond wrote nothing");
                    self.out.extend_from_slice(&reply.to_vec());
                    self.reply_ends.push(self.out.len());
                }
                Step::NeedInput => {
                    assert!(!self.closed, "NeedInput after Close");
                    return Step::NeedInput;
                }
                Step::Close => {
                    self.closed = true;
                    // Close is final: asking again must not revive the connection.
                    assert_eq!(session.step(), Step::Close, "Close is not final");
                    return Step::Close;
                }
            }
        }
        panic!("the session stepped {MAX_STEPS_PER_PUMP} times without asking for input");
    }

    /// Feeds `input` in pieces whose sizes cycle through `sizes` (zeros count as one), pumping after each, and
    /// stops feeding once the session closes, as a model stops reading.
    pub fn feed_in_pieces(&mut self, session: &mut dyn Session, input: &[u8], sizes: &[usize]) {
        let mut at = 0;
        let mut size = sizes.iter().copied().cycle();
        while at < input.len() && !self.closed {
            let n = size
                .next()
                .unwrap_or(input.len())
                .max(1)
                .min(input.len() - at);
            session.feed(&input[at..at + n]);
            at += n;
            self.pump(session);
        }
    }

    /// Tells the session the peer is done; it must then close once it has answered what it has.
    pub fn finish(&mut self, session: &mut dyn Session) {
        if !self.closed {
            session.feed_eof();
            assert_eq!(
                self.pump(session),
                Step::Close,
                "no Close after end of input"
            );
        }
    }
}

/// Runs a whole connection: `input` in pieces of `sizes`, then end of input if `eof`.
pub fn run_session(input: &[u8], sizes: &[usize], eof: bool) -> Run {
    let mut session = new_session();
    let mut run = Run::default();
    run.pump(&mut session);
    run.feed_in_pieces(&mut session, input, sizes);
    if eof {
        run.finish(&mut session);
    }
    run
}

/// One reply read back from the output stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The reply says `Connection: close`.
    pub closes: bool,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Checks one reply head line by line (status line, then `Name: value` fields) and returns its status and fields.
fn check_head(head: &[u8]) -> (u16, Vec<(String, String)>) {
    let text = std::str::from_utf8(head).expect("a reply head is ASCII");
    let text = text
        .strip_suffix("\r\n\r\n")
        .expect("a head ends in CRLF CRLF");
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap();
    let rest = status_line
        .strip_prefix("HTTP/1.1 ")
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let (code, reason) = rest
        .split_once(' ')
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    assert!(
        code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()),
        "status code in {status_line:?}"
    );
    assert!(
        !reason.is_empty() && reason.bytes().all(|b| (b' '..=b'~').contains(&b)),
        "reason phrase in {status_line:?}"
    );
    let status: u16 = code.parse().unwrap();
    assert!(
        ALLOWED_STATUSES.contains(&status),
        "status {status} is not one the server may send"
    );
    let headers = lines
        .map(|line| {
            let (name, value) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("header line {line:?}"));
            assert!(
                !name.is_empty() && name.bytes().all(is_token_byte),
                "header name in {line:?}"
            );
            assert!(
                value
                    .bytes()
                    .all(|b| (b' '..=b'~').contains(&b) || b == b'\t')
                    && !value.starts_with([' ', '\t'])
                    && !value.ends_with([' ', '\t']),
                "header value in {line:?}"
            );
            (name.to_string(), value.to_string())
        })
        .collect();
    (status, headers)
}

/// Parses everything a run wrote back into replies, in order, and checks each is well formed and that they
/// follow one another exactly. `head_only(i)` says whether reply `i` answers a HEAD (no body); `None` when the
/// caller cannot know, and then the end of that `respond` call's output decides between body and no body.
pub fn parse_replies(run: &Run, head_only: &dyn Fn(usize) -> Option<bool>) -> Vec<Reply> {
    let out = &run.out;
    let mut replies = Vec::new();
    let mut at = 0;
    for (index, &end) in run.reply_ends.iter().enumerate() {
        let mut fields = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut fields);
        let head_len = match response.parse(&out[at..]) {
            Ok(httparse::Status::Complete(n)) => n,
            other => panic!(
                "reply {index} does not parse ({other:?}): {:?}",
                String::from_utf8_lossy(&out[at..end])
            ),
        };
        assert_eq!(response.version, Some(1), "reply {index} is not HTTP/1.1");
        let (status, headers) = check_head(&out[at..at + head_len]);
        assert_eq!(response.code, Some(status));

        let lengths: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(lengths.len(), 1, "reply {index}: one Content-Length");
        assert!(lengths[0].bytes().all(|b| b.is_ascii_digit()));
        let length: usize = lengths[0].parse().unwrap();
        let body_start = at + head_len;
        let body_len = match head_only(index) {
            Some(true) => 0,
            Some(false) => length,
            None if body_start == end => 0,
            None => length,
        };
        assert_eq!(
            body_start + body_len,
            end,
            "reply {index}: Content-Length {length} does not frame the reply"
        );
        let closes = headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("connection")
                && v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"))
        });
        replies.push(Reply {
            status,
            headers,
            body: out[body_start..end].to_vec(),
            closes,
        });
        at = end;
    }
    assert_eq!(at, out.len(), "bytes after the last reply");
    replies
}

/// The rules every run must keep whatever it was fed: replies well formed and framed, the page served whole,
/// only a last reply may say `Connection: close`, and a reply that ends the connection is followed by Close.
pub fn check_run(run: &Run, head_only: &dyn Fn(usize) -> Option<bool>) -> Vec<Reply> {
    let replies = parse_replies(run, head_only);
    for (index, reply) in replies.iter().enumerate() {
        let last = index + 1 == replies.len();
        if reply.status == 200 && !reply.body.is_empty() {
            assert_eq!(
                reply.body,
                DEFAULT_PAGE.as_bytes(),
                "reply {index}: the page"
            );
        }
        if !NON_FATAL_STATUSES.contains(&reply.status) {
            assert!(reply.closes, "reply {index}: {} must close", reply.status);
        }
        if reply.closes {
            assert!(last, "reply {index} says close but more replies follow");
            assert!(
                run.closed,
                "reply {index} says close but the session did not"
            );
        }
    }
    replies
}

/// The statuses of a run's replies, in order.
pub fn statuses(replies: &[Reply]) -> Vec<u16> {
    replies.iter().map(|r| r.status).collect()
}
