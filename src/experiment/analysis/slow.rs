//! Rules for cells with slow (slowloris) connections beside the clients: which models they starved, and
//! whether a header deadline freed them.
//!
//! A cell is *starved* when its clients got less than a tenth of what they would have got without the slow
//! connections: the prediction (which knows nothing of them), or, where theory has no number (work `none`), the
//! best any model did at that many clients in the same group. A group's header deadline is read from its variant
//! (`--header-timeout 1s`); the same work without one is the group to compare it with.

use super::Finding;
use super::finding::SlowFinding::*;
use crate::experiment::results::{Measurement, Results, work_of};
use crate::experiment::subject::Subject;

/// Below this share of the expected throughput, the clients were starved: slow connections that merely slow a
/// model down leave it far more than a tenth, and one that holds every worker leaves it (nearly) nothing.
const STARVED_SHARE: f64 = 0.1;

/// One client count of a model in a group, beside slow connections.
struct SlowPoint<'a> {
    clients: usize,
    rps: f64,
    expected: f64,
    run: &'a Measurement,
}

impl SlowPoint<'_> {
    fn starved(&self) -> bool {
        self.run.requests == 0 || self.rps < STARVED_SHARE * self.expected
    }
}

/// The header deadline a group's servers ran with (`1s`), if any.
pub fn header_deadline(group: &str) -> Option<&str> {
    let mut words = group
        .split_whitespace()
        .skip_while(|w| *w != "--header-timeout");
    words.next()?;
    words.next().filter(|d| !matches!(*d, "off" | "0" | "none"))
}

/// The points of `model` in `group` that had slow connections beside them, each with what its clients could
/// have expected without them.
fn points<'a>(results: &'a Results, group: &'a str, model: Subject) -> Vec<SlowPoint<'a>> {
    results
        .clients
        .iter()
        .filter_map(|&clients| {
            let run = results.median_run(group, model, clients)?;
            run.slow.as_ref()?;
            let (rps, _) = results.throughput(group, model, clients)?;
            let predicted = results
                .prediction(group, model, clients)
                .and_then(|p| p.throughput_rps);
            let best = results
                .models
                .iter()
                .filter_map(|&m| results.throughput(group, m, clients).map(|(r, _)| r))
                .fold(0.0, f64::max);
            Some(SlowPoint {
                clients,
                rps,
                expected: predicted.unwrap_or(best),
                run,
            })
        })
        .collect()
}

/// The group with the same work and no header deadline, to compare a deadline group with.
fn without_deadline<'a>(results: &'a Results, group: &str) -> Option<&'a str> {
    let work = work_of(group);
    results
        .works
        .iter()
        .map(String::as_str)
        .find(|g| *g != group && work_of(g) == work && header_deadline(g).is_none())
}

/// What slow connections did to `model` in `group`: nothing when the group had none.
pub(super) fn findings(results: &Results, group: &str, model: Subject) -> Option<Finding> {
    let points = points(results, group, model);
    let last = points.last()?;
    starved(&points, group)
        .or_else(|| freed(results, group, model, last))
        .or_else(|| Some(unharmed(last)))
}

/// How many slow connections ran beside the clients at `point`.
fn slow_connections(point: &SlowPoint) -> usize {
    point.run.slow.as_ref().map_or(0, |s| s.connections)
}

/// The clients starved at some client count: said at the most clients where they were.
fn starved(points: &[SlowPoint], group: &str) -> Option<Finding> {
    let starved: Vec<&SlowPoint> = points.iter().filter(|p| p.starved()).collect();
    let worst = starved.last()?;
    let (slow, rps, clients, expected_rps) = (
        slow_connections(points.last()?),
        worst.rps,
        worst.clients,
        worst.expected,
    );
    let finding = match header_deadline(group) {
        None => Starved {
            slow,
            rps,
            clients,
            expected_rps,
            starved_cells: starved.len(),
            cells: points.len(),
        },
        Some(deadline) => StarvedDeadline {
            deadline: deadline.to_string(),
            slow,
            rps,
            clients,
            expected_rps,
        },
    };
    Some(finding.into())
}

/// Served beside the slow connections thanks to the header deadline: the same model starved without one, and
/// the server closed slow connections.
fn freed(results: &Results, group: &str, model: Subject, last: &SlowPoint) -> Option<Finding> {
    let deadline = header_deadline(group)?;
    let before = point_at(
        results,
        without_deadline(results, group)?,
        model,
        last.clients,
    )
    .filter(SlowPoint::starved)?;
    let closed = last.run.slow.as_ref().filter(|s| s.closed_by_server > 0)?;
    let seconds = |us: Option<u64>| us.unwrap_or(0) as f64 / 1e6;
    Some(
        Freed {
            deadline: deadline.to_string(),
            closed: closed.closed_by_server,
            first_close_s: seconds(closed.closed_after_min_us),
            last_close_s: seconds(closed.closed_after_max_us),
            answered: closed.answered_total(),
            statuses: closed.answered.keys().copied().collect(),
            rps: last.rps,
            clients: last.clients,
            rps_without_deadline: before.rps,
        }
        .into(),
    )
}

/// Served beside the slow connections as if they were not there.
fn unharmed(last: &SlowPoint) -> Finding {
    Unharmed {
        slow: slow_connections(last),
        rps: last.rps,
        clients: last.clients,
    }
    .into()
}

/// The point of `model` at `clients` in `group`, if it had slow connections.
fn point_at<'a>(
    results: &'a Results,
    group: &'a str,
    model: Subject,
    clients: usize,
) -> Option<SlowPoint<'a>> {
    points(results, group, model)
        .into_iter()
        .find(|p| p.clients == clients)
}

/// Which models slow connections starved in `group`, and which went on serving; nothing when it had none.
pub(super) fn summary(results: &Results, group: &str) -> Option<Finding> {
    let mut slow = 0;
    let (mut starved, mut serving) = (Vec::new(), Vec::new());
    for &model in &results.models {
        let points = points(results, group, model);
        let Some(last) = points.last() else { continue };
        slow = slow_connections(last);
        if points.iter().any(SlowPoint::starved) {
            starved.push(model);
        } else {
            serving.push(model);
        }
    }
    if starved.is_empty() && serving.is_empty() {
        return None;
    }
    Some(
        Summary {
            slow,
            starved,
            serving,
        }
        .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_read_from_the_group() {
        assert_eq!(
            header_deadline("sleep:10ms --header-timeout 1s"),
            Some("1s")
        );
        assert_eq!(header_deadline("sleep:10ms --header-timeout off"), None);
        assert_eq!(header_deadline("sleep:10ms"), None);
    }
}
