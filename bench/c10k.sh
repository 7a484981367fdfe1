#!/usr/bin/env bash
# Benchmark (not a test): memory per idle connection. Each serverlab concurrency model (echo protocol) and then
# nginx is made to hold CONNS (10,000) idle connections, one server at a time, and the script reports how many
# connections the server really held and what they cost it: proportional set size (PSS) and RSS of the server's
# processes before and while holding them, the peak RSS, and the kernel's TCP socket memory (/proc/net/sockstat).
#
#   bench/c10k.sh                                   # every model, then nginx, 10,000 connections each
#   CONNS=5000 MODELS="poll async" bench/c10k.sh
#   C10K_NGINX=0 C10K_BUILD=0 bench/c10k.sh         # no nginx; use the binaries already in target/release
#
# Goal (from the issue): <= 2 KiB per connection for `poll` and `async` (a minimal tokio echo server needs about
# 1.8 KiB). `sequential`, `threads`, `pool` and `prefork` serve only as many connections at once as their thread
# or process caps allow; past the cap they stop accepting, the rest wait in the listen backlog, and past the
# backlog the kernel drops the SYNs. They must survive that: the table says how many they held.
#
# Per server: start it and measure its baseline; start the client (`serverlab load --hold CONNS`, which opens
# CONNS connections a batch at a time, has each one do one exchange with the server, then holds them all HOLD
# seconds, and writes its result as JSON when it ends); once it says "holding" on stderr (every exchange finished
# or timed out) measure the server again; wait for the client to leave; SIGTERM the server and read its exit
# report. Every server gets at most BUDGET (60) seconds from start to stop, enforced with timeout(1) and a kill.
#
# The exchange is the protocol's usual request: an echo message for serverlab's echo servers, one keep-alive
# HTTP request ("GET /", answered 204) for nginx. An idle keep-alive connection is nginx's equivalent of an idle
# echo connection after its first exchange.
#
# Measures:
#   held       connections the server had accepted: server-side ESTABLISHED sockets on its port that a process
#              owns (ss -p). "queued" = ESTABLISHED ones still in the listen backlog, not accepted by anyone.
#   answered   connections that got their echo (serverlab) or HTTP response (nginx): actually served.
#   PSS        sum of Pss from /proc/PID/smaps_rollup over the server's processes (prefork: parent + children;
#              nginx: master + workers): shared pages counted once. KiB/conn = (held - base) / held connections.
#   RSS        sum of VmRSS, likewise (shared pages counted in every process). Peak = sum of VmHWM just before
#              the stop, i.e. the peak RSS of the whole run; peak/conn = (peak - base RSS) / held.
#   TCP mem    /proc/net/sockstat "TCP ... mem" (pages of socket buffers, machine-wide, both ends of loopback),
#              per established server-side socket (accepted or queued: the kernel pays for both).
#   slab       SUnreclaim from /proc/meminfo (sockets, files, epoll items; machine-wide, both ends, noisy),
#              likewise per established server-side socket.
#   overflow   TcpExt ListenOverflows (/proc/net/netstat): SYNs dropped because an accept queue was full.
#   threads    the server's peak_threads (serverlab's exit report; prefork: the parent's); nginx: all threads.
#
# Everything it starts runs under a temporary directory and is stopped and removed on exit, including Ctrl-C.
# The system's nginx config, service and port 80 are never touched.
set -euo pipefail

# ---------------------------------------------------------------------------------------------------------------
# Settings (environment overrides)
# ---------------------------------------------------------------------------------------------------------------
MODELS="${MODELS:-sequential threads pool poll async prefork}"
CONNS="${CONNS:-10000}"               # connections per server
HOLD="${C10K_HOLD:-8}"                # seconds the client holds its connections after the exchange
BUDGET="${C10K_BUDGET:-60}"           # seconds per server, start to stop
SETTLE="${C10K_SETTLE:-1}"            # seconds between the end of the exchange and the measurement
NGINX_ON="${C10K_NGINX:-1}"           # 0 = no nginx
BUILD="${C10K_BUILD:-1}"              # 1 = cargo build --release --locked first
TIMEOUT="${C10K_TIMEOUT:-5}"          # seconds for each connect, and for each exchange, of the client
GOAL_KIB="${C10K_GOAL_KIB:-2}"        # KiB per connection for poll and async
GOAL_MODELS="poll async"
# Extra flags for one model: C10K_ARGS_<model>="--flag value" (e.g. C10K_ARGS_threads="--max-conns 20000").

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${SERVERLAB_BIN:-$ROOT/target/release/serverlab}"

die() { echo "c10k: $*" >&2; exit 1; }
say() { echo "== $*"; }

for v in CONNS HOLD BUDGET SETTLE TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
(( CONNS >= 1 )) || die "CONNS must be >= 1"
(( TIMEOUT >= 1 )) || die "C10K_TIMEOUT must be >= 1"
(( BUDGET >= 30 )) || die "C10K_BUDGET must be at least 30 s (connects + exchange timeout + hold)"
(( HOLD >= SETTLE + 2 )) || die "C10K_HOLD must exceed C10K_SETTLE by 2 s or more (the measurement needs time)"
read -r -a MODEL_LIST <<<"$MODELS"

# ---------------------------------------------------------------------------------------------------------------
# Process bookkeeping and cleanup
# ---------------------------------------------------------------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/c10k.XXXXXX")"
PIDS=()                  # every process this script started that may still run
CREATED_POLICY_RC_D=""

# Whether a process is alive (a zombie, exited but not yet reaped, is not).
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ -n $stat && ${stat:0:1} != Z ]]
}

# Live descendants of processes, children first.
descendants() {
    local pid child
    for pid in "$@"; do
        for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
            echo "$child"
            descendants "$child"
        done
    done
}

# A process and its live descendants.
tree() { alive "$1" && echo "$1"; descendants "$1"; }

# Sends TERM to the given processes and their descendants, waits up to $1 seconds, then KILLs what is left.
# Returns 1 if something had to be killed.
stop_processes() {
    local grace=$1; shift
    local all=() pid i left killed=0
    for pid in "$@"; do
        [[ -n $pid ]] || continue
        all+=("$pid")
        mapfile -t -O "${#all[@]}" all < <(descendants "$pid")
    done
    (( ${#all[@]} )) || return 0
    for pid in "${all[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for (( i = 0; i < grace * 10; i++ )); do
        left=0
        for pid in "${all[@]}"; do if alive "$pid"; then left=1; break; fi; done
        (( left )) || break
        sleep 0.1
    done
    for pid in "${all[@]}"; do
        if alive "$pid"; then
            kill -KILL "$pid" 2>/dev/null || true
            killed=1
        fi
    done
    for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
    return $(( killed ))
}

forget() {  # removes pids from PIDS
    local keep=() p q drop
    for p in "${PIDS[@]}"; do
        drop=0
        for q in "$@"; do [[ $p == "$q" ]] && drop=1; done
        (( drop )) || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if (( ${#PIDS[@]} )); then stop_processes 3 "${PIDS[@]}" || true; fi
    if [[ -n $CREATED_POLICY_RC_D ]]; then rm -f /usr/sbin/policy-rc.d; fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------------------------
# 1. Tools: serverlab built in release (the servers and the client), nginx from Debian
# ---------------------------------------------------------------------------------------------------------------
find_nginx() { command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true; }
NGINX=""
if [[ $NGINX_ON == 1 ]]; then
    NGINX="$(find_nginx)"
    missing=()
    [[ -n $NGINX ]] || missing+=(nginx)
    if (( ${#missing[@]} )); then
        (( EUID == 0 )) && command -v apt-get >/dev/null 2>&1 \
            || die "missing: ${missing[*]}; install them (Debian: apt-get install nginx) or set C10K_NGINX=0"
        say "installing ${missing[*]} from Debian's packages"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        pkgs=()
        for m in "${missing[@]}"; do
            if [[ $m == nginx ]]; then
                # nginx-light on older releases; plain nginx (the core, modules split out) on bookworm and later.
                # grep reads it all: `grep -q` quits at the first match, and under pipefail the SIGPIPE it leaves
                # apt-cache fails the test now and then.
                for p in nginx-light nginx; do
                    if apt-cache policy "$p" 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null; then pkgs+=("$p"); break; fi
                done
            else
                pkgs+=("$m")
            fi
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
fi

if [[ $BUILD == 1 ]]; then
    say "building serverlab (cargo build --release --locked)"
    if ! (cd "$ROOT" && cargo build --release --locked --quiet) >"$TMP/build.log" 2>&1; then
        cat "$TMP/build.log" >&2
        [[ -x $BIN ]] || die "cargo build failed and there is no $BIN"
        echo "c10k: WARNING: cargo build failed; using the existing (possibly stale) binary" >&2
    fi
fi
[[ -x $BIN ]] || die "no serverlab binary at $BIN"
command -v ss >/dev/null 2>&1 || die "ss (iproute2) is needed to count the connections a server holds"
command -v timeout >/dev/null 2>&1 || die "timeout (coreutils) is needed"

# ---------------------------------------------------------------------------------------------------------------
# Measuring helpers
# ---------------------------------------------------------------------------------------------------------------
now_ms() { local t=${EPOCHREALTIME/./}; echo $(( t / 1000 )); }

# Sums of Pss, VmRSS, VmHWM (KiB) and Threads over the given processes: "pss rss hwm threads".
mem_of() {
    local pid pss=0 rss=0 hwm=0 thr=0 v key
    for pid in "$@"; do
        v=$(awk '/^Pss:/ { print $2; exit }' "/proc/$pid/smaps_rollup" 2>/dev/null) && pss=$(( pss + ${v:-0} ))
        while read -r key v _; do
            case $key in
                VmRSS:) rss=$(( rss + v )) ;;
                VmHWM:) hwm=$(( hwm + v )) ;;
                Threads:) thr=$(( thr + v )) ;;
            esac
        done < <(cat "/proc/$pid/status" 2>/dev/null || true)
    done
    echo "$pss $rss $hwm $thr"
}

# /proc/net/sockstat TCP: "mem_pages time_wait inuse".
sockstat_tcp() {
    awk '$1 == "TCP:" { for (i = 2; i < NF; i += 2) v[$i] = $(i + 1); print v["mem"] + 0, v["tw"] + 0, v["inuse"] + 0 }' \
        /proc/net/sockstat
}

slab_unreclaim_kib() { awk '$1 == "SUnreclaim:" { print $2 }' /proc/meminfo; }

# TcpExt ListenOverflows: SYNs dropped because a listen socket's accept queue was full (machine-wide).
listen_overflows() {
    awk '$1 == "TcpExt:" { if (!h) { for (i = 2; i <= NF; i++) k[i] = $i; h = 1; next }
                           for (i = 2; i <= NF; i++) if (k[i] == "ListenOverflows") print $i }' /proc/net/netstat
}

# Server-side sockets on port $1: "established accepted queued".
# Established = every ESTABLISHED socket whose local port is $1 (the client's ends have it as remote port);
# accepted = those that some process holds as a file descriptor; queued = the listen sockets' accept queues.
conn_counts() {
    local port=$1 est acc q
    est=$(ss -Htn state established "( sport = :$port )" 2>/dev/null | wc -l)
    acc=$(ss -Htnp state established "( sport = :$port )" 2>/dev/null | grep -c 'users:(' || true)
    q=$(ss -Hltn "( sport = :$port )" 2>/dev/null | awk '{ q += $2 } END { print q + 0 }')
    echo "$est $acc $q"
}

# Value of a numeric or string field in a JSON file (the first occurrence).
json_field() {
    sed -nE "s/.*\"$1\": *\"?([^,\"}]*)\"?.*/\1/p" "$2" | head -1
}

# The failures of a `load --json` result by kind, "kind:n,..." (those that happened).
json_errors() {
    awk '/"errors": \{/ { on = 1; next } on && /\}/ { exit }
         on { gsub(/[",:]/, ""); if ($2 > 0) { printf "%s%s:%s", sep, $1, $2; sep = "," } }' "$1"
}

kib_per() {  # $1 KiB over $2 connections
    awk -v k="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.2f", k / n; else print "-" }'
}

free_port() {
    local port hex
    while :; do
        port=$(( 20000 + RANDOM % 12000 ))   # below the usual ephemeral range (32768-60999)
        hex=$(printf ':%04X ' "$port")
        grep -qi "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null || { echo "$port"; return 0; }
    done
}

# ---------------------------------------------------------------------------------------------------------------
# 2. Servers
# ---------------------------------------------------------------------------------------------------------------
SRV_PID=""; SRV_PORT=""; SRV_NOTE=""

start_serverlab() {
    local model=$1 out=$2 var extra i
    var="C10K_ARGS_${model//-/_}"
    extra=${!var:-}
    # shellcheck disable=SC2086  # $extra is a list of flags
    "$BIN" serve --proto echo --model "$model" --listen 127.0.0.1:0 --log-level warn --drain-timeout 1s $extra \
        >"$out.out" 2>"$out.err" &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    SRV_PORT=""
    for (( i = 0; i < 200; i++ )); do
        SRV_PORT=$(head -1 "$out.out" 2>/dev/null | sed -nE 's/^listening on 127\.0\.0\.1:([0-9]+) .*/\1/p')
        [[ -n $SRV_PORT ]] && break
        alive "$SRV_PID" || break
        sleep 0.05
    done
    SRV_NOTE="${extra:+$extra}"
    [[ -n $SRV_PORT ]]
}

NG="$TMP/nginx"
write_nginx_conf() {
    local user=""
    (( EUID == 0 )) && user="user nobody nogroup;"   # workers drop root, as nginx does by default
    cat >"$NG/nginx.conf" <<EOF
# Written by bench/c10k.sh for one benchmark run; removed when it ends.
$user
daemon off;
master_process on;
worker_processes 2;
worker_rlimit_nofile 20000;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events {
    use epoll;
    worker_connections 20000;
}
http {
    access_log off;
    server_tokens off;
    client_header_timeout 60s;
    keepalive_timeout 60s;
    client_body_temp_path $NG/tmp/body;
    proxy_temp_path $NG/tmp/proxy;
    fastcgi_temp_path $NG/tmp/fastcgi;
    uwsgi_temp_path $NG/tmp/uwsgi;
    scgi_temp_path $NG/tmp/scgi;
    server {
        listen 127.0.0.1:$1 backlog=1024;   # serverlab's default backlog
        location / { return 204; }
    }
}
EOF
}

start_nginx() {
    local out=$1 attempt i
    mkdir -p "$NG/tmp"
    chmod 755 "$TMP" "$NG"
    for attempt in 1 2 3; do
        SRV_PORT=$(free_port)
        write_nginx_conf "$SRV_PORT"
        "$NGINX" -t -q -p "$NG/" -e "$NG/error.log" -c "$NG/nginx.conf" 2>"$out.t.err" \
            || { cat "$out.t.err" >&2; return 1; }
        "$NGINX" -p "$NG/" -e "$NG/error.log" -c "$NG/nginx.conf" >"$out.out" 2>"$out.err" &
        SRV_PID=$!
        PIDS+=("$SRV_PID")
        for (( i = 0; i < 100; i++ )); do
            if ss -Hltn "( sport = :$SRV_PORT )" 2>/dev/null | grep -q . \
                && [[ $(descendants "$SRV_PID" | wc -l) -ge 2 ]]; then
                SRV_NOTE="$("$NGINX" -v 2>&1 | sed 's/.*: //'), 2 workers"
                return 0
            fi
            alive "$SRV_PID" || break
            sleep 0.05
        done
        echo "c10k: nginx did not come up on port $SRV_PORT (attempt $attempt):" >&2
        cat "$out.err" "$NG/error.log" >&2 2>/dev/null || true
        stop_processes 3 "$SRV_PID" || true
        forget "$SRV_PID"
    done
    return 1
}

# ---------------------------------------------------------------------------------------------------------------
# 3. One server at a time
# ---------------------------------------------------------------------------------------------------------------
declare -A R      # results: R[name,key]
SERVERS=()
read -r PORT_LO PORT_HI </proc/sys/net/ipv4/ip_local_port_range

run_server() {
    local name=$1 kind=$2 out="$TMP/$1" t0 deadline left cpid crc=0 srv_rc=0 i line target
    local sk0 sk1 slab0 slab1 ovf0 hwm1 pids
    t0=$(now_ms)
    deadline=$(( t0 + BUDGET * 1000 ))
    SERVERS+=("$name")
    R[$name,status]="ok"

    if [[ $kind == nginx ]]; then
        start_nginx "$out" || { R[$name,status]="did not start"; echo "c10k: $name did not start" >&2; return 0; }
    else
        if ! start_serverlab "${name#serverlab-}" "$out"; then
            cat "$out.out" "$out.err" >&2 2>/dev/null || true
            R[$name,status]="did not start"
            stop_processes 2 "$SRV_PID" || true
            forget "$SRV_PID"
            return 0
        fi
    fi
    R[$name,note]=$SRV_NOTE
    sleep 0.5   # let it settle (prefork children, nginx workers, runtimes) before the baseline

    mapfile -t pids < <(tree "$SRV_PID")
    read -r "R[$name,pss0]" "R[$name,rss0]" _ "R[$name,thr0]" < <(mem_of "${pids[@]}")
    read -r sk0 "R[$name,tw0]" _ < <(sockstat_tcp)
    slab0=$(slab_unreclaim_kib)
    ovf0=$(listen_overflows)
    R[$name,procs]=${#pids[@]}
    say "$name: listening on 127.0.0.1:$SRV_PORT (pid $SRV_PID, ${#pids[@]} process(es)${SRV_NOTE:+; $SRV_NOTE});" \
        "baseline PSS ${R[$name,pss0]} KiB, RSS ${R[$name,rss0]} KiB; TIME_WAIT sockets now: ${R[$name,tw0]}"

    # The client gets what is left of the budget, minus a few seconds for stopping the server.
    left=$(( (deadline - $(now_ms)) / 1000 - 6 ))
    # The protocol's usual exchange on each connection: an echo message, or one keep-alive GET for nginx.
    target="127.0.0.1:$SRV_PORT"
    [[ $kind != nginx ]] || target="http://$target/"
    timeout -k 2 "$left" "$BIN" load "$target" --hold "$CONNS" --duration "${HOLD}s" --timeout "${TIMEOUT}s" \
        --no-progress --json "$out.client" >"$out.client.out" 2>"$out.client.err" &
    cpid=$!
    PIDS+=("$cpid")

    # "holding" on its stderr marks the end of the exchanges: every connection the client will ever hold is open.
    while :; do
        if grep -q '^holding' "$out.client.err" 2>/dev/null; then break; fi
        alive "$cpid" || break
        (( $(now_ms) < deadline )) || break
        sleep 0.1
    done
    if grep -q '^holding' "$out.client.err" 2>/dev/null; then
        sleep "$SETTLE"
        mapfile -t pids < <(tree "$SRV_PID")
        read -r "R[$name,est]" "R[$name,held]" "R[$name,queued]" < <(conn_counts "$SRV_PORT")
        read -r "R[$name,pss1]" "R[$name,rss1]" hwm1 "R[$name,thr1]" < <(mem_of "${pids[@]}")
        R[$name,hwm]=$hwm1
        read -r sk1 _ _ < <(sockstat_tcp)
        slab1=$(slab_unreclaim_kib)
        R[$name,overflows]=$(( $(listen_overflows) - ovf0 ))
        R[$name,sockmem]=$(( (sk1 - sk0) * 4 ))
        R[$name,slab]=$(( slab1 - slab0 ))
        R[$name,procs1]=${#pids[@]}
        say "$name: client: $(grep -m1 '^holding' "$out.client.err")"
        say "$name: server side: ${R[$name,held]} accepted + ${R[$name,queued]} in the backlog" \
            "(${R[$name,est]} established); PSS ${R[$name,pss1]} KiB, RSS ${R[$name,rss1]} KiB," \
            "threads ${R[$name,thr1]}, processes ${R[$name,procs1]}"
    else
        R[$name,status]="client never held"
        cat "$out.client.err" >&2 2>/dev/null || true
    fi

    # Wait for the client to leave (bounded by its timeout), then read its result and stop the server.
    wait "$cpid" || crc=$?
    forget "$cpid"
    if [[ -s $out.client ]]; then
        R[$name,connected]=$(json_field opened "$out.client")
        R[$name,answered]=$(json_field answered "$out.client")
        R[$name,errors]=$(json_errors "$out.client")
        grep -E '^  (opened|answered|open time|held) ' "$out.client.out" | sed "s/^ */== $name: client: /" || true
    else
        R[$name,status]="client gave no result"
    fi
    if (( crc == 124 || crc == 137 )); then
        R[$name,status]="client timed out"
    elif (( crc != 0 )); then
        R[$name,status]="client exit $crc"
        head -3 "$out.client.err" >&2 2>/dev/null || true
    fi
    if [[ $(descendants "$cpid" | wc -l) -gt 0 ]]; then stop_processes 1 "$cpid" || true; fi

    if alive "$SRV_PID"; then
        mapfile -t pids < <(tree "$SRV_PID")
        # Peak RSS: VmHWM now (after the whole run), but never below what was seen while holding (the kernel
        # updates its high-water mark lazily, so VmHWM can lag behind a larger VmRSS seen earlier).
        read -r _ _ hwm1 _ < <(mem_of "${pids[@]}")
        (( hwm1 >= ${R[$name,hwm]:-0} )) && R[$name,hwm]=$hwm1
        (( ${R[$name,rss1]:-0} <= ${R[$name,hwm]:-0} )) || R[$name,hwm]=${R[$name,rss1]}
        kill -TERM "$SRV_PID" 2>/dev/null || true
        # Up to the rest of the budget (at least 3 s) for a graceful stop, then everything is killed.
        left=$(( (deadline - $(now_ms)) / 1000 ))
        (( left >= 3 )) || left=3
        for (( i = 0; i < left * 10; i++ )); do alive "$SRV_PID" || break; sleep 0.1; done
        if alive "$SRV_PID" || [[ $(descendants "$SRV_PID" | wc -l) -gt 0 ]]; then
            [[ ${R[$name,status]} != ok ]] || R[$name,status]="killed: no stop within ${left}s of SIGTERM"
            for i in "${pids[@]}"; do kill -KILL "$i" 2>/dev/null || true; done
            stop_processes 1 "$SRV_PID" || true
        fi
        wait "$SRV_PID" || srv_rc=$?
    else
        wait "$SRV_PID" || srv_rc=$?
        [[ ${R[$name,status]} != ok ]] || R[$name,status]="server died (exit $srv_rc)"
    fi
    forget "$SRV_PID"
    if (( srv_rc != 0 )) && [[ ${R[$name,status]} == ok ]]; then R[$name,status]="server exit $srv_rc"; fi
    R[$name,time]=$(awk -v ms=$(( $(now_ms) - t0 )) 'BEGIN { printf "%.1f", ms / 1000 }')

    if [[ $kind != nginx ]]; then
        line=$(grep '^{' "$out.out" | tail -1 || true)
        if [[ -n $line ]]; then
            echo "$line" >"$out.report"
            R[$name,peak_threads]=$(json_field peak_threads "$out.report")
            R[$name,peak_open]=$(json_field peak_open_connections "$out.report")
            R[$name,max_rss]=$(json_field max_rss_kib "$out.report")
        else
            [[ ${R[$name,status]} != ok ]] || R[$name,status]="no exit report"
        fi
        if grep -qiE 'panic|fatal|error' "$out.err" 2>/dev/null; then
            say "$name: server stderr:"; grep -iE 'panic|fatal|error' "$out.err" | head -5 | sed 's/^/   /'
        fi
    else
        R[$name,peak_threads]=${R[$name,thr1]:-}
        grep -E '\[(alert|emerg|crit)\]' "$NG/error.log" 2>/dev/null | head -5 | sed 's/^/   nginx: /' || true
    fi
    say "$name: ${R[$name,status]} after ${R[$name,time]} s"
}

say "$CONNS idle connections per server, held ${HOLD}s, at most ${BUDGET}s per server; models: ${MODEL_LIST[*]}" \
    "$( [[ $NGINX_ON == 1 ]] && echo "+ nginx")"
say "ephemeral ports $PORT_LO-$PORT_HI ($(( PORT_HI - PORT_LO + 1 )) ports; a port in TIME_WAIT can still connect" \
    "to another server's port, and every server listens on a new one)"
for model in "${MODEL_LIST[@]}"; do
    run_server "serverlab-$model" serverlab
    sleep 1
done
[[ $NGINX_ON != 1 ]] || run_server nginx nginx

# ---------------------------------------------------------------------------------------------------------------
# 4. Report
# ---------------------------------------------------------------------------------------------------------------
g() { local v=${R[$1,$2]:-}; echo "${v:--}"; }
echo
echo "Connections ($CONNS asked per server). connected: by the client; held: accepted by the server (ss -p);"
echo "queued: waiting in its listen backlog; answered: got their echo / HTTP answer; peak_op: the server's own"
echo "peak_open_connections; overflow: SYNs dropped on full accept queues (TcpExt ListenOverflows, machine-wide)"
printf '%-20s %9s %7s %7s %9s %7s %8s %7s %7s %6s  %-14s %s\n' \
    server connected held queued answered peak_op overflow threads time_s procs status "client errors"
for s in "${SERVERS[@]}"; do
    printf '%-20s %9s %7s %7s %9s %7s %8s %7s %7s %6s  %-14s %s\n' "$s" \
        "$(g "$s" connected)" "$(g "$s" held)" "$(g "$s" queued)" "$(g "$s" answered)" "$(g "$s" peak_open)" \
        "$(g "$s" overflows)" "$(g "$s" peak_threads)" "$(g "$s" time)" "$(g "$s" procs1)" "$(g "$s" status)" \
        "$(g "$s" errors)"
done
echo
echo "Memory (KiB). Process memory: per conn = growth / held (accepted) connections. Kernel: TCP_mem (sockstat mem"
echo "pages x 4) and slab (SUnreclaim) growth are machine-wide, count both ends of loopback and queued connections"
echo "too, so they are per established server-side socket (/est); slab is noisy while other work runs."
printf '%-20s %7s %9s %9s %8s %9s %9s %8s %9s %8s %8s %8s %10s\n' \
    server held PSS_base PSS_held PSS/conn RSS_base RSS_held RSS/conn peak_RSS peak/conn TCP_mem mem/est slab/est
for s in "${SERVERS[@]}"; do
    held=${R[$s,held]:-0}
    pss_pc="-"; rss_pc="-"; peak_pc="-"; sock_pc="-"; slab_pc="-"
    if [[ -n ${R[$s,pss1]:-} ]]; then
        pss_pc=$(kib_per $(( R[$s,pss1] - R[$s,pss0] )) "$held")
        rss_pc=$(kib_per $(( R[$s,rss1] - R[$s,rss0] )) "$held")
        sock_pc=$(kib_per "${R[$s,sockmem]}" "${R[$s,est]:-0}")
        slab_pc=$(kib_per "${R[$s,slab]}" "${R[$s,est]:-0}")
    fi
    [[ -z ${R[$s,hwm]:-} ]] || peak_pc=$(kib_per $(( R[$s,hwm] - R[$s,rss0] )) "$held")
    R[$s,pss_pc]=$pss_pc; R[$s,peak_pc]=$peak_pc
    printf '%-20s %7s %9s %9s %8s %9s %9s %8s %9s %8s %8s %8s %10s\n' "$s" "$(g "$s" held)" \
        "$(g "$s" pss0)" "$(g "$s" pss1)" "$pss_pc" "$(g "$s" rss0)" "$(g "$s" rss1)" "$rss_pc" \
        "$(g "$s" hwm)" "$peak_pc" "$(g "$s" sockmem)" "$sock_pc" "$slab_pc"
done
echo "(Per-connection figures of a server that held only a few connections are noise: a base PSS moves by tens"
echo " or hundreds of KiB when other processes map the same files, e.g. another serverlab or nginx starting.)"
echo
echo "Goal: <= $GOAL_KIB KiB per connection (PSS growth / held) for ${GOAL_MODELS// / and } holding all $CONNS connections"
for m in $GOAL_MODELS; do
    s="serverlab-$m"
    [[ -n ${R[$s,status]:-} ]] || continue
    verdict=PASS; why=""
    if [[ ${R[$s,held]:-0} -lt $CONNS || ${R[$s,answered]:-0} -lt $CONNS ]]; then
        verdict=FAIL; why="held ${R[$s,held]:-0} / answered ${R[$s,answered]:-0} of $CONNS"
    elif [[ ${R[$s,pss_pc]} == - ]] || awk -v v="${R[$s,pss_pc]}" -v g="$GOAL_KIB" 'BEGIN { exit !(v > g) }'; then
        verdict=FAIL; why="${R[$s,pss_pc]} KiB/conn"
    fi
    [[ ${R[$s,status]} == ok ]] || { verdict=FAIL; why="${why:+$why; }${R[$s,status]}"; }
    printf '  %-10s %s KiB/conn PSS, %s KiB/conn peak RSS, %s held -> %s%s\n' "$m" "${R[$s,pss_pc]}" \
        "${R[$s,peak_pc]}" "${R[$s,held]:-0}" "$verdict" "${why:+ ($why)}"
done
