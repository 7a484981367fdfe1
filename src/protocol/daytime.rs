//! Daytime (RFC 867): on connect, the current time as one line, then close. Input is ignored.

use std::time::SystemTime;

use chrono::{DateTime, Local};

use super::{Output, Session, Step};

/// The whole protocol: one answer per connection.
#[derive(Debug, Default)]
pub struct DaytimeSession {
    answered: bool,
}

impl Session for DaytimeSession {
    fn feed(&mut self, _bytes: &[u8]) {}

    fn feed_eof(&mut self) {}

    fn step(&mut self) -> Step {
        if self.answered {
            Step::Close
        } else {
            Step::Request { work: true }
        }
    }

    fn respond(&mut self, now: SystemTime, out: &mut Output) {
        out.push(ctime(now).as_bytes());
        out.push(b"\r\n");
        self.answered = true;
    }

    fn has_partial_request(&self) -> bool {
        false
    }

    fn server_stopping(&mut self) -> bool {
        // The answer is owed from the moment the connection was accepted.
        false
    }
}

/// Formats a time the way C's `ctime` and Python's `time.ctime` do: `Fri Nov 27 02:23:01 2026`, local time.
pub fn ctime(time: SystemTime) -> String {
    DateTime::<Local>::from(time)
        .format("%a %b %e %H:%M:%S %Y")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_once_with_a_ctime_line_then_closes() {
        let mut session = DaytimeSession::default();
        assert_eq!(session.step(), Step::Request { work: true });
        let mut out = Output::default();
        session.respond(SystemTime::now(), &mut out);
        let out = out.to_vec();
        assert!(out.ends_with(b"\r\n"));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(session.step(), Step::Close);
    }

    #[test]
    fn ctime_matches_the_c_layout() {
        let text = ctime(SystemTime::now());
        // "Www Mmm dd hh:mm:ss yyyy": 24 characters, day of month padded with a space.
        assert_eq!(text.len(), 24, "{text}");
        let fields: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(fields.len(), 5, "{text}");
        assert_eq!(fields[3].len(), 8);
        assert_eq!(fields[4].len(), 4);
    }
}
