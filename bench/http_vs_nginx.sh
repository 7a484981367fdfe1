#!/usr/bin/env bash
# Benchmark (not a test): serverlab's HTTP server in each concurrency model against nginx serving the same
# bytes, driven by wrk with identical settings on loopback. Server on one core, client on the other.
#
#   bench/http_vs_nginx.sh                       # defaults: wrk -t 1 -c 50 -d 3s, 3 runs per server
#   BENCH_DURATION=5s BENCH_RUNS=5 bench/http_vs_nginx.sh
#   BENCH_MODELS="threads pool" bench/http_vs_nginx.sh
#
# Everything it starts (nginx, serverlab servers, wrk) runs under a temporary directory and is stopped and
# removed on exit, including on Ctrl-C. The system's nginx config, service and port 80 are never touched.
set -euo pipefail

# ---------------------------------------------------------------------------------------------------------------
# Settings (environment overrides)
# ---------------------------------------------------------------------------------------------------------------
# serverlab models to benchmark. Empty = every value that `serverlab serve --help` lists for --model, so new
# models (poll, async, prefork, ...) are picked up automatically.
MODELS="${BENCH_MODELS:-}"
DURATION="${BENCH_DURATION:-3s}"      # wrk -d, per run
CONNS="${BENCH_CONNS:-50}"            # wrk -c
THREADS="${BENCH_THREADS:-1}"         # wrk -t
RUNS="${BENCH_RUNS:-3}"               # measured runs per server, round-robin across servers
WARMUP="${BENCH_WARMUP:-1s}"          # one unmeasured wrk run per server before the measured ones; 0 = none
SERVER_CPU="${BENCH_SERVER_CPU:-0}"   # taskset -c for every server process (nginx master + workers, serverlab)
CLIENT_CPU="${BENCH_CLIENT_CPU:-1}"   # taskset -c for wrk
BUILD="${BENCH_BUILD:-1}"             # 1 = `cargo build --release --locked` first (a no-op when up to date)
OUT_DIR="${BENCH_OUT:-}"              # if set, raw wrk outputs and server logs are copied there
IDLE_WAIT="${BENCH_IDLE_WAIT:-20}"    # before loading, wait up to this many seconds for both CPUs to be idle
NOISE_RETRIES="${BENCH_NOISE_RETRIES:-3}"  # runs (in all) that may be redone because other processes took >15% of a CPU
# pool (threads) and prefork (processes) serve one keep-alive connection per worker until the client leaves, so
# they need at least as many workers as wrk has connections, or the surplus connections starve for the whole run
# (see the notes printed with the table). Both get --workers WORKERS.
WORKERS="${BENCH_WORKERS:-$(( CONNS > 64 ? CONNS : 64 ))}"
# Extra flags for one model: BENCH_ARGS_<model>="--flag value" (model name with '-' replaced by '_').

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${SERVERLAB_BIN:-$ROOT/target/release/serverlab}"
[[ $BIN == /* ]] || BIN="$PWD/$BIN"

die() { echo "http_vs_nginx: $*" >&2; exit 1; }
say() { echo "== $*"; }

for v in CONNS THREADS RUNS SERVER_CPU CLIENT_CPU WORKERS IDLE_WAIT NOISE_RETRIES; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
(( RUNS >= 1 && CONNS >= 1 && THREADS >= 1 )) || die "BENCH_RUNS, BENCH_CONNS and BENCH_THREADS must be >= 1"
(( CONNS >= THREADS )) || die "wrk needs BENCH_CONNS >= BENCH_THREADS"
[[ $SERVER_CPU != "$CLIENT_CPU" ]] || die "server and client must be pinned to different CPUs"

# Seconds in a wrk duration ("3", "3s", "2m", "1h").
duration_s() {
    local d=$1
    [[ $d =~ ^([0-9]+)([smh]?)$ ]] || die "durations look like 3s, 2m or 1h (got '$d')"
    case ${BASH_REMATCH[2]} in
        m) echo $(( BASH_REMATCH[1] * 60 )) ;;
        h) echo $(( BASH_REMATCH[1] * 3600 )) ;;
        *) echo "${BASH_REMATCH[1]}" ;;
    esac
}
DURATION_S=$(duration_s "$DURATION")
WARMUP_S=$(duration_s "$WARMUP")
(( DURATION_S >= 1 )) || die "BENCH_DURATION must be at least 1s"

# ---------------------------------------------------------------------------------------------------------------
# Process bookkeeping and cleanup
# ---------------------------------------------------------------------------------------------------------------
[[ -z $OUT_DIR ]] || OUT_DIR="$(mkdir -p "$OUT_DIR" && cd "$OUT_DIR" && pwd)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/http_vs_nginx.XXXXXX")"
START_S=$SECONDS
BUILD_S=0
BUILT="not rebuilt (BENCH_BUILD=0)"
cd "$TMP"
PIDS=()                 # every long-running process this script started
WRK_PID=""
CREATED_POLICY_RC_D=""

# Whether a process is alive (a zombie, exited but not yet reaped, is not).
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ -n $stat && ${stat:0:1} != Z ]]
}

# Live descendants of a process, children first.
descendants() {
    local pid child
    for pid in "$@"; do
        for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
            echo "$child"
            descendants "$child"
        done
    done
}

# Sends TERM to the given processes (and their descendants), waits up to $1 seconds, then KILLs what is left.
stop_processes() {
    local grace=$1; shift
    local all=() pid i
    for pid in "$@"; do
        [[ -n $pid ]] || continue
        all+=("$pid")
        mapfile -t -O "${#all[@]}" all < <(descendants "$pid")
    done
    (( ${#all[@]} )) || return 0
    for pid in "${all[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for (( i = 0; i < grace * 10; i++ )); do
        local left=0
        for pid in "${all[@]}"; do alive "$pid" && left=1 && break; done
        (( left )) || break
        sleep 0.1
    done
    for pid in "${all[@]}"; do
        if alive "$pid"; then
            echo "http_vs_nginx: process $pid did not stop within ${grace}s of SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $WRK_PID ]]; then stop_processes 2 "$WRK_PID"; fi
    if (( ${#PIDS[@]} )); then stop_processes 8 "${PIDS[@]}"; fi
    if [[ -n $CREATED_POLICY_RC_D ]]; then rm -f /usr/sbin/policy-rc.d; fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------------------------
# 1. Tools: nginx and wrk from Debian's packages, serverlab built in release
# ---------------------------------------------------------------------------------------------------------------
find_nginx() { command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true; }
NGINX="$(find_nginx)"
missing=()
[[ -n $NGINX ]] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v taskset >/dev/null 2>&1 || missing+=(taskset)
if (( ${#missing[@]} )); then
    (( EUID == 0 )) && command -v apt-get >/dev/null 2>&1 \
        || die "missing: ${missing[*]}; install them (Debian: apt-get install nginx wrk curl util-linux)"
    say "installing ${missing[*]} from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    pkgs=()
    for m in "${missing[@]}"; do
        case $m in
            nginx)
                # Plain `nginx` is the smallest package with the binary (bookworm); nginx-light on older releases.
                for p in nginx nginx-light; do
                    policy=$(apt-cache policy "$p" 2>/dev/null || true)
                    if [[ $policy =~ Candidate:\ [0-9] ]]; then pkgs+=("$p"); break; fi
                done ;;
            taskset) pkgs+=(util-linux) ;;
            *) pkgs+=("$m") ;;
        esac
    done
    # The package's postinst would start the system nginx on port 80: forbid service starts while installing.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        CREATED_POLICY_RC_D=1
    fi
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >"$TMP/apt.log" 2>&1 \
        || { tail -20 "$TMP/apt.log" >&2; die "apt-get install ${pkgs[*]} failed"; }
    if [[ -n $CREATED_POLICY_RC_D ]]; then rm -f /usr/sbin/policy-rc.d; CREATED_POLICY_RC_D=""; fi
    NGINX="$(find_nginx)"
    [[ -n $NGINX ]] || die "nginx is still missing after installing ${pkgs[*]}"
fi

if [[ $BUILD == 1 ]]; then
    say "building serverlab (cargo build --release --locked)"
    build_t0=$SECONDS
    BUILT="built from the work tree now"
    if ! (cd "$ROOT" && cargo build --release --locked --quiet) >"$TMP/build.log" 2>&1; then
        cat "$TMP/build.log" >&2
        [[ -x $BIN ]] || die "cargo build failed and there is no $BIN"
        echo "http_vs_nginx: WARNING: cargo build failed; benchmarking the existing (possibly stale) $BIN" >&2
        BUILT="BUILD FAILED: an older binary from $(date -r "$BIN" '+%F %T')"
    fi
fi
[[ -x $BIN ]] || die "no serverlab binary at $BIN"
[[ -z ${build_t0:-} ]] || BUILD_S=$(( SECONDS - build_t0 ))

if [[ -z $MODELS ]]; then
    help=$("$BIN" serve --help) || die "'$BIN serve --help' failed"
    MODELS=$(awk '
        /^ *--model/        { inside = 1; next }
        inside && /^ *--/   { exit }
        inside && /\[default/ { exit }
        inside && $1 == "-" { sub(/:$/, "", $2); print $2 }' <<<"$help" | tr '\n' ' ')
    MODELS=${MODELS% }
    [[ -n $MODELS ]] || die "cannot read the models from 'serverlab serve --help'; set BENCH_MODELS"
fi
read -r -a MODEL_LIST <<<"$MODELS"

CLK_TCK=$(getconf CLK_TCK)
HAVE_SS=0
command -v ss >/dev/null 2>&1 && HAVE_SS=1

# ---------------------------------------------------------------------------------------------------------------
# Measuring helpers
# ---------------------------------------------------------------------------------------------------------------
# CPU ticks (user+system, own and reaped children's) of a process and all its live descendants, all threads.
tree_cpu_ticks() {
    local total=0 pid stat f
    for pid in "$1" $(descendants "$1"); do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        stat=${stat##*) }
        read -r -a f <<<"$stat"
        # After "pid (comm) ": f[0] is field 3 (state), so utime (14) .. cstime (17) are f[11] .. f[14].
        total=$(( total + f[11] + f[12] + f[13] + f[14] ))
    done
    echo "$total"
}

# "process total" jiffies of one CPU from /proc/stat: time spent running processes (user, nice, system), and all
# time. Interrupt and softirq time (the loopback network stack, largely on behalf of the benchmark itself) and
# steal are left out of the first: they belong to no process.
cpu_jiffies() {
    awk -v cpu="cpu$1" '$1 == cpu { t = 0; for (i = 2; i <= NF; i++) t += $i; print $2 + $3 + $4, t; exit }' /proc/stat
}

# CPU ticks of this shell's children that it has reaped (wrk, through timeout, once a run is over).
reaped_children_ticks() {
    local stat f
    stat=$(cat "/proc/$$/stat"); stat=${stat##*) }
    read -r -a f <<<"$stat"
    echo $(( f[13] + f[14] ))
}

now_s() { date +%s.%N; }

# A free TCP port on loopback.
free_port() {
    local py
    py=$(command -v /usr/bin/python3 python3 2>/dev/null | head -1 || true)
    if [[ -n $py ]] && "$py" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null; then
        return 0
    fi
    # No python: a random port outside the ephemeral range that nothing listens on.
    local port hex
    while :; do
        port=$(( 20000 + RANDOM % 12000 ))
        hex=$(printf ':%04X ' "$port")
        grep -qi "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null || { echo "$port"; return 0; }
    done
}

# Waits until $1 answers HTTP, up to $2 seconds, while process $3 lives.
wait_http() {
    local i
    for (( i = 0; i < $2 * 20; i++ )); do
        curl -fs -o /dev/null --max-time 1 "$1" && return 0
        alive "$3" || return 1
        sleep 0.05
    done
    return 1
}

# ---------------------------------------------------------------------------------------------------------------
# 2. Servers: serverlab in every model first (nginx serves the page fetched from serverlab), then nginx
# ---------------------------------------------------------------------------------------------------------------
declare -A PID PORT ARGS CURLS
SERVERS=(nginx)

model_args() {
    local var="BENCH_ARGS_${1//-/_}"
    if [[ -n ${!var:-} ]]; then echo "${!var}"; return; fi
    case $1 in
        pool) echo "--workers $WORKERS --queue $WORKERS" ;;
        prefork) echo "--workers $WORKERS" ;;
        *) echo "" ;;
    esac
}

start_serverlab() {
    local model=$1 name="serverlab-$1" args i port=""
    args=$(model_args "$model")
    # shellcheck disable=SC2086  # $args is a list of flags
    taskset -c "$SERVER_CPU" "$BIN" serve --proto http --model "$model" --listen 127.0.0.1:0 $args \
        --log-level warn >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PID[$name]=$!
    PIDS+=("$!")
    for (( i = 0; i < 200; i++ )); do
        if [[ -s $TMP/$name.out ]]; then
            port=$(head -1 "$TMP/$name.out" | sed -nE 's/^listening on 127\.0\.0\.1:([0-9]+) .*/\1/p')
            [[ -n $port ]] && break
        fi
        alive "${PID[$name]}" || break
        sleep 0.05
    done
    if [[ -z $port ]]; then
        cat "$TMP/$name.out" "$TMP/$name.err" >&2
        die "$name did not print 'listening on 127.0.0.1:PORT'"
    fi
    PORT[$name]=$port
    ARGS[$name]="--model $model${args:+ $args}"
    SERVERS+=("$name")
}

say "starting serverlab ($BIN) in models: ${MODEL_LIST[*]}"
for model in "${MODEL_LIST[@]}"; do
    start_serverlab "$model"
done

# The page: fetched from the first model, and every model must serve the same bytes.
first="serverlab-${MODEL_LIST[0]}"
curl -fsS --max-time 5 -o "$TMP/page.html" "http://127.0.0.1:${PORT[$first]}/" || die "cannot fetch the page from $first"
for name in "${SERVERS[@]:1}"; do
    curl -fsS --max-time 5 -o "$TMP/check.html" "http://127.0.0.1:${PORT[$name]}/" || die "cannot fetch the page from $name"
    cmp -s "$TMP/page.html" "$TMP/check.html" || die "$name serves a different page from $first"
    CURLS[$name]=1
done
CURLS[$first]=2   # the page, then the check

# nginx, with its own prefix, config, logs and pid file in the temporary directory.
NG="$TMP/nginx"
mkdir -p "$NG/html" "$NG/tmp"
cp "$TMP/page.html" "$NG/html/index.html"
chmod 755 "$TMP" "$NG" "$NG/html"
chmod 644 "$NG/html/index.html"
NGINX_USER=""
(( EUID == 0 )) && NGINX_USER="user nobody nogroup;"   # workers drop root, as nginx does by default

write_nginx_conf() {
    cat >"$NG/nginx.conf" <<EOF
# Written by bench/http_vs_nginx.sh for one benchmark run; removed when it ends.
$NGINX_USER
daemon off;
master_process on;
worker_processes 2;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    server_tokens off;
    types { text/html html; }
    default_type application/octet-stream;
    charset utf-8;                      # Content-Type: text/html; charset=utf-8, as serverlab sends
    keepalive_timeout 10s;              # serverlab's HTTP idle timeout
    keepalive_requests 1000000000;      # the default (1000) would close each wrk connection every 1000 requests
    open_file_cache max=16 inactive=60s;  # serverlab holds its page in memory; nginx may cache the open file
    open_file_cache_valid 60s;
    client_body_temp_path $NG/tmp/body;
    proxy_temp_path $NG/tmp/proxy;
    fastcgi_temp_path $NG/tmp/fastcgi;
    uwsgi_temp_path $NG/tmp/uwsgi;
    scgi_temp_path $NG/tmp/scgi;
    server {
        listen 127.0.0.1:$1;
        root $NG/html;
        index index.html;
    }
}
EOF
}

start_nginx() {
    local attempt port
    for attempt in 1 2 3; do
        port=$(free_port)
        write_nginx_conf "$port"
        "$NGINX" -t -q -p "$NG/" -e "$NG/error.log" -c "$NG/nginx.conf" 2>"$TMP/nginx-t.err" \
            || { cat "$TMP/nginx-t.err" "$NG/error.log" >&2 2>/dev/null; die "nginx rejects its config"; }
        taskset -c "$SERVER_CPU" "$NGINX" -p "$NG/" -e "$NG/error.log" -c "$NG/nginx.conf" \
            >"$TMP/nginx.out" 2>&1 &
        PID[nginx]=$!
        PIDS+=("$!")
        if wait_http "http://127.0.0.1:$port/" 5 "${PID[nginx]}"; then
            PORT[nginx]=$port
            return 0
        fi
        echo "http_vs_nginx: nginx did not come up on port $port (attempt $attempt):" >&2
        cat "$TMP/nginx.out" "$NG/error.log" >&2 2>/dev/null || true
        stop_processes 5 "${PID[nginx]}"
    done
    die "cannot start nginx"
}

say "starting nginx ($NGINX) with its own config under $NG"
start_nginx
curl -fsS --max-time 5 -o "$TMP/check.html" "http://127.0.0.1:${PORT[nginx]}/"
cmp -s "$TMP/page.html" "$TMP/check.html" || die "nginx serves a different page from serverlab"
CURLS[nginx]=1
ARGS[nginx]="$("$NGINX" -v 2>&1 | sed 's/.*: //'), worker_processes 2"
nginx_workers=$(descendants "${PID[nginx]}" | wc -l)
(( nginx_workers == 2 )) || echo "http_vs_nginx: WARNING: nginx has $nginx_workers worker processes, not 2" >&2

# Response sizes (headers + body), since nginx's headers are longer than serverlab's.
declare -A RESP_BYTES
for name in "${SERVERS[@]}"; do
    RESP_BYTES[$name]=$(curl -fsS --max-time 5 -o /dev/null -w '%{size_header}+%{size_download}' \
        "http://127.0.0.1:${PORT[$name]}/")
    CURLS[$name]=$(( ${CURLS[$name]} + 1 ))
done

# ---------------------------------------------------------------------------------------------------------------
# 3. Load: wrk, identical settings for every server, runs alternating round-robin
# ---------------------------------------------------------------------------------------------------------------
# Runs wrk against server $1 for duration $2, output in file $3; sets the R_* results of the run.
run_wrk() {
    local name=$1 dur=$2 out=$3 rc=0 t0 t1 dur_s srv0 srv1 kid0 kid1 c0a c0b c1a c1b
    dur_s=$(duration_s "$dur")
    read -r -a c0a < <(cpu_jiffies "$SERVER_CPU")
    read -r -a c1a < <(cpu_jiffies "$CLIENT_CPU")
    srv0=$(tree_cpu_ticks "${PID[$name]}")
    kid0=$(reaped_children_ticks)
    t0=$(now_s)
    timeout -k 5 $(( dur_s + 30 )) taskset -c "$CLIENT_CPU" \
        wrk -t "$THREADS" -c "$CONNS" -d "$dur" "http://127.0.0.1:${PORT[$name]}/" >"$out" 2>&1 &
    WRK_PID=$!
    # Connections that have not received a single response byte at 80% of the run are starved: wrk itself
    # never reports a request that gets no answer at all (its "timeout" counts only late answers).
    R_STARVED="?"
    if (( HAVE_SS )); then
        sleep "$(awk -v d="$dur_s" 'BEGIN { print d * 0.8 }')"
        R_STARVED=$(taskset -c "$CLIENT_CPU" ss -Htni state established "( dport = :${PORT[$name]} )" 2>/dev/null \
            | awk '/^[^ \t]/ { if (n) s += !got; n++; got = 0; next }
                   /bytes_received:[1-9]/ { got = 1 }
                   END { if (n) s += !got; print s + 0 }') || R_STARVED="?"
    fi
    wait "$WRK_PID" || rc=$?
    WRK_PID=""
    t1=$(now_s)
    kid1=$(reaped_children_ticks)
    srv1=$(tree_cpu_ticks "${PID[$name]}")
    read -r -a c0b < <(cpu_jiffies "$SERVER_CPU")
    read -r -a c1b < <(cpu_jiffies "$CLIENT_CPU")
    (( rc == 0 )) || echo "wrk exit status $rc" >>"$out"
    R_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    R_CPU=$(awk -v t=$(( srv1 - srv0 )) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }')
    # wrk's CPU share of the run, and how busy each core was with anything else (other processes: noise).
    read -r R_WRK R_OTHER < <(awk -v w=$(( kid1 - kid0 )) -v s=$(( srv1 - srv0 )) \
        -v b0=$(( c0b[0] - c0a[0] )) -v t0=$(( c0b[1] - c0a[1] )) \
        -v b1=$(( c1b[0] - c1a[0] )) -v t1=$(( c1b[1] - c1a[1] )) 'BEGIN {
            o0 = t0 > 0 ? 100 * (b0 - s) / t0 : 0; o1 = t1 > 0 ? 100 * (b1 - w) / t1 : 0
            o = o0 > o1 ? o0 : o1; if (o < 0) o = 0
            printf "%.0f %.0f\n", (t1 > 0 ? 100 * w / t1 : 0), o }')
    R_RPS=$(awk '/^Requests\/sec:/ { print $2; found = 1 } END { if (!found) print 0 }' "$out")
    R_REQS=$(awk '/ requests in / { print $1; found = 1 } END { if (!found) print 0 }' "$out")
    # "Socket errors: connect 0, read 0, write 0, timeout 49" and "Non-2xx or 3xx responses: 7".
    R_ERRS=$(awk '
        /Socket errors:/ { gsub(",", ""); c = $4; r = $6; w = $8; t = $10 }
        /Non-2xx or 3xx responses:/ { n = $NF }
        END { printf "%d %d %d %d %d", c, r, w, t, n }' "$out")
    R_RC=$rc
}

est=$(( ${#SERVERS[@]} * (WARMUP_S + RUNS * DURATION_S) ))
say "wrk -t $THREADS -c $CONNS -d $DURATION http://127.0.0.1:PORT/ ; $RUNS runs x ${#SERVERS[@]} servers, round-robin" \
    "(+ ${WARMUP} warm-up each): about ${est}s of load"
say "pinning: servers on CPU $SERVER_CPU (taskset -c $SERVER_CPU: serverlab's threads, and nginx's master and" \
    "BOTH of its 2 workers, so nginx's second worker buys it nothing here); wrk on CPU $CLIENT_CPU (taskset -c $CLIENT_CPU)"

# Other work on the machine (a build, tests) skews every number: wait a little for the two CPUs to go quiet.
busy_pct() {  # busy % of the two benchmark CPUs over one second, the higher of the two
    local a0 a1 b0 b1
    read -r -a a0 < <(cpu_jiffies "$SERVER_CPU"); read -r -a a1 < <(cpu_jiffies "$CLIENT_CPU")
    sleep 1
    read -r -a b0 < <(cpu_jiffies "$SERVER_CPU"); read -r -a b1 < <(cpu_jiffies "$CLIENT_CPU")
    awk -v x=$(( b0[0] - a0[0] )) -v X=$(( b0[1] - a0[1] )) -v y=$(( b1[0] - a1[0] )) -v Y=$(( b1[1] - a1[1] )) \
        'BEGIN { p = X > 0 ? 100 * x / X : 0; q = Y > 0 ? 100 * y / Y : 0; printf "%.0f\n", (p > q ? p : q) }'
}
busy=$(busy_pct)
for (( waited = 1; busy > 10 && waited < IDLE_WAIT; waited++ )); do
    (( waited == 1 )) && say "CPU $SERVER_CPU/$CLIENT_CPU are ${busy}% busy with other work; waiting up to ${IDLE_WAIT}s for them to go idle"
    busy=$(busy_pct)
done
if (( busy > 10 )); then
    say "WARNING: CPUs still ${busy}% busy with other processes: results will be noisy"
fi

declare -A RPS REQS CPU WALL WRKCPU OTHER ERRS RC STARVED WARM_REQS DISCARDED_REQS
if (( WARMUP_S > 0 )); then
    for name in "${SERVERS[@]}"; do
        run_wrk "$name" "$WARMUP" "$TMP/wrk-$name-warmup.txt"
        WARM_REQS[$name]=$R_REQS
    done
fi
for (( run = 1; run <= RUNS; run++ )); do
    for name in "${SERVERS[@]}"; do
        if ! alive "${PID[$name]}"; then
            RC[$name,$run]="dead"
            continue
        fi
        run_wrk "$name" "$DURATION" "$TMP/wrk-$name-$run.txt"
        # A run that shared its CPUs with other work is redone once things are quiet, while the budget lasts.
        tries=0
        while (( R_OTHER > 15 && NOISE_RETRIES > 0 && tries < 2 )); do
            tries=$(( tries + 1 ))
            printf '   run %d/%d  %-22s %8.0f req/s  discarded: other processes took %s%% of a CPU; again\n' \
                "$run" "$RUNS" "$name" "$R_RPS" "$R_OTHER"
            DISCARDED_REQS[$name]=$(( ${DISCARDED_REQS[$name]:-0} + R_REQS ))
            NOISE_RETRIES=$(( NOISE_RETRIES - 1 ))
            for (( i = 0; i < 5; i++ )); do
                if (( $(busy_pct) <= 10 )); then break; fi
            done
            run_wrk "$name" "$DURATION" "$TMP/wrk-$name-$run.txt"
        done
        RPS[$name,$run]=$R_RPS
        REQS[$name,$run]=$R_REQS
        CPU[$name,$run]=$R_CPU
        WALL[$name,$run]=$R_WALL
        WRKCPU[$name,$run]=$R_WRK
        OTHER[$name,$run]=$R_OTHER
        ERRS[$name,$run]=$R_ERRS
        RC[$name,$run]=$R_RC
        STARVED[$name,$run]=$R_STARVED
        printf '   run %d/%d  %-22s %8.0f req/s  server CPU %5.2fs  wrk CPU %3s%%  starved %s/%s  other load %s%%\n' \
            "$run" "$RUNS" "$name" "$R_RPS" "$R_CPU" "$R_WRK" "$R_STARVED" "$CONNS" "$R_OTHER"
    done
done

# ---------------------------------------------------------------------------------------------------------------
# Stop the servers gracefully; serverlab reports its own counters on the way out
# ---------------------------------------------------------------------------------------------------------------
declare -A STOP_S DIED
for name in "${SERVERS[@]}"; do
    pid=${PID[$name]}
    if ! alive "$pid"; then
        rc=0; wait "$pid" 2>/dev/null || rc=$?
        DIED[$name]="exited during the benchmark (status $rc)"
        continue
    fi
    t0=$(now_s)
    kill -TERM "$pid"
    for (( i = 0; i < 150; i++ )); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
        DIED[$name]="still running 15s after SIGTERM: killed"
        stop_processes 1 "$pid"
    fi
    rc=0; wait "$pid" 2>/dev/null || rc=$?
    STOP_S[$name]=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }')
    (( rc == 0 )) || DIED[$name]="${DIED[$name]:-}exit status $rc after SIGTERM"
done
# Everything is stopped and reaped: keep cleanup from signalling pids the system may have reused since.
left=()
for pid in "${PIDS[@]}"; do alive "$pid" && left+=("$pid"); done
PIDS=("${left[@]}")

if [[ -n $OUT_DIR ]]; then
    mkdir -p "$OUT_DIR"
    cp "$TMP"/wrk-*.txt "$TMP"/serverlab-*.out "$TMP"/serverlab-*.err "$NG/nginx.conf" "$OUT_DIR/" 2>/dev/null || true
    cp "$NG/error.log" "$OUT_DIR/nginx-error.log" 2>/dev/null || true
fi

# ---------------------------------------------------------------------------------------------------------------
# 4. The table
# ---------------------------------------------------------------------------------------------------------------
# Median, min and max of the arguments: "median min max".
stats3() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'; }

declare -A MED
for name in "${SERVERS[@]}"; do
    vals=()
    for (( run = 1; run <= RUNS; run++ )); do [[ -n ${RPS[$name,$run]:-} ]] && vals+=("${RPS[$name,$run]}"); done
    if (( ${#vals[@]} )); then read -r MED[$name] _ _ < <(stats3 "${vals[@]}"); else MED[$name]=0; fi
done

echo
echo "HTTP GET / of the same ${RESP_BYTES[nginx]#*+}-byte page, keep-alive, loopback."
echo "wrk -t $THREADS -c $CONNS -d $DURATION, $RUNS runs per server (round-robin), $( (( WARMUP_S > 0 )) && echo "after a ${WARMUP} warm-up" || echo "no warm-up")."
echo "Server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU (taskset). nginx: 2 workers, both on CPU $SERVER_CPU."
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
[[ -z $(git -C "$ROOT" status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock 2>/dev/null) ]] \
    || rev+=" + uncommitted changes"
echo "serverlab $rev, $BUILT; $("$NGINX" -v 2>&1 | sed 's/.*: //'); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2 || true)."
echo
fmt='%-22s %10s  %-20s %8s  %7s  %9s  %7s  %7s  %5s  %s\n'
# shellcheck disable=SC2059
printf "$fmt" "server" "median r/s" "min-max (spread)" "vs nginx" "srv CPU" "CPUs/1k r" "wrk CPU" "starved" "other" "wrk errors (all runs)"
# shellcheck disable=SC2059
printf "$fmt" "----------------------" "----------" "--------------------" "--------" "-------" "---------" \
    "-------" "-------" "-----" "---------------------"
NOISE=0
CLIENT_BOUND=()
for name in "${SERVERS[@]}"; do
    vals=(); cpu_sum=0; req_sum=0; wall_sum=0; wrkc=(); other=0; c=0; r=0; w=0; t=0; n=0; bad=0; starved="?"
    for (( run = 1; run <= RUNS; run++ )); do
        [[ -n ${RPS[$name,$run]:-} ]] || continue
        vals+=("${RPS[$name,$run]}")
        wrkc+=("${WRKCPU[$name,$run]}")
        (( ${OTHER[$name,$run]} > other )) && other=${OTHER[$name,$run]}
        cpu_sum=$(awk -v a="$cpu_sum" -v b="${CPU[$name,$run]}" 'BEGIN { print a + b }')
        wall_sum=$(awk -v a="$wall_sum" -v b="${WALL[$name,$run]}" 'BEGIN { print a + b }')
        req_sum=$(( req_sum + ${REQS[$name,$run]} ))
        read -r ec er ew et en <<<"${ERRS[$name,$run]}"
        c=$(( c + ec )); r=$(( r + er )); w=$(( w + ew )); t=$(( t + et )); n=$(( n + en ))
        [[ ${RC[$name,$run]} == 0 ]] || bad=$(( bad + 1 ))
        sv=${STARVED[$name,$run]}
        if [[ $sv =~ ^[0-9]+$ ]] && { [[ $starved == "?" ]] || (( sv > starved )); }; then starved=$sv; fi
    done
    if (( ${#vals[@]} == 0 )); then
        # shellcheck disable=SC2059
        printf "$fmt" "$name" "-" "no runs" "-" "-" "-" "-" "-" "-" "${DIED[$name]:-}"
        continue
    fi
    read -r med lo hi < <(stats3 "${vals[@]}")
    read -r wrk_med _ _ < <(stats3 "${wrkc[@]}")
    wrk_med=$(printf '%.0f' "$wrk_med")
    if (( wrk_med >= 85 )); then CLIENT_BOUND+=("$name"); fi
    (( other > NOISE )) && NOISE=$other
    spread=$(awk -v m="$med" -v a="$lo" -v b="$hi" \
        'BEGIN { printf "%.0f-%.0f (%s)", a, b, (m > 0 ? sprintf("%.0f%%", 100 * (b - a) / m) : "-") }')
    ratio=$(awk -v m="$med" -v x="${MED[nginx]}" 'BEGIN { if (x > 0) printf "%.2fx", m / x; else print "-" }')
    cpu_pct=$(awk -v c="$cpu_sum" -v w="$wall_sum" 'BEGIN { printf "%.0f%%", (w > 0 ? 100 * c / w : 0) }')
    per_k=$(awk -v c="$cpu_sum" -v q="$req_sum" 'BEGIN { if (q > 0) printf "%.4f", 1000 * c / q; else print "n/a" }')
    errs=""
    (( c )) && errs+="connect $c, "
    (( r )) && errs+="read $r, "
    (( w )) && errs+="write $w, "
    (( t )) && errs+="timeout $t, "
    (( n )) && errs+="non-2xx $n, "
    (( bad )) && errs+="wrk failed $bad×, "
    errs=${errs%, }
    [[ -n ${DIED[$name]:-} ]] && errs+="${errs:+; }SERVER ${DIED[$name]}"
    # shellcheck disable=SC2059
    printf "$fmt" "$name" "$(printf '%.0f' "$med")" "$spread" "$ratio" "$cpu_pct" "$per_k" "${wrk_med}%" "$starved/$CONNS" "${other}%" "${errs:-none}"
done

echo
echo "Columns: median r/s = median of wrk's Requests/sec over the runs; spread = (max-min)/median;"
echo "  srv CPU = server CPU time (user+sys, all threads and processes, from /proc/PID/stat) / wall time of the runs,"
echo "  100% = the whole of CPU $SERVER_CPU (softirq time of the network stack is in no process and not counted);"
echo "  CPUs/1k r = server CPU-seconds per 1,000 requests wrk completed;"
echo "  wrk CPU = wrk's CPU time / wall time (median run; 100% = all of CPU $CLIENT_CPU);"
echo "  starved = wrk connections that had not received one response byte at 80% of a run (ss; worst run);"
echo "  other = CPU time other processes took on CPU $SERVER_CPU or $CLIENT_CPU during a run (/proc/stat user+nice+system"
echo "    minus the server's or wrk's own; worst run kept;"
echo "    a run above 15% is redone, at most twice, ${BENCH_NOISE_RETRIES:-3} redos in all);"
echo "  wrk errors = wrk's socket errors and non-2xx answers; wrk never counts a request that gets no answer at all."
echo "  A server whose srv CPU is well under 100% while wrk CPU is near 100% is limited by the client, not by itself."
if (( ${#CLIENT_BOUND[@]} )); then
    echo
    echo "CLIENT-BOUND: wrk used >= 85% of its CPU against ${CLIENT_BOUND[*]}."
    echo "  Those rows measure wrk as much as the server: a faster server could not show more, so their ratios to"
    echo "  each other are lower bounds."
    echo "  (More client capacity needs more cores than this machine has; BENCH_THREADS only splits CPU $CLIENT_CPU.)"
fi
if (( NOISE > 10 )); then
    echo
    echo "WARNING: other processes took up to ${NOISE}% of a benchmark core during some runs: these numbers are noisy;"
    echo "         run again on an otherwise idle machine (check the 'other' column and the per-run lines)."
fi
echo
echo "Per run (req/s):"
for name in "${SERVERS[@]}"; do
    line=""
    for (( run = 1; run <= RUNS; run++ )); do line+=" $(printf '%9.0f' "${RPS[$name,$run]:-0}")"; done
    printf '  %-22s%s   (%s)\n' "$name" "$line" "${ARGS[$name]}"
done

echo
echo "Response size (headers+body bytes): $(for n in "${SERVERS[@]}"; do printf '%s %s; ' "$n" "${RESP_BYTES[$n]}"; done)"
echo
echo "Notes:"
for model in "${MODEL_LIST[@]}"; do
    case $model in
        sequential)
            echo "  - sequential gets the same $CONNS connections as everyone else, but serves one keep-alive connection"
            echo "    to its end before accepting the next: one wrk connection is served for the whole run, the other"
            echo "    $(( CONNS - 1 )) wait unanswered in the listen backlog (the 'starved' column; wrk reports no error for"
            echo "    them). Its req/s is the request-response rate of ONE connection (latency-bound), not the capacity"
            echo "    for $CONNS concurrent clients; it is run with the same wrk settings so that every row means the same." ;;
        pool)
            echo "  - pool runs with ${ARGS[serverlab-pool]#--model pool }: a worker thread serves one keep-alive connection until"
            echo "    the client leaves, so with the default 8 workers $(( CONNS > 8 ? CONNS - 8 : 0 )) of the $CONNS keep-alive connections would starve"
            echo "    for the whole run. With workers >= connections it is in effect one thread per connection, like threads." ;;
        prefork)
            echo "  - prefork runs with ${ARGS[serverlab-prefork]#--model prefork }: each child process serves one connection at a"
            echo "    time, to its end. Its default is one child per CPU, and under taskset -c $SERVER_CPU that is ONE child: a"
            echo "    sequential server ($(( CONNS - 1 )) connections starved). With workers >= connections every connection has a process." ;;
        async)
            echo "  - async runs tokio with its default worker threads, one per CPU it may use: one, under taskset -c $SERVER_CPU." ;;
        threads)
            if (( CONNS > 1024 )); then
                echo "  - threads runs with its default --max-conns 1024 < $CONNS connections: the surplus waits in the backlog."
            fi ;;
    esac
done
echo "  - nginx: 2 worker processes pinned to one CPU share it; access_log off, open_file_cache on,"
echo "    keepalive_requests raised so it never closes wrk's connections (serverlab has no such limit)."
echo "  - Same page bytes, but nginx's response headers are longer (ETag, Last-Modified, Accept-Ranges)."

echo
echo "serverlab's own counters (the JSON line it prints on SIGTERM) against what wrk and curl completed. A server"
echo "may count up to one more request per connection per wrk run (answered after wrk stopped counting). Its"
echo "'errors' include clients that reset a connection, as wrk does when it closes with a request in flight."
slack=$(( CONNS * (RUNS + 1 + ${BENCH_NOISE_RETRIES:-3} - NOISE_RETRIES) ))
for name in "${SERVERS[@]:1}"; do
    json=$(grep '^{' "$TMP/$name.out" | tail -1 || true)
    seen=$(( ${WARM_REQS[$name]:-0} + ${DISCARDED_REQS[$name]:-0} + ${CURLS[$name]} ))
    for (( run = 1; run <= RUNS; run++ )); do seen=$(( seen + ${REQS[$name,$run]:-0} )); done
    if [[ -z $json ]]; then
        printf '  %-22s NO REPORT (%s)\n' "$name" "${DIED[$name]:-no JSON line on stdout}"
        if [[ -s $TMP/$name.err ]]; then sed 's/^/      stderr: /' "$TMP/$name.err" | tail -5; fi
        continue
    fi
    field() { sed -nE "s/.*\"$1\":([0-9.]+).*/\1/p" <<<"$json" | head -1; }
    served=$(field requests)
    check="ok"
    if [[ -z $served ]]; then
        check="NO requests COUNTER"
    elif (( served < seen )); then
        check="MISMATCH: served fewer than wrk+curl completed"
    elif (( served > seen + slack )); then
        check="MISMATCH: served more than wrk+curl completed + $slack"
    fi
    printf '  %-22s served %s (wrk+curl %s: %s), errors %s, connections %s, peak threads %s, RSS %s KiB,' \
        "$name" "$served" "$seen" "$check" "$(field errors)" "$(field connections)" "$(field peak_threads)" \
        "$(field max_rss_kib)"
    printf ' stopped %ss after SIGTERM%s\n' "${STOP_S[$name]:-?}" "${DIED[$name]:+ (${DIED[$name]})}"
    if [[ -s $TMP/$name.err ]]; then sed 's/^/      stderr: /' "$TMP/$name.err" | tail -5; fi
done
if [[ -s $NG/error.log ]]; then
    echo "nginx error log:"
    tail -5 "$NG/error.log" | sed 's/^/  /'
fi
echo
echo "Took $(( SECONDS - START_S ))s, of which ${BUILD_S}s building serverlab."
