//! `serverlab load` and `serverlab merge` through the real binary, against the real `serve` binary.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{BIN, ServerProcess, run_cli};
use serverlab::load::merge::ResultFile;
use serverlab::load::report::Latency;

fn temp_dir() -> tempdir::TempDir {
    tempdir::TempDir::new()
}

/// A directory removed when dropped (tests leave nothing behind).
mod tempdir {
    pub struct TempDir(pub std::path::PathBuf);

    impl TempDir {
        pub fn new() -> TempDir {
            let path = std::env::temp_dir().join(format!(
                "serverlab-load-test-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        pub fn file(&self, name: &str) -> String {
            self.0.join(name).to_string_lossy().into_owned()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn load(args: &[&str]) -> std::process::Output {
    let mut full = vec!["load", "--no-progress"];
    full.extend_from_slice(args);
    let out = run_cli(&full);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn every_protocol_through_the_binaries() {
    for proto in ["echo", "daytime", "http", "udp-echo"] {
        let server = ServerProcess::start(&["--proto", proto]);
        let target = server.addr().to_string();
        let out = load(&[
            "--target",
            &target,
            "--proto",
            proto,
            "--clients",
            "3",
            "--requests",
            "90",
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("90 in"), "{proto}: {stdout}");
        assert!(stdout.contains("90 ok, 0 errors"), "{proto}: {stdout}");
        assert!(stdout.contains("p99.9"), "{stdout}");
        assert!(stdout.contains("fairness"), "{stdout}");
        let finished = server.terminate();
        assert!(finished.report()["requests"].as_u64().unwrap() >= 90);
    }
}

#[test]
fn json_has_the_result_its_provenance_and_its_histogram() {
    let server = ServerProcess::start(&["--proto", "http"]);
    let target = server.addr().to_string();
    let dir = temp_dir();
    let path = dir.file("run.json");
    let out = load(&[
        "--target",
        &target,
        "--proto",
        "http",
        "--clients",
        "2",
        "--rate",
        "500",
        "--duration",
        "400ms",
        "--json",
        &path,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("corrected") && stdout.contains("service"),
        "{stdout}"
    );
    let file = ResultFile::read(std::path::Path::new(&path)).unwrap();
    let p = &file.provenance[0];
    assert_eq!(p.serverlab_version, env!("CARGO_PKG_VERSION"));
    assert!(!p.commit.is_empty() && p.cores >= 1 && !p.kernel.is_empty());
    assert!(p.command.iter().any(|a| a == "--rate"));
    if p.build_profile == "debug" {
        assert!(stdout.contains("DEBUG BUILD"), "said loudly: {stdout}");
    }
    let r = &file.report;
    assert_eq!(r.requests, r.successes + r.errors.total());
    assert!(r.successes >= 150, "{r:#?}");
    assert_eq!(r.latency.count(), r.successes);
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let hist = raw["report"]["latency"]["hdr_histogram"].as_str().unwrap();
    assert!(hist.starts_with("HISTF"), "HdrHistogram V2 deflate: {hist}");
    assert!(raw["report"]["latency"]["summary"]["p99"].is_u64());
}

#[test]
fn merge_equals_one_histogram_of_both_runs() {
    let server = ServerProcess::start(&["--proto", "echo"]);
    let target = server.addr().to_string();
    let dir = temp_dir();
    let (a, b, merged) = (dir.file("a.json"), dir.file("b.json"), dir.file("ab.json"));
    load(&[
        "--target",
        &target,
        "--clients",
        "2",
        "--requests",
        "300",
        "--json",
        &a,
    ]);
    load(&[
        "--target",
        &target,
        "--clients",
        "3",
        "--requests",
        "200",
        "--json",
        &b,
    ]);
    let out = run_cli(&["merge", &a, &b, "--json", &merged]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 runs merged"), "{stdout}");
    assert!(stdout.contains("500 ok"), "{stdout}");

    let read = |p: &str| ResultFile::read(std::path::Path::new(p)).unwrap();
    let (ra, rb, rm) = (read(&a), read(&b), read(&merged));
    // One histogram recorded from both sets of samples.
    let mut both = Latency::default();
    for v in ra.report.latency.0.iter_recorded() {
        for _ in 0..v.count_at_value() {
            both.record(v.value_iterated_to());
        }
    }
    for v in rb.report.latency.0.iter_recorded() {
        for _ in 0..v.count_at_value() {
            both.record(v.value_iterated_to());
        }
    }
    assert_eq!(rm.report.latency.count(), 500);
    assert_eq!(rm.report.latency.summary(), both.summary());
    assert!(rm.report.latency.0 == both.0, "bucket for bucket");
    assert_eq!(rm.report.requests, 500);
    assert_eq!(rm.report.clients, 5);
    assert_eq!(rm.report.per_client.len(), 5);
    assert_eq!(rm.provenance.len(), 2);
    assert_eq!(rm.report.runs, 2);

    let out = run_cli(&["merge", &a, &dir.file("missing.json")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
}

#[test]
fn ctrl_c_stops_early_and_still_prints_the_summary() {
    let server = ServerProcess::start(&["--proto", "echo"]);
    let target = server.addr().to_string();
    let child = Command::new(BIN)
        .args([
            "load",
            "--target",
            &target,
            "--duration",
            "60s",
            "--clients",
            "2",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let started = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    // Interrupted, not finished: 128 + SIGINT, as a shell reports it, after the summary.
    assert_eq!(out.status.code(), Some(130));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("stopped early"), "{stdout}");
    assert!(stdout.contains(" ok, 0 errors"), "{stdout}");
    assert!(out.stderr.is_empty(), "no progress bar off a terminal");
}

#[test]
fn json_to_stdout_leaves_nothing_else_there() {
    let (addr, _requests) = crate::load_support::recording_http_server();
    let url = format!("http://{addr}/");
    let out = load(&[&url, "--clients", "2", "--requests", "30", "--json", "-"]);
    // The whole of stdout is one JSON document: no summary, no warning before or after it.
    let file: ResultFile = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    });
    assert_eq!(file.report.successes, 30);
    let raw: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        raw["report"]["latency"]["summary"]["stdev"].is_f64(),
        "{raw}"
    );
    assert_eq!(file.config.unwrap().path, "/");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("30 ok, 0 errors"), "the summary: {stderr}");
    assert!(!std::path::Path::new("-").exists(), "not a file named -");
}
