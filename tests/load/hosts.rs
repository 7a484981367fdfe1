//! One load run split over three hosts, as a Kubernetes Indexed Job would run it (`deploy/k8s/`), proved here
//! without a cluster: network namespaces are the hosts. A bridge namespace holds a Linux bridge; the server host
//! (10.77.0.1) and three load hosts (10.77.0.11-13) each have one veth on it and their loopback down, so every
//! byte goes host to host over the bridge and nothing touches the machine's own network. Root only: ignored in a
//! plain `cargo test`, run by `scripts/test.sh` when it is root.
//!
//! Namespace names carry the test's pid, and a guard deletes them (and kills every process it started) on every
//! way out, a failed assertion included.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::{BIN, ServerProcess};
use serverlab::load::merge::ResultFile;
use serverlab::load::report::Latency;

const SERVER_IP: &str = "10.77.0.1";
const LOAD_IPS: [&str; 3] = ["10.77.0.11", "10.77.0.12", "10.77.0.13"];

/// The test's namespaces, processes and files: all gone when it is dropped.
struct Hosts {
    prefix: String,
    namespaces: Vec<String>,
    children: Vec<Child>,
    dir: PathBuf,
}

impl Hosts {
    fn new() -> Hosts {
        let prefix = format!("sl-{}", std::process::id());
        let dir = std::env::temp_dir().join(format!("serverlab-hosts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Hosts {
            prefix,
            namespaces: Vec::new(),
            children: Vec::new(),
            dir,
        }
    }

    fn name(&self, host: &str) -> String {
        format!("{}-{host}", self.prefix)
    }

    /// A namespace of the test's own, remembered before it exists so a half-made one is removed too.
    fn add(&mut self, host: &str) -> Result<String, String> {
        let name = self.name(host);
        self.namespaces.push(name.clone());
        ip(&["netns", "add", &name])?;
        Ok(name)
    }

    /// A host on the bridge: a veth pair from the bridge namespace into `host`, with `address`.
    fn plug(&mut self, bridge: &str, host: &str, address: &str) -> Result<(), String> {
        let ns = self.add(host)?;
        let port = format!("v-{host}");
        ip(&[
            "-n", bridge, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
            &ns,
        ])?;
        ip(&["-n", bridge, "link", "set", &port, "master", "br0", "up"])?;
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{address}/24"),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])
    }

    /// A command to run in `host`'s namespace.
    fn command(&self, host: &str, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.name(host), BIN])
            .args(args);
        command
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in self.namespaces.iter().rev() {
            let _ = ip(&["netns", "del", ns]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The bridge and the four hosts on it.
fn build(hosts: &mut Hosts) -> Result<(), String> {
    let bridge = hosts.add("br")?;
    ip(&["-n", &bridge, "link", "add", "br0", "type", "bridge"])?;
    ip(&["-n", &bridge, "link", "set", "br0", "up"])?;
    hosts.plug(&bridge, "srv", SERVER_IP)?;
    for (i, address) in LOAD_IPS.iter().enumerate() {
        hosts.plug(&bridge, &format!("load{i}"), address)?;
    }
    Ok(())
}

/// Waits for `child` at most until `deadline`; kills it past that.
fn wait_output(child: Child, deadline: Instant) -> Output {
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output());
    while !waiter.is_finished() {
        if Instant::now() > deadline {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    waiter.join().unwrap().unwrap()
}

fn unix_us(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

/// Three `load --segment i/3 --start-at T` on three hosts against `serve` on a fourth, merged by `merge`. Checks:
/// - the parts started (their measured windows opened, by the wall clock) within 100 ms of each other, and not
///   before T;
/// - each part made its share (clients 4, 3, 3 of 10; requests 360, 270, 270 of 900 on the interleaved
///   timetable) and the merged request count and successes are 900, equal to the requests the server counted;
/// - the merged latency histogram equals, bucket for bucket, the sum of the three parts' histograms decoded from
///   their JSON (merging is exact HdrHistogram addition; the server keeps no histogram to compare with), and its
///   count is the 900 successes;
/// - the server's debug log shows connections from exactly the three load hosts' addresses.
#[test]
#[ignore = "needs root for network namespaces; scripts/test.sh runs it as root"]
fn a_run_split_over_three_hosts_adds_up_to_what_the_server_saw() {
    let mut hosts = Hosts::new();
    if let Err(e) = build(&mut hosts) {
        panic!("cannot make the test's hosts (root, ip netns and veth are needed): {e}");
    }
    let mut serve = hosts.command(
        "srv",
        &[
            "serve",
            "--listen",
            &format!("{SERVER_IP}:5000"),
            "--log-level",
            "debug",
        ],
    );
    serve.stdin(Stdio::null());
    let server = ServerProcess::from_command(serve);
    assert_eq!(server.addr(), format!("{SERVER_IP}:5000").parse().unwrap());

    // Far enough ahead for three processes to start and wait; a part that missed it would fail, not start late.
    let start_at = SystemTime::now() + Duration::from_secs(2);
    let start_text = format!(
        "{:.6}",
        start_at.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
    );
    let parts: Vec<PathBuf> = (0..3)
        .map(|i| hosts.dir.join(format!("part-{i}.json")))
        .collect();
    for (i, path) in parts.iter().enumerate() {
        let segment = format!("{i}/3");
        let mut load = hosts.command(
            &format!("load{i}"),
            &[
                "load",
                "--target",
                &format!("{SERVER_IP}:5000"),
                "--clients",
                "10",
                "--rate",
                "600",
                "--requests",
                "900",
                "--segment",
                &segment,
                "--start-at",
                &start_text,
                "--no-progress",
                "--json",
                path.to_str().unwrap(),
            ],
        );
        load.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        hosts.children.push(load.spawn().unwrap());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    // Taken one at a time: those not yet waited for stay with the guard, which kills them if this fails.
    for i in 0..3 {
        let out = wait_output(hosts.children.remove(0), deadline);
        assert_eq!(
            out.status.code(),
            Some(0),
            "part {i}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let finished = server.terminate();
    let read = |p: &Path| ResultFile::read(p).unwrap();
    let files: Vec<ResultFile> = parts.iter().map(|p| read(p)).collect();

    // Started together.
    let starts: Vec<u64> = files
        .iter()
        .map(|f| f.report.window.expect("a window").start_unix_us)
        .collect();
    let spread = starts.iter().max().unwrap() - starts.iter().min().unwrap();
    let after_t: Vec<i64> = starts
        .iter()
        .map(|s| *s as i64 - unix_us(start_at) as i64)
        .collect();
    eprintln!("hosts: start spread {spread} us; starts after T: {after_t:?} us");
    assert!(spread < 100_000, "started {spread} us apart");
    assert!(
        after_t.iter().all(|d| *d >= -1_000),
        "none before T: {after_t:?}"
    );

    // Each part its share.
    let clients: Vec<usize> = files.iter().map(|f| f.report.clients).collect();
    let requests: Vec<u64> = files.iter().map(|f| f.report.requests).collect();
    assert_eq!(clients, [4, 3, 3]);
    assert_eq!(requests, [360, 270, 270]);

    // Merged by the binary, and equal to what the server counted.
    let merged_path = hosts.dir.join("merged.json");
    let mut merge = Command::new(BIN);
    merge
        .arg("merge")
        .args(&parts)
        .arg("--json")
        .arg(&merged_path);
    let out = wait_output(
        merge
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Instant::now() + Duration::from_secs(20),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "no segment missing: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("900 ok, 0 errors"), "{stdout}");
    let merged = read(&merged_path).report;
    let served = finished.report()["requests"].as_u64().unwrap();
    eprintln!(
        "hosts: merged {} requests, {} ok; the server counted {served}",
        merged.requests, merged.successes
    );
    assert_eq!((merged.requests, merged.successes), (900, 900));
    assert_eq!(served, merged.requests, "the server's own count");
    assert_eq!(merged.clients, 10);

    let mut sum = Latency::default();
    for f in &files {
        sum.add(&f.report.latency);
    }
    assert!(merged.latency.0 == sum.0, "bucket for bucket");
    assert_eq!(merged.latency.count(), merged.successes);

    // Three hosts, by the server's own log.
    let peers: BTreeSet<IpAddr> = finished
        .stderr
        .lines()
        .filter(|l| l.contains("connection opened"))
        .filter_map(|l| {
            l.split("peer=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<SocketAddr>()
                .ok()
        })
        .map(|a| a.ip())
        .collect();
    let expected: BTreeSet<IpAddr> = LOAD_IPS.iter().map(|a| a.parse().unwrap()).collect();
    assert_eq!(peers, expected);
}
