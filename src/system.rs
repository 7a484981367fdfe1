//! What the machine says about itself: provenance for results, and kernel counters an experiment samples.
//!
//! A number without the machine it came from cannot be compared with anything, so every result file carries a
//! [`Provenance`]. The kernel counters are read from `/proc`: socket memory from `/proc/net/sockstat`, listen-queue
//! overflows (SYNs or handshakes dropped because `accept` was not keeping up) from `/proc/net/netstat`.

use serde::{Deserialize, Serialize};

/// Where a result came from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Provenance {
    pub serverlab_version: String,
    pub commit: String,
    /// `release` or `debug`; a debug build's timings mean little.
    pub build_profile: String,
    pub cpu_model: String,
    pub cores: usize,
    pub kernel: String,
    pub hostname: String,
    /// `net.core.somaxconn`: the kernel's cap on any listen backlog.
    pub somaxconn: Option<u64>,
    pub fd_soft_limit: Option<u64>,
    pub fd_hard_limit: Option<u64>,
    /// The command line that produced the result.
    pub command: Vec<String>,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
}

impl Provenance {
    /// Reads everything now, for this process and its command line.
    pub fn collect() -> Provenance {
        Provenance::here(std::env::args().collect())
    }

    /// Reads everything now, for a result made by `command`.
    pub fn here(command: Vec<String>) -> Provenance {
        let limits =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).ok();
        Provenance {
            serverlab_version: env!("CARGO_PKG_VERSION").to_string(),
            commit: env!("SERVERLAB_COMMIT").to_string(),
            build_profile: build_profile().to_string(),
            cpu_model: cpu_model().unwrap_or_else(|| "unknown".into()),
            cores: cpus(),
            kernel: nix::sys::utsname::uname()
                .map(|u| {
                    format!(
                        "{} {}",
                        u.sysname().to_string_lossy(),
                        u.release().to_string_lossy()
                    )
                })
                .unwrap_or_else(|_| "unknown".into()),
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map_or_else(|_| "unknown".into(), |h| h.trim().to_string()),
            somaxconn: read_number("/proc/sys/net/core/somaxconn"),
            fd_soft_limit: limits.map(|l| l.0),
            fd_hard_limit: limits.map(|l| l.1),
            command,
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    pub fn is_debug(&self) -> bool {
        self.build_profile == "debug"
    }
}

/// The profile this binary was compiled in.
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name") || l.starts_with("Model"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Memory the kernel holds for TCP sockets, in KiB (`/proc/net/sockstat`, `TCP: ... mem N` in pages).
pub fn tcp_socket_memory_kib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let line = text.lines().find(|l| l.starts_with("TCP:"))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let pages: u64 = fields
        .iter()
        .position(|f| *f == "mem")
        .and_then(|i| fields.get(i + 1))?
        .parse()
        .ok()?;
    let page_kib = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as u64
        / 1024;
    Some(pages * page_kib)
}

/// Times a listen queue overflowed since boot (`TcpExt: ListenOverflows`), machine-wide.
pub fn listen_overflows() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let index = names
        .split_whitespace()
        .position(|n| n == "ListenOverflows")?;
    values.split_whitespace().nth(index)?.parse().ok()
}

/// The machine's CPU time so far (`/proc/stat`): busy and total, in clock ticks over all CPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MachineCpu {
    busy: u64,
    total: u64,
}

impl MachineCpu {
    pub fn now() -> Option<MachineCpu> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        let line = text.lines().find(|l| l.starts_with("cpu "))?;
        let ticks: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
        let total: u64 = ticks.iter().take(8).sum();
        let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
        Some(MachineCpu {
            busy: total - idle,
            total,
        })
    }

    /// Cores kept busy on average since `earlier`, by anything on the machine, out of `cores`.
    pub fn busy_cores_since(&self, earlier: &MachineCpu, cores: usize) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total).filter(|t| *t > 0)?;
        let busy = self.busy.saturating_sub(earlier.busy);
        Some(busy as f64 / total as f64 * cores as f64)
    }
}

/// Number of CPUs this process may run on.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A set of CPUs to pin to, as `taskset -c` writes it: `0`, `0,2`, `1-3`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuList(Vec<usize>);

impl CpuList {
    pub fn parse(text: &str) -> Result<CpuList, String> {
        let bad = || format!("{text:?}: write CPUs as 0,2 or 1-3");
        let mut cpus = Vec::new();
        for part in text.split(',') {
            let (first, last) = match part.trim().split_once('-') {
                Some((a, b)) => (a.trim().parse(), b.trim().parse()),
                None => (part.trim().parse(), part.trim().parse()),
            };
            let (first, last): (usize, usize) =
                (first.map_err(|_| bad())?, last.map_err(|_| bad())?);
            if first > last || last >= nix::sched::CpuSet::count() {
                return Err(bad());
            }
            cpus.extend(first..=last);
        }
        cpus.sort_unstable();
        cpus.dedup();
        Ok(CpuList(cpus))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The CPUs this process may run on, in order.
    pub fn allowed() -> CpuList {
        let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0));
        let cpus = (0..nix::sched::CpuSet::count())
            .filter(|&cpu| set.as_ref().is_ok_and(|s| s.is_set(cpu).unwrap_or(false)))
            .collect();
        CpuList(cpus)
    }

    /// The `n`th CPU this process may run on, alone.
    pub fn nth_allowed(n: usize) -> Option<CpuList> {
        CpuList::allowed().0.get(n).map(|&cpu| CpuList(vec![cpu]))
    }

    /// Refuses CPUs this process may not run on (nor, then, what it starts).
    pub fn check_allowed(&self) -> Result<(), String> {
        let allowed = CpuList::allowed();
        match self.0.iter().find(|cpu| !allowed.0.contains(cpu)) {
            Some(cpu) => Err(format!(
                "CPU {cpu} is not one this process may use ({allowed})"
            )),
            None => Ok(()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_cpu_set(&self) -> Result<nix::sched::CpuSet, String> {
        let mut set = nix::sched::CpuSet::new();
        for &cpu in &self.0 {
            set.set(cpu).map_err(|e| format!("cpu {cpu}: {e}"))?;
        }
        Ok(set)
    }

    /// Pins the calling thread (and the threads it starts from now on) to these CPUs.
    pub fn pin_this_thread(&self) -> Result<(), String> {
        nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &self.to_cpu_set()?)
            .map_err(|e| format!("cannot pin to CPUs {self}: {e}"))
    }
}

impl std::fmt::Display for CpuList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.0.iter().map(usize::to_string).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_describes_this_machine() {
        let p = Provenance::collect();
        assert!(p.cores >= 1);
        assert!(p.kernel.starts_with("Linux"), "{}", p.kernel);
        let expected = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        assert_eq!(
            p.build_profile, expected,
            "the profile these tests were built in"
        );
        assert!(!p.commit.is_empty());
    }

    #[test]
    fn cpu_lists_read_as_taskset_writes_them() {
        assert_eq!(CpuList::parse("0").unwrap().to_string(), "0");
        assert_eq!(CpuList::parse("3,0-1,1").unwrap().to_string(), "0,1,3");
        assert_eq!(CpuList::parse("1-3").unwrap().len(), 3);
        for bad in ["", "a", "2-1", "0,", "-1", "99999"] {
            assert!(CpuList::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kernel_counters_are_readable() {
        assert!(tcp_socket_memory_kib().is_some());
        assert!(listen_overflows().is_some());
    }
}
