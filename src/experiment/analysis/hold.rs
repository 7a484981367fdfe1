//! Rules for a hold experiment (`--hold`, `--preset c10k`): no load was served, so nothing about throughput
//! curves, bounds, Little's law or predictions applies. What a hold measures is how many connections a server
//! kept and what each cost it, so per server that is what is said (or which cap stopped it), and servers are
//! compared by KiB per connection among those that held every one: a server that held fewer paid for fewer.

use super::finding::{Comparison, ModelFinding};
use super::{Finding, ModelFindings, WorkFindings, models};
use crate::experiment::results::{Measurement, Results};
use crate::experiment::subject::Subject;

/// The findings of every group of a hold experiment, and its conclusion: the servers compared by what a
/// connection cost them, said once, there.
pub(super) fn analyse(results: &Results) -> (Vec<WorkFindings>, Vec<Finding>) {
    let mut works = Vec::new();
    let mut conclusion = Vec::new();
    for group in &results.works {
        let models = results
            .models
            .iter()
            .map(|&model| {
                let mut findings = models::failed_cells(results, group, model);
                findings.extend(held(results, group, model));
                ModelFindings { model, findings }
            })
            .collect();
        conclusion.extend(cheapest(results, group));
        works.push(WorkFindings {
            work: group.clone(),
            models,
            comparison: Vec::new(),
            misses: Vec::new(),
        });
    }
    (works, conclusion)
}

/// What `model` held: the most clients it held every connection of, with their cost, and the first client count
/// at which it held fewer than asked, with why.
fn held(results: &Results, group: &str, model: Subject) -> Vec<Finding> {
    let runs: Vec<(usize, &Measurement)> = results
        .clients
        .iter()
        .filter_map(|&c| Some((c, results.median_run(group, model, c)?)))
        .collect();
    let mut findings = Vec::new();
    let all = runs.iter().rev().find(|(_, m)| !held_fewer(m));
    if let Some(&(clients, m)) = all
        && let (Some(hold), Some(kib)) = (&m.hold, m.kib_per_connection())
    {
        findings.push(
            ModelFinding::Held {
                clients,
                held: hold.held,
                open_s: hold.open_us as f64 / 1e6,
                kib_per_connection: kib,
                threads: m.server.peak_threads,
                processes: m.server.peak_processes.max(1),
            }
            .into(),
        );
    }
    let fewer = runs.iter().find(|(_, m)| held_fewer(m));
    if let Some(&(clients, m)) = fewer
        && let Some(hold) = &m.hold
    {
        let prediction = results.prediction(group, model, clients);
        findings.push(
            ModelFinding::HeldFewer {
                clients,
                asked: hold.asked,
                held: hold.held,
                concurrency: prediction.and_then(|p| p.concurrency),
                threads: m.server.peak_threads,
                processes: m.server.peak_processes.max(1),
                closed: hold.closed_by_server,
                overflows: m.listen_overflows.unwrap_or(0),
            }
            .into(),
        );
    }
    findings
}

fn held_fewer(m: &Measurement) -> bool {
    m.hold.as_ref().is_some_and(|h| h.held < h.asked)
}

/// At the most clients any server held every connection of: the cheapest per connection among those that
/// did, the dearest, and those that held fewer. Nothing when fewer than two servers were measured there.
fn cheapest(results: &Results, group: &str) -> Option<Finding> {
    let measured = |clients: usize| -> Vec<(Subject, &Measurement)> {
        results
            .models
            .iter()
            .filter_map(|&s| Some((s, results.median_run(group, s, clients)?)))
            .collect()
    };
    let (clients, runs) = results
        .clients
        .iter()
        .rev()
        .map(|&c| (c, measured(c)))
        .find(|(_, runs)| runs.iter().any(|(_, m)| !held_fewer(m)))?;
    if runs.len() < 2 {
        return None;
    }
    let mut all: Vec<(Subject, f64)> = runs
        .iter()
        .filter(|(_, m)| !held_fewer(m))
        .filter_map(|&(s, m)| Some((s, m.kib_per_connection()?)))
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1));
    let &(model, kib) = all.first()?;
    let dearest = all.last().copied().filter(|_| all.len() > 1);
    let fewer = runs
        .iter()
        .filter(|(_, m)| held_fewer(m))
        .map(|&(s, _)| s)
        .collect();
    Some(
        Comparison::CheapestPerConnection {
            clients,
            model,
            kib,
            dearest,
            fewer,
        }
        .into(),
    )
}
