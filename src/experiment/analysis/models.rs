//! Rules over one model's series under one work, as clients grow: the shape of the throughput curve, the bound
//! that explains its level, latency, trouble (errors, overflows, starvation, requests left behind) and cost.

use super::finding::ModelFinding::*;
use super::one_core::{self, one_core};
use super::{Finding, Point, SERVED_SOMETHING, little, ratio, series, slow, syn};
use crate::experiment::predict::is_off;
use crate::experiment::results::Results;
use crate::experiment::subject::Subject;
use crate::work::Work;

/// Throughput that grew by at least this share of the growth in clients scaled: perfect overlap gives 1, and
/// connection setup, timer slack and the generator's own work take some of it.
const SCALES_SHARE: f64 = 0.6;

/// Throughput that grew by less than this factor over all the clients stayed flat: the noise between runs
/// alone moves a cell by 10-20%.
const FLAT_GROWTH: f64 = 1.3;

/// The knee of a plateau is the first point after which one more step of clients added less than 20%.
const KNEE_STEP_GROWTH: f64 = 1.2;

/// A measured level within 30% of a theoretical bound is that bound at work; further off, something else
/// limited (the theory ignores connection setup and scheduling, so it is never exact).
const NEAR_BOUND: f64 = 0.3;

/// A load generator whose threads were this busy could not send any faster: the client side may be the limit.
const GENERATOR_BUSY: f64 = 0.85;

/// A p99 latency that grew more than this many times from the fewest to the most clients means requests
/// queued behind each other; less is scheduling noise.
const QUEUED_LATENCY_GROWTH: f64 = 3.0;

/// The least p99 (ms) a growth is measured from, so that a p99 of 0 on a coarse clock still compares.
const LATENCY_FLOOR_MS: f64 = 0.001;

/// One client completing more than this many times the requests of another is starvation, not the jitter of
/// a closed loop.
const STARVATION_RATIO: u64 = 3;

/// Requests in flight when a cell ends are normal; one that had waited this many times the p99 latency had
/// been left behind.
const LEFT_BEHIND_P99S: f64 = 2.0;

/// Everything found about `model` in `group`, in the order the report reads it.
pub(super) fn findings(
    results: &Results,
    group: &str,
    work: Work,
    model: Subject,
    cores: usize,
) -> Vec<Finding> {
    let mut findings = failed_cells(results, group, model);
    let points = series(results, group, model);
    let Some(last) = points.last() else {
        return findings;
    };
    findings.extend(curve_shape(&points));
    findings.extend(level_bound(results, group, work, model, cores, last));
    findings.extend(generator_bound(&points));
    if matches!(work, Work::Cpu(_)) {
        findings.extend(one_core(results, group, model, cores, &points).map(one_core_finding));
    }
    findings.extend(latency(&points));
    findings.extend(syn::retransmission(results, group, &points));
    let connects = !results.keep_alive && !results.proto.is_datagram();
    findings.push(little::law(last, connects));
    for point in &points {
        findings.extend(errors(point));
        findings.extend(listen_overflow(point));
    }
    findings.extend(starvation(&points));
    findings.extend(left_behind(&points));
    findings.extend(slow::findings(results, group, model));
    findings.push(resources(last));
    findings.extend(off_prediction(results, group, model, &points));
    findings
}

/// What computing on one core says: a global lock when many threads shared it, one loop when one thread did.
fn one_core_finding(found: one_core::OneCore) -> Finding {
    let cores = found.cores;
    if found.threads > 1 {
        GlobalLock {
            clients: found.clients,
            threads: found.threads,
            most_cores: found.most_cores,
            cores,
        }
        .into()
    } else {
        OneLoop {
            clients: found.clients,
            most_cores: found.most_cores,
            cores,
        }
        .into()
    }
}

/// Cells that could not be measured, and why.
pub(super) fn failed_cells(results: &Results, group: &str, model: Subject) -> Vec<Finding> {
    results
        .clients
        .iter()
        .filter_map(|&clients| {
            let why = results.failure(group, model, clients)?;
            Some(
                CellFailed {
                    clients,
                    why: why.into(),
                }
                .into(),
            )
        })
        .collect()
}

/// Throughput scaling with the clients, flat, or growing to a plateau.
fn curve_shape(points: &[Point]) -> Option<Finding> {
    let (first, last) = (points.first()?, points.last()?);
    if points.len() < 2 {
        return None;
    }
    let flat = Flat {
        rps: last.rps,
        first_clients: first.clients,
        last_clients: last.clients,
    };
    // Growth from nothing is no ratio: nothing to nothing is flat, nothing to something has no shape to name.
    if first.rps < SERVED_SOMETHING {
        return (last.rps < SERVED_SOMETHING).then(|| flat.into());
    }
    let growth = ratio(last.rps, first.rps);
    let client_growth = last.clients as f64 / first.clients as f64;
    let shape = if growth >= SCALES_SHARE * client_growth {
        Scales {
            first_rps: first.rps,
            first_clients: first.clients,
            last_rps: last.rps,
            last_clients: last.clients,
            growth,
            client_growth,
        }
    } else if growth < FLAT_GROWTH {
        flat
    } else {
        let knee = points
            .windows(2)
            .find(|step| step[1].rps < KNEE_STEP_GROWTH * step[0].rps)
            .map_or(last, |step| &step[0]);
        Plateau {
            knee_clients: knee.clients,
            rps: last.rps,
        }
    };
    Some(shape.into())
}

/// Why throughput levelled where it did: the bound the prediction names, when the most loaded point is near
/// it — one request at a time (a blocking call in an event loop, or a sequential server), the cores, or the
/// model's concurrency.
fn level_bound(
    results: &Results,
    group: &str,
    work: Work,
    model: Subject,
    cores: usize,
    last: &Point,
) -> Option<Finding> {
    let prediction = results.prediction(group, model, last.clients)?;
    let (concurrency, bound_rps) = (prediction.concurrency, prediction.throughput_rps?);
    if (last.rps - bound_rps).abs() > NEAR_BOUND * bound_rps {
        return None;
    }
    let per_request = work.duration();
    let one_at_a_time = concurrency == Some(1);
    let computing = matches!(work, Work::Cpu(_));
    let on_every_core = concurrency.is_none_or(|k| k.min(last.clients) >= cores);
    let bound = if one_at_a_time && model.is_event_driven() && matches!(work, Work::Block(_)) {
        BlockingLoop {
            per_request,
            bound_rps,
        }
    } else if one_at_a_time {
        Serialised {
            per_request,
            bound_rps,
        }
    } else if computing && on_every_core {
        BoundCores {
            used_cores: last.run.server_cpu_cores,
            cores,
            per_request,
            bound_rps,
        }
    } else if let Some(concurrency) = concurrency.filter(|&k| k < last.clients) {
        BoundConcurrency {
            concurrency,
            per_request,
            bound_rps,
        }
    } else {
        return None;
    };
    Some(bound.into())
}

/// The load generator, not the server, may have been the limit.
fn generator_bound(points: &[Point]) -> Option<Finding> {
    let busy = points.iter().find(|p| {
        p.run.generator_cpu_cores >= GENERATOR_BUSY * p.run.generator_threads.max(1) as f64
    })?;
    Some(
        BoundGenerator {
            generator_cores: busy.run.generator_cpu_cores,
            clients: busy.clients,
        }
        .into(),
    )
}

/// p99 latency growing with the clients (a queue), or steady.
fn latency(points: &[Point]) -> Option<Finding> {
    let (first, last) = (points.first()?, points.last()?);
    if points.len() < 2 {
        return None;
    }
    let (first_p99_ms, last_p99_ms) = (first.run.latency.p99_ms, last.run.latency.p99_ms);
    if last_p99_ms > QUEUED_LATENCY_GROWTH * first_p99_ms.max(LATENCY_FLOOR_MS) {
        return Some(
            LatencyQueue {
                first_p99_ms,
                first_clients: first.clients,
                last_p99_ms,
                last_clients: last.clients,
            }
            .into(),
        );
    }
    let p99s = points.iter().map(|p| p.run.latency.p99_ms);
    Some(
        LatencySteady {
            lowest_p99_ms: p99s.clone().fold(f64::INFINITY, f64::min),
            highest_p99_ms: p99s.fold(0.0, f64::max),
        }
        .into(),
    )
}

/// Requests that failed at one client count, by kind.
fn errors(point: &Point) -> Option<Finding> {
    let failed = point.run.error_count();
    (failed > 0).then(|| {
        Errors {
            clients: point.clients,
            failed,
            by_kind: point.run.errors.clone().into_iter().collect(),
        }
        .into()
    })
}

/// The listen queue overflowing at one client count.
fn listen_overflow(point: &Point) -> Option<Finding> {
    let overflows = point.run.listen_overflows.filter(|n| *n > 0)?;
    Some(
        ListenOverflow {
            clients: point.clients,
            overflows,
        }
        .into(),
    )
}

/// Some clients served to the end while others waited: the first client count where it showed.
fn starvation(points: &[Point]) -> Option<Finding> {
    let starved = points.iter().find(|p| {
        let (fewest, most) = (p.run.fewest_per_client, p.run.most_per_client);
        p.clients > 1 && (fewest == 0 || most > STARVATION_RATIO * fewest.max(1))
    })?;
    Some(
        Starvation {
            clients: starved.clients,
            fewest: starved.run.fewest_per_client,
            most: starved.run.most_per_client,
        }
        .into(),
    )
}

/// Requests left behind: unanswered at the end of a cell after far longer than almost every answered one had
/// waited; the cell where the oldest had waited longest.
fn left_behind(points: &[Point]) -> Option<Finding> {
    let waiting = points
        .iter()
        .filter(|p| {
            p.run.unfinished > 0
                && p.run.oldest_unfinished_ms > LEFT_BEHIND_P99S * p.run.latency.p99_ms
        })
        .max_by(|a, b| {
            a.run
                .oldest_unfinished_ms
                .total_cmp(&b.run.oldest_unfinished_ms)
        })?;
    Some(
        Unfinished {
            clients: waiting.clients,
            waiting: waiting.run.unfinished,
            oldest_ms: waiting.run.oldest_unfinished_ms,
        }
        .into(),
    )
}

/// What serving the most clients cost: threads, processes, memory, CPU.
fn resources(last: &Point) -> Finding {
    let server = &last.run.server;
    Resources {
        clients: last.clients,
        threads: server.peak_threads,
        processes: server.peak_processes.max(1),
        pss_mib: server.peak_pss_kib as f64 / 1024.0,
        cpu_cores: last.run.server_cpu_cores,
    }
    .into()
}

/// Cells whose throughput was off the prediction by more than theory's slack and the spread between repeats.
fn off_prediction(
    results: &Results,
    group: &str,
    model: Subject,
    points: &[Point],
) -> Option<Finding> {
    let clients: Vec<usize> = points
        .iter()
        .filter(|p| {
            results
                .prediction(group, model, p.clients)
                .and_then(|prediction| prediction.throughput_rps)
                .is_some_and(|predicted| is_off(p.rps, predicted, p.spread))
        })
        .map(|p| p.clients)
        .collect();
    (!clients.is_empty()).then(|| OffPrediction { clients }.into())
}
