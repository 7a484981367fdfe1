//! The written analysis: rules over the measured numbers, each producing a finding that quotes them.
//!
//! Nothing here is a canned paragraph. Each rule looks at one model's series (its cells as clients grow) or at
//! all models under one work, decides whether its pattern is there — throughput scaling or levelling off, the
//! CPU or the load generator saturated, the listen queue overflowing, clients starving — and, if so, says it
//! with the figures that show it. Different results therefore read differently.
//!
//! One function per rule, returning the finding when its pattern is there; each threshold is a named constant
//! that says why it is where it is. The rules are grouped by what they look at: `models.rs` one model's series,
//! `little.rs` Little's law, `syn.rs` SYN retransmission behind a full listen queue, `slow.rs` slow connections
//! beside the clients, `comparison.rs` the models side by side and the conclusion; `hold.rs` replaces them all
//! for a hold experiment (`--hold`), where no load was served. Findings are typed data
//! ([`Finding`]) that say themselves in English or Portuguese.

mod comparison;
pub mod finding;
mod hold;
mod little;
mod misses;
mod models;
mod one_core;
mod slow;
mod syn;
#[cfg(test)]
mod tests;

pub use finding::{Choice, Comparison, Finding, Miss, MissReason, ModelFinding, SlowFinding};
pub use slow::header_deadline;

use super::results::{Measurement, Results, work_of};
use crate::experiment::subject::Subject;

/// Below this many requests a second a model served nothing worth a ratio (slow clients starved it, say):
/// "x times nothing" is no comparison.
const SERVED_SOMETHING: f64 = 0.1;

/// What was found about one model under one work.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFindings {
    pub model: Subject,
    pub findings: Vec<Finding>,
}

/// What was found under one work: per model, then comparing models.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkFindings {
    pub work: String,
    pub models: Vec<ModelFindings>,
    pub comparison: Vec<Finding>,
    /// Every cell more than 10% off its prediction, with its reasons.
    pub misses: Vec<Finding>,
}

/// The whole analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    pub works: Vec<WorkFindings>,
    /// How all the cells stand against their predictions.
    pub accuracy: Option<Finding>,
    pub conclusion: Vec<Finding>,
}

impl Analysis {
    /// Every finding's key, in order: what tests compare.
    pub fn keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        for work in &self.works {
            for model in &work.models {
                keys.extend(model.findings.iter().map(Finding::key));
            }
            keys.extend(work.comparison.iter().map(Finding::key));
            keys.extend(work.misses.iter().map(Finding::key));
        }
        keys.extend(self.accuracy.iter().map(Finding::key));
        keys.extend(self.conclusion.iter().map(Finding::key));
        keys
    }
}

/// Analyses every work and model of `results`.
pub fn analyse(results: &Results) -> Analysis {
    if results.hold {
        let (works, conclusion) = hold::analyse(results);
        return Analysis {
            works,
            accuracy: None,
            conclusion,
        };
    }
    let cores = results.server_cores();
    let mut works = Vec::new();
    let mut conclusion = Vec::new();
    for group in &results.works {
        let work = work_of(group);
        let models = results
            .models
            .iter()
            .map(|&model| ModelFindings {
                model,
                findings: models::findings(results, group, work, model, cores),
            })
            .collect();
        let mut comparison: Vec<Finding> = slow::summary(results, group).into_iter().collect();
        let compared = comparison::compare(results, group, work, cores);
        comparison.extend(compared.findings);
        works.push(WorkFindings {
            work: group.clone(),
            models,
            comparison,
            misses: misses::misses(results, group, cores),
        });
        conclusion.extend(compared.choice.map(Finding::from));
        conclusion.extend(compared.theirs.map(Finding::from));
    }
    Analysis {
        works,
        accuracy: misses::summary(results, cores),
        conclusion,
    }
}

/// A measured point of a model's series.
struct Point<'a> {
    clients: usize,
    rps: f64,
    /// The spread of throughput between repeats.
    spread: f64,
    run: &'a Measurement,
}

/// The measured points of `model` in `group`, as clients grow.
fn series<'a>(results: &'a Results, group: &'a str, model: Subject) -> Vec<Point<'a>> {
    results
        .clients
        .iter()
        .filter_map(|&clients| {
            let (rps, spread) = results.throughput(group, model, clients)?;
            let run = results.median_run(group, model, clients)?;
            Some(Point {
                clients,
                rps,
                spread,
                run,
            })
        })
        .collect()
}

/// `a / b`, with a `b` of zero read as a tiny number: callers guard against ratios over nothing first.
fn ratio(a: f64, b: f64) -> f64 {
    a / b.max(1e-9)
}
