//! Rules over all models under one work, side by side at one client count: which served most and least, which
//! did it cheapest, what threads gained over the sequential server, the CPU ceiling; and the conclusion's
//! choice of a model for the work.

use super::finding::{Choice, Comparison::*};
use super::one_core::one_core;
use super::{Finding, SERVED_SOMETHING, ratio, series};
use crate::experiment::results::Results;
use crate::experiment::subject::Subject;
use crate::models::Model;
use crate::work::Work;

/// Models within 10% of the best count as equally fast (the gap is within the noise between runs); the
/// lightest of them is the one to pick for what it costs. The `lightest` finding quotes this share.
pub(super) const AS_FAST_AS_THE_BEST: f64 = 0.9;

/// A model that served at least 1.5 times another clearly did better: less is within what scheduling and
/// noise between runs can give or take.
const CLEAR_WIN: f64 = 1.5;

/// With one run per cell there is no spread to measure, so this share of the best throughput is the stated
/// noise: the same cell run twice on a quiet machine moves by a few percent (timer slack, scheduling, where the
/// generator's threads land), so a smaller gap names no winner.
pub(super) const NOISE_FLOOR: f64 = 0.05;

/// The repeats a tie's conclusion suggests: the median of 5 runs shrugs off one outlier on each side.
pub(super) const SUGGESTED_REPEATS: usize = 5;

/// The comparison of one work's models, and the conclusion's line for the work.
pub(super) struct Compared {
    pub findings: Vec<Finding>,
    pub choice: Option<Choice>,
    /// The choice among the servers started by command (the students' own), when there were any.
    pub theirs: Option<Choice>,
}

/// Compares the models under `group` at the largest client count every model reached (or, when none did, the
/// largest any reached).
pub(super) fn compare(results: &Results, group: &str, work: Work, cores: usize) -> Compared {
    let mut findings = Vec::new();
    let Some(clients) = comparison_clients(results, group) else {
        return Compared {
            findings,
            choice: None,
            theirs: None,
        };
    };
    let ranked = ranking(results, group, clients);
    let (best, best_rps) = ranked[0];
    let tied = tied(results, group, clients, &ranked);
    match &tied {
        Some(tie) => findings.push(tie.finding(&ranked, clients)),
        None => findings.extend(best_and_worst(&ranked, clients)),
    }
    findings.extend(lightest(results, group, clients, &ranked));
    findings.extend(threads_against_sequential(
        results, group, work, cores, clients,
    ));
    findings.extend(sequential_lesson(results, group, clients, best, best_rps));
    findings.extend(cpu_ceiling(work, cores, best_rps));
    let choice = match tied {
        Some(tie) => tie.choice(group, results.repeat),
        None => choice(group, work, cores, clients, best, best_rps),
    };
    Compared {
        findings,
        choice: Some(choice),
        theirs: theirs(results, group, work, cores, clients),
    }
}

/// What to choose among the servers started by command — for a class, its own Python servers: the one that
/// served most, and for computing the thread server a global lock held to one core, when one did.
fn theirs(
    results: &Results,
    group: &str,
    work: Work,
    cores: usize,
    clients: usize,
) -> Option<Choice> {
    let external = |s: &Subject| matches!(s, Subject::Command(_));
    let ranked: Vec<(Subject, f64)> = ranking(results, group, clients)
        .into_iter()
        .filter(|(s, _)| external(s))
        .collect();
    // A choice needs two at least, and a kind of work the advice is about.
    if ranked.len() < 2 || !matches!(work, Work::Sleep(_) | Work::Cpu(_)) {
        return None;
    }
    let &(best, rps) = ranked.first()?;
    let locked = ranked.iter().skip(1).copied().find(|&(s, _)| {
        matches!(work, Work::Cpu(_))
            && one_core(results, group, s, cores, &series(results, group, s))
                .is_some_and(|found| found.threads > 1)
    });
    Some(Choice::Theirs {
        work: group.to_string(),
        best,
        rps,
        clients,
        computing: matches!(work, Work::Cpu(_)),
        locked,
    })
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
fn ranking(results: &Results, group: &str, clients: usize) -> Vec<(Subject, f64)> {
    let mut ranked: Vec<(Subject, f64)> = results
        .models
        .iter()
        .filter_map(|&m| results.throughput(group, m, clients).map(|(r, _)| (m, r)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked
}

/// The models at the top that no measurement tells apart.
pub(super) struct Tied {
    models: Vec<(Subject, f64)>,
    /// The noise they are within, as a share of the best throughput.
    noise: f64,
    /// Whether the noise is the spread between repeats (or the stated floor of one run).
    measured: bool,
}

impl Tied {
    fn finding(&self, ranked: &[(Subject, f64)], clients: usize) -> Finding {
        let (best_rps, last_rps) = (self.models[0].1, self.models[self.models.len() - 1].1);
        // The least served, when it is not one of the tied.
        let worst = ranked
            .last()
            .filter(|(m, _)| !self.models.iter().any(|(t, _)| t == m))
            .copied();
        Tie {
            clients,
            models: self.models.iter().map(|(m, _)| *m).collect(),
            best_rps,
            last_rps,
            noise_pct: self.noise * 100.0,
            measured: self.measured,
            worst,
        }
        .into()
    }

    fn choice(&self, group: &str, repeats: usize) -> Choice {
        Choice::Tie {
            work: group.to_string(),
            models: self.models.iter().map(|(m, _)| *m).collect(),
            best_rps: self.models[0].1,
            last_rps: self.models[self.models.len() - 1].1,
            repeats,
            suggested: SUGGESTED_REPEATS.max(2 * repeats),
        }
    }
}

/// The models whose throughput is within the noise of the best's, when there are two or more: the spread
/// between repeats when the cells were repeated (the larger of the two models' spreads), else [`NOISE_FLOOR`].
pub(super) fn tied(
    results: &Results,
    group: &str,
    clients: usize,
    ranked: &[(Subject, f64)],
) -> Option<Tied> {
    let &(best, best_rps) = ranked.first()?;
    let spread = |model| {
        results
            .throughput(group, model, clients)
            .map_or(0.0, |t| t.1)
    };
    let measured = results.repeat > 1;
    let margin = |model| {
        if measured {
            spread(best).max(spread(model))
        } else {
            NOISE_FLOOR * best_rps
        }
    };
    let models: Vec<(Subject, f64)> = ranked
        .iter()
        .take_while(|&&(model, rps)| best_rps - rps <= margin(model))
        .copied()
        .collect();
    if models.len() < 2 || best_rps < SERVED_SOMETHING {
        return None;
    }
    let noise = models
        .iter()
        .map(|&(model, _)| margin(model))
        .fold(0.0, f64::max);
    Some(Tied {
        models,
        noise: ratio(noise, best_rps),
        measured,
    })
}

/// The model that served most, and the one that served least.
fn best_and_worst(ranked: &[(Subject, f64)], clients: usize) -> Option<Finding> {
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
    ranked: &[(Subject, f64)],
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
    let (rps, _) = results.throughput(group, Model::Sequential.into(), clients)?;
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
    let (threads, _) = results.throughput(group, Model::Threads.into(), clients)?;
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
    best: Subject,
    best_rps: f64,
) -> Option<Finding> {
    let sequential = sequential_rps(results, group, clients)?;
    (!best.is(Model::Sequential) && best_rps > CLEAR_WIN * sequential).then(|| {
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
fn choice(
    group: &str,
    work: Work,
    cores: usize,
    clients: usize,
    model: Subject,
    rps: f64,
) -> Choice {
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

#[cfg(test)]
mod tests {
    use super::super::tests::results;
    use crate::experiment::analysis::analyse;
    use crate::experiment::catalog::Lang;
    use crate::experiment::results::Results;

    /// The comparison and conclusion keys, and the conclusion in English.
    fn verdict(results: &Results) -> (Vec<&'static str>, String) {
        let analysis = analyse(results);
        let keys = analysis.keys();
        (keys, analysis.conclusion[0].render(Lang::En))
    }

    #[test]
    fn three_percent_apart_in_one_run_is_a_tie_thirty_is_a_winner() {
        // Sequential serves 19.5 req/s at every client count; threads 3% or 30% more.
        let (keys, conclusion) = verdict(&results(|_| 19.5 * 1.03));
        assert!(
            keys.contains(&"tie") && keys.contains(&"choose_tie"),
            "{keys:?}"
        );
        assert!(!keys.contains(&"best"), "{keys:?}");
        assert!(conclusion.contains("--repeat 5"), "{conclusion}");
        assert!(
            conclusion.contains("threads and sequential tied"),
            "{conclusion}"
        );
        let analysis = analyse(&results(|_| 19.5 * 1.03));
        let tie = analysis.works[0]
            .comparison
            .iter()
            .find(|f| f.key() == "tie")
            .unwrap()
            .render(Lang::En);
        assert!(
            tie.starts_with("With 10 clients, threads and sequential served within 3% of each other (20.1 to 19.5 req/s), no more than the 5% a single run can vary by: a tie"),
            "{tie}"
        );

        let (keys, conclusion) = verdict(&results(|_| 19.5 * 1.3));
        assert!(
            keys.contains(&"best") && keys.contains(&"choose_io"),
            "{keys:?}"
        );
        assert!(!keys.contains(&"tie"), "{keys:?}");
        assert!(conclusion.contains("choose threads"), "{conclusion}");
    }

    #[test]
    fn with_repeats_the_measured_spread_decides() {
        // 8% apart: more than one run's stated noise; a tie only when the repeats spread wider than the gap.
        let repeated = |spread: f64| {
            let mut results = results(|_| 19.5 * 1.08);
            results.repeat = 3;
            let first: Vec<_> = results.cells.clone();
            for (repeat, factor) in [(1, 1.0 - spread), (2, 1.0 + spread)] {
                for cell in &first {
                    let mut cell = cell.clone();
                    cell.repeat = repeat;
                    let m = cell.measurement.as_mut().unwrap();
                    m.throughput_rps *= factor;
                    results.cells.push(cell);
                }
            }
            verdict(&results).0
        };
        let wide = repeated(0.10);
        assert!(wide.contains(&"tie"), "{wide:?}");
        let narrow = repeated(0.01);
        assert!(
            narrow.contains(&"best") && !narrow.contains(&"tie"),
            "{narrow:?}"
        );
    }
}
