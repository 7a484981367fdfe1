//! Running out of local ports is an error kind of its own. Reproduced in a network namespace of the test's own
//! (`unshare -n`, root only), where the ephemeral port range can be cut to 10 ports without touching the host.
//! Ignored in a plain `cargo test`, since it needs root; README's test command (`scripts/test.sh`) runs it when
//! it is root, and says so when it is not.

use std::process::Command;

#[test]
#[ignore = "needs root for a network namespace; scripts/test.sh runs it as root"]
fn exhausted_local_ports_are_reported_as_such() {
    // Inside the namespace: loopback up, 10 ephemeral ports, no TIME_WAIT reuse.
    let setup = "ip link set lo up && sysctl -qw net.ipv4.ip_local_port_range='40000 40009' \
                 && sysctl -qw net.ipv4.tcp_tw_reuse=0";
    let probe = Command::new("unshare")
        .args(["-n", "sh", "-c", setup])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        probe,
        "cannot make and set up a network namespace here (root and unshare are needed)"
    );
    // Then one server and one load in it.
    let script = format!(
        "set -e; {setup}; \
         {bin} serve --listen 127.0.0.1:5000 --log-level warn >/dev/null 2>&1 & server=$!; \
         trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT INT TERM; sleep 1; \
         {bin} load --target 127.0.0.1:5000 --clients 2 --connect-per-request --duration 500ms --no-progress",
        bin = crate::support::BIN
    );
    let out = Command::new("timeout")
        .args(["20", "unshare", "-n", "sh", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("local ports exhausted"),
        "{stdout}\n{stderr}"
    );
    // Ten ports: the check that something listens takes one (it waits in TIME_WAIT), the clients the nine others.
    assert!(stdout.contains(": 9 ok"), "each port served once: {stdout}");
}
