//! The corpus of malformed (and a few well-formed) HTTP requests in `tests/corpus/http/`, fed to the HTTP core
//! whole and byte by byte, and a few of them to the real server.
//!
//! Each file is the raw bytes a client sends on one connection; its name carries what must happen:
//! `NAME.STATUSES.OUTCOME.http`, where STATUSES is the replies' status codes in order joined by `-` (`none` for
//! no reply) and OUTCOME is `close` (the session closes by itself) or `open` (it still waits for input). Raw
//! files rather than strings in code, because the bytes are the point: bare LF, NUL, obs-text, CR alone.
//!
//! Every file is one named test below, so an expectation the current code does not meet yet can be ignored on
//! its own with the reason; `every_corpus_file_is_a_test` keeps the list and the directory in step.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::http_support::{Run, check_run, run_session, statuses};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/http")
}

/// What a corpus file's name says must happen.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    statuses: Vec<u16>,
    closes: bool,
}

fn expected_from_name(file: &str) -> Expected {
    let parts: Vec<&str> = file.split('.').collect();
    let [_, codes, outcome, "http"] = parts[..] else {
        panic!("{file}: not NAME.STATUSES.OUTCOME.http");
    };
    let statuses = match codes {
        "none" => Vec::new(),
        codes => codes
            .split('-')
            .map(|c| c.parse().unwrap_or_else(|_| panic!("{file}: status {c}")))
            .collect(),
    };
    let closes = match outcome {
        "close" => true,
        "open" => false,
        other => panic!("{file}: outcome {other} is neither close nor open"),
    };
    Expected { statuses, closes }
}

fn corpus_bytes(file: &str) -> Vec<u8> {
    std::fs::read(corpus_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn outcome(run: &Run) -> Expected {
    Expected {
        statuses: statuses(&check_run(run, &|_| None)),
        closes: run.closed,
    }
}

/// Feeds the file whole, then byte by byte: the same replies and the same ending both ways.
fn check_case(file: &str) {
    let expected = expected_from_name(file);
    let input = corpus_bytes(file);
    let whole = run_session(&input, &[input.len()], false);
    assert_eq!(outcome(&whole), expected, "{file}, fed whole");
    let bytewise = run_session(&input, &[1], false);
    assert_eq!(outcome(&bytewise), expected, "{file}, fed byte by byte");
}

macro_rules! corpus_cases {
    ($( $(#[$attr:meta])* $name:ident => $file:literal, )*) => {
        $(
            #[test]
            $(#[$attr])*
            fn $name() {
                check_case($file);
            }
        )*

        const CORPUS_FILES: &[&str] = &[$($file),*];
    };
}

corpus_cases! {
    absolute_form_other_path => "absolute-form-other-path.404.open.http",
    absolute_form_target => "absolute-form-target.200.open.http",
    asterisk_form_options => "asterisk-form-options.405.open.http",
    bare_lf_line_endings => "bare-lf-line-endings.200.open.http",
    chunk_data_longer_than_size => "chunk-data-longer-than-size.400.close.http",
    chunk_extension_bare_lf => "chunk-extension-bare-lf.400.close.http",
    chunk_size_bare_lf => "chunk-size-bare-lf.400.close.http",
    chunk_size_empty_line => "chunk-size-empty-line.400.close.http",
    chunk_size_hex_prefix => "chunk-size-hex-prefix.400.close.http",
    chunk_size_huge => "chunk-size-huge.413.close.http",
    chunk_size_negative => "chunk-size-negative.400.close.http",
    chunk_size_overflow => "chunk-size-overflow.400.close.http",
    chunk_size_uppercase_leading_zeros => "chunk-size-uppercase-leading-zeros.200-200.open.http",
    chunked_8k_in_one_read => "chunked-8k-in-one-read.200-200.open.http",
    chunked_extensions_and_trailers => "chunked-extensions-and-trailers.200-200.open.http",
    chunked_missing_final_crlf => "chunked-missing-final-crlf.none.open.http",
    cl_and_te_smuggling => "cl-and-te-smuggling.200.close.http",
    connection_close_mid_pipeline => "connection-close-mid-pipeline.200.close.http",
    content_length_decimal => "content-length-decimal.400.close.http",
    content_length_duplicate_differing => "content-length-duplicate-differing.400.close.http",
    content_length_duplicate_same => "content-length-duplicate-same.200-200.open.http",
    content_length_empty => "content-length-empty.400.close.http",
    content_length_hex => "content-length-hex.400.close.http",
    content_length_letters => "content-length-letters.400.close.http",
    content_length_list => "content-length-list.400.close.http",
    content_length_minus => "content-length-minus.400.close.http",
    content_length_over_1mib => "content-length-over-1mib.413.close.http",
    content_length_overflow => "content-length-overflow.400.close.http",
    content_length_ows => "content-length-ows.200-200.open.http",
    content_length_plus => "content-length-plus.400.close.http",
    content_length_space_inside => "content-length-space-inside.400.close.http",
    cr_only_line_endings => "cr-only-line-endings.400.close.http",
    double_host => "double-host.400.close.http",
    empty_host_value => "empty-host-value.200.open.http",
    expect_continue_with_body => "expect-continue-with-body.405.close.http",
    get_root => "get-root.200.open.http",
    head_root => "head-root.200.open.http",
    header_value_too_large => "header-value-too-large.431.close.http",
    http_version_1_2 => "http-version-1-2.505.close.http",
    http_version_2 => "http-version-2.505.close.http",
    http_version_malformed => "http-version-malformed.400.close.http",
    http09_request_line => "http09-request-line.400.close.http",
    http10_keep_alive_and_close => "http10-keep-alive-and-close.200.close.http",
    http10_keep_alive_then_plain => "http10-keep-alive-then-plain.200-200.close.http",
    invalid_method_token => "invalid-method-token.400.close.http",
    leading_empty_lines => "leading-empty-lines.200.open.http",
    lowercase_method_is_a_token => "lowercase-method-is-a-token.405.open.http",
    missing_final_crlf => "missing-final-crlf.none.open.http",
    missing_host_http10_is_fine => "missing-host-http10-is-fine.200.close.http",
    missing_host_http11 => "missing-host-http11.400.close.http",
    nul_in_header_value => "nul-in-header-value.400.close.http",
    nul_in_target => "nul-in-target.400.close.http",
    obs_fold_continuation_line => "obs-fold-continuation-line.400.close.http",
    obs_text_header_value => "obs-text-header-value.200.open.http",
    pipelined_bad_length_in_the_middle => "pipelined-bad-length-in-the-middle.200-400.close.http",
    pipelined_body_looks_like_request => "pipelined-body-looks-like-request.405-200.open.http",
    pipelined_garbage_in_the_middle => "pipelined-garbage-in-the-middle.200-400.close.http",
    pipelined_get_404_head => "pipelined-get-404-head.200-404-200.open.http",
    post_with_length_body => "post-with-length-body.405.open.http",
    request_line_too_long => "request-line-too-long.431.close.http",
    request_target_with_space => "request-target-with-space.400.close.http",
    space_before_colon => "space-before-colon.400.close.http",
    space_inside_header_name => "space-inside-header-name.400.close.http",
    te_and_cl_smuggling => "te-and-cl-smuggling.200.close.http",
    te_chunked_in_http10 => "te-chunked-in-http10.400.close.http",
    te_gzip_then_chunked => "te-gzip-then-chunked.200-200.open.http",
    te_identity => "te-identity.400.close.http",
    te_last_coding_not_chunked => "te-last-coding-not-chunked.400.close.http",
    te_second_header_not_chunked => "te-second-header-not-chunked.400.close.http",
    te_xchunked => "te-xchunked.400.close.http",
    too_many_headers => "too-many-headers.431.close.http",
    utf8_header_value => "utf8-header-value.200.open.http",
}

#[test]
fn every_corpus_file_is_a_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".http"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CORPUS_FILES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "corpus files and corpus_cases! differ");
    assert!(listed.len() >= 40);
    for file in CORPUS_FILES {
        expected_from_name(file);
    }
}

/// Files sent to the real server: small (one read takes them whole, so closing after an error cannot turn into
/// a reset that loses the reply), none with HEAD, and each expectation met by the current code.
const SENT_TO_THE_SERVER: &[&str] = &[
    "get-root.200.open.http",
    "pipelined-get-404-head.200-404-200.open.http",
    "space-before-colon.400.close.http",
    "missing-host-http11.400.close.http",
    "http-version-2.505.close.http",
    "too-many-headers.431.close.http",
    "cl-and-te-smuggling.200.close.http",
    "pipelined-garbage-in-the-middle.200-400.close.http",
    "chunked-extensions-and-trailers.200-200.open.http",
];

/// Status codes of every reply in a byte stream, framed by Content-Length; `heads` marks replies to HEAD.
fn stream_statuses(mut bytes: &[u8], heads: &[bool]) -> Vec<u16> {
    let mut codes = Vec::new();
    while !bytes.is_empty() {
        let mut fields = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut fields);
        let Ok(httparse::Status::Complete(head_len)) = response.parse(bytes) else {
            panic!("reply does not parse: {:?}", String::from_utf8_lossy(bytes));
        };
        let length: usize = response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
            .expect("Content-Length");
        let body = if heads.get(codes.len()) == Some(&true) {
            0
        } else {
            length
        };
        codes.push(response.code.unwrap());
        assert!(bytes.len() >= head_len + body, "reply cut short");
        bytes = &bytes[head_len + body..];
    }
    codes
}

#[test]
fn the_real_server_answers_corpus_files_as_the_session_does() {
    let server = crate::support::ServerProcess::start(&["--proto", "http", "--model", "poll"]);
    for file in SENT_TO_THE_SERVER {
        let expected = expected_from_name(file);
        let heads: Vec<bool> = if file.contains("-head.") {
            vec![false, false, true]
        } else {
            Vec::new()
        };
        let mut stream = crate::support::connect(server.addr());
        stream.write_all(&corpus_bytes(file)).unwrap();
        // End of input: a connection left open by the requests is closed once they are answered.
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let started = Instant::now();
        let mut received = Vec::new();
        stream
            .read_to_end(&mut received)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(started.elapsed() < Duration::from_secs(10), "{file}: slow");
        assert_eq!(
            stream_statuses(&received, &heads),
            expected.statuses,
            "{file}: {:?}",
            String::from_utf8_lossy(&received)
        );
    }
    let finished = server.terminate();
    assert!(finished.status.success(), "{}", finished.stderr);
}
