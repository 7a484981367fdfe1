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

#[test]
fn replies_are_counted_by_status_and_only_expect_status_makes_one_an_error() {
    let (addr, _requests) = recording_http_server();
    let url = format!("http://{addr}/status/404");
    // As wrk, oha and hey: a 404 is a reply, counted by its code.
    let (code, stdout) = load(&[&url, "--clients", "2", "--requests", "10"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("10 ok, 0 errors"), "{stdout}");
    assert!(stdout.contains("statuses   404 x10\n"), "{stdout}");

    // Unless --expect-status says otherwise.
    let (code, stdout) = load(&[
        &url,
        "--clients",
        "2",
        "--requests",
        "10",
        "--expect-status",
        "2xx",
    ]);
    assert_eq!(code, Some(1), "nothing succeeded: {stdout}");
    assert!(stdout.contains("0 ok, 10 errors"), "{stdout}");
    assert!(stdout.contains("statuses   404 x10\n"), "{stdout}");
    assert!(
        section(&stdout, "errors")
            .iter()
            .any(|l| l.contains("bad reply") && l.contains("10 (first: HTTP status 404)")),
        "{stdout}"
    );

    let (code, stdout) = load(&[
        &url,
        "--requests",
        "4",
        "--expect-status",
        "200,404",
        "--json",
        "-",
    ]);
    assert_eq!(code, Some(0));
    let raw: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(raw["report"]["statuses"]["404"], 4, "{raw}");
    assert_eq!(raw["config"]["expect_status"], "200,404", "{raw}");
}

#[test]
fn expect_status_is_for_http_and_wants_codes() {
    for (args, needle) in [
        (vec!["127.0.0.1:9", "--expect-status", "200"], "needs HTTP"),
        (
            vec!["http://127.0.0.1:9/", "--expect-status", "ok"],
            "--expect-status",
        ),
    ] {
        let mut full = vec!["load", "--no-progress", "--requests", "1"];
        full.extend(args.iter().copied());
        let out = run_cli(&full);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn merged_runs_add_their_statuses() {
    let (addr, _requests) = recording_http_server();
    let dir = std::env::temp_dir().join(format!("serverlab-statuses-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    for (path, url_path, n) in [(&a, "/", "2"), (&b, "/status/404", "3")] {
        let url = format!("http://{addr}{url_path}");
        let (code, _) = load(&[&url, "--requests", n, "--json", &path.to_string_lossy()]);
        assert_eq!(code, Some(0));
    }
    let out = run_cli(&["merge", &a.to_string_lossy(), &b.to_string_lossy()]);
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("statuses   200 x2, 404 x3\n"), "{stdout}");
}
