//! `serverlab load --hold N` through the real binary against the real `serve`: the connections are opened,
//! answered and held, the server is seen holding them (its own count, and its sockets while held), a sequential
//! server holds one and the rest time out, an idle timeout shows, Ctrl-C still reports, and bad usage is one line.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{BIN, ServerProcess, run_cli};
use serverlab::load::HoldReport;
use serverlab::load::merge::ResultFile;

/// What one `load --hold` run left: its exit code, its summary and stderr, and its JSON result.
struct Held {
    code: Option<i32>,
    stderr: String,
    file: ResultFile,
}

impl Held {
    fn hold(&self) -> &HoldReport {
        self.file.report.hold.as_ref().expect("a hold report")
    }
}

/// Runs `serverlab load --no-progress --json - ARGS` to its end.
fn hold(args: &[&str]) -> Held {
    let mut full = vec!["load", "--no-progress", "--json", "-"];
    full.extend_from_slice(args);
    let out = run_cli(&full);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let file =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}; stderr: {stderr}"));
    Held {
        code: out.status.code(),
        stderr,
        file,
    }
}

/// A `serverlab load` process, killed and reaped if a test fails while it runs.
struct Running(Child);

impl Running {
    /// Starts `serverlab load --no-progress --json - ARGS`.
    fn start(args: &[&str]) -> Running {
        let child = Command::new(BIN)
            .args(["load", "--no-progress", "--json", "-"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start serverlab load");
        Running(child)
    }

    /// Reads stderr until the line that says the hold has begun; returns it.
    fn wait_for_the_hold(&mut self) -> String {
        let stderr = self.0.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if line.starts_with("holding") {
                    let _ = tx.send(line);
                    return;
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("a line saying the hold has begun")
    }

    /// Waits (at most 20 s) for the process to end; its exit code and JSON result.
    fn finish(mut self) -> (Option<i32>, ResultFile) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.0.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "load --hold did not end");
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut stdout = Vec::new();
        self.0
            .stdout
            .take()
            .expect("stdout")
            .read_to_end(&mut stdout)
            .unwrap();
        let code = self.0.wait().unwrap().code();
        let file = serde_json::from_slice(&stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&stdout)));
        (code, file)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().is_ok_and(|status| status.is_none()) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Sockets the process `pid` has open.
fn sockets_of(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

/// The server's own count of connections open at once, from its exit report. `load` checks the target with one
/// connection before it starts, which the server may not have seen closed yet when the first held one comes.
fn assert_peak(server: ServerProcess, low: u64, high: u64) -> serde_json::Value {
    let report = server.terminate().report();
    let peak = report["peak_open_connections"].as_u64().unwrap();
    assert!((low..=high).contains(&peak), "{report}");
    report
}

#[test]
fn an_event_loop_holds_200_echo_connections() {
    let server = ServerProcess::start(&["--proto", "echo", "--model", "poll"]);
    let target = server.addr().to_string();
    let started = Instant::now();
    let run = hold(&[&target, "--hold", "200", "--duration", "1s"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(started.elapsed() >= Duration::from_secs(1));
    let h = run.hold();
    assert_eq!(
        (h.asked, h.opened, h.answered, h.held),
        (200, 200, 200, 200),
        "{h:?}"
    );
    assert_eq!((h.closed_by_server, h.not_tried), (0, 0), "{h:?}");
    assert!(h.open_us > 0 && h.open_us < 10_000_000, "{h:?}");
    assert!(h.hold_us >= 1_000_000, "held for the whole duration: {h:?}");
    let r = &run.file.report;
    assert_eq!((r.successes, r.requests, r.errors.total()), (200, 200, 0));
    assert_eq!(r.latency.count(), 200, "one exchange each");
    assert!(!r.stopped_early);
    assert_eq!(run.file.config.as_ref().unwrap().hold, Some(200));
    assert!(
        run.stderr
            .contains("holding: 200 of 200 connections answered"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("200 still open after"),
        "the summary: {}",
        run.stderr
    );
    let report = assert_peak(server, 200, 201);
    assert_eq!(report["requests"], 200, "one echo each: {report}");
}

#[test]
fn an_http_server_holds_200_keep_alive_connections_and_its_sockets_show_them() {
    let server = ServerProcess::start(&["--proto", "http", "--model", "poll"]);
    let url = format!("http://{}/", server.addr());
    let before = sockets_of(server.pid());
    let mut load = Running::start(&[&url, "--hold", "200", "--duration", "1s"]);
    let line = load.wait_for_the_hold();
    assert!(line.contains("200 of 200"), "{line}");
    // While held, the server has a socket for each connection.
    let during = sockets_of(server.pid());
    assert!(
        during >= before + 200 && during <= before + 201,
        "{before} sockets before, {during} while held"
    );
    let (code, file) = load.finish();
    assert_eq!(code, Some(0));
    let h = file.report.hold.as_ref().expect("a hold report");
    assert_eq!((h.opened, h.answered, h.held), (200, 200, 200), "{h:?}");
    assert_eq!(
        file.report.statuses.get(&200),
        Some(&200),
        "one keep-alive GET each"
    );
    let report = assert_peak(server, 200, 201);
    assert_eq!(report["requests"], 200, "{report}");
}

#[test]
fn a_sequential_server_holds_one_and_the_others_time_out() {
    let server = ServerProcess::start(&["--proto", "echo", "--model", "sequential"]);
    let target = server.addr().to_string();
    let started = Instant::now();
    let run = hold(&[
        &target,
        "--hold",
        "200",
        "--duration",
        "1s",
        // Long enough for the one served exchange on a busy machine; the others wait it out.
        "--timeout",
        "1s",
    ]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(run.code, Some(0), "one was answered: {}", run.stderr);
    let h = run.hold();
    // The kernel completes every handshake (the listen backlog), but the server serves one connection to its end.
    assert_eq!((h.opened, h.answered, h.held), (200, 1, 1), "{h:?}");
    assert_eq!(h.connect_failures, 0, "{h:?}");
    assert!(
        run.stderr
            .contains("answered   1 of 200; 199 exchanges failed"),
        "{}",
        run.stderr
    );
    let errors = &run.file.report.errors;
    assert_eq!((errors.timeout, errors.total()), (199, 199), "{errors:?}");
    assert!(
        h.open_us >= 1_000_000,
        "the time to open waits for the last exchange to fail: {h:?}"
    );
    assert!(
        run.stderr.contains("no complete reply within 1s"),
        "{}",
        run.stderr
    );
    assert_peak(server, 1, 1);
}

#[test]
fn a_server_closing_idle_connections_is_seen_closing_them() {
    let server = ServerProcess::start(&[
        "--proto",
        "http",
        "--model",
        "poll",
        "--idle-timeout",
        "300ms",
    ]);
    let url = format!("http://{}/", server.addr());
    let started = Instant::now();
    let run = hold(&[&url, "--hold", "50", "--duration", "5s"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let h = run.hold();
    assert_eq!(
        (h.answered, h.held, h.closed_by_server),
        (50, 0, 50),
        "{h:?}"
    );
    let (min, max) = (
        h.closed_after_min_us.unwrap(),
        h.closed_after_max_us.unwrap(),
    );
    assert!(min >= 250_000 && max < 3_000_000, "{h:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "nothing left to hold, the hold ends"
    );
    assert!(
        run.stderr.contains("50 closed by the server"),
        "{}",
        run.stderr
    );
}

#[test]
fn ctrl_c_stops_a_hold_and_still_reports() {
    let server = ServerProcess::start(&["--proto", "echo", "--model", "poll"]);
    let target = server.addr().to_string();
    let mut load = Running::start(&[&target, "--hold", "50", "--duration", "60s"]);
    load.wait_for_the_hold();
    let pid = nix::unistd::Pid::from_raw(load.0.id() as i32);
    let stopped = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let (code, file) = load.finish();
    assert!(stopped.elapsed() < Duration::from_secs(5));
    assert_eq!(code, Some(130));
    assert!(file.report.stopped_early);
    let h = file.report.hold.as_ref().expect("a hold report");
    assert_eq!((h.answered, h.held), (50, 50), "{h:?}");
    assert!(h.hold_us < 30_000_000, "{h:?}");
}

#[test]
fn bad_usage_is_one_line_and_exit_2() {
    // Nothing needs to listen: usage is checked first.
    let target = "127.0.0.1:9";
    let cases: [(&[&str], &str); 6] = [
        (&["--hold", "0"], "--hold must be at least 1"),
        (&["--hold", "5", "--proto", "udp-echo"], "udp-echo"),
        (&["--hold", "5", "--proto", "daytime"], "daytime"),
        (&["--hold", "5", "--rate", "100"], "--rate"),
        (&["--hold", "5", "--requests", "10"], "--requests"),
        (&["--hold", "5", "--slow", "2"], "--slow"),
    ];
    for (args, expected) in cases {
        let mut full = vec!["load", target];
        full.extend_from_slice(args);
        let out = run_cli(&full);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
