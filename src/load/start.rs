//! When a run starts (`--start-at`), and the wall-clock window it measured.
//!
//! Parts of one run on several machines must load the server at the same time, or their sum is not the load the
//! command line describes. Machines agree on the wall clock (NTP keeps cluster nodes within milliseconds), not on
//! anything else, so every part is given the same wall-clock time and waits for it. A time already past by more
//! than [`LATE_LIMIT`] is an error: a part started late would run beside the others only in part, and its sum
//! would quietly be something else.
//!
//! The window each run measured is kept in wall-clock time ([`WallClockWindow`]), so that `merge` can measure the parts'
//! throughput over the span they share, whatever machine each ran on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::Control;
use crate::settings::ConfigError;

/// How late a start may be and still count as on time: a pod scheduled a moment late still starts.
pub const LATE_LIMIT: Duration = Duration::from_secs(1);

/// A clap value parser: RFC 3339 (`2030-01-01T12:00:00Z`, offsets and fractions allowed) or Unix seconds
/// (`1893499200`, `1893499200.250`).
pub fn parse_start_at(text: &str) -> Result<SystemTime, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        if !(seconds.is_finite() && seconds >= 0.0) {
            return Err(format!(
                "'{text}' is not a time: Unix seconds are never negative"
            ));
        }
        return Duration::try_from_secs_f64(seconds)
            .ok()
            .and_then(|d| UNIX_EPOCH.checked_add(d))
            .ok_or_else(|| format!("'{text}' is too far in the future to be a start time"));
    }
    let time = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
        format!("'{text}' is not a time like 2030-01-01T12:00:00Z or Unix seconds ({e})")
    })?;
    let micros =
        u64::try_from(time.timestamp_micros()).map_err(|_| format!("'{text}' is before 1970"))?;
    UNIX_EPOCH
        .checked_add(Duration::from_micros(micros))
        .ok_or_else(|| format!("'{text}' is too far in the future to be a start time"))
}

/// A time as people and logs read it: RFC 3339, UTC, to the millisecond.
pub fn format_time(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// Waits until `at` by the wall clock, or until `control` is stopped. A time past by more than [`LATE_LIMIT`]
/// is refused.
pub(super) fn wait_until(at: SystemTime, control: &Control) -> Result<(), ConfigError> {
    if let Ok(late) = SystemTime::now().duration_since(at)
        && late > LATE_LIMIT
    {
        return Err(ConfigError::new(format!(
            "--start-at {} was {} ago: a part started late would not run with the others; give a time in the \
             future",
            format_time(at),
            humantime::format_duration(Duration::from_secs(late.as_secs()))
        )));
    }
    // Short sleeps, so that a stop is seen, then one last sleep to the moment itself (the wall clock may be
    // stepped meanwhile; it is read again each time).
    while !control.stop_requested() {
        let Ok(left) = at.duration_since(SystemTime::now()) else {
            return Ok(());
        };
        if left <= Duration::from_millis(20) {
            std::thread::sleep(left);
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(20)) - Duration::from_millis(5));
    }
    Ok(())
}

/// Microseconds since the Unix epoch.
pub fn unix_micros(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The measured period of a run (after its warm-up) by the wall clock, in microseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WallClockWindow {
    pub start_unix_us: u64,
    pub end_unix_us: u64,
}

impl WallClockWindow {
    /// From the earlier start to the later end: the span over which merged parts are measured.
    pub fn union(self, other: WallClockWindow) -> WallClockWindow {
        WallClockWindow {
            start_unix_us: self.start_unix_us.min(other.start_unix_us),
            end_unix_us: self.end_unix_us.max(other.end_unix_us),
        }
    }

    pub fn span_us(self) -> u64 {
        self.end_unix_us.saturating_sub(self.start_unix_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn start_times_parse_as_rfc3339_or_unix_seconds() {
        let at = UNIX_EPOCH + Duration::from_secs(1_893_499_200);
        assert_eq!(parse_start_at("1893499200"), Ok(at));
        assert_eq!(parse_start_at("2030-01-01T12:00:00Z"), Ok(at));
        assert_eq!(parse_start_at("2030-01-01T14:00:00+02:00"), Ok(at));
        assert_eq!(
            parse_start_at("1893499200.25"),
            Ok(at + Duration::from_millis(250))
        );
        assert_eq!(format_time(at), "2030-01-01T12:00:00.000Z");
        for bad in [
            "tomorrow",
            "2030-01-01",
            "-5",
            "1969-12-31T23:59:59Z",
            "NaN",
        ] {
            assert!(parse_start_at(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_start_in_the_past_is_refused_and_one_ahead_is_waited_for() {
        let control = Control::new();
        let past = SystemTime::now() - Duration::from_secs(5);
        let e = wait_until(past, &control).unwrap_err().to_string();
        assert!(e.contains("ago") && e.contains("future"), "{e}");
        // Just past, within the limit: start at once.
        let begun = Instant::now();
        wait_until(SystemTime::now() - Duration::from_millis(300), &control).unwrap();
        assert!(begun.elapsed() < Duration::from_millis(50));
        let at = SystemTime::now() + Duration::from_millis(150);
        wait_until(at, &control).unwrap();
        let now = SystemTime::now();
        assert!(now >= at, "not before the time");
        assert!(
            now.duration_since(at).unwrap() < Duration::from_millis(20),
            "soon after it"
        );
    }

    #[test]
    fn a_stop_ends_the_wait() {
        let control = Control::new();
        control.stop();
        let begun = Instant::now();
        wait_until(SystemTime::now() + Duration::from_secs(60), &control).unwrap();
        assert!(begun.elapsed() < Duration::from_millis(100));
    }
}
