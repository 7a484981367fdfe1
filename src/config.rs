//! What a server is asked to be: protocol, concurrency model, addresses, limits and simulated work.
//!
//! The CLI turns flags into a [`ServerConfig`]; tests build one directly. Everything is validated here, once,
//! so the models can trust what they get.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::work::Work;

/// The application protocol a server speaks.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Proto {
    /// RFC 862 echo over TCP: every batch of bytes read is sent back.
    Echo,
    /// RFC 867 daytime: the time as one line on connect, then close.
    Daytime,
    /// A minimal HTTP/1.1 server of one HTML page.
    Http,
    /// RFC 862 echo over UDP: every datagram is sent back to its sender.
    UdpEcho,
}

impl Proto {
    /// Whether this protocol runs over datagrams rather than connections.
    pub fn is_datagram(self) -> bool {
        matches!(self, Proto::UdpEcho)
    }

    pub fn name(self) -> &'static str {
        match self {
            Proto::Echo => "echo",
            Proto::Daytime => "daytime",
            Proto::Http => "http",
            Proto::UdpEcho => "udp-echo",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a server serves many clients at once.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// One client at a time, to the end (Python's `TCPServer`).
    Sequential,
    /// A thread per connection, capped by `max_conns` (`ThreadingTCPServer`).
    Threads,
    /// A fixed set of worker threads fed by a bounded queue.
    Pool,
    /// One thread, one readiness loop over every socket (`select`/`epoll`, through mio).
    Poll,
    /// A tokio runtime: one task per connection over a few worker threads.
    Async,
    /// Worker processes forked after binding, each serving one connection at a time (Apache's prefork).
    Prefork,
}

impl Model {
    pub fn name(self) -> &'static str {
        match self {
            Model::Sequential => "sequential",
            Model::Threads => "threads",
            Model::Pool => "pool",
            Model::Poll => "poll",
            Model::Async => "async",
            Model::Prefork => "prefork",
        }
    }

    /// Every model, in the order a lesson presents them.
    pub const ALL: [Model; 6] = [
        Model::Sequential,
        Model::Threads,
        Model::Pool,
        Model::Poll,
        Model::Async,
        Model::Prefork,
    ];

    /// Whether the model runs its connections from an event loop, where `--offload` has a meaning.
    pub fn is_event_driven(self) -> bool {
        matches!(self, Model::Poll | Model::Async)
    }

    /// The `--workers` default: 8 threads for the pool, one thread or process per CPU for async and prefork.
    pub fn default_workers(self) -> usize {
        match self {
            Model::Async | Model::Prefork => cpus(),
            _ => 8,
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Number of CPUs this process may run on.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Everything a server needs to know before it binds.
#[derive(Clone, Debug)]
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
    /// Close a connection that sends nothing for this long (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// After a stop request, how long connections with nothing pending are kept before they are closed.
    pub drain_timeout: Duration,
    /// The HTML page the `http` protocol serves.
    pub page: Arc<[u8]>,
}

impl ServerConfig {
    /// A config with the CLI's defaults, for `proto` served by `model` on one address.
    pub fn new(proto: Proto, model: Model, listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            proto,
            model,
            listen: vec![listen],
            workers: model.default_workers(),
            queue: 64,
            backlog: 1024,
            max_conns: 1024,
            work: Work::None,
            offload: None,
            idle_timeout: default_idle_timeout(proto),
            drain_timeout: Duration::from_secs(5),
            page: Arc::from(crate::protocol::http::DEFAULT_PAGE.as_bytes()),
        }
    }

    /// Checks what no model should have to check for itself. Every model serves every protocol; what can be
    /// refused is a flag that means nothing for the chosen model or protocol.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.is_empty() {
            return Err(ConfigError::new("at least one --listen address is needed"));
        }
        if self.workers == 0 {
            return Err(ConfigError::new("--workers must be at least 1"));
        }
        if self.queue == 0 {
            return Err(ConfigError::new("--queue must be at least 1"));
        }
        if self.max_conns == 0 {
            return Err(ConfigError::new("--max-conns must be at least 1"));
        }
        if self.backlog < 1 {
            return Err(ConfigError::new("--backlog must be at least 1"));
        }
        if let Some(helpers) = self.offload {
            if !self.model.is_event_driven() {
                return Err(ConfigError::new(format!(
                    "--offload applies to the event-driven models (poll, async); {} already runs work on its own threads or processes",
                    self.model
                )));
            }
            if helpers == 0 {
                return Err(ConfigError::new("--offload must be at least 1"));
            }
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

/// A setting that cannot work, said in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError(message.into())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Parses a duration written like `50ms`, `2s` or `1m 30s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("'{text}' is not a duration like 50ms or 2s ({e})"))
}

/// Lets clap parse `--idle-timeout 5s` (and `0`/`off` to disable it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionalDuration(pub Option<Duration>);

impl FromStr for OptionalDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "0" | "off" | "none" => Ok(OptionalDuration(None)),
            other => parse_duration(other).map(|d| OptionalDuration(Some(d))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("50ms").unwrap(), Duration::from_millis(50));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("fast").is_err());
        assert_eq!(
            "off".parse::<OptionalDuration>().unwrap(),
            OptionalDuration(None)
        );
    }

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
}
