//! One run split across machines (`--segment I/N`), as k6's execution segments split one: every part runs the
//! same command line with its own `I`, and the N parts add up exactly to the run that line describes.
//!
//! Why split by clients and not by requests: a client is what holds a connection, so the clients are divided
//! first (part `I` gets the clients from `ceil(C*I/N)` up to `ceil(C*(I+1)/N)`: 10 over 3 is 4, 3, 3) and the
//! rest follows from them. The open loop's timetable already gives client `i` of `C` the requests `i, i+C, ...`,
//! so a part keeps the run's global client numbers and timetable, and sends exactly its clients' slots: the
//! parts interleave into the one timetable, and their rates (`rate * clients of the part / C`) add up to the
//! whole. A closed loop's `--requests M` is shared the same way, by the same ceiling rule over the clients.
//! `--slow` connections are divided like the clients.
//!
//! Parts are told apart in their results ([`super::LoadReport::segments`]), so that `merge` can refuse parts
//! of different runs and name the ones that are missing.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::config::LoadConfig;
use super::engine::first_index_at;
use crate::settings::ConfigError;

/// Part `index` (from 0) of `count`, written `I/N` as Kubernetes' `JOB_COMPLETION_INDEX` counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Segment {
    pub index: u32,
    pub count: u32,
}

/// The most parts a run may be split into.
pub const MAX_SEGMENTS: u32 = 10_000;

impl Segment {
    /// The run itself, undivided.
    pub const WHOLE: Segment = Segment { index: 0, count: 1 };

    /// This part's share of `total` things numbered `0..total`: boundaries at `ceil(total * I / N)`, so the
    /// first parts get the remainder and the shares of all N parts tile `0..total`.
    pub fn bounds(self, total: u64) -> Range<u64> {
        let edge = |i: u32| {
            let n = u128::from(self.count);
            (u128::from(total) * u128::from(i)).div_ceil(n) as u64
        };
        edge(self.index)..edge(self.index + 1)
    }
}

impl FromStr for Segment {
    type Err = String;

    fn from_str(text: &str) -> Result<Segment, String> {
        let bad = || format!("'{text}' is not a segment like 0/3 (part I of N, I from 0 to N-1)");
        let (i, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || count > MAX_SEGMENTS {
            return Err(format!(
                "segment '{text}': N must be from 1 to {MAX_SEGMENTS}"
            ));
        }
        if index >= count {
            return Err(format!(
                "segment '{text}': I counts from 0, so it must be less than N"
            ));
        }
        Ok(Segment { index, count })
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What this process runs of the whole run its config describes.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub segment: Segment,
    /// The whole run's clients: the open loop's stride.
    pub total_clients: usize,
    /// This part's clients are `first_client..first_client + clients` of the whole run's.
    pub first_client: usize,
    pub clients: usize,
    /// Requests this part makes with `--requests`: its share (closed loop) or its clients' slots of the
    /// timetable (open loop).
    pub requests: Option<u64>,
    /// Open loop: this part's requests per second.
    pub rate: Option<f64>,
    /// Slowloris connections this part keeps.
    pub slow: usize,
}

impl Part {
    pub fn of(config: &LoadConfig) -> Part {
        let segment = config.segment.unwrap_or(Segment::WHOLE);
        let total = config.clients;
        let range = segment.bounds(total as u64);
        let (first, end) = (range.start as usize, range.end as usize);
        let mut part = Part {
            segment,
            total_clients: total,
            first_client: first,
            clients: end - first,
            requests: None,
            rate: config
                .rate
                .map(|r| r * (end - first) as f64 / total.max(1) as f64),
            slow: segment.bounds(config.slow as u64).count(),
        };
        part.requests = match (config.rate, config.requests) {
            (None, Some(m)) => {
                let share =
                    |c: usize| (u128::from(m) * c as u128).div_ceil(total.max(1) as u128) as u64;
                Some(share(end) - share(first))
            }
            (Some(rate), Some(m)) => {
                let first_measured =
                    first_index_at(super::clock::Nanos::from_duration(config.warmup), rate);
                Some(part.slots(first_measured..first_measured + m))
            }
            _ => None,
        };
        part
    }

    /// Open loop: how many of the timetable's slots `range` are this part's clients' (slot `j` is client
    /// `j mod C`'s).
    pub fn slots(&self, range: Range<u64>) -> u64 {
        let stride = self.total_clients.max(1) as u64;
        let (first, count) = (self.first_client as u64, self.clients as u64);
        let below = |x: u64| (x / stride) * count + (x % stride).saturating_sub(first).min(count);
        below(range.end.max(range.start)) - below(range.start)
    }

    /// Whether this is the whole run rather than a part of it.
    pub fn is_whole(&self) -> bool {
        self.segment.count == 1
    }
}

impl fmt::Display for Part {
    /// One line for `--dry-run`: what this process would run.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "segment {}: clients {}..{} ({} of {})",
            self.segment,
            self.first_client,
            self.first_client + self.clients,
            self.clients,
            self.total_clients
        )?;
        if let Some(rate) = self.rate {
            write!(f, ", {} requests/s", (rate * 1000.0).round() / 1000.0)?;
        }
        if let Some(m) = self.requests {
            write!(f, ", {m} requests")?;
        }
        if self.slow > 0 {
            write!(f, ", {} slow connections", self.slow)?;
        }
        Ok(())
    }
}

/// A segment must leave every part something to do.
pub(super) fn validate(config: &LoadConfig) -> Result<(), ConfigError> {
    let Some(segment) = config.segment else {
        return Ok(());
    };
    if config.clients < segment.count as usize {
        return Err(ConfigError::new(format!(
            "--segment {segment}: --clients {} cannot be split into {} parts of at least one client",
            config.clients, segment.count
        )));
    }
    if config.rate.is_none()
        && let Some(m) = config.requests
        && Part::of(config).requests == Some(0)
    {
        return Err(ConfigError::new(format!(
            "--segment {segment}: --requests {m} leaves this part none of them"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Proto;

    fn config(clients: usize, rate: Option<f64>, requests: Option<u64>) -> LoadConfig {
        let mut c = LoadConfig::new(Proto::Echo, "127.0.0.1:9".parse().unwrap());
        c.clients = clients;
        c.rate = rate;
        c.requests = requests;
        c
    }

    fn parts(c: &LoadConfig, n: u32) -> Vec<Part> {
        (0..n)
            .map(|index| {
                let mut c = c.clone();
                c.segment = Some(Segment { index, count: n });
                Part::of(&c)
            })
            .collect()
    }

    #[test]
    fn ten_clients_over_three_parts_are_four_three_three() {
        let ps = parts(&config(10, None, None), 3);
        let sizes: Vec<usize> = ps.iter().map(|p| p.clients).collect();
        assert_eq!(sizes, [4, 3, 3]);
        let firsts: Vec<usize> = ps.iter().map(|p| p.first_client).collect();
        assert_eq!(firsts, [0, 4, 7]);
    }

    #[test]
    fn parts_add_up_exactly_to_the_whole() {
        for clients in [1usize, 3, 7, 10, 64, 1000] {
            for n in 1..=clients.min(9) as u32 {
                for requests in [n as u64 * 50, 1_000_003] {
                    let closed = config(clients, None, Some(requests));
                    let ps = parts(&closed, n);
                    assert_eq!(ps.iter().map(|p| p.clients).sum::<usize>(), clients);
                    let sum: u64 = ps.iter().map(|p| p.requests.unwrap()).sum();
                    assert_eq!(sum, requests, "closed loop, {clients} clients / {n}");
                    let open = config(clients, Some(333.3), Some(requests));
                    let ps = parts(&open, n);
                    let sum: u64 = ps.iter().map(|p| p.requests.unwrap()).sum();
                    assert_eq!(sum, requests, "open loop, {clients} clients / {n}");
                    let rate: f64 = ps.iter().map(|p| p.rate.unwrap()).sum();
                    assert!((rate - 333.3).abs() < 1e-9, "{rate}");
                }
            }
        }
    }

    #[test]
    fn the_open_loop_slots_of_the_parts_interleave_into_the_timetable() {
        let ps = parts(&config(10, Some(100.0), None), 3);
        // Every slot of a stretch of the timetable belongs to exactly one part: the one holding client j mod 10.
        for j in 0..100u64 {
            let owners: Vec<u32> = ps
                .iter()
                .filter(|p| p.slots(j..j + 1) == 1)
                .map(|p| p.segment.index)
                .collect();
            let client = (j % 10) as usize;
            let expected = ps
                .iter()
                .position(|p| (p.first_client..p.first_client + p.clients).contains(&client));
            assert_eq!(owners, [expected.unwrap() as u32], "slot {j}");
        }
        // Part 0 holds clients 0..4: of slots 5..27, 10..=13 and 20..=23.
        assert_eq!(ps[0].slots(5..27), 8);
    }

    #[test]
    fn segments_parse_and_mistakes_say_why() {
        assert_eq!("2/3".parse(), Ok(Segment { index: 2, count: 3 }));
        assert_eq!(Segment { index: 0, count: 4 }.to_string(), "0/4");
        for bad in ["3/3", "1/0", "1", "a/3", "-1/3", "1/3/4"] {
            assert!(bad.parse::<Segment>().is_err(), "{bad}");
        }
        let mut c = config(2, None, Some(100));
        c.segment = Some("1/3".parse().unwrap());
        assert!(
            validate(&c)
                .unwrap_err()
                .to_string()
                .contains("--clients 2")
        );
        let mut c = config(3, None, Some(2));
        c.segment = Some("2/3".parse().unwrap());
        assert!(validate(&c).unwrap_err().to_string().contains("none"));
    }
}
