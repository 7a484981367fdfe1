//! The session's behaviour, request bytes in and reply bytes out; the framing rules themselves are tested in
//! `framing/tests.rs`.

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
    let mut input = b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;".to_vec();
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
        let input = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\nhello");
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
fn page_paths() {
    assert!(is_page_path("/"));
    assert!(is_page_path("/index.html?x=1"));
    assert!(is_page_path("http://example.com/"));
    assert!(is_page_path("http://example.com"));
    assert!(!is_page_path("/other"));
}
