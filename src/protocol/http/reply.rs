//! The server's side of the wire: the statuses it answers with, and a reply written for each.
//!
//! Apart from the session because writing a reply is the same whatever the request was: a status, a few fixed
//! fields, `Content-Length` always (so the client never has to wait for a close), and the page shared between
//! connections rather than copied into each.

use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::protocol::Output;

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
pub(super) struct PendingReply {
    pub(super) status: Status,
    /// HEAD: headers only.
    pub(super) head_only: bool,
    /// Keep the connection open after this reply.
    pub(super) keep_alive: bool,
    /// HTTP/1.0 clients asking for keep-alive must be told it was granted.
    pub(super) http10: bool,
    /// Run the per-request work first (not for requests too broken to be served).
    pub(super) work: bool,
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

pub(super) fn write_reply(
    reply: &PendingReply,
    page: &Arc<[u8]>,
    now: SystemTime,
    out: &mut Output,
) {
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
}
