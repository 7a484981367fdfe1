//! Property tests ("fuzzing" inside `cargo test`) of the HTTP core, driven through the `Session` trait as every
//! model drives it: bytes fed in arbitrary pieces, `step` looped, every announced request answered.
//!
//! Why properties and not only examples: the session is a state machine over a byte stream, and its bugs live
//! at the splits (a CRLF cut in two, a chunk size across reads) and in the combinations (a chunked body followed
//! by a pipelined request followed by garbage) that nobody writes by hand. Each property runs a bounded number of
//! cases so the file stays a few seconds in a debug build; `PROPTEST_CASES` raises them for a longer soak.
//!
//! What must hold, whatever the input: no panic; every reply well formed and framed by its Content-Length, one
//! after another; only the statuses the server may send; input bounded (a head or chunk-size line that never
//! ends closes the connection after at most `MAX_HEAD` plus one read); and valid pipelined requests get exactly
//! one reply each, in order, however the bytes are split.

use proptest::prelude::*;
use proptest::sample::Index;

use crate::http_support::{ALLOWED_STATUSES, Run, check_run, new_session, run_session, statuses};
use serverlab::protocol::Session;
use serverlab::protocol::http::MAX_HEAD;

/// Cases per property: enough to cover the generators' combinations in a few seconds of a debug build.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Valid requests: a generator, their bytes, and what the server must answer.
// ---------------------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Body {
    None,
    Length(Vec<u8>),
    Chunked {
        /// Chunk data, its size as sent (case, leading zeros), and an optional extension.
        chunks: Vec<(Vec<u8>, String, Option<String>)>,
        trailers: Vec<(String, String)>,
    },
}

#[derive(Clone, Debug)]
struct Request {
    method: &'static str,
    target: String,
    http10: bool,
    host: Option<String>,
    connection: Option<&'static str>,
    /// Header fields with no meaning to the server, in sending order, names in any case.
    extra: Vec<(String, String)>,
    body: Body,
    /// Send the framing headers (Host, Connection, Content-Length...) after the extra ones.
    framing_last: bool,
}

/// What the server must answer to one valid request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    head_only: bool,
    keep_alive: bool,
}

impl Request {
    fn to_bytes(&self) -> Vec<u8> {
        let version = if self.http10 { "HTTP/1.0" } else { "HTTP/1.1" };
        let mut framing: Vec<(String, String)> = Vec::new();
        if let Some(host) = &self.host {
            framing.push(("Host".into(), host.clone()));
        }
        if let Some(connection) = self.connection {
            framing.push(("connection".into(), connection.into()));
        }
        match &self.body {
            Body::None => {}
            Body::Length(data) => framing.push(("Content-Length".into(), data.len().to_string())),
            Body::Chunked { .. } => framing.push(("Transfer-Encoding".into(), "chunked".into())),
        }
        let mut fields = self.extra.clone();
        if self.framing_last {
            fields.extend(framing);
        } else {
            framing.extend(fields);
            fields = framing;
        }
        let mut bytes = format!("{} {} {version}\r\n", self.method, self.target).into_bytes();
        for (name, value) in &fields {
            bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        match &self.body {
            Body::None => {}
            Body::Length(data) => bytes.extend_from_slice(data),
            Body::Chunked { chunks, trailers } => {
                for (data, size, ext) in chunks {
                    bytes.extend_from_slice(size.as_bytes());
                    if let Some(ext) = ext {
                        bytes.extend_from_slice(format!(";{ext}").as_bytes());
                    }
                    bytes.extend_from_slice(b"\r\n");
                    bytes.extend_from_slice(data);
                    bytes.extend_from_slice(b"\r\n");
                }
                bytes.extend_from_slice(b"0\r\n");
                for (name, value) in trailers {
                    bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
                }
                bytes.extend_from_slice(b"\r\n");
            }
        }
        bytes
    }

    fn answer(&self) -> Answer {
        let path = match self.target.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => &self.target,
        };
        let path = path.split('?').next().unwrap();
        let status = match self.method {
            "GET" | "HEAD" if path == "/" || path == "/index.html" => 200,
            "GET" | "HEAD" => 404,
            _ => 405,
        };
        let connection = self.connection.unwrap_or("").to_ascii_lowercase();
        let keep_alive = if self.http10 {
            connection == "keep-alive"
        } else {
            connection != "close"
        };
        Answer {
            status,
            head_only: self.method == "HEAD",
            keep_alive,
        }
    }
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
}

/// Header values a client may send: visible ASCII with inner spaces and tabs.
fn field_value() -> impl Strategy<Value = String> {
    "[!-~]([ -~\t]{0,30}[!-~])?"
}

fn extra_field() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        Just("Accept".to_string()),
        Just("user-agent".to_string()),
        Just("ACCEPT-ENCODING".to_string()),
        Just("Cookie".to_string()),
        token().prop_map(|t| format!("X-{t}")),
    ];
    (name, field_value())
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/".to_string()),
        Just("/index.html".to_string()),
        "/(index\\.html)?\\?[a-z0-9=&%]{0,20}",
        "/[a-zA-Z0-9._~-]{1,20}(/[a-z0-9]{0,8}){0,3}",
        Just("http://example.com/".to_string()),
        Just("http://example.com".to_string()),
        "http://[a-z]{1,10}\\.test(:[0-9]{2,5})?/[a-z.]{0,12}",
    ]
}

fn chunk() -> impl Strategy<Value = (Vec<u8>, String, Option<String>)> {
    (
        prop::collection::vec(any::<u8>(), 1..80),
        0usize..3,
        any::<bool>(),
        prop::option::of("[a-z]{1,6}(=[a-z0-9]{1,6})?"),
    )
        .prop_map(|(data, zeros, upper, ext)| {
            let hex = format!("{:x}", data.len());
            let hex = if upper { hex.to_uppercase() } else { hex };
            (data, format!("{}{hex}", "0".repeat(zeros)), ext)
        })
}

fn body(http10: bool) -> BoxedStrategy<Body> {
    let length = prop::collection::vec(any::<u8>(), 0..200).prop_map(Body::Length);
    if http10 {
        // HTTP/1.0 has no chunked coding.
        return prop_oneof![Just(Body::None), length].boxed();
    }
    let chunked = (
        prop::collection::vec(chunk(), 0..4),
        prop::collection::vec(extra_field(), 0..3),
    )
        .prop_map(|(chunks, trailers)| Body::Chunked { chunks, trailers });
    prop_oneof![2 => Just(Body::None), 1 => length, 1 => chunked].boxed()
}

fn request() -> impl Strategy<Value = Request> {
    any::<bool>().prop_flat_map(|http10| {
        let host = if http10 {
            prop::option::of("[a-z]{1,10}(\\.[a-z]{2,3})?").boxed()
        } else {
            "[a-z]{1,10}(\\.[a-z]{2,3})?(:[0-9]{1,5})?"
                .prop_map(Some)
                .boxed()
        };
        (
            prop_oneof![Just("GET"), Just("HEAD"), Just("POST")],
            target(),
            host,
            prop::option::of(prop_oneof![
                3 => Just("keep-alive"),
                1 => Just("Keep-Alive"),
                1 => Just("close"),
                1 => Just("upgrade"),
            ]),
            prop::collection::vec(extra_field(), 0..5),
            body(http10),
            any::<bool>(),
        )
            .prop_map(
                move |(method, target, host, connection, extra, body, framing_last)| Request {
                    method,
                    target,
                    http10,
                    host,
                    connection,
                    extra,
                    body,
                    framing_last,
                },
            )
    })
}

/// Sizes of the pieces a client's bytes arrive in: single bytes, small reads, big reads.
fn piece_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![Just(1usize), 1usize..16, 16usize..512, 512usize..16_384],
        1..8,
    )
}

/// Read sizes for the endless inputs: no single bytes, since each read re-parses the whole buffered line and
/// 8 KiB of one-byte reads costs a debug build a second; splits are covered by the other properties.
fn read_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![64usize..1024, 1024usize..16_384], 1..8)
}

/// The answers a pipeline must get: one per request up to and including the first that ends the connection.
fn answers(requests: &[Request]) -> Vec<Answer> {
    let mut answers = Vec::new();
    for request in requests {
        let answer = request.answer();
        answers.push(answer);
        if !answer.keep_alive {
            break;
        }
    }
    answers
}

fn pipeline(requests: &[Request]) -> Vec<u8> {
    requests.iter().flat_map(Request::to_bytes).collect()
}

// ---------------------------------------------------------------------------------------------------------
// Malformed requests: mutations of valid ones.
// ---------------------------------------------------------------------------------------------------------

/// Content-Length values that are not `1*DIGIT`, or are digits too many for any length.
const BAD_LENGTHS: &[&str] = &[
    "+5",
    "-1",
    " 5 ",
    "5,5",
    "5, 6",
    "0x10",
    "99999999999999999999999",
    "",
    "5 5",
    "1e3",
];

#[derive(Clone, Debug)]
enum Mutation {
    /// Replace one byte.
    Flip(Index, u8),
    /// Cut the input short.
    Truncate(Index),
    /// Repeat the header line at or after a position.
    DuplicateLine(Index),
    /// Turn the CRLF at or after a position into a bare LF.
    BareLf(Index),
    /// Turn every CRLF into a bare LF.
    AllBareLf,
    /// Make the header value at or after a position huge.
    HugeValue(Index, usize),
    /// Put an obs-text byte (0x80-0xFF) into the header value at or after a position.
    ObsText(Index, u8),
    /// Replace the first Content-Length value (or add the header) with a malformed one.
    BadLength(usize),
    /// Insert a byte that is never valid in a head.
    Control(Index, u8),
    /// Insert arbitrary bytes.
    Insert(Index, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        any::<Index>().prop_map(Mutation::BareLf),
        Just(Mutation::AllBareLf),
        (any::<Index>(), 1000usize..20_000).prop_map(|(i, n)| Mutation::HugeValue(i, n)),
        (any::<Index>(), 0x80u8..=0xff).prop_map(|(i, b)| Mutation::ObsText(i, b)),
        (0..BAD_LENGTHS.len()).prop_map(Mutation::BadLength),
        (
            any::<Index>(),
            prop_oneof![Just(0u8), Just(b'\r'), Just(0x7f), Just(b'\x0b')]
        )
            .prop_map(|(i, b)| Mutation::Control(i, b)),
        (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, bytes)| Mutation::Insert(i, bytes)),
    ]
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Where the header value at or after `from` starts (just after `": "`), if there is one.
fn value_start(input: &[u8], from: usize) -> Option<usize> {
    find(input, b": ", from)
        .or_else(|| find(input, b": ", 0))
        .map(|p| p + 2)
}

fn mutate(input: &mut Vec<u8>, mutation: &Mutation) {
    if input.is_empty() {
        return;
    }
    let len = input.len();
    match mutation {
        Mutation::Flip(i, b) => input[i.index(len)] = *b,
        Mutation::Truncate(i) => input.truncate(i.index(len)),
        Mutation::DuplicateLine(i) => {
            let at = i.index(len);
            let start = input[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            if let Some(end) = find(input, b"\n", start) {
                let line = input[start..=end].to_vec();
                input.splice(end + 1..end + 1, line);
            }
        }
        Mutation::BareLf(i) => {
            if let Some(p) = find(input, b"\r\n", i.index(len)) {
                input.remove(p);
            }
        }
        Mutation::AllBareLf => {
            let mut out = Vec::with_capacity(len);
            for (k, &b) in input.iter().enumerate() {
                if !(b == b'\r' && input.get(k + 1) == Some(&b'\n')) {
                    out.push(b);
                }
            }
            *input = out;
        }
        Mutation::HugeValue(i, n) => {
            if let Some(p) = value_start(input, i.index(len)) {
                input.splice(p..p, std::iter::repeat_n(b'a', *n));
            }
        }
        Mutation::ObsText(i, b) => {
            if let Some(p) = value_start(input, i.index(len)) {
                input.insert(p, *b);
            }
        }
        Mutation::BadLength(k) => {
            let bad = BAD_LENGTHS[*k].as_bytes();
            match find(input, b"Content-Length: ", 0) {
                Some(p) => {
                    let start = p + b"Content-Length: ".len();
                    let end = find(input, b"\r\n", start).unwrap_or(input.len());
                    input.splice(start..end, bad.iter().copied());
                }
                None => {
                    if let Some(p) = find(input, b"\r\n", 0) {
                        let field = [b"\r\nContent-Length: ".as_slice(), bad].concat();
                        input.splice(p..p, field);
                    }
                }
            }
        }
        Mutation::Control(i, b) => input.insert(i.index(len), *b),
        Mutation::Insert(i, bytes) => {
            let at = i.index(len);
            input.splice(at..at, bytes.iter().copied());
        }
    }
}

/// Whole output with the Date header's value blanked: two runs a second apart must still compare equal.
fn without_dates(out: &[u8]) -> Vec<u8> {
    let mut clean = Vec::with_capacity(out.len());
    let mut at = 0;
    while let Some(p) = find(out, b"\r\nDate: ", at) {
        let value = p + b"\r\nDate: ".len();
        clean.extend_from_slice(&out[at..value]);
        at = find(out, b"\r\n", value).unwrap_or(out.len());
    }
    clean.extend_from_slice(&out[at..]);
    clean
}

// ---------------------------------------------------------------------------------------------------------
// Input that can never be a request worth keeping: bounded.
// ---------------------------------------------------------------------------------------------------------

/// Feeds `prefix` whole, then `filler` over and over (up to 2 MiB) in pieces of `sizes`, and returns the run
/// and how many filler bytes had been fed *before* the feed after which the session closed.
fn feed_endless(prefix: &[u8], filler: &[u8], sizes: &[usize]) -> (Run, usize) {
    const LIMIT: usize = 2 * 1024 * 1024;
    let mut session = new_session();
    let mut run = Run::default();
    run.feed_in_pieces(&mut session, prefix, &[prefix.len()]);
    let mut fed = 0;
    let mut size = sizes.iter().copied().cycle();
    let mut endless = filler.iter().copied().cycle();
    while !run.closed && fed < LIMIT {
        let n = size.next().unwrap().max(1);
        let piece: Vec<u8> = endless.by_ref().take(n).collect();
        session.feed(&piece);
        run.pump(&mut session);
        if !run.closed {
            fed += n;
        }
    }
    (run, fed)
}

/// A head's worth of bytes, then one more read at most: then the session must have closed.
fn assert_bounded(run: &Run, fed_before_close: usize, what: &str) {
    assert!(run.closed, "{what}: still reading after 2 MiB");
    assert!(
        fed_before_close <= MAX_HEAD,
        "{what}: kept reading past MAX_HEAD ({fed_before_close} bytes before the closing read)"
    );
}

/// Bytes from anywhere in 0..=255 except ':', so no header field (and so no Host, length or keep-alive) can
/// ever form, and every request that parses ends the connection. Half of them from the bytes a request line is
/// made of, so the session gets past its first byte. Made from a seed: a strategy per byte costs more than the
/// session under test.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    const REQUEST_BYTES: &[u8] = b"GETHPOS /1.0\r\n\t";
    (any::<u64>(), 1usize..4096).prop_map(|(seed, len)| {
        let mut state = seed | 1;
        let mut next = move || {
            // xorshift64: good enough to scatter bytes.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..len)
            .map(|_| {
                let r = next();
                let byte = if r & 1 == 0 {
                    REQUEST_BYTES[(r >> 8) as usize % REQUEST_BYTES.len()]
                } else {
                    (r >> 8) as u8
                };
                if byte == b':' { b';' } else { byte }
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(2000))]

    /// Valid pipelined requests get one reply each, in order, with the right status, framing and connection
    /// handling, however the bytes are split. Pipelines stay well under MAX_HEAD in all (the corpus case
    /// `chunked_8k_in_one_read` covers more than that in one read).
    #[test]
    fn pipelined_valid_requests_get_one_reply_each_in_order(
        requests in prop::collection::vec(request(), 1..8),
        sizes in piece_sizes(),
        eof in any::<bool>(),
    ) {
        let input = pipeline(&requests);
        prop_assume!(input.len() < MAX_HEAD);
        let expected = answers(&requests);
        let run = run_session(&input, &sizes, eof);
        let replies = check_run(&run, &|i| expected.get(i).map(|a| a.head_only));
        prop_assert_eq!(
            statuses(&replies),
            expected.iter().map(|a| a.status).collect::<Vec<_>>()
        );
        for ((reply, answer), request) in replies.iter().zip(&expected).zip(&requests) {
            prop_assert_eq!(reply.closes, !answer.keep_alive, "{:?}", request);
            if request.http10 && answer.keep_alive {
                prop_assert_eq!(reply.header("Connection"), Some("keep-alive"));
            }
            if reply.status == 405 {
                prop_assert_eq!(reply.header("Allow"), Some("GET, HEAD"));
            }
        }
        let closes = expected.last().is_some_and(|a| !a.keep_alive);
        prop_assert_eq!(run.closed, closes || eof);
    }

    /// Mutated requests (byte flips, truncations, duplicated lines, bare LF, huge values, obs-text, malformed
    /// Content-Length, control bytes): no panic, every reply well formed, only allowed statuses, error replies
    /// close, end of input always ends in Close; and below MAX_HEAD the split changes nothing.
    #[test]
    fn malformed_requests_get_well_formed_replies(
        requests in prop::collection::vec(request(), 1..4),
        mutations in prop::collection::vec(mutation(), 1..4),
        sizes in piece_sizes(),
        eof in any::<bool>(),
    ) {
        let mut input = pipeline(&requests);
        for m in &mutations {
            mutate(&mut input, m);
        }
        let run = run_session(&input, &sizes, eof);
        let replies = check_run(&run, &|_| None);
        for reply in &replies {
            prop_assert!(ALLOWED_STATUSES.contains(&reply.status));
        }
        if input.len() <= MAX_HEAD {
            let whole = run_session(&input, &[input.len()], eof);
            let (whole_out, split_out) = (without_dates(&whole.out), without_dates(&run.out));
            prop_assert_eq!(
                String::from_utf8_lossy(&whole_out),
                String::from_utf8_lossy(&split_out),
                "split {:?} answers differently from whole", sizes
            );
            prop_assert_eq!(whole.closed, run.closed);
        }
    }
}

// Endless inputs: a head's worth of bytes per case, read in pieces no smaller than 64 bytes.
proptest! {
    #![proptest_config(cases(2000))]

    /// Garbage that can hold no header field: at most one reply, and Close within MAX_HEAD plus one read.
    #[test]
    fn garbage_closes_within_bounded_input(
        prefix in prop_oneof![
            Just(&b""[..]),
            Just(&b"GET / HTTP/1.1\r\n"[..]),
            Just(&b"POST /"[..]),
            Just(&b"HEAD / HTTP/1.0\r\n"[..]),
        ],
        filler in garbage(),
        sizes in read_sizes(),
    ) {
        let (run, fed) = feed_endless(prefix, &filler, &sizes);
        assert_bounded(&run, fed, "garbage");
        let replies = check_run(&run, &|_| None);
        prop_assert_eq!(replies.len(), 1);
    }

    /// A request line or header value that never ends: 431 (or 400 for a byte a head may not hold) and Close
    /// within MAX_HEAD plus one read.
    #[test]
    fn an_endless_head_line_closes_with_431(
        prefix in prop_oneof![
            Just(&b"GET /"[..]),
            Just(&b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: "[..]),
            Just(&b"GET / HTTP/1.1\r\nHost: x\r\nX-Long"[..]),
        ],
        filler in prop::collection::vec(prop_oneof![b'a'..=b'z', b'0'..=b'9'], 1..64),
        sizes in read_sizes(),
    ) {
        let (run, fed) = feed_endless(prefix, &filler, &sizes);
        assert_bounded(&run, fed, "endless head line");
        prop_assert_eq!(statuses(&check_run(&run, &|_| None)), vec![431]);
    }

    /// Header fields that never end: 431 once there are too many, within MAX_HEAD.
    #[test]
    fn endless_header_fields_close_with_431(
        field in "X-[a-z]{1,8}: [a-z]{0,8}\r\n",
        sizes in read_sizes(),
    ) {
        let (run, fed) = feed_endless(b"GET / HTTP/1.1\r\nHost: x\r\n", field.as_bytes(), &sizes);
        assert_bounded(&run, fed, "endless header fields");
        prop_assert_eq!(statuses(&check_run(&run, &|_| None)), vec![431]);
    }

    /// A chunk-size line that never ends (an endless extension, or endless spaces after the size): the
    /// request is answered, then the connection closes within MAX_HEAD plus one read of the body.
    #[test]
    fn an_endless_chunk_size_line_closes(
        start in prop_oneof![Just(&b"5;"[..]), Just(&b"5 "[..]), Just(&b"0;"[..])],
        filler in prop_oneof![
            prop::collection::vec(b' '..=b'~', 1..64),
            Just(b" ".to_vec()),
        ],
        sizes in read_sizes(),
    ) {
        let head = [
            &b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            start,
        ]
        .concat();
        let (run, fed) = feed_endless(&head, &filler, &sizes);
        assert_bounded(&run, fed, "endless chunk-size line");
        // The reply waits for the body, so a body that cannot be read is the request's answer: 400.
        prop_assert_eq!(statuses(&check_run(&run, &|_| Some(false))), vec![400]);
    }

    /// A trailer line that never ends: the same bound as a chunk-size line.
    #[test]
    fn an_endless_trailer_line_closes(
        filler in prop::collection::vec(b' '..=b'~', 1..64),
        sizes in read_sizes(),
    ) {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ";
        let (run, fed) = feed_endless(head, &filler, &sizes);
        assert_bounded(&run, fed, "endless trailer line");
        prop_assert_eq!(statuses(&check_run(&run, &|_| Some(false))), vec![400]);
    }
}

proptest! {
    #![proptest_config(cases(50))]

    /// Trailer fields that never end, each short: a trailer section is a head of its own and must be bounded
    /// like one.
    #[test]
    fn endless_trailer_fields_close(
        field in "X-[a-z]{1,8}: [a-z]{0,8}\r\n",
        sizes in read_sizes(),
    ) {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
        let (run, fed) = feed_endless(head, field.as_bytes(), &sizes);
        assert_bounded(&run, fed, "endless trailer fields");
    }
}

/// A body declared over the 1 MiB limit is refused from its head alone, before any of it is read.
#[test]
fn a_declared_body_over_the_limit_gets_413_and_close() {
    for length in [1024 * 1024 + 1, 1u64 << 40] {
        let head = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n");
        let (run, fed) = feed_endless(head.as_bytes(), b"x", &[4096]);
        assert_bounded(&run, fed, "body over the limit");
        assert_eq!(statuses(&check_run(&run, &|_| None)), [413]);
    }
}

/// A declared body within the limit is read and thrown away, and the next request is answered.
#[test]
fn a_declared_body_of_one_mib_is_skipped() {
    let length = 1024 * 1024;
    let mut input =
        format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n").into_bytes();
    input.extend(std::iter::repeat_n(b'x', length));
    input.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let run = run_session(&input, &[65_536], false);
    assert_eq!(statuses(&check_run(&run, &|_| None)), [405, 200]);
    assert!(!run.closed);
}
