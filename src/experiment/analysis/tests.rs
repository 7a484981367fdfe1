//! The rules against results built by hand: opposite results read differently, slow connections starve the
//! models they should, and every finding says itself in both languages.

use super::*;
use crate::experiment::catalog::Lang;
use crate::experiment::predict::{ModelLimits, Prediction, predict};
use crate::experiment::results::{Cell, Latency};
use crate::experiment::sampler::ServerSample;
use crate::experiment::subject::Subject;
use crate::models::Model;
use crate::protocol::Proto;
use crate::work::Work;

const LIMITS: ModelLimits = ModelLimits {
    workers: 8,
    max_conns: 1024,
    offload: None,
};

pub(super) fn measurement(clients: usize, rps: f64, fewest: u64) -> Measurement {
    let mean_ms = clients as f64 / rps * 1000.0;
    Measurement {
        requests: (rps * 2.0) as u64,
        errors: Default::default(),
        duration_s: 2.0,
        throughput_rps: rps,
        latency: Latency {
            min_ms: mean_ms / 2.0,
            mean_ms,
            p50_ms: mean_ms,
            p90_ms: mean_ms,
            p99_ms: mean_ms * 1.2,
            p999_ms: mean_ms * 1.3,
            max_ms: mean_ms * 1.5,
        },
        histogram: String::new(),
        fewest_per_client: fewest,
        most_per_client: fewest.max(1) * 2,
        unfinished: 0,
        oldest_unfinished_ms: 0.0,
        server: ServerSample {
            cpu_s: 0.1,
            wall_s: 2.0,
            peak_threads: 1 + clients as u64,
            peak_rss_kib: 8000,
            peak_pss_kib: 6000,
            peak_processes: 1,
            readings: 10,
            ..ServerSample::default()
        },
        server_cpu_cores: 0.05,
        voluntary_context_switches: 100,
        involuntary_context_switches: 1,
        generator_cpu_cores: 0.1,
        generator_threads: clients.min(2),
        socket_memory_kib: Some(100),
        listen_overflows: Some(0),
        slow: None,
        timeline: Default::default(),
        // Every client served once, 10 ms into the cell.
        all_served_ms: Some(10.0),
        machine_cpu_cores: None,
        killed: false,
        hold: None,
    }
}

/// Sequential and threads under sleep:50ms; `threads_rps(clients)` says what threads achieved.
pub(super) fn results(threads_rps: impl Fn(usize) -> f64) -> Results {
    let work = Work::Sleep(std::time::Duration::from_millis(50));
    let mut cells = Vec::new();
    for clients in [1, 2, 5, 10] {
        for (model, rps, fewest) in [
            (
                Subject::Model(Model::Sequential),
                19.5,
                if clients > 1 { 0 } else { 39 },
            ),
            (Subject::Model(Model::Threads), threads_rps(clients), 30),
        ] {
            cells.push(Cell {
                work: "sleep:50ms".into(),
                model,
                clients,
                repeat: 0,
                variant: String::new(),
                slow: 0,
                prediction: predict(model.model().unwrap(), LIMITS, work, clients, 2.0),
                measurement: Some(measurement(clients, rps, fewest)),
                failure: None,
                stderr: None,
            });
        }
    }
    Results::for_tests(
        Proto::Echo,
        vec![
            Subject::Model(Model::Sequential),
            Subject::Model(Model::Threads),
        ],
        vec![1, 2, 5, 10],
        &["sleep:50ms"],
        2.0,
        cells,
    )
}

/// Pool and poll under sleep:10ms beside 8 slow connections, without and with a 1 s header deadline:
/// `pool_rps(deadline, clients)` says what pool achieved.
fn slowloris(pool_rps: impl Fn(bool, usize) -> f64) -> Results {
    use crate::load::SlowReport;
    let work = Work::Sleep(std::time::Duration::from_millis(10));
    let mut cells = Vec::new();
    for deadline in [false, true] {
        for clients in [1, 2, 5, 10] {
            for (model, rps) in [
                (Subject::Model(Model::Pool), pool_rps(deadline, clients)),
                (Subject::Model(Model::Poll), 95.0 * clients as f64),
            ] {
                let mut m = measurement(clients, rps.max(1e-3), 1);
                m.throughput_rps = rps;
                m.requests = (rps * 2.0) as u64;
                let mut slow = SlowReport {
                    connections: 8,
                    opened: 8,
                    ..SlowReport::default()
                };
                if deadline {
                    for _ in 0..16 {
                        slow.record_close(1_010_000, Some(408));
                    }
                } else {
                    slow.open_at_end = 8;
                }
                m.slow = Some(slow);
                cells.push(Cell {
                    work: "sleep:10ms".into(),
                    model,
                    clients,
                    repeat: 0,
                    variant: format!("--header-timeout {}", if deadline { "1s" } else { "off" }),
                    slow: 8,
                    prediction: predict(model.model().unwrap(), LIMITS, work, clients, 2.0),
                    measurement: Some(m),
                    failure: None,
                    stderr: None,
                });
            }
        }
    }
    Results {
        keep_alive: true,
        slow: 8,
        ..Results::for_tests(
            Proto::Http,
            vec![Subject::Model(Model::Pool), Subject::Model(Model::Poll)],
            vec![1, 2, 5, 10],
            &[
                "sleep:10ms --header-timeout off",
                "sleep:10ms --header-timeout 1s",
            ],
            3.0,
            cells,
        )
    }
}

pub(super) fn findings_of<'a>(
    analysis: &'a Analysis,
    group: &str,
    model: Subject,
) -> Vec<&'a Finding> {
    let work = analysis.works.iter().find(|w| w.work == group).unwrap();
    let model = work.models.iter().find(|m| m.model == model).unwrap();
    model.findings.iter().collect()
}

#[test]
fn slow_connections_starve_a_pool_not_an_event_loop_and_a_deadline_frees_it() {
    let analysis = analyse(&slowloris(|deadline, clients| {
        if deadline { 60.0 * clients as f64 } else { 0.0 }
    }));
    let (off, on) = (
        "sleep:10ms --header-timeout off",
        "sleep:10ms --header-timeout 1s",
    );
    let keys = |group, model| -> Vec<&str> {
        findings_of(&analysis, group, model)
            .iter()
            .map(|f| f.key())
            .collect()
    };
    assert!(
        keys(off, Subject::Model(Model::Pool)).contains(&"slow_starved"),
        "{:?}",
        keys(off, Subject::Model(Model::Pool))
    );
    assert!(keys(off, Subject::Model(Model::Poll)).contains(&"slow_unharmed"));
    assert!(
        keys(on, Subject::Model(Model::Pool)).contains(&"slow_freed"),
        "{:?}",
        keys(on, Subject::Model(Model::Pool))
    );
    assert!(!keys(on, Subject::Model(Model::Pool)).contains(&"slow_starved"));

    let starved = findings_of(&analysis, off, Subject::Model(Model::Pool))
        .into_iter()
        .find(|f| f.key() == "slow_starved")
        .unwrap();
    let en = starved.render(Lang::En);
    assert!(en.starts_with("Beside 8 slow connections that never finished a request head, it served 0.0 req/s at 10 clients, where 800 req/s was expected (starved in 4 of 4 cells)"), "{en}");
    assert!(en.contains("client_header_timeout"), "{en}");
    let pt = starved.render(Lang::Pt);
    assert!(
        pt.starts_with("Ao lado de 8 conexões lentas que nunca terminaram"),
        "{pt}"
    );
    assert!(
        pt.contains("com 10 clientes") && pt.contains("de 4 células"),
        "{pt}"
    );

    let freed = findings_of(&analysis, on, Subject::Model(Model::Pool))
        .into_iter()
        .find(|f| f.key() == "slow_freed")
        .unwrap()
        .render(Lang::En);
    assert!(
        freed.contains(
            "closed 16 slow connections after 1.01 to 1.01 s (16 with a status first: 408)"
        ),
        "{freed}"
    );
    assert!(
        freed.contains(
            "served 600 req/s at 10 clients, where without the deadline it served 0.0 req/s"
        ),
        "{freed}"
    );

    let summary = &analysis.works[0].comparison[0];
    assert_eq!(summary.key(), "slow_summary");
    assert_eq!(
        summary.render(Lang::En),
        "Beside 8 slow connections, starved: pool; still serving: poll."
    );
    let summary = analysis.works[1].comparison[0].render(Lang::Pt);
    assert_eq!(
        summary,
        "Ao lado de 8 conexões lentas, em inanição: nenhum; ainda atendendo: pool, poll."
    );
}

#[test]
fn a_pool_that_kept_serving_beside_slow_connections_is_not_called_starved() {
    // 8 workers but only a little under the prediction: not starved, in either group.
    let analysis = analyse(&slowloris(|_, clients| 80.0 * clients as f64));
    let keys = analysis.keys();
    assert!(
        !keys.contains(&"slow_starved") && !keys.contains(&"slow_freed"),
        "{keys:?}"
    );
    assert!(keys.contains(&"slow_unharmed"), "{keys:?}");
}

#[test]
fn opposite_results_lead_to_opposite_conclusions() {
    let overlapping = analyse(&results(|clients| 19.5 * clients as f64));
    let stalled = analyse(&results(|_| 19.0));
    let (a, b) = (overlapping.keys(), stalled.keys());
    assert!(
        a.contains(&"scales") && a.contains(&"threads_helped"),
        "{a:?}"
    );
    assert!(
        b.contains(&"flat") && b.contains(&"threads_no_help"),
        "{b:?}"
    );
    assert!(!b.contains(&"threads_helped"));
    // The sequential server is recognised as serving one request at a time, and its starving clients seen.
    assert!(
        a.contains(&"serialised") && a.contains(&"starvation"),
        "{a:?}"
    );
    // The same rule quotes different numbers.
    let best = |analysis: &Analysis| analysis.conclusion[0].render(Lang::En);
    assert_ne!(best(&overlapping), best(&stalled));
    assert!(
        best(&overlapping).contains("threads"),
        "{}",
        best(&overlapping)
    );
}

#[test]
fn findings_render_in_both_languages() {
    let analysis = analyse(&results(|clients| 19.5 * clients as f64));
    for work in &analysis.works {
        for finding in work.models.iter().flat_map(|m| &m.findings) {
            let (en, pt) = (finding.render(Lang::En), finding.render(Lang::Pt));
            assert!(
                !en.contains('{') && !pt.contains('{'),
                "unfilled placeholder: {en} / {pt}"
            );
            assert_ne!(en, pt);
        }
    }
}

/// `results` with the throughput of `model`'s cells where `which(clients)` set to nothing.
fn served_nothing(mut results: Results, model: Subject, which: impl Fn(usize) -> bool) -> Results {
    for cell in &mut results.cells {
        if cell.model == model && which(cell.clients) {
            let measured = cell.measurement.as_mut().unwrap();
            measured.throughput_rps = 0.0;
            measured.requests = 0;
        }
    }
    results
}

#[test]
fn no_ratio_is_taken_over_a_server_that_served_nothing() {
    let starved = served_nothing(
        results(|clients| 19.5 * clients as f64),
        Subject::Model(Model::Sequential),
        |_| true,
    );
    let analysis = analyse(&starved);
    let keys = analysis.keys();
    for ratio in [
        "threads_helped",
        "threads_helped_cores",
        "threads_no_help",
        "threads_no_help_cpu",
        "sequential_lesson",
    ] {
        assert!(!keys.contains(&ratio), "{ratio}: {keys:?}");
    }
    // Nothing at every count is flat, not a growth.
    let sequential: Vec<&str> =
        findings_of(&analysis, "sleep:50ms", Subject::Model(Model::Sequential))
            .iter()
            .map(|f| f.key())
            .collect();
    assert!(sequential.contains(&"flat"), "{sequential:?}");

    // Growth from nothing has no shape to name (it would be "1000000000x").
    let late_start = served_nothing(
        results(|clients| 19.5 * clients as f64),
        Subject::Model(Model::Threads),
        |clients| clients == 1,
    );
    let analysis = analyse(&late_start);
    let threads = findings_of(&analysis, "sleep:50ms", Subject::Model(Model::Threads));
    for finding in threads {
        assert!(
            !["scales", "flat", "plateau"].contains(&finding.key()),
            "{}",
            finding.render(Lang::En)
        );
    }
}

/// The misses of `results`, by model and clients, with their keys and reasons.
fn misses_of(results: &Results) -> Vec<(Subject, usize, &'static str, Vec<MissReason>)> {
    analyse(results).works[0]
        .misses
        .iter()
        .map(|f| match f {
            Finding::Miss(Miss::Cell {
                model,
                clients,
                reasons,
                ..
            }) => (*model, *clients, f.key(), reasons.clone()),
            other => panic!("not a miss: {other:?}"),
        })
        .collect()
}

#[test]
fn a_miss_with_the_generator_on_the_same_cores_says_so() {
    // Threads at 10 clients serve 160 req/s where 200 are predicted (10 x 1/50 ms): 20% under.
    let mut r = results(|c| 20.0 * c as f64 * if c == 10 { 0.8 } else { 1.0 });
    r.keep_alive = true;
    let cell = r
        .cells
        .iter_mut()
        .find(|c| c.model == Subject::Model(Model::Threads) && c.clients == 10)
        .unwrap();
    let m = cell.measurement.as_mut().unwrap();
    // 2 cores: the server used 1.1 and the generator 0.7 of them.
    m.server_cpu_cores = 1.1;
    m.generator_cpu_cores = 0.7;
    let misses = misses_of(&r);
    let threads: Vec<_> = misses
        .iter()
        .filter(|m| m.0 == Subject::Model(Model::Threads))
        .collect();
    assert_eq!(threads.len(), 1, "{misses:?}");
    assert_eq!(threads[0].1, 10);
    assert_eq!(threads[0].2, "miss_explained");
    assert!(
        matches!(
            threads[0].3[..],
            [MissReason::GeneratorCrowding { cores: 2, .. }]
        ),
        "{:?}",
        threads[0].3
    );
    let text = analyse(&r).works[0].misses[0].render(Lang::En);
    assert!(
        text.contains("the load generator shared the cores"),
        "{text}"
    );
}

#[test]
fn a_miss_that_no_measurement_explains_is_said_to_be_unexplained() {
    let mut r = results(|c| 20.0 * c as f64 * if c == 5 { 0.7 } else { 1.0 });
    r.keep_alive = true;
    let misses = misses_of(&r);
    let threads: Vec<_> = misses
        .iter()
        .filter(|m| m.0 == Subject::Model(Model::Threads))
        .collect();
    assert_eq!(threads.len(), 1, "{misses:?}");
    assert_eq!((threads[0].1, threads[0].2), (5, "miss_unexplained"));
    let analysis = analyse(&r);
    let summary = analysis.accuracy.as_ref().unwrap().render(Lang::En);
    // 8 cells: threads at 5 clients 30% under; sequential 19.5 of 20 everywhere, within 10%.
    assert!(
        summary.starts_with("Of 8 cells with a prediction, 7 landed within 10% of it and 7 within 25%; of the 1 farther than 10%, 0 have a reason"),
        "{summary}"
    );
}

#[test]
fn connection_setup_explains_a_connect_per_request_miss() {
    // A connection per request, and 15% under: 50 ms of work, about 58.8 ms per request.
    let r = results(|c| 20.0 * c as f64 * if c == 10 { 0.85 } else { 1.0 });
    let misses = misses_of(&r);
    let threads: Vec<_> = misses
        .iter()
        .filter(|m| m.0 == Subject::Model(Model::Threads))
        .collect();
    assert!(
        matches!(threads[0].3[..], [MissReason::ConnectionSetup { .. }]),
        "{threads:?}"
    );
}

#[test]
fn other_processes_on_the_machine_explain_a_miss() {
    let mut r = results(|c| 20.0 * c as f64 * if c == 10 { 0.6 } else { 1.0 });
    r.keep_alive = true;
    let m = r
        .cells
        .iter_mut()
        .find(|c| c.model == Subject::Model(Model::Threads) && c.clients == 10)
        .and_then(|c| c.measurement.as_mut())
        .unwrap();
    // The whole machine was 1.9 of 2 cores busy; server and generator account for 0.15 of them.
    m.machine_cpu_cores = Some(1.9);
    let misses = misses_of(&r);
    let threads: Vec<_> = misses
        .iter()
        .filter(|m| m.0 == Subject::Model(Model::Threads))
        .collect();
    assert!(
        matches!(
            threads[0].3[..],
            [MissReason::OtherProcesses { cores: 2, .. }]
        ),
        "{threads:?}"
    );
}

#[test]
fn udp_cells_are_not_blamed_on_a_ramp_they_never_waited_for() {
    let mut r = results(|c| 20.0 * c as f64 * if c == 5 { 0.7 } else { 1.0 });
    r.proto = Proto::UdpEcho;
    for cell in &mut r.cells {
        cell.measurement.as_mut().unwrap().all_served_ms = None;
    }
    let misses = misses_of(&r);
    let threads: Vec<_> = misses
        .iter()
        .filter(|m| m.0 == Subject::Model(Model::Threads))
        .collect();
    assert!(
        !threads[0]
            .3
            .iter()
            .any(|r| matches!(r, MissReason::NotAllServed { .. })),
        "{threads:?}"
    );
}

/// `results` with 10 ms of computation per request instead of waiting, keep-alive clients.
fn computing(threads_rps: impl Fn(usize) -> f64) -> Results {
    let work = Work::Cpu(std::time::Duration::from_millis(10));
    let mut r = results(|c| threads_rps(c) / 5.0);
    r.works = vec!["cpu:10ms".into()];
    r.keep_alive = true;
    for cell in &mut r.cells {
        cell.work = "cpu:10ms".into();
        cell.prediction = predict(cell.model.model().unwrap(), LIMITS, work, cell.clients, 2.0);
        let m = cell.measurement.as_mut().unwrap();
        if cell.model == Subject::Model(Model::Sequential) {
            m.throughput_rps = 97.0;
        } else {
            m.throughput_rps = threads_rps(cell.clients);
        }
        // The server used the cores its throughput needs, and no more.
        m.server_cpu_cores = m.throughput_rps * 0.0101;
        m.machine_cpu_cores = Some(m.server_cpu_cores + 0.05);
    }
    r
}

#[test]
fn computing_misses_say_whether_cores_sat_idle_or_the_server_spent_more_than_the_work() {
    // As measured on this machine, idle: threads at 2 clients 158 req/s with 1.64 cores of 2; at 10 clients
    // 174 req/s with the cores full, 11.1 ms of CPU a request.
    let mut r = computing(|c| match c {
        1 => 97.0,
        2 => 158.0,
        _ => 195.0,
    });
    {
        let m = r
            .cells
            .iter_mut()
            .find(|c| c.model == Subject::Model(Model::Threads) && c.clients == 2)
            .and_then(|c| c.measurement.as_mut())
            .unwrap();
        m.server_cpu_cores = 1.64;
        m.machine_cpu_cores = Some(1.70);
    }
    {
        let m = r
            .cells
            .iter_mut()
            .find(|c| c.model == Subject::Model(Model::Threads) && c.clients == 10)
            .and_then(|c| c.measurement.as_mut())
            .unwrap();
        m.throughput_rps = 174.0;
        m.server_cpu_cores = 1.94;
        m.machine_cpu_cores = Some(2.0);
    }
    let misses = misses_of(&r);
    let at = |clients| {
        misses
            .iter()
            .find(|m| m.0 == Subject::Model(Model::Threads) && m.1 == clients)
            .unwrap_or_else(|| panic!("no miss at {clients}: {misses:?}"))
            .3
            .clone()
    };
    assert!(
        matches!(at(2)[..], [MissReason::IdleCores { cores: 2, .. }]),
        "{:?}",
        at(2)
    );
    assert!(
        matches!(at(10)[..], [MissReason::ServerOverhead { .. }]),
        "{:?}",
        at(10)
    );
}

/// Two Python servers computing (cpu:10ms) on 2 cores: a thread server held to one core, a forking one on both.
fn python_results(threads_cores: f64) -> Results {
    let work = Work::Cpu(std::time::Duration::from_millis(10));
    let threading: Subject = "py-threading".parse().unwrap();
    let forking: Subject = "py-forking".parse().unwrap();
    let mut cells = Vec::new();
    for clients in [1, 2, 5] {
        for (subject, rps, cores, processes) in [
            (threading, 97.0 * threads_cores, threads_cores, 1),
            (
                forking,
                97.0 * clients.min(2) as f64,
                0.97 * clients.min(2) as f64,
                1 + clients as u64,
            ),
        ] {
            let mut m = measurement(clients, rps, 10);
            m.server_cpu_cores = if clients == 1 { 0.97 } else { cores };
            m.server.peak_processes = processes;
            cells.push(Cell {
                work: work.to_string(),
                model: subject,
                clients,
                repeat: 0,
                variant: String::new(),
                slow: 0,
                prediction: crate::experiment::predict::bound(None, work, clients, 2.0),
                measurement: Some(m),
                failure: None,
                stderr: None,
            });
        }
    }
    let mut results = results(|_| 1.0);
    results.provenance.cores = 2;
    results.works = vec![work.to_string()];
    results.models = vec![threading, forking];
    results.servers = ["py-threading", "py-forking"]
        .iter()
        .map(|name| crate::experiment::external::ExternalServer {
            name: crate::experiment::subject::ServerName::new(name).unwrap(),
            command: format!("python3 {name}.py --port {{port}}"),
            k: Some(crate::experiment::external::Concurrency::Unlimited),
        })
        .collect();
    results.cells = cells;
    results
}

#[test]
fn threads_held_to_one_core_while_computing_are_a_global_lock() {
    let analysis = analyse(&python_results(1.0));
    let keys = |name: &str| -> Vec<&'static str> {
        analysis.works[0]
            .models
            .iter()
            .find(|m| m.model.name() == name)
            .unwrap()
            .findings
            .iter()
            .map(Finding::key)
            .collect()
    };
    assert!(
        keys("py-threading").contains(&"global_lock"),
        "{:?}",
        keys("py-threading")
    );
    assert!(!keys("py-forking").contains(&"global_lock"));
    let conclusion: Vec<String> = analysis
        .conclusion
        .iter()
        .map(|f| f.render(Lang::En))
        .collect();
    let theirs = conclusion
        .iter()
        .find(|c| c.starts_with("Among the servers started by command"))
        .expect("a choice among their servers");
    assert!(theirs.contains("choose py-forking"), "{theirs}");
    assert!(
        theirs.contains("py-threading served 97") && theirs.contains("GIL"),
        "{theirs}"
    );
    // The thread server's misses are put down to the lock, not to idle clients.
    let misses: Vec<String> = analysis.works[0]
        .misses
        .iter()
        .map(|f| f.render(Lang::En))
        .collect();
    assert!(
        misses
            .iter()
            .any(|m| m.contains("py-threading") && m.contains("global lock")),
        "{misses:?}"
    );

    // The same threads on both cores: no lock to name.
    let free = analyse(&python_results(1.9));
    assert!(!free.keys().contains(&"global_lock"), "{:?}", free.keys());
    // Threads that hardly computed (a server that ignores the work) are no evidence of a lock either.
    let idle = analyse(&python_results(0.2));
    assert!(!idle.keys().contains(&"global_lock"), "{:?}", idle.keys());
}

/// A hold experiment: poll held every connection at 1,000 and 5,000 for 0.5 KiB each, threads all at 1,000 and
/// 1,024 at 5,000, sequential one at each.
fn holding() -> Results {
    let mut results = results(|c| 20.0 * c as f64);
    results.hold = true;
    results.works = vec!["none".into()];
    results.clients = vec![1000, 5000];
    results.models = [Model::Poll, Model::Threads, Model::Sequential]
        .map(Subject::Model)
        .to_vec();
    results.cells.clear();
    for &model in &results.models.clone() {
        for clients in [1000u64, 5000] {
            let held = match model {
                Subject::Model(Model::Sequential) => 1,
                Subject::Model(Model::Threads) => clients.min(1024),
                _ => clients,
            };
            let mut m = measurement(clients as usize, 100.0, 0);
            m.server.first_pss_kib = 2000;
            m.server.holding_pss_kib = Some(2000 + held / 2);
            m.hold = Some(crate::load::HoldReport {
                asked: clients,
                opened: clients,
                answered: held,
                held,
                open_us: 420_000,
                ..Default::default()
            });
            results.cells.push(Cell {
                work: "none".into(),
                model,
                clients: clients as usize,
                repeat: 0,
                variant: String::new(),
                slow: 0,
                prediction: Prediction {
                    throughput_rps: None,
                    ..predict(model_of(model), LIMITS, Work::None, 1, 2.0)
                },
                measurement: Some(m),
                failure: None,
                stderr: None,
            });
        }
    }
    results
}

fn model_of(subject: Subject) -> Model {
    match subject {
        Subject::Model(m) => m,
        Subject::Command(_) => unreachable!("only models here"),
    }
}

#[test]
fn a_hold_experiment_says_what_was_held_and_nothing_about_throughput() {
    let results = holding();
    let analysis = analyse(&results);
    let keys = |model| -> Vec<&str> {
        findings_of(&analysis, "none", Subject::Model(model))
            .iter()
            .map(|f| f.key())
            .collect()
    };
    assert_eq!(keys(Model::Poll), ["held"]);
    assert_eq!(keys(Model::Threads), ["held", "held_fewer"]);
    assert_eq!(keys(Model::Sequential), ["held_fewer"]);
    assert!(analysis.works[0].misses.is_empty() && analysis.accuracy.is_none());
    assert_eq!(analysis.keys().len(), 5, "{:?}", analysis.keys());
    let threads = findings_of(&analysis, "none", Subject::Model(Model::Threads));
    let said = threads[1].render(Lang::En);
    assert!(
        said.starts_with("At 5000 clients it held only 1024 of 5000 connections: it serves at most 1024 connections at once"),
        "{said}"
    );
    // Only poll held all 5,000: it is the cheapest by default, and the others are named as held fewer.
    let conclusion = analysis.conclusion[0].render(Lang::En);
    assert_eq!(
        conclusion,
        "At 5000 clients only poll held every connection, at 0.50 KiB (PSS) each. The servers threads and sequential held fewer: their cost per connection is not comparable."
    );
    let poll = results
        .median_run("none", Subject::Model(Model::Poll), 5000)
        .unwrap();
    assert_eq!(poll.kib_per_connection(), Some(0.5));
}
