//! Little's law on a model's most loaded point: in a closed loop every client always has one request in
//! flight, so clients = throughput × mean latency. When the product falls short, time went somewhere the
//! measured requests do not show — connection setup, errors, requests never answered.

use super::finding::ModelFinding::{LittlesLawHolds, LittlesLawOff};
use super::{Finding, Point};
use crate::experiment::predict::implied_clients;

/// The law holds when the clients it implies are within 25% of the real ones: a closed loop's clients spend a
/// little time between requests (reading the reply, sending the next), which the latency does not count.
const LITTLE_TOLERANCE: f64 = 0.25;

/// Whether clients = throughput × mean latency at `point`, with the figures.
pub(super) fn law(point: &Point) -> Finding {
    let (clients, rps, mean_ms) = (point.clients, point.rps, point.run.latency.mean_ms);
    let implied = implied_clients(rps, mean_ms);
    let holds = (implied - clients as f64).abs() <= LITTLE_TOLERANCE * clients as f64;
    if holds {
        LittlesLawHolds {
            clients,
            rps,
            mean_ms,
            implied_clients: implied,
        }
        .into()
    } else {
        LittlesLawOff {
            clients,
            rps,
            mean_ms,
            implied_clients: implied,
        }
        .into()
    }
}
