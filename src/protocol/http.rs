//! A minimal, honest HTTP/1.1 origin server of one HTML page.
//!
//! Parsing is `httparse`'s; this file decides what the parsed request means. It follows the rules a browser and
//! `curl` rely on: persistent connections by the HTTP/1.1 and 1.0 rules, pipelined requests answered in order,
//! request bodies (by `Content-Length` or chunked) read and thrown away so the next request starts in the right
//! place, and the proper status for each kind of bad request (400, 404, 405, 408, 413, 431, 505).
//!
//! Strict where RFC 9112 asks for it, because a lenient parser in front of another one is how requests get
//! smuggled: `Content-Length` is digits only (Rust's `parse::<u64>` would take `+5`), a request has exactly one
//! `Host`, and a body larger than the server accepts is refused before it is read. Header values are opaque
//! bytes: obs-text (0x80-0xFF) is allowed, as the RFC says.

use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use super::{Output, Session, Step};

/// The page served at `/` unless `--page` names another.
pub const DEFAULT_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>serverlab</title></head>\n<body>\n<h1>Hello from serverlab</h1>\n<p>A small page served over HTTP/1.1 by a server built to be measured.</p>\n</body>\n</html>\n";

/// Largest request head accepted (request line plus headers); beyond it the answer is 431.
pub const MAX_HEAD: usize = 8 * 1024;

/// Most header fields accepted in one request; beyond it the answer is 431 too.
const MAX_HEADERS: usize = 64;

/// The largest request body accepted unless `--max-body` says otherwise; beyond it the answer is 413.
pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;

/// The answers this server gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    PayloadTooLarge,
    HeadersTooLarge,
    VersionNotSupported,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestTimeout => 408,
            Status::PayloadTooLarge => 413,
            Status::HeadersTooLarge => 431,
            Status::VersionNotSupported => 505,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadRequest => "Bad Request",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestTimeout => "Request Timeout",
            Status::PayloadTooLarge => "Content Too Large",
            Status::HeadersTooLarge => "Request Header Fields Too Large",
            Status::VersionNotSupported => "HTTP Version Not Supported",
        }
    }
}

/// A request understood well enough to be answered, waiting for `respond`.
#[derive(Clone, Copy, Debug)]
struct PendingReply {
    status: Status,
    /// HEAD: headers only.
    head_only: bool,
    /// Keep the connection open after this reply.
    keep_alive: bool,
    /// HTTP/1.0 clients asking for keep-alive must be told it was granted.
    http10: bool,
    /// Run the per-request work first (not for requests too broken to be served).
    work: bool,
}

/// Where the session is in skipping a request body it has no use for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodySkip {
    None,
    /// This many bytes of a `Content-Length` body are still to come.
    Length(u64),
    /// A chunked body: expecting a chunk-size line.
    ChunkSize,
    /// A chunked body: this many bytes of chunk data, then its CRLF.
    ChunkData(u64),
    /// A chunked body: the CRLF after chunk data.
    ChunkEnd,
    /// A chunked body: trailer lines up to the empty line.
    Trailers,
}

/// One HTTP connection.
#[derive(Debug)]
pub struct HttpSession {
    page: Arc<[u8]>,
    /// Largest request body accepted, counted in body bytes (chunked: data, not framing).
    max_body: u64,
    /// Bytes read and not yet consumed: the next request(s), or a body to skip.
    input: Vec<u8>,
    body: BodySkip,
    /// Body bytes of the current request skipped so far (for `max_body` on chunked bodies).
    body_seen: u64,
    /// Bytes of the current request's trailer section (bounded like a head).
    trailer_bytes: usize,
    /// At least one request has been answered: the first request's head is awaited from accept on.
    answered_any: bool,
    pending: Option<PendingReply>,
    /// The peer has closed its sending side.
    eof: bool,
    /// No more requests will be answered on this connection.
    done: bool,
    /// The server is stopping: the next reply closes the connection.
    stopping: bool,
}

impl HttpSession {
    pub fn new(page: Arc<[u8]>, max_body: u64) -> HttpSession {
        HttpSession {
            page,
            max_body,
            input: Vec::new(),
            body: BodySkip::None,
            body_seen: 0,
            trailer_bytes: 0,
            answered_any: false,
            pending: None,
            eof: false,
            done: false,
            stopping: false,
        }
    }

    /// Throws away body bytes at the front of `input`. Returns false on a body that does not parse (or, chunked,
    /// that grows past `max_body`): the connection can no longer be kept in step with the client.
    fn skip_body(&mut self) -> bool {
        loop {
            match self.body {
                BodySkip::None => return true,
                BodySkip::Length(left) => {
                    let n = left.min(self.input.len() as u64);
                    self.input.drain(..n as usize);
                    self.body = if n == left {
                        BodySkip::None
                    } else {
                        BodySkip::Length(left - n)
                    };
                    return true;
                }
                BodySkip::ChunkSize => {
                    // RFC 9112 7.1: chunk-size is 1*HEXDIG. An empty line is not a last chunk, and "-1" or "0x5"
                    // are not sizes: a parser that reads them differently from a proxy in front is a smuggling gap.
                    let Some(first) = self.input.first() else {
                        return true;
                    };
                    if !first.is_ascii_hexdigit() {
                        return false;
                    }
                    match httparse::parse_chunk_size(&self.input) {
                        Ok(httparse::Status::Complete((used, size))) => {
                            if !is_crlf_line(&self.input[..used]) {
                                return false;
                            }
                            self.body_seen = self.body_seen.saturating_add(size);
                            if self.body_seen > self.max_body {
                                return false;
                            }
                            self.input.drain(..used);
                            self.body = if size == 0 {
                                BodySkip::Trailers
                            } else {
                                BodySkip::ChunkData(size)
                            };
                        }
                        // A chunk-size line longer than a whole request head is an attack, not a body.
                        Ok(httparse::Status::Partial) => return self.input.len() <= MAX_HEAD,
                        Err(_) => return false,
                    }
                }
                BodySkip::ChunkData(left) => {
                    let n = left.min(self.input.len() as u64);
                    self.input.drain(..n as usize);
                    if n < left {
                        self.body = BodySkip::ChunkData(left - n);
                        return true;
                    }
                    self.body = BodySkip::ChunkEnd;
                }
                BodySkip::ChunkEnd => {
                    if self.input.len() < 2 {
                        return true;
                    }
                    if &self.input[..2] != b"\r\n" {
                        return false;
                    }
                    self.input.drain(..2);
                    self.body = BodySkip::ChunkSize;
                }
                BodySkip::Trailers => {
                    let Some(end) = self.input.windows(2).position(|w| w == b"\r\n") else {
                        return self.input.len() <= MAX_HEAD && !self.input.contains(&b'\n');
                    };
                    let line = &self.input[..end];
                    // The trailer section counts against the same limit as a head, and each field must be one.
                    self.trailer_bytes += end + 2;
                    if end > 0
                        && (self.trailer_bytes > MAX_HEAD
                            || !line.contains(&b':')
                            || line.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n'))
                    {
                        return false;
                    }
                    self.input.drain(..end + 2);
                    if end == 0 {
                        self.body = BodySkip::None;
                    }
                }
            }
        }
    }

    /// Tries to parse the next request head from `input`.
    fn parse_next(&mut self) -> Option<PendingReply> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let parsed = request.parse(&self.input);
        match parsed {
            Ok(httparse::Status::Partial) => {
                if self.input.len() > MAX_HEAD {
                    Some(self.fatal(Status::HeadersTooLarge))
                } else {
                    None
                }
            }
            Ok(httparse::Status::Complete(head_len)) if head_len > MAX_HEAD => {
                Some(self.fatal(Status::HeadersTooLarge))
            }
            Ok(httparse::Status::Complete(head_len)) => {
                let reply = understand(&request, self.max_body);
                self.input.drain(..head_len);
                match reply {
                    Ok((reply, body)) => {
                        self.body = body;
                        self.body_seen = 0;
                        self.trailer_bytes = 0;
                        Some(reply)
                    }
                    Err(status) => Some(self.fatal(status)),
                }
            }
            Err(httparse::Error::TooManyHeaders) => Some(self.fatal(Status::HeadersTooLarge)),
            // Whether a version is another one (505) or no version (400) can only be told from a whole line:
            // "HTTP/2" may yet become "HTTP/2x".
            Err(httparse::Error::Version) if !has_line_end(&self.input) => {
                (self.input.len() > MAX_HEAD).then(|| self.fatal(Status::HeadersTooLarge))
            }
            Err(httparse::Error::Version) if has_other_http_version(&self.input) => {
                Some(self.fatal(Status::VersionNotSupported))
            }
            Err(_) => Some(self.fatal(Status::BadRequest)),
        }
    }

    /// A request that cannot be continued past: answer it and close, without running the work.
    fn fatal(&mut self, status: Status) -> PendingReply {
        self.input = Vec::new();
        self.done = true;
        PendingReply {
            status,
            head_only: false,
            keep_alive: false,
            http10: false,
            work: false,
        }
    }
}

/// Decides the reply to a parsed request head, and which body follows it; an error status means the head is
/// broken badly enough that the connection must close.
fn understand(
    request: &httparse::Request,
    max_body: u64,
) -> Result<(PendingReply, BodySkip), Status> {
    let method = request.method.unwrap_or("");
    let path = request.path.unwrap_or("");
    let http10 = request.version == Some(0);

    let mut connection_close = false;
    let mut connection_keep_alive = false;
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut hosts = 0;
    let mut expects_continue = false;
    for header in request.headers.iter() {
        let name = header.name;
        // Values are opaque bytes (obs-text is allowed); only the fields this server acts on are read as text.
        let value = header.value;
        if name.eq_ignore_ascii_case("connection") {
            for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                connection_close |= token.eq_ignore_ascii_case(b"close");
                connection_keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            let length = parse_content_length(value).ok_or(Status::BadRequest)?;
            if content_length.is_some_and(|seen| seen != length) {
                return Err(Status::BadRequest);
            }
            content_length = Some(length);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Only a body whose last coding is chunked has a knowable end, and chunked is applied once.
            let codings = value.split(|&b| b == b',').map(<[u8]>::trim_ascii);
            let chunked_count = codings
                .clone()
                .filter(|c| c.eq_ignore_ascii_case(b"chunked"))
                .count();
            let last = codings.clone().next_back().unwrap_or(b"");
            if !last.eq_ignore_ascii_case(b"chunked") || chunked || chunked_count > 1 || http10 {
                return Err(Status::BadRequest);
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("host") {
            // RFC 9110 7.2: uri-host [":" port], never spaces or controls.
            if value.iter().any(|b| !b.is_ascii_graphic()) {
                return Err(Status::BadRequest);
            }
            hosts += 1;
        } else if name.eq_ignore_ascii_case("expect") {
            expects_continue = value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        }
    }
    // RFC 9112 3.2: a 1.1 request without Host, or any request with more than one, is a 400.
    if hosts > 1 || (!http10 && hosts == 0) {
        return Err(Status::BadRequest);
    }
    if content_length.is_some_and(|length| length > max_body) && !chunked {
        // Refused before a byte of it is read: the connection closes instead of draining a gigabyte.
        return Err(Status::PayloadTooLarge);
    }

    let body = if chunked {
        BodySkip::ChunkSize
    } else {
        match content_length {
            Some(0) | None => BodySkip::None,
            Some(n) => BodySkip::Length(n),
        }
    };
    let mut keep_alive = if http10 {
        connection_keep_alive && !connection_close
    } else {
        !connection_close
    };
    // A body sent with both codings could be read two ways (request smuggling), and a client waiting for
    // "100 Continue" will not send its body after a final answer: in both cases close after replying.
    if (chunked && content_length.is_some()) || (expects_continue && body != BodySkip::None) {
        keep_alive = false;
    }

    let status = match method {
        "GET" | "HEAD" => {
            if is_page_path(path) {
                Status::Ok
            } else {
                Status::NotFound
            }
        }
        _ => Status::MethodNotAllowed,
    };
    let reply = PendingReply {
        status,
        head_only: method == "HEAD",
        keep_alive,
        http10,
        work: true,
    };
    let body = if keep_alive { body } else { BodySkip::None };
    Ok((reply, body))
}

/// Whether a chunk-size line ends in CRLF with no other CR or LF in it (not even inside an extension).
fn is_crlf_line(line: &[u8]) -> bool {
    match line.strip_suffix(b"\r\n") {
        Some(body) => !body.iter().any(|&b| b == b'\r' || b == b'\n'),
        None => false,
    }
}

/// `Content-Length` as RFC 9110 8.6 defines it: 1*DIGIT, nothing else (no sign, no spaces inside, no hex), and
/// small enough to count.
fn parse_content_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Whether a request target names the page: `/` or `/index.html`, with any query, in origin or absolute form.
fn is_page_path(target: &str) -> bool {
    let path = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    path == "/" || path == "/index.html"
}

/// Whether the request line has arrived whole.
fn has_line_end(input: &[u8]) -> bool {
    input.contains(&b'\n')
}

/// Whether the request line is `METHOD SP TARGET SP VERSION` with a well-formed version other than the 1.0 and
/// 1.1 this server speaks.
fn has_other_http_version(input: &[u8]) -> bool {
    let line_end = input
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(input.len());
    let line = &input[..line_end];
    if line.split(|&b| b == b' ').count() != 3 {
        // A space in the target, or no version at all: a malformed line, not another version.
        return false;
    }
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or(b"");
    match version.strip_prefix(b"HTTP/") {
        Some([major, b'.', minor]) => major.is_ascii_digit() && minor.is_ascii_digit(),
        Some([major]) => major.is_ascii_digit(),
        _ => false,
    }
}

impl Session for HttpSession {
    fn feed(&mut self, bytes: &[u8]) {
        if !self.done {
            self.input.extend_from_slice(bytes);
        }
    }

    fn feed_eof(&mut self) {
        self.eof = true;
    }

    fn step(&mut self) -> Step {
        if self.pending.is_some() && !self.done && !self.skip_body() {
            // Too large, or a chunked body that does not parse: answer, then close, since the connection can no
            // longer be kept in step with the client.
            let status = if self.body_seen > self.max_body {
                Status::PayloadTooLarge
            } else {
                Status::BadRequest
            };
            self.pending = Some(self.fatal(status));
        }
        if let Some(reply) = self.pending {
            // A request is answered once its body has been read (and thrown away).
            if self.body != BodySkip::None && !self.done {
                return if self.eof {
                    Step::Close
                } else {
                    Step::NeedInput
                };
            }
            return Step::Request { work: reply.work };
        }
        if self.done {
            return Step::Close;
        }
        if !self.input.is_empty()
            && let Some(reply) = self.parse_next()
        {
            self.pending = Some(reply);
            return self.step();
        }
        if self.eof {
            Step::Close
        } else {
            Step::NeedInput
        }
    }

    fn respond(&mut self, now: SystemTime, out: &mut Output) {
        let Some(mut reply) = self.pending.take() else {
            return;
        };
        if self.stopping {
            reply.keep_alive = false;
        }
        self.answered_any = true;
        if !reply.keep_alive {
            self.done = true;
            self.input = Vec::new();
        }
        if self.input.is_empty() && self.input.capacity() > 0 {
            // Idle connections hold no buffer.
            self.input = Vec::new();
        }
        write_reply(&reply, &self.page, now, out);
    }

    fn has_partial_request(&self) -> bool {
        self.pending.is_some() || !self.input.is_empty() || self.body != BodySkip::None
    }

    fn head_in_progress(&self) -> bool {
        !self.done && self.pending.is_none() && (!self.input.is_empty() || !self.answered_any)
    }

    fn head_timed_out(&mut self) {
        if self.pending.is_none() && !self.done {
            self.pending = Some(self.fatal(Status::RequestTimeout));
        }
    }

    fn server_stopping(&mut self) -> bool {
        self.stopping = true;
        true
    }
}

/// `now` as an HTTP date (`Tue, 01 Dec 2026 13:13:29 GMT`). Formatting is remembered per thread for the current
/// second: a busy server answers thousands of requests within one.
fn http_date(now: SystemTime) -> std::rc::Rc<str> {
    use std::cell::RefCell;
    thread_local! {
        static LAST: RefCell<Option<(u64, std::rc::Rc<str>)>> = const { RefCell::new(None) };
    }
    let second = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    LAST.with_borrow_mut(|last| match last {
        Some((cached, text)) if *cached == second => text.clone(),
        _ => {
            let text: std::rc::Rc<str> = DateTime::<Utc>::from(now)
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string()
                .into();
            *last = Some((second, text.clone()));
            text
        }
    })
}

fn write_reply(reply: &PendingReply, page: &Arc<[u8]>, now: SystemTime, out: &mut Output) {
    use std::io::Write;
    let error_page;
    let body: &[u8] = match reply.status {
        Status::Ok => page,
        other => {
            error_page = format!(
                "<!DOCTYPE html>\n<html><head><title>{code} {reason}</title></head><body><h1>{code} {reason}</h1></body></html>\n",
                code = other.code(),
                reason = other.reason()
            );
            error_page.as_bytes()
        }
    };
    let date = http_date(now);
    let mut head = Vec::with_capacity(256);
    // Writing into a Vec cannot fail.
    let _ = write!(
        head,
        "HTTP/1.1 {} {}\r\nServer: serverlab\r\nDate: {date}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n",
        reply.status.code(),
        reply.status.reason(),
        body.len()
    );
    if reply.status == Status::MethodNotAllowed {
        head.extend_from_slice(b"Allow: GET, HEAD\r\n");
    }
    if !reply.keep_alive {
        head.extend_from_slice(b"Connection: close\r\n");
    } else if reply.http10 {
        head.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    head.extend_from_slice(b"\r\n");
    if reply.head_only {
        out.push(&head);
    } else if reply.status == Status::Ok {
        out.push(&head);
        out.push_shared(page);
    } else {
        head.extend_from_slice(body);
        out.push(&head);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> HttpSession {
        HttpSession::new(Arc::from(DEFAULT_PAGE.as_bytes()), DEFAULT_MAX_BODY)
    }

    /// Feeds `input`, answers every request, and returns what was written and whether the session closed.
    fn exchange(session: &mut HttpSession, input: &[u8]) -> (String, bool) {
        session.feed(input);
        let mut out = Output::default();
        loop {
            match session.step() {
                Step::Request { .. } => session.respond(SystemTime::now(), &mut out),
                Step::NeedInput => return (String::from_utf8(out.to_vec()).unwrap(), false),
                Step::Close => return (String::from_utf8(out.to_vec()).unwrap(), true),
            }
        }
    }

    fn statuses(text: &str) -> Vec<&str> {
        // Status lines start a line; the page itself mentions HTTP/1.1 mid-line.
        text.split('\n')
            .filter_map(|line| line.strip_prefix("HTTP/1.1 "))
            .map(|rest| &rest[..3])
            .collect()
    }

    #[test]
    fn get_of_the_page_keeps_the_connection_open() {
        let (out, closed) = exchange(&mut session(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(out.contains(&format!("Content-Length: {}\r\n", DEFAULT_PAGE.len())));
        assert!(out.ends_with(DEFAULT_PAGE));
        assert!(!out.contains("Connection: close"));
        assert!(!closed);
    }

    #[test]
    fn head_sends_headers_only() {
        let (out, _) = exchange(
            &mut session(),
            b"HEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(out.ends_with("\r\n\r\n"));
        assert!(out.contains(&format!("Content-Length: {}\r\n", DEFAULT_PAGE.len())));
    }

    #[test]
    fn connection_close_and_http10_rules() {
        let (out, closed) = exchange(
            &mut session(),
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(out.contains("Connection: close\r\n") && closed);
        let (out, closed) = exchange(&mut session(), b"GET / HTTP/1.0\r\n\r\n");
        assert!(out.contains("Connection: close\r\n") && closed);
        let (out, closed) = exchange(
            &mut session(),
            b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        );
        assert!(out.contains("Connection: keep-alive\r\n") && !closed);
    }

    #[test]
    fn pipelined_requests_are_answered_in_order() {
        let input = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n";
        let (out, closed) = exchange(&mut session(), input);
        assert_eq!(statuses(&out), ["200", "404", "200"]);
        assert!(!closed);
    }

    #[test]
    fn bodies_are_skipped_whole_even_when_split() {
        let mut s = session();
        let (out, _) = exchange(
            &mut s,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234",
        );
        assert!(out.is_empty(), "the reply waits for the body");
        let (out, _) = exchange(&mut s, b"56789GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(statuses(&out), ["405", "200"]);
        assert!(out.contains("Allow: GET, HEAD\r\n"));
    }

    #[test]
    fn chunked_bodies_are_skipped() {
        let input = b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut s = session();
        let mut all = String::new();
        // Byte by byte: every state must survive a split anywhere.
        for byte in input.iter() {
            all += &exchange(&mut s, std::slice::from_ref(byte)).0;
        }
        assert_eq!(statuses(&all), ["200", "200"]);
        assert!(!s.has_partial_request());
    }

    #[test]
    fn an_endless_chunk_size_line_closes_the_connection() {
        let mut s = session();
        let mut input =
            b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;".to_vec();
        input.extend(std::iter::repeat_n(b'a', 2 * MAX_HEAD));
        let (out, closed) = exchange(&mut s, &input);
        assert_eq!(statuses(&out), ["400"]);
        assert!(closed, "the buffer does not grow without bound");
    }

    #[test]
    fn content_length_is_digits_only() {
        for value in [
            "+5",
            "-1",
            "5 5",
            "0x10",
            "5,5",
            "",
            "99999999999999999999999",
            "١",
        ] {
            let input =
                format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\nhello");
            let (out, closed) = exchange(&mut session(), input.as_bytes());
            assert_eq!(statuses(&out), ["400"], "Content-Length: {value}");
            assert!(closed, "Content-Length: {value}");
        }
        let (out, closed) = exchange(
            &mut session(),
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length:  5 \r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assert_eq!(
            statuses(&out),
            ["405", "200"],
            "surrounding spaces are allowed"
        );
        assert!(!closed);
    }

    #[test]
    fn exactly_one_host() {
        let (out, closed) = exchange(
            &mut session(),
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        );
        assert_eq!(statuses(&out), ["400"]);
        assert!(closed);
        let (out, _) = exchange(
            &mut session(),
            b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
        );
        assert_eq!(statuses(&out), ["400"], "HTTP/1.0 too");
    }

    #[test]
    fn obs_text_in_header_values_is_opaque() {
        let (out, closed) = exchange(
            &mut session(),
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Name: Jos\xe9 \xff\x80\r\n\r\n",
        );
        assert_eq!(statuses(&out), ["200"]);
        assert!(!closed);
    }

    #[test]
    fn bodies_over_the_limit_get_413_and_a_close() {
        let mut s = HttpSession::new(Arc::from(DEFAULT_PAGE.as_bytes()), 10);
        let (out, closed) = exchange(
            &mut s,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n",
        );
        assert_eq!(statuses(&out), ["413"]);
        assert!(closed, "refused before the body is read");
        // Chunked: refused once the chunks add up past the limit, without reading the rest.
        let mut s = HttpSession::new(Arc::from(DEFAULT_PAGE.as_bytes()), 10);
        let (out, closed) = exchange(
            &mut s,
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n",
        );
        assert_eq!(statuses(&out), ["413"]);
        assert!(closed);
        // At the limit is fine.
        let mut s = HttpSession::new(Arc::from(DEFAULT_PAGE.as_bytes()), 10);
        let (out, closed) = exchange(
            &mut s,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789",
        );
        assert_eq!(statuses(&out), ["405"]);
        assert!(!closed);
    }

    #[test]
    fn a_reply_waits_for_its_body() {
        let mut s = session();
        let (out, _) = exchange(
            &mut s,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab",
        );
        assert!(out.is_empty(), "answered before the body arrived: {out}");
        assert!(s.has_partial_request());
        let (out, _) = exchange(&mut s, b"cd");
        assert_eq!(statuses(&out), ["405"]);
    }

    #[test]
    fn the_header_deadline_gets_408() {
        let mut s = session();
        assert!(
            s.head_in_progress(),
            "the first request is awaited from accept on"
        );
        let (out, _) = exchange(&mut s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(statuses(&out), ["200"]);
        assert!(
            !s.head_in_progress(),
            "between requests the connection is idle"
        );
        let (_, _) = exchange(&mut s, b"GET / HT");
        assert!(s.head_in_progress());
        s.head_timed_out();
        let (out, closed) = exchange(&mut s, b"");
        assert_eq!(statuses(&out), ["408"]);
        assert!(out.contains("Connection: close\r\n"));
        assert!(closed);
    }

    #[test]
    fn broken_requests_get_their_status_and_a_close() {
        for (input, code) in [
            (&b"GARBAGE\r\n\r\n"[..], "400"),
            (b"GET / HTTP/1.1\r\n\r\n", "400"),
            (
                b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                "400",
            ),
            (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", "505"),
            (b"GET / HTTP/3\r\nHost: x\r\n\r\n", "505"),
        ] {
            let (out, closed) = exchange(&mut session(), input);
            assert_eq!(statuses(&out), [code], "{}", String::from_utf8_lossy(input));
            assert!(closed);
        }
    }

    #[test]
    fn oversized_heads_get_431() {
        let mut s = session();
        let mut big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        let (out, closed) = exchange(&mut s, &big);
        assert_eq!(statuses(&out), ["431"]);
        assert!(closed);
    }

    #[test]
    fn partial_heads_wait_for_more() {
        let mut s = session();
        let (out, closed) = exchange(&mut s, b"GET / HT");
        assert!(out.is_empty() && !closed);
        assert!(s.has_partial_request());
        let (out, _) = exchange(&mut s, b"TP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(statuses(&out), ["200"]);
        assert!(!s.has_partial_request());
    }

    #[test]
    fn a_stopping_server_closes_after_the_next_reply() {
        let mut s = session();
        assert!(s.server_stopping());
        let (out, closed) = exchange(&mut s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(out.contains("Connection: close\r\n") && closed);
    }

    #[test]
    fn http_dates_follow_the_clock() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1796083200);
        assert_eq!(&*http_date(t), "Tue, 01 Dec 2026 00:00:00 GMT");
        assert_eq!(
            &*http_date(t + std::time::Duration::from_millis(999)),
            "Tue, 01 Dec 2026 00:00:00 GMT"
        );
        assert_eq!(
            &*http_date(t + std::time::Duration::from_secs(61)),
            "Tue, 01 Dec 2026 00:01:01 GMT"
        );
    }

    #[test]
    fn page_paths() {
        assert!(is_page_path("/"));
        assert!(is_page_path("/index.html?x=1"));
        assert!(is_page_path("http://example.com/"));
        assert!(is_page_path("http://example.com"));
        assert!(!is_page_path("/other"));
    }
}
