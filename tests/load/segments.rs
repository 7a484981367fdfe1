//! A run split with `--segment` and added up again with `merge`, on one machine through the real binaries:
//! the parts' shares, what merge refuses, and `--start-at`. Across hosts: `hosts.rs`.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::{ServerProcess, run_cli};
use serverlab::load::merge::ResultFile;

/// A directory of the test's own, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let path = std::env::temp_dir().join(format!("serverlab-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `load --no-progress ARGS --json PATH`, which must succeed.
fn part(target: &str, args: &[&str], path: &str) {
    let mut full = vec!["load", "--no-progress", "--target", target, "--json", path];
    full.extend_from_slice(args);
    let out = run_cli(&full);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn parts_add_up_to_the_whole_and_parts_of_other_runs_are_refused() {
    let server = ServerProcess::start(&["--proto", "echo"]);
    let target = server.addr().to_string();
    let dir = Dir::new("segments");
    let run = ["--clients", "5", "--requests", "101"];
    let parts: Vec<String> = (0..3).map(|i| dir.file(&format!("p{i}.json"))).collect();
    for (i, path) in parts.iter().enumerate() {
        let segment = format!("{i}/3");
        let mut args = run.to_vec();
        args.extend(["--segment", &segment]);
        part(&target, &args, path);
    }
    let read = |p: &str| ResultFile::read(std::path::Path::new(p)).unwrap();
    // Clients 2, 2, 1 of 5; requests ceil(101*c/5) at c = 0, 2, 4, 5: 41, 40, 20.
    let shares: Vec<(usize, u64)> = parts
        .iter()
        .map(|p| read(p).report)
        .map(|r| (r.clients, r.successes))
        .collect();
    assert_eq!(shares, [(2, 41), (2, 40), (1, 20)]);
    assert_eq!(
        read(&parts[1]).config.unwrap().segment.unwrap().to_string(),
        "1/3"
    );

    let merged = dir.file("merged.json");
    let out = run_cli(&["merge", &parts[0], &parts[1], &parts[2], "--json", &merged]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        out.stderr.is_empty(),
        "nothing missing: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("101 ok, 0 errors"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(read(&merged).report.clients, 5);

    // A part missing is named, and the rest still merged.
    let out = run_cli(&["merge", &parts[0], &parts[2]]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("segment 1/3 missing"),
        "{}",
        text(&out.stderr)
    );

    // Refused, each with its reason.
    let other = |args: &[&str], name: &str| {
        let path = dir.file(name);
        part(&target, args, &path);
        path
    };
    let six = other(
        &["--clients", "6", "--requests", "101", "--segment", "2/3"],
        "six.json",
    );
    let halves = other(
        &["--clients", "5", "--requests", "101", "--segment", "1/2"],
        "half.json",
    );
    let whole = other(&["--clients", "5", "--requests", "101"], "whole.json");
    let http = ServerProcess::start(&["--proto", "http"]);
    let elsewhere = dir.file("http.json");
    part(
        &http.addr().to_string(),
        &[
            "--proto",
            "http",
            "--clients",
            "5",
            "--requests",
            "101",
            "--segment",
            "2/3",
        ],
        &elsewhere,
    );
    for (second, reason) in [
        (&parts[0], "given twice"),
        (&six, "--clients 5 vs 6"),
        (&halves, "segment count 3 vs 2"),
        (&whole, "a whole run"),
        (&elsewhere, "target"),
    ] {
        let out = run_cli(&["merge", &parts[0], &parts[1], second]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{reason}: {}",
            text(&out.stdout)
        );
        let said = text(&out.stderr);
        assert!(said.contains(reason), "{reason}: {said}");
        assert!(out.stdout.is_empty(), "no summary of a refused merge");
    }
}

#[test]
fn a_start_time_past_is_an_error_and_one_ahead_is_waited_for() {
    let server = ServerProcess::start(&["--proto", "echo"]);
    let target = server.addr().to_string();
    let out = run_cli(&[
        "load",
        "--target",
        &target,
        "--requests",
        "10",
        "--start-at",
        "2001-02-03T04:05:06Z",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("ago"), "{}", text(&out.stderr));

    // Ahead: waited for, then run; the result's window opens at it. Written to stdout after the summary, as in a
    // pod's log, which merge reads.
    let dir = Dir::new("start-at");
    let at = SystemTime::now() + Duration::from_millis(800);
    let at_text = format!(
        "{:.3}",
        at.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
    );
    let begun = Instant::now();
    let out = run_cli(&[
        "load",
        "--no-progress",
        "--target",
        &target,
        "--requests",
        "10",
        "--start-at",
        &at_text,
        "--json",
        "/dev/stdout",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(begun.elapsed() >= Duration::from_millis(600));
    let log = dir.file("pod.log");
    std::fs::write(&log, &out.stdout).unwrap();
    assert!(text(&out.stdout).starts_with("WARNING") || text(&out.stdout).starts_with("echo"));
    let file = ResultFile::read(std::path::Path::new(&log)).unwrap();
    let start = file.report.window.unwrap().start_unix_us;
    let at_us = at.duration_since(UNIX_EPOCH).unwrap().as_micros() as u64;
    assert!(
        start + 1_000 >= at_us && start < at_us + 200_000,
        "{start} vs {at_us}"
    );
    let merged = run_cli(&["merge", &log]);
    assert!(
        text(&merged.stdout).contains("10 ok"),
        "{}",
        text(&merged.stderr)
    );
}
