//! `serverlab serve`: one protocol, one concurrency model, until stopped.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::parse_addr;
use crate::config::{
    Model, OptionalDuration, Proto, ServerConfig, default_idle_timeout, parse_duration,
};
use crate::server::Server;
use crate::work::Work;

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
    /// Worker threads (pool: 8; async: one per CPU) or worker processes (prefork: one per CPU).
    #[arg(long)]
    workers: Option<usize>,
    /// Places in the queue of accepted connections (pool).
    #[arg(long, default_value_t = 64)]
    queue: usize,
    /// Listen backlog passed to listen(2); 5 is Python's socketserver default.
    #[arg(long, default_value_t = 1024)]
    backlog: i32,
    /// Most connections served at once (threads).
    #[arg(long, default_value_t = 1024)]
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

pub fn run(args: ServeArgs) -> Result<(), String> {
    crate::logging::init(&args.log_level, args.log_file.as_deref())?;
    let mut config = ServerConfig::new(args.proto, args.model, args.listen[0]);
    config.listen = args.listen;
    config.workers = args.workers.unwrap_or_else(|| args.model.default_workers());
    config.offload = args.offload;
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

fn transport(proto: Proto) -> &'static str {
    if proto.is_datagram() { "udp" } else { "tcp" }
}
