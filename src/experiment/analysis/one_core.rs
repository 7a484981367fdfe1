//! One core at a time: a server that could compute several requests at once (by its design, or as far as
//! anyone declared) yet, with more clients than one and cores free, kept one core busy and no more.
//!
//! With many threads in one process that is a global lock: the threads take turns on the interpreter, as
//! CPython's threads do under its GIL. With one thread it is one loop doing all the computing (asyncio, a
//! `select()` loop). Either way more clients cannot buy more throughput than one core gives, whatever the
//! design promises; processes (a GIL each) are the way past it.

use super::Point;
use crate::experiment::results::{Measurement, Results};
use crate::experiment::subject::Subject;

/// Busy cores up to this count as one: one core fully busy reads 1.0 give or take the sampling and the
/// server's own bookkeeping threads.
const ONE_CORE: f64 = 1.25;

/// ...and at least this many: it did compute, nearly a core's worth (a server that ignores `cpu:` work and
/// idles is no evidence of a lock).
const COMPUTED: f64 = 0.75;

/// The machine had at least this much of a core idle besides: the server could have used more and did not.
/// (On a crowded machine, one core may be all it was given.)
const SPARE_CORE: f64 = 0.5;

/// What the rule found: the most loaded cell where it held.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OneCore {
    pub clients: usize,
    pub threads: u64,
    /// The most cores the server kept busy in any cell that could have used more.
    pub most_cores: f64,
    pub cores: usize,
}

/// How many requests a cell's server could work on at once: its predicted concurrency (every client, when
/// none was declared), at most its clients.
pub(super) fn at_once(results: &Results, group: &str, subject: Subject, clients: usize) -> usize {
    results
        .prediction(group, subject, clients)
        .and_then(|p| p.concurrency)
        .unwrap_or(clients)
        .min(clients)
}

/// Whether one cell computed on one core though it could have used more: one process, one core busy or less,
/// and cores to spare on the machine.
pub(super) fn computed_on_one_core(run: &Measurement, at_once: usize, cores: usize) -> bool {
    let machine = run
        .machine_cpu_cores
        .unwrap_or(run.server_cpu_cores + run.generator_cpu_cores);
    cores >= 2
        && at_once >= 2
        && run.server.peak_processes <= 1
        && run.server_cpu_cores <= ONE_CORE
        && run.server_cpu_cores >= COMPUTED
        && machine <= cores as f64 - SPARE_CORE
}

/// The rule over a subject's series under computation: it held in every cell that could have used two cores
/// or more (and there was at least one).
pub(super) fn one_core(
    results: &Results,
    group: &str,
    subject: Subject,
    cores: usize,
    points: &[Point],
) -> Option<OneCore> {
    let could: Vec<&Point> = points
        .iter()
        .filter(|p| at_once(results, group, subject, p.clients) >= 2)
        .collect();
    let last = could.last()?;
    could
        .iter()
        .all(|p| computed_on_one_core(p.run, at_once(results, group, subject, p.clients), cores))
        .then(|| OneCore {
            clients: last.clients,
            threads: last.run.server.peak_threads,
            most_cores: could
                .iter()
                .map(|p| p.run.server_cpu_cores)
                .fold(0.0, f64::max),
            cores,
        })
}
