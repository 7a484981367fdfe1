//! Durations as people write them (`50ms`, `2s`, `1m 30s`), and the one range every duration setting accepts.
//!
//! Every timeout and run length goes from 1 ms to 1 day. Below a millisecond nothing here can be timed (the
//! event loops sleep in milliseconds), and 0 would mean "no run" or "no timeout" by accident; where "none" is a
//! real choice the flag says `off`. Above a day is a typo, and unchecked it overflows time arithmetic
//! (`Instant + 18446744073709551615s` panics) or hangs a stop. Checked here, once, so every flag says the same
//! thing in the same words.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub const MIN: Duration = Duration::from_millis(1);
pub const MAX: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses a duration written like `50ms`, `2s` or `1m 30s`, without checking its range.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("'{text}' is not a duration like 50ms or 2s ({e})"))
}

/// Whether `value` of the setting `flag` is within 1 ms to 1 day; the error is one line naming the flag.
pub fn check(flag: &str, value: Duration) -> Result<(), String> {
    if (MIN..=MAX).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{flag} must be from 1ms to 1day, not {}",
            humantime::format_duration(value)
        ))
    }
}

/// Per-request work: more than nothing, at most a day (sub-millisecond work is a fair thing to simulate).
pub fn check_work(value: Duration) -> Result<(), String> {
    if value.is_zero() || value > MAX {
        return Err(format!(
            "work must last more than 0 and at most 1day, not {}",
            humantime::format_duration(value)
        ));
    }
    Ok(())
}

/// A clap value parser: a duration from 1 ms to 1 day.
pub fn parse(text: &str) -> Result<Duration, String> {
    let value = parse_duration(text)?;
    check("the duration", value)?;
    Ok(value)
}

/// Like [`parse`], but `0` (none) is allowed too: for a warm-up, which may be left out.
pub fn parse_or_zero(text: &str) -> Result<Duration, String> {
    let value = parse_duration(text)?;
    if value.is_zero() {
        return Ok(value);
    }
    check("the duration", value)?;
    Ok(value)
}

/// A timeout that can be turned off: `--idle-timeout 5s`, or `off` (also `0`, `none`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionalDuration(pub Option<Duration>);

impl FromStr for OptionalDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "0" | "off" | "none" => Ok(OptionalDuration(None)),
            other => parse(other).map(|d| OptionalDuration(Some(d))),
        }
    }
}

impl fmt::Display for OptionalDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => write!(f, "{}", humantime::format_duration(d)),
            None => f.write_str("off"),
        }
    }
}

/// A timeout that is always on, from 1 ms to 1 day, written and read the way people write it: what clap shows as
/// a flag's default and parses back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout(pub Duration);

impl FromStr for Timeout {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse(text).map(Timeout)
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
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
    fn one_millisecond_to_one_day_and_nothing_else() {
        assert_eq!(parse("1ms"), Ok(MIN));
        assert_eq!(parse("1day"), Ok(MAX));
        assert_eq!(parse("24h"), Ok(MAX));
        for refused in [
            "0",
            "0s",
            "999us",
            "25h",
            "1000000000h",
            "18446744073709551615s",
            "soon",
        ] {
            assert!(parse(refused).is_err(), "{refused}");
        }
        assert!("18446744073709551615s".parse::<OptionalDuration>().is_err());
        assert_eq!(parse_or_zero("0s"), Ok(Duration::ZERO));
        assert!(parse_or_zero("2days").is_err());
        let message = check("--timeout", Duration::from_secs(90_000)).unwrap_err();
        assert_eq!(message, "--timeout must be from 1ms to 1day, not 1day 1h");
        assert!(check_work(Duration::from_micros(100)).is_ok());
        assert!(check_work(Duration::ZERO).is_err());
        assert!(check_work(Duration::from_secs(99_999_999 * 3600)).is_err());
    }

    #[test]
    fn timeouts_print_as_they_parse() {
        for text in ["5s", "30s", "1m 30s", "250ms", "off"] {
            let parsed: OptionalDuration = text.parse().unwrap();
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!("1day".parse::<Timeout>().unwrap().to_string(), "1day");
    }
}
