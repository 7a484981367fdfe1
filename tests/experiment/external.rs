//! `--server NAME=COMMAND`: a server that is not ours, started by its command, measured in the same cells as our
//! models; one that never listens fails its cells with its reason and its stderr, and the run goes on; one that
//! ignores SIGTERM is killed, and nothing of it is left.

use std::collections::BTreeSet;
use std::process::Command;

use crate::cells::{alone, experiment, json, out_dir};

/// The classroom's scripts, in the repository.
fn classroom(script: &str) -> String {
    format!("{}/classroom/{script}", env!("CARGO_MANIFEST_DIR"))
}

/// Whether any live process's command line holds `marker`.
fn running(marker: &str) -> bool {
    let out = Command::new("pgrep").args(["-f", marker]).output().unwrap();
    !String::from_utf8_lossy(&out.stdout).trim().is_empty()
}

#[test]
fn an_external_server_is_measured_beside_a_model_and_a_broken_one_fails_alone() {
    let _alone = alone();
    let out = out_dir("external");
    let threading = format!(
        "py-threading=exec python3 {} --port {{port}} --proto {{proto}} --work {{work}}",
        classroom("threading_server.py")
    );
    // Writes its reason, then never listens.
    let deaf = "deaf=: told port {port}; echo 'deaf: cannot bind, giving up' >&2; exec sleep 60";
    // Serves (Python's own http.server), but ignores SIGTERM: only SIGKILL stops it. The marker finds it afterwards.
    let marker = format!("stubborn-{}", std::process::id());
    let stubborn = format!(
        "stubborn=python3 -c \"import signal, http.server as h; signal.signal(signal.SIGTERM, signal.SIG_IGN); \
         h.HTTPServer(('127.0.0.1', {{port}}), h.SimpleHTTPRequestHandler).serve_forever()\" {marker}"
    );
    let output = experiment(
        &[
            "--proto",
            "http",
            "--models",
            "threads",
            "--server",
            &threading,
            "--server",
            deaf,
            "--server",
            &stubborn,
            "--server-k",
            "py-threading=unlimited",
            "--clients",
            "1,2",
            "--work",
            "sleep:10ms",
            "--cell",
            "300ms",
            // Enough for Python to start on a busy machine; the deaf server waits it out twice.
            "--start-timeout",
            "3s",
        ],
        &out,
    );
    let results = json(&out);
    assert_eq!(
        results["models"],
        serde_json::json!(["threads", "py-threading", "deaf", "stubborn"])
    );
    let cells = results["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 8, "every cell was tried");
    let of = |name: &str| -> Vec<&serde_json::Value> {
        cells.iter().filter(|c| c["model"] == name).collect()
    };

    // Ours and theirs: measured, with the same columns, and the Python one predicted from its --server-k.
    let columns = |cell: &serde_json::Value| -> BTreeSet<String> {
        cell["measurement"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let reference = columns(of("threads")[0]);
    for cell in of("threads").into_iter().chain(of("py-threading")) {
        assert!(cell["measurement"]["requests"].as_u64() > Some(0), "{cell}");
        assert!(
            cell["measurement"]["killed"].is_null(),
            "stopped by SIGTERM: {cell}"
        );
        assert_eq!(columns(cell), reference, "same columns: {cell}");
    }
    for cell in of("py-threading") {
        let sample = &cell["measurement"]["server"];
        assert!(
            sample["readings"].as_u64() > Some(0),
            "its process tree was sampled"
        );
        assert!(
            sample["peak_rss_kib"].as_u64() > Some(1000),
            "a Python process: {sample}"
        );
        assert!(cell["prediction"]["throughput_rps"].as_f64().is_some());
    }
    for cell in of("stubborn") {
        assert!(cell["measurement"]["requests"].as_u64() > Some(0), "{cell}");
        assert_eq!(
            cell["measurement"]["killed"], true,
            "SIGTERM ignored, SIGKILL sent: {cell}"
        );
        assert!(
            cell["prediction"]["throughput_rps"].is_null(),
            "no --server-k, no prediction"
        );
    }
    assert!(
        !running(&marker),
        "the server that ignored SIGTERM was killed"
    );

    // The deaf one: its reason and its last words, and the run went on past it.
    for cell in of("deaf") {
        assert!(cell["measurement"].is_null());
        let why = cell["failure"].as_str().unwrap();
        assert!(why.contains("deaf did not accept on 127.0.0.1:"), "{why}");
        assert!(why.contains("cannot bind, giving up"), "{why}");
        assert!(
            cell["stderr"]
                .as_str()
                .unwrap()
                .contains("deaf: cannot bind"),
            "{cell}"
        );
    }
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 8);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("server started by command: py-threading"),
        "the command is listed"
    );
    assert!(
        html.contains("--server-k NAME=K gives it"),
        "stubborn's missing prediction is explained"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("py-threading") && stdout.contains("deaf"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn bad_server_flags_are_usage_errors() {
    // Quick, but it starts processes: not beside a test that times cells.
    let _alone = crate::cells::alone();
    for (args, says) in [
        (vec!["--server", "no-equals-sign"], "NAME=COMMAND"),
        (vec!["--server", "poll=cat"], "one of serverlab's models"),
        (vec!["--server", "a b=cat"], "letters, digits"),
        (
            vec!["--server", "x=cat", "--server-k", "y=2"],
            "no --server has that name",
        ),
        (vec!["--server", "x=cat", "--server-k", "x=0"], "1 or more"),
        (
            vec!["--server", "x=cat", "--server", "x=dog"],
            "given twice",
        ),
        (
            vec!["--server", "x=cat", "--server-cpus", "9-2"],
            "--server-cpus",
        ),
        (
            vec!["--server", "x=cat", "--load-cpus", "1000"],
            "not one this process may use",
        ),
        (
            vec!["--server", "x=cat", "--preset", "slowloris"],
            "measure it apart",
        ),
        // Refused before the preset writes its scripts into --out (which cannot be created here).
        (
            vec!["--preset", "python", "--clients", "0"],
            "--clients must be at least 1",
        ),
    ] {
        let output = Command::new(crate::support::BIN)
            .args([
                "experiment",
                "--allow-debug",
                "--out",
                "/nonexistent/never-written",
            ])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
}
