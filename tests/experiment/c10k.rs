//! `experiment --hold` (the C10K measurement, `--preset c10k`): each cell holds its clients' connections open, and
//! the results say how many each server held and what each cost it; a model at its cap holds fewer and the
//! report says so, within a bounded time. Nothing it started is left running.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cells::{alone, json, out_dir};
use crate::support::{BIN, run_cli};

/// Two cells of about 1 s, and sequential's unanswered connections failing after the hold's timeout (2 s): well
/// under this, even in a debug build on a shared machine.
const BOUND: Duration = Duration::from_secs(60);

/// The processes whose environment holds `marker`: what the experiment started, since children inherit it.
fn carrying(marker: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read(e.path().join("environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == marker.as_bytes()))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_hold_experiment_measures_what_a_held_connection_costs_and_who_held_fewer() {
    let _alone = alone();
    let out = out_dir("hold");
    let marker = format!("SERVERLAB_HOLD_TEST={}", std::process::id());
    let (name, value) = marker.split_once('=').unwrap();
    let started = Instant::now();
    let output = Command::new(BIN)
        .args(["experiment", "--allow-debug", "--server-bin", BIN, "--out"])
        .arg(&out)
        .args([
            "--hold",
            "--models",
            "poll,sequential",
            "--clients",
            "200",
            "--cell",
            "1s",
            // No work, as in the preset: with cpu:10ms one loop answers 200 exchanges in 2 s, the hold's timeout.
            "--work",
            "none",
        ])
        .env(name, value)
        .stdin(Stdio::null())
        .output()
        .expect("run serverlab experiment");
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(took < BOUND, "took {took:?}");
    assert!(
        carrying(&marker).is_empty(),
        "left running: {:?}",
        carrying(&marker)
    );

    let results = json(&out);
    assert_eq!(results["hold"], true);
    let cells = results["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    for cell in cells {
        let m = &cell["measurement"];
        assert!(m.is_object(), "{cell}");
        assert!(
            cell["prediction"]["throughput_rps"].is_null(),
            "no throughput predicted for a hold: {cell}"
        );
        let hold = &m["hold"];
        assert_eq!(hold["asked"], 200);
        let held = hold["held"].as_u64().unwrap();
        let server = &m["server"];
        let (first, holding) = (
            server["first_pss_kib"].as_u64().unwrap(),
            server["holding_pss_kib"].as_u64().unwrap(),
        );
        assert!(first > 0 && holding > 0, "{server}");
        match cell["model"].as_str().unwrap() {
            "poll" => {
                assert_eq!(held, 200, "{hold}");
                assert_eq!(hold["closed_by_server"], 0);
            }
            // One connection at a time: the rest wait in the listen queue, unanswered.
            "sequential" => {
                assert_eq!(held, 1, "{hold}");
                assert!(m["errors"]["timeout"].as_u64() > Some(0), "{m}");
            }
            other => panic!("unexpected model {other}"),
        }
    }

    // The per-connection figure is in the CSV beside the held connections.
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let (held_at, kib_at) = (column("held"), column("kib_per_connection"));
    for row in csv.lines().skip(1).filter(|r| r.contains(",poll,")) {
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(fields[held_at], "200", "{row}");
        let kib: f64 = fields[kib_at].parse().unwrap();
        // An idle connection costs an event loop a buffer and a table entry, nowhere near a thread's stack.
        assert!((0.0..64.0).contains(&kib), "poll: {kib} KiB per connection");
    }

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("data-kind=\"hold\""), "the hold table");
    assert!(!html.contains("data-kind=\"throughput\""));
    assert!(!html.contains("data-kind=\"prediction\""));
    let work = "none";
    let section = &html[html.find(&format!("data-work=\"{work}\"")).unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    let charts: Vec<&str> = section
        .split("data-chart=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(
        charts,
        ["held", "kib_per_connection", "threads", "memory"],
        "{work}"
    );
    assert!(
        section.contains("it held 200 connections, opened in"),
        "{work}: poll's finding"
    );
    assert!(
        section
            .contains("it held only 1 of 200 connections: it serves at most 1 connection at once"),
        "{work}: sequential's finding"
    );
    assert!(!section.contains("Little"), "no Little's law for a hold");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Connections held"), "{stdout}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_hold_refuses_what_has_no_connection_to_hold() {
    // Quick, but it starts processes: not beside a test that times cells.
    let _alone = crate::cells::alone();
    for (args, says) in [
        (&["--proto", "udp-echo"][..], "udp-echo"),
        (&["--proto", "daytime"][..], "daytime"),
        (&["--preset", "slowloris"][..], "slow connections"),
        (&["--keep-alive"][..], "--keep-alive"),
    ] {
        let mut all = vec!["experiment", "--allow-debug", "--hold"];
        all.extend(args);
        let output = run_cli(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
