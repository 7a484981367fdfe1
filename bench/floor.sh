#!/usr/bin/env bash
# Benchmark (not a test): every comparison of issue 11 ("at the syscall floor") in one run, each against its
# yardstick measured in the same run, then one table of the goals, each with what was measured and whether it was met.
#
#   bench/floor.sh                      # about 12 minutes on 2 cores; results in floor-DATE/
#   OUT=/tmp/floor bench/floor.sh
#
# The parts, each also runnable alone:
#   1. serverlab experiment --preset tokio-echo   poll, async, uring beside tokio's README echo (echo keep-alive,
#                                                  10/100/1,000 clients, 3 runs; servers held to half of core 0,
#                                                  the load on io_uring on core 1)
#   2. serverlab experiment --preset nginx        the same over HTTP beside nginx (1 worker, `return 200`)
#   3. bench/syscall_floor.sh                     system calls per echo round trip at 100 connections (strace)
#   4. bench/load_vs_wrk.sh                       `serverlab load` against wrk driving the same nginx
# Needs root for the CPU quotas (parts 1, 2, 4), nginx, wrk and strace (installed from Debian when missing).
# Run it on an otherwise idle machine: anything else running changes every figure.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-floor-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

. bench/need.sh
need nginx:nginx-light wrk:wrk strace:strace python3:python3

cargo build --release --locked --quiet --bin serverlab --example tokio_echo
BIN=${CARGO_TARGET_DIR:-target}/release/serverlab

echo "1/4 tokio-echo preset -> $OUT/tokio-echo" >&2
"$BIN" experiment --preset tokio-echo --out "$OUT/tokio-echo" >"$OUT/tokio-echo.txt"
echo "2/4 nginx preset -> $OUT/nginx" >&2
PATH=$PATH:/usr/sbin "$BIN" experiment --preset nginx --out "$OUT/nginx" >"$OUT/nginx.txt"
echo "3/4 system calls -> $OUT/syscalls.txt" >&2
BENCH_BUILD=0 bench/syscall_floor.sh >"$OUT/syscalls.txt"
echo "4/4 load vs wrk -> $OUT/load_vs_wrk.txt" >&2
SERVERLAB=$BIN bench/load_vs_wrk.sh >"$OUT/load_vs_wrk.txt"

python3 - "$OUT" "$(git rev-parse --short HEAD)" <<'PY' | tee "$OUT/goals.md"
import json, re, statistics, sys
from collections import defaultdict
from datetime import datetime, timezone

out, commit = sys.argv[1:]

def per_repeat(preset):
    """Requests/s and server CPU per request (us) of each server and client count, by repeat."""
    results = json.load(open(f"{out}/{preset}/results.json"))
    runs = defaultdict(dict)
    for cell in results["cells"]:
        m = cell.get("measurement")
        if m and m["throughput_rps"] > 0:
            runs[(cell["model"], cell["clients"])][cell["repeat"]] = (
                m["throughput_rps"], m["server_cpu_cores"] / m["throughput_rps"] * 1e6)
    return runs

def medians(runs):
    return {k: tuple(statistics.median(x[i] for x in v.values()) for i in (0, 1)) for k, v in runs.items()}

def repeat_ratios(runs, server, yardstick, clients, index):
    """The ratio of each repeat to the yardstick's same repeat (interleaved, so they shared the machine's moment)."""
    mine, theirs = runs.get((server, clients), {}), runs.get((yardstick, clients), {})
    return [mine[r][index] / theirs[r][index] for r in sorted(mine.keys() & theirs.keys())]

def verdict(cells):
    """cells: for each client count, whether each repeat met the goal. Met in every repeat of every count: met;
    missed in every repeat of some count: not met; otherwise the repeats disagree: within noise."""
    if cells and all(all(c) for c in cells):
        return "met"
    if not cells or any(not any(c) for c in cells):
        return "**not met**"
    return "within noise"

def spread(median, ratios):
    return f"{median:.2f}x ({min(ratios):.2f}-{max(ratios):.2f})" if ratios else "-"

rows = []
def goal(what, measured, met):
    rows.append((what, measured, met if isinstance(met, str) else "met" if met else "**not met**"))

echo_runs = per_repeat("tokio-echo")
echo = medians(echo_runs)
for server, at_least, clients in [("poll", 1.0, [10, 100, 1000]), ("async", 1.0, [10, 100, 1000]),
                                  ("uring", 1.2, [100, 1000])]:
    measured, cells = [], []
    for c in clients:
        ratios = repeat_ratios(echo_runs, server, "tokio-echo", c, 0)
        median = echo[(server, c)][0] / echo[("tokio-echo", c)][0] if ratios else float("nan")
        measured.append(spread(median, ratios))
        cells.append([x >= at_least for x in ratios])
    goal(f"{server} echo requests/s >= {at_least}x tokio echo at c={'/'.join(map(str, clients))}",
         " / ".join(measured), verdict(cells))
http_runs = per_repeat("nginx")
http = medians(http_runs)
measured, cells = [], []
for c in [10, 100, 1000]:
    cpu = {s: v[1] for (s, cc), v in http.items() if cc == c and s != "nginx"}
    if cpu and ("nginx", c) in http:
        s = min(cpu, key=cpu.get)
        ratios = repeat_ratios(http_runs, s, "nginx", c, 1)
        measured.append(f"{s} " + spread(cpu[s] / http[("nginx", c)][1], ratios))
        cells.append([x <= 0.8 for x in ratios])
goal("HTTP best model's server CPU per request <= 0.8x nginx at c=10/100/1000 (median, range over repeats)",
     " / ".join(measured), verdict(cells) if len(cells) == 3 else False)

per = {}
for line in open(f"{out}/syscalls.txt"):
    m = re.match(r"\| (\w[\w-]*) \| [\d,]+ \| [\d,]+ \| ([\d.]+) \|", line)
    if m:
        per[m.group(1)] = float(m.group(2))
goal("poll and async: at most 2.1 system calls per echo round trip at c=100",
     f"poll {per.get('poll', float('nan')):.2f}, async {per.get('async', float('nan')):.2f}",
     per.get("poll", 9) <= 2.1 and per.get("async", 9) <= 2.1)
goal("uring: under 1 system call per echo round trip at c=100", f"{per.get('uring', float('nan')):.3f}",
     per.get("uring", 9) < 1)

held, bound = [], ""
for line in open(f"{out}/load_vs_wrk.txt"):
    parts = line.split()
    if parts and parts[0] == "held" and parts[-2].endswith("x"):
        held.append((int(parts[1]), int(parts[2]), float(parts[-2][:-1]), float(parts[-1][:-1])))
    if line.startswith("server-bound"):
        bound = " (" + line.strip() + ")"
goal("load requests/s >= 1.2x wrk's against the same nginx, c=10/100/1000 x 1 and 2 threads (generator held to "
     "0.3 core, nginx not at its core's limit)", ", ".join(f"{c}/{t} {r:.2f}x" for c, t, r, _ in held) + bound,
     len(held) == 6 and all(r >= 1.2 for _, _, r, _ in held))
goal("load CPU per request <= 0.8x wrk's (same runs)", ", ".join(f"{c}/{t} {x:.2f}x" for c, t, _, x in held),
     len(held) == 6 and all(x <= 0.8 for _, _, _, x in held))

print(f"# Issue 11 goals: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}\n")
print("Ratios: the median, and in brackets the lowest and highest of the repeats, each repeat against the yardstick's\n"
      "repeat run beside it. Within noise: some repeats met the goal and some did not.\n")
print("| goal | measured | |\n| --- | --- | --- |")
for what, measured, met in rows:
    print(f"| {what} | {measured} | {met} |")
print("\nMedians of 3 runs (requests/s / server CPU per request):\n")
for name, table, yardstick in [("echo", echo, "tokio-echo"), ("HTTP", http, "nginx")]:
    servers = sorted({s for s, _ in table}, key=lambda s: s == yardstick)
    print(f"| {name} | 10 clients | 100 clients | 1,000 clients |\n| --- | --- | --- | --- |")
    for s in servers:
        cells = [f"{table[(s, c)][0]:,.0f} / {table[(s, c)][1]:.2f} us" if (s, c) in table else "-"
                 for c in [10, 100, 1000]]
        print(f"| {s} | " + " | ".join(cells) + " |")
    print()
PY
