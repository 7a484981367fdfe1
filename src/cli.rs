//! The command line: flags are parsed and turned into library settings here, and nowhere else.
//!
//! Errors end the process with one line on stderr and a non-zero status: 2 for bad usage, 1 for anything that
//! went wrong while running. Nothing here panics on bad input.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{
    Model, OptionalDuration, Proto, ServerConfig, default_idle_timeout, parse_duration,
};
use crate::server::Server;
use crate::work::Work;

#[derive(Parser, Debug)]
#[command(
    name = "serverlab",
    version,
    about = "A lab for network-server concurrency: serve, load, compare."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a server for one protocol in one concurrency model.
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Protocol to speak.
    #[arg(long, value_enum, default_value_t = Proto::Echo)]
    proto: Proto,
    /// Concurrency model.
    #[arg(long, value_enum, default_value_t = Model::Threads)]
    model: Model,
    /// Address to listen on (repeat for several; port 0 lets the OS choose).
    #[arg(long = "listen", value_name = "ADDR", value_parser = parse_addr, default_value = "127.0.0.1:5000")]
    listen: Vec<SocketAddr>,
    /// Worker threads (pool).
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Places in the queue of accepted connections (pool).
    #[arg(long, default_value_t = 64)]
    queue: usize,
    /// Listen backlog passed to listen(2); 5 is Python's socketserver default.
    #[arg(long, default_value_t = 1024)]
    backlog: i32,
    /// Most connections served at once (threads).
    #[arg(long, default_value_t = 1024)]
    max_conns: usize,
    /// Simulated per-request work: none, sleep:DUR (I/O wait) or cpu:DUR (CPU time).
    #[arg(long, value_name = "none|sleep:DUR|cpu:DUR", default_value = "none")]
    work: Work,
    /// Close connections idle this long; `off` disables [default: 10s for http, off otherwise].
    #[arg(long, value_name = "DUR")]
    idle_timeout: Option<OptionalDuration>,
    /// On stop, how long idle connections are kept before they are closed.
    #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "5s")]
    drain_timeout: Duration,
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

/// Runs the command line of this process and returns its exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Command::Serve(args) => serve(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("serverlab: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to stdout with status 0; real usage errors become one line on stderr and status 2.
fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    let rendered = error.render().to_string();
    // clap's first paragraph is the error itself; the rest is usage, which `--help` gives in full.
    let first: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = first.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    eprintln!("serverlab: {message} (see serverlab --help)");
    ExitCode::from(2)
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let mut addrs = text
        .to_socket_addrs()
        .map_err(|e| format!("'{text}' is not an address like 127.0.0.1:5000 ({e})"))?;
    addrs
        .next()
        .ok_or_else(|| format!("'{text}' resolves to no address"))
}

fn serve(args: ServeArgs) -> Result<(), String> {
    crate::logging::init(&args.log_level, args.log_file.as_deref())?;
    let mut config = ServerConfig::new(args.proto, args.model, args.listen[0]);
    config.listen = args.listen;
    config.workers = args.workers;
    config.queue = args.queue;
    config.backlog = args.backlog;
    config.max_conns = args.max_conns;
    config.work = args.work;
    config.idle_timeout = args
        .idle_timeout
        .map_or_else(|| default_idle_timeout(args.proto), |d| d.0);
    config.drain_timeout = args.drain_timeout;
    if let Some(path) = &args.page {
        if args.proto != Proto::Http {
            return Err("--page only applies to --proto http".into());
        }
        let page = std::fs::read(path)
            .map_err(|e| format!("cannot read page file {}: {e}", path.display()))?;
        config.page = Arc::from(page);
    }
    if let Err(e) = crate::net::raise_fd_limit() {
        tracing::warn!(error = %e, "cannot raise the open-file limit");
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

fn transport(proto: Proto) -> &'static str {
    if proto.is_datagram() { "udp" } else { "tcp" }
}
