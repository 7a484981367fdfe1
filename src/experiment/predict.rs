//! What simple theory predicts for each cell, to print beside what was measured.
//!
//! A model that can run `k` requests at once, each taking `D` of work, serves at most `k / D` requests per
//! second. With `c` closed-loop clients at most `c` requests are ever outstanding, so the bound is
//! `min(c, k) / D` for waiting work (sleep, block). Computation also needs a core: with `n` cores the bound
//! is `min(c, k, n) / D`; under a CPU quota `n` is the quota (half a core's time computes half as much). A
//! sequential server is `k = 1`: `1 / D`, however many clients come. A blocking call
//! inside a single event loop makes `k = 1` too — the loop does nothing else while it sleeps.
//!
//! Little's law ties the measured numbers together in a closed loop: clients = throughput x latency (time a
//! request spends in the system). A cell that breaks it lost requests somewhere (errors, unfinished).

use serde::{Deserialize, Serialize};

use crate::models::Model;
use crate::work::Work;

/// The prediction for one cell.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// How many requests the model can work on at once for this work (`None`: no limit below the clients).
    pub concurrency: Option<usize>,
    /// Upper bound on throughput, requests/s (`None` when the work is `none`: then the bound is the
    /// protocol and the machine, which simple theory does not model).
    pub throughput_rps: Option<f64>,
}

impl Prediction {
    /// No prediction: a server whose concurrency nobody declared.
    pub fn unknown() -> Prediction {
        Prediction {
            concurrency: None,
            throughput_rps: None,
        }
    }
}

/// The model's settings that decide its concurrency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelLimits {
    pub workers: usize,
    pub max_conns: usize,
    pub offload: Option<usize>,
}

/// How many requests `model` can work on at once, doing `work`.
pub fn concurrency(model: Model, limits: ModelLimits, work: Work) -> Option<usize> {
    match model {
        Model::Sequential => Some(1),
        Model::Threads => Some(limits.max_conns),
        Model::Pool | Model::Prefork => Some(limits.workers),
        Model::Poll | Model::Uring => match work {
            Work::None | Work::Sleep(_) => None,
            Work::Cpu(_) | Work::Block(_) => Some(limits.offload.unwrap_or(1)),
        },
        Model::Async => match work {
            Work::None | Work::Sleep(_) => None,
            Work::Cpu(_) | Work::Block(_) => Some(limits.offload.unwrap_or(limits.workers)),
        },
    }
}

/// The throughput bound for `clients` closed-loop clients of `model` doing `work` on `cores` cores' worth of CPU
/// time (fewer than the CPUs under a quota: 0.5 is half of one core's time).
pub fn predict(
    model: Model,
    limits: ModelLimits,
    work: Work,
    clients: usize,
    cores: f64,
) -> Prediction {
    bound(concurrency(model, limits, work), work, clients, cores)
}

/// The throughput bound for `clients` closed-loop clients of a server that works on `concurrency` requests at
/// once (`None`: no limit) doing `work` on `cores` cores' worth of CPU time.
pub fn bound(concurrency: Option<usize>, work: Work, clients: usize, cores: f64) -> Prediction {
    let d = work.duration().as_secs_f64();
    let running = concurrency.map_or(clients, |k| k.min(clients));
    let throughput_rps = match work {
        Work::None => None,
        _ if d <= 0.0 => None,
        Work::Sleep(_) | Work::Block(_) => Some(running as f64 / d),
        Work::Cpu(_) => Some((running as f64).min(cores) / d),
    };
    Prediction {
        concurrency,
        throughput_rps,
    }
}

/// Whether a measurement is off its prediction: more than 25% away, and by more than the spread between
/// repeats (so noise alone does not raise a flag).
pub fn is_off(measured: f64, predicted: f64, spread: f64) -> bool {
    let gap = (measured - predicted).abs();
    predicted > 0.0 && gap > 0.25 * predicted && gap > spread
}

/// Little's law for a closed loop: the number of clients the measurement implies (throughput x mean latency).
pub fn implied_clients(throughput_rps: f64, mean_latency_ms: f64) -> f64 {
    throughput_rps * mean_latency_ms / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const LIMITS: ModelLimits = ModelLimits {
        workers: 8,
        max_conns: 1024,
        offload: None,
    };
    const SLEEP: Work = Work::Sleep(Duration::from_millis(50));
    const CPU: Work = Work::Cpu(Duration::from_millis(10));
    const BLOCK: Work = Work::Block(Duration::from_millis(100));

    #[test]
    fn a_sequential_server_does_one_over_work_whatever_the_clients() {
        for clients in [1, 5, 50] {
            assert_eq!(
                predict(Model::Sequential, LIMITS, SLEEP, clients, 2.0).throughput_rps,
                Some(20.0)
            );
        }
    }

    #[test]
    fn io_wait_scales_with_clients_up_to_the_models_concurrency() {
        assert_eq!(
            predict(Model::Threads, LIMITS, SLEEP, 10, 2.0).throughput_rps,
            Some(200.0)
        );
        assert_eq!(
            predict(Model::Pool, LIMITS, SLEEP, 20, 2.0).throughput_rps,
            Some(160.0)
        );
        assert_eq!(
            predict(Model::Poll, LIMITS, SLEEP, 50, 2.0).throughput_rps,
            Some(1000.0)
        );
    }

    #[test]
    fn cpu_work_is_capped_by_the_cores() {
        assert_eq!(
            predict(Model::Threads, LIMITS, CPU, 10, 2.0).throughput_rps,
            Some(200.0)
        );
        assert_eq!(
            predict(Model::Poll, LIMITS, CPU, 10, 2.0).throughput_rps,
            Some(100.0)
        );
    }

    #[test]
    fn a_cpu_quota_caps_computing_at_its_share_of_a_core() {
        // 10 ms requests on half a core's time: 50 a second, however many threads take turns.
        assert_eq!(
            predict(Model::Threads, LIMITS, CPU, 10, 0.5).throughput_rps,
            Some(50.0)
        );
        assert_eq!(
            predict(Model::Threads, LIMITS, SLEEP, 10, 0.5).throughput_rps,
            Some(200.0),
            "waiting takes no CPU time"
        );
    }

    #[test]
    fn a_blocking_call_serialises_an_event_loop_unless_offloaded() {
        assert_eq!(
            predict(Model::Poll, LIMITS, BLOCK, 10, 2.0).throughput_rps,
            Some(10.0)
        );
        let offload = ModelLimits {
            offload: Some(10),
            ..LIMITS
        };
        assert_eq!(
            predict(Model::Poll, offload, BLOCK, 10, 2.0).throughput_rps,
            Some(100.0)
        );
        assert_eq!(
            predict(Model::Async, LIMITS, BLOCK, 10, 2.0).throughput_rps,
            Some(80.0)
        );
    }

    #[test]
    fn flags_need_both_a_big_gap_and_more_than_noise() {
        assert!(!is_off(90.0, 100.0, 0.0));
        assert!(is_off(60.0, 100.0, 5.0));
        assert!(!is_off(60.0, 100.0, 50.0));
        assert!((implied_clients(200.0, 50.0) - 10.0).abs() < 1e-9);
    }
}
