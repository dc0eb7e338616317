#!/usr/bin/env bash
# Runs fjord's standard benchmark scenarios (see BENCHMARKS.md) against
# fresh fjord brokers on free loopback ports with temporary data
# directories, prints a summary table and stops the brokers.
#
#   cargo build --release -p fjord -p fjord-bench
#   crates/bench/run-standard.sh
#
# Environment:
#   FJORD_BIN    broker binary           (default target/release/fjord)
#   BENCH_BIN    fjord-bench binary      (default target/release/fjord-bench)
#   BENCH_TMP    directory in which a temporary work dir is made
#                (default $TMPDIR or /tmp); it needs ~3 GB free
#   KEEP=1       keep data dirs and logs
#   S1_COUNT, S2_COUNT, E2E_COUNT: record counts (see below)
#   MAX_SECS     cap on each produce/consume step (default 25)
#   RESULTS_JSON file to which the JSON lines of all steps are appended
#
# Every step is bounded by a record count and by MAX_SECS, so on a 2-core
# machine the whole script takes about 2-3 minutes.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FJORD_BIN=${FJORD_BIN:-$ROOT/target/release/fjord}
BENCH_BIN=${BENCH_BIN:-$ROOT/target/release/fjord-bench}
S1_COUNT=${S1_COUNT:-3000000}  # 100 B records: 3 M = 6 s at 500k msgs/s
S2_COUNT=${S2_COUNT:-1000000}  # 1 KiB records: 1 GiB = ~6.5 s at 150 MB/s
E2E_COUNT=${E2E_COUNT:-30000}  # at 10k msgs/s: 3 s
MAX_SECS=${MAX_SECS:-25}

for bin in "$FJORD_BIN" "$BENCH_BIN"; do
    if [[ ! -x $bin ]]; then
        echo "run-standard: $bin not found; build with: cargo build --release -p fjord -p fjord-bench" >&2
        exit 2
    fi
done

WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/fjord-bench.XXXXXX")
RESULTS_JSON=${RESULTS_JSON:-$WORK/results.jsonl}
BROKER_PID=""

cleanup() {
    stop_broker
    if [[ ${KEEP:-0} != 1 ]]; then
        rm -rf "$WORK"
    else
        echo "run-standard: kept $WORK" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "== $*" >&2; }

# Microseconds since the epoch are ${EPOCHREALTIME/[.,]/} (bash >= 5);
# expanded inline, never in $(...), so that timing loops do not fork.

port_in_use() {
    # Succeeds when something accepts connections on the port.
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    exec 3>&-
    return 0
}

free_port() {
    local p _
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if [[ $p != "${KAFKA_PORT:-}" ]] && ! port_in_use "$p"; then
            echo "$p"
            return 0
        fi
    done
    echo "run-standard: no free port found" >&2
    return 1
}

# start_broker NAME DATA_DIR [CONFIG_FILE]
# Sets BROKER_PID, KAFKA_PORT, BROKERS, STARTUP_MS.
start_broker() {
    local name=$1 data=$2 config=${3:-}
    KAFKA_PORT=$(free_port)
    local http_port
    http_port=$(free_port)
    BROKERS=127.0.0.1:$KAFKA_PORT
    local args=(broker --data-dir "$data" --listen "$BROKERS" --http "127.0.0.1:$http_port")
    if [[ -n $config ]]; then
        args+=(--config "$config")
    fi
    local t0 t1 now
    t0=${EPOCHREALTIME/[.,]/}
    "$FJORD_BIN" "${args[@]}" >>"$WORK/$name.log" 2>&1 &
    BROKER_PID=$!
    # Tight loop (no fork per try): connect until the port accepts.
    while true; do
        if { exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT"; } 2>/dev/null; then
            t1=${EPOCHREALTIME/[.,]/}
            exec 3>&-
            break
        fi
        if ! kill -0 "$BROKER_PID" 2>/dev/null; then
            echo "run-standard: broker exited during startup; log:" >&2
            tail -20 "$WORK/$name.log" >&2
            BROKER_PID=""
            exit 1
        fi
        now=${EPOCHREALTIME/[.,]/}
        if ((now - t0 > 30000000)); then
            echo "run-standard: broker not serving after 30 s" >&2
            exit 1
        fi
    done
    STARTUP_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
    log "$name: pid $BROKER_PID serving on $BROKERS after $STARTUP_MS ms"
}

stop_broker() {
    if [[ -n $BROKER_PID ]]; then
        local t0=${EPOCHREALTIME/[.,]/}
        kill -TERM "$BROKER_PID" 2>/dev/null || true
        local _
        for _ in $(seq 1 100); do
            kill -0 "$BROKER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$BROKER_PID" 2>/dev/null; then
            echo "run-standard: broker $BROKER_PID did not stop in 10 s; killing" >&2
            kill -KILL "$BROKER_PID" 2>/dev/null || true
        fi
        wait "$BROKER_PID" 2>/dev/null || true
        local t1=${EPOCHREALTIME/[.,]/}
        log "broker $BROKER_PID stopped $(((t1 - t0) / 1000)) ms after SIGTERM"
        BROKER_PID=""
    fi
}

rss_mb() {
    awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$BROKER_PID/status" 2>/dev/null || echo "?"
}

# json_num FILE KEY [SECTION]: first numeric value of "KEY" in the file's
# JSON (after "SECTION" if given). Flat enough for fjord-bench's output.
json_num() {
    local text
    text=$(cat "$1" 2>/dev/null || true)
    if [[ -n ${3:-} ]]; then
        text=${text#*\""$3"\"}
    fi
    grep -o "\"$2\":[-0-9.eE+]*" <<<"$text" | head -1 | cut -d: -f2 || true
}

# bench NAME ARGS...: runs fjord-bench with --json, keeps the JSON in
# $WORK/NAME.json; a failing step is reported, not fatal.
bench() {
    local name=$1
    shift
    log "$name: fjord-bench $*"
    if "$BENCH_BIN" "$@" --json --quiet >"$WORK/$name.json" 2>"$WORK/$name.err"; then
        STATUS[$name]=ok
    else
        STATUS[$name]="FAILED (exit $?)"
        sed 's/^/   /' "$WORK/$name.err" | tail -5 >&2
    fi
    cat "$WORK/$name.json" >>"$RESULTS_JSON"
    sed 's/^/   /' "$WORK/$name.json" >&2
}

fmt() { # fmt VALUE DECIMALS
    if [[ -z ${1:-} ]]; then echo "-"; else printf "%.${2}f" "$1"; fi
}

declare -A STATUS

# --- Broker A: default (durable: fsync before ack) ---
DATA_A=$WORK/data-durable
start_broker durable "$DATA_A"
STARTUP_FRESH=$STARTUP_MS
sleep 1
RSS_IDLE=$(rss_mb)
log "idle RSS after start: $RSS_IDLE MB"

bench s1 produce -b "$BROKERS" -t bench-s1 -p 1 -s 100 --acks all \
    -n "$S1_COUNT" -d "$MAX_SECS"
bench s2 produce -b "$BROKERS" -t bench-s2 -p 16 -s 1024 --acks all \
    -n "$S2_COUNT" -d "$MAX_SECS"
bench s3 consume -b "$BROKERS" -t bench-s2 -d "$MAX_SECS"
bench e2e e2e -b "$BROKERS" -t bench-e2e -p 1 -s 100 --acks all \
    --linger-ms 0 --rate 10000 -n "$E2E_COUNT" -d "$MAX_SECS"
sleep 2
RSS_AFTER=$(rss_mb)
log "idle RSS after the workload: $RSS_AFTER MB"
stop_broker

# Restart on the data just written: start to serving with existing logs.
start_broker durable-restart "$DATA_A"
STARTUP_DATA=$STARTUP_MS
stop_broker
rm -rf "$DATA_A"

# --- Broker B: page-cache mode (fjord.log.flush.before.ack = false) ---
DATA_B=$WORK/data-pagecache
cat >"$WORK/pagecache.toml" <<'EOF'
# Kafka's page-cache durability: acknowledge once written, fsync every
# 10 M messages per partition (Kafka's default is never).
"fjord.log.flush.before.ack" = false
"log.flush.interval.messages" = 10000000
EOF
start_broker pagecache "$DATA_B" "$WORK/pagecache.toml"
bench s2pc produce -b "$BROKERS" -t bench-s2 -p 16 -s 1024 --acks all \
    -n "$S2_COUNT" -d "$MAX_SECS"
bench s3pc consume -b "$BROKERS" -t bench-s2 -d "$MAX_SECS"
stop_broker

# --- Summary ---
# verdict VALUE OP LIMIT: "yes"/"NO" for VALUE >= or <= LIMIT ("-" if unknown).
verdict() {
    if [[ -z ${1:-} || $1 == "?" || ${STEP_OK:-ok} != ok ]]; then
        echo "-"
        return
    fi
    awk -v v="$1" -v op="$2" -v l="$3" \
        'BEGIN { ok = (op == ">=") ? (v + 0 >= l + 0) : (v + 0 <= l + 0); print ok ? "yes" : "NO" }'
}
row() { printf "%-42s %-18s %-18s %-5s %s\n" "$@"; }
echo
row "scenario" "result" "target" "met" "step"
row "--------" "------" "------" "---" "----"
for s in s1 s2 s2pc; do
    f=$WORK/$s.json
    msgs=$(json_num "$f" msgs_per_sec)
    mbs=$(json_num "$f" mb_per_sec)
    p99=$(json_num "$f" p99_ms latency)
    STEP_OK=${STATUS[$s]}
    case $s in
    s1)
        row "1: produce 100 B, 1 partition, acks=all" "$(fmt "$msgs" 0) msgs/s" ">= 500000 msgs/s" \
            "$(verdict "$msgs" ">=" 500000)" "${STATUS[$s]}"
        ;;
    s2)
        row "2: produce 1 KiB, 16 partitions, acks=all" "$(fmt "$mbs" 1) MB/s" ">= 150 MB/s" \
            "$(verdict "$mbs" ">=" 150)" "${STATUS[$s]}"
        ;;
    s2pc)
        row "2: same, page-cache mode" "$(fmt "$mbs" 1) MB/s" ">= 300 MB/s" \
            "$(verdict "$mbs" ">=" 300)" "${STATUS[$s]}"
        ;;
    esac
    row "   ($(fmt "$msgs" 0) msgs/s, $(fmt "$mbs" 1) MB/s, p99 $(fmt "$p99" 1) ms)" "" "" "" ""
done
for s in s3 s3pc; do
    f=$WORK/$s.json
    mbs=$(json_num "$f" mb_per_sec)
    msgs=$(json_num "$f" msgs_per_sec)
    STEP_OK=${STATUS[$s]}
    label="3: consume hot log (16 x 1 KiB)"
    [[ $s == s3pc ]] && label="3: same, from the page-cache broker"
    row "$label" "$(fmt "$mbs" 1) MB/s" ">= 1024 MB/s" "$(verdict "$mbs" ">=" 1024)" "${STATUS[$s]}"
    row "   ($(fmt "$msgs" 0) msgs/s)" "" "" "" ""
done
STEP_OK=ok
row "4: idle RSS after start" "$RSS_IDLE MB" "<= 20 MB" "$(verdict "$RSS_IDLE" "<=" 20)" ""
row "   idle RSS after the workload" "$RSS_AFTER MB" "" "" ""
row "5: start to serving (fresh data dir)" "$STARTUP_FRESH ms" "<= 100 ms" \
    "$(verdict "$STARTUP_FRESH" "<=" 100)" ""
row "   start to serving (with the data above)" "$STARTUP_DATA ms" "" "" ""
e2e_p50=$(json_num "$WORK/e2e.json" p50_ms e2e_latency)
e2e_p99=$(json_num "$WORK/e2e.json" p99_ms e2e_latency)
row "e2e 10k msgs/s, 100 B, acks=all" "p50 $(fmt "$e2e_p50" 2) ms" "" "" "${STATUS[e2e]}"
row "   " "p99 $(fmt "$e2e_p99" 2) ms" "" "" ""
echo
echo "MB = 2^20 bytes; produce p99 is enqueue -> delivery report at full load."
if [[ ${KEEP:-0} == 1 || $RESULTS_JSON != "$WORK"/* ]]; then
    echo "JSON results: $RESULTS_JSON"
fi
for s in "${!STATUS[@]}"; do
    if [[ ${STATUS[$s]} != ok ]]; then
        echo "run-standard: step $s failed (see above)" >&2
        exit 1
    fi
done
