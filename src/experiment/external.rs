//! Servers that are not ours, measured like ours: `--server NAME=COMMAND`.
//!
//! The command runs through `sh -c`, with `{port}` replaced by a free port, `{work}` / `{work_ms}` by the cell's
//! work (`sleep:50ms` / `50`) and `{proto}` by the protocol, in a process group of its own. It is ready when a
//! TCP connection to that port succeeds, or when it prints `listening on HOST:PORT` (the address it names is used
//! when the command has no `{port}`; a UDP server must print it). From then on it is one more process tree for the
//! sampler. It is stopped as a terminal would stop it: SIGTERM to the whole group, then SIGKILL once a grace
//! period is over, and the experiment waits until no process of the group is left. Its `wait4` resource usage
//! gives the context switches of every thread and reaped child, dead ones included, which `/proc` cannot.
//!
//! A simple command is run with `exec` (`sh -c 'exec python3 s.py'`), so the server is our child and its
//! process tree is its own; a compound one (`cd x && ./s`) keeps `sh` as its parent. Either way serverlab is the
//! group's subreaper: a server orphaned by its shell comes back to us, is reaped, and its usage counts. The usage
//! covers the server's whole life, start-up included. The command must stay in the foreground (nginx:
//! `daemon off;`): a server that detaches leaves its group, and nothing could measure or stop it.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::subject::ServerName;
use crate::confine::Confinement;
use crate::protocol::Proto;
use crate::stats::ResourceUsage;
use crate::work::Work;

/// How much of a server's stderr is kept for a failed cell: the end of it, where the reason usually is.
const STDERR_KEPT: usize = 2048;

/// How long a stopped server has between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// A server to measure, as `--server NAME=COMMAND` and `--server-k NAME=K` gave it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalServer {
    pub name: ServerName,
    pub command: String,
    /// How many requests it can work on at once, when its author said (`--server-k`): its cells are predicted
    /// from it. `None`: no prediction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<Concurrency>,
}

/// A declared concurrency: a number, or no limit below the clients (a thread or process per connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Concurrency {
    Limit(usize),
    Unlimited,
}

impl Concurrency {
    /// `4`, or `unlimited`.
    pub fn parse(text: &str) -> Result<Concurrency, String> {
        match text {
            "unlimited" => Ok(Concurrency::Unlimited),
            _ => match text.parse::<usize>() {
                Ok(0) | Err(_) => Err(format!(
                    "{text:?}: K is a number of requests at once (1 or more) or 'unlimited'"
                )),
                Ok(k) => Ok(Concurrency::Limit(k)),
            },
        }
    }

    /// As the predictions take it: `None` for no limit.
    pub fn limit(self) -> Option<usize> {
        match self {
            Concurrency::Limit(k) => Some(k),
            Concurrency::Unlimited => None,
        }
    }
}

impl ExternalServer {
    /// `NAME=COMMAND`.
    pub fn parse(spec: &str) -> Result<ExternalServer, String> {
        let (name, command) = spec
            .split_once('=')
            .ok_or_else(|| format!("--server {spec:?}: write NAME=COMMAND"))?;
        let command = command.trim();
        if command.is_empty() {
            return Err(format!("--server {name}: the command is empty"));
        }
        Ok(ExternalServer {
            name: ServerName::new(name.trim())?,
            command: command.to_string(),
            k: None,
        })
    }

    /// The command for one cell, its placeholders filled in.
    pub fn command_for(&self, port: u16, work: Work, proto: Proto) -> String {
        self.command
            .replace("{port}", &port.to_string())
            .replace("{work_ms}", &work.duration().as_millis().to_string())
            .replace("{work}", &work.to_string())
            .replace("{proto}", proto.name())
    }

    /// Whether the command is told its port (else it must print where it listens).
    pub fn takes_port(&self) -> bool {
        self.command.contains("{port}")
    }
}

/// A port nobody listens on right now, for a server told its port on the command line. (Another process could
/// take it before the server binds: the server then fails to start, and says so.)
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// A running external server. Dropping it kills its whole group.
pub struct ExternalProcess {
    name: String,
    pid: i32,
    addr: SocketAddr,
    stderr: Arc<Mutex<Tail>>,
    reaped: Option<ResourceUsage>,
    /// What the orphans of the group we reaped used.
    orphans: ResourceUsage,
}

/// How an external server ended.
#[derive(Debug)]
pub struct Stopped {
    pub usage: ResourceUsage,
    /// It ignored SIGTERM for the whole grace period and was killed.
    pub killed: bool,
    /// It had exited before it was told to stop.
    pub exited_early: bool,
    /// The end of its stderr, all of it said.
    pub stderr: String,
}

/// Why a server did not start, and the end of its stderr.
#[derive(Debug)]
pub struct StartFailed {
    pub why: String,
    pub stderr: String,
}

/// How to start one.
pub struct Launch<'a> {
    pub name: &'a str,
    pub command: String,
    /// Where it will listen, when the command was told (`{port}`).
    pub addr: Option<SocketAddr>,
    /// Readiness by connecting (TCP), or only by the `listening on` line (UDP).
    pub probe: bool,
    pub startup: Duration,
    pub confinement: Confinement<'a>,
}

impl ExternalProcess {
    /// Starts the command and waits, at most `launch.startup`, until it is ready.
    pub fn start(launch: Launch<'_>) -> Result<ExternalProcess, StartFailed> {
        let no_stderr = |why: String| StartFailed {
            why,
            stderr: String::new(),
        };
        // Orphans of the group come back to us to be reaped, with their usage (see `reap`).
        let _ = nix::sys::prctl::set_child_subreaper(true);
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(exec_if_simple(&launch.command))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: prctl is a plain system call, safe between fork and exec.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
        launch.confinement.apply(&mut command).map_err(no_stderr)?;
        let mut child = command
            .spawn()
            .map_err(|e| no_stderr(format!("{}: cannot run sh: {e}", launch.name)))?;
        let stderr = Arc::new(Mutex::new(Tail::default()));
        keep_tail(
            child.stderr.take().expect("piped stderr"),
            Arc::clone(&stderr),
        );
        let announced = Arc::new(Mutex::new(None));
        watch_stdout(
            child.stdout.take().expect("piped stdout"),
            Arc::clone(&announced),
        );
        let mut server = ExternalProcess {
            name: launch.name.to_string(),
            pid: child.id() as i32,
            addr: launch
                .addr
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            stderr,
            reaped: None,
            orphans: ResourceUsage::default(),
        };
        // A second Ctrl-C leaves at once, without our destructors: the group dies with us all the same.
        crate::shutdown::kill_group_on_forced_exit(server.pid);
        // The child is reaped by `wait4` (for its resource usage), never by std.
        drop(child);
        let deadline = Instant::now() + launch.startup;
        loop {
            // Dead already: whatever answers on the port is not this server (another took the port).
            if server.reap().map_err(no_stderr)?.is_some() {
                let why = format!("{} exited before it listened", server.name);
                return Err(server.failed(why));
            }
            let said: Option<SocketAddr> = *announced.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(said) = said {
                if launch.addr.is_none() {
                    server.addr = said;
                }
                return Ok(server);
            }
            if launch.probe
                && launch.addr.is_some()
                && TcpStream::connect_timeout(&server.addr, Duration::from_millis(100)).is_ok()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                let waited = match launch.addr {
                    Some(addr) if launch.probe => format!("did not accept on {addr}"),
                    _ => "did not print 'listening on HOST:PORT'".to_string(),
                };
                let why = format!(
                    "{} {waited} within {}",
                    server.name,
                    humantime::format_duration(launch.startup)
                );
                return Err(server.failed(why));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The end of what it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap_or_else(|e| e.into_inner()).text()
    }

    /// A failed start: `why`, with the last line of stderr after it (`; stderr: LINE`), and all of its end.
    fn failed(&self, why: String) -> StartFailed {
        // Give the reader thread a moment to take what a dying process wrote last.
        std::thread::sleep(Duration::from_millis(50));
        let stderr = self.stderr();
        let why = match stderr.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(line) => format!("{why}; stderr: {}", line.trim()),
            None => why,
        };
        StartFailed { why, stderr }
    }

    /// SIGTERM to the group; SIGKILL after `grace`; returns once no process of the group is left.
    pub fn stop(mut self, grace: Duration) -> Result<Stopped, String> {
        // Gone before it was told to stop: it crashed, or quit, during the cell.
        let exited_early = self.reap()?.is_some();
        let group = Pid::from_raw(-self.pid);
        let _ = kill(group, Signal::SIGTERM);
        let gone = self.wait_group(grace)?;
        if !gone {
            let _ = kill(group, Signal::SIGKILL);
            if !self.wait_group(Duration::from_secs(5))? {
                return Err(format!(
                    "{}: processes of group {} survived SIGKILL",
                    self.name, self.pid
                ));
            }
        }
        crate::shutdown::kill_group_on_forced_exit(0);
        let mut usage = self.reaped.take().unwrap_or_default();
        usage.add(&self.orphans);
        // The reader thread takes what the server wrote last as its pipe closes.
        std::thread::sleep(Duration::from_millis(50));
        Ok(Stopped {
            usage,
            killed: !gone,
            exited_early,
            stderr: self.stderr(),
        })
    }

    /// Waits, at most `limit`, until the child is reaped and no process of its group is left.
    fn wait_group(&mut self, limit: Duration) -> Result<bool, String> {
        let deadline = Instant::now() + limit;
        loop {
            self.reap()?;
            if self.reaped.is_some() && !group_alive(self.pid) {
                // Those that died since the last look are zombies handed to us: reap them, and their usage.
                self.reap()?;
                return Ok(true);
            }
            if Instant::now() > deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Reaps whatever of the group has exited: the child, keeping its resource usage (its threads' and its
    /// waited-for children's), and any orphan of the group handed to us as subreaper, adding up theirs.
    fn reap(&mut self) -> Result<Option<ResourceUsage>, String> {
        loop {
            let mut status = 0;
            // SAFETY: an all-zero rusage is valid, and wait4 writes it only for a child of ours.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: plain system call on our children in the group, with valid pointers.
            let pid = unsafe { libc::wait4(-self.pid, &mut status, libc::WNOHANG, &mut usage) };
            if pid == self.pid {
                self.reaped = Some(usage_of(&usage));
            } else if pid > 0 {
                self.orphans.add(&usage_of(&usage));
            } else if pid == 0
                || std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD)
            {
                return Ok(self.reaped);
            } else {
                return Err(format!(
                    "{}: wait4: {}",
                    self.name,
                    std::io::Error::last_os_error()
                ));
            }
        }
    }
}

impl Drop for ExternalProcess {
    fn drop(&mut self) {
        if self.reaped.is_none() || group_alive(self.pid) {
            let _ = kill(Pid::from_raw(-self.pid), Signal::SIGKILL);
            let _ = self.wait_group(Duration::from_secs(5));
        }
        crate::shutdown::kill_group_on_forced_exit(0);
    }
}

/// `exec COMMAND` when COMMAND is one simple command (`VAR=1 exec prog args`), so the server replaces the shell
/// and is the process measured and signalled; a compound command (`;`, `&&`, `|`, a subshell, an `exec` of its
/// own) is left as written.
pub fn exec_if_simple(command: &str) -> String {
    let (mut single, mut double, mut escaped) = (false, false, false);
    for c in command.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if !single => escaped = true,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            ';' | '&' | '|' | '(' | ')' | '\n' if !single && !double => {
                return command.to_string();
            }
            _ => {}
        }
    }
    let words: Vec<&str> = command.split_whitespace().collect();
    // Leading assignments stay before `exec`, where they set the program's environment.
    let assignments = words
        .iter()
        .take_while(|w| {
            w.split_once('=').is_some_and(|(name, _)| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        })
        .count();
    // Shell syntax and builtins cannot be exec'd.
    const NOT_PROGRAMS: [&str; 12] = [
        "exec", "if", "for", "while", "until", "case", "{", "!", "[[", "time", "cd", "export",
    ];
    match words.get(assignments) {
        None => command.to_string(),
        Some(word) if NOT_PROGRAMS.contains(word) => command.to_string(),
        Some(_) => {
            let at = command
                .match_indices(words[assignments])
                .map(|(i, _)| i)
                .find(|&i| command[..i].split_whitespace().count() == assignments)
                .unwrap_or(0);
            format!("{}exec {}", &command[..at], &command[at..])
        }
    }
}

fn usage_of(usage: &libc::rusage) -> ResourceUsage {
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    ResourceUsage {
        user_cpu_s: seconds(usage.ru_utime),
        system_cpu_s: seconds(usage.ru_stime),
        voluntary_context_switches: usage.ru_nvcsw,
        involuntary_context_switches: usage.ru_nivcsw,
        max_rss_kib: usage.ru_maxrss,
    }
}

/// Whether a live (not zombie) process is in process group `pgid`. Read from `/proc`, because `kill(-pgid, 0)`
/// also finds zombies that an init which never reaps would keep for ever.
pub fn group_alive(pgid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // After the command name: state, ppid, pgrp.
        let fields = super::sampler::stat_fields(&stat);
        fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
    })
}

/// The last [`STDERR_KEPT`] bytes of a stream.
#[derive(Default)]
struct Tail {
    bytes: Vec<u8>,
}

impl Tail {
    fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        if self.bytes.len() > STDERR_KEPT {
            let cut = self.bytes.len() - STDERR_KEPT;
            self.bytes.drain(..cut);
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Keeps the end of `pipe` in `tail`, from a thread of its own, so the server never blocks on a full pipe.
fn keep_tail(mut pipe: impl Read + Send + 'static, tail: Arc<Mutex<Tail>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            tail.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(&buf[..n]);
        }
    });
}

/// Reads stdout to its end, noting the first `listening on HOST:PORT`.
fn watch_stdout(pipe: impl Read + Send + 'static, announced: Arc<Mutex<Option<SocketAddr>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let addr = line
                .find("listening on ")
                .and_then(|at| line[at + "listening on ".len()..].split_whitespace().next())
                .and_then(|a| a.trim_end_matches([',', ';']).parse::<SocketAddr>().ok());
            if let Some(addr) = addr {
                let mut slot = announced.lock().unwrap_or_else(|e| e.into_inner());
                slot.get_or_insert(addr);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(command: &str, addr: Option<SocketAddr>, startup_ms: u64) -> Launch<'static> {
        Launch {
            name: "test",
            command: command.to_string(),
            addr,
            probe: true,
            startup: Duration::from_millis(startup_ms),
            confinement: Confinement::default(),
        }
    }

    #[test]
    fn a_spec_is_a_name_and_a_command_with_placeholders() {
        let server =
            ExternalServer::parse("py=python3 s.py --port {port} --work {work} -n {work_ms}")
                .unwrap();
        assert_eq!(server.name.as_str(), "py");
        assert!(server.takes_port());
        let work: Work = "cpu:10ms".parse().unwrap();
        assert_eq!(
            server.command_for(8080, work, Proto::Http),
            "python3 s.py --port 8080 --work cpu:10ms -n 10"
        );
        assert!(ExternalServer::parse("no-command").is_err());
        assert!(ExternalServer::parse("x=  ").is_err());
        assert!(ExternalServer::parse("poll=cat").is_err());
        assert_eq!(Concurrency::parse("4"), Ok(Concurrency::Limit(4)));
        assert_eq!(Concurrency::parse("unlimited"), Ok(Concurrency::Unlimited));
        assert!(Concurrency::parse("0").is_err());
    }

    #[test]
    fn a_simple_command_is_execed_and_a_compound_one_left_alone() {
        assert_eq!(
            exec_if_simple("python3 s.py --port 80"),
            "exec python3 s.py --port 80"
        );
        assert_eq!(
            exec_if_simple("A=1 B=x python3 -c 'import a; a.b()'"),
            "A=1 B=x exec python3 -c 'import a; a.b()'"
        );
        assert_eq!(
            exec_if_simple(r#""$(command -v nginx)" -c "a;b""#),
            r#"exec "$(command -v nginx)" -c "a;b""#
        );
        for compound in [
            "cd x && ./s",
            "a; b",
            "a | b",
            "exec s",
            "if true; then s; fi",
            "s &",
            "(s)",
            "",
        ] {
            assert_eq!(exec_if_simple(compound), compound);
        }
    }

    #[test]
    fn a_compound_command_is_measured_through_its_orphans() {
        // The shell runs the server as its child; SIGTERM kills the shell first, and the server, orphaned, comes
        // back to us as subreaper: reaped, its CPU counted, nothing left.
        let port = free_port().unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let script = format!(
            "import socket, time; e = time.process_time() + 0.2\nwhile time.process_time() < e: pass\n\
             s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(60)"
        );
        let command = format!("true && python3 -c \"{script}\"");
        let server = ExternalProcess::start(launch(&command, Some(addr), 10_000)).unwrap();
        let pid = server.pid();
        let stopped = server.stop(Duration::from_secs(3)).unwrap();
        assert!(!group_alive(pid));
        assert!(!stopped.exited_early);
        let cpu = stopped.usage.user_cpu_s + stopped.usage.system_cpu_s;
        assert!(cpu >= 0.15, "the orphan's CPU counts: {:?}", stopped.usage);
    }

    #[test]
    fn a_server_that_exits_fails_with_its_last_words() {
        let port = free_port().unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let command = "echo starting >&2; echo 'no such module: flask' >&2; exit 3";
        let error = ExternalProcess::start(launch(command, Some(addr), 5000))
            .err()
            .unwrap();
        assert!(error.why.contains("exited before it listened"), "{error:?}");
        assert!(error.why.contains("no such module: flask"), "{error:?}");
        assert!(error.stderr.starts_with("starting\n"), "{error:?}");
    }

    #[test]
    fn a_server_that_never_listens_times_out() {
        let port = free_port().unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        let error = ExternalProcess::start(launch("sleep 30", Some(addr), 300))
            .err()
            .unwrap();
        assert!(error.why.contains("did not accept on"), "{error:?}");
        // The sleep was killed with its group when the failed start dropped it, well before its 30 s.
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn the_announced_address_is_used_and_a_deaf_server_is_killed() {
        // Listens (through python, which every test machine has), announces, and ignores SIGTERM.
        let script = "import signal, socket; signal.signal(signal.SIGTERM, signal.SIG_IGN); \
                      s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); \
                      print('listening on 127.0.0.1:%d' % s.getsockname()[1], flush=True); \
                      import time; time.sleep(60)";
        let command = format!("python3 -c \"{script}\"");
        let server = ExternalProcess::start(launch(&command, None, 10_000)).unwrap();
        assert_ne!(server.addr().port(), 0);
        TcpStream::connect(server.addr()).unwrap();
        let pid = server.pid();
        let started = Instant::now();
        let stopped = server.stop(Duration::from_millis(300)).unwrap();
        assert!(stopped.killed, "it ignored SIGTERM");
        assert!(!group_alive(pid), "nothing of its group is left");
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
}
