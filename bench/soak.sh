#!/usr/bin/env bash
# Soak (a check, not a benchmark): 1,000,000 HTTP requests against each event model with connection churn, and
# two goals per model: not one error, and a server whose memory stays flat (no leak per request or connection).
#
#   bench/soak.sh                      # poll and async, about a minute each on 2 cores (release build)
#   bench/soak.sh poll async threads   # any models `serve` knows
#   SOAK_REQUESTS=200000 SOAK_PHASES=4 bench/soak.sh poll
#
# Per model: one `serverlab serve --proto http` on 127.0.0.1:0, then SOAK_PHASES phases of `serverlab load`
# sharing the requests, alternating keep-alive (SOAK_CLIENTS connections) and connect-per-request
# (SOAK_CHURN_CLIENTS clients, a new connection each request). The server's RSS (VmRSS of the process and its
# children) is read after phase 2 (start: both kinds of load have warmed up the allocator), after a middle
# phase and after the last; RSS before any load is shown, not judged. Goals: errors 0 and every request
# answered; RSS at middle and end within SOAK_RSS_TOLERANCE percent (10) of start. Nothing is pinned. Loopback
# only; each phase is capped at 5 minutes; every server is stopped (SIGTERM, then SIGKILL) on exit, Ctrl-C
# included. Exit status 1 when any goal fails.
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS=${*:-"poll async"}
REQUESTS=${SOAK_REQUESTS:-1000000}
PHASES=${SOAK_PHASES:-10}
CLIENTS=${SOAK_CLIENTS:-50}
CHURN_CLIENTS=${SOAK_CHURN_CLIENTS:-20}
TOLERANCE=${SOAK_RSS_TOLERANCE:-10}
BIN=${SERVERLAB_BIN:-target/release/serverlab}
read -r -a SERVE_ARGS <<<"${SOAK_SERVE_ARGS:-}"   # extra `serve` flags, e.g. "--idle-timeout off"
[ "$PHASES" -ge 4 ] || { echo "SOAK_PHASES must be at least 4" >&2; exit 2; }
# RSS is judged after churn phases only (even ones): after phase 2 (both kinds warmed up), about halfway, last.
start_phase=2 middle_phase=$(((PHASES / 2 + 1) / 2 * 2))

if [ "${SOAK_BUILD:-1}" = 1 ]; then cargo build --release --locked --quiet; fi
work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill -9 "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Resident memory in KiB of the server and its children (prefork's workers).
rss_kib() {
    local total=0 pid
    for pid in "$server_pid" $(cat /proc/"$server_pid"/task/*/children 2>/dev/null); do
        total=$((total + $(awk '/^VmRSS:/ {print $2}' /proc/"$pid"/status 2>/dev/null || echo 0)))
    done
    echo "$total"
}

start_server() {
    "$BIN" serve --proto http --model "$1" --listen 127.0.0.1:0 --log-level warn "${SERVE_ARGS[@]}" \
        >"$work/server.out" 2>"$work/server.err" &
    server_pid=$!
    for _ in $(seq 200); do
        grep -q "listening on" "$work/server.out" 2>/dev/null && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    addr=$(awk '/listening on/ {print $3; exit}' "$work/server.out")
    [ -n "$addr" ] || { echo "server $1 did not start: $(cat "$work/server.err")" >&2; exit 1; }
}

# SIGTERM, a graceful stop; SIGKILL if it is not done in 10 s. Leaves the server's JSON report in server.out.
stop_server() {
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 200); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

# Prints "ok errors" of one load run of $2 requests from its JSON report (all of them errors when there is no
# report), and the errors by kind on stderr when there are any.
load_counts() {
    python3 - "$1" "$2" <<'PY'
import json, os, sys
path, asked = sys.argv[1], int(sys.argv[2])
if not os.path.exists(path):
    print("    no report from load", file=sys.stderr)
    print(0, asked)
    sys.exit()
r = json.load(open(path))["report"]
errors = {k: v for k, v in r["errors"].items() if v}
if errors:
    print(f"    errors: {errors}", file=sys.stderr)
print(r["successes"], sum(errors.values()))
PY
}

# Seconds since the epoch, with fractions.
now() { date +%s.%N; }

echo "soak: $REQUESTS requests per model in $PHASES phases," \
    "keep-alive x$CLIENTS / connect-per-request x$CHURN_CLIENTS${SOAK_SERVE_ARGS:+, serve $SOAK_SERVE_ARGS}"
echo "$(date -u '+%F %T UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) CPUs, $BIN"
rows=()
failed=0
for model in $MODELS; do
    start_server "$model"
    rss_idle=$(rss_kib)
    ok_total=0 errors_total=0 started=$(now)
    for phase in $(seq "$PHASES"); do
        share=$((REQUESTS / PHASES + (phase <= REQUESTS % PHASES ? 1 : 0)))
        if [ $((phase % 2)) = 1 ]; then
            kind="keep-alive" flags=(--clients "$CLIENTS")
        else
            kind="churn" flags=(--clients "$CHURN_CLIENTS" --connect-per-request)
        fi
        rm -f "$work/load.json"
        timeout --kill-after=5s 300s "$BIN" load --target "$addr" --proto http --expect-status 2xx --requests "$share" \
            "${flags[@]}" --timeout 5s --no-progress --json "$work/load.json" >"$work/load.out" 2>&1 || true
        read -r ok errors < <(load_counts "$work/load.json" "$share")
        ok_total=$((ok_total + ok)) errors_total=$((errors_total + errors))
        rss=$(rss_kib)
        [ "$phase" = "$start_phase" ] && rss_start=$rss
        [ "$phase" = "$middle_phase" ] && rss_middle=$rss
        rss_end=$rss
        printf '  %-6s phase %2d/%d %-10s %7d ok %5d errors  RSS %6d KiB\n' \
            "$model" "$phase" "$PHASES" "$kind" "$ok" "$errors" "$rss"
    done
    seconds=$(awk -v a="$started" -v b="$(now)" 'BEGIN { print b - a }')
    stop_server
    served=$(grep -o '"requests":[0-9]*' "$work/server.out" | tail -1 | cut -d: -f2)
    # The largest change, middle or end, from start, in percent.
    drift=$(awk -v s="$rss_start" -v m="$rss_middle" -v e="$rss_end" 'BEGIN {
        dm = (m - s) * 100 / s; de = (e - s) * 100 / s
        printf "%+.1f", (de * de > dm * dm) ? de : dm }')
    errors_goal=PASS rss_goal=PASS
    [ "$errors_total" = 0 ] && [ "$ok_total" = "$REQUESTS" ] || errors_goal=FAIL
    awk -v d="$drift" -v t="$TOLERANCE" 'BEGIN { exit !(d <= t && d >= -t) }' || rss_goal=FAIL
    [ "$errors_goal$rss_goal" = PASSPASS ] || failed=1
    rate=$(awk -v n="$ok_total" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }')
    rows+=("$(printf '%-8s %8s %7s %8s %7s %7s %7s %7s %7s %7s  %-8s %-8s' "$model" "$ok_total" \
        "$errors_total" "${served:-?}" "$rate" "$rss_idle" "$rss_start" "$rss_middle" "$rss_end" "$drift%" \
        "$errors_goal" "$rss_goal")")
done

echo
echo "RSS in KiB: idle (before any load), start (after phase $start_phase)," \
    "middle (after phase $middle_phase), end (after phase $PHASES)"
printf '%-8s %8s %7s %8s %7s %7s %7s %7s %7s %7s  %-8s %-8s\n' model ok errors "srv reqs" "req/s" \
    idle start middle end drift "errors 0" "RSS flat"
printf '%s\n' "${rows[@]}"
echo "(drift: the largest change of middle or end from start; goal within ${TOLERANCE}%)"
exit "$failed"
