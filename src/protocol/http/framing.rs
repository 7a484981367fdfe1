//! HTTP/1.1 message framing, one set of rules for both roles: where a message's body ends, and whether the
//! connection carries another message after it.
//!
//! The server reading requests and the load generator reading replies used to frame messages each their own
//! way, and disagreed (a conflicting `Content-Length` was a 400 on one side and last-one-wins on the other). Two
//! parsers that read the same bytes differently is the root of request smuggling and response splitting, so
//! there is one reading here, as hyper has one decoder for both roles. It is strict where RFC 9112 asks:
//!
//! - `Content-Length` is 1*DIGIT (no sign, no list, no hex); repeated with another value, the message is refused.
//! - `Transfer-Encoding` appears once, applies chunked once, and is not in an HTTP/1.0 message. Chunked must be
//!   the last coding of a request; a reply whose last coding is another is read until the server closes (6.3).
//! - `Connection` is a list of tokens: `close` ends the connection after the message, and an HTTP/1.0 peer
//!   keeps it only when it says `keep-alive`. A message with both lengths is read by its chunks, then closed.
//!
//! Bodies are walked, not kept: [`BodyDecoder`] takes bytes as they come, in any split, says how many belong to
//! the body and whether it is over, and never holds more than a few counters.

use std::fmt;

/// Largest head a peer is asked to accept (request line or status line, plus fields). A chunk-size line and a
/// trailer section are bounded by it too: either longer than a whole head is an attack, not a body.
pub const MAX_HEAD: usize = 8 * 1024;

/// Most header fields in one message head, either role; beyond it a request gets 431, a reply is bad.
pub const MAX_HEADERS: usize = 64;

/// Why a message's framing cannot be trusted: the connection cannot be kept in step with the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FramingError {
    /// `Content-Length` is not 1*DIGIT, or does not fit in 64 bits.
    ContentLength,
    /// `Content-Length` given twice with different values.
    ConflictingLengths,
    /// `Transfer-Encoding` given twice, chunked applied twice, or (in a request) chunked not last.
    TransferEncoding,
    /// `Transfer-Encoding` in an HTTP/1.0 message, whose recipients may not know it.
    TransferEncodingInHttp10,
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FramingError::ContentLength => "Content-Length is not a number",
            FramingError::ConflictingLengths => "conflicting Content-Length values",
            FramingError::TransferEncoding => "Transfer-Encoding with chunked repeated or not last",
            FramingError::TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 message",
        })
    }
}

/// How a message's body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLength {
    /// This many bytes (0: no body).
    Length(u64),
    /// Chunked framing, up to the last chunk and its trailers.
    Chunked,
    /// Everything until the peer closes (replies only).
    UntilClose,
}

impl BodyLength {
    pub fn is_empty(self) -> bool {
        self == BodyLength::Length(0)
    }
}

/// What a message's head says about its framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framing {
    pub body: BodyLength,
    /// The connection may carry another message after this one.
    pub keep_alive: bool,
}

/// The framing of a request: without a length, a request has no body.
pub fn request_framing(request: &httparse::Request) -> Result<Framing, FramingError> {
    let fields = Fields::read(request.headers, request.version == Some(0))?;
    let body = match (fields.chunked_last, fields.content_length) {
        (Some(true), _) => BodyLength::Chunked,
        // A request body whose end cannot be known must be refused (RFC 9112 6.3.4).
        (Some(false), _) => return Err(FramingError::TransferEncoding),
        (None, length) => BodyLength::Length(length.unwrap_or(0)),
    };
    Ok(Framing {
        body,
        keep_alive: fields.keep_alive(),
    })
}

/// The framing of a reply to a request that was not HEAD: without a length, the body runs until the server
/// closes. 1xx, 204 and 304 replies never have a body, whatever their fields say.
pub fn reply_framing(reply: &httparse::Response) -> Result<Framing, FramingError> {
    let fields = Fields::read(reply.headers, reply.version == Some(0))?;
    let code = reply.code.unwrap_or(0);
    let body = if (100..200).contains(&code) || code == 204 || code == 304 {
        BodyLength::Length(0)
    } else {
        match (fields.chunked_last, fields.content_length) {
            (Some(true), _) => BodyLength::Chunked,
            (Some(false), _) | (None, None) => BodyLength::UntilClose,
            (None, Some(n)) => BodyLength::Length(n),
        }
    };
    Ok(Framing {
        body,
        keep_alive: fields.keep_alive() && body != BodyLength::UntilClose,
    })
}

/// The head fields that frame a message, read the same way in either role.
#[derive(Debug, Default)]
struct Fields {
    http10: bool,
    content_length: Option<u64>,
    /// `Transfer-Encoding` was given: whether its last coding is chunked.
    chunked_last: Option<bool>,
    close: bool,
    keep_alive: bool,
}

impl Fields {
    fn read(headers: &[httparse::Header], http10: bool) -> Result<Fields, FramingError> {
        let mut fields = Fields {
            http10,
            ..Fields::default()
        };
        for header in headers {
            // Values are opaque bytes (obs-text is allowed); only the fields that frame a message are read.
            let (name, value) = (header.name, header.value);
            if name.eq_ignore_ascii_case("content-length") {
                let length = parse_content_length(value).ok_or(FramingError::ContentLength)?;
                if fields.content_length.is_some_and(|seen| seen != length) {
                    return Err(FramingError::ConflictingLengths);
                }
                fields.content_length = Some(length);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                if http10 {
                    return Err(FramingError::TransferEncodingInHttp10);
                }
                let codings = tokens(value);
                let chunked = codings
                    .clone()
                    .filter(|c| c.eq_ignore_ascii_case(b"chunked"));
                if fields.chunked_last.is_some() || chunked.count() > 1 {
                    return Err(FramingError::TransferEncoding);
                }
                let last = codings.last().unwrap_or(b"");
                fields.chunked_last = Some(last.eq_ignore_ascii_case(b"chunked"));
            } else if name.eq_ignore_ascii_case("connection") {
                for token in tokens(value) {
                    fields.close |= token.eq_ignore_ascii_case(b"close");
                    fields.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
        }
        Ok(fields)
    }

    /// HTTP/1.1 keeps the connection unless told `close`; HTTP/1.0 only when told `keep-alive` (and not
    /// `close`). A message with both lengths could be read two ways, so its connection is not reused.
    fn keep_alive(&self) -> bool {
        let asked = if self.http10 {
            self.keep_alive && !self.close
        } else {
            !self.close
        };
        asked && !(self.chunked_last.is_some() && self.content_length.is_some())
    }
}

/// A comma-separated field value as its trimmed elements (empty ones included).
fn tokens(value: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> + Clone {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii)
}

/// `Content-Length` as RFC 9110 8.6 defines it: 1*DIGIT, nothing else (no sign, no spaces inside, no hex), and
/// small enough to count. Surrounding spaces are the field's, not the value's.
pub fn parse_content_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Why a body could not be read to its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The chunks add up past the limit the decoder was given.
    TooLarge,
    /// The chunked framing is broken; the reason is for people.
    Malformed(&'static str),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge => f.write_str("body larger than the limit"),
            BodyError::Malformed(why) => f.write_str(why),
        }
    }
}

/// What one call of [`BodyDecoder::decode`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes at the front of the input that belonged to the body.
    pub used: usize,
    /// The body is over: whatever follows `used` is the next message.
    pub done: bool,
}

/// Walks a body through its framing as its bytes arrive, keeping none of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyDecoder {
    /// This many bytes are still to come.
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
}

impl BodyDecoder {
    /// A decoder for a body of `length`; a chunked body whose chunks add up past `max_body` is refused.
    pub fn new(length: BodyLength, max_body: u64) -> BodyDecoder {
        match length {
            BodyLength::Length(n) => BodyDecoder::Length(n),
            BodyLength::Chunked => BodyDecoder::Chunked(ChunkedDecoder::new(max_body)),
            BodyLength::UntilClose => BodyDecoder::UntilClose,
        }
    }

    /// Takes body bytes from the front of `input`.
    pub fn decode(&mut self, input: &[u8]) -> Result<Progress, BodyError> {
        match self {
            BodyDecoder::Length(left) => {
                let take = (*left).min(input.len() as u64);
                *left -= take;
                Ok(Progress {
                    used: take as usize,
                    done: *left == 0,
                })
            }
            BodyDecoder::Chunked(chunked) => chunked.decode(input),
            BodyDecoder::UntilClose => Ok(Progress {
                used: input.len(),
                done: false,
            }),
        }
    }
}

/// Where a chunked body is (RFC 9112 7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// A chunk-size line, before its first hex digit.
    SizeStart,
    /// In the size's hex digits, this many so far.
    Size {
        digits: u8,
    },
    /// White space after the size: more of it, an extension or the line's end may follow.
    AfterSize,
    /// A chunk extension, ignored up to the line's end.
    Extension,
    /// The CR of a chunk-size line has come; its LF must follow.
    SizeLf,
    /// This many bytes of chunk data, then CRLF.
    Data(u64),
    DataCr,
    DataLf,
    /// A trailer line, `len` bytes so far; `colon` once it has one.
    Trailer {
        len: usize,
        colon: bool,
    },
    /// The CR of a trailer line has come; its LF must follow.
    TrailerLf {
        len: usize,
        colon: bool,
    },
    /// The empty line after the trailers has come: the body is over.
    Done,
}

/// A chunked body walked byte by byte through its framing and in bulk through its data, so any split of the
/// input reads the same. Strict: sizes are 1*HEXDIG (at most 16 digits, as httparse), lines end in CRLF with no
/// other CR or LF (not even in an extension), data is followed by exactly CRLF, and trailer fields have a colon
/// and no NUL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkedDecoder {
    state: Chunk,
    /// The size being read.
    size: u64,
    /// Bytes of the chunk-size line being read.
    line: usize,
    /// Data bytes so far, summed from the sizes.
    seen: u64,
    max_body: u64,
    /// Bytes of the trailer section so far (its final empty line aside).
    trailer_bytes: usize,
}

impl ChunkedDecoder {
    pub fn new(max_body: u64) -> ChunkedDecoder {
        ChunkedDecoder {
            state: Chunk::SizeStart,
            size: 0,
            line: 0,
            seen: 0,
            max_body,
            trailer_bytes: 0,
        }
    }

    pub fn decode(&mut self, input: &[u8]) -> Result<Progress, BodyError> {
        let mut at = 0;
        while at < input.len() && self.state != Chunk::Done {
            if let Chunk::Data(left) = self.state {
                let take = left.min((input.len() - at) as u64);
                at += take as usize;
                self.state = if take == left {
                    Chunk::DataCr
                } else {
                    Chunk::Data(left - take)
                };
                continue;
            }
            self.framing_byte(input[at])?;
            at += 1;
        }
        Ok(Progress {
            used: at,
            done: self.state == Chunk::Done,
        })
    }

    /// One byte of framing: a size line, the CRLF after data, or the trailers.
    fn framing_byte(&mut self, b: u8) -> Result<(), BodyError> {
        use BodyError::Malformed;
        if matches!(
            self.state,
            Chunk::SizeStart | Chunk::Size { .. } | Chunk::AfterSize | Chunk::Extension
        ) {
            self.line += 1;
            if self.line > MAX_HEAD {
                return Err(Malformed("chunk-size line longer than a head"));
            }
        }
        self.state = match (self.state, b) {
            // An empty line is not a last chunk, and "-1" or "0x5" are not sizes: a parser that reads them
            // differently from a proxy in front is a smuggling gap.
            (Chunk::SizeStart, _) if !b.is_ascii_hexdigit() => {
                return Err(Malformed("chunk size is not hex digits"));
            }
            (Chunk::SizeStart, _) => self.size_digit(0, b)?,
            (Chunk::Size { digits }, _) if b.is_ascii_hexdigit() => self.size_digit(digits, b)?,
            (Chunk::Size { .. } | Chunk::AfterSize, b' ' | b'\t') => Chunk::AfterSize,
            (Chunk::Size { .. } | Chunk::AfterSize, b';') => Chunk::Extension,
            (Chunk::Size { .. } | Chunk::AfterSize | Chunk::Extension, b'\r') => Chunk::SizeLf,
            (Chunk::Extension, b'\n') => return Err(Malformed("bare LF in a chunk-size line")),
            (Chunk::Extension, _) => Chunk::Extension,
            (Chunk::Size { .. } | Chunk::AfterSize, _) => {
                return Err(Malformed("bad chunk-size line"));
            }
            (Chunk::SizeLf, b'\n') => self.size_line_over()?,
            (Chunk::SizeLf, _) => return Err(Malformed("chunk-size line without CRLF")),
            (Chunk::DataCr, b'\r') => Chunk::DataLf,
            (Chunk::DataLf, b'\n') => Chunk::SizeStart,
            (Chunk::DataCr | Chunk::DataLf, _) => {
                return Err(Malformed("chunk data not followed by CRLF"));
            }
            (Chunk::Trailer { len, colon }, b'\r') => Chunk::TrailerLf { len, colon },
            (Chunk::Trailer { .. }, b'\n' | 0) => {
                return Err(Malformed("bare LF or NUL in a trailer"));
            }
            (Chunk::Trailer { len, colon }, _) => {
                self.count_trailer(1)?;
                Chunk::Trailer {
                    len: len + 1,
                    colon: colon || b == b':',
                }
            }
            (Chunk::TrailerLf { len: 0, .. }, b'\n') => Chunk::Done,
            (Chunk::TrailerLf { colon: false, .. }, b'\n') => {
                return Err(Malformed("trailer line without a colon"));
            }
            (Chunk::TrailerLf { .. }, b'\n') => {
                self.count_trailer(2)?;
                Chunk::Trailer {
                    len: 0,
                    colon: false,
                }
            }
            (Chunk::TrailerLf { .. }, _) => return Err(Malformed("trailer line without CRLF")),
            (Chunk::Data(_) | Chunk::Done, _) => {
                unreachable!("data is taken in bulk, and nothing after the end")
            }
        };
        Ok(())
    }

    /// One more hex digit of the size, `digits` before it.
    fn size_digit(&mut self, digits: u8, b: u8) -> Result<Chunk, BodyError> {
        if digits == 16 {
            return Err(BodyError::Malformed("chunk size of more than 16 digits"));
        }
        let digit = (b as char).to_digit(16).expect("a hex digit");
        let before = if digits == 0 { 0 } else { self.size };
        self.size = (before << 4) | u64::from(digit);
        Ok(Chunk::Size { digits: digits + 1 })
    }

    /// A whole chunk-size line has come: data follows, or the trailers after the last chunk.
    fn size_line_over(&mut self) -> Result<Chunk, BodyError> {
        self.line = 0;
        self.seen = self.seen.saturating_add(self.size);
        if self.seen > self.max_body {
            return Err(BodyError::TooLarge);
        }
        Ok(match self.size {
            0 => Chunk::Trailer {
                len: 0,
                colon: false,
            },
            size => Chunk::Data(size),
        })
    }

    /// The trailer section is a head of its own, bounded like one.
    fn count_trailer(&mut self, bytes: usize) -> Result<(), BodyError> {
        self.trailer_bytes += bytes;
        if self.trailer_bytes > MAX_HEAD {
            return Err(BodyError::Malformed("trailer section longer than a head"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
