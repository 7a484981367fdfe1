//! Every kind of finding, said in both languages with sample figures: no placeholder or "(s)" is left, the two
//! languages quote the same figures, and words agree with their numbers.

use std::time::Duration;

use super::*;
use crate::experiment::subject::Subject;
use crate::models::Model;

/// One finding of every kind, its counts all `n` (1 and 8 test both forms of every agreeing word).
fn every_kind(n: usize) -> Vec<Finding> {
    let count = n as u64;
    let d = Duration::from_millis(50);
    let work = || "sleep:50ms".to_string();
    let misses: Vec<Finding> = vec![
        Miss::Cell {
            model: Subject::Model(Model::Threads),
            clients: n,
            measured: 165.5,
            predicted: 200.0,
            reasons: vec![
                MissReason::GeneratorCrowding {
                    server_cores: 1.25,
                    generator_cores: 0.62,
                    cores: n,
                },
                MissReason::OtherProcesses {
                    other_cores: 0.75,
                    machine_cores: 1.9,
                    cores: n,
                },
                MissReason::IdleCores {
                    server_cores: 1.64,
                    could_use: 2.0,
                    machine_cores: 1.7,
                    cores: n,
                },
                MissReason::ServerOverhead {
                    cpu_per_request_ms: 11.15,
                    work_ms: 10.0,
                },
                MissReason::ConnectionSetup {
                    per_request_ms: 53.2,
                    work_ms: 50.0,
                },
                MissReason::NotAllServed {
                    clients: n,
                    measured_from_ms: 5200,
                },
                MissReason::ListenOverflow { overflows: count },
                MissReason::Errors { failed: count },
                MissReason::SlowConnections { connections: n },
                MissReason::OneCore {
                    threads: count,
                    server_cores: 1.01,
                },
            ],
        }
        .into(),
        Miss::Cell {
            model: Subject::Model(Model::Pool),
            clients: n,
            measured: 250.0,
            predicted: 200.0,
            reasons: Vec::new(),
        }
        .into(),
        Miss::Summary {
            cells: 12 * n,
            within_miss: 9 * n,
            within_close: 11 * n,
            misses: 3 * n,
            explained: 2 * n,
        }
        .into(),
    ];
    let model: Vec<Finding> = vec![
        ModelFinding::CellFailed {
            clients: n,
            why: "server did not start".into(),
        },
        ModelFinding::Scales {
            first_rps: 19.5,
            first_clients: n,
            last_rps: 195.0,
            last_clients: 10 * n,
            growth: 10.0,
            client_growth: 10.0,
        },
        ModelFinding::Flat {
            rps: 19.5,
            first_clients: n,
            last_clients: 10 * n,
        },
        ModelFinding::Plateau {
            knee_clients: n,
            rps: 160.0,
        },
        ModelFinding::BlockingLoop {
            per_request: d,
            bound_rps: 20.0,
        },
        ModelFinding::Serialised {
            per_request: d,
            bound_rps: 20.0,
        },
        ModelFinding::BoundCores {
            used_cores: 1.95,
            cores: n,
            per_request: d,
            bound_rps: 40.0,
        },
        ModelFinding::BoundConcurrency {
            concurrency: n,
            per_request: d,
            bound_rps: 160.0,
        },
        ModelFinding::BoundGenerator {
            generator_cores: 1.9,
            clients: n,
        },
        ModelFinding::LatencyQueue {
            first_p99_ms: 51.2,
            first_clients: n,
            last_p99_ms: 520.5,
            last_clients: 10 * n,
        },
        ModelFinding::LatencySteady {
            lowest_p99_ms: 51.2,
            highest_p99_ms: 53.7,
        },
        ModelFinding::LittlesLawHolds {
            clients: n,
            rps: 19.5,
            mean_ms: 51.2,
            implied_clients: 1.0,
            tolerance_pct: 10.0,
        },
        // Every reason at 8; none at 1 (the sentence that says so).
        ModelFinding::LittlesLawOff {
            clients: n,
            rps: 19.5,
            mean_ms: 20.2,
            implied_clients: 0.4,
            tolerance_pct: 10.0,
            in_flight: if n == 1 { 0 } else { count },
            window_s: 0.3,
            short_window: n > 1,
            failed: if n == 1 { 0 } else { count },
            connect_per_request: n > 1,
        },
        ModelFinding::Errors {
            clients: n,
            failed: count,
            by_kind: vec![("timeout".into(), count)],
        },
        ModelFinding::ListenOverflow {
            clients: n,
            overflows: count,
        },
        // With only the step in the latencies (1), and with overflows too few to reach the p99 (8); the two
        // together are in tests/experiment/backlog.rs.
        ModelFinding::SynRetransmission {
            clients: n,
            backlog: 5,
            overflows: if n == 1 { 0 } else { count },
            step: n == 1,
            p50_ms: 353.5,
            p99_ms: 1360.2,
        },
        ModelFinding::Starvation {
            clients: 2 * n,
            fewest: count,
            most: 39,
        },
        ModelFinding::Unfinished {
            clients: n,
            waiting: count,
            oldest_ms: 1500.0,
        },
        ModelFinding::Resources {
            clients: n,
            threads: count,
            processes: count,
            pss_mib: 5.9,
            cpu_cores: 0.05,
        },
        ModelFinding::OffPrediction {
            clients: (1..=n).collect(),
        },
        ModelFinding::GlobalLock {
            clients: n,
            threads: count,
            most_cores: 1.02,
            cores: n,
        },
        ModelFinding::OneLoop {
            clients: n,
            most_cores: 0.98,
            cores: n,
        },
        ModelFinding::Held {
            clients: 1000 * n,
            held: 1000 * count,
            open_s: 0.42,
            kib_per_connection: 0.21,
            threads: count,
            processes: count,
        },
        // A cap and an overflowing queue (1), a server that closed what it held (8).
        ModelFinding::HeldFewer {
            clients: 200 * n,
            asked: 200 * count,
            held: count,
            concurrency: Some(n),
            threads: count,
            processes: count,
            closed: if n == 1 { 0 } else { count },
            overflows: count,
        },
    ]
    .into_iter()
    .map(Finding::from)
    .collect();
    let slow: Vec<Finding> = vec![
        SlowFinding::Starved {
            slow: n,
            rps: 0.0,
            clients: n,
            expected_rps: 800.0,
            starved_cells: n,
            cells: n,
        },
        SlowFinding::StarvedDeadline {
            deadline: "1s".into(),
            slow: n,
            rps: 0.5,
            clients: n,
            expected_rps: 800.0,
        },
        SlowFinding::Freed {
            deadline: "1s".into(),
            closed: count,
            first_close_s: 1.01,
            last_close_s: 1.02,
            answered: count,
            statuses: vec![408],
            rps: 600.0,
            clients: n,
            rps_without_deadline: 0.0,
        },
        SlowFinding::Unharmed {
            slow: n,
            rps: 950.0,
            clients: n,
        },
        SlowFinding::Summary {
            slow: n,
            starved: vec![Subject::Model(Model::Pool)],
            serving: vec![],
        },
    ]
    .into_iter()
    .map(Finding::from)
    .collect();
    let comparison: Vec<Finding> = vec![
        Comparison::Best {
            clients: n,
            best: Subject::Model(Model::Threads),
            best_rps: 195.0,
            worst: Subject::Model(Model::Sequential),
            worst_rps: 19.5,
        },
        Comparison::Tie {
            clients: n,
            models: vec![Subject::Model(Model::Poll), Subject::Model(Model::Async)],
            best_rps: 1999.0,
            last_rps: 1940.0,
            noise_pct: 5.0,
            measured: n > 1,
            worst: (n > 1).then_some((Subject::Model(Model::Sequential), 19.5)),
        },
        Comparison::Lightest {
            model: Subject::Model(Model::Poll),
            threads: count,
            pss_mib: 2.5,
        },
        Comparison::ThreadsHelped {
            ratio: 9.8,
            clients: n,
        },
        Comparison::ThreadsHelpedCores {
            ratio: 1.9,
            clients: n,
            cores: n,
        },
        Comparison::ThreadsNoHelpCpu {
            ratio: 1.1,
            clients: n,
            cores: n,
            ceiling_rps: 200.0,
        },
        Comparison::ThreadsNoHelp {
            ratio: 1.1,
            clients: n,
        },
        Comparison::SequentialLesson {
            sequential_rps: 19.5,
            clients: n,
            best: Subject::Model(Model::Threads),
            best_rps: 195.0,
        },
        Comparison::CpuCeiling {
            ceiling_rps: 200.0,
            cores: n,
            per_request: d,
            best_rps: 190.0,
        },
        // Alone and with nobody short (1); beside a dearer one and those that held fewer (8).
        Comparison::CheapestPerConnection {
            clients: 1000 * n,
            model: Subject::Model(Model::Poll),
            kib: 0.21,
            dearest: (n > 1).then_some((Subject::Model(Model::Threads), 12.5)),
            fewer: if n == 1 {
                Vec::new()
            } else {
                vec![
                    Subject::Model(Model::Sequential),
                    Subject::Model(Model::Pool),
                ]
            },
        },
    ]
    .into_iter()
    .map(Finding::from)
    .collect();
    let choice: Vec<Finding> = vec![
        Choice::Io {
            work: work(),
            model: Subject::Model(Model::Threads),
            rps: 195.0,
            clients: n,
        },
        Choice::Cpu {
            work: work(),
            model: Subject::Model(Model::Pool),
            rps: 190.0,
            ceiling_rps: 200.0,
        },
        Choice::Block {
            work: work(),
            model: Subject::Model(Model::Threads),
            rps: 195.0,
        },
        Choice::Tie {
            work: work(),
            models: vec![Subject::Model(Model::Poll), Subject::Model(Model::Async)],
            best_rps: 1999.0,
            last_rps: 1940.0,
            repeats: n,
            suggested: 5,
        },
        Choice::NoWork {
            work: work(),
            model: Subject::Model(Model::Poll),
            rps: 12500.0,
            clients: n,
        },
        Choice::Theirs {
            work: work(),
            best: "py-threading".parse().unwrap(),
            rps: 95.5,
            clients: n,
            computing: false,
            locked: None,
        },
        Choice::Theirs {
            work: "cpu:10ms".into(),
            best: "py-forking".parse().unwrap(),
            rps: 180.5,
            clients: n,
            computing: true,
            locked: Some(("py-threading".parse().unwrap(), 97.5)),
        },
    ]
    .into_iter()
    .map(Finding::from)
    .collect();
    [model, slow, comparison, choice, misses].concat()
}

/// The figures a sentence quotes, written the English way: `1,5` and `12.345` in Portuguese read as `1.5`
/// and `12345`.
fn figures(text: &str, lang: Lang) -> Vec<String> {
    let mut figures: Vec<String> = text
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .map(|word| word.trim_matches(|c| c == '.' || c == ','))
        .filter(|word| word.starts_with(|c: char| c.is_ascii_digit()))
        .map(|word| match lang {
            Lang::En => word.replace(',', ""),
            Lang::Pt => word.replace('.', "").replace(',', "."),
        })
        .collect();
    figures.sort();
    figures
}

#[test]
fn every_kind_says_itself_in_both_languages_with_every_figure() {
    let kinds = every_kind(1);
    let mut keys: Vec<&str> = kinds.iter().map(Finding::key).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), kinds.len(), "two samples of one kind");
    assert_eq!(keys.len(), 49, "a kind without a sample here");
    for n in [1, 8] {
        for finding in every_kind(n) {
            let (en, pt) = (finding.render(Lang::En), finding.render(Lang::Pt));
            for text in [&en, &pt] {
                assert!(!text.contains(['{', '}']), "placeholder left: {text}");
                for guess in ["(s)", "(es)", "(ões)"] {
                    assert!(!text.contains(guess), "{guess} left: {text}");
                }
                assert!(!text.contains("  "), "an empty word: {text}");
            }
            assert_ne!(en, pt, "{}", finding.key());
            assert_eq!(
                figures(&en, Lang::En),
                figures(&pt, Lang::Pt),
                "{en} / {pt}"
            );
        }
    }
}

#[test]
fn numbers_are_written_the_way_each_language_writes_them() {
    let flat = Finding::from(ModelFinding::Flat {
        rps: 7.5,
        first_clients: 1,
        last_clients: 12345,
    });
    assert_eq!(
        flat.render(Lang::En),
        "Throughput stayed near 7.5 req/s from 1 to 12,345 clients: adding clients did not add throughput."
    );
    let pt = flat.render(Lang::Pt);
    assert!(pt.contains("7,5 req/s de 1 a 12.345 clientes"), "{pt}");
    let errors = Finding::from(ModelFinding::Errors {
        clients: 10,
        failed: 1201,
        by_kind: vec![("timeout".into(), 1200), ("reset".into(), 1)],
    });
    assert!(
        errors
            .render(Lang::En)
            .contains("(timeout: 1200, connection reset: 1)"),
        "{}",
        errors.render(Lang::En)
    );
    assert!(
        errors
            .render(Lang::Pt)
            .contains("(tempo esgotado: 1200, conexão reiniciada (reset): 1)"),
        "{}",
        errors.render(Lang::Pt)
    );
}

#[test]
fn words_agree_with_their_numbers_in_each_language() {
    let unharmed = |slow: usize, clients: usize| {
        Finding::from(SlowFinding::Unharmed {
            slow,
            rps: 120.0,
            clients,
        })
    };
    let one = unharmed(1, 1).render(Lang::En);
    assert!(
        one.starts_with("Beside 1 slow connection it still served 120 req/s at 1 client:"),
        "{one}"
    );
    let many = unharmed(8, 10).render(Lang::En);
    assert!(
        many.starts_with("Beside 8 slow connections it still served 120 req/s at 10 clients:"),
        "{many}"
    );
    let um = unharmed(1, 1).render(Lang::Pt);
    assert!(
        um.starts_with("Ao lado de 1 conexão lenta ainda atendeu 120 req/s com 1 cliente:"),
        "{um}"
    );
    let varios = unharmed(8, 10).render(Lang::Pt);
    assert!(
        varios.starts_with("Ao lado de 8 conexões lentas ainda atendeu 120 req/s com 10 clientes:"),
        "{varios}"
    );
    let failed = |n: u64| {
        Finding::from(ModelFinding::Errors {
            clients: 1,
            failed: n,
            by_kind: vec![("timeout".into(), n)],
        })
    };
    assert!(
        failed(1)
            .render(Lang::Pt)
            .starts_with("Com 1 cliente, 1 requisição falhou")
    );
    assert!(
        failed(2)
            .render(Lang::Pt)
            .starts_with("Com 1 cliente, 2 requisições falharam")
    );
}

#[test]
fn a_hold_finding_says_how_many_were_held_and_what_each_cost() {
    let held = Finding::from(ModelFinding::Held {
        clients: 5000,
        held: 5000,
        open_s: 0.42,
        kib_per_connection: 0.21,
        threads: 1,
        processes: 1,
    });
    assert_eq!(
        held.render(Lang::En),
        "At 5000 clients it held 5000 connections, opened in 0.42 s, at 0.21 KiB (PSS) per connection, with 1 thread in 1 process."
    );
    assert_eq!(
        held.render(Lang::Pt),
        "Com 5000 clientes manteve 5000 conexões, abertas em 0,42 s, a 0,21 KiB (PSS) por conexão, com 1 thread em 1 processo."
    );
    let fewer = Finding::from(ModelFinding::HeldFewer {
        clients: 200,
        asked: 200,
        held: 1,
        concurrency: Some(1),
        threads: 1,
        processes: 1,
        closed: 0,
        overflows: 0,
    });
    assert_eq!(
        fewer.render(Lang::En),
        "At 200 clients it held only 1 of 200 connections: it serves at most 1 connection at once (it ran 1 thread in 1 process), so the others waited unanswered in the listen queue until the client gave up."
    );
    let none = Finding::from(Comparison::CheapestPerConnection {
        clients: 10000,
        model: Subject::Model(Model::Poll),
        kib: 0.5,
        dearest: Some((Subject::Model(Model::Async), 1.25)),
        fewer: vec![Subject::Model(Model::Sequential)],
    });
    assert_eq!(
        none.render(Lang::En),
        "At 10,000 clients, of the servers that held every connection, poll paid least for one: 0.50 KiB (PSS), and async most: 1.25 KiB. The server sequential held fewer: its cost per connection is not comparable."
    );
}
