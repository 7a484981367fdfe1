#!/usr/bin/env bash
# serverlab load vs wrk, both driving the same nginx over HTTP keep-alive.
#
# nginx runs from a temporary prefix with its own config (2 workers, worker_connections 4096, a small page, access
# log off) on a free loopback port. For each number of connections (10, 100, 1000) and generator threads (1, 2),
# each tool runs RUNS times for DURATION, alternating which goes first. For each tool the table shows the median
# requests/s, the spread (max-min over median), the tool's own CPU-seconds per 1,000 requests (user+system of the
# process, from bash's `time`), and serverlab's ratio to wrk. On 2 cores the generator and nginx share the CPU, so
# a leaner generator leaves more to the server.
#
# A second set ("held") measures the generators themselves: nginx pinned to core 0, the generator pinned to core 1
# and held to GEN_QUOTA of it (a cgroup CPU quota, 0.3 core by default). Over loopback each side pays about the
# same per round trip, so with a core each the server sets the pace and every generator measures alike; held to
# a fraction of a core, the generator is the slower side, and requests/s measure what each generator costs per
# request. The "server" columns say how much of its core nginx used: near 1.0 the cell measured nginx, not the
# generator; at 0.3 core nginx stays well below it (0.33-0.57 in a run; 0.60-0.73 at 0.5 core). Needs root and a
# cgroup CPU controller; skipped, saying so, without them.
#
# serverlab runs with `--io $IO` (uring by default: io_uring, one io_uring_enter a turn; IO=epoll for readiness).
#
# Usage: bench/load_vs_wrk.sh   (env: DURATION=3 RUNS=3 CONNS="10 100 1000" THREADS="1 2" HELD=1 GEN_QUOTA=0.3 IO=uring)
# Needs nginx, wrk, python3 (installed from Debian's packages when missing, as root). Leaves no process behind.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-3}
RUNS=${RUNS:-3}
CONNS=${CONNS:-"10 100 1000"}
THREADS=${THREADS:-"1 2"}
HELD=${HELD:-1}
GEN_QUOTA=${GEN_QUOTA:-0.3}
IO=${IO:-uring}

. bench/need.sh
need nginx:nginx-light wrk:wrk python3:python3
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if [ -z "${SERVERLAB:-}" ]; then
    cargo build --release --quiet
    SERVERLAB="${CARGO_TARGET_DIR:-target}/release/serverlab"
fi

WORK=$(mktemp -d /tmp/load_vs_wrk.XXXXXX)
NGINX_PID=""
GROUP=""
cleanup() {
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NGINX_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    [ -z "$GROUP" ] || rmdir "$GROUP" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
chmod 755 "$WORK"
mkdir -p "$WORK/www" "$WORK/logs"
printf '<!DOCTYPE html>\n<html><head><title>bench</title></head><body><p>Hello from nginx.</p></body></html>\n' \
    >"$WORK/www/index.html"
cat >"$WORK/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path $WORK/tmp_body;
    proxy_temp_path $WORK/tmp_proxy;
    fastcgi_temp_path $WORK/tmp_fastcgi;
    uwsgi_temp_path $WORK/tmp_uwsgi;
    scgi_temp_path $WORK/tmp_scgi;
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        location / { root $WORK/www; index index.html; }
    }
}
EOF

start_nginx() { # [taskset prefix...]
    "$@" "$NGINX" -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/logs/error.log" &
    NGINX_PID=$!
    for _ in $(seq 100); do
        curl_ok=$(python3 - "$PORT" <<'PY' 2>/dev/null || true
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
print("ok" if s.recv(64).startswith(b"HTTP/1.1 200") else "no")
PY
)
        [ "$curl_ok" = ok ] && return 0
        sleep 0.1
    done
    echo "nginx did not start; see $WORK/logs/error.log" >&2
    cat "$WORK/logs/error.log" >&2
    exit 1
}

stop_nginx() {
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=""
}

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# CPU-seconds nginx (master and workers) has used so far, from /proc (clock ticks).
nginx_cpu() {
    local total=0 p
    for p in "$NGINX_PID" $(pgrep -P "$NGINX_PID" 2>/dev/null); do
        [ -r "/proc/$p/stat" ] || continue
        total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    python3 -c "print($total / $(getconf CLK_TCK))"
}

# One run of one tool: appends "label tool conns threads requests seconds cpu_seconds server_cores" to the results.
run_tool() { # label tool conns threads [taskset prefix...]
    local label=$1 tool=$2 c=$3 t=$4
    shift 4
    local out="$WORK/out.txt" cpu="$WORK/cpu.txt" requests seconds
    local TIMEFORMAT='%U %S' server_before server_after started ended
    server_before=$(nginx_cpu)
    started=$(date +%s.%N)
    if [ "$tool" = wrk ]; then
        { time "$@" wrk -t"$t" -c"$c" -d"${DURATION}s" "http://127.0.0.1:$PORT/" >"$out" 2>&1; } 2>"$cpu"
        requests=$(awk '/requests in/ {print $1}' "$out")
        seconds=$(awk '/requests in/ {gsub(/s,?/, "", $4); print $4}' "$out")
        if grep -q "Non-2xx\|Socket errors" "$out"; then grep "Non-2xx\|Socket errors" "$out" | sed "s/^/  wrk $c\/$t: /" >&2; fi
    else
        { time "$@" "$SERVERLAB" load --proto http --target "127.0.0.1:$PORT" --clients "$c" --threads "$t" \
            --io "$IO" --duration "${DURATION}s" --no-progress --json "$WORK/run.json" >"$out" 2>&1; } 2>"$cpu"
        read -r requests seconds < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["report"]
print(r["successes"], r["duration_us"] / 1e6)
if r["requests"] != r["successes"]:
    print("  serverlab errors:", r["errors"], file=sys.stderr)
' "$WORK/run.json")
    fi
    ended=$(date +%s.%N)
    server_after=$(nginx_cpu)
    read -r user sys <"$cpu"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$tool" "$c" "$t" "$requests" "$seconds" \
        "$(python3 -c "print($user + $sys)")" \
        "$(python3 -c "print(($server_after - $server_before) / ($ended - $started))")" >>"$RESULTS"
}

echo "nginx $("$NGINX" -v 2>&1 | sed 's/.*version: //'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $("$SERVERLAB" --version)," \
    "$(nproc) cores, ${DURATION}s x $RUNS runs, port $PORT" >&2

start_nginx
for c in $CONNS; do
    for t in $THREADS; do
        for run in $(seq "$RUNS"); do
            echo "  shared cores: $c connections, $t threads, run $run" >&2
            if ((run % 2)); then
                run_tool shared wrk "$c" "$t"
                run_tool shared serverlab "$c" "$t"
            else
                run_tool shared serverlab "$c" "$t"
                run_tool shared wrk "$c" "$t"
            fi
        done
    done
done
stop_nginx

# A cgroup holding its processes to GEN_QUOTA cores (v2 cpu.max, or v1 CFS bandwidth), and a wrapper that runs a
# command inside it.
make_group() {
    local period=10000 quota
    quota=$(python3 -c "print(round($GEN_QUOTA * 10000))")
    if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
        grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control || echo +cpu >/sys/fs/cgroup/cgroup.subtree_control ||
            return 1
        GROUP=/sys/fs/cgroup/load_vs_wrk-$$
        { mkdir "$GROUP" && echo "$quota $period" >"$GROUP/cpu.max"; } || return 1
    elif [ -e /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
        GROUP=/sys/fs/cgroup/cpu/load_vs_wrk-$$
        { mkdir "$GROUP" && echo $period >"$GROUP/cpu.cfs_period_us" && echo "$quota" >"$GROUP/cpu.cfs_quota_us"; } ||
            return 1
    else
        return 1
    fi
    printf '#!/bin/sh\necho $$ > "%s/cgroup.procs" && exec "$@"\n' "$GROUP" >"$WORK/held"
    chmod +x "$WORK/held"
}

if [ "$HELD" = 1 ] && [ "$(nproc)" -ge 2 ]; then
    if make_group 2>/dev/null; then
        start_nginx taskset -c 0
        for c in $CONNS; do
            for t in $THREADS; do
                for run in $(seq "$RUNS"); do
                    echo "  held to $GEN_QUOTA core: $c connections, $t threads, run $run" >&2
                    if ((run % 2)); then
                        run_tool held wrk "$c" "$t" "$WORK/held" taskset -c 1
                        run_tool held serverlab "$c" "$t" "$WORK/held" taskset -c 1
                    else
                        run_tool held serverlab "$c" "$t" "$WORK/held" taskset -c 1
                        run_tool held wrk "$c" "$t" "$WORK/held" taskset -c 1
                    fi
                done
            done
        done
        stop_nginx
    else
        echo "skipped the held set: no cgroup CPU controller, or not root" >&2
    fi
fi

python3 - "$RESULTS" <<'PY'
import statistics, sys
from collections import defaultdict

rows = defaultdict(list)
for line in open(sys.argv[1]):
    label, tool, c, t, n, secs, cpu, server = line.split("\t")
    n, secs, cpu, server = int(n), float(secs), float(cpu), float(server)
    rows[(label, int(c), int(t), tool)].append((n / secs, cpu * 1000 / n if n else float("nan"), server))

def stats(key):
    runs = rows[key]
    rates = [r for r, _, _ in runs]
    med = statistics.median(rates)
    spread = (max(rates) - min(rates)) / med * 100 if med else 0
    cpu = statistics.median(c for _, c, _ in runs)
    server = statistics.median(s for _, _, s in runs)
    return med, spread, cpu, server

print(f"{'cores':<7}{'conns':>6}{'thr':>4} | {'wrk req/s':>10}{'spread':>8}{'CPU-s/1k':>10}{'server':>7} | "
      f"{'serverlab req/s':>15}{'spread':>8}{'CPU-s/1k':>10}{'server':>7} | {'ratio':>6}{'CPU ratio':>10}")
server_bound = []
for label, c, t in sorted({k[:3] for k in rows}, key=lambda k: (k[0] != "shared", k[1], k[2])):
    w = stats((label, c, t, "wrk"))
    s = stats((label, c, t, "serverlab"))
    print(f"{label:<7}{c:>6}{t:>4} | {w[0]:>10.0f}{w[1]:>7.1f}%{w[2]:>10.4f}{w[3]:>7.2f} | "
          f"{s[0]:>15.0f}{s[1]:>7.1f}%{s[2]:>10.4f}{s[3]:>7.2f} | {s[0] / w[0]:>5.2f}x{s[2] / w[2]:>9.2f}x")
    if label == "held" and max(w[3], s[3]) > 0.9:
        server_bound.append(f"{c}/{t}")
print("runs (req/s):")
for key in sorted(rows, key=lambda k: (k[0] != "shared", k[1], k[2], k[3])):
    print(f"  {key[0]} {key[1]}c {key[2]}t {key[3]:<9} " + " ".join(f"{r:.0f}" for r, _, _ in rows[key]))
print("ratio: serverlab req/s over wrk's (>= 1.0 is the goal); CPU ratio: serverlab CPU per request over wrk's "
      "(< 1.0 is leaner); server: cores nginx used during the run (median)")
if server_bound:
    print("server-bound held cells (nginx used over 0.9 of its core, so req/s measured nginx): "
          + ", ".join(server_bound))
PY
