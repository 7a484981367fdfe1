//! `--server-cpu-quota`: every server of the run is held to a share of a core, whatever its model, so that its
//! requests per second are what that share buys; the group is gone when the run is. With `--load-io uring` the
//! load comes from the generator's io_uring clients.

use std::process::{Command, Stdio};

use crate::cells::{alone, json, out_dir};
use crate::support::BIN;

#[test]
fn a_server_held_to_a_quota_serves_what_its_share_of_a_core_buys() {
    let _alone = alone();
    let out = out_dir("quota");
    let child = Command::new(BIN)
        .args(["experiment", "--allow-debug", "--server-bin", BIN, "--out"])
        .arg(&out)
        .args([
            "--models",
            "threads",
            "--work",
            "cpu:10ms",
            "--clients",
            "4",
            "--keep-alive",
            "--cell",
            "1s",
            "--server-cpu-quota",
            "0.25",
            "--load-io",
            "uring",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results = json(&out);
    assert_eq!(results["server_cpu_quota"], 0.25);
    assert_eq!(results["load_io"], "uring");
    let m = &results["cells"][0]["measurement"];
    let throughput = m["throughput_rps"].as_f64().unwrap();
    let cores = m["server_cpu_cores"].as_f64().unwrap();
    // 10 ms of computing a request on a quarter of a core: 25 requests/s at most (unconfined, four threads on
    // this machine's cores do several times that). 50 and half a core keep a 2x margin.
    assert!(throughput > 0.0 && throughput <= 50.0, "{throughput} req/s");
    assert!(cores <= 0.5, "{cores} cores");
    assert_eq!(
        results["cells"][0]["prediction"]["throughput_rps"], 25.0,
        "the prediction counts a quarter of a core's time"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("that wait is in the latencies")
            && html.contains("the analysis counts whole cores"),
        "the report says what a quota does to latencies and predictions"
    );
    for root in ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup"] {
        let group = std::path::Path::new(root).join(format!("serverlab-{pid}"));
        assert!(!group.exists(), "{} is left", group.display());
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn quotas_and_io_it_cannot_have_are_usage_errors() {
    for (args, says) in [
        (
            &["--server-cpu-quota", "0"][..],
            "--server-cpu-quota must be between 0.1 and",
        ),
        (
            &["--server-cpu-quota", "1000"][..],
            "--server-cpu-quota must be between",
        ),
        (
            &["--proto", "udp-echo", "--load-io", "uring"][..],
            "udp-echo runs on epoll",
        ),
    ] {
        let out = Command::new(BIN)
            .args([
                "experiment",
                "--allow-debug",
                "--models",
                "poll",
                "--clients",
                "1",
            ])
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
}
