//! Where a server the experiment starts may run: the CPUs it is pinned to (`--server-cpus`) and how much of them it
//! may use (`--server-cpu-quota`).
//!
//! Why a quota: over loopback TCP the generator pays about what the server pays per round trip (each side's kernel
//! sends, and delivers, its own messages), so with one core each the generator's core is as busy as the server's
//! and sets the pace: every fast server measures the same. Held to a fraction of its core by the kernel's CPU
//! bandwidth control, the server is the slower side again, and its requests per second are what that share of a
//! core buys: throughput ratios between servers then measure their cost per request, as a benchmark means them to.
//!
//! The quota is a cgroup of the CPU controller (v2 `cpu.max`, or v1 `cpu.cfs_quota_us`) made for the run; each
//! server joins it between fork and exec, so its threads and children are all held by it; it is removed when the
//! run is over.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use crate::system::CpuList;

/// The bandwidth period: the quota is given back every 10 ms, so a throttled server waits at most that long.
const PERIOD_US: u64 = 10_000;
/// The smallest quota the kernel accepts is 1 ms a period.
pub const MIN_CORES: f64 = 0.1;

/// A cgroup whose processes may use at most so many CPUs' worth of time.
#[derive(Debug)]
pub struct CpuQuota {
    dir: PathBuf,
    /// Its `cgroup.procs`, opened here so that a child joins with one `write` between fork and exec.
    procs: File,
}

impl CpuQuota {
    /// Makes the group. Fails, with a line saying why, where there is no CPU controller or no right to use it.
    pub fn create(cores: f64) -> Result<CpuQuota, String> {
        check_cores(cores)?;
        let quota_us = (cores * PERIOD_US as f64).round() as u64;
        let name = format!("serverlab-{}", std::process::id());
        let (dir, limits) = match cgroup_v2_root()? {
            Some(root) => (
                root.join(&name),
                vec![("cpu.max", format!("{quota_us} {PERIOD_US}"))],
            ),
            None => match cgroup_v1_cpu_root() {
                Some(root) => (
                    root.join(&name),
                    vec![
                        ("cpu.cfs_period_us", PERIOD_US.to_string()),
                        ("cpu.cfs_quota_us", quota_us.to_string()),
                    ],
                ),
                None => {
                    return Err(
                        "--server-cpu-quota: this machine has no cgroup CPU controller to set a quota with".into(),
                    );
                }
            },
        };
        let why = |what: &str, e: io::Error| {
            format!(
                "--server-cpu-quota: cannot {what} {} ({e}; it needs root, or a cgroup delegated to this user)",
                dir.display()
            )
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(why("create", e)),
        }
        for (file, value) in limits {
            if let Err(e) = std::fs::write(dir.join(file), &value) {
                let _ = std::fs::remove_dir(&dir);
                return Err(why(&format!("write {value:?} to {file} in"), e));
            }
        }
        match OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))
        {
            Ok(procs) => Ok(CpuQuota { dir, procs }),
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                Err(why("open cgroup.procs in", e))
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for CpuQuota {
    /// Removes the group once its last process has left it (exited), waiting a second at most.
    fn drop(&mut self) {
        let until = Instant::now() + Duration::from_secs(1);
        while let Err(e) = std::fs::remove_dir(&self.dir) {
            if Instant::now() >= until {
                eprintln!(
                    "serverlab: could not remove the CPU quota's group {} ({e}): a process is still in it",
                    self.dir.display()
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Refuses a quota the kernel would not take, or of more cores than the machine has.
pub fn check_cores(cores: f64) -> Result<(), String> {
    let most = crate::system::cpus();
    if cores.is_finite() && (MIN_CORES..=most as f64).contains(&cores) {
        return Ok(());
    }
    Err(format!(
        "--server-cpu-quota must be between {MIN_CORES} and {most} cores (this machine's)"
    ))
}

/// A cgroup v2 hierarchy with the CPU controller, made available to child groups if it is not yet (a write to
/// the root's `cgroup.subtree_control`, left as it is afterwards); `None` where there is no v2 CPU controller.
fn cgroup_v2_root() -> Result<Option<PathBuf>, String> {
    let root = Path::new("/sys/fs/cgroup");
    let Ok(controllers) = std::fs::read_to_string(root.join("cgroup.controllers")) else {
        return Ok(None);
    };
    if !controllers.split_whitespace().any(|c| c == "cpu") {
        return Ok(None);
    }
    let control = root.join("cgroup.subtree_control");
    let enabled = std::fs::read_to_string(&control).unwrap_or_default();
    if !enabled.split_whitespace().any(|c| c == "cpu") {
        std::fs::write(&control, "+cpu").map_err(|e| {
            format!(
                "--server-cpu-quota: cannot enable the CPU controller in {} ({e})",
                control.display()
            )
        })?;
    }
    Ok(Some(root.to_path_buf()))
}

/// A cgroup v1 CPU controller hierarchy with CFS bandwidth control.
fn cgroup_v1_cpu_root() -> Option<PathBuf> {
    ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"]
        .into_iter()
        .map(PathBuf::from)
        .find(|root| root.join("cpu.cfs_quota_us").exists())
}

/// What a server started by the experiment is confined to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Confinement<'a> {
    pub cpus: Option<&'a CpuList>,
    pub quota: Option<&'a CpuQuota>,
}

impl Confinement<'_> {
    /// Has `command`'s process pin itself and join the quota's group before it runs the program, so that nothing
    /// of it ever runs unconfined.
    pub fn apply(&self, command: &mut Command) -> Result<(), String> {
        let cpus = self.cpus.map(CpuList::to_cpu_set).transpose()?;
        let procs: Option<RawFd> = self.quota.map(|q| q.procs.as_raw_fd());
        if cpus.is_none() && procs.is_none() {
            return Ok(());
        }
        // SAFETY: sched_setaffinity and write are plain system calls, safe between fork and exec; the group's
        // descriptor outlives the spawn (the quota outlives every server of the run).
        unsafe {
            command.pre_exec(move || {
                if let Some(set) = &cpus {
                    nix::sched::sched_setaffinity(Pid::from_raw(0), set)
                        .map_err(io::Error::from)?;
                }
                if let Some(fd) = procs
                    && libc::write(fd, b"0".as_ptr().cast(), 1) < 0
                {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPU seconds process `pid` has used (user and system), from `/proc`.
    fn cpu_seconds(pid: u32) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        ticks as f64 / 100.0
    }

    #[test]
    fn a_spinning_child_gets_no_more_than_its_quota_and_the_group_goes_with_the_quota() {
        let quota = CpuQuota::create(0.2).unwrap_or_else(|why| {
            panic!("this test needs a cgroup CPU controller and root: {why}")
        });
        let dir = quota.dir().to_path_buf();
        let mut command = Command::new("sh");
        command.args(["-c", "while :; do :; done"]);
        Confinement {
            cpus: None,
            quota: Some(&quota),
        }
        .apply(&mut command)
        .unwrap();
        let mut child = command.spawn().unwrap();
        std::thread::sleep(Duration::from_secs(1));
        let used = cpu_seconds(child.id());
        let _ = child.kill();
        let _ = child.wait();
        // Unconfined it would take a whole core: about 1 s. Held to 0.2 cores, 0.2 s; 0.4 keeps a 2x margin.
        assert!(
            used <= 0.4,
            "used {used} CPU-s in 1 s under a 0.2-core quota"
        );
        assert!(used > 0.0, "it ran");
        drop(quota);
        assert!(!dir.exists(), "{} is left", dir.display());
    }

    #[test]
    fn a_quota_out_of_range_is_refused() {
        let refused = CpuQuota::create(0.01).unwrap_err();
        assert!(refused.contains("between 0.1 and"), "{refused}");
        assert!(CpuQuota::create(f64::NAN).is_err());
        assert!(
            CpuQuota::create(1000.0).is_err(),
            "more cores than the machine's"
        );
    }
}
