//! `--preset python`: the GIL lesson, measured. On 2 cores, with 5 clients computing (cpu:10ms in pure Python),
//! CPython's threads take turns on one core, so the thread server does no better than the sequential one, while
//! processes compute on both cores; and the analysis names the global lock. These are bounds CPython and the
//! cores fix, not tuning: one GIL computes on at most one core, processes on more.

use crate::cells::{alone, experiment, json, out_dir};

#[test]
fn python_threads_compute_on_one_core_and_processes_on_two() {
    assert!(
        serverlab::system::cpus() >= 2,
        "the lesson needs 2 cores: this machine has {}",
        serverlab::system::cpus()
    );
    let _alone = alone();
    let out = out_dir("python");
    experiment(
        &[
            "--preset",
            "python",
            "--models",
            "threads",
            "--clients",
            "5",
            "--work",
            "cpu:10ms",
            "--cell",
            "2s",
        ],
        &out,
    );
    assert!(
        out.join("classroom/threading_server.py").is_file(),
        "the scripts are kept with the report"
    );
    let results = json(&out);
    let cell = |name: &str| -> &serde_json::Value {
        results["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["model"] == name)
            .unwrap_or_else(|| panic!("no cell for {name}"))
    };
    let rps = |name: &str| -> f64 {
        cell(name)["measurement"]["throughput_rps"]
            .as_f64()
            .unwrap_or_else(|| panic!("{name} failed: {}", cell(name)["failure"]))
    };
    let sequential = rps("py-sequential");
    let threading = rps("py-threading");
    // Either kind of process server makes the point; one of them failing does not unmake it.
    let processes = ["py-forking", "py-processes"]
        .iter()
        .filter_map(|name| cell(name)["measurement"]["throughput_rps"].as_f64())
        .fold(0.0, f64::max);
    // Another program on these 2 cores would leave no second core to show: say so rather than blame CPython.
    let busy = cell("py-threading")["measurement"]["machine_cpu_cores"].as_f64();
    // Every request computes until it has used 10 ms of CPU time: one core serves at most 100 a second. Bounds
    // against that, not against the sequential server's cell, which anything else running on the machine slows
    // (it once measured 65 req/s beside a build, and the threads' 91 looked like more than one core's worth).
    let one_core = 100.0;
    assert!(
        threading <= 1.3 * one_core,
        "threads under the GIL: {threading:.1} req/s, above what one core computes ({one_core}); \
         sequential {sequential:.1}"
    );
    assert!(
        processes >= 1.15 * one_core,
        "processes on 2 cores: {processes:.1} req/s, not above what one core computes ({one_core}); \
         sequential {sequential:.1} (the machine kept {busy:?} cores busy during the thread server's cell)"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    // Both thread servers (threading, ThreadPoolExecutor) take turns on one core; the conclusion names the one
    // that served more of the two, which their timing, not CPython, decides.
    let named = ["py-threading served", "py-pool served"]
        .iter()
        .any(|phrase| html.contains(phrase));
    assert!(
        named && html.contains("as CPython's GIL makes them"),
        "the conclusion names a thread server and the global lock: {}",
        conclusion(&html)
    );
    assert!(
        html.contains("as under a global lock"),
        "a thread server's finding names the lock"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// The report's conclusion, for a failure message.
fn conclusion(html: &str) -> &str {
    html.find("class=\"findings conclusion\"")
        .map_or("no conclusion", |at| &html[at..(at + 3000).min(html.len())])
}
