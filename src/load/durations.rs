//! The one range every duration flag of `load` and `experiment` accepts: 1 ms to 1 day.
//!
//! Below a millisecond nothing in a run can be timed (the event loops sleep in milliseconds), and 0 would mean
//! "no run" or "no timeout" by accident. Above a day is a typo, and the engine's clocks are nanoseconds in a
//! `u64`: an unchecked `--timeout 1000000000h` would overflow them. Checked here, once, so every flag says the
//! same thing in the same words.

use std::time::Duration;

use crate::config::parse_duration;

pub const MIN: Duration = Duration::from_millis(1);
pub const MAX: Duration = Duration::from_secs(24 * 60 * 60);

/// Whether `value` of the flag `flag` is within 1 ms to 1 day; the error is one line naming the flag.
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

/// A clap value parser: a duration like `50ms` or `2s`, from 1 ms to 1 day.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_millisecond_to_one_day_and_nothing_else() {
        assert_eq!(parse("1ms"), Ok(MIN));
        assert_eq!(parse("1day"), Ok(MAX));
        assert_eq!(parse("24h"), Ok(MAX));
        for refused in ["0", "0s", "999us", "25h", "1000000000h", "soon"] {
            assert!(parse(refused).is_err(), "{refused}");
        }
        assert_eq!(parse_or_zero("0s"), Ok(Duration::ZERO));
        assert!(parse_or_zero("2days").is_err());
        let message = check("--timeout", Duration::from_secs(90_000)).unwrap_err();
        assert_eq!(message, "--timeout must be from 1ms to 1day, not 1day 1h");
    }
}
