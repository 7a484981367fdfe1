//! HTTP replies by status code, as oha and hey report them: which codes count as a success
//! ([`StatusSet`], `--expect-status`), and how many of each came ([`StatusCounts`]).
//!
//! Why a fixed array: a status is counted on every reply, on the engine's hot path; an array indexed by the code
//! never allocates, and is turned into a map of the codes seen only once, when the run is over.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Status codes are three digits: 0 to 999.
const CODES: usize = 1000;

/// Which HTTP status codes count as a success; a reply with any other is a bad reply. Written as people type it:
/// `any`, `2xx`, `200`, `200-299`, or a list of those (`200,301-302,4xx`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StatusSet {
    /// Inclusive ranges.
    ranges: Vec<(u16, u16)>,
    /// As given, for the JSON and for people.
    text: String,
}

impl StatusSet {
    /// 2xx only: the library's default (an experiment counts only successes as answers).
    pub fn success() -> StatusSet {
        StatusSet::parse("2xx").expect("2xx is a status set")
    }

    /// Every status: the CLI's default (as wrk, oha and hey: a reply is a reply; the codes are reported).
    pub fn any() -> StatusSet {
        StatusSet::parse("any").expect("any is a status set")
    }

    pub fn parse(text: &str) -> Result<StatusSet, String> {
        let bad = || {
            format!(
                "--expect-status {text:?}: give codes like 200, 2xx, 200-299 or any, separated by commas"
            )
        };
        let code = |s: &str| match s.parse::<u16>() {
            Ok(c) if (100..CODES as u16).contains(&c) && s.len() == 3 => Ok(c),
            _ => Err(bad()),
        };
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim) {
            let range = if part.eq_ignore_ascii_case("any") {
                (0, CODES as u16 - 1)
            } else if let Some(class) = part.strip_suffix("xx").or(part.strip_suffix("XX")) {
                let c = code(&format!("{class}00"))?;
                (c, c + 99)
            } else if let Some((low, high)) = part.split_once('-') {
                let (low, high) = (code(low.trim())?, code(high.trim())?);
                if low > high {
                    return Err(bad());
                }
                (low, high)
            } else {
                let c = code(part)?;
                (c, c)
            };
            ranges.push(range);
        }
        Ok(StatusSet {
            ranges,
            text: text.trim().to_string(),
        })
    }

    #[inline]
    pub fn contains(&self, code: u16) -> bool {
        self.ranges
            .iter()
            .any(|&(low, high)| (low..=high).contains(&code))
    }
}

impl Default for StatusSet {
    fn default() -> StatusSet {
        StatusSet::success()
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for StatusSet {
    type Error = String;
    fn try_from(text: String) -> Result<StatusSet, String> {
        StatusSet::parse(&text)
    }
}

impl From<StatusSet> for String {
    fn from(set: StatusSet) -> String {
        set.text
    }
}

/// Replies by status code, counted by one engine thread.
#[derive(Clone, Debug)]
pub struct StatusCounts(Vec<u64>);

impl Default for StatusCounts {
    fn default() -> StatusCounts {
        StatusCounts(vec![0; CODES])
    }
}

impl StatusCounts {
    #[inline]
    pub fn add(&mut self, code: u16) {
        if let Some(n) = self.0.get_mut(usize::from(code)) {
            *n += 1;
        }
    }

    /// Adds the codes seen to `into`.
    pub fn add_to(&self, into: &mut BTreeMap<u16, u64>) {
        for (code, &n) in self.0.iter().enumerate() {
            if n > 0 {
                *into.entry(code as u16).or_default() += n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_sets_as_people_type_them() {
        let set = StatusSet::parse("200, 301-302,4xx").unwrap();
        for (code, inside) in [
            (200, true),
            (201, false),
            (302, true),
            (303, false),
            (404, true),
            (500, false),
        ] {
            assert_eq!(set.contains(code), inside, "{code}");
        }
        assert!(StatusSet::any().contains(599) && StatusSet::any().contains(100));
        assert!(!StatusSet::success().contains(404));
        for bad in ["", "20", "2000", "abc", "300-200", "6x", "099"] {
            assert!(StatusSet::parse(bad).is_err(), "{bad:?}");
        }
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, "\"200, 301-302,4xx\"");
        assert_eq!(serde_json::from_str::<StatusSet>(&json).unwrap(), set);
    }

    #[test]
    fn counts_become_a_map_of_the_codes_seen() {
        let mut counts = StatusCounts::default();
        for code in [200, 200, 404, 999] {
            counts.add(code);
        }
        let mut map = BTreeMap::from([(200, 1)]);
        counts.add_to(&mut map);
        assert_eq!(map, BTreeMap::from([(200, 3), (404, 1), (999, 1)]));
    }
}
