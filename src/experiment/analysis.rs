//! The written analysis: rules over the measured numbers, each producing a finding that quotes them.
//!
//! Nothing here is a canned paragraph. Each rule looks at one model's series (its cells as clients grow) or at
//! all models under one work, decides whether its pattern is there — throughput scaling or levelling off, the
//! CPU or the load generator saturated, the listen queue overflowing, clients starving — and, if so, says it
//! with the figures that show it. Different results therefore read differently. Cells with slow connections
//! beside the clients have rules of their own, in [`super::slow_analysis`]. Findings are data (a catalog
//! key and arguments); [`super::catalog`] turns them into English or Portuguese.

use super::catalog::{Arg, Lang, text};
use super::predict::{implied_clients, is_off};
use super::results::{Measurement, Results, work_of};
use super::slow_analysis::{slow_findings, slow_summary};
use crate::models::Model;
use crate::work::Work;

/// Below this a model served nothing worth a ratio (slow clients starved it, say): "x times nothing" is no
/// comparison.
const SERVED_SOMETHING: f64 = 0.1;

/// One statement of the analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub key: &'static str,
    pub args: Vec<(&'static str, Arg)>,
}

impl Finding {
    pub(super) fn new(key: &'static str, args: Vec<(&'static str, Arg)>) -> Finding {
        Finding { key, args }
    }

    pub fn render(&self, lang: Lang) -> String {
        text(lang, self.key, &self.args)
    }
}

/// What was found about one model under one work.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFindings {
    pub model: Model,
    pub findings: Vec<Finding>,
}

/// What was found under one work: per model, then comparing models.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkFindings {
    pub work: String,
    pub models: Vec<ModelFindings>,
    pub comparison: Vec<Finding>,
}

/// The whole analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    pub works: Vec<WorkFindings>,
    pub conclusion: Vec<Finding>,
}

impl Analysis {
    /// Every finding key, in order: what tests compare.
    pub fn keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        for work in &self.works {
            for model in &work.models {
                keys.extend(model.findings.iter().map(|f| f.key));
            }
            keys.extend(work.comparison.iter().map(|f| f.key));
        }
        keys.extend(self.conclusion.iter().map(|f| f.key));
        keys
    }
}

/// A measured point of a model's series.
struct Point<'a> {
    clients: usize,
    rps: f64,
    spread: f64,
    run: &'a Measurement,
}

pub(super) fn rps(x: f64) -> Arg {
    Arg::Num(x, if x < 10.0 { 1 } else { 0 })
}

pub(super) fn ms(x: f64) -> Arg {
    Arg::Num(x, if x < 10.0 { 2 } else { 1 })
}

fn duration(work: Work) -> Arg {
    Arg::Text(humantime::format_duration(work.duration()).to_string())
}

fn series<'a>(results: &'a Results, work: &'a str, model: Model) -> Vec<Point<'a>> {
    let mut points = Vec::new();
    for &clients in &results.clients {
        let (Some((rps, spread)), Some(run)) = (
            results.throughput(work, model, clients),
            results.median_run(work, model, clients),
        ) else {
            continue;
        };
        points.push(Point {
            clients,
            rps,
            spread,
            run,
        });
    }
    points
}

/// Analyses every work and model of `results`.
pub fn analyse(results: &Results) -> Analysis {
    let cores = results.provenance.cores;
    let mut works = Vec::new();
    let mut conclusion = Vec::new();
    for work_spec in &results.works {
        let work = work_of(work_spec);
        let models = results
            .models
            .iter()
            .map(|&model| ModelFindings {
                model,
                findings: model_findings(results, work_spec, work, model, cores),
            })
            .collect();
        let (mut comparison, choice) = compare(results, work_spec, work, cores);
        comparison.splice(0..0, slow_summary(results, work_spec));
        works.push(WorkFindings {
            work: work_spec.clone(),
            models,
            comparison,
        });
        conclusion.extend(choice);
    }
    Analysis { works, conclusion }
}

fn model_findings(
    results: &Results,
    work_spec: &str,
    work: Work,
    model: Model,
    cores: usize,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for &clients in &results.clients {
        if let Some(why) = results.failure(work_spec, model, clients) {
            findings.push(Finding::new(
                "cell_failed",
                vec![
                    ("c", Arg::Int(clients as u64)),
                    ("why", Arg::Text(why.into())),
                ],
            ));
        }
    }
    let points = series(results, work_spec, model);
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return findings;
    };

    // Shape of the throughput curve.
    if points.len() >= 2 {
        let growth = last.rps / first.rps.max(1e-9);
        let client_growth = last.clients as f64 / first.clients as f64;
        if growth >= 0.6 * client_growth {
            findings.push(Finding::new(
                "scales",
                vec![
                    ("r1", rps(first.rps)),
                    ("c1", Arg::Int(first.clients as u64)),
                    ("r2", rps(last.rps)),
                    ("c2", Arg::Int(last.clients as u64)),
                    ("x", Arg::Num(growth, 1)),
                    ("cx", Arg::Num(client_growth, 0)),
                ],
            ));
        } else if growth < 1.3 {
            findings.push(Finding::new(
                "flat",
                vec![
                    ("r", rps(last.rps)),
                    ("c1", Arg::Int(first.clients as u64)),
                    ("c2", Arg::Int(last.clients as u64)),
                ],
            ));
        } else {
            // The first point after which throughput grew less than 20%.
            let knee = points
                .windows(2)
                .find(|w| w[1].rps < 1.2 * w[0].rps)
                .map_or(last, |w| &w[0]);
            findings.push(Finding::new(
                "plateau",
                vec![("c", Arg::Int(knee.clients as u64)), ("r", rps(last.rps))],
            ));
        }
    }

    // Why it levelled where it did.
    let prediction = results.prediction(work_spec, model, last.clients);
    let d = duration(work);
    if let Some(p) = prediction.and_then(|p| p.throughput_rps.map(|rps| (p.concurrency, rps))) {
        let (k, bound) = p;
        let near_bound = last.rps >= 0.7 * bound && last.rps <= 1.3 * bound;
        let cpu_bound =
            matches!(work, Work::Cpu(_)) && k.is_none_or(|k| k.min(last.clients) >= cores);
        if near_bound && k == Some(1) && model.is_event_driven() && matches!(work, Work::Block(_)) {
            findings.push(Finding::new(
                "blocking_loop",
                vec![("d", d.clone()), ("p", rps(bound))],
            ));
        } else if near_bound && k == Some(1) {
            findings.push(Finding::new(
                "serialised",
                vec![("d", d.clone()), ("p", rps(bound))],
            ));
        } else if near_bound && cpu_bound {
            findings.push(Finding::new(
                "bound_cores",
                vec![
                    ("u", Arg::Num(last.run.server_cpu_cores, 2)),
                    ("n", Arg::Int(cores as u64)),
                    ("d", d.clone()),
                    ("p", rps(bound)),
                ],
            ));
        } else if near_bound && k.is_some_and(|k| k < last.clients) {
            findings.push(Finding::new(
                "bound_concurrency",
                vec![
                    ("k", Arg::Int(k.unwrap_or(0) as u64)),
                    ("d", d.clone()),
                    ("p", rps(bound)),
                ],
            ));
        }
    }
    // The generator is the limit when its threads are nearly all busy.
    if let Some(busy) = points
        .iter()
        .find(|p| p.run.generator_cpu_cores >= 0.85 * p.run.generator_threads.max(1) as f64)
    {
        findings.push(Finding::new(
            "bound_generator",
            vec![
                ("g", Arg::Num(busy.run.generator_cpu_cores, 2)),
                ("c", Arg::Int(busy.clients as u64)),
            ],
        ));
    }

    // Latency.
    if points.len() >= 2 {
        let (l1, l2) = (first.run.latency.p99_ms, last.run.latency.p99_ms);
        if l2 > 3.0 * l1.max(0.001) {
            findings.push(Finding::new(
                "latency_queue",
                vec![
                    ("l1", ms(l1)),
                    ("c1", Arg::Int(first.clients as u64)),
                    ("l2", ms(l2)),
                    ("c2", Arg::Int(last.clients as u64)),
                ],
            ));
        } else {
            let lo = points
                .iter()
                .map(|p| p.run.latency.p99_ms)
                .fold(f64::INFINITY, f64::min);
            let hi = points
                .iter()
                .map(|p| p.run.latency.p99_ms)
                .fold(0.0, f64::max);
            findings.push(Finding::new(
                "latency_steady",
                vec![("l1", ms(lo)), ("l2", ms(hi))],
            ));
        }
    }

    // Little's law on the most loaded point (closed loop: clients = throughput x latency).
    let implied = implied_clients(last.rps, last.run.latency.mean_ms);
    let law_args = vec![
        ("c", Arg::Int(last.clients as u64)),
        ("r", rps(last.rps)),
        ("l", ms(last.run.latency.mean_ms)),
        ("i", Arg::Num(implied, 1)),
    ];
    let off = (implied - last.clients as f64).abs() > 0.25 * last.clients as f64;
    findings.push(Finding::new(
        if off {
            "littles_law_off"
        } else {
            "littles_law_ok"
        },
        law_args,
    ));

    // Trouble: errors, overflows, starvation, unfinished requests.
    for point in &points {
        let errors = point.run.error_count();
        if errors > 0 {
            let kinds = point
                .run
                .errors
                .iter()
                .map(|(k, n)| (k.clone(), *n))
                .collect();
            findings.push(Finding::new(
                "errors",
                vec![
                    ("c", Arg::Int(point.clients as u64)),
                    ("n", Arg::Int(errors)),
                    ("kinds", Arg::Counts(kinds)),
                ],
            ));
        }
        if let Some(overflows) = point.run.listen_overflows.filter(|n| *n > 0) {
            findings.push(Finding::new(
                "listen_overflow",
                vec![
                    ("c", Arg::Int(point.clients as u64)),
                    ("n", Arg::Int(overflows)),
                ],
            ));
        }
    }
    if let Some(starved) = points.iter().find(|p| {
        p.clients > 1
            && (p.run.fewest_per_client == 0
                || p.run.most_per_client > 3 * p.run.fewest_per_client.max(1))
    }) {
        findings.push(Finding::new(
            "starvation",
            vec![
                ("c", Arg::Int(starved.clients as u64)),
                ("min", Arg::Int(starved.run.fewest_per_client)),
                ("max", Arg::Int(starved.run.most_per_client)),
            ],
        ));
    }
    // Requests in flight at the end are normal; one that had waited far longer than almost every answered
    // request had been left behind.
    if let Some(waiting) = points
        .iter()
        .filter(|p| p.run.unfinished > 0 && p.run.oldest_unfinished_ms > 2.0 * p.run.latency.p99_ms)
        .max_by(|a, b| {
            a.run
                .oldest_unfinished_ms
                .total_cmp(&b.run.oldest_unfinished_ms)
        })
    {
        findings.push(Finding::new(
            "unfinished",
            vec![
                ("c", Arg::Int(waiting.clients as u64)),
                ("n", Arg::Int(waiting.run.unfinished)),
                ("age", ms(waiting.run.oldest_unfinished_ms)),
            ],
        ));
    }

    // Slow connections beside the clients.
    findings.extend(slow_findings(results, work_spec, model));

    // What it cost.
    findings.push(Finding::new(
        "resources",
        vec![
            ("c", Arg::Int(last.clients as u64)),
            ("t", Arg::Int(last.run.server.peak_threads)),
            ("p", Arg::Int(last.run.server.peak_processes.max(1))),
            (
                "m",
                Arg::Num(last.run.server.peak_pss_kib as f64 / 1024.0, 1),
            ),
            ("u", Arg::Num(last.run.server_cpu_cores, 2)),
        ],
    ));

    // Cells off their prediction.
    let off: Vec<String> = points
        .iter()
        .filter(|p| {
            results
                .prediction(work_spec, model, p.clients)
                .and_then(|pr| pr.throughput_rps)
                .is_some_and(|pred| is_off(p.rps, pred, p.spread))
        })
        .map(|p| p.clients.to_string())
        .collect();
    if !off.is_empty() {
        findings.push(Finding::new(
            "off_prediction",
            vec![
                ("n", Arg::Int(off.len() as u64)),
                ("cells", Arg::Text(off.join(", "))),
            ],
        ));
    }
    findings
}

/// Compares the models under one work at the largest client count every model reached (or, when none did, the
/// largest any reached); returns the comparison and the conclusion's line for this work.
fn compare(
    results: &Results,
    work_spec: &str,
    work: Work,
    cores: usize,
) -> (Vec<Finding>, Vec<Finding>) {
    let mut comparison = Vec::new();
    let reached = |c: usize| {
        results
            .models
            .iter()
            .filter(|&&m| results.throughput(work_spec, m, c).is_some())
            .count()
    };
    let everyone = results
        .clients
        .iter()
        .rev()
        .find(|&&c| reached(c) == results.models.len());
    let Some(&clients) =
        everyone.or_else(|| results.clients.iter().rev().find(|&&c| reached(c) >= 1))
    else {
        return (comparison, Vec::new());
    };
    let mut ranked: Vec<(Model, f64)> = results
        .models
        .iter()
        .filter_map(|&m| {
            results
                .throughput(work_spec, m, clients)
                .map(|(r, _)| (m, r))
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (best, best_rps) = ranked[0];
    let (worst, worst_rps) = ranked[ranked.len() - 1];
    let c = Arg::Int(clients as u64);
    if ranked.len() >= 2 {
        comparison.push(Finding::new(
            "best",
            vec![
                ("c", c.clone()),
                ("model", Arg::Text(best.to_string())),
                ("r", rps(best_rps)),
                ("worst", Arg::Text(worst.to_string())),
                ("rw", rps(worst_rps)),
            ],
        ));
        let lightest = ranked
            .iter()
            .filter(|(_, r)| *r >= 0.9 * best_rps)
            .filter_map(|(m, _)| {
                results
                    .median_run(work_spec, *m, clients)
                    .map(|run| (*m, run))
            })
            .min_by_key(|(_, run)| (run.server.peak_threads, run.server.peak_pss_kib));
        if let Some((model, run)) = lightest {
            comparison.push(Finding::new(
                "lightest",
                vec![
                    ("model", Arg::Text(model.to_string())),
                    ("t", Arg::Int(run.server.peak_threads)),
                    ("m", Arg::Num(run.server.peak_pss_kib as f64 / 1024.0, 1)),
                ],
            ));
        }
    }
    let cpu_ceiling = cores as f64 / work.duration().as_secs_f64().max(1e-9);
    let d = duration(work);
    if let (Some((seq, _)), Some((thr, _))) = (
        results.throughput(work_spec, Model::Sequential, clients),
        results.throughput(work_spec, Model::Threads, clients),
    ) && seq >= SERVED_SOMETHING
    {
        let ratio = thr / seq.max(1e-9);
        let args = vec![("ratio", Arg::Num(ratio, 1)), ("c", c.clone())];
        if ratio >= 1.5 && matches!(work, Work::Cpu(_)) {
            let mut args = args;
            args.push(("n", Arg::Int(cores as u64)));
            comparison.push(Finding::new("threads_helped_cores", args));
        } else if ratio >= 1.5 {
            comparison.push(Finding::new("threads_helped", args));
        } else if matches!(work, Work::Cpu(_)) {
            let mut args = args;
            args.extend([("n", Arg::Int(cores as u64)), ("p", rps(cpu_ceiling))]);
            comparison.push(Finding::new("threads_no_help_cpu", args));
        } else if clients > 1 {
            comparison.push(Finding::new("threads_no_help", args));
        }
        if best != Model::Sequential && best_rps > 1.5 * seq {
            comparison.push(Finding::new(
                "sequential_lesson",
                vec![
                    ("r", rps(seq)),
                    ("c", c.clone()),
                    ("model", Arg::Text(best.to_string())),
                    ("rb", rps(best_rps)),
                ],
            ));
        }
    }
    if matches!(work, Work::Cpu(_)) {
        comparison.push(Finding::new(
            "cpu_ceiling",
            vec![
                ("p", rps(cpu_ceiling)),
                ("n", Arg::Int(cores as u64)),
                ("d", d.clone()),
                ("r", rps(best_rps)),
            ],
        ));
    }
    let work_arg = Arg::Text(work_spec.to_string());
    let model_arg = Arg::Text(best.to_string());
    let choice = match work {
        Work::Sleep(_) => Finding::new(
            "choose_io",
            vec![
                ("work", work_arg),
                ("model", model_arg),
                ("r", rps(best_rps)),
                ("c", c),
            ],
        ),
        Work::Cpu(_) => Finding::new(
            "choose_cpu",
            vec![
                ("work", work_arg),
                ("model", model_arg),
                ("r", rps(best_rps)),
                ("p", rps(cpu_ceiling)),
            ],
        ),
        Work::Block(_) => Finding::new(
            "choose_block",
            vec![
                ("work", work_arg),
                ("model", model_arg),
                ("r", rps(best_rps)),
            ],
        ),
        Work::None => Finding::new(
            "choose_none",
            vec![
                ("work", work_arg),
                ("model", model_arg),
                ("r", rps(best_rps)),
                ("c", c),
            ],
        ),
    };
    (comparison, vec![choice])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::predict::{ModelLimits, predict};
    use crate::experiment::results::{Cell, Latency};
    use crate::experiment::server_process::ServerSample;
    use crate::protocol::Proto;
    use crate::system::Provenance;

    const LIMITS: ModelLimits = ModelLimits {
        workers: 8,
        max_conns: 1024,
        offload: None,
    };

    fn measurement(clients: usize, rps: f64, fewest: u64) -> Measurement {
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
            },
            server_cpu_cores: 0.05,
            voluntary_context_switches: 100,
            involuntary_context_switches: 1,
            generator_cpu_cores: 0.1,
            generator_threads: clients.min(2),
            socket_memory_kib: Some(100),
            listen_overflows: Some(0),
            slow: None,
        }
    }

    /// Sequential and threads under sleep:50ms; `threads_rps(clients)` says what threads achieved.
    fn results(threads_rps: impl Fn(usize) -> f64) -> Results {
        let work = Work::Sleep(std::time::Duration::from_millis(50));
        let mut cells = Vec::new();
        for clients in [1, 2, 5, 10] {
            for (model, rps, fewest) in [
                (Model::Sequential, 19.5, if clients > 1 { 0 } else { 39 }),
                (Model::Threads, threads_rps(clients), 30),
            ] {
                cells.push(Cell {
                    work: "sleep:50ms".into(),
                    model,
                    clients,
                    repeat: 0,
                    variant: String::new(),
                    slow: 0,
                    prediction: predict(model, LIMITS, work, clients, 2),
                    measurement: Some(measurement(clients, rps, fewest)),
                    failure: None,
                });
            }
        }
        Results {
            provenance: Provenance::collect(),
            proto: Proto::Echo,
            models: vec![Model::Sequential, Model::Threads],
            clients: vec![1, 2, 5, 10],
            works: vec!["sleep:50ms".into()],
            cell_seconds: 2.0,
            repeat: 1,
            keep_alive: false,
            slow: 0,
            cells,
            interrupted: false,
        }
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
                    (Model::Pool, pool_rps(deadline, clients)),
                    (Model::Poll, 95.0 * clients as f64),
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
                        variant: format!(
                            "--header-timeout {}",
                            if deadline { "1s" } else { "off" }
                        ),
                        slow: 8,
                        prediction: predict(model, LIMITS, work, clients, 2),
                        measurement: Some(m),
                        failure: None,
                    });
                }
            }
        }
        Results {
            provenance: Provenance::collect(),
            proto: Proto::Http,
            models: vec![Model::Pool, Model::Poll],
            clients: vec![1, 2, 5, 10],
            works: vec![
                "sleep:10ms --header-timeout off".into(),
                "sleep:10ms --header-timeout 1s".into(),
            ],
            cell_seconds: 3.0,
            repeat: 1,
            keep_alive: true,
            slow: 8,
            cells,
            interrupted: false,
        }
    }

    fn findings_of<'a>(analysis: &'a Analysis, group: &str, model: Model) -> Vec<&'a Finding> {
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
                .map(|f| f.key)
                .collect()
        };
        assert!(
            keys(off, Model::Pool).contains(&"slow_starved"),
            "{:?}",
            keys(off, Model::Pool)
        );
        assert!(keys(off, Model::Poll).contains(&"slow_unharmed"));
        assert!(
            keys(on, Model::Pool).contains(&"slow_freed"),
            "{:?}",
            keys(on, Model::Pool)
        );
        assert!(!keys(on, Model::Pool).contains(&"slow_starved"));

        let starved = findings_of(&analysis, off, Model::Pool)
            .into_iter()
            .find(|f| f.key == "slow_starved")
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

        let freed = findings_of(&analysis, on, Model::Pool)
            .into_iter()
            .find(|f| f.key == "slow_freed")
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
        assert_eq!(summary.key, "slow_summary");
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
}
