//! Rules over all models under one work, side by side at one client count: which served most and least, which
//! did it cheapest, what threads gained over the sequential server, the CPU ceiling; and the conclusion's
//! choice of a model for the work.

use super::finding::{Choice, Comparison::*};
use super::{Finding, SERVED_SOMETHING, ratio};
use crate::experiment::results::Results;
use crate::models::Model;
use crate::work::Work;

/// Models within 10% of the best count as equally fast (the gap is within the noise between runs); the
/// lightest of them is the one to pick for what it costs. The `lightest` finding quotes this share.
pub(super) const AS_FAST_AS_THE_BEST: f64 = 0.9;

/// A model that served at least 1.5 times another clearly did better: less is within what scheduling and
/// noise between runs can give or take.
const CLEAR_WIN: f64 = 1.5;

/// The comparison of one work's models, and the conclusion's line for the work.
pub(super) struct Compared {
    pub findings: Vec<Finding>,
    pub choice: Option<Choice>,
}

/// Compares the models under `group` at the largest client count every model reached (or, when none did, the
/// largest any reached).
pub(super) fn compare(results: &Results, group: &str, work: Work, cores: usize) -> Compared {
    let mut findings = Vec::new();
    let Some(clients) = comparison_clients(results, group) else {
        return Compared {
            findings,
            choice: None,
        };
    };
    let ranked = ranking(results, group, clients);
    let (best, best_rps) = ranked[0];
    findings.extend(best_and_worst(&ranked, clients));
    findings.extend(lightest(results, group, clients, &ranked));
    findings.extend(threads_against_sequential(
        results, group, work, cores, clients,
    ));
    findings.extend(sequential_lesson(results, group, clients, best, best_rps));
    findings.extend(cpu_ceiling(work, cores, best_rps));
    let choice = choice(group, work, cores, clients, best, best_rps);
    Compared {
        findings,
        choice: Some(choice),
    }
}

/// Throughput the cores allow when every request computes for the work's duration.
fn ceiling_rps(work: Work, cores: usize) -> f64 {
    ratio(cores as f64, work.duration().as_secs_f64())
}

/// The largest client count every model reached, or else the largest any reached.
fn comparison_clients(results: &Results, group: &str) -> Option<usize> {
    let reached = |c: usize| {
        results
            .models
            .iter()
            .filter(|&&m| results.throughput(group, m, c).is_some())
            .count()
    };
    let mut counts = results.clients.iter().rev();
    let everyone = counts
        .clone()
        .find(|&&c| reached(c) == results.models.len());
    everyone
        .or_else(|| counts.find(|&&c| reached(c) >= 1))
        .copied()
}

/// The models that reached `clients`, fastest first: never empty, as `clients` was reached by one at least.
fn ranking(results: &Results, group: &str, clients: usize) -> Vec<(Model, f64)> {
    let mut ranked: Vec<(Model, f64)> = results
        .models
        .iter()
        .filter_map(|&m| results.throughput(group, m, clients).map(|(r, _)| (m, r)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked
}

/// The model that served most, and the one that served least.
fn best_and_worst(ranked: &[(Model, f64)], clients: usize) -> Option<Finding> {
    let (&(best, best_rps), &(worst, worst_rps)) = (ranked.first()?, ranked.last()?);
    (ranked.len() >= 2).then(|| {
        Best {
            clients,
            best,
            best_rps,
            worst,
            worst_rps,
        }
        .into()
    })
}

/// Among the models about as fast as the best, the one with the fewest threads (then the least memory).
fn lightest(
    results: &Results,
    group: &str,
    clients: usize,
    ranked: &[(Model, f64)],
) -> Option<Finding> {
    let &(_, best_rps) = ranked.first()?;
    if ranked.len() < 2 {
        return None;
    }
    let (model, run) = ranked
        .iter()
        .filter(|(_, rps)| *rps >= AS_FAST_AS_THE_BEST * best_rps)
        .filter_map(|&(m, _)| results.median_run(group, m, clients).map(|run| (m, run)))
        .min_by_key(|(_, run)| (run.server.peak_threads, run.server.peak_pss_kib))?;
    Some(
        Lightest {
            model,
            threads: run.server.peak_threads,
            pss_mib: run.server.peak_pss_kib as f64 / 1024.0,
        }
        .into(),
    )
}

/// The sequential server's throughput at `clients`, when it served something a ratio can be taken over.
fn sequential_rps(results: &Results, group: &str, clients: usize) -> Option<f64> {
    let (rps, _) = results.throughput(group, Model::Sequential, clients)?;
    (rps >= SERVED_SOMETHING).then_some(rps)
}

/// What a thread per connection gained over one connection at a time: a lot for waiting, up to the cores for
/// computing, little when something else was the limit.
fn threads_against_sequential(
    results: &Results,
    group: &str,
    work: Work,
    cores: usize,
    clients: usize,
) -> Option<Finding> {
    let sequential = sequential_rps(results, group, clients)?;
    let (threads, _) = results.throughput(group, Model::Threads, clients)?;
    let ratio = ratio(threads, sequential);
    let computing = matches!(work, Work::Cpu(_));
    let finding = if ratio >= CLEAR_WIN && computing {
        ThreadsHelpedCores {
            ratio,
            clients,
            cores,
        }
    } else if ratio >= CLEAR_WIN {
        ThreadsHelped { ratio, clients }
    } else if computing {
        ThreadsNoHelpCpu {
            ratio,
            clients,
            cores,
            ceiling_rps: ceiling_rps(work, cores),
        }
    } else if clients > 1 {
        ThreadsNoHelp { ratio, clients }
    } else {
        return None;
    };
    Some(finding.into())
}

/// The sequential server held to one request at a time while the best model did clearly better.
fn sequential_lesson(
    results: &Results,
    group: &str,
    clients: usize,
    best: Model,
    best_rps: f64,
) -> Option<Finding> {
    let sequential = sequential_rps(results, group, clients)?;
    (best != Model::Sequential && best_rps > CLEAR_WIN * sequential).then(|| {
        SequentialLesson {
            sequential_rps: sequential,
            clients,
            best,
            best_rps,
        }
        .into()
    })
}

/// For computation, the ceiling the cores set, against the best reached.
fn cpu_ceiling(work: Work, cores: usize, best_rps: f64) -> Option<Finding> {
    matches!(work, Work::Cpu(_)).then(|| {
        CpuCeiling {
            ceiling_rps: ceiling_rps(work, cores),
            cores,
            per_request: work.duration(),
            best_rps,
        }
        .into()
    })
}

/// The conclusion for one work: the model to choose, and why, by the kind of work.
fn choice(group: &str, work: Work, cores: usize, clients: usize, model: Model, rps: f64) -> Choice {
    let work_spec = group.to_string();
    match work {
        Work::Sleep(_) => Choice::Io {
            work: work_spec,
            model,
            rps,
            clients,
        },
        Work::Cpu(_) => Choice::Cpu {
            work: work_spec,
            model,
            rps,
            ceiling_rps: ceiling_rps(work, cores),
        },
        Work::Block(_) => Choice::Block {
            work: work_spec,
            model,
            rps,
        },
        Work::None => Choice::NoWork {
            work: work_spec,
            model,
            rps,
            clients,
        },
    }
}
