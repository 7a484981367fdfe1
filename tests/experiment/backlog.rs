//! The classroom's full listen queue: Python's `TCPServer` keeps 5 connections waiting for `accept()`, and 20
//! clients connecting for every request overflow it. `--preset classroom` runs that exercise beside serve's own
//! backlog, and the report must say why the tail is a second long: SYN retransmission.

use crate::cells::{alone, experiment, json, out_dir};

/// The section of the report for one group (`sleep:50ms --backlog 5`), up to the next.
fn section<'a>(html: &'a str, group: &str) -> &'a str {
    let start = html
        .find(&format!("data-work=\"{group}\""))
        .unwrap_or_else(|| panic!("no section for {group}"));
    let rest = &html[start..];
    let end = rest[1..].find("data-work=\"").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

#[test]
fn the_classroom_backlog_of_5_overflows_and_the_report_names_syn_retransmission() {
    let _alone = alone();
    let out = out_dir("backlog");
    // The exercise as taught: the preset's two backlogs, the sequential server, 20 clients.
    experiment(
        &[
            "--preset",
            "classroom",
            "--models",
            "sequential",
            "--clients",
            "20",
            "--work",
            "sleep:50ms",
            "--cell",
            "1s",
        ],
        &out,
    );
    let results = json(&out);
    assert_eq!(results["proto"], "http");
    assert_eq!(results["keep_alive"], false, "a connection per request");
    assert_eq!(
        results["works"],
        serde_json::json!(["sleep:50ms --backlog 5", "sleep:50ms --backlog 1024"])
    );
    let cells = results["cells"].as_array().unwrap();
    let small = cells
        .iter()
        .find(|c| c["variant"] == "--backlog 5")
        .expect("the backlog-5 cell");
    let m = &small["measurement"];
    let overflows = m["listen_overflows"].as_u64().unwrap_or(0);
    let p99 = m["latency"]["p99_ms"].as_f64().unwrap();
    eprintln!(
        "backlog 5, 20 clients: {} req/s, p50 {} ms, p99 {p99} ms, max {} ms, {overflows} overflows, fewest {} most {}",
        m["throughput_rps"],
        m["latency"]["p50_ms"],
        m["latency"]["max_ms"],
        m["fewest_per_client"],
        m["most_per_client"]
    );
    // A dropped SYN is sent again after 1 s: the counter sees the overflow, the latencies the second.
    assert!(
        overflows > 0 || p99 >= 950.0,
        "no sign of a full queue: {m}"
    );

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let five = section(&html, "sleep:50ms --backlog 5");
    assert!(five.contains("This is SYN retransmission"), "{five}");
    assert!(five.contains("after 1 s, Linux's initial RTO"), "{five}");
    assert!(five.contains("(backlog 5)"), "{five}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_backlog_given_beside_the_classroom_preset_replaces_its_two() {
    let _alone = alone();
    let out = out_dir("backlog-flag");
    experiment(
        &[
            "--preset",
            "classroom",
            "--backlog",
            "7",
            "--models",
            "threads",
            "--clients",
            "1",
            "--work",
            "none",
            "--cell",
            "100ms",
        ],
        &out,
    );
    let results = json(&out);
    assert_eq!(results["works"], serde_json::json!(["none"]));
    assert_eq!(results["backlog"], 7);
    let cells = results["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 1);
    assert!(cells[0]["measurement"]["requests"].as_u64() > Some(0));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains(
            "listen backlog of serverlab's servers (connections waiting for accept())</th><td>7</td>"
        ),
        "the setup says which backlog"
    );
    let _ = std::fs::remove_dir_all(&out);
}
