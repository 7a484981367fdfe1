#!/usr/bin/env bash
# Benchmark (not a test): the six models compared with each other on echo, at 1, 10, 100 and 1,000 keep-alive
# connections, closed loop, driven by `serverlab load`. For each (model, connections): median requests/s over
# RUNS alternating runs, the spread (max - min), p99 latency of the median run, the server's CPU-seconds per
# 1,000 requests (from /proc/PID/stat of the server tree) and the generator's own.
#
#   bench/echo_models.sh
#   RUNS=5 DURATION=5s CONNS="10 100" MODELS="threads poll async" bench/echo_models.sh
#
# Server and generator share the machine's cores; with PIN=1 (default on 2+ cores) the server runs on core 0
# and the generator on core 1 (taskset), so neither steals the other's CPU. Bounded: models x conns x runs x
# DURATION, about 2 minutes with the defaults. Loopback only; every process is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS=${MODELS:-"sequential threads pool poll async prefork"}
CONNS=${CONNS:-"1 10 100 1000"}
RUNS=${RUNS:-3}
DURATION=${DURATION:-3s}
SIZE=${SIZE:-64}
PIN=${PIN:-$([ "$(nproc)" -ge 2 ] && echo 1 || echo 0)}

cargo build --release --locked --quiet
BIN=target/release/serverlab
work=$(mktemp -d)
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null || true
    pkill -9 -P $$ 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

server_cmd=("$BIN")
load_cmd=("$BIN")
if [ "$PIN" = 1 ]; then
    server_cmd=(taskset -c 0 "$BIN")
    load_cmd=(taskset -c 1 "$BIN")
    echo "pinned: server on core 0, generator on core 1"
else
    echo "not pinned: server and generator share every core"
fi
ticks=$(getconf CLK_TCK)

# CPU seconds used so far by a process and its children (prefork).
tree_cpu() {
    local pid=$1 total=0 child
    for child in $pid $(cat /proc/"$pid"/task/"$pid"/children 2>/dev/null); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

start_server() {
    local model=$1
    "${server_cmd[@]}" serve --proto echo --model "$model" --listen 127.0.0.1:0 --log-level warn \
        --max-conns 2000 --drain-timeout 1s > "$work/server.out" 2>"$work/server.err" &
    server_pid=$!
    for _ in $(seq 100); do
        grep -q "listening on" "$work/server.out" 2>/dev/null && break
        sleep 0.05
    done
    addr=$(awk '/listening on/ {print $3; exit}' "$work/server.out")
    [ -n "$addr" ] || { echo "server $model did not start: $(cat "$work/server.err")" >&2; exit 1; }
}

stop_server() {
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

results="$work/results.tsv"
for run in $(seq "$RUNS"); do
    for model in $MODELS; do
        start_server "$model"
        for conns in $CONNS; do
            before=$(tree_cpu "$server_pid")
            "${load_cmd[@]}" load --target "$addr" --proto echo --clients "$conns" --duration "$DURATION" \
                --size "$SIZE" --timeout 5s --no-progress --json "$work/load.json" > /dev/null 2>&1 || true
            after=$(tree_cpu "$server_pid")
            python3 - "$work/load.json" "$model" "$conns" "$run" $((after - before)) "$ticks" >> "$results" <<'PY'
import json, sys
path, model, conns, run, cpu_ticks, ticks = sys.argv[1:]
r = json.load(open(path))["report"]
seconds = r["duration_us"] / 1e6
ok = r["successes"]
rps = ok / seconds if seconds else 0
server_cpu = int(cpu_ticks) / int(ticks)
gen_cpu = (r["cpu"]["user_us"] + r["cpu"]["system_us"]) / 1e6
per_k = lambda cpu: cpu * 1000 / ok if ok else float("nan")
errors = sum(r["errors"].values())
print("\t".join(map(str, [model, conns, run, rps, r["latency"]["summary"]["p99"] / 1000, per_k(server_cpu), per_k(gen_cpu), errors])))
PY
        done
        stop_server
    done
done

python3 - "$results" "$MODELS" "$CONNS" <<'PY'
import sys, statistics
path, models, conns = sys.argv[1], sys.argv[2].split(), [int(c) for c in sys.argv[3].split()]
rows = [line.rstrip("\n").split("\t") for line in open(path)]
print(f"\n{'model':<11}{'conns':>6}{'median req/s':>14}{'spread':>10}{'p99 ms':>9}{'srv cpu-s/1k':>14}{'gen cpu-s/1k':>14}{'errors':>8}")
for model in models:
    for c in conns:
        runs = [r for r in rows if r[0] == model and int(r[1]) == c]
        if not runs:
            continue
        runs.sort(key=lambda r: float(r[3]))
        mid = runs[len(runs) // 2]
        rates = [float(r[3]) for r in runs]
        print(f"{model:<11}{c:>6}{statistics.median(rates):>14.0f}{max(rates) - min(rates):>10.0f}{float(mid[4]):>9.2f}"
              f"{float(mid[5]):>14.4f}{float(mid[6]):>14.4f}{sum(int(r[7]) for r in runs):>8}")
print("\nsequential serves one connection to its end: with more than one keep-alive connection the others wait"
      "\n(unfinished, not errors); pool serves at most --workers (8) connections at once and prefork one per child\n(its default, one child per CPU it may use, is ONE child when pinned with taskset), likewise.")
PY
