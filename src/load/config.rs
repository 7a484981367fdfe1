//! What a load run is asked to do. The CLI turns flags into a [`LoadConfig`]; the experiment builds one directly.
//! Everything is validated here, once.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::segment::Segment;
use super::status::StatusSet;
use crate::duration as durations;
use crate::protocol::Proto;
use crate::settings::ConfigError;

/// What each echo or udp-echo request carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Payload {
    /// This many bytes of a fixed printable pattern (udp-echo: the 8-byte sequence number included).
    Size(usize),
    /// This text, as given.
    Message(String),
}

impl Default for Payload {
    fn default() -> Payload {
        Payload::Size(64)
    }
}

impl Payload {
    /// The bytes of an echo request (for udp-echo, the part after the sequence number).
    pub fn bytes(&self, proto: Proto) -> Vec<u8> {
        match self {
            Payload::Message(text) => text.as_bytes().to_vec(),
            Payload::Size(n) => {
                let n = if proto == Proto::UdpEcho {
                    n.saturating_sub(super::protocol::SEQ_LEN)
                } else {
                    *n
                };
                let pattern = b"serverlab-load:0123456789abcdefghijklmnopqrstuvwxyz\n";
                pattern.iter().copied().cycle().take(n).collect()
            }
        }
    }
}

/// The most requests one run may ask for.
pub const MAX_REQUESTS: u64 = 1_000_000_000_000;
/// The highest rate one run may ask for (a request a nanosecond).
pub const MAX_RATE: f64 = 1e9;
/// The most connections `hold` may ask for: beyond a machine's ports to one target many times over.
pub const MAX_HOLD: usize = 1_000_000;

/// A load run: whom to hit, how hard, and for how long.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadConfig {
    pub target: SocketAddr,
    pub proto: Proto,
    /// Concurrent connections (udp-echo: concurrent senders, one socket each).
    pub clients: usize,
    /// Event-loop threads; clients are split evenly across them. Capped at `clients`.
    pub threads: usize,
    /// Total requests (after the warm-up), shared by the clients: each thread gets its clients' share, taken by
    /// whichever of its clients is free (closed loop), so a server that favours some clients shows in the
    /// per-client counts; in an open loop client `i` of `N` sends the timetable's requests `i, i+N, ...`.
    /// With `duration` too, whichever comes first ends the run.
    pub requests: Option<u64>,
    /// How long to run after the warm-up.
    pub duration: Option<Duration>,
    /// Open loop: this many requests per second in total, on a fixed timetable. `None`: closed loop.
    pub rate: Option<f64>,
    pub payload: Payload,
    /// HTTP path requested.
    pub path: String,
    /// HTTP `Host` header; the target address when `None`.
    pub host: Option<String>,
    /// Open a new connection for each request and close it after the reply.
    pub connect_per_request: bool,
    /// A request without its whole reply after this long is a timeout.
    pub timeout: Duration,
    /// Load sent before measuring starts; nothing from it is counted.
    pub warmup: Duration,
    /// Once `duration` is over, go on until every client has finished (succeeded or failed) this many requests...
    pub min_per_client: u64,
    /// ...but never run (after the warm-up) longer than this.
    pub max_duration: Option<Duration>,
    /// After the warm-up, also wait until every client has completed one exchange before measuring, but at most
    /// this much longer (many clients take long to connect; the ramp is not the server's steady state).
    /// Closed loop only. `None`: measuring starts when the warm-up ends.
    pub ramp_limit: Option<Duration>,
    /// Most connections being opened at once, in total: connections open in batches no larger than a typical
    /// listen backlog, so that a burst does not overflow the server's accept queue by itself.
    pub connect_batch: usize,
    /// HTTP only: this many extra slowloris connections beside the clients, each trickling a request head it
    /// never finishes (see `load/slow.rs`); reported apart, in [`super::LoadReport::slow`].
    #[serde(default)]
    pub slow: usize,
    /// How often a slow connection sends its next byte.
    #[serde(default = "default_slow_interval")]
    pub slow_interval: Duration,
    /// Run only this part of the run the rest describes (see `load/segment.rs`): its share of the clients, and
    /// what follows from them. `None`: the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<Segment>,
    /// Wait until this wall-clock time before connecting, so that parts on several machines start together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<SystemTime>,
    /// HTTP: the statuses that count as a success; a reply with another is a bad reply (counted by code either
    /// way, in [`super::LoadReport::statuses`]). 2xx unless set (the CLI sets `any`, as wrk, oha and hey count).
    #[serde(default)]
    pub expect_status: StatusSet,
    /// HTTP method.
    #[serde(default = "default_method")]
    pub method: String,
    /// HTTP header lines added to the request, `Name: value` (a `Host` or `User-Agent` here replaces ours).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    /// HTTP request body, sent with its `Content-Length`; base64 in JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "base64_bytes")]
    pub body: Vec<u8>,
    /// Instead of a load: open this many connections, do one exchange on each, hold them all open for
    /// `duration`, then close them (see `load/hold.rs`). Connects and exchanges each get `timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<usize>,
    /// How the clients' threads do their I/O (see [`LoadIo`]).
    #[serde(default)]
    pub io: LoadIo,
}

/// How a generator thread does its I/O.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LoadIo {
    /// Readiness: one epoll per thread (through mio), then a `send` and a `recv` per request, as wrk does.
    #[default]
    Epoll,
    /// Completion: one io_uring per thread; sends and receives are queued and handed to the kernel together,
    /// one `io_uring_enter` a turn. TCP only (udp-echo and slow connections stay on epoll).
    Uring,
}

impl std::fmt::Display for LoadIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LoadIo::Epoll => "epoll",
            LoadIo::Uring => "uring",
        })
    }
}

fn default_method() -> String {
    "GET".into()
}

/// Bytes as base64 text, so that a binary `--body-file` fits in JSON.
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Whether `text` is an HTTP token (a method, a header name).
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Why an HTTP header line given by the caller cannot be sent, if it cannot.
fn header_problem(line: &str) -> Option<String> {
    let Some((name, value)) = line.split_once(':') else {
        return Some(format!("--header {line:?} is not Name: value"));
    };
    if !is_token(name.trim_start()) || name.ends_with(char::is_whitespace) {
        return Some(format!("--header {line:?}: {name:?} is not a header name"));
    }
    if value.contains(['\r', '\n']) {
        return Some(format!(
            "--header {line:?}: a value cannot hold a line break"
        ));
    }
    ["content-length", "transfer-encoding"]
        .contains(&name.trim().to_ascii_lowercase().as_str())
        .then(|| format!("--header {line:?}: serverlab sets the body's framing itself (--body)"))
}

fn default_slow_interval() -> Duration {
    Duration::from_secs(1)
}

impl LoadConfig {
    /// A closed-loop run of 1 client and 1 thread for 1 s, with the CLI's other defaults.
    pub fn new(proto: Proto, target: SocketAddr) -> LoadConfig {
        LoadConfig {
            target,
            proto,
            clients: 1,
            threads: 1,
            requests: None,
            duration: Some(Duration::from_secs(1)),
            rate: None,
            payload: Payload::default(),
            path: "/".into(),
            host: None,
            connect_per_request: false,
            timeout: Duration::from_secs(5),
            warmup: Duration::ZERO,
            min_per_client: 0,
            max_duration: None,
            ramp_limit: None,
            connect_batch: 128,
            slow: 0,
            slow_interval: default_slow_interval(),
            segment: None,
            start_at: None,
            expect_status: StatusSet::success(),
            method: default_method(),
            headers: Vec::new(),
            body: Vec::new(),
            hold: None,
            io: LoadIo::Epoll,
        }
    }

    /// Threads actually used.
    pub fn effective_threads(&self) -> usize {
        self.threads
            .clamp(1, super::segment::Part::of(self).clients.max(1))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |m: &str| Err(ConfigError::new(m));
        self.validate_hold()?;
        if self.clients == 0 {
            return fail("--clients must be at least 1");
        }
        if self.threads == 0 {
            return fail("--threads must be at least 1");
        }
        if self.requests.is_none() && self.duration.is_none() && self.max_duration.is_none() {
            return fail("give --requests or --duration");
        }
        if self.requests == Some(0) {
            return fail("--requests must be at least 1");
        }
        // Far beyond any run, small enough that the timetable's arithmetic never overflows.
        if self.requests.is_some_and(|m| m > MAX_REQUESTS) {
            return fail("--requests must be at most 1,000,000,000,000");
        }
        if self.rate.is_some_and(|rate| rate > MAX_RATE) {
            return fail("--rate must be at most 1,000,000,000 requests per second");
        }
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return fail("--rate must be a positive number of requests per second");
        }
        let durations = [
            ("--duration", self.duration),
            ("--timeout", Some(self.timeout)),
            ("the longest run", self.max_duration),
            ("--warmup", Some(self.warmup).filter(|w| !w.is_zero())),
            ("--slow-interval", Some(self.slow_interval)),
            ("the ramp's limit", self.ramp_limit),
        ];
        for (flag, value) in durations {
            if let Some(value) = value {
                durations::check(flag, value).map_err(ConfigError::new)?;
            }
        }
        if self.ramp_limit.is_some() && self.rate.is_some() {
            return fail(
                "waiting for every client before measuring is for closed loops (no --rate)",
            );
        }
        if self.slow > 0 && self.proto != Proto::Http {
            return fail("--slow needs --proto http (a slow client trickles an HTTP request head)");
        }
        if self.io == LoadIo::Uring && self.proto == Proto::UdpEcho {
            return fail("--io uring drives TCP clients; udp-echo runs on epoll (leave out --io)");
        }
        if self.connect_batch == 0 {
            return fail("the connect batch must be at least 1");
        }
        match (&self.payload, self.proto) {
            (Payload::Size(0), Proto::Echo) => return fail("--size must be at least 1 for echo"),
            (Payload::Size(n), Proto::UdpEcho) if *n < super::protocol::SEQ_LEN => {
                return fail("--size must be at least 8 for udp-echo (the sequence number)");
            }
            (Payload::Size(n), _) if *n > 60_000 => return fail("--size must be at most 60000"),
            (Payload::Message(m), Proto::Echo) if m.is_empty() => {
                return fail("--message must not be empty");
            }
            _ => {}
        }
        if self.proto == Proto::Http && !self.path.starts_with('/') {
            return fail("--path must start with /");
        }
        if self.proto != Proto::Http
            && (self.method != "GET" || !self.headers.is_empty() || !self.body.is_empty())
        {
            return fail("--method, --header and --body need HTTP (a URL, or --proto http)");
        }
        if !is_token(&self.method) {
            return Err(ConfigError::new(format!(
                "--method {:?} is not an HTTP method",
                self.method
            )));
        }
        if let Some(problem) = self.headers.iter().find_map(|h| header_problem(h)) {
            return Err(ConfigError::new(problem));
        }
        super::segment::validate(self)
    }

    /// `hold`: a count in range, a protocol whose connections can be held, and none of the load's settings.
    fn validate_hold(&self) -> Result<(), ConfigError> {
        let Some(n) = self.hold else { return Ok(()) };
        let fail = |m: String| Err(ConfigError::new(m));
        if n == 0 {
            return fail("--hold must be at least 1".into());
        }
        if n > MAX_HOLD {
            return fail("--hold must be at most 1,000,000".into());
        }
        match self.proto {
            Proto::UdpEcho => {
                return fail(
                    "--hold needs connections, and udp-echo has none (use echo or http)".into(),
                );
            }
            // A daytime server closes a connection once it has answered: there would be nothing to hold.
            Proto::Daytime => {
                return fail("--hold needs a server that keeps a connection open, and daytime closes it (use echo or http)".into());
            }
            Proto::Echo | Proto::Http => {}
        }
        if self.duration.is_none() {
            return fail("--hold needs --duration: how long to hold the connections".into());
        }
        let others = [
            ("--requests", self.requests.is_some()),
            ("--rate", self.rate.is_some()),
            ("--slow", self.slow > 0),
            ("--connect-per-request", self.connect_per_request),
            ("--warmup", !self.warmup.is_zero()),
            ("--segment", self.segment.is_some()),
            ("--start-at", self.start_at.is_some()),
            ("--io uring", self.io == LoadIo::Uring),
            ("waiting for every client", self.ramp_limit.is_some()),
            (
                "a least number of requests per client",
                self.min_per_client > 0,
            ),
        ];
        match others.iter().find(|(_, given)| *given) {
            Some((flag, _)) => fail(format!("--hold cannot be used with {flag}")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_mistakes_do_not() {
        let addr = "127.0.0.1:7".parse().unwrap();
        let mut c = LoadConfig::new(Proto::Echo, addr);
        assert!(c.validate().is_ok());
        c.rate = Some(0.0);
        assert!(c.validate().is_err());
        c.rate = None;
        c.duration = None;
        assert!(c.validate().is_err());
        c.requests = Some(10);
        assert!(c.validate().is_ok());
        c.payload = Payload::Size(0);
        assert!(c.validate().is_err());
        assert_eq!(Payload::Size(20).bytes(Proto::UdpEcho).len(), 12);
        assert_eq!(Payload::Size(100).bytes(Proto::Echo).len(), 100);
    }

    #[test]
    fn http_methods_headers_and_bodies_are_checked_and_kept_in_json() {
        let addr = "127.0.0.1:7".parse().unwrap();
        let mut c = LoadConfig::new(Proto::Http, addr);
        c.method = "POST".into();
        c.headers = vec!["X-Token: a:b".into(), "accept:  */*".into()];
        c.body = vec![0, 255, b'x'];
        assert!(c.validate().is_ok());
        let back: LoadConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        for bad in [
            "NoColon",
            "Bad Name: x",
            "X: a\r\nY: b",
            "Content-Length: 3",
            " : x",
        ] {
            c.headers = vec![bad.into()];
            assert!(c.validate().is_err(), "{bad:?}");
        }
        c.headers.clear();
        c.method = "GE T".into();
        assert!(c.validate().is_err());
        c.method = "GET".into();
        c.proto = Proto::Echo;
        assert!(c.validate().is_err(), "a body needs HTTP");
        c.body.clear();
        assert!(c.validate().is_ok(), "an empty body is no body");
        c.body = b"x".to_vec();
        assert!(c.validate().unwrap_err().to_string().contains("need HTTP"));
    }

    #[test]
    fn a_hold_needs_a_count_a_connection_and_none_of_the_load_settings() {
        let addr = "127.0.0.1:7".parse().unwrap();
        let mut c = LoadConfig::new(Proto::Echo, addr);
        c.hold = Some(10_000);
        assert!(c.validate().is_ok());
        let error = |c: &LoadConfig| c.validate().unwrap_err().to_string();
        c.hold = Some(0);
        assert_eq!(error(&c), "--hold must be at least 1");
        c.hold = Some(MAX_HOLD + 1);
        assert!(error(&c).contains("at most"));
        c.hold = Some(5);
        for proto in [Proto::UdpEcho, Proto::Daytime] {
            c.proto = proto;
            assert!(error(&c).contains("use echo or http"), "{proto}");
        }
        c.proto = Proto::Http;
        assert!(c.validate().is_ok());
        c.rate = Some(10.0);
        assert_eq!(error(&c), "--hold cannot be used with --rate");
        c.rate = None;
        c.slow = 2;
        assert_eq!(error(&c), "--hold cannot be used with --slow");
        c.slow = 0;
        c.duration = None;
        c.requests = Some(3);
        assert!(error(&c).contains("--duration"));
        let back: LoadConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back.hold, Some(5));
    }

    #[test]
    fn durations_out_of_range_and_slow_clients_off_http_are_refused() {
        let addr = "127.0.0.1:7".parse().unwrap();
        let mut c = LoadConfig::new(Proto::Echo, addr);
        c.duration = Some(Duration::ZERO);
        assert!(c.validate().unwrap_err().to_string().contains("--duration"));
        c.duration = Some(Duration::from_secs(1));
        c.timeout = Duration::from_secs(3 * 24 * 3600);
        assert!(c.validate().unwrap_err().to_string().contains("--timeout"));
        c.timeout = Duration::from_secs(5);
        c.slow = 2;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("--proto http")
        );
        c.proto = Proto::Http;
        assert!(c.validate().is_ok());
        c.slow_interval = Duration::ZERO;
        assert!(c.validate().is_err());
    }
}
