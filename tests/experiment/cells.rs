//! `serverlab experiment` end to end, through the real binary: the files it writes agree with each other and
//! with the terminal, the charts carry data, and the one figure physics fixes comes out as predicted.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::BIN;
use serverlab::experiment::report::tables::{format_ms, format_rps};

/// Experiments time things: run them one at a time, so none slows another down (the other modules' too).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(crate) fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("serverlab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `serverlab experiment --allow-debug` with ARGS, its servers from the same binary; it must succeed.
pub(crate) fn experiment(args: &[&str], out: &Path) -> Output {
    let output = Command::new(BIN)
        .arg("experiment")
        .args([
            "--allow-debug",
            "--server-bin",
            BIN,
            "--out",
            out.to_str().unwrap(),
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run serverlab experiment");
    assert!(
        output.status.success(),
        "experiment failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The fields of one CSV line (RFC 4180 quoting).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            other => field.push(other),
        }
    }
    fields.push(field);
    fields
}

pub(crate) fn json(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap()
}

/// The text of the `<td>`s of the table with `data-kind="kind"` in the section of `work`, row by row.
fn html_table(html: &str, work: &str, kind: &str) -> Vec<Vec<String>> {
    let section = &html[html
        .find(&format!("data-work=\"{work}\""))
        .expect("work section")..];
    let start = section
        .find(&format!("data-kind=\"{kind}\""))
        .expect("table");
    let table = &section[start..start + section[start..].find("</table>").unwrap()];
    let body = &table[table.find("<tbody>").unwrap()..];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split(['<', '>'])
                .collect::<Vec<_>>()
                .windows(2)
                .filter(|w| {
                    ["td", "th"].contains(&w[0])
                        || w[0].starts_with("td ")
                        || w[0].starts_with("th ")
                })
                .map(|w| w[1].to_string())
                .collect()
        })
        .collect()
}

#[test]
fn a_small_experiment_writes_three_files_that_agree() {
    let _alone = alone();
    let out = out_dir("small");
    let output = experiment(
        &[
            "--models",
            "sequential,threads",
            "--clients",
            "1,2",
            "--work",
            "sleep:20ms",
            "--cell",
            "400ms",
        ],
        &out,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let results = json(&out);
    let cells = results["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4);
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    assert_eq!(results["provenance"]["build_profile"], profile);

    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 1 + cells.len(), "{csv}");
    let columns = serverlab::experiment::report::csv::columns();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let table = html_table(&html, "sleep:20ms", "throughput");
    assert_eq!(table.len(), 2);
    // Each cell over time: one small chart per cell.
    assert!(html.contains("<table class=\"timelines\">"));
    assert_eq!(html.matches("<svg class=\"spark\"").count(), cells.len());

    for cell in cells {
        let model = cell["model"].as_str().unwrap();
        let clients = cell["clients"].as_u64().unwrap();
        let m = &cell["measurement"];
        let rps = m["throughput_rps"].as_f64().unwrap();
        let p99 = m["latency"]["p99_ms"].as_f64().unwrap();
        assert!(rps > 0.0 && m["requests"].as_u64().unwrap() > 0);
        // The timeline adds up to the cell's totals, and measuring waited for every client.
        let buckets = m["timeline"]["buckets"].as_array().unwrap();
        let ok: u64 = buckets.iter().map(|b| b["ok"].as_u64().unwrap()).sum();
        assert_eq!(ok, m["requests"].as_u64().unwrap(), "{model} {clients}");
        assert!(m["all_served_ms"].as_f64().is_some(), "{m}");
        // CSV: the same cell, the same figures.
        let row = rows
            .iter()
            .map(|r| csv_fields(r))
            .find(|f| f[1] == model && f[2] == clients.to_string())
            .expect("a CSV row per cell");
        assert_eq!(row.len(), columns);
        assert_eq!(row[4], "ok");
        assert_eq!(row[8], format!("{rps:.3}"));
        assert!(
            row[columns - 1].contains("experiment"),
            "the command that made it: {row:?}"
        );
        // HTML and terminal: the same figures, in the same words.
        let shown = format!("{} / {}", format_rps(rps), format_ms(p99));
        let html_row = table
            .iter()
            .find(|r| r[0] == model)
            .expect("an HTML row per model");
        let column = if clients == 1 { 1 } else { 2 };
        assert_eq!(html_row[column], shown, "{model} at {clients} clients");
        assert!(stdout.contains(&shown), "terminal shows {shown}: {stdout}");
    }

    // Seven charts for the one work type, each an SVG with a line per model (two in the fairness chart), clients
    // on an axis that says it is logarithmic.
    let charts: Vec<&str> = html.split("<figure class=\"chart\"").skip(1).collect();
    assert_eq!(charts.len(), 7);
    let fairness = charts
        .iter()
        .find(|c| c.starts_with(" data-chart=\"fairness\""))
        .expect("a fairness chart");
    for line in [
        "sequential fewest",
        "sequential most",
        "threads fewest",
        "threads most",
    ] {
        assert!(fairness.contains(line), "{line}: {fairness}");
    }
    for chart in charts {
        let svg = &chart[..chart.find("</figure>").unwrap()];
        assert!(svg.contains("<svg"), "{svg}");
        assert!(
            svg.matches("<polyline").count() >= 2,
            "one line per model: {svg}"
        );
        assert!(svg.contains("sequential") && svg.contains("threads"));
        assert!(svg.contains("clients (log scale)"), "{svg}");
    }
    // The binary is built with the tests, in the same profile.
    assert_eq!(
        html.contains("DEBUG BUILD"),
        cfg!(debug_assertions),
        "a debug build is marked, and only a debug build"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_sequential_server_does_what_theory_says() {
    let _alone = alone();
    let out = out_dir("physics");
    // Ten clients queue half a second of work at the start of the measured window: its completions count too.
    experiment(
        &[
            "--models",
            "sequential",
            "--clients",
            "1,10",
            "--work",
            "sleep:50ms",
            "--cell",
            "1s",
        ],
        &out,
    );
    let results = json(&out);
    for cell in results["cells"].as_array().unwrap() {
        let measured = cell["measurement"]["throughput_rps"].as_f64().unwrap();
        let predicted = cell["prediction"]["throughput_rps"].as_f64().unwrap();
        assert_eq!(predicted, 20.0);
        // One request at a time, 20 ms each: within the 25% band whatever the client count.
        assert!(
            (measured - predicted).abs() <= 0.25 * predicted,
            "measured {measured} req/s vs {predicted}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_cell_whose_server_cannot_start_is_recorded_and_the_run_goes_on() {
    let _alone = alone();
    let out = out_dir("failed");
    let output = Command::new(BIN)
        .args([
            "experiment",
            "--allow-debug",
            "--server-bin",
            "/bin/false",
            "--models",
            "threads,poll",
        ])
        .args([
            "--clients",
            "1",
            "--work",
            "none",
            "--cell",
            "200ms",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results = json(&out);
    let cells = results["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2, "both cells were tried");
    for cell in cells {
        assert!(cell["measurement"].is_null());
        assert!(
            cell["failure"]
                .as_str()
                .unwrap()
                .contains("server did not start"),
            "{cell}"
        );
    }
    assert!(
        std::fs::read_to_string(out.join("report.html"))
            .unwrap()
            .contains("server did not start")
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn ctrl_c_stops_the_run_and_still_writes_the_report() {
    let _alone = alone();
    let out = out_dir("interrupted");
    let mut child = Command::new(BIN)
        .args([
            "experiment",
            "--allow-debug",
            "--server-bin",
            BIN,
            "--models",
            "sequential,threads,poll",
        ])
        .args([
            "--clients",
            "1,2,5",
            "--work",
            "sleep:10ms",
            "--cell",
            "500ms",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until at least one cell is on disk, then interrupt.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !out.join("results.json").exists() {
        assert!(Instant::now() < deadline, "no cell finished");
        std::thread::sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("experiment did not stop after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    // Interrupted, not finished: 128 + SIGINT, as a shell reports it, once the files are written.
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results = json(&out);
    assert_eq!(results["interrupted"], true);
    let measured = results["cells"].as_array().unwrap().len();
    assert!((1..9).contains(&measured), "{measured} cells");
    let said = match measured {
        1 => "stopped early: the files hold the 1 cell measured".to_string(),
        n => format!("stopped early: the files hold the {n} cells measured"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&said), "{stdout}");
    assert!(
        std::fs::read_to_string(out.join("report.html"))
            .unwrap()
            .contains("stopped before every cell")
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn only_a_debug_build_is_refused_without_allow_debug() {
    // Quick, but it starts processes: not beside a test that times cells.
    let _alone = crate::cells::alone();
    let out = out_dir("profile");
    let output = Command::new(BIN)
        .args([
            "experiment",
            "--server-bin",
            BIN,
            "--out",
            out.to_str().unwrap(),
        ])
        .args([
            "--models",
            "sequential",
            "--clients",
            "1",
            "--work",
            "sleep:5ms",
            "--cell",
            "100ms",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The binary is built with the tests, in the same profile: a release test run checks the other branch.
    if cfg!(debug_assertions) {
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("debug build"), "{stderr}");
        assert!(!out.exists(), "nothing is written");
    } else {
        assert!(output.status.success(), "{stderr}");
        assert!(out.join("report.html").exists());
    }
    let _ = std::fs::remove_dir_all(&out);
}
