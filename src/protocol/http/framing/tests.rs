//! The framing rules, tested once for both roles: request heads as the server reads them, reply heads as the
//! load generator reads them, and bodies split at every byte.

use super::*;

fn request(head: &str) -> Result<Framing, FramingError> {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut parsed = httparse::Request::new(&mut headers);
    assert!(
        parsed.parse(head.as_bytes()).unwrap().is_complete(),
        "{head:?}"
    );
    request_framing(&parsed)
}

fn reply(head: &str) -> Result<Framing, FramingError> {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut parsed = httparse::Response::new(&mut headers);
    assert!(
        parsed.parse(head.as_bytes()).unwrap().is_complete(),
        "{head:?}"
    );
    reply_framing(&parsed)
}

fn framing(body: BodyLength, keep_alive: bool) -> Result<Framing, FramingError> {
    Ok(Framing { body, keep_alive })
}

/// A request line or status line of `version`, then `fields` (each ending in CRLF), then the empty line.
fn request_with(version: &str, fields: &str) -> Result<Framing, FramingError> {
    request(&format!("POST / HTTP/{version}\r\nHost: x\r\n{fields}\r\n"))
}

fn reply_with(version: &str, fields: &str) -> Result<Framing, FramingError> {
    reply(&format!("HTTP/{version} 200 OK\r\n{fields}\r\n"))
}

/// Every rule of a head field that both roles share, checked on a request and on a reply alike.
#[test]
fn head_field_rules_are_the_same_for_requests_and_replies() {
    use BodyLength::*;
    use FramingError::*;
    let cases: &[(&str, &str, Result<Framing, FramingError>)] = &[
        ("1.1", "Content-Length: 5\r\n", framing(Length(5), true)),
        ("1.1", "Content-Length:  5 \r\n", framing(Length(5), true)),
        (
            "1.1",
            "Content-Length: 5\r\nContent-Length: 5\r\n",
            framing(Length(5), true),
        ),
        (
            "1.1",
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            Err(ConflictingLengths),
        ),
        ("1.1", "Content-Length: +5\r\n", Err(ContentLength)),
        ("1.1", "Content-Length: -1\r\n", Err(ContentLength)),
        ("1.1", "Content-Length: 5 5\r\n", Err(ContentLength)),
        ("1.1", "Content-Length: 5,5\r\n", Err(ContentLength)),
        ("1.1", "Content-Length: 0x10\r\n", Err(ContentLength)),
        ("1.1", "Content-Length: \r\n", Err(ContentLength)),
        (
            "1.1",
            "Content-Length: 99999999999999999999999\r\n",
            Err(ContentLength),
        ),
        (
            "1.1",
            "Transfer-Encoding: chunked\r\n",
            framing(Chunked, true),
        ),
        (
            "1.1",
            "Transfer-Encoding: gzip, Chunked\r\n",
            framing(Chunked, true),
        ),
        (
            "1.1",
            "Transfer-Encoding: chunked, chunked\r\n",
            Err(TransferEncoding),
        ),
        (
            "1.1",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            Err(TransferEncoding),
        ),
        (
            "1.0",
            "Transfer-Encoding: chunked\r\n",
            Err(TransferEncodingInHttp10),
        ),
        // Both lengths: read by the chunks, and the connection is not trusted with another message.
        (
            "1.1",
            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
            framing(Chunked, false),
        ),
        (
            "1.1",
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            framing(Chunked, false),
        ),
        // Connection is a list of tokens, not a string to search.
        (
            "1.1",
            "Content-Length: 0\r\nConnection: close\r\n",
            framing(Length(0), false),
        ),
        (
            "1.1",
            "Content-Length: 0\r\nConnection: Upgrade, CLOSE\r\n",
            framing(Length(0), false),
        ),
        (
            "1.1",
            "Content-Length: 0\r\nConnection: x-close\r\n",
            framing(Length(0), true),
        ),
        (
            "1.1",
            "Content-Length: 0\r\nConnection: keep-alive, close\r\n",
            framing(Length(0), false),
        ),
        ("1.0", "Content-Length: 0\r\n", framing(Length(0), false)),
        (
            "1.0",
            "Content-Length: 0\r\nConnection: Keep-Alive\r\n",
            framing(Length(0), true),
        ),
        (
            "1.0",
            "Content-Length: 0\r\nConnection: keep-alives\r\n",
            framing(Length(0), false),
        ),
        (
            "1.0",
            "Content-Length: 0\r\nConnection: keep-alive\r\nConnection: close\r\n",
            framing(Length(0), false),
        ),
    ];
    for (version, fields, expected) in cases {
        assert_eq!(
            &request_with(version, fields),
            expected,
            "request {version} {fields:?}"
        );
        assert_eq!(
            &reply_with(version, fields),
            expected,
            "reply {version} {fields:?}"
        );
    }
}

#[test]
fn where_the_roles_differ() {
    use BodyLength::*;
    // Without a length a request has no body; a reply runs until the server closes.
    assert_eq!(request_with("1.1", ""), framing(Length(0), true));
    assert_eq!(reply_with("1.1", ""), framing(UntilClose, false));
    // A last coding other than chunked: a request cannot be read (400), a reply is read until the close.
    for codings in ["gzip", "chunked, gzip", "identity", "xchunked", ""] {
        let te = format!("Transfer-Encoding: {codings}\r\n");
        assert_eq!(
            request_with("1.1", &te),
            Err(FramingError::TransferEncoding),
            "{te:?}"
        );
        assert_eq!(reply_with("1.1", &te), framing(UntilClose, false), "{te:?}");
        let with_length = format!("{te}Content-Length: 3\r\n");
        assert_eq!(
            reply_with("1.1", &with_length),
            framing(UntilClose, false),
            "{with_length:?}"
        );
    }
    // Replies that never have a body, whatever they say.
    for status in ["100 Continue", "204 No Content", "304 Not Modified"] {
        let head = format!("HTTP/1.1 {status}\r\nContent-Length: 7\r\n\r\n");
        assert_eq!(reply(&head), framing(Length(0), true), "{status}");
    }
    // Their fields must still be well formed.
    assert_eq!(
        reply("HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n"),
        Err(FramingError::ContentLength)
    );
}

/// Feeds `input` to a decoder in pieces of `sizes` (cycled), as the bytes would arrive, and returns the bytes it
/// took and whether the body ended, or the first error.
fn decode_in_pieces(
    mut decoder: BodyDecoder,
    input: &[u8],
    sizes: &[usize],
) -> Result<Progress, BodyError> {
    let mut at = 0;
    let mut size = sizes.iter().copied().cycle();
    while at < input.len() {
        let end = (at + size.next().unwrap()).min(input.len());
        let progress = decoder.decode(&input[at..end])?;
        at += progress.used;
        if progress.done {
            return Ok(Progress {
                used: at,
                done: true,
            });
        }
        assert_eq!(at, end, "an unfinished body takes all it is given");
    }
    Ok(Progress {
        used: at,
        done: false,
    })
}

/// Every way of cutting `input` in two, and byte by byte, reads the same as `input` whole.
fn decode_every_split(
    length: BodyLength,
    max_body: u64,
    input: &[u8],
) -> Result<Progress, BodyError> {
    let whole = decode_in_pieces(
        BodyDecoder::new(length, max_body),
        input,
        &[input.len().max(1)],
    );
    let bytewise = decode_in_pieces(BodyDecoder::new(length, max_body), input, &[1]);
    assert_eq!(
        bytewise,
        whole,
        "byte by byte: {:?}",
        String::from_utf8_lossy(input)
    );
    for cut in 1..input.len() {
        let split = decode_in_pieces(
            BodyDecoder::new(length, max_body),
            input,
            &[cut, input.len()],
        );
        assert_eq!(
            split,
            whole,
            "cut at {cut}: {:?}",
            String::from_utf8_lossy(input)
        );
    }
    whole
}

#[test]
fn chunked_bodies_end_in_the_same_place_however_they_are_split() {
    let next = b"GET / HTTP/1.1\r\n\r\n";
    for body in [
        &b"0\r\n\r\n"[..],
        b"5\r\nhello\r\n0\r\n\r\n",
        b"5;name=value\r\nhello\r\nA;a;b=\"q\"\r\n0123456789\r\n0;last\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n",
        b"000A\r\n0123456789\r\n0\r\n\r\n",
        b"5 \t;ext\r\nhello\r\n0 \r\n\r\n",
        b"ffffffffffffffff\r\n",
    ] {
        let done = !body.ends_with(b"ffff\r\n");
        let input = [body, next].concat();
        let expected = Progress {
            used: if done { body.len() } else { input.len() },
            done,
        };
        let decoded = decode_every_split(BodyLength::Chunked, u64::MAX, &input);
        assert_eq!(decoded, Ok(expected), "{:?}", String::from_utf8_lossy(body));
    }
}

#[test]
fn malformed_chunked_bodies_are_refused_however_they_are_split() {
    for body in [
        &b"\r\n"[..],
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b" 5\r\nhello\r\n0\r\n\r\n",
        b"5 5\r\nhello\r\n0\r\n\r\n",
        b"5\nhello\r\n0\r\n\r\n",
        b"5\rhello\r\n0\r\n\r\n",
        b"2;a\nxx\r\n0\r\n\r\n",
        b"2;a\rb\r\nxx\r\n0\r\n\r\n",
        b"5\r\nhello!\r\n0\r\n\r\n",
        b"5\r\nhello\n0\r\n\r\n",
        b"10000000000000000\r\nx\r\n0\r\n\r\n",
        b"0\r\nX-No-Colon\r\n\r\n",
        b"0\r\nX-T: 1\n\r\n",
        b"0\r\nX-T: \0\r\n\r\n",
        b"0\r\nX-T: 1\rX\r\n\r\n",
    ] {
        let decoded = decode_every_split(BodyLength::Chunked, u64::MAX, body);
        assert!(
            matches!(decoded, Err(BodyError::Malformed(_))),
            "{:?}: {decoded:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn chunked_bodies_are_bounded() {
    // By the limit given, counted in data bytes, refused as soon as a size line says so.
    let body = b"5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n";
    assert_eq!(
        decode_every_split(BodyLength::Chunked, 11, body),
        Ok(Progress {
            used: body.len(),
            done: true
        })
    );
    assert_eq!(
        decode_every_split(BodyLength::Chunked, 10, body),
        Err(BodyError::TooLarge)
    );
    // A chunk-size line or a trailer section longer than a head is refused, not kept.
    let mut endless_line = b"5;".to_vec();
    endless_line.extend(std::iter::repeat_n(b'a', MAX_HEAD));
    let mut endless_trailers = b"0\r\n".to_vec();
    endless_trailers.extend(b"X-T: 1\r\n".repeat(MAX_HEAD / 8 + 1));
    for input in [endless_line, endless_trailers] {
        let decoded = decode_in_pieces(
            BodyDecoder::new(BodyLength::Chunked, u64::MAX),
            &input,
            &[7],
        );
        assert!(
            matches!(decoded, Err(BodyError::Malformed(_))),
            "{decoded:?}"
        );
    }
}

#[test]
fn length_bodies_are_counted_and_close_bodies_never_end() {
    let input = b"helloGET";
    assert_eq!(
        decode_every_split(BodyLength::Length(5), 0, input),
        Ok(Progress {
            used: 5,
            done: true
        })
    );
    assert_eq!(
        decode_every_split(BodyLength::Length(0), 0, input),
        Ok(Progress {
            used: 0,
            done: true
        })
    );
    assert_eq!(
        decode_every_split(BodyLength::UntilClose, 0, input),
        Ok(Progress {
            used: input.len(),
            done: false
        })
    );
}
