//! `serverlab experiment`: run the matrix, print the tables, write results and the report.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{Done, Failure};

use crate::confine::CpuQuota;
use crate::duration as durations;
use crate::experiment::catalog::{self, Lang};
use crate::experiment::external::{Concurrency, ExternalServer};
use crate::experiment::report::{self, tables};
use crate::experiment::results::{Cell, Results};
use crate::experiment::run::{ExperimentConfig, Progress, Variant, run};
use crate::experiment::subject::Subject;
use crate::experiment::{classroom, yardsticks};
use crate::load::LoadIo;
use crate::models::Model;
use crate::models::config::DEFAULT_BACKLOG;
use crate::protocol::Proto;
use crate::system::CpuList;
use crate::work::Work;

#[derive(Args, Debug)]
pub struct ExperimentArgs {
    /// Protocol of every server [default: echo].
    #[arg(long, value_enum)]
    proto: Option<Proto>,
    /// Models to compare, comma-separated [default: all seven; none when --server is given].
    #[arg(long, value_enum, value_delimiter = ',')]
    models: Option<Vec<Model>>,
    /// A server of your own, measured like the models: NAME=COMMAND, run by sh with {port}, {work}, {work_ms} and
    /// {proto} filled in; ready when it accepts on {port} or prints "listening on HOST:PORT". Repeatable.
    #[arg(long = "server", value_name = "NAME=COMMAND")]
    servers: Vec<String>,
    /// How many requests a --server works on at once, for the predictions: NAME=K (a number, or unlimited).
    #[arg(long = "server-k", value_name = "NAME=K")]
    server_k: Vec<String>,
    /// How long a server has to start listening, 1ms to 1day, before its cell fails [default: 10s].
    #[arg(long, value_name = "DUR", value_parser = durations::parse)]
    start_timeout: Option<Duration>,
    /// The server to compare every other with, in ratio tables (a model or a --server's name).
    #[arg(long, value_name = "NAME")]
    baseline: Option<Subject>,
    /// Pin every server to these CPUs (as taskset -c writes them: 0, 0,2, 1-3).
    #[arg(long, value_name = "CPUS")]
    server_cpus: Option<String>,
    /// Pin the load generator to these CPUs.
    #[arg(long, value_name = "CPUS")]
    load_cpus: Option<String>,
    /// Hold every server to this many cores' worth of CPU time (a cgroup quota, e.g. 0.5), so that the generator,
    /// with more, never sets the pace: requests/s then compare what the servers cost. Needs root.
    #[arg(long, value_name = "CORES")]
    server_cpu_quota: Option<f64>,
    /// How the load generator does its I/O: epoll, or uring (io_uring; TCP, cheaper per request).
    #[arg(long, value_enum, value_name = "IO")]
    load_io: Option<LoadIo>,
    /// Numbers of simultaneous clients, comma-separated [default: 1,2,5,10,20,50].
    #[arg(long, value_delimiter = ',')]
    clients: Option<Vec<usize>>,
    /// Kinds of per-request work, comma-separated [default: sleep:50ms,cpu:10ms].
    #[arg(long, value_delimiter = ',')]
    work: Option<Vec<Work>>,
    /// How long each cell measures, 1ms to 1day (at least until every client finished 2 requests; at most 10 s).
    #[arg(long, value_name = "DUR", value_parser = durations::parse)]
    cell: Option<Duration>,
    /// Runs of each cell, to show the spread.
    #[arg(long)]
    repeat: Option<usize>,
    /// Each client keeps one connection instead of connecting for every request.
    #[arg(long)]
    keep_alive: bool,
    /// Each cell opens CLIENTS connections, does one exchange on each and holds them for the cell's time,
    /// measuring what the server pays per connection.
    #[arg(long)]
    hold: bool,
    /// A classic lesson's flags; flags given beside it win.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// poll and async: hand cpu:/block: work to N helper threads.
    #[arg(long, value_name = "N")]
    offload: Option<usize>,
    /// The servers' listen(2) backlog; 5 reproduces Python's socketserver [default: serve's, 1024].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    backlog: Option<i32>,
    /// Directory for results.json, results.csv and report.html.
    #[arg(long, value_name = "DIR", default_value = "serverlab-report")]
    out: PathBuf,
    /// Language of the report and tables.
    #[arg(long, value_enum, default_value = "en")]
    lang: Lang,
    /// serverlab binary that runs the servers [default: this one].
    #[arg(long, value_name = "PATH")]
    server_bin: Option<PathBuf>,
    /// Run even from a debug build (its numbers are marked as unrepresentative).
    #[arg(long)]
    allow_debug: bool,
}

/// The classic lessons, each a set of flags.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Preset {
    /// HTTP, sequential vs threads, 1 to 20 clients connecting for every request, with Python socketserver's
    /// listen backlog of 5 and with serve's 1024: the exercise as taught, full listen queue included.
    Classroom,
    /// The classroom exercise with poll beside them, for waiting and for computing, in about half a minute: for a
    /// lecture.
    Quick,
    /// Waiting vs computing, the models that differ most.
    IoVsCpu,
    /// A blocking call inside poll and async, beside a sleep that is done right, and threads for contrast.
    BlockingInEventLoop,
    /// C10K: every model holds 1,000, 5,000 and 10,000 connections, each answered once, for 3 s: how many it
    /// holds and what each costs it (KiB of PSS). Add --server (and --proto http for nginx) to measure others.
    C10k,
    /// The GIL lesson: the Python servers the notes teach (sequential, threading, forking, select, a thread pool,
    /// asyncio, a process pool) beside our sequential, threads and prefork, for waiting and for computing.
    Python,
    /// Our event models beside nginx (one worker, our page from memory), HTTP keep-alive, server and load pinned
    /// to a core each: CPU per request and throughput. Needs nginx.
    Nginx,
    /// Our event models beside the minimal tokio echo (`cargo build --release --example tokio_echo`), echo
    /// keep-alive, server and load pinned to a core each.
    TokioEcho,
    /// HTTP keep-alive clients beside 8 slowloris connections, with no header deadline and with a 1 s one: which
    /// models a few slow clients starve, and how a deadline frees them.
    Slowloris,
}

/// The cell time of `--preset quick`: its 24 cells of 1 s (and the warmup, and a server started and stopped for
/// each) take about half a minute in a release build, leaving room in a lecture's minute for a loaded machine.
const QUICK_CELL: Duration = Duration::from_secs(1);

/// The listen backlog of Python's `socketserver.TCPServer` (`request_queue_size`), which the classroom's servers
/// run with: 20 clients connecting for every request overflow it.
const PYTHON_BACKLOG: &str = "5";

/// Slow connections in every cell of `--preset slowloris`: as many as the pool has workers by default.
const SLOWLORIS_CONNECTIONS: usize = 8;

/// What a preset sets; `None` leaves the default.
#[derive(Default)]
struct PresetValues {
    proto: Option<Proto>,
    models: Option<Vec<Model>>,
    clients: Option<Vec<usize>>,
    works: Option<Vec<&'static str>>,
    cell: Option<Duration>,
    keep_alive: bool,
    /// Hold the clients' connections instead of loading the servers (`--hold`).
    hold: bool,
    slow: usize,
    variants: Vec<Variant>,
    /// Measure the classroom's Python servers too.
    classroom: bool,
    /// Measure a yardstick beside the models.
    yardstick: Option<Yardstick>,
    repeat: Option<usize>,
    /// Pin the servers to one core and the load to another (on a machine with two at least).
    pinned: bool,
    /// Hold the servers to this many cores (`--server-cpu-quota`).
    server_cpu_quota: Option<f64>,
    load_io: Option<LoadIo>,
}

/// A server of someone else's that a preset compares our models with.
#[derive(Clone, Copy)]
enum Yardstick {
    Nginx,
    TokioEcho,
}

impl Yardstick {
    /// The name it is measured under, which ratio tables compare with.
    fn subject(self) -> Subject {
        let name = match self {
            Yardstick::Nginx => "nginx",
            Yardstick::TokioEcho => "tokio-echo",
        };
        name.parse().expect("a valid server name")
    }
}

/// The cells of a comparison with a yardstick: long enough for a steady state, 3 runs for a median.
const YARDSTICK_CELL: Duration = Duration::from_secs(3);
const YARDSTICK_REPEATS: usize = 3;
/// The servers of a comparison get half of their core, the generator (on io_uring, the cheaper side) a whole one:
/// over loopback each side pays about the same per round trip, so only then is the server the slower side, and
/// requests/s measure the servers rather than the generator (see `confine.rs`).
const YARDSTICK_QUOTA: f64 = 0.5;

impl Preset {
    fn values(self) -> PresetValues {
        match self {
            // 20 clients against a queue of 5 is where the classroom saw p99 1.36 s and a client served 0 times:
            // beside serve's own backlog, the same cells show what the queue alone changes.
            Preset::Classroom => PresetValues {
                proto: Some(Proto::Http),
                models: Some(vec![Model::Sequential, Model::Threads]),
                clients: Some(vec![1, 2, 5, 10, 20]),
                variants: vec![
                    Variant::new(&["--backlog", PYTHON_BACKLOG]),
                    Variant::new(&["--backlog", &DEFAULT_BACKLOG.to_string()]),
                ],
                ..PresetValues::default()
            },
            // A connection per request, as in the classroom.
            Preset::Quick => PresetValues {
                proto: Some(Proto::Http),
                models: Some(vec![Model::Sequential, Model::Threads, Model::Poll]),
                clients: Some(vec![1, 2, 5, 10]),
                works: Some(vec!["sleep:50ms", "cpu:10ms"]),
                cell: Some(QUICK_CELL),
                ..PresetValues::default()
            },
            Preset::IoVsCpu => PresetValues {
                models: Some(vec![
                    Model::Sequential,
                    Model::Threads,
                    Model::Poll,
                    Model::Async,
                ]),
                clients: Some(vec![1, 2, 5, 10, 20]),
                works: Some(vec!["sleep:50ms", "cpu:10ms"]),
                ..PresetValues::default()
            },
            Preset::BlockingInEventLoop => PresetValues {
                models: Some(vec![Model::Threads, Model::Poll, Model::Async]),
                clients: Some(vec![1, 2, 5, 10, 20]),
                works: Some(vec!["sleep:50ms", "block:50ms"]),
                ..PresetValues::default()
            },
            // Every model is named, so that a --server is measured beside them rather than instead of them. The
            // cell is the hold: long enough for a thread-per-connection server to have settled.
            Preset::C10k => PresetValues {
                proto: Some(Proto::Echo),
                models: Some(Model::ALL.to_vec()),
                clients: Some(vec![1000, 5000, 10000]),
                works: Some(vec!["none"]),
                cell: Some(Duration::from_secs(3)),
                hold: true,
                ..PresetValues::default()
            },
            // A connection per request, as the students' clients do; 5 clients is where the lesson is measured.
            Preset::Python => PresetValues {
                proto: Some(Proto::Http),
                models: Some(vec![Model::Sequential, Model::Threads, Model::Prefork]),
                clients: Some(vec![1, 2, 5, 10]),
                works: Some(vec!["sleep:50ms", "cpu:10ms"]),
                classroom: true,
                ..PresetValues::default()
            },
            Preset::Nginx => PresetValues {
                proto: Some(Proto::Http),
                models: Some(vec![
                    Model::Poll,
                    Model::Async,
                    Model::Uring,
                    Model::Threads,
                ]),
                clients: Some(vec![10, 100, 1000]),
                works: Some(vec!["none"]),
                cell: Some(YARDSTICK_CELL),
                keep_alive: true,
                yardstick: Some(Yardstick::Nginx),
                repeat: Some(YARDSTICK_REPEATS),
                pinned: true,
                server_cpu_quota: Some(YARDSTICK_QUOTA),
                load_io: Some(LoadIo::Uring),
                ..PresetValues::default()
            },
            Preset::TokioEcho => PresetValues {
                proto: Some(Proto::Echo),
                models: Some(vec![Model::Poll, Model::Async, Model::Uring]),
                clients: Some(vec![10, 100, 1000]),
                works: Some(vec!["none"]),
                cell: Some(YARDSTICK_CELL),
                keep_alive: true,
                yardstick: Some(Yardstick::TokioEcho),
                repeat: Some(YARDSTICK_REPEATS),
                pinned: true,
                server_cpu_quota: Some(YARDSTICK_QUOTA),
                load_io: Some(LoadIo::Uring),
                ..PresetValues::default()
            },
            // The deadline (1 s) is a third of the cell, so a freed server has time to show it.
            Preset::Slowloris => PresetValues {
                proto: Some(Proto::Http),
                clients: Some(vec![1, 2, 5, 10]),
                works: Some(vec!["sleep:10ms"]),
                cell: Some(Duration::from_secs(3)),
                keep_alive: true,
                slow: SLOWLORIS_CONNECTIONS,
                variants: vec![
                    Variant::new(&["--header-timeout", "off"]),
                    Variant::new(&["--header-timeout", "1s"]),
                ],
                ..PresetValues::default()
            },
        }
    }
}

/// A setting that needs something of the machine (`check` says whether it can be had): asked for and not to be
/// had, a usage error with the reason; a preset's, left out with a line saying so (`without`) and why.
fn if_available<T: Copy>(
    asked: Option<T>,
    preset: Option<T>,
    check: impl Fn(T) -> Result<(), String>,
    without: &str,
) -> Result<Option<T>, Failure> {
    match (asked, preset) {
        (Some(value), _) => check(value).map(|()| Some(value)).map_err(Failure::Usage),
        (None, Some(value)) => Ok(match check(value) {
            Ok(()) => Some(value),
            Err(why) => {
                eprintln!("serverlab: {without}: {why}");
                None
            }
        }),
        (None, None) => Ok(None),
    }
}

/// Runs the experiment; [`Done::Interrupted`] when a Ctrl-C stopped it (what was measured is written all the same).
pub fn run_command(args: ExperimentArgs) -> Result<Done, Failure> {
    if crate::system::build_profile() == "debug" && !args.allow_debug {
        return Err(Failure::Run(catalog::debug_refused(args.lang).into()));
    }
    let server_bin = match args.server_bin.clone() {
        Some(path) => path,
        None => std::env::current_exe()
            .map_err(|e| Failure::Run(format!("cannot find this executable: {e}")))?,
    };
    let preset = args.preset.map(Preset::values).unwrap_or_default();
    let mut config = ExperimentConfig::new(server_bin);
    config.proto = args.proto.or(preset.proto).unwrap_or(config.proto);
    config.servers = external_servers(&args, &preset, &config.server_bin)?;
    let (classroom, yardstick) = (preset.classroom, preset.yardstick);
    // With servers of its own, a run measures our models only when asked to.
    let default_models = if config.servers.is_empty() {
        config.models
    } else {
        Vec::new()
    };
    config.models = args
        .models
        .clone()
        .or(preset.models)
        .unwrap_or(default_models);
    let cpus = |flag: &str, value: &Option<String>| {
        let list = value.as_deref().map(CpuList::parse).transpose();
        let list = list.and_then(|l| {
            l.as_ref().map(CpuList::check_allowed).transpose()?;
            Ok(l)
        });
        list.map_err(|e| Failure::Usage(format!("--{flag} {e}")))
    };
    config.startup = args.start_timeout.unwrap_or(config.startup);
    config.baseline = args.baseline.or(preset.yardstick.map(Yardstick::subject));
    // A comparison pins the server to the first CPU it may use and the load to the second, unless told otherwise
    // (and not at all on a machine of one).
    let two_cores = preset.pinned && CpuList::allowed().len() >= 2;
    let preset_cpus = |n: usize| {
        two_cores
            .then(|| CpuList::nth_allowed(n))
            .flatten()
            .map(|c| c.to_string())
    };
    config.server_cpus = cpus("server-cpus", &args.server_cpus.clone().or(preset_cpus(0)))?;
    config.load_cpus = cpus("load-cpus", &args.load_cpus.clone().or(preset_cpus(1)))?;
    // The quota's group is made and removed here, so as to know at once whether it can be had.
    config.server_cpu_quota = if_available(
        args.server_cpu_quota,
        preset.server_cpu_quota,
        |cores| CpuQuota::create(cores).map(drop),
        "without the preset's CPU quota, so the load may set the pace",
    )?;
    config.load_io = if_available(
        args.load_io,
        preset.load_io,
        |io| match io {
            LoadIo::Uring => crate::uring::check_available("--load-io uring"),
            LoadIo::Epoll => Ok(()),
        },
        "the load runs on epoll",
    )?
    .unwrap_or_default();
    config.clients = args
        .clients
        .clone()
        .or(preset.clients)
        .unwrap_or(config.clients);
    if let Some(works) = args.work.clone() {
        config.works = works;
    } else if let Some(works) = preset.works {
        config.works = works
            .iter()
            .map(|w| w.parse())
            .collect::<Result<_, _>>()
            .map_err(Failure::Usage)?;
    }
    config.cell = args.cell.or(preset.cell).unwrap_or(config.cell);
    config.repeat = args.repeat.or(preset.repeat).unwrap_or(1);
    config.hold = args.hold || preset.hold;
    // Holding keeps every connection open: a preset's keep-alive means nothing beside --hold.
    config.keep_alive = args.keep_alive || (preset.keep_alive && !config.hold);
    config.offload = args.offload;
    config.slow = preset.slow;
    config.backlog = args.backlog;
    config.variants = preset.variants;
    // A flag given beside a preset wins: its variants no longer vary what the flag fixes.
    if args.backlog.is_some() {
        config.variants.retain(|v| !v.sets("--backlog"));
    }
    config.out = Some(args.out.clone());
    config
        .validate()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    write_preset_files(&args, classroom, yardstick)?;
    if let Err(e) = crate::net::raise_fd_limit() {
        eprintln!("serverlab: {}", catalog::fd_limit_warning(args.lang, &e));
    }
    run_and_report(&config, &args).map_err(Failure::Run)
}

/// The `--server`s, with their `--server-k`, and the classroom's when the preset asks for them (its scripts are
/// written next to the report).
fn external_servers(
    args: &ExperimentArgs,
    preset: &PresetValues,
    server_bin: &std::path::Path,
) -> Result<Vec<ExternalServer>, Failure> {
    let mut servers = if preset.classroom {
        classroom::servers(&classroom_dir(args), crate::system::cpus())
    } else {
        Vec::new()
    };
    match preset.yardstick {
        Some(Yardstick::Nginx) => servers.push(yardsticks::nginx(&nginx_dir(args)?)),
        Some(Yardstick::TokioEcho) => {
            servers.push(yardsticks::tokio_echo(server_bin).map_err(Failure::Run)?)
        }
        None => {}
    }
    for spec in &args.servers {
        servers.push(ExternalServer::parse(spec).map_err(Failure::Usage)?);
    }
    for spec in &args.server_k {
        let (name, k) = spec
            .split_once('=')
            .ok_or_else(|| Failure::Usage(format!("--server-k {spec:?}: write NAME=K")))?;
        let server = servers
            .iter_mut()
            .find(|s| s.name.as_str() == name)
            .ok_or_else(|| {
                Failure::Usage(format!("--server-k {name}: no --server has that name"))
            })?;
        server.k = Some(
            Concurrency::parse(k).map_err(|e| Failure::Usage(format!("--server-k {name}: {e}")))?,
        );
    }
    Ok(servers)
}

/// Where `--preset python` writes the classroom's scripts.
fn classroom_dir(args: &ExperimentArgs) -> PathBuf {
    args.out.join("classroom")
}

/// Where `--preset nginx` writes nginx's config: absolute, as nginx's `-p` wants.
fn nginx_dir(args: &ExperimentArgs) -> Result<PathBuf, Failure> {
    std::path::absolute(args.out.join("nginx"))
        .map_err(|e| Failure::Usage(format!("--out {}: {e}", args.out.display())))
}

/// Writes what the preset's servers need next to the report; only once the run is known to be valid.
fn write_preset_files(
    args: &ExperimentArgs,
    classroom: bool,
    yardstick: Option<Yardstick>,
) -> Result<(), Failure> {
    if classroom {
        classroom::write(&classroom_dir(args)).map_err(Failure::Run)?;
    }
    if let Some(Yardstick::Nginx) = yardstick {
        yardsticks::write_nginx_config(&nginx_dir(args)?).map_err(Failure::Run)?;
    }
    Ok(())
}

/// Runs the configured experiment, prints its tables and writes its files; says whether a signal stopped it.
fn run_and_report(config: &ExperimentConfig, args: &ExperimentArgs) -> Result<Done, String> {
    // The first Ctrl-C stops after the current cell's load and writes the report; a second leaves at once.
    let stop = Arc::new(AtomicBool::new(false));
    crate::shutdown::flag_on_stop_signals(&stop).map_err(|e| e.to_string())?;
    let lang = args.lang;
    eprintln!("serverlab experiment: {}", catalog::plan(lang, config));
    let mut progress = Display::new(std::io::stderr().is_terminal(), lang);
    let results = run(config, &stop, &mut progress)?;
    progress.finish();

    print_tables(&results, lang);
    report::write_all(&results, &args.out, lang)?;
    println!("{}", catalog::wrote(lang, &args.out));
    if results.interrupted {
        println!("{}", catalog::stopped_early(lang, results.cells.len()));
    }
    // A stop during the last cell leaves every cell measured, yet the run was cut short all the same.
    if stop.load(std::sync::atomic::Ordering::Relaxed) {
        Ok(Done::Interrupted)
    } else {
        Ok(Done::Finished)
    }
}

fn print_tables(results: &Results, lang: Lang) {
    for work in &results.works {
        println!("\n== {} ==", catalog::work_heading(lang, work));
        print!(
            "{}",
            tables::to_text(&tables::throughput_table(results, work, lang))
        );
        if let Some(table) = tables::baseline_table(results, work, lang) {
            print!("\n{}", tables::to_text(&table));
        }
    }
    println!();
}

/// Progress on stderr: a live bar on a terminal, one line per cell otherwise.
struct Display {
    bar: Option<indicatif::ProgressBar>,
    lang: Lang,
    label: String,
    started: std::time::Instant,
    last: (std::time::Instant, u64),
}

impl Display {
    fn new(terminal: bool, lang: Lang) -> Display {
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            {
                bar.set_style(style);
            }
            bar
        });
        let now = std::time::Instant::now();
        Display {
            bar,
            lang,
            label: String::new(),
            started: now,
            last: (now, 0),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Display {
    fn cell_started(
        &mut self,
        index: usize,
        total: usize,
        work: Work,
        subject: Subject,
        clients: usize,
    ) {
        self.label = catalog::cell_label(self.lang, work, subject, clients);
        self.started = std::time::Instant::now();
        self.last = (self.started, 0);
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
            bar.set_position(index as u64 - 1);
            bar.set_message(self.label.clone());
        }
    }

    fn requests(&mut self, finished: u64) {
        let now = std::time::Instant::now();
        let (then, before) = self.last;
        let seconds = (now - then).as_secs_f64();
        if let Some(bar) = &self.bar
            && seconds >= 0.5
        {
            let rate = (finished.saturating_sub(before)) as f64 / seconds;
            bar.set_message(catalog::live_rate(self.lang, &self.label, rate));
            self.last = (now, finished);
        }
    }

    fn cell_finished(&mut self, cell: &Cell) {
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => eprintln!(
                "  {}: {}",
                self.label,
                catalog::cell_outcome(self.lang, cell)
            ),
        }
    }
}
