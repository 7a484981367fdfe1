#!/usr/bin/env bash
# Benchmark (not a test): the event models at the syscall floor. Echo round trips/s of `poll`, `async` and
# `uring` beside the minimal tokio echo (examples/tokio_echo.rs, tokio's README server) at 10, 100 and 1,000
# keep-alive connections, each with its ratio to tokio measured in the same run; then system calls per round trip
# at 100 connections, from `strace -c -f` on the server.
#
#   bench/syscall_floor.sh
#   RUNS=5 DURATION=3s CONNS="100" SERVERS="uring tokio" bench/syscall_floor.sh
#
# The server runs on core 0, `serverlab load` on core 1 (taskset). Each (server, connections) figure is the median
# of RUNS (3) runs of DURATION (5s), round-robin over the servers so drift hits them alike. The strace pass runs
# once per server (it slows the server down, which batches more work per call: the counts are per round trip of
# a traced server, and say which calls a round trip costs, not how fast it goes). About 4 minutes with the
# defaults, plus any rebuild. Loopback only; every process started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVERS=${SERVERS:-"poll async uring tokio"}
CONNS=${CONNS:-"10 100 1000"}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
STRACE_CONNS=${STRACE_CONNS:-100}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

if [ "${BENCH_BUILD:-1}" = 1 ]; then
    cargo build --release --locked --quiet --bin serverlab --example tokio_echo
fi
BIN=target/release/serverlab
TOKIO=target/release/examples/tokio_echo
command -v strace > /dev/null || { echo "strace is missing (apt-get install strace)" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME [PREFIX...]: starts NAME pinned to SERVER_CPU (under PREFIX, e.g. strace); sets $addr, $pid.
start_server() {
    local name=$1
    shift
    if [ "$name" = tokio ]; then
        addr=127.0.0.1:$(free_port)
        taskset -c "$SERVER_CPU" "$@" "$TOKIO" "$addr" > "$work/server.out" 2>&1 &
        pid=$!
        for _ in $(seq 100); do
            python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 0.1)" \
                "${addr##*:}" 2>/dev/null && break
            sleep 0.05
        done
    else
        taskset -c "$SERVER_CPU" "$@" "$BIN" serve --proto echo --model "$name" --listen 127.0.0.1:0 \
            --log-level warn --drain-timeout 1s > "$work/server.out" 2>"$work/server.err" &
        pid=$!
        for _ in $(seq 100); do
            grep -q "listening on" "$work/server.out" 2>/dev/null && break
            sleep 0.05
        done
        addr=$(awk '/listening on/ {print $3; exit}' "$work/server.out")
        [ -n "$addr" ] || { echo "$name did not start: $(cat "$work/server.err")" >&2; exit 1; }
    fi
    pids+=("$pid")
}

# stop PID: SIGTERM, then SIGKILL after 5 s.
stop() {
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# load CONNS OUT.json: closed-loop keep-alive echo clients for DURATION, pinned to CLIENT_CPU.
load() {
    taskset -c "$CLIENT_CPU" "$BIN" load --target "$addr" --proto echo --clients "$1" --duration "$DURATION" \
        --timeout 5s --no-progress --json "$2" > /dev/null 2>&1 || true
}

successes() {
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))["report"]; print(r["successes"], r["duration_us"] / 1e6, sum(r["errors"].values()))' "$1"
}

echo "server on core $SERVER_CPU, load on core $CLIENT_CPU; $RUNS runs of $DURATION per cell"
results="$work/results.tsv"
for run in $(seq "$RUNS"); do
    for server in $SERVERS; do
        start_server "$server"
        for conns in $CONNS; do
            load "$conns" "$work/load.json"
            read -r ok seconds errors < <(successes "$work/load.json")
            printf '%s\t%s\t%s\t%s\t%s\n' "$server" "$conns" "$run" "$(python3 -c "print($ok / $seconds if $seconds else 0)")" "$errors" >> "$results"
            printf 'run %s  %-6s c=%-5s %10.0f round trips/s\n' "$run" "$server" "$conns" "$(tail -1 "$results" | cut -f4)"
        done
        stop "$pid"
    done
done

syscalls="$work/syscalls.tsv"
for server in $SERVERS; do
    start_server "$server" strace -c -f -o "$work/strace.$server"
    load "$STRACE_CONNS" "$work/load.json"
    read -r ok _ _ < <(successes "$work/load.json")
    # strace's child is the server: stop it, and strace writes its summary as it exits.
    child=$(cat /proc/"$pid"/task/"$pid"/children 2>/dev/null | awk '{print $1}')
    [ -n "$child" ] && kill -TERM "$child" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    stop "$pid"
    python3 - "$work/strace.$server" "$server" "$ok" >> "$syscalls" <<'PY'
import sys
path, server, ok = sys.argv[1], sys.argv[2], int(sys.argv[3])
calls, top = 0, []
for line in open(path):
    parts = line.split()
    if len(parts) >= 5 and parts[0] != "%" and not parts[0].startswith("-"):
        if parts[-1] == "total":
            calls = int(parts[3])
        else:
            top.append((int(parts[3]), parts[-1]))
top.sort(reverse=True)
per = lambda n: n / ok if ok else float("nan")
detail = ", ".join(f"{name} {per(n):.2f}" for n, name in top[:4])
print(f"{server}\t{ok}\t{calls}\t{per(calls):.3f}\t{detail}")
PY
done

python3 - "$results" "$syscalls" "$SERVERS" "$CONNS" "$STRACE_CONNS" <<'PY'
import statistics, sys
results, syscalls, servers, conns, strace_conns = sys.argv[1:]
servers, conns = servers.split(), [int(c) for c in conns.split()]
rows = [l.rstrip("\n").split("\t") for l in open(results)]
def median(server, c):
    rates = [float(r[3]) for r in rows if r[0] == server and int(r[1]) == c]
    return statistics.median(rates) if rates else None
errors = {s: sum(int(r[4]) for r in rows if r[0] == s) for s in servers}
print("\nmedian echo round trips/s (ratio to tokio in the same run)\n")
print("| server | " + " | ".join(f"c={c}" for c in conns) + " | errors |")
print("| --- | " + " | ".join("---" for _ in conns) + " | --- |")
for s in servers:
    cells = []
    for c in conns:
        m, t = median(s, c), median("tokio", c)
        ratio = f" ({m / t:.2f}x)" if m and t and s != "tokio" else ""
        cells.append(f"{m:,.0f}{ratio}" if m else "-")
    print(f"| {s} | " + " | ".join(cells) + f" | {errors[s]} |")
print(f"\nsystem calls per round trip at c={strace_conns} (strace -c -f on the server)\n")
print("| server | round trips | syscalls | per round trip | most frequent, per round trip |")
print("| --- | --- | --- | --- | --- |")
for line in open(syscalls):
    s, ok, calls, per, detail = line.rstrip("\n").split("\t")
    print(f"| {s} | {int(ok):,} | {int(calls):,} | {per} | {detail} |")
PY
