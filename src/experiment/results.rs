//! The experiment's data: one [`Cell`] per (work, variant, model, clients, repeat), and the [`Results`] file that
//! holds them with their provenance. Everything the report, the CSV and the analysis say is computed from these.
//!
//! A *group* is what the report shows as one section: a work, or a work and a variant of the servers when the
//! experiment has several (`sleep:10ms --header-timeout 1s`). [`Results::works`] lists the groups; the work is
//! the group's first word ([`work_of`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::external::ExternalServer;
use super::predict::Prediction;
use super::sampler::ServerSample;
use crate::experiment::subject::Subject;
use crate::load::LoadIo;
use crate::load::timeline::Timeline;
use crate::load::{HoldReport, SlowReport};
use crate::protocol::Proto;
use crate::system::{CpuList, Provenance};
use crate::work::Work;

/// Latency percentiles of one cell, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub min_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// What one cell measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Requests answered correctly.
    pub requests: u64,
    /// Failed requests by kind (refused, reset, timeout, bad reply, ...).
    pub errors: BTreeMap<String, u64>,
    pub duration_s: f64,
    pub throughput_rps: f64,
    pub latency: Latency,
    /// The latency histogram in HdrHistogram's V2 format, base64: results can be merged or re-analysed.
    pub histogram: String,
    /// Fewest and most requests completed by a single client: a starved client shows up as 0.
    pub fewest_per_client: u64,
    pub most_per_client: u64,
    /// Requests sent but not answered when the cell ended, and the age of the oldest.
    pub unfinished: u64,
    pub oldest_unfinished_ms: f64,
    pub server: ServerSample,
    /// Server CPU as cores used on average (1.0 = one core busy all the time).
    pub server_cpu_cores: f64,
    pub voluntary_context_switches: i64,
    pub involuntary_context_switches: i64,
    /// The load generator's own CPU, as cores used: a saturated generator is visible here.
    pub generator_cpu_cores: f64,
    /// How many threads the load generator ran: `generator_cpu_cores` near this number means it was saturated.
    pub generator_threads: usize,
    /// Kernel TCP socket memory at the end of the cell, in KiB.
    pub socket_memory_kib: Option<u64>,
    /// Listen-queue overflows during the cell (machine-wide counter).
    pub listen_overflows: Option<u64>,
    /// What the server did with the cell's slow connections, when it had any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow: Option<SlowReport>,
    /// Per 100 ms of the cell: completions, p99 and open connections (the ramp before measuring included).
    #[serde(default)]
    pub timeline: Timeline,
    /// When every client had been served once (ms since the cell's load started), when they all were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_served_ms: Option<f64>,
    /// Cores the whole machine kept busy during the cell: server, generator, and anything else running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_cpu_cores: Option<f64>,
    /// The server ignored SIGTERM at the end of the cell and was killed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub killed: bool,
    /// A hold cell (`--hold`): what became of the connections it opened and held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldReport>,
}

impl Measurement {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Connections the server was holding when the hold ended (`None`: not a hold cell).
    pub fn held(&self) -> Option<u64> {
        self.hold.as_ref().map(|h| h.held)
    }

    /// What a hold cell's server paid per held connection, in KiB of PSS: its PSS while holding them (else its
    /// peak) less its PSS before the first connection, over the connections held. `None` when it held none.
    pub fn kib_per_connection(&self) -> Option<f64> {
        let held = self.held().filter(|&n| n > 0)?;
        let server = &self.server;
        let holding = server.holding_pss_kib.unwrap_or(server.peak_pss_kib);
        Some(holding.saturating_sub(server.first_pss_kib) as f64 / held as f64)
    }
}

/// One cell of the matrix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// The work spec, e.g. `sleep:50ms`.
    pub work: String,
    pub model: Subject,
    pub clients: usize,
    /// Which run of this cell (0-based) when `--repeat` is above 1.
    pub repeat: usize,
    /// The variant of the servers this cell ran (their extra flags, e.g. `--header-timeout 1s`); empty when the
    /// experiment has only one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    /// Slowloris connections held open beside the clients.
    #[serde(default)]
    pub slow: usize,
    pub prediction: Prediction,
    /// `None` when the cell failed; the reason is in `failure`.
    pub measurement: Option<Measurement>,
    pub failure: Option<String>,
    /// The end of a failed external server's stderr, where its own reason usually is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
}

impl Cell {
    /// The group the cell belongs to: its work, then its variant, if any.
    pub fn group(&self) -> String {
        group(&self.work, &self.variant)
    }

    /// Whether this is a run of the cell (group, model, clients).
    fn is(&self, group: &str, model: Subject, clients: usize) -> bool {
        self.model == model && self.clients == clients && self.in_group(group)
    }

    fn in_group(&self, group: &str) -> bool {
        match group.strip_prefix(self.work.as_str()) {
            Some("") => self.variant.is_empty(),
            Some(rest) => rest.strip_prefix(' ') == Some(self.variant.as_str()),
            None => false,
        }
    }
}

/// The name of a group: the work, and the variant after it.
pub fn group(work: &str, variant: &str) -> String {
    if variant.is_empty() {
        work.to_string()
    } else {
        format!("{work} {variant}")
    }
}

/// The work of a group.
pub fn work_of(group: &str) -> Work {
    group
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_default()
}

/// A whole experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub provenance: Provenance,
    pub proto: Proto,
    /// Our models and the external servers, in the order measured.
    pub models: Vec<Subject>,
    /// The external servers among them, with their commands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<ExternalServer>,
    /// CPUs the servers and the load generator were pinned to, when they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cpus: Option<CpuList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_cpus: Option<CpuList>,
    /// The cores' worth of CPU time every server was held to, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cpu_quota: Option<f64>,
    /// How the load generator did its I/O.
    #[serde(default)]
    pub load_io: LoadIo,
    /// The server every other is compared with in a ratio table (`nginx` in `--preset nginx`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Subject>,
    pub clients: Vec<usize>,
    /// The groups, in order: each work, or each work and variant.
    pub works: Vec<String>,
    pub cell_seconds: f64,
    pub repeat: usize,
    pub keep_alive: bool,
    /// Slowloris connections beside the clients in every cell.
    #[serde(default)]
    pub slow: usize,
    /// Every cell held its clients' connections open (`--hold`) instead of loading the server.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hold: bool,
    /// The servers' listen backlog when `--backlog` set it (a variant's `--backlog` wins over it for its cells).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backlog: Option<i32>,
    pub cells: Vec<Cell>,
    /// Set when the run was stopped before every cell was measured.
    pub interrupted: bool,
}

#[cfg(test)]
impl Results {
    /// Results of a run made with no flag beyond the matrix (one repeat, no pinning, no quota), around `cells`:
    /// the one place tests spell out every field, so a new field is added here once.
    pub(crate) fn for_tests(
        proto: Proto,
        models: Vec<Subject>,
        clients: Vec<usize>,
        works: &[&str],
        cell_seconds: f64,
        cells: Vec<Cell>,
    ) -> Results {
        Results {
            provenance: Provenance::collect(),
            proto,
            models,
            clients,
            works: works.iter().map(|w| w.to_string()).collect(),
            cell_seconds,
            repeat: 1,
            keep_alive: false,
            slow: 0,
            hold: false,
            backlog: None,
            servers: Vec::new(),
            server_cpus: None,
            load_cpus: None,
            server_cpu_quota: None,
            load_io: LoadIo::default(),
            baseline: None,
            cells,
            interrupted: false,
        }
    }
}

impl Results {
    /// The runs of one (work, model, clients) cell that succeeded.
    pub fn runs<'a>(
        &'a self,
        work: &'a str,
        model: Subject,
        clients: usize,
    ) -> impl Iterator<Item = &'a Measurement> {
        self.cells
            .iter()
            .filter(move |c| c.is(work, model, clients))
            .filter_map(|c| c.measurement.as_ref())
    }

    /// Median throughput over the repeats of a cell, with the spread (max - min) between them.
    pub fn throughput(&self, work: &str, model: Subject, clients: usize) -> Option<(f64, f64)> {
        median_and_spread(
            self.runs(work, model, clients)
                .map(|m| m.throughput_rps)
                .collect(),
        )
    }

    /// Median p99 latency over the repeats of a cell, in ms.
    pub fn p99(&self, work: &str, model: Subject, clients: usize) -> Option<f64> {
        median_and_spread(
            self.runs(work, model, clients)
                .map(|m| m.latency.p99_ms)
                .collect(),
        )
        .map(|(m, _)| m)
    }

    /// The representative run of a cell: the one with the median throughput (a hold cell: the median KiB per
    /// connection, a run that held none counting as the least).
    pub fn median_run<'a>(
        &'a self,
        work: &'a str,
        model: Subject,
        clients: usize,
    ) -> Option<&'a Measurement> {
        let mut runs: Vec<&Measurement> = self.runs(work, model, clients).collect();
        if self.hold {
            let kib = |m: &Measurement| m.kib_per_connection().unwrap_or(-1.0);
            runs.sort_by(|a, b| kib(a).total_cmp(&kib(b)));
        } else {
            runs.sort_by(|a, b| a.throughput_rps.total_cmp(&b.throughput_rps));
        }
        runs.get(runs.len() / 2).copied()
    }

    /// The failure of a cell, if no run of it succeeded.
    pub fn failure(&self, work: &str, model: Subject, clients: usize) -> Option<&str> {
        let cells: Vec<&Cell> = self
            .cells
            .iter()
            .filter(|c| c.is(work, model, clients))
            .collect();
        if cells.iter().any(|c| c.measurement.is_some()) {
            return None;
        }
        cells.iter().find_map(|c| c.failure.as_deref())
    }

    /// The listen backlog the servers of `group` ran with: the variant's `--backlog`, else the experiment's,
    /// else `serve`'s default.
    pub fn backlog(&self, group: &str) -> i32 {
        let words: Vec<&str> = group.split_whitespace().collect();
        words
            .windows(2)
            .rev()
            .find(|w| w[0] == "--backlog")
            .and_then(|w| w[1].parse().ok())
            .or(self.backlog)
            .unwrap_or(crate::models::config::DEFAULT_BACKLOG)
    }

    /// The external server behind `subject`, when it is one.
    pub fn server(&self, subject: Subject) -> Option<&ExternalServer> {
        self.servers
            .iter()
            .find(|s| Subject::Command(s.name) == subject)
    }

    /// The cores the servers could use: those they were pinned to, else the machine's.
    pub fn server_cores(&self) -> usize {
        self.server_cpus
            .as_ref()
            .map_or(self.provenance.cores, |cpus| {
                cpus.len().min(self.provenance.cores)
            })
    }

    pub fn prediction(&self, work: &str, model: Subject, clients: usize) -> Option<Prediction> {
        self.cells
            .iter()
            .find(|c| c.is(work, model, clients))
            .map(|c| c.prediction)
    }
}

/// Median and spread (max - min) of some numbers; `None` when there are none.
pub fn median_and_spread(mut values: Vec<f64>) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    Some((median, values[n - 1] - values[0]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Model;

    #[test]
    fn a_cell_is_in_its_own_group_only() {
        let mut cell = Cell {
            work: "sleep:10ms".into(),
            model: Subject::Model(Model::Pool),
            clients: 2,
            repeat: 0,
            variant: String::new(),
            slow: 0,
            prediction: Prediction {
                concurrency: None,
                throughput_rps: None,
            },
            measurement: None,
            failure: None,
            stderr: None,
        };
        assert!(cell.in_group("sleep:10ms"));
        assert!(!cell.in_group("sleep:10ms --header-timeout 1s"));
        assert!(!cell.in_group("sleep:100ms"));
        cell.variant = "--header-timeout 1s".into();
        assert_eq!(cell.group(), "sleep:10ms --header-timeout 1s");
        assert!(cell.in_group("sleep:10ms --header-timeout 1s"));
        assert!(!cell.in_group("sleep:10ms"));
        assert!(!cell.in_group("sleep:10ms --header-timeout off"));
        assert_eq!(
            work_of(&cell.group()),
            Work::Sleep(std::time::Duration::from_millis(10))
        );
    }

    #[test]
    fn median_and_spread_of_repeats() {
        assert_eq!(median_and_spread(vec![]), None);
        assert_eq!(median_and_spread(vec![3.0]), Some((3.0, 0.0)));
        assert_eq!(median_and_spread(vec![5.0, 1.0, 3.0]), Some((3.0, 4.0)));
        assert_eq!(median_and_spread(vec![4.0, 2.0]), Some((3.0, 2.0)));
    }
}
