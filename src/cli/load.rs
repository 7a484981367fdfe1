//! `serverlab load`: drive a server with many clients and report what it did; `serverlab merge`: add up results.
//!
//! Exit status: 0 when the run completed (errors are results, reported in the summary), 1 when not one request
//! succeeded (with the commonest error in one line on stderr) or nothing listens at the target (checked with one
//! connection before the clients start), 2 on bad usage.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use clap::Args;

use super::parse_addr;
use crate::duration as durations;
use crate::load::merge::{ResultFile, merge_named, missing_segments};
use crate::load::segment::{Part, Segment};
use crate::load::start::{format_time, parse_start_at};
use crate::load::status::StatusSet;
use crate::load::target::Target;
use crate::load::{Control, LoadConfig, LoadError, LoadIo, LoadReport, Payload, print};
use crate::protocol::Proto;
use crate::system::{Provenance, build_profile};

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Server to load: a URL like http://127.0.0.1:8080/path (HTTP, that host and path), or HOST:PORT like
    /// 127.0.0.1:5000 for --proto's protocol. Any server: ours, nginx, a classroom script.
    #[arg(
        value_name = "URL|HOST:PORT",
        required_unless_present = "target",
        conflicts_with = "target"
    )]
    url: Option<String>,
    /// The same as the URL|HOST:PORT argument.
    #[arg(long, value_name = "URL|HOST:PORT")]
    target: Option<String>,
    /// Protocol to speak [default: http for a URL, echo for HOST:PORT].
    #[arg(long, value_enum)]
    proto: Option<Proto>,
    /// Concurrent connections (udp-echo: concurrent senders).
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Total requests, shared by the clients.
    #[arg(long, value_name = "M", conflicts_with = "duration")]
    requests: Option<u64>,
    /// How long to run, 1ms to 1day [default: 10s unless --requests].
    #[arg(long, value_name = "D", value_parser = durations::parse)]
    duration: Option<Duration>,
    /// Open loop: this many requests per second in total, on a fixed timetable (latency counted from the
    /// scheduled time). Without it: closed loop.
    #[arg(long, value_name = "R")]
    rate: Option<f64>,
    /// Event-loop threads [default: CPUs].
    #[arg(long, value_name = "T")]
    threads: Option<usize>,
    /// How the threads do their I/O: epoll (readiness, a send and a recv per request) or uring (completion, one
    /// io_uring_enter a turn for every client's sends and receives; TCP only).
    #[arg(long, value_enum, default_value_t = LoadIo::Epoll)]
    io: LoadIo,
    /// Echo payload size in bytes (udp-echo: the 8-byte sequence number included).
    #[arg(long, value_name = "BYTES", conflicts_with = "message")]
    size: Option<usize>,
    /// Echo payload text.
    #[arg(long, value_name = "TEXT")]
    message: Option<String>,
    /// HTTP path to request [default: the URL's, or /].
    #[arg(long)]
    path: Option<String>,
    /// HTTP method.
    #[arg(short = 'm', long, default_value = "GET")]
    method: String,
    /// HTTP header line to add, `Name: value`; repeat for more (a Host or User-Agent given here replaces ours).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// HTTP request body (sent with its Content-Length).
    #[arg(long, value_name = "TEXT", conflicts_with = "body_file")]
    body: Option<String>,
    /// HTTP request body, read from this file.
    #[arg(long, value_name = "FILE")]
    body_file: Option<PathBuf>,
    /// HTTP: the statuses that count as a success, like 200, 2xx, 200-299 or 200,404; a reply with another is a
    /// bad reply. Replies are counted by status either way [default: any].
    #[arg(long, value_name = "CODES", value_parser = StatusSet::parse)]
    expect_status: Option<StatusSet>,
    /// Open a new connection for each request (the classroom client that connects, asks, and closes).
    #[arg(long)]
    connect_per_request: bool,
    /// A request without its whole reply after this long is a timeout (1ms to 1day).
    #[arg(long, value_name = "D", value_parser = durations::parse, default_value = "5s")]
    timeout: Duration,
    /// Load sent first and not measured (0, or 1ms to 1day).
    #[arg(long, value_name = "D", value_parser = durations::parse_or_zero, default_value = "0s")]
    warmup: Duration,
    /// HTTP: also keep N slowloris connections, each sending a request head one byte a second and never finishing
    /// it; reported apart from the clients (what the server closed, when, and whether it answered first).
    #[arg(long, value_name = "N", default_value_t = 0)]
    slow: usize,
    /// How often a slow connection sends its next byte (1ms to 1day).
    #[arg(long, value_name = "D", value_parser = durations::parse, default_value = "1s", hide = true)]
    slow_interval: Duration,
    /// Also write the result, its provenance and its histograms as JSON (`-`: to stdout, and the summary to
    /// stderr).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also write, per 100 ms, requests/s, errors, p99 and open connections as CSV.
    #[arg(long, value_name = "FILE")]
    timeline: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Run only part I of N (I from 0) of the run the other flags describe: its share of the clients, and so of
    /// the rate and the requests; the N parts add up exactly to the whole. Add their --json with `merge`.
    #[arg(long, value_name = "I/N")]
    segment: Option<Segment>,
    /// Wait until this time before connecting (RFC 3339 or Unix seconds), so that parts on several machines
    /// start together; a time past by more than a second is an error.
    #[arg(long, value_name = "TIME", value_parser = parse_start_at)]
    start_at: Option<SystemTime>,
    /// Check the flags, print the part of the run this process would make, and exit without connecting.
    #[arg(long)]
    dry_run: bool,
    /// Instead of a load, open N connections, do one exchange on each (an echo message, one keep-alive HTTP
    /// GET), hold them all open for --duration, then close them; report how many were answered and still held,
    /// and the time to open them (the client side of a C10K measurement). Connects and exchanges get --timeout.
    #[arg(
        long,
        value_name = "N",
        conflicts_with_all = [
            "requests", "rate", "clients", "threads", "connect_per_request", "warmup", "slow",
            "slow_interval", "timeline", "segment", "start_at", "dry_run",
        ]
    )]
    hold: Option<usize>,
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Result files written by `serverlab load --json`.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Write the merged result as JSON (`-`: to stdout, and the summary to stderr).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("serverlab: {message}");
    ExitCode::from(code)
}

pub fn main(args: LoadArgs) -> ExitCode {
    let given = args.url.or(args.target).unwrap_or_default();
    let (target, proto, path) = match aim(&given, args.proto, args.path) {
        Ok(aimed) => aimed,
        Err(e) => return fail(2, &e),
    };
    let address: SocketAddr = match parse_addr(&target.address) {
        Ok(a) => a,
        Err(e) => return fail(2, &e),
    };
    let mut config = LoadConfig::new(proto, address);
    config.clients = args.clients;
    config.threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    config.requests = args.requests;
    config.duration = match (args.requests, args.duration) {
        (None, None) => Some(Duration::from_secs(10)),
        (_, d) => d,
    };
    config.rate = args.rate;
    config.io = args.io;
    config.payload = match (args.size, args.message) {
        (_, Some(m)) => Payload::Message(m),
        (Some(n), None) => Payload::Size(n),
        (None, None) => Payload::default(),
    };
    config.path = path;
    config.host = Some(target.host_header);
    config.connect_per_request = args.connect_per_request;
    config.timeout = args.timeout;
    config.warmup = args.warmup;
    config.slow = args.slow;
    config.slow_interval = args.slow_interval;
    config.segment = args.segment;
    if args.expect_status.is_some() && proto != Proto::Http {
        return fail(2, "--expect-status needs HTTP (a URL, or --proto http)");
    }
    config.expect_status = args.expect_status.unwrap_or_else(StatusSet::any);
    config.method = args.method;
    config.headers = args.headers;
    config.body = match (args.body, &args.body_file) {
        (Some(text), _) => text.into_bytes(),
        (None, Some(path)) => match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                return fail(
                    2,
                    &format!("cannot read --body-file {}: {e}", path.display()),
                );
            }
        },
        (None, None) => Vec::new(),
    };
    config.start_at = args.start_at;
    config.hold = args.hold;
    if let Err(e) = config.validate() {
        return fail(2, &e.to_string());
    }
    if args.dry_run {
        let start = config
            .start_at
            .map_or_else(|| "at once".into(), |at| format!("at {}", format_time(at)));
        println!(
            "would run {} of {} to {}, starting {start}",
            Part::of(&config),
            config.proto,
            config.target
        );
        return ExitCode::SUCCESS;
    }

    if let Err(e) = crate::load::check_open_files(&config) {
        return fail(2, &e.to_string());
    }
    // Parts started together (`--start-at`) may come before their server: they wait, and are not checked.
    if config.start_at.is_none()
        && let Err(e) = crate::load::check_listening(&config)
    {
        return fail(1, &e);
    }
    let control = Control::new();
    // The first Ctrl-C stops the run and still prints the summary; a second exits at once.
    let _ = crate::shutdown::flag_on_stop_signals(&control.stop_flag());
    let provenance = Provenance::here(std::env::args().collect());
    let show_progress = !args.no_progress
        && config.hold.is_none()
        && std::io::stdout().is_terminal()
        && std::io::stderr().is_terminal();

    let done = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        if show_progress {
            let (control, done, config) = (&control, &done, &config);
            scope.spawn(move || progress(control, done, config));
        }
        if config.hold.is_some() {
            let (control, done, config) = (&control, &done, &config);
            scope.spawn(move || say_when_holding(control, done, config));
        }
        let result = crate::load::run(&config, &control);
        done.store(true, Ordering::Relaxed);
        result
    });
    let report = match result {
        Ok(r) => r,
        Err(e @ LoadError::Config(_)) => return fail(2, &e.to_string()),
        Err(e) => return fail(1, &e.to_string()),
    };

    let mut human = human_output(args.json.as_deref());
    if build_profile() == "debug" {
        let _ = writeln!(
            human,
            "WARNING: DEBUG BUILD: the generator is many times slower; build with --release to measure"
        );
    }
    let _ = write!(human, "{}", print::summary(&report));
    let _ = human.flush();
    if let Some(path) = &args.timeline
        && let Err(e) = std::fs::write(path, report.timeline.to_csv())
    {
        return fail(1, &format!("cannot write {}: {e}", path.display()));
    }
    if let Some(path) = &args.json {
        let file = ResultFile::new(provenance, config, report.clone());
        if let Err(e) = write_json(&file, path) {
            return fail(1, &e);
        }
    }
    let verdict = verdict(&report);
    // Stopped by Ctrl-C (the summary is out): the status says so, as shells expect (128 + SIGINT).
    if control.stop_requested() {
        return ExitCode::from(super::INTERRUPTED);
    }
    verdict
}

/// `--json -`: the JSON goes to stdout, where a pipe (`| jq`) wants nothing else.
fn is_stdout(path: &Path) -> bool {
    path == Path::new("-")
}

/// Where the summary goes: stdout, unless the JSON has it (`--json -`); then stderr.
fn human_output(json: Option<&Path>) -> Box<dyn Write> {
    if json.is_some_and(is_stdout) {
        Box::new(std::io::stderr().lock())
    } else {
        Box::new(std::io::stdout().lock())
    }
}

fn write_json(file: &ResultFile, path: &Path) -> Result<(), String> {
    if !is_stdout(path) {
        return file.write(path);
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(file.to_text()?.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write the JSON to stdout: {e}"))
}

/// The target, protocol and HTTP path a command line aims at: a URL says HTTP and its path, which `--proto` and
/// `--path` may not contradict.
fn aim(
    given: &str,
    proto: Option<Proto>,
    path: Option<String>,
) -> Result<(Target, Proto, String), String> {
    let target = Target::parse(given)?;
    match (target.proto, proto) {
        (Some(url_proto), Some(flag)) if flag != url_proto => {
            return Err(format!(
                "{given} is an {url_proto} URL, but --proto says {flag} (give HOST:PORT for {flag})"
            ));
        }
        _ => {}
    }
    let path = match (&target.path, path) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "give the path in the URL {given} or with --path, not both"
            ));
        }
        (Some(url_path), None) => url_path.clone(),
        (None, flag) => flag.unwrap_or_else(|| "/".into()),
    };
    let proto = proto.or(target.proto).unwrap_or(Proto::Echo);
    Ok((target, proto, path))
}

/// 0 when anything succeeded; otherwise 1 and the commonest error in one line.
fn verdict(report: &LoadReport) -> ExitCode {
    if report.successes > 0 {
        return ExitCode::SUCCESS;
    }
    let message = match report.errors.commonest() {
        Some((kind, n)) => {
            let example = report
                .error_examples
                .get(&kind)
                .map(|e| format!(", first: {e}"))
                .unwrap_or_default();
            let (what, unit) = match report.hold {
                Some(_) => ("no connection was answered", "connections"),
                None => ("no request succeeded", "requests"),
            };
            format!(
                "{what} against {}: {kind} ({n} of {} {unit}{example})",
                report.target, report.requests
            )
        }
        None => format!(
            "no request finished against {} (none completed in time)",
            report.target
        ),
    };
    fail(1, &message)
}

/// `--hold`: one line on stderr when every connection is open and the hold begins, the moment to measure the
/// server (scripts wait for it).
fn say_when_holding(control: &Control, done: &AtomicBool, config: &LoadConfig) {
    loop {
        // Read first: the hold begins before the run is done, so a short hold is not missed.
        let finished = done.load(Ordering::Relaxed);
        if control.holding() {
            let answered = control.completed().saturating_sub(control.errors());
            eprintln!(
                "holding: {answered} of {} connections answered, held for {}",
                config.hold.unwrap_or(0),
                humantime::format_duration(config.duration.unwrap_or_default())
            );
            return;
        }
        if finished {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A progress bar on stderr, shown only for runs that last more than a second.
fn progress(control: &Control, done: &AtomicBool, config: &LoadConfig) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        if done.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // A run of so many requests counts requests; a timed run counts seconds.
    let by_requests = config.duration.is_none() && config.requests.is_some();
    let (length, template) = if by_requests {
        (
            config.requests.unwrap_or(0),
            "{bar:40} {pos}/{len} requests, {msg} [{elapsed}]",
        )
    } else {
        let total = config.warmup + config.duration.unwrap_or_default();
        (total.as_secs().max(1), "{bar:40} {pos}/{len} s, {msg}")
    };
    let bar = indicatif::ProgressBar::new(length);
    bar.set_style(indicatif::ProgressStyle::with_template(template).expect("valid template"));
    let mut last = (Instant::now(), control.completed());
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let now = Instant::now();
        let completed = control.completed();
        let rate = (completed - last.1) as f64 / (now - last.0).as_secs_f64();
        last = (now, completed);
        bar.set_message(format!("{rate:.0} req/s, {} errors", control.errors()));
        if by_requests {
            bar.set_position(completed);
        } else {
            bar.set_position(start.elapsed().as_secs());
        }
    }
    bar.finish_and_clear();
}

pub fn merge_main(args: MergeArgs) -> ExitCode {
    let mut files = Vec::new();
    for path in &args.files {
        match ResultFile::read(path) {
            Ok(f) => files.push((path.display().to_string(), f)),
            Err(e) => return fail(1, &e),
        }
    }
    let merged = match merge_named(&files) {
        Ok(m) => m,
        Err(e) => return fail(1, &e),
    };
    let missing = missing_segments(&merged.report);
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|s| s.to_string()).collect();
        eprintln!(
            "serverlab: warning: segment {} missing: the summary is of the parts given, not of the whole run",
            names.join(", ")
        );
    }
    let mut human = human_output(args.json.as_deref());
    let _ = write!(human, "{}", print::summary(&merged.report));
    let _ = human.flush();
    if let Some(path) = &args.json
        && let Err(e) = write_json(&merged, path)
    {
        return fail(1, &e);
    }
    ExitCode::SUCCESS
}
