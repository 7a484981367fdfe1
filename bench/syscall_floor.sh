#!/usr/bin/env bash
# Benchmark (not a test): system calls per echo round trip of `poll`, `async` and `uring` beside the minimal tokio
# echo (examples/tokio_echo.rs, tokio's README server), at 100 keep-alive connections, from `strace -c -f` on the
# server. Their throughput side by side is an experiment: `serverlab experiment --preset tokio-echo`.
#
#   bench/syscall_floor.sh
#   STRACE_CONNS=1000 SERVERS="uring tokio" bench/syscall_floor.sh
#
# The server runs on core 0, `serverlab load` on core 1 (taskset), once per server for DURATION (5s). strace slows
# the server down, which batches more work per call: the counts say which calls a round trip costs, not how fast
# it goes. Loopback only; every process started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVERS=${SERVERS:-"poll async uring tokio"}
DURATION=${DURATION:-5s}
STRACE_CONNS=${STRACE_CONNS:-100}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

if [ "${BENCH_BUILD:-1}" = 1 ]; then
    cargo build --release --locked --quiet --bin serverlab --example tokio_echo
fi
BIN=${CARGO_TARGET_DIR:-target}/release/serverlab
TOKIO=${CARGO_TARGET_DIR:-target}/release/examples/tokio_echo
. bench/need.sh
need strace:strace
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

python3 - "$syscalls" "$STRACE_CONNS" <<'PY'
import sys
syscalls, strace_conns = sys.argv[1:]
print(f"\nsystem calls per round trip at c={strace_conns} (strace -c -f on the server)\n")
print("| server | round trips | syscalls | per round trip | most frequent, per round trip |")
print("| --- | --- | --- | --- | --- |")
for line in open(syscalls):
    s, ok, calls, per, detail = line.rstrip("\n").split("\t")
    print(f"| {s} | {int(ok):,} | {int(calls):,} | {per} | {detail} |")
PY
