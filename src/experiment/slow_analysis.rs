//! The analysis of cells with slow (slowloris) connections beside the clients: which models they starved, and
//! whether a header deadline freed them.
//!
//! A cell is *starved* when its clients got less than a tenth of what they would have got without the slow
//! connections: the prediction (which knows nothing of them), or, where theory has no number (work `none`), the
//! best any model did at that many clients in the same group. A group's header deadline is read from its variant
//! (`--header-timeout 1s`); the same work without one is the group to compare it with.

use super::analysis::{Finding, ms as ms_arg, rps as rps_arg};
use super::catalog::Arg;
use super::results::{Measurement, Results, work_of};
use crate::models::Model;

/// Below this share of the expected throughput, the clients were starved.
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

fn points<'a>(results: &'a Results, group: &'a str, model: Model) -> Vec<SlowPoint<'a>> {
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
pub fn slow_findings(results: &Results, group: &str, model: Model) -> Vec<Finding> {
    let points = points(results, group, model);
    let Some(last) = points.last() else {
        return Vec::new();
    };
    let slow = last.run.slow.as_ref().map_or(0, |s| s.connections);
    let s = Arg::Int(slow as u64);
    let deadline = header_deadline(group);
    let starved: Vec<&SlowPoint> = points.iter().filter(|p| p.starved()).collect();
    if let Some(worst) = starved.last() {
        let mut args = vec![
            ("s", s),
            ("r", rps_arg(worst.rps)),
            ("c", Arg::Int(worst.clients as u64)),
            ("e", rps_arg(worst.expected)),
            ("n", Arg::Int(starved.len() as u64)),
            ("m", Arg::Int(points.len() as u64)),
        ];
        return vec![match deadline {
            None => Finding::new("slow_starved", args),
            Some(d) => {
                args.push(("d", Arg::Text(d.to_string())));
                Finding::new("slow_starved_deadline", args)
            }
        }];
    }
    // Served beside them: freed by the deadline, if the same model starved without one; else never held up.
    let before = deadline
        .and_then(|_| without_deadline(results, group))
        .and_then(|g| points_of(results, g, model, last.clients).filter(|p| p.starved()));
    let closed = last.run.slow.as_ref().filter(|s| s.closed_by_server > 0);
    if let (Some(d), Some(before), Some(closed)) = (deadline, before, closed) {
        let codes: Vec<String> = closed.answered.keys().map(u16::to_string).collect();
        let seconds = |us: Option<u64>| ms_arg(us.unwrap_or(0) as f64 / 1e6);
        return vec![Finding::new(
            "slow_freed",
            vec![
                ("d", Arg::Text(d.to_string())),
                ("k", Arg::Int(closed.closed_by_server)),
                ("t1", seconds(closed.closed_after_min_us)),
                ("t2", seconds(closed.closed_after_max_us)),
                ("a", Arg::Int(closed.answered_total())),
                (
                    "codes",
                    Arg::Text(if codes.is_empty() {
                        "-".into()
                    } else {
                        codes.join(", ")
                    }),
                ),
                ("r", rps_arg(last.rps)),
                ("c", Arg::Int(last.clients as u64)),
                ("r0", rps_arg(before.rps)),
            ],
        )];
    }
    vec![Finding::new(
        "slow_unharmed",
        vec![
            ("s", s),
            ("r", rps_arg(last.rps)),
            ("c", Arg::Int(last.clients as u64)),
        ],
    )]
}

fn points_of<'a>(
    results: &'a Results,
    group: &'a str,
    model: Model,
    clients: usize,
) -> Option<SlowPoint<'a>> {
    points(results, group, model)
        .into_iter()
        .find(|p| p.clients == clients)
}

/// Which models slow connections starved in `group`, and which went on serving; nothing when it had none.
pub fn slow_summary(results: &Results, group: &str) -> Option<Finding> {
    let mut slow = 0;
    let (mut starved, mut served) = (Vec::new(), Vec::new());
    for &model in &results.models {
        let points = points(results, group, model);
        let Some(last) = points.last() else { continue };
        slow = last.run.slow.as_ref().map_or(0, |s| s.connections);
        if points.iter().any(SlowPoint::starved) {
            starved.push(model.to_string());
        } else {
            served.push(model.to_string());
        }
    }
    if starved.is_empty() && served.is_empty() {
        return None;
    }
    let list = |names: Vec<String>| {
        if names.is_empty() {
            Arg::Label("nobody")
        } else {
            Arg::Text(names.join(", "))
        }
    };
    Some(Finding::new(
        "slow_summary",
        vec![
            ("s", Arg::Int(slow as u64)),
            ("starved", list(starved)),
            ("served", list(served)),
        ],
    ))
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
