//! What a server is asked to be: protocol, concurrency model, addresses, limits and simulated work.
//!
//! The CLI turns flags into a [`ServerConfig`]; tests build one directly. Everything is validated here, once,
//! so the models can trust what they get.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::Model;
use crate::protocol::Proto;
use crate::settings::{ConfigError, in_range};
use crate::work::Work;

/// Everything a server needs to know before it binds.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    pub proto: Proto,
    pub model: Model,
    /// Every address to listen on; port 0 asks the OS for a free port.
    pub listen: Vec<SocketAddr>,
    /// Worker threads of `pool` and `async`, worker processes of `prefork`.
    pub workers: usize,
    /// Capacity of the `pool` model's queue of accepted connections.
    pub queue: usize,
    /// Passed to `listen(2)`: how many finished handshakes the kernel keeps waiting for `accept`.
    pub backlog: i32,
    /// Most connections the `threads` model serves at once; at the cap it stops accepting.
    pub max_conns: usize,
    /// Simulated work done once per request.
    pub work: Work,
    /// Event-driven models: hand CPU and blocking work to this many helper threads (`None`: run it inline).
    pub offload: Option<usize>,
    /// Close a connection that sends nothing for this long between requests (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// HTTP: the whole request head must arrive within this long of its first byte (of accept, for the first
    /// request), however it trickles in; past it the answer is 408 and a close (`None`: no such deadline).
    pub header_timeout: Option<Duration>,
    /// A connection whose output makes no progress for this long (a client that does not read) is closed.
    pub send_timeout: Duration,
    /// The bound of a whole stop: once a stop is requested, connections still open after this long are closed.
    pub drain_timeout: Duration,
    /// HTTP: the largest request body accepted; a larger one gets 413 and a close.
    pub max_body: u64,
    /// UDP: most datagrams waiting for their work at once; past it datagrams are dropped and counted.
    pub max_datagrams: usize,
    /// The HTML page the `http` protocol serves.
    pub page: Arc<[u8]>,
}

/// The largest value each count setting accepts: far beyond what a 2-core lab needs, small enough that nothing
/// is allocated or forked by the million before a mistake is caught.
pub mod limits {
    pub const WORKERS: usize = 4096;
    pub const QUEUE: usize = 1_000_000;
    pub const MAX_CONNS: usize = 1_000_000;
    /// `listen(2)` silently caps at `net.core.somaxconn`; more than this is a typo.
    pub const BACKLOG: i32 = 65_535;
    pub const OFFLOAD: usize = 4096;
    pub const MAX_BODY: u64 = 1 << 30;
    pub const MAX_DATAGRAMS: usize = 65_536;
}

impl ServerConfig {
    /// A config with the CLI's defaults, for `proto` served by `model` on one address.
    pub fn new(proto: Proto, model: Model, listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            proto,
            model,
            listen: vec![listen],
            workers: model.default_workers(),
            queue: DEFAULT_QUEUE,
            backlog: DEFAULT_BACKLOG,
            max_conns: DEFAULT_MAX_CONNS,
            work: Work::None,
            offload: None,
            idle_timeout: default_idle_timeout(proto),
            header_timeout: default_header_timeout(proto),
            send_timeout: DEFAULT_SEND_TIMEOUT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            max_body: crate::protocol::http::DEFAULT_MAX_BODY,
            max_datagrams: DEFAULT_MAX_DATAGRAMS,
            page: Arc::from(crate::protocol::http::DEFAULT_PAGE.as_bytes()),
        }
    }

    /// The `serverlab serve` flags that make a server with exactly this config (all but the page, which is a
    /// file: pass `--page FILE` beside them). The experiment starts its servers with these.
    pub fn to_args(&self) -> Vec<String> {
        let mut args: Vec<String> = vec!["--proto".into(), self.proto.to_string()];
        args.extend(["--model".into(), self.model.to_string()]);
        for addr in &self.listen {
            args.extend(["--listen".into(), addr.to_string()]);
        }
        let duration = |d: Duration| humantime::format_duration(d).to_string();
        let optional = |d: Option<Duration>| d.map_or_else(|| "off".to_string(), duration);
        args.extend(
            [
                ("--workers", self.workers.to_string()),
                ("--queue", self.queue.to_string()),
                ("--backlog", self.backlog.to_string()),
                ("--max-conns", self.max_conns.to_string()),
                ("--work", self.work.to_string()),
                ("--idle-timeout", optional(self.idle_timeout)),
                ("--send-timeout", duration(self.send_timeout)),
                ("--drain-timeout", duration(self.drain_timeout)),
                ("--max-body", self.max_body.to_string()),
                ("--max-datagrams", self.max_datagrams.to_string()),
            ]
            .into_iter()
            .flat_map(|(flag, value)| [flag.to_string(), value]),
        );
        if let Some(helpers) = self.offload {
            args.extend(["--offload".into(), helpers.to_string()]);
        }
        // Only HTTP has a request head; the flag is refused for the rest.
        if self.proto == Proto::Http {
            args.extend(["--header-timeout".into(), optional(self.header_timeout)]);
        }
        args
    }

    /// Checks what no model should have to check for itself. Every model serves every protocol; what can be
    /// refused is a flag that means nothing for the chosen model or protocol.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.is_empty() {
            return Err(ConfigError::new("at least one --listen address is needed"));
        }
        in_range("--workers", self.workers, 1, limits::WORKERS)?;
        in_range("--queue", self.queue, 1, limits::QUEUE)?;
        in_range("--max-conns", self.max_conns, 1, limits::MAX_CONNS)?;
        in_range("--backlog", self.backlog, 1, limits::BACKLOG)?;
        in_range("--max-body", self.max_body, 0, limits::MAX_BODY)?;
        in_range(
            "--max-datagrams",
            self.max_datagrams,
            1,
            limits::MAX_DATAGRAMS,
        )?;
        for (flag, duration) in [
            ("--idle-timeout", self.idle_timeout),
            ("--header-timeout", self.header_timeout),
            ("--send-timeout", Some(self.send_timeout)),
            ("--drain-timeout", Some(self.drain_timeout)),
        ] {
            if let Some(duration) = duration {
                crate::duration::check(flag, duration).map_err(ConfigError::new)?;
            }
        }
        if let Some(duration) = self.work.duration_if_any() {
            crate::duration::check_work(duration).map_err(ConfigError::new)?;
        }
        if let Some(helpers) = self.offload {
            if !self.model.is_event_driven() {
                return Err(ConfigError::new(format!(
                    "--offload applies to the event-driven models (poll, async, uring); {} already runs work on its own threads or processes",
                    self.model
                )));
            }
            in_range("--offload", helpers, 1, limits::OFFLOAD)?;
        }
        if self.header_timeout.is_some() && self.proto != Proto::Http {
            return Err(ConfigError::new(
                "--header-timeout applies to http; an echo line has no head (see --idle-timeout)",
            ));
        }
        if self.proto.is_datagram() && self.idle_timeout.is_some() {
            return Err(ConfigError::new(
                "--idle-timeout applies to connections; udp-echo has none",
            ));
        }
        Ok(())
    }
}

/// The idle timeout a protocol gets unless told otherwise: HTTP closes quiet keep-alive connections, echo never
/// hangs up on its client.
pub fn default_idle_timeout(proto: Proto) -> Option<Duration> {
    match proto {
        Proto::Http => Some(Duration::from_secs(10)),
        _ => None,
    }
}

/// The header deadline a protocol gets unless told otherwise (nginx's `client_header_timeout` is 60 s; 10 s is
/// Apache's `RequestReadTimeout`): only HTTP has a request head.
pub fn default_header_timeout(proto: Proto) -> Option<Duration> {
    match proto {
        Proto::Http => Some(Duration::from_secs(10)),
        _ => None,
    }
}

/// nginx's `send_timeout`: how long a reply may make no progress before the client is given up on.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_QUEUE: usize = 64;
/// Python's `socketserver` uses 5; a real server far more (nginx 511, and Linux caps it at `somaxconn`).
pub const DEFAULT_BACKLOG: i32 = 1024;
pub const DEFAULT_MAX_CONNS: usize = 1024;
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_MAX_DATAGRAMS: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_catches_impossible_settings() {
        let addr = "127.0.0.1:0".parse().unwrap();
        let mut config = ServerConfig::new(Proto::Echo, Model::Pool, addr);
        assert!(config.validate().is_ok());
        config.workers = 0;
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("--workers")
        );
        let mut udp = ServerConfig::new(Proto::UdpEcho, Model::Threads, addr);
        udp.idle_timeout = Some(Duration::from_secs(1));
        assert!(udp.validate().is_err());
    }

    #[test]
    fn counts_and_durations_have_upper_bounds() {
        let addr = "127.0.0.1:0".parse().unwrap();
        let base = ServerConfig::new(Proto::Http, Model::Pool, addr);
        let refuse = |change: &dyn Fn(&mut ServerConfig), flag: &str| {
            let mut config = base.clone();
            change(&mut config);
            let error = config.validate().unwrap_err().to_string();
            assert!(error.contains(flag), "{error}");
        };
        refuse(&|c| c.queue = 1_000_000_000_000, "--queue");
        refuse(&|c| c.workers = 100_000, "--workers");
        refuse(&|c| c.backlog = -1, "--backlog");
        refuse(&|c| c.max_conns = usize::MAX, "--max-conns");
        refuse(&|c| c.idle_timeout = Some(Duration::MAX), "--idle-timeout");
        refuse(&|c| c.send_timeout = Duration::ZERO, "--send-timeout");
        refuse(
            &|c| c.work = Work::Sleep(Duration::from_secs(99_999_999 * 3600)),
            "work",
        );
        let mut echo = ServerConfig::new(Proto::Echo, Model::Poll, addr);
        echo.header_timeout = Some(Duration::from_secs(1));
        assert!(
            echo.validate()
                .unwrap_err()
                .to_string()
                .contains("--header-timeout")
        );
    }
}
