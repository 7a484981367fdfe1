//! SYN retransmission: the classroom's most striking effect, and the one students ask about ("why exactly one
//! second?"). A listen queue holds the connections the kernel has completed and the server has not yet
//! `accept()`ed; when it is full (Python's `TCPServer` keeps 5), Linux drops a new connection request without a
//! word, and the client sends its SYN again only when its retransmission timer expires: 1 s, Linux's initial RTO
//! (RFC 6298), then 2 s more. Latency then comes in steps of a second that no queue of 50 ms requests can make,
//! and some clients are not served at all while others are.
//!
//! The rule names the cause when the kernel counted overflows during a cell, or when, with a connection per
//! request, the tail sits a second above the median: the kernel's counter is machine-wide and may be
//! unreadable, while the step is in the cell's own latencies.

use super::finding::ModelFinding::SynRetransmission;
use super::{Finding, Point};
use crate::experiment::results::Results;

/// Linux's initial retransmission timeout for a SYN (`TCP_TIMEOUT_INIT`, RFC 6298 §2.1), in ms: the first step.
pub(super) const INITIAL_RTO_MS: f64 = 1000.0;

/// A p99 this share of the initial RTO above the median is the timer's step, not a queue: in a closed loop a
/// queue delays every client's requests alike (a sequential server with a large backlog gives p50 ≈ p99), while
/// a dropped SYN adds a whole second to a few of them. Below 1 to leave room for a median that already queued.
const STEP_SHARE: f64 = 0.8;

/// The cell of `points` that shows SYN retransmission (listen-queue overflows, or a tail a timer's step above
/// the median with a connection per request), the one with the longest tail if several do. Overflows too few
/// to reach the p99 are named all the same, and said to be few.
pub(super) fn retransmission(results: &Results, group: &str, points: &[Point]) -> Option<Finding> {
    // Only a connection per request connects during the measurement: with keep-alive a step is something else.
    let connects = !results.keep_alive && !results.proto.is_datagram();
    let step = |p: &Point| {
        let latency = &p.run.latency;
        connects
            && latency.p99_ms >= INITIAL_RTO_MS
            && latency.p99_ms - latency.p50_ms >= STEP_SHARE * INITIAL_RTO_MS
    };
    let shows = |p: &&Point| p.run.listen_overflows.is_some_and(|n| n > 0) || step(p);
    let worst = points
        .iter()
        .filter(shows)
        .max_by(|a, b| a.run.latency.p99_ms.total_cmp(&b.run.latency.p99_ms))?;
    Some(
        SynRetransmission {
            clients: worst.clients,
            backlog: results.backlog(group),
            overflows: worst.run.listen_overflows.unwrap_or(0),
            step: step(worst),
            p50_ms: worst.run.latency.p50_ms,
            p99_ms: worst.run.latency.p99_ms,
        }
        .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::{findings_of, results};
    use crate::experiment::analysis::analyse;
    use crate::experiment::catalog::Lang;
    use crate::experiment::subject::Subject;
    use crate::models::Model;

    const GROUP: &str = "sleep:50ms";

    /// The classroom's numbers: sequential at 10 clients with a tail a second above its median.
    fn stepped() -> crate::experiment::results::Results {
        let mut results = results(|clients| 19.5 * clients as f64);
        for cell in &mut results.cells {
            if cell.model == Subject::Model(Model::Sequential) && cell.clients == 10 {
                let m = cell.measurement.as_mut().unwrap();
                (m.latency.p50_ms, m.latency.p99_ms) = (353.5, 1360.0);
            }
        }
        results
    }

    fn syn(results: &crate::experiment::results::Results, model: Subject) -> Option<String> {
        let analysis = analyse(results);
        findings_of(&analysis, GROUP, model)
            .into_iter()
            .find(|f| f.key() == "syn_retransmission")
            .map(|f| f.render(Lang::En))
    }

    #[test]
    fn a_tail_a_second_above_the_median_is_named_syn_retransmission() {
        let results = stepped();
        let en = syn(&results, Subject::Model(Model::Sequential)).expect("the step is named");
        assert!(
            en.starts_with("At 10 clients (listen backlog 1024) the p99 latency reached 1360.0 ms against a median of 353.5 ms"),
            "{en}"
        );
        assert!(
            en.contains("SYN retransmission") && en.contains("after 1 s"),
            "{en}"
        );
        assert_eq!(
            syn(&results, Subject::Model(Model::Threads)),
            None,
            "threads had no step"
        );
        // A queue that delays every request alike is no step, even past a second.
        assert_eq!(
            syn(
                &super::super::tests::results(|_| 19.0),
                Subject::Model(Model::Sequential)
            ),
            None
        );
    }

    #[test]
    fn overflows_are_named_with_the_backlog_and_keep_alive_steps_are_not() {
        let mut results = results(|clients| 19.5 * clients as f64);
        results.backlog = Some(5);
        for cell in &mut results.cells {
            if cell.model == Subject::Model(Model::Threads) && cell.clients == 5 {
                cell.measurement.as_mut().unwrap().listen_overflows = Some(12);
            }
        }
        let en = syn(&results, Subject::Model(Model::Threads)).expect("overflows are named");
        assert!(
            en.starts_with("At 5 clients the listen queue (backlog 5) overflowed 12 times, too few to reach the p99 latency"),
            "{en}"
        );
        let mut kept = stepped();
        kept.keep_alive = true;
        assert_eq!(
            syn(&kept, Subject::Model(Model::Sequential)),
            None,
            "no connection, no SYN"
        );
    }
}
