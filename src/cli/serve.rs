//! `serverlab serve`: one protocol, one concurrency model, until stopped.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{Failure, parse_addr};
use crate::duration::{OptionalDuration, Timeout};
use crate::models::config::{
    DEFAULT_BACKLOG, DEFAULT_DRAIN_TIMEOUT, DEFAULT_MAX_CONNS, DEFAULT_MAX_DATAGRAMS,
    DEFAULT_QUEUE, DEFAULT_SEND_TIMEOUT, default_header_timeout, default_idle_timeout,
};
use crate::models::{DEFAULT_POOL_WORKERS, Model, ServerConfig};
use crate::protocol::Proto;
use crate::protocol::http::DEFAULT_MAX_BODY;
use crate::server::Server;
use crate::work::Work;

/// The flags of `serve`. Every default is read from the library's constants, the ones `ServerConfig::new` uses,
/// so `--help`, the server and the experiment's predictions cannot disagree.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Protocol to speak.
    #[arg(long, value_enum, default_value_t = Proto::Echo)]
    proto: Proto,
    /// Concurrency model.
    #[arg(long, value_enum, default_value_t = Model::Threads)]
    model: Model,
    /// Address to listen on (repeat for several; port 0 lets the OS choose).
    #[arg(long = "listen", value_name = "ADDR", value_parser = parse_addr, default_value = "127.0.0.1:5000")]
    listen: Vec<SocketAddr>,
    #[arg(long, help = format!("Worker threads (pool) or processes (prefork) [default: {DEFAULT_POOL_WORKERS} for pool, one per CPU for async and prefork]"))]
    workers: Option<usize>,
    /// Places in the queue of accepted connections (pool).
    #[arg(long, default_value_t = DEFAULT_QUEUE)]
    queue: usize,
    /// Listen backlog passed to listen(2); 5 is Python's socketserver default.
    #[arg(long, default_value_t = DEFAULT_BACKLOG, allow_negative_numbers = true)]
    backlog: i32,
    /// Most connections served at once (threads).
    #[arg(long, default_value_t = DEFAULT_MAX_CONNS)]
    max_conns: usize,
    /// Simulated per-request work: none, sleep:DUR (I/O wait), cpu:DUR (CPU time), block:DUR (a blocking call).
    #[arg(
        long,
        value_name = "none|sleep:DUR|cpu:DUR|block:DUR",
        default_value = "none"
    )]
    work: Work,
    /// poll and async: run cpu: and block: work on this many helper threads instead of the event loop.
    #[arg(long, value_name = "N")]
    offload: Option<usize>,
    #[arg(long, value_name = "DUR", help = per_protocol_default(
        "Close connections idle this long between requests; `off` disables",
        default_idle_timeout,
    ))]
    idle_timeout: Option<OptionalDuration>,
    #[arg(long, value_name = "DUR", help = per_protocol_default(
        "http: the whole request head must arrive within this long of its first byte (of accept, for the first request), or 408 and a close; `off` disables",
        default_header_timeout,
    ))]
    header_timeout: Option<OptionalDuration>,
    /// Close a connection whose reply makes no progress this long (a client that does not read).
    #[arg(long, value_name = "DUR", default_value_t = Timeout(DEFAULT_SEND_TIMEOUT))]
    send_timeout: Timeout,
    /// The bound of a stop: connections still open this long after it are closed, and the server exits.
    #[arg(long, value_name = "DUR", default_value_t = Timeout(DEFAULT_DRAIN_TIMEOUT))]
    drain_timeout: Timeout,
    /// http: largest request body accepted, in bytes; a larger one gets 413 and a close.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY)]
    max_body: u64,
    /// udp-echo: most datagrams waiting for their work at once; past it they are dropped and counted.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_DATAGRAMS)]
    max_datagrams: usize,
    /// HTML file to serve instead of the built-in page (http).
    #[arg(long, value_name = "FILE")]
    page: Option<PathBuf>,
    /// Log level or filter (error, warn, info, debug, trace).
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Write the log to this file instead of stderr.
    #[arg(long, value_name = "PATH")]
    log_file: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> Result<(), Failure> {
    crate::logging::init(&args.log_level, args.log_file.as_deref()).map_err(Failure::Usage)?;
    let config = config_of(&args)?;
    config
        .validate()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    serve(config).map_err(Failure::Run)
}

/// Turns the flags into a server's settings; what cannot work is bad usage.
fn config_of(args: &ServeArgs) -> Result<ServerConfig, Failure> {
    let mut config = ServerConfig::new(args.proto, args.model, args.listen[0]);
    config.listen = args.listen.clone();
    config.workers = args.workers.unwrap_or_else(|| args.model.default_workers());
    config.offload = args.offload;
    config.queue = args.queue;
    config.backlog = args.backlog;
    config.max_conns = args.max_conns;
    config.work = args.work;
    config.idle_timeout = args
        .idle_timeout
        .map_or_else(|| default_idle_timeout(args.proto), |d| d.0);
    config.header_timeout = args
        .header_timeout
        .map_or_else(|| default_header_timeout(args.proto), |d| d.0);
    config.send_timeout = args.send_timeout.0;
    config.drain_timeout = args.drain_timeout.0;
    config.max_body = args.max_body;
    config.max_datagrams = args.max_datagrams;
    if let Some(path) = &args.page {
        if args.proto != Proto::Http {
            return Err(Failure::Usage("--page only applies to --proto http".into()));
        }
        config.page = read_page(path)?;
    }
    Ok(config)
}

/// Largest page `--page` serves: it is held in memory once and shared by every connection.
const MAX_PAGE: u64 = 1 << 30;

/// Reads the `--page` file, refusing what is not a regular file (a FIFO would block the start for ever).
fn read_page(path: &std::path::Path) -> Result<Arc<[u8]>, Failure> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| Failure::Usage(format!("cannot read page file {shown}: {e}")))?;
    if !meta.is_file() {
        return Err(Failure::Usage(format!(
            "--page {shown} is not a regular file"
        )));
    }
    if meta.len() > MAX_PAGE {
        return Err(Failure::Usage(format!(
            "--page {shown} is larger than 1 GiB"
        )));
    }
    let page = std::fs::read(path)
        .map_err(|e| Failure::Run(format!("cannot read page file {shown}: {e}")))?;
    Ok(Arc::from(page))
}

fn serve(config: ServerConfig) -> Result<(), String> {
    match crate::net::raise_fd_limit() {
        // A thread-per-connection server asked for more connections than it may open files.
        Ok(limit) if config.model == Model::Threads && config.max_conns as u64 + 32 > limit => {
            tracing::warn!(
                limit,
                max_conns = config.max_conns,
                "the open-file hard limit is too low for --max-conns: accepts will fail with EMFILE before the cap"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }

    let server = Server::bind(config.clone()).map_err(|e| e.to_string())?;
    server
        .shutdown()
        .install_signal_handlers()
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let addrs = server.local_addrs().map_err(|e| e.to_string())?;
    {
        let mut stdout = std::io::stdout().lock();
        for addr in &addrs {
            let _ = writeln!(
                stdout,
                "listening on {addr} ({} over {}, {})",
                config.proto,
                transport(config.proto),
                config.model
            );
        }
        let _ = stdout.flush();
    }
    let report = server.run().map_err(|e| format!("server failed: {e}"))?;
    let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
    Ok(())
}

/// A flag's help with its default for each protocol, read from the function the server itself uses.
fn per_protocol_default(what: &str, default: fn(Proto) -> Option<Duration>) -> String {
    let http = OptionalDuration(default(Proto::Http));
    let echo = OptionalDuration(default(Proto::Echo));
    if http == echo {
        format!("{what} [default: {http}]")
    } else {
        format!("{what} [default: {http} for http, {echo} otherwise]")
    }
}

fn transport(proto: Proto) -> &'static str {
    if proto.is_datagram() { "udp" } else { "tcp" }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    /// What `serve` makes of `args`.
    fn config_from(args: &[String]) -> ServerConfig {
        let cli =
            Cli::try_parse_from(std::iter::once("serve".to_string()).chain(args.iter().cloned()))
                .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        config_of(&cli.serve).unwrap()
    }

    #[test]
    fn to_args_round_trips_through_the_command_line() {
        let addr = "127.0.0.1:0".parse().unwrap();
        let mut configs = vec![
            ServerConfig::new(Proto::Echo, Model::Threads, addr),
            ServerConfig::new(Proto::Http, Model::Pool, addr),
            ServerConfig::new(Proto::UdpEcho, Model::Async, addr),
        ];
        let mut tuned = ServerConfig::new(Proto::Http, Model::Poll, addr);
        tuned.listen.push("127.0.0.1:8081".parse().unwrap());
        tuned.workers = 3;
        tuned.queue = 7;
        tuned.backlog = 5;
        tuned.max_conns = 9;
        tuned.work = "sleep:1m 30s".parse().unwrap();
        tuned.offload = Some(2);
        tuned.idle_timeout = None;
        tuned.header_timeout = Some(Duration::from_millis(250));
        tuned.send_timeout = Duration::from_secs(2);
        tuned.drain_timeout = Duration::from_secs(1);
        tuned.max_body = 100;
        tuned.max_datagrams = 10;
        configs.push(tuned);
        for config in configs {
            config.validate().unwrap();
            assert_eq!(config_from(&config.to_args()), config);
        }
    }

    #[test]
    fn the_flags_default_to_what_the_library_does() {
        let parsed = config_from(&["--listen".into(), "127.0.0.1:0".into()]);
        let library =
            ServerConfig::new(Proto::Echo, Model::Threads, "127.0.0.1:0".parse().unwrap());
        assert_eq!(parsed, library);
        let parsed = config_from(&[
            "--proto".into(),
            "http".into(),
            "--model".into(),
            "prefork".into(),
        ]);
        let library = ServerConfig::new(
            Proto::Http,
            Model::Prefork,
            "127.0.0.1:5000".parse().unwrap(),
        );
        assert_eq!(parsed, library);
    }
}
