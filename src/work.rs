//! Simulated per-request work: what a real server does between reading a request and sending the reply.
//!
//! `sleep:D` stands for waiting on I/O (a database, a disk): the thread is parked and the CPU is free for others.
//! `cpu:D` is real computation that runs until the *thread* has used D of CPU time. Measuring with the thread's
//! CPU clock instead of the wall clock matters: when ten requests share two cores, each one takes longer on the
//! wall clock, exactly as real computation would, and the experiment shows true contention.
//!
//! The two differ most in event-driven models. There `sleep:D` is waiting done right (a timer: the loop serves
//! others meanwhile), while `block:D` is the classic mistake of calling blocking I/O inside the loop: the thread
//! sleeps and every other connection waits. In blocking models `block:D` and `sleep:D` are the same thing.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use nix::time::{ClockId, clock_gettime};

use crate::shutdown::Shutdown;

/// The work done once per request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "duration")]
pub enum Work {
    /// Reply at once.
    #[default]
    None,
    /// Wait this long without using the CPU (simulated I/O).
    Sleep(Duration),
    /// Compute until this much CPU time has been spent by the thread.
    Cpu(Duration),
    /// Wait this long by putting the thread to sleep, even inside an event loop (a blocking call).
    Block(Duration),
}

impl Work {
    /// Does the work on the calling thread, blocking it until done.
    pub fn run_blocking(&self) {
        match *self {
            Work::None => {}
            Work::Sleep(duration) | Work::Block(duration) => std::thread::sleep(duration),
            Work::Cpu(duration) => {
                burn_cpu(duration, || false);
            }
        }
    }

    /// Does the work on the calling thread, but gives up at the end of a stop's drain time. Returns whether the
    /// work was done (a reply is owed) or abandoned.
    pub fn run_bounded(&self, shutdown: &Shutdown) -> bool {
        match *self {
            Work::None => true,
            Work::Sleep(duration) | Work::Block(duration) => shutdown.sleep(duration),
            Work::Cpu(duration) => burn_cpu(duration, || shutdown.past_drain()),
        }
    }

    /// The duration of the work, unless there is none.
    pub fn duration_if_any(&self) -> Option<Duration> {
        match *self {
            Work::None => None,
            Work::Sleep(d) | Work::Cpu(d) | Work::Block(d) => Some(d),
        }
    }

    /// The nominal duration of one unit of work.
    pub fn duration(&self) -> Duration {
        match *self {
            Work::None => Duration::ZERO,
            Work::Sleep(d) | Work::Cpu(d) | Work::Block(d) => d,
        }
    }
}

impl fmt::Display for Work {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Work::None => f.write_str("none"),
            Work::Sleep(d) => write!(f, "sleep:{}", humantime::format_duration(*d)),
            Work::Cpu(d) => write!(f, "cpu:{}", humantime::format_duration(*d)),
            Work::Block(d) => write!(f, "block:{}", humantime::format_duration(*d)),
        }
    }
}

impl FromStr for Work {
    type Err = String;

    fn from_str(text: &str) -> Result<Work, String> {
        let text = text.trim();
        if text == "none" {
            return Ok(Work::None);
        }
        let usage = || {
            format!(
                "'{text}' is not a work spec: use none, sleep:DURATION, cpu:DURATION or block:DURATION (e.g. sleep:50ms)"
            )
        };
        let (kind, duration) = text.split_once(':').ok_or_else(usage)?;
        let duration = crate::duration::parse_duration(duration)?;
        crate::duration::check_work(duration)?;
        match kind {
            "sleep" => Ok(Work::Sleep(duration)),
            "cpu" => Ok(Work::Cpu(duration)),
            "block" => Ok(Work::Block(duration)),
            _ => Err(usage()),
        }
    }
}

/// CPU time used so far by the calling thread.
pub fn thread_cpu_time() -> Duration {
    // CLOCK_THREAD_CPUTIME_ID exists on every Linux; failing to read it would be a kernel bug.
    let now = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("thread CPU clock");
    Duration::new(now.tv_sec() as u64, now.tv_nsec() as u32)
}

/// Hashes a buffer over and over until the thread has spent `budget` of CPU time, or `give_up` says to stop.
/// Returns whether the budget was spent.
fn burn_cpu(budget: Duration, give_up: impl Fn() -> bool) -> bool {
    let start = thread_cpu_time();
    let mut block = [0u8; 4096];
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    loop {
        // FNV-1a over 4 KiB takes a few microseconds: short enough to stop close to the budget.
        for (i, byte) in block.iter_mut().enumerate() {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
            *byte = (hash >> (i % 8)) as u8;
        }
        std::hint::black_box(&block);
        if thread_cpu_time() - start >= budget {
            break;
        }
        if give_up() {
            return false;
        }
    }
    std::hint::black_box(hash);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        assert_eq!("none".parse::<Work>().unwrap(), Work::None);
        assert_eq!(
            "sleep:50ms".parse::<Work>().unwrap(),
            Work::Sleep(Duration::from_millis(50))
        );
        assert_eq!(
            "cpu:2s".parse::<Work>().unwrap(),
            Work::Cpu(Duration::from_secs(2))
        );
        assert!("nap:1s".parse::<Work>().is_err());
        assert!("sleep".parse::<Work>().is_err());
        assert!("sleep:soon".parse::<Work>().is_err());
        assert_eq!(
            Work::Sleep(Duration::from_millis(50)).to_string(),
            "sleep:50ms"
        );
    }

    #[test]
    fn cpu_work_spends_thread_cpu_time_not_wall_time() {
        let before = thread_cpu_time();
        Work::Cpu(Duration::from_millis(30)).run_blocking();
        let spent = thread_cpu_time() - before;
        // Physics gives the lower bound: the loop only stops once the budget is spent.
        assert!(spent >= Duration::from_millis(30), "spent only {spent:?}");
    }

    #[test]
    fn sleep_work_leaves_the_cpu_alone() {
        let before = thread_cpu_time();
        let wall = std::time::Instant::now();
        Work::Sleep(Duration::from_millis(40)).run_blocking();
        assert!(wall.elapsed() >= Duration::from_millis(40));
        // A sleeping thread uses next to no CPU: far less than the time it waited.
        assert!(thread_cpu_time() - before < Duration::from_millis(20));
    }
}
