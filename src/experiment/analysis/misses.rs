//! A reason for every miss. A cell more than 10% from its prediction gets the reason its own measurements give,
//! from a short list of rules, each a function with its threshold named: the load generator crowding the same
//! cores (or other processes doing so), connection set-up paid by every request, clients never all served before measuring began, a listen
//! queue that overflowed, requests that failed, slow connections holding the server. A miss no rule explains is
//! said to be unexplained, never hidden; the summary counts cells within 10% and 25%, and misses explained.

use super::finding::{Miss, MissReason};
use super::one_core::{at_once, computed_on_one_core, one_core as on_one_core_series};
use super::{Finding, ratio};
use crate::experiment::results::{Measurement, Results, work_of};
use crate::experiment::run::waits_for_every_client;
use crate::experiment::subject::Subject;
use crate::work::Work;

/// Farther than this from its prediction, a cell is a miss that needs a reason.
pub const MISS: f64 = 0.10;
/// Within this, a cell is close: the summary counts these too.
pub const CLOSE: f64 = 0.25;
/// Server and generator together used this share of the cores or more: they competed for them.
const CORES_CROWDED: f64 = 0.85;
/// ...and the generator's own part was this many cores at least (a generator at 0.05 cores crowds nobody).
const GENERATOR_NOTICEABLE: f64 = 0.2;
/// Busier than this share of what could be busy is busy: below it, cores sat idle.
const BUSY: f64 = 0.9;

/// Busy cores that are neither the server's nor the generator's: other processes competed with the cell.
const OTHERS_NOTICEABLE: f64 = 0.3;
/// With a connection per request, set-up longer than this share of the work is a reason of its own.
const SETUP_SHARE: f64 = 0.05;

/// Every miss of `group` (a work's cells) with its reasons, in model then client order.
pub fn misses(results: &Results, group: &str, cores: usize) -> Vec<Finding> {
    let work = work_of(group);
    let mut found = Vec::new();
    for (model, clients, measured, predicted) in predicted_cells(results, group) {
        if (measured - predicted).abs() <= MISS * predicted {
            continue;
        }
        let Some(run) = results.median_run(group, model, clients) else {
            continue;
        };
        let under = measured < predicted;
        // A cell is put down to one core only when the whole series shows it, not one cell by chance.
        let one_core =
            (under && matches!(work, Work::Cpu(_)) && on_one_core(results, group, model, cores))
                .then(|| one_core(results, group, run, model, clients, cores))
                .flatten();
        let reasons: Vec<MissReason> = [
            slow_connections(run),
            errors(run),
            listen_overflow(run),
            not_all_served(results, run, clients),
            under.then(|| generator_crowding(run, cores)).flatten(),
            under.then(|| other_processes(run, cores)).flatten(),
            // One core busy by the server's own design is not the clients' turn-around.
            (under && one_core.is_none())
                .then(|| idle_cores(results, group, run, model, clients, work, cores))
                .flatten(),
            one_core,
            under
                .then(|| server_overhead(run, measured, work))
                .flatten(),
            under
                .then(|| connection_setup(results, group, model, clients, measured, work))
                .flatten(),
        ]
        .into_iter()
        .flatten()
        .collect();
        found.push(
            Miss::Cell {
                model,
                clients,
                measured,
                predicted,
                reasons,
            }
            .into(),
        );
    }
    found
}

/// How the measured cells of every work stand against their predictions.
pub fn summary(results: &Results, cores: usize) -> Option<Finding> {
    let (mut cells, mut within_miss, mut within_close, mut explained) = (0, 0, 0, 0);
    for group in &results.works {
        for (_, _, measured, predicted) in predicted_cells(results, group) {
            cells += 1;
            let gap = (measured - predicted).abs() / predicted;
            within_miss += usize::from(gap <= MISS);
            within_close += usize::from(gap <= CLOSE);
        }
        explained += misses(results, group, cores)
            .iter()
            .filter(
                |f| matches!(f, Finding::Miss(Miss::Cell { reasons, .. }) if !reasons.is_empty()),
            )
            .count();
    }
    (cells > 0).then(|| {
        Miss::Summary {
            cells,
            within_miss,
            within_close,
            misses: cells - within_miss,
            explained,
        }
        .into()
    })
}

/// Every cell of `group` that has both a measured throughput (the median of its repeats) and a prediction:
/// (model, clients, measured, predicted).
fn predicted_cells<'a>(
    results: &'a Results,
    group: &'a str,
) -> impl Iterator<Item = (Subject, usize, f64, f64)> + 'a {
    results.models.iter().flat_map(move |&model| {
        results.clients.iter().filter_map(move |&clients| {
            let (measured, _) = results.throughput(group, model, clients)?;
            let predicted = results
                .prediction(group, model, clients)?
                .throughput_rps
                .filter(|p| *p > 0.0)?;
            Some((model, clients, measured, predicted))
        })
    })
}

/// Slow connections beside the clients held some of the server (the slowloris lesson, told in its own finding).
fn slow_connections(run: &Measurement) -> Option<MissReason> {
    let slow = run.slow.as_ref()?;
    Some(MissReason::SlowConnections {
        connections: slow.connections,
    })
}

fn errors(run: &Measurement) -> Option<MissReason> {
    let failed = run.error_count();
    (failed > 0).then_some(MissReason::Errors { failed })
}

fn listen_overflow(run: &Measurement) -> Option<MissReason> {
    let overflows = run.listen_overflows.filter(|n| *n > 0)?;
    Some(MissReason::ListenOverflow { overflows })
}

/// Measuring waits for every client to be served once; a cell where that never happened measured a ramp.
fn not_all_served(results: &Results, run: &Measurement, clients: usize) -> Option<MissReason> {
    let waited = waits_for_every_client(results.proto, results.slow);
    (waited && run.all_served_ms.is_none() && clients > 1).then_some(MissReason::NotAllServed {
        clients,
        measured_from_ms: run.timeline.measured_from_ms,
    })
}

/// The generator runs on the same machine: CPU it used was not the server's.
fn generator_crowding(run: &Measurement, cores: usize) -> Option<MissReason> {
    let used = run.server_cpu_cores + run.generator_cpu_cores;
    (used >= CORES_CROWDED * cores as f64 && run.generator_cpu_cores >= GENERATOR_NOTICEABLE)
        .then_some(MissReason::GeneratorCrowding {
            server_cores: run.server_cpu_cores,
            generator_cores: run.generator_cpu_cores,
            cores,
        })
}

/// Anything else running on the machine during the cell (another build, another test): busy cores the server
/// and the generator do not account for.
fn other_processes(run: &Measurement, cores: usize) -> Option<MissReason> {
    let machine = run.machine_cpu_cores?;
    let others = machine - run.server_cpu_cores - run.generator_cpu_cores;
    (others >= OTHERS_NOTICEABLE && machine >= CORES_CROWDED * cores as f64).then_some(
        MissReason::OtherProcesses {
            other_cores: others,
            machine_cores: machine,
            cores,
        },
    )
}

/// Whether the whole series of `model` in `group` computed on one core (the rule of [`super::one_core`]).
fn on_one_core(results: &Results, group: &str, model: Subject, cores: usize) -> bool {
    on_one_core_series(
        results,
        group,
        model,
        cores,
        &super::series(results, group, model),
    )
    .is_some()
}

/// Computing, the server kept one core busy though its design (or its declared concurrency) allowed more and the
/// machine had cores free: its threads took turns (a global lock) or one loop computed everything.
fn one_core(
    results: &Results,
    group: &str,
    run: &Measurement,
    model: Subject,
    clients: usize,
    cores: usize,
) -> Option<MissReason> {
    computed_on_one_core(run, at_once(results, group, model, clients), cores).then_some(
        MissReason::OneCore {
            threads: run.server.peak_threads,
            server_cores: run.server_cpu_cores,
        },
    )
}

/// Computing, the server kept fewer cores busy than its clients could have, while the machine had cores to
/// spare: between a reply and the next request, the clients' turn-around (their next send, scheduled on the
/// same cores) left the server's threads waiting for work.
fn idle_cores(
    results: &Results,
    group: &str,
    run: &Measurement,
    model: Subject,
    clients: usize,
    work: Work,
    cores: usize,
) -> Option<MissReason> {
    if !matches!(work, Work::Cpu(_)) {
        return None;
    }
    let could = at_once(results, group, model, clients).min(cores) as f64;
    let machine = run
        .machine_cpu_cores
        .unwrap_or(run.server_cpu_cores + run.generator_cpu_cores);
    (run.server_cpu_cores < BUSY * could && machine < BUSY * cores as f64).then_some(
        MissReason::IdleCores {
            server_cores: run.server_cpu_cores,
            could_use: could,
            machine_cores: machine,
            cores,
        },
    )
}

/// Computing, the server spent more CPU per request than the work itself: switching between threads, system
/// calls, its own loop.
fn server_overhead(run: &Measurement, measured: f64, work: Work) -> Option<MissReason> {
    if !matches!(work, Work::Cpu(_)) {
        return None;
    }
    let cpu_ms = ratio(run.server_cpu_cores, measured) * 1000.0;
    let work_ms = work.duration().as_secs_f64() * 1000.0;
    (cpu_ms - work_ms >= SETUP_SHARE * work_ms).then_some(MissReason::ServerOverhead {
        cpu_per_request_ms: cpu_ms,
        work_ms,
    })
}

/// With a connection per request, each request also waits for a handshake and a close: the time per request the
/// measured throughput implies, beyond the work, is that set-up (the prediction leaves it out).
fn connection_setup(
    results: &Results,
    group: &str,
    model: Subject,
    clients: usize,
    measured: f64,
    work: Work,
) -> Option<MissReason> {
    // Waiting work only: under computation, the time per request is the cores' to share, not set-up.
    if results.keep_alive
        || results.proto.is_datagram()
        || !matches!(work, Work::Sleep(_) | Work::Block(_))
    {
        return None;
    }
    let at_once = at_once(results, group, model, clients);
    let per_request_ms = ratio(at_once as f64, measured) * 1000.0;
    let work_ms = work.duration().as_secs_f64() * 1000.0;
    let setup_ms = per_request_ms - work_ms;
    (setup_ms >= SETUP_SHARE * work_ms).then_some(MissReason::ConnectionSetup {
        per_request_ms,
        work_ms,
    })
}
