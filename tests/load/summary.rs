//! The terminal summary, as wrk, oha and hey users expect it: stdev beside the percentiles, a small latency
//! histogram, and (HTTP) replies by status code.

use crate::load_support::recording_http_server;
use crate::support::run_cli;

/// Runs `serverlab load --no-progress ARGS`; returns its exit code and stdout.
fn load(args: &[&str]) -> (Option<i32>, String) {
    let mut full = vec!["load", "--no-progress"];
    full.extend_from_slice(args);
    let out = run_cli(&full);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() != Some(2),
        "usage error for {args:?}: {stderr}"
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The rows of the section that starts with `title` (lines indented deeper than a section title).
fn section<'a>(stdout: &'a str, title: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with(title))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .collect()
}

#[test]
fn stdev_and_a_histogram_that_adds_up_to_the_replies() {
    let (addr, _requests) = recording_http_server();
    let url = format!("http://{addr}/");
    let (code, stdout) = load(&[&url, "--clients", "3", "--requests", "200"]);
    assert_eq!(code, Some(0), "{stdout}");
    let header = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("latency"))
        .unwrap();
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        columns,
        [
            "latency", "min", "mean", "stdev", "p50", "p90", "p99", "p99.9", "max"
        ]
    );
    let rows = section(&stdout, "histogram");
    assert!((1..=8).contains(&rows.len()), "a small histogram: {stdout}");
    let counts: Vec<u64> = rows
        .iter()
        .map(|r| r.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        counts.iter().sum::<u64>(),
        200,
        "every reply once: {stdout}"
    );
    let widest = rows.iter().map(|r| r.matches('#').count()).max().unwrap();
    assert_eq!(widest, 40, "the fullest row is the longest bar: {stdout}");
}
