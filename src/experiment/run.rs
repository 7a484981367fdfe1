//! Running the matrix: for every work, model, client count and repeat, start a fresh server process, load it
//! with the in-process load engine while sampling it, stop it, and record one [`Cell`].
//!
//! With `slow` set, every cell also holds that many slowloris connections (`load --slow`) beside its clients, and
//! each variant of the servers (extra `serve` flags, such as a header deadline) is its own group of cells.
//!
//! Beside our models, `servers` are other people's servers started by a command ([`super::external`]): each is
//! one more column of every group, started, sampled and stopped the same way.
//!
//! With `hold` set, a cell is the C10K measurement instead of a load: it opens as many connections as the cell
//! has clients, does one exchange on each and holds them all for the cell's time (`load --hold`), and the server
//! is read before the first connection and again once they are all held, so what a held connection costs it is
//! the difference over the connections held. No throughput is predicted for it: nothing is being served.
//!
//! A fresh server per cell means no cell inherits another's threads, memory or queued connections. Results are
//! written after every cell, so a crash or Ctrl-C loses nothing measured; a cell that fails (server will not
//! start, every request errors) is recorded with its reason and the run goes on.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::external::{ExternalProcess, ExternalServer, Launch, STOP_GRACE, free_port};
use super::predict::{ModelLimits, Prediction, bound, predict};
use super::report;
use super::results::{Cell, Latency, Measurement, Results, group};
use super::sampler::{Sampler, TreeReading, read_tree};
use super::subject::{ServerName, Subject};
use crate::confine::{Confinement, CpuQuota};
use crate::load::LoadIo;
use crate::load::{self, Control, LoadConfig, LoadReport};
use crate::models::Model;
use crate::models::ServerConfig;
use crate::protocol::Proto;
use crate::server::process::ServerProcess;
use crate::settings::ConfigError;
use crate::stats::ResourceUsage;
use crate::system::{CpuList, cpus};
use crate::system::{MachineCpu, Provenance, listen_overflows, tcp_socket_memory_kib};
use crate::work::Work;

/// The longest a cell waits, past its warm-up, for every client to be served once before it measures.
const RAMP_LIMIT: Duration = Duration::from_secs(5);

/// A hold cell's connect, and then exchange, each get this long. A model at its cap never answers the rest:
/// they fail after it (two waves of connects, then the exchanges waiting in the listen queue), so such a cell
/// lasts about the cell's time and three of these. 2 s leaves room for one SYN retransmission (1 s).
const HOLD_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether a cell measures only once every client has been served once: not beside slow connections (a client
/// may never be), not over UDP (there is no connection to ramp up).
pub fn waits_for_every_client(proto: Proto, slow: usize) -> bool {
    slow == 0 && !proto.is_datagram()
}

/// Everything an experiment needs to know.
#[derive(Clone, Debug)]
pub struct ExperimentConfig {
    pub proto: Proto,
    pub models: Vec<Model>,
    /// Servers of someone else's, started by a command, measured beside the models.
    pub servers: Vec<ExternalServer>,
    /// CPUs every server is pinned to (`None`: any).
    pub server_cpus: Option<CpuList>,
    /// CPUs the load generator is pinned to (`None`: any).
    pub load_cpus: Option<CpuList>,
    /// Every server may use at most this many cores' worth of CPU time (see `confine.rs`); `None`: no quota.
    pub server_cpu_quota: Option<f64>,
    /// How the load generator does its I/O.
    pub load_io: LoadIo,
    /// How long a server has to start listening before its cell fails.
    pub startup: Duration,
    /// The server the others are compared with, in ratio tables.
    pub baseline: Option<Subject>,
    pub clients: Vec<usize>,
    pub works: Vec<Work>,
    /// How long a cell measures, at least (it also waits until every client has finished 2 requests).
    pub cell: Duration,
    /// A cell never measures longer than this.
    pub max_cell: Duration,
    pub warmup: Duration,
    pub repeat: usize,
    /// One connection per client for all its requests, instead of one per request.
    pub keep_alive: bool,
    /// `serverlab` binary that runs the servers.
    pub server_bin: PathBuf,
    /// `--offload N` for the event-driven models (the others do not take it).
    pub offload: Option<usize>,
    /// Where results are written after every cell (`None`: keep them in memory only).
    pub out: Option<PathBuf>,
    /// Slowloris connections beside the clients in every cell (http only).
    pub slow: usize,
    /// Ways to run every server, each its own group of cells; empty: one, as `serve` starts by default.
    pub variants: Vec<Variant>,
    /// The servers' `listen(2)` backlog (`None`: `serve`'s default); a variant's `--backlog` wins over it.
    pub backlog: Option<i32>,
    /// Each cell opens `clients` connections, does one exchange on each and holds them for the cell's time,
    /// measuring what the server pays per connection (the C10K measurement), instead of a load.
    pub hold: bool,
}

/// A way to run the servers: extra `serve` flags, named by those flags in the results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    pub server_args: Vec<String>,
}

impl Variant {
    pub fn new(server_args: &[&str]) -> Variant {
        Variant {
            server_args: server_args.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// Whether the variant sets `flag` (`--backlog`).
    pub fn sets(&self, flag: &str) -> bool {
        self.server_args.iter().any(|a| a == flag)
    }

    /// What each cell records: the flags as written (`--header-timeout 1s`).
    pub fn name(&self) -> String {
        self.server_args.join(" ")
    }
}

impl ExperimentConfig {
    /// The defaults of `serverlab experiment`.
    pub fn new(server_bin: PathBuf) -> ExperimentConfig {
        ExperimentConfig {
            proto: Proto::Echo,
            models: Model::ALL.to_vec(),
            servers: Vec::new(),
            server_cpus: None,
            load_cpus: None,
            server_cpu_quota: None,
            load_io: LoadIo::Epoll,
            startup: Duration::from_secs(10),
            baseline: None,
            clients: vec![1, 2, 5, 10, 20, 50],
            works: vec![
                Work::Sleep(Duration::from_millis(50)),
                Work::Cpu(Duration::from_millis(10)),
            ],
            cell: Duration::from_millis(1500),
            max_cell: Duration::from_secs(10),
            warmup: Duration::from_millis(200),
            repeat: 1,
            keep_alive: false,
            server_bin,
            offload: None,
            out: None,
            slow: 0,
            variants: Vec::new(),
            backlog: None,
            hold: false,
        }
    }

    /// Checks what cannot work, for the CLI and library callers alike; [`run`] refuses what this refuses.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if (self.models.is_empty() && self.servers.is_empty())
            || self.clients.is_empty()
            || self.works.is_empty()
        {
            return Err(ConfigError::new(
                "--models (or --server), --clients and --work each need at least one value",
            ));
        }
        if let Some(baseline) = self.baseline
            && !self.subjects().contains(&baseline)
        {
            return Err(ConfigError::new(format!(
                "--baseline {baseline} is not one of the servers measured"
            )));
        }
        if !self.servers.is_empty() && !self.variants.is_empty() {
            return Err(ConfigError::new(
                "--server runs as its command says: the variants of serve's flags (--preset classroom, slowloris) \
                 would label its cells with flags it never had; measure it apart",
            ));
        }
        for (i, server) in self.servers.iter().enumerate() {
            if self.servers[..i].iter().any(|s| s.name == server.name) {
                return Err(ConfigError::new(format!(
                    "--server {} is given twice",
                    server.name
                )));
            }
        }
        if self.clients.contains(&0) {
            return Err(ConfigError::new("--clients must be at least 1"));
        }
        if self.repeat == 0 {
            return Err(ConfigError::new("--repeat must be at least 1"));
        }
        crate::duration::check("--cell", self.cell).map_err(ConfigError::new)?;
        if self.proto.is_datagram() && self.keep_alive {
            return Err(ConfigError::new("--keep-alive means nothing for udp-echo"));
        }
        if self.slow > 0 && self.proto != Proto::Http {
            return Err(ConfigError::new(
                "slow connections (--preset slowloris) need --proto http",
            ));
        }
        if self.hold {
            self.validate_hold()?;
        }
        if self.load_io == LoadIo::Uring && self.proto.is_datagram() {
            return Err(ConfigError::new(
                "--load-io uring drives TCP clients; udp-echo runs on epoll",
            ));
        }
        if self.load_io == LoadIo::Uring && self.hold {
            return Err(ConfigError::new(
                "--load-io uring is for loads: held connections run on epoll",
            ));
        }
        if let Some(cores) = self.server_cpu_quota {
            crate::confine::check_cores(cores).map_err(ConfigError::new)?;
        }
        // Every server the experiment will start must be one `serve` accepts.
        for model in &self.models {
            for work in &self.works {
                let what = CellSpec {
                    confinement: Confinement::default(),
                    work: *work,
                    subject: Subject::Model(*model),
                    clients: 1,
                    repeat: 1,
                    variant: &Variant::new(&[]),
                };
                server_config(self, *model, &what).validate()?;
            }
        }
        Ok(())
    }

    /// What a hold experiment cannot be combined with.
    fn validate_hold(&self) -> Result<(), ConfigError> {
        match self.proto {
            Proto::UdpEcho => Err(ConfigError::new(
                "--hold needs connections, and udp-echo has none (use echo or http)",
            )),
            Proto::Daytime => Err(ConfigError::new(
                "--hold needs a server that keeps a connection open, and daytime closes it (use echo or http)",
            )),
            _ if self.slow > 0 => Err(ConfigError::new(
                "--hold cannot be used with slow connections (--preset slowloris)",
            )),
            _ if self.keep_alive => Err(ConfigError::new(
                "--keep-alive means nothing with --hold: every connection is kept open already",
            )),
            _ if self
                .clients
                .iter()
                .any(|&c| c > crate::load::config::MAX_HOLD) =>
            {
                Err(ConfigError::new(
                    "--hold holds at most 1,000,000 connections: lower --clients",
                ))
            }
            _ => Ok(()),
        }
    }

    /// The variants run: the configured ones, or the one plain `serve`.
    pub fn variants(&self) -> Vec<Variant> {
        if self.variants.is_empty() {
            vec![Variant::new(&[])]
        } else {
            self.variants.clone()
        }
    }

    /// Everything measured: our models, then the external servers.
    pub fn subjects(&self) -> Vec<Subject> {
        let models = self.models.iter().map(|&m| Subject::Model(m));
        models
            .chain(self.servers.iter().map(|s| Subject::Command(s.name)))
            .collect()
    }

    /// The `--server` of that name.
    fn server(&self, name: ServerName) -> Option<&ExternalServer> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// The cores a server can use: those it is pinned to, else the machine's.
    fn server_cores(&self, machine: usize) -> usize {
        self.server_cpus
            .as_ref()
            .map_or(machine, |cpus| cpus.len().min(machine))
    }

    /// The CPU time a server can use, in cores: its cores, or its quota where that is less.
    fn server_cpu_time(&self, machine: usize) -> f64 {
        let cores = self.server_cores(machine) as f64;
        self.server_cpu_quota
            .map_or(cores, |quota| quota.min(cores))
    }

    /// What theory says for a cell: from the model's limits, or from the concurrency an external server's
    /// author declared (`--server-k`); nothing for one that declared none. A hold cell serves no load: only its
    /// concurrency, the connections it can serve at once, is predicted.
    fn prediction(&self, subject: Subject, work: Work, clients: usize, cores: f64) -> Prediction {
        let prediction = self.load_prediction(subject, work, clients, cores);
        if self.hold {
            return Prediction {
                throughput_rps: None,
                ..prediction
            };
        }
        prediction
    }

    fn load_prediction(
        &self,
        subject: Subject,
        work: Work,
        clients: usize,
        cores: f64,
    ) -> Prediction {
        match subject {
            Subject::Model(model) => predict(model, self.limits(model), work, clients, cores),
            Subject::Command(name) => match self.server(name).and_then(|s| s.k) {
                Some(k) => bound(k.limit(), work, clients, cores),
                None => Prediction::unknown(),
            },
        }
    }

    pub fn cells(&self) -> usize {
        self.works.len()
            * self.variants().len()
            * self.subjects().len()
            * self.clients.len()
            * self.repeat
    }

    /// `serve`'s own defaults for `model`, as the server works them out where it runs: one worker per CPU counts
    /// the CPUs it is pinned to, which may be fewer than this process's.
    fn server_defaults(&self, model: Model) -> ServerConfig {
        let mut defaults = ServerConfig::new(self.proto, model, ([127, 0, 0, 1], 0).into());
        defaults.workers = model.default_workers_on(self.server_cores(cpus()));
        defaults
    }

    /// The cells in the order they run: each server's series of client counts in turn; with repeats, every server
    /// at one client count, then again, so that servers compared with each other are measured within seconds of
    /// each other (a shared machine drifts over minutes, and a server's repeats run back to back would all take
    /// the same side of the drift).
    fn order<'v>(
        &self,
        variants: &'v [Variant],
    ) -> Vec<(Work, &'v Variant, Subject, usize, usize)> {
        let mut cells = Vec::with_capacity(self.cells());
        for &work in &self.works {
            for variant in variants {
                if self.repeat == 1 {
                    for subject in self.subjects() {
                        for &clients in &self.clients {
                            cells.push((work, variant, subject, clients, 0));
                        }
                    }
                    continue;
                }
                for &clients in &self.clients {
                    for repeat in 0..self.repeat {
                        for subject in self.subjects() {
                            cells.push((work, variant, subject, clients, repeat));
                        }
                    }
                }
            }
        }
        cells
    }

    /// The limits a model's server runs with, for predictions: `serve`'s own defaults, which the servers get.
    fn limits(&self, model: Model) -> ModelLimits {
        let defaults = self.server_defaults(model);
        ModelLimits {
            workers: defaults.workers,
            max_conns: defaults.max_conns,
            offload: self.offload.filter(|_| model.is_event_driven()),
        }
    }
}

/// What the runner tells whoever watches it.
pub trait Progress {
    /// A cell starts: `index` of `total`.
    fn cell_started(
        &mut self,
        index: usize,
        total: usize,
        work: Work,
        subject: Subject,
        clients: usize,
    );
    /// Requests finished so far in the running cell; called a few times a second.
    fn requests(&mut self, finished: u64);
    fn cell_finished(&mut self, cell: &Cell);
}

/// A watcher that says nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn cell_started(&mut self, _: usize, _: usize, _: Work, _: Subject, _: usize) {}
    fn requests(&mut self, _: u64) {}
    fn cell_finished(&mut self, _: &Cell) {}
}

/// Runs every cell of `config` unless `stop` is raised; returns what was measured.
pub fn run(
    config: &ExperimentConfig,
    stop: &Arc<AtomicBool>,
    progress: &mut dyn Progress,
) -> Result<Results, String> {
    config.validate().map_err(|e| e.to_string())?;
    let mut results = Results {
        provenance: Provenance::collect(),
        proto: config.proto,
        models: config.subjects(),
        servers: config.servers.clone(),
        server_cpus: config.server_cpus.clone(),
        load_cpus: config.load_cpus.clone(),
        server_cpu_quota: config.server_cpu_quota,
        load_io: config.load_io,
        baseline: config.baseline,
        clients: config.clients.clone(),
        works: config
            .works
            .iter()
            .flat_map(|w| {
                config
                    .variants()
                    .into_iter()
                    .map(move |v| group(&w.to_string(), &v.name()))
            })
            .collect(),
        cell_seconds: config.cell.as_secs_f64(),
        repeat: config.repeat,
        keep_alive: config.keep_alive,
        slow: config.slow,
        hold: config.hold,
        backlog: config.backlog,
        cells: Vec::new(),
        interrupted: false,
    };
    // One group for the whole run: the servers, which run one at a time, each join it.
    let quota = config.server_cpu_quota.map(CpuQuota::create).transpose()?;
    let confinement = Confinement {
        cpus: config.server_cpus.as_ref(),
        quota: quota.as_ref(),
    };
    let total = config.cells();
    let mut index = 0;
    let variants = config.variants();
    for (work, variant, subject, clients, repeat) in config.order(&variants) {
        if stop.load(Ordering::Relaxed) {
            results.interrupted = true;
            break;
        }
        index += 1;
        progress.cell_started(index, total, work, subject, clients);
        let cores = config.server_cpu_time(results.provenance.cores);
        let prediction = config.prediction(subject, work, clients, cores);
        let what = CellSpec {
            confinement,
            work,
            variant,
            subject,
            clients,
            repeat,
        };
        let cell = run_cell(config, &what, prediction, stop, progress);
        progress.cell_finished(&cell);
        results.cells.push(cell);
        if let Some(dir) = &config.out {
            report::write_data(&results, dir)?;
        }
    }
    if stop.load(Ordering::Relaxed) && results.cells.len() < total {
        results.interrupted = true;
    }
    Ok(results)
}

/// Which cell to run.
struct CellSpec<'a> {
    /// Where its server may run.
    confinement: Confinement<'a>,
    work: Work,
    variant: &'a Variant,
    subject: Subject,
    clients: usize,
    repeat: usize,
}

/// Why a cell could not be measured, with the end of an external server's stderr when there is one.
struct CellFailure {
    why: String,
    stderr: Option<String>,
}

impl From<String> for CellFailure {
    fn from(why: String) -> CellFailure {
        CellFailure { why, stderr: None }
    }
}

fn run_cell(
    config: &ExperimentConfig,
    what: &CellSpec<'_>,
    prediction: Prediction,
    stop: &Arc<AtomicBool>,
    progress: &mut dyn Progress,
) -> Cell {
    let outcome = measure(config, what, stop, progress);
    let (measurement, failure, stderr) = match outcome {
        Ok(m) => (Some(m), None, None),
        Err(failed) => (None, Some(failed.why), failed.stderr),
    };
    Cell {
        work: what.work.to_string(),
        model: what.subject,
        clients: what.clients,
        repeat: what.repeat,
        variant: what.variant.name(),
        slow: config.slow,
        prediction,
        measurement,
        failure,
        stderr,
    }
}

/// One cell's server: `serve`'s own defaults for the protocol and model, with the cell's work, then the
/// variant's flags (later flags win).
fn server_config(config: &ExperimentConfig, model: Model, what: &CellSpec<'_>) -> ServerConfig {
    let mut server = config.server_defaults(model);
    server.work = what.work;
    // A cell's server is stopped once its load is over: nothing is left to drain.
    server.drain_timeout = Duration::from_secs(1);
    server.offload = config.offload.filter(|_| model.is_event_driven());
    if let Some(backlog) = config.backlog {
        server.backlog = backlog;
    }
    server
}

fn server_args(config: &ExperimentConfig, model: Model, what: &CellSpec<'_>) -> Vec<String> {
    let mut args = server_config(config, model, what).to_args();
    args.extend(what.variant.server_args.iter().cloned());
    args
}

/// A cell's server while it runs: one of ours, or an external one.
enum Running {
    Ours(ServerProcess),
    Theirs(ExternalProcess),
}

impl Running {
    fn start(config: &ExperimentConfig, what: &CellSpec<'_>) -> Result<Running, CellFailure> {
        match what.subject {
            Subject::Model(model) => ServerProcess::start_confined(
                &config.server_bin,
                &server_args(config, model, what),
                config.startup,
                what.confinement,
            )
            .map(Running::Ours)
            .map_err(CellFailure::from),
            Subject::Command(name) => {
                let server = config
                    .server(name)
                    .ok_or_else(|| format!("no --server named {name}"))?;
                let port = if server.takes_port() { free_port()? } else { 0 };
                let launch = Launch {
                    name: name.as_str(),
                    command: server.command_for(port, what.work, config.proto),
                    addr: server
                        .takes_port()
                        .then(|| SocketAddr::from(([127, 0, 0, 1], port))),
                    probe: !config.proto.is_datagram(),
                    startup: config.startup,
                    confinement: what.confinement,
                };
                ExternalProcess::start(launch)
                    .map(Running::Theirs)
                    .map_err(|failed| CellFailure {
                        why: failed.why,
                        stderr: Some(failed.stderr).filter(|s| !s.trim().is_empty()),
                    })
            }
        }
    }

    fn pid(&self) -> i32 {
        match self {
            Running::Ours(server) => server.pid(),
            Running::Theirs(server) => server.pid(),
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Running::Ours(server) => server.addr(),
            Running::Theirs(server) => server.addr(),
        }
    }

    /// Stops the server: what its threads and children used, context switches included, whether it had to be
    /// killed, and the end of an external server's stderr. A server gone before the stop failed its cell.
    fn stop(self) -> (Result<Ended, String>, Option<String>) {
        match self {
            Running::Ours(server) => {
                let ended = server.stop(Duration::from_secs(15)).map(|exit| {
                    let children = exit.rusage_children.unwrap_or_default();
                    let mut usage = exit.rusage_self;
                    usage.voluntary_context_switches += children.voluntary_context_switches;
                    usage.involuntary_context_switches += children.involuntary_context_switches;
                    Ended {
                        usage,
                        killed: false,
                    }
                });
                (ended, None)
            }
            Running::Theirs(server) => {
                let name = server.name().to_string();
                let stopped = server.stop(STOP_GRACE);
                let stderr = stopped
                    .as_ref()
                    .map(|s| s.stderr.clone())
                    .ok()
                    .filter(|s| !s.trim().is_empty());
                let ended = stopped.and_then(|s| {
                    if s.exited_early {
                        Err(format!("{name} exited during the cell"))
                    } else {
                        Ok(Ended {
                            usage: s.usage,
                            killed: s.killed,
                        })
                    }
                });
                (ended, stderr)
            }
        }
    }
}

/// How a cell's server ended.
struct Ended {
    usage: ResourceUsage,
    /// It ignored SIGTERM and was killed.
    killed: bool,
}

fn measure(
    config: &ExperimentConfig,
    what: &CellSpec<'_>,
    stop: &Arc<AtomicBool>,
    progress: &mut dyn Progress,
) -> Result<Measurement, CellFailure> {
    let clients = what.clients;
    let server = Running::start(config, what)?;

    let load_config = load_config(config, clients, server.addr());

    let overflows_before = listen_overflows();
    let machine_before = MachineCpu::now();
    let sampler = Sampler::start(server.pid(), Duration::from_millis(100));
    let sampling_started = sampler.started();
    let load_started = std::sync::OnceLock::new();
    let control = Control::new();
    // A hold cell's server is read again once every connection is held, while they still are.
    let mut holding: Option<(Option<TreeReading>, Option<u64>)> = None;
    let report = std::thread::scope(|scope| {
        let running = scope.spawn(|| {
            // The generator's threads start from this one, and inherit its CPUs.
            if let Some(cpus) = &config.load_cpus {
                cpus.pin_this_thread()
                    .map_err(|e| load::LoadError::Io(std::io::Error::other(e)))?;
            }
            let _ = load_started.set(std::time::Instant::now());
            load::run(&load_config, &control)
        });
        while !running.is_finished() {
            if stop.load(Ordering::Relaxed) {
                control.stop();
            }
            if config.hold && holding.is_none() && control.holding() {
                holding = Some((read_tree(server.pid()), tcp_socket_memory_kib()));
            }
            progress.requests(control.completed());
            std::thread::sleep(Duration::from_millis(100));
        }
        running
            .join()
            .map_err(|_| "the load generator panicked".to_string())
    })?;
    let (mut sample, cpu_timeline) = sampler.finish();
    let machine_cpu_cores = machine_before
        .zip(MachineCpu::now())
        .and_then(|(before, after)| after.busy_cores_since(&before, cpus()));
    let mut socket_memory_kib = tcp_socket_memory_kib();
    if let Some((reading, sockets)) = holding {
        sample.holding_rss_kib = reading.map(|r| r.rss_kib);
        sample.holding_pss_kib = reading.map(|r| r.pss_kib);
        socket_memory_kib = sockets;
    }
    let overflows = overflows_before
        .zip(listen_overflows())
        .map(|(a, b)| b.saturating_sub(a));
    let (ended, stderr) = server.stop();
    let failed = |why: String| CellFailure {
        why,
        stderr: stderr.clone(),
    };
    let report = report.map_err(|e| failed(e.to_string()))?;
    // Beside slow connections, serving nobody is the finding, not a failure of the cell.
    if report.successes == 0 && report.slow.is_none() {
        let why = report
            .errors
            .commonest()
            .map_or("no request finished".to_string(), |(kind, n)| {
                format!("every request failed: {n} x {}", kind.describe())
            });
        return Err(failed(why));
    }
    let ended = ended.map_err(failed)?;
    let mut measured = measurement(
        &report,
        &load_config,
        sample,
        &ended.usage,
        socket_memory_kib,
        overflows,
    );
    measured.machine_cpu_cores = machine_cpu_cores;
    measured.killed = ended.killed;
    // The server's cores over the window its requests were counted in, not the warm-up and ramp around it, so
    // that CPU per request divides like by like (a hold cell has no such window).
    if !config.hold
        && let Some(&started) = load_started.get()
    {
        let from = started.duration_since(sampling_started).as_secs_f64()
            + report.timeline.measured_from_ms as f64 / 1000.0;
        if let Some(cores) =
            cpu_timeline.cores_between(from, from + report.duration().as_secs_f64())
        {
            measured.server_cpu_cores = cores;
        }
    }
    Ok(measured)
}

/// A cell's load: its clients for the cell's time, or, in a hold cell, its clients' connections held for it.
fn load_config(config: &ExperimentConfig, clients: usize, target: SocketAddr) -> LoadConfig {
    let mut load_config = LoadConfig::new(config.proto, target);
    if config.hold {
        load_config.hold = Some(clients);
        load_config.duration = Some(config.cell);
        load_config.timeout = HOLD_TIMEOUT;
        load_config.warmup = Duration::ZERO;
        load_config.min_per_client = 0;
        load_config.ramp_limit = None;
        return load_config;
    }
    load_config.clients = clients;
    load_config.io = config.load_io;
    // A thread per core the generator may use: pinned, those; else the machine's.
    let generator_cores = config.load_cpus.as_ref().map_or(cpus(), CpuList::len);
    load_config.threads = clients.min(generator_cores.max(1));
    load_config.duration = Some(config.cell);
    load_config.warmup = config.warmup;
    // With slow connections a starved client may never finish a request: the cell ends on time all the same.
    load_config.min_per_client = if config.slow > 0 { 0 } else { 2 };
    load_config.max_duration = Some(config.max_cell);
    load_config.connect_per_request = !config.keep_alive && !config.proto.is_datagram();
    // A slow server may hold a request for long; it counts as unfinished at the end, not as a timeout.
    load_config.timeout = config.max_cell + config.warmup;
    load_config.slow = config.slow;
    // Measure once every client has been served (a ramp of thousands of connections is not the steady state);
    // beside slow connections a client may never be, so the fixed warm-up stands.
    load_config.ramp_limit =
        waits_for_every_client(config.proto, config.slow).then_some(RAMP_LIMIT);
    load_config
}

fn measurement(
    report: &LoadReport,
    load_config: &LoadConfig,
    server: super::sampler::ServerSample,
    usage: &ResourceUsage,
    socket_memory_kib: Option<u64>,
    listen_overflows: Option<u64>,
) -> Measurement {
    let seconds = report.duration().as_secs_f64().max(1e-9);
    let summary = report.latency.summary();
    let ms = |us: u64| us as f64 / 1000.0;
    let (fewest, most) = report.fairness().unwrap_or((0, 0));
    let errors = load::ErrorKind::ALL
        .iter()
        .map(|&kind| (error_key(kind).to_string(), report.errors.get(kind)))
        .filter(|(_, n)| *n > 0)
        .collect();
    Measurement {
        requests: report.successes,
        errors,
        duration_s: seconds,
        throughput_rps: report.requests_per_sec(),
        latency: Latency {
            min_ms: ms(summary.min),
            mean_ms: summary.mean / 1000.0,
            p50_ms: ms(summary.p50),
            p90_ms: ms(summary.p90),
            p99_ms: ms(summary.p99),
            p999_ms: ms(summary.p999),
            max_ms: ms(summary.max),
        },
        histogram: report.latency.encode(),
        fewest_per_client: fewest,
        most_per_client: most,
        unfinished: report.unfinished.len() as u64,
        oldest_unfinished_ms: report
            .unfinished
            .iter()
            .map(|u| ms(u.age_us))
            .fold(0.0, f64::max),
        server_cpu_cores: server.cpu_s / server.wall_s.max(1e-9),
        server,
        voluntary_context_switches: usage.voluntary_context_switches,
        involuntary_context_switches: usage.involuntary_context_switches,
        // The generator's threads ran through the warm-up (and the ramp) too: divide their CPU by all the time
        // they ran.
        generator_cpu_cores: report.cpu.total().as_secs_f64()
            / (seconds + report.timeline.measured_from_ms as f64 / 1000.0),
        generator_threads: load_config.effective_threads(),
        socket_memory_kib,
        listen_overflows,
        slow: report.slow.clone(),
        timeline: report.timeline.clone(),
        all_served_ms: report.all_served_ms,
        machine_cpu_cores: None,
        killed: false,
        hold: report.hold.clone(),
    }
}

/// The data name of an error kind, which is also its catalog key (`bad-reply`).
pub fn error_key(kind: load::ErrorKind) -> &'static str {
    use load::ErrorKind::*;
    match kind {
        Refused => "refused",
        Reset => "reset",
        Closed => "closed",
        Timeout => "timeout",
        BadReply => "bad-reply",
        PortsExhausted => "ports-exhausted",
        Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_interleave_the_servers_and_a_single_run_keeps_each_series_together() {
        let mut config = ExperimentConfig::new("serverlab".into());
        config.models = vec![Model::Poll, Model::Async];
        config.clients = vec![1, 10];
        config.works = vec![Work::None];
        let variants = config.variants();
        let names = |config: &ExperimentConfig| -> Vec<String> {
            config
                .order(&variants)
                .iter()
                .map(|(_, _, s, c, r)| format!("{s} {c} {r}"))
                .collect()
        };
        assert_eq!(
            names(&config),
            ["poll 1 0", "poll 10 0", "async 1 0", "async 10 0"]
        );
        config.repeat = 2;
        assert_eq!(
            names(&config),
            [
                "poll 1 0",
                "async 1 0",
                "poll 1 1",
                "async 1 1",
                "poll 10 0",
                "async 10 0",
                "poll 10 1",
                "async 10 1"
            ]
        );
        assert_eq!(config.order(&variants).len(), config.cells());
    }

    #[test]
    fn a_pinned_server_gets_one_worker_per_cpu_it_is_pinned_to() {
        let mut config = ExperimentConfig::new("serverlab".into());
        assert_eq!(config.server_defaults(Model::Async).workers, cpus());
        config.server_cpus = Some(CpuList::parse("0").unwrap());
        assert_eq!(config.server_defaults(Model::Async).workers, 1);
        assert_eq!(config.limits(Model::Prefork).workers, 1);
        // The pool's default is no count of CPUs.
        assert_eq!(
            config.server_defaults(Model::Pool).workers,
            crate::models::DEFAULT_POOL_WORKERS
        );
    }
}
