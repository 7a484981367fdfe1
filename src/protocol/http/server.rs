//! A minimal, honest HTTP/1.1 origin server of one HTML page.
//!
//! Parsing is `httparse`'s and framing (where a request and its body end, whether the connection stays) is
//! [`super::framing`]'s, the same rules the load generator reads replies by; this file decides what the parsed
//! request means and when to answer it. It follows the rules a browser and
//! `curl` rely on: persistent connections by the HTTP/1.1 and 1.0 rules, pipelined requests answered in order,
//! request bodies (by `Content-Length` or chunked) read and thrown away so the next request starts in the right
//! place, and the proper status for each kind of bad request (400, 404, 405, 408, 413, 431, 505).
//!
//! Strict where RFC 9112 asks for it, because a lenient parser in front of another one is how requests get
//! smuggled: a request whose framing is in doubt is a 400 (see [`super::framing`]), a request has exactly one
//! `Host`, and a body larger than the server accepts is refused before it is read. Header values are opaque
//! bytes: obs-text (0x80-0xFF) is allowed, as the RFC says.

use std::sync::Arc;
use std::time::SystemTime;

use super::framing::{BodyDecoder, BodyError, BodyLength, MAX_HEAD, MAX_HEADERS, request_framing};
use super::reply::{PendingReply, Status, write_reply};
use crate::protocol::{Output, Session, Step};

/// The page served at `/` unless `--page` names another.
pub const DEFAULT_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>serverlab</title></head>\n<body>\n<h1>Hello from serverlab</h1>\n<p>A small page served over HTTP/1.1 by a server built to be measured.</p>\n</body>\n</html>\n";

/// The largest request body accepted unless `--max-body` says otherwise; beyond it the answer is 413.
pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;

/// One HTTP connection.
#[derive(Debug)]
pub struct HttpSession {
    page: Arc<[u8]>,
    /// Largest request body accepted, counted in body bytes (chunked: data, not framing).
    max_body: u64,
    /// Bytes read and not yet consumed: the next request(s), or a body to skip.
    input: Vec<u8>,
    /// The body of the request awaiting its reply, while some of it is still to be read (and thrown away).
    body: Option<BodyDecoder>,
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
            body: None,
            answered_any: false,
            pending: None,
            eof: false,
            done: false,
            stopping: false,
        }
    }

    /// Throws away body bytes at the front of `input`. An error is a body that does not parse (or, chunked, that
    /// grows past `max_body`): the connection can no longer be kept in step with the client.
    fn skip_body(&mut self) -> Result<(), BodyError> {
        let Some(body) = &mut self.body else {
            return Ok(());
        };
        let progress = body.decode(&self.input)?;
        self.input.drain(..progress.used);
        if progress.done {
            self.body = None;
        }
        Ok(())
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

/// Decides the reply to a parsed request head, and the body that follows it (if it is to be read); an error
/// status means the head is broken badly enough that the connection must close.
fn understand(
    request: &httparse::Request,
    max_body: u64,
) -> Result<(PendingReply, Option<BodyDecoder>), Status> {
    let method = request.method.unwrap_or("");
    let path = request.path.unwrap_or("");
    let http10 = request.version == Some(0);

    let framing = request_framing(request).map_err(|_| Status::BadRequest)?;
    let mut hosts = 0;
    let mut expects_continue = false;
    for header in request.headers.iter() {
        if header.name.eq_ignore_ascii_case("host") {
            // RFC 9110 7.2: uri-host [":" port], never spaces or controls.
            if header.value.iter().any(|b| !b.is_ascii_graphic()) {
                return Err(Status::BadRequest);
            }
            hosts += 1;
        } else if header.name.eq_ignore_ascii_case("expect") {
            expects_continue = header
                .value
                .trim_ascii()
                .eq_ignore_ascii_case(b"100-continue");
        }
    }
    // RFC 9112 3.2: a 1.1 request without Host, or any request with more than one, is a 400.
    if hosts > 1 || (!http10 && hosts == 0) {
        return Err(Status::BadRequest);
    }
    if let BodyLength::Length(length) = framing.body
        && length > max_body
    {
        // Refused before a byte of it is read: the connection closes instead of draining a gigabyte.
        return Err(Status::PayloadTooLarge);
    }
    // A client waiting for "100 Continue" will not send its body after a final answer: close after replying.
    let awaits_continue = expects_continue && !framing.body.is_empty();
    let keep_alive = framing.keep_alive && !awaits_continue;

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
    // A connection that closes after the reply need not read the body first.
    let body =
        (keep_alive && !framing.body.is_empty()).then(|| BodyDecoder::new(framing.body, max_body));
    Ok((reply, body))
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
        if self.pending.is_some()
            && !self.done
            && let Err(error) = self.skip_body()
        {
            // Too large, or a chunked body that does not parse: answer, then close, since the connection can no
            // longer be kept in step with the client.
            let status = match error {
                BodyError::TooLarge => Status::PayloadTooLarge,
                BodyError::Malformed(_) => Status::BadRequest,
            };
            self.pending = Some(self.fatal(status));
        }
        if let Some(reply) = self.pending {
            // A request is answered once its body has been read (and thrown away).
            if self.body.is_some() && !self.done {
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
        self.pending.is_some() || !self.input.is_empty() || self.body.is_some()
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

#[cfg(test)]
mod tests;
