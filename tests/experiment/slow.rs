//! The experiment with slow connections beside its clients, run in-process against real `serve` processes: a
//! pool's workers are starved, an event loop's clients are not, and the analysis says so. Variants of the servers
//! are groups of their own, each cell recording which it was.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serverlab::experiment::analysis::analyse;
use serverlab::experiment::run::{ExperimentConfig, Quiet, Variant, run};
use serverlab::models::Model;
use serverlab::protocol::Proto;

#[test]
fn slow_connections_starve_the_pool_and_a_header_deadline_frees_it() {
    let _alone = crate::cells::alone();
    let mut config = ExperimentConfig::new(crate::support::BIN.into());
    config.proto = Proto::Http;
    config.models = vec![Model::Pool, Model::Poll];
    config.clients = vec![2];
    config.works = vec!["sleep:10ms".parse().unwrap()];
    config.cell = Duration::from_millis(1500);
    config.keep_alive = true;
    // As many as the pool has workers (8 by default).
    config.slow = 8;
    // The slowloris preset's two variants, with a deadline short enough for a short cell.
    config.variants = vec![
        Variant::new(&["--header-timeout", "off"]),
        Variant::new(&["--header-timeout", "300ms"]),
    ];
    let results = run(&config, &Arc::new(AtomicBool::new(false)), &mut Quiet).unwrap();
    assert_eq!(
        results.works,
        [
            "sleep:10ms --header-timeout off",
            "sleep:10ms --header-timeout 300ms"
        ]
    );
    assert_eq!(results.cells.len(), 4);
    for cell in &results.cells {
        assert!(cell.failure.is_none(), "{:?}", cell.failure);
        assert_eq!(cell.slow, 8);
        let m = cell.measurement.as_ref().unwrap();
        let slow = m.slow.as_ref().expect("the slow connections' report");
        assert!(slow.opened >= 8, "{slow:?}");
        let deadline = cell.variant == "--header-timeout 300ms";
        if deadline {
            assert!(
                slow.closed_by_server > 0,
                "the deadline closed none: {slow:?}"
            );
            assert!(slow.answered.contains_key(&408), "{slow:?}");
        } else {
            assert_eq!(
                slow.closed_by_server, 0,
                "no deadline, yet closed: {slow:?}"
            );
        }
        match (cell.model.model(), deadline) {
            (Some(Model::Pool), false) => {
                assert_eq!(m.requests, 0, "every worker held by a slow connection")
            }
            (Some(Model::Pool), true) => assert!(m.requests > 0, "the deadline freed no worker"),
            _ => assert!(m.requests > 20, "poll served beside them: {}", m.requests),
        }
    }
    let keys = analyse(&results).keys();
    assert!(keys.contains(&"slow_starved"), "{keys:?}");
    assert!(keys.contains(&"slow_freed"), "{keys:?}");
    assert!(keys.contains(&"slow_unharmed"), "{keys:?}");
}

#[test]
fn the_slowloris_preset_needs_http_and_cells_have_a_range() {
    // Quick, but it starts processes: not beside a test that times cells.
    let _alone = crate::cells::alone();
    let out = crate::support::run_cli(&["experiment", "--allow-debug", "--cell", "0s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--cell") && stderr.contains("1ms to 1day"),
        "{stderr}"
    );

    let out = crate::support::run_cli(&[
        "experiment",
        "--allow-debug",
        "--preset",
        "slowloris",
        "--proto",
        "echo",
        "--out",
        "/nonexistent",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("need --proto http"), "{stderr}");
}
