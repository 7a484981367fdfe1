//! The client's side of HTTP/1.1: a reply read as its bytes arrive, framed by the same rules the server frames
//! requests by ([`super::framing`]).
//!
//! Sans-IO like the server's session: fed bytes, it says whether the reply is complete, how many of the bytes
//! were its own, and whether the connection carries another request. The head is parsed once it is whole
//! (`httparse`), kept only when it arrives in more than one read; the body is walked, never kept. A reply of any
//! status is read to its end (so the connection can carry the next request); which statuses count as answers is
//! the caller's to say ([`ReplyReader::status`]: the load generator's `--expect-status`).

use super::framing::{BodyDecoder, BodyLength, MAX_HEADERS, reply_framing};

/// Most bytes of a reply head. Larger than a request's ([`super::MAX_HEAD`]): servers that are not ours may send
/// many cookies.
pub const MAX_REPLY_HEAD: usize = 64 * 1024;

/// What feeding bytes to a [`ReplyReader`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyStatus {
    /// The reply is not complete yet.
    More,
    /// The reply is complete after `used` bytes of this read; `keep_alive` says whether the connection can
    /// carry the next request.
    Done { used: usize, keep_alive: bool },
    /// The reply is wrong; the reason is for people.
    Bad(String),
}

/// One HTTP/1.x reply being read. [`ReplyReader::reset`] readies it for the next reply, keeping its allocation.
#[derive(Debug, Default)]
pub struct ReplyReader {
    /// Head bytes, kept only when the head arrives in more than one read.
    head: Vec<u8>,
    /// Set once the head is parsed.
    body: Option<BodyDecoder>,
    keep_alive: bool,
    started: bool,
    /// The status code, once the head is parsed.
    status: Option<u16>,
    /// The request was HEAD: the reply has no body, whatever its fields say. Kept across resets.
    to_head: bool,
}

impl ReplyReader {
    /// A reader for the replies to requests of `method`: a reply to HEAD has no body.
    pub fn for_method(method: &str) -> ReplyReader {
        ReplyReader {
            to_head: method == "HEAD",
            ..ReplyReader::default()
        }
    }

    pub fn reset(&mut self) {
        self.head.clear();
        self.body = None;
        self.keep_alive = false;
        self.started = false;
        self.status = None;
    }

    /// The reply's status code, once its head is parsed.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Whether any byte of the reply has arrived.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Whether the body ends only when the server closes.
    pub fn needs_eof(&self) -> bool {
        self.body == Some(BodyDecoder::UntilClose)
    }

    /// Feeds the next bytes of the reply.
    pub fn feed(&mut self, data: &[u8]) -> ReplyStatus {
        if !data.is_empty() {
            self.started = true;
        }
        let mut used = 0;
        if self.body.is_none() {
            match self.head_end(data) {
                Err(bad) => return ReplyStatus::Bad(bad),
                Ok(None) => return ReplyStatus::More,
                Ok(Some(n)) => used = n,
            }
        }
        let body = self.body.as_mut().expect("the head is parsed");
        match body.decode(&data[used..]) {
            Ok(progress) if progress.done => ReplyStatus::Done {
                used: used + progress.used,
                keep_alive: self.keep_alive,
            },
            Ok(_) => ReplyStatus::More,
            Err(bad) => ReplyStatus::Bad(format!("HTTP reply body: {bad}")),
        }
    }

    /// The server closed its side: the end of a body delimited by the close; anything else is a reply cut short
    /// (`None`).
    pub fn feed_eof(&mut self) -> Option<ReplyStatus> {
        self.needs_eof().then_some(ReplyStatus::Done {
            used: 0,
            keep_alive: false,
        })
    }

    /// Finds the end of the head; parses it when complete and returns how many bytes of `data` it took.
    fn head_end(&mut self, data: &[u8]) -> Result<Option<usize>, String> {
        if self.head.is_empty() {
            // The usual case: the whole head in one read, parsed in place, in one pass.
            if let Some(end) = self.parse_head(data)? {
                return Ok(Some(end));
            }
            self.head.extend_from_slice(data);
        } else {
            let before = self.head.len();
            self.head.extend_from_slice(data);
            let head = std::mem::take(&mut self.head);
            let parsed = self.parse_head(&head);
            self.head = head;
            if let Some(end) = parsed? {
                self.head.clear();
                return Ok(Some(end - before));
            }
        }
        if self.head.len() > MAX_REPLY_HEAD {
            return Err(format!(
                "HTTP reply head longer than {MAX_REPLY_HEAD} bytes"
            ));
        }
        Ok(None)
    }

    /// Parses a head at the start of `bytes`: its length once complete, `None` while it is not.
    fn parse_head(&mut self, bytes: &[u8]) -> Result<Option<usize>, String> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut reply = httparse::Response::new(&mut headers);
        let len = match reply.parse(bytes) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(format!("HTTP reply is not HTTP ({e})")),
        };
        self.status = reply.code;
        let framing = reply_framing(&reply).map_err(|e| format!("HTTP reply framing: {e}"))?;
        let body = if self.to_head {
            BodyLength::Length(0)
        } else {
            framing.body
        };
        // A reply to HEAD without a length would leave the connection open: framing says it cannot be reused.
        self.keep_alive = framing.keep_alive;
        self.body = Some(BodyDecoder::new(body, u64::MAX));
        Ok(Some(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_whose_framing_is_in_doubt_is_bad() {
        for reply in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n0\r\n\r\n",
        ] {
            let mut reader = ReplyReader::default();
            let status = reader.feed(reply);
            assert!(
                matches!(status, ReplyStatus::Bad(_)),
                "{:?}: {status:?}",
                String::from_utf8_lossy(reply)
            );
        }
    }

    #[test]
    fn a_reply_to_head_has_no_body_whatever_its_length_says() {
        let mut reader = ReplyReader::for_method("HEAD");
        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n";
        assert_eq!(
            reader.feed(reply),
            ReplyStatus::Done {
                used: reply.len(),
                keep_alive: true
            }
        );
        reader.reset();
        assert_eq!(
            reader.feed(reply),
            ReplyStatus::Done {
                used: reply.len(),
                keep_alive: true
            },
            "after a reset too"
        );
        assert_eq!(
            ReplyReader::for_method("GET").feed(reply),
            ReplyStatus::More
        );
    }

    #[test]
    fn a_head_split_across_reads_counts_only_its_own_bytes() {
        let mut reader = ReplyReader::default();
        assert_eq!(
            reader.feed(b"HTTP/1.1 200 OK\r\nConnection: x-clo"),
            ReplyStatus::More
        );
        assert!(reader.started());
        let rest = b"se\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(
            reader.feed(rest),
            ReplyStatus::Done {
                used: rest.len(),
                keep_alive: true
            },
            "a token is not a substring"
        );
        reader.reset();
        assert!(!reader.started());
        assert_eq!(
            reader.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"),
            ReplyStatus::More
        );
        assert!(reader.needs_eof());
        assert_eq!(
            reader.feed_eof(),
            Some(ReplyStatus::Done {
                used: 0,
                keep_alive: false
            })
        );
    }
}
