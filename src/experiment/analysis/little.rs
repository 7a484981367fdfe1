//! Little's law on a model's most loaded point: in a closed loop every client always has one request in
//! flight, so clients = throughput × mean latency. It "holds" only within a stated tolerance; past it, the
//! finding says by how much it misses and what in the cell's own measurements accounts for the gap: requests
//! still in flight at the end (the mean leaves them out), a window only a few latencies long (requests cut by
//! its edges weigh), failed requests, or the time each client spends closing a connection and starting over.

use super::finding::ModelFinding::{LittlesLawHolds, LittlesLawOff};
use super::{Finding, Point};
use crate::experiment::predict::implied_clients;

/// The law holds when the clients it implies are within 10% of the real ones: a closed loop's clients spend a
/// little time between requests (reading the reply, sending the next), which the latency does not count, and a
/// window of a second or two has edges; more than that is something the report must explain.
pub(super) const LITTLE_TOLERANCE: f64 = 0.10;

/// A measured window shorter than this many mean latencies is short: the requests it cuts at its start and at
/// its end (a latency's worth at each) are a tenth of what it counts or more.
const SHORT_WINDOW_LATENCIES: f64 = 20.0;

/// Whether clients = throughput × mean latency at `point`, with the figures, and why not when it does not.
pub(super) fn law(point: &Point, connect_per_request: bool) -> Finding {
    let (clients, rps, mean_ms) = (point.clients, point.rps, point.run.latency.mean_ms);
    let implied = implied_clients(rps, mean_ms);
    let tolerance_pct = LITTLE_TOLERANCE * 100.0;
    if (implied - clients as f64).abs() <= LITTLE_TOLERANCE * clients as f64 {
        return LittlesLawHolds {
            clients,
            rps,
            mean_ms,
            implied_clients: implied,
            tolerance_pct,
        }
        .into();
    }
    let window_s = point.run.duration_s;
    LittlesLawOff {
        clients,
        rps,
        mean_ms,
        implied_clients: implied,
        tolerance_pct,
        in_flight: point.run.unfinished,
        window_s,
        short_window: window_s * 1000.0 < SHORT_WINDOW_LATENCIES * mean_ms,
        failed: point.run.error_count(),
        connect_per_request,
    }
    .into()
}
