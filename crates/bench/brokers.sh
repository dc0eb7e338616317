#!/usr/bin/env bash
# Compares Kafka-compatible brokers side by side (issue 16): the same
# fjord-bench workloads against each broker kind, ROUNDS interleaved rounds
# with the order of the kinds rotated every round, a fresh broker (fresh
# data directory) per round and kind, so machine noise hits every kind alike.
#
#   crates/bench/brokers.sh
#   ROUNDS=5 KINDS="fjord fjord-pagecache tansu mock" TANSU_BIN=... crates/bench/brokers.sh
#
# Workloads per round and kind, in this order, all acks=all, over loopback:
#   1. S1_COUNT x 100 B records -> 1 partition, linger 5 ms, batch 1 MB:
#      msgs/s, broker CPU-s of the run and CPU-us per record;
#   2. S2_COUNT x 1 KiB records -> 16 partitions: MB/s, broker CPU-s per GB;
#   3. consume that topic from the start twice, the 2nd pass (hot page
#      cache) reported: MB/s;
#   4. RATE records/s for RATE_SECS s, linger 0 (one record per request),
#      100 B -> 1 partition: achieved rate, latency p50/p99 (send -> ack),
#      broker CPU-us per produce request;
#   5. the broker's RSS after start, idle 1 s, and its peak (VmHWM) after
#      the runs, MiB.
# Broker CPU is user + system time from /proc/PID/stat (fjord-bench
# --broker-pid), so any broker process on this machine can be measured.
# Prints a line per run and a table of medians with each kind's ratio to
# the first kind of KINDS.
#
# Broker kinds (KINDS, default "fjord fjord-pagecache tansu mock"):
#   fjord            FJORD_BIN (default target/release/fjord), fsync before
#                    ack (fjord's default);
#   fjord-pagecache  the same binary with fjord.log.flush.before.ack = false
#                    (acks from the page cache, Kafka's behaviour);
#   before, before-pagecache
#                    the same two with BEFORE_BIN, an older fjord build: a
#                    change's before/after ratios from the same run;
#   tansu            TANSU_BIN, Tansu with its in-memory storage engine
#                    (nothing durable); skipped when TANSU_BIN is unset;
#   mock             librdkafka's mock cluster inside the benchmark client
#                    (-X test.mock.num.brokers=1): no broker process, so no
#                    broker CPU or RSS, and no consume (a second client would
#                    get a new, empty mock); the client's own ceiling.
# The fjord kinds run without the schema registry (--schema-registry off).
#
# Environment: ROUNDS (3), S1_COUNT (2000000), S2_COUNT (1000000),
# RATE (10000), RATE_SECS (5), KINDS, FJORD_BIN, BEFORE_BIN, TANSU_BIN, BENCH_BIN
# (target/release/fjord-bench), STEP_SECS (each fjord-bench run is stopped
# after this many seconds, default 300), BENCH_TMP (where the temporary
# work directory is made; needs about S2_COUNT KiB + S1_COUNT x 150 B free),
# KEEP=1 (keep the work directory: broker logs, every run's JSON).
# Everything listens on 127.0.0.1 only; a broker found listening on any
# other address stops the script. Exit status 0 when every run succeeded.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FJORD_BIN=${FJORD_BIN:-$ROOT/target/release/fjord}
BENCH=${BENCH_BIN:-$ROOT/target/release/fjord-bench}
TANSU_BIN=${TANSU_BIN:-}
ROUNDS=${ROUNDS:-3}
S1=${S1_COUNT:-2000000}
S2=${S2_COUNT:-1000000}
RATE=${RATE:-10000}
RATE_SECS=${RATE_SECS:-5}
STEP_SECS=${STEP_SECS:-300}
read -r -a ASKED <<<"${KINDS:-fjord fjord-pagecache tansu mock}"

die() { echo "brokers.sh: $*" >&2; exit 2; }
[[ -x $BENCH ]] || die "$BENCH not found; build it: cargo build --release -p fjord-bench"
KIND_LIST=()
for kind in "${ASKED[@]}"; do
    case $kind in
        fjord | fjord-pagecache)
            [[ -x $FJORD_BIN ]] || die "$FJORD_BIN not found (FJORD_BIN); build it: cargo build --release -p fjord" ;;
        before | before-pagecache)
            [[ -n $BEFORE_BIN && -x $BEFORE_BIN ]] || die "kind $kind needs BEFORE_BIN, an older fjord binary" ;;
        tansu)
            if [[ -z $TANSU_BIN || ! -x $TANSU_BIN ]]; then
                echo "brokers.sh: skipping tansu: TANSU_BIN is unset or not executable (${TANSU_BIN:-unset}); see BENCHMARKS.md" >&2
                continue
            fi ;;
        mock) ;;
        *) die "unknown broker kind '$kind' (fjord, fjord-pagecache, before, before-pagecache, tansu, mock)" ;;
    esac
    KIND_LIST+=("$kind")
done
((${#KIND_LIST[@]} > 0)) || die "no broker kind to run"

WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/fjord-brokers.XXXXXX")
printf '"fjord.log.flush.before.ack" = false\n' >"$WORK/pagecache.toml"
PID=""       # the running broker
STEP_PID=""  # the running fjord-bench (under timeout)
FAILED=0

stop_broker() {
    [[ -n $PID ]] || return 0
    kill "$PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
}
cleanup() {
    [[ -n $STEP_PID ]] && kill "$STEP_PID" 2>/dev/null
    stop_broker
    if [[ ${KEEP:-0} == 1 ]]; then echo "brokers.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# Fails unless every TCP listener of process $1 is on a loopback address.
loopback_only() {
    local bad
    bad=$(ss -ltnpH | awk -v p="pid=$1," 'index($0, p) && $4 !~ /^(127\.[0-9.]+|\[::1\]):[0-9]+$/ {print $4}')
    [[ -z $bad ]] || { echo "brokers.sh: broker pid $1 listens on $bad (not loopback); stopping" >&2; return 1; }
}

# start KIND DIR: starts a broker of KIND with its data in DIR; sets PID,
# BROKER and RSS_IDLE (kB, after 1 s idle). The mock starts nothing.
start() {
    local kind=$1 dir=$2 port
    PID="" BROKER="" RSS_IDLE="-"
    mkdir -p "$dir"
    [[ $kind == mock ]] && return 0
    port=$(free_port)
    case $kind in
        fjord | fjord-pagecache | before | before-pagecache)
            local config=() bin=$FJORD_BIN
            [[ $kind == *pagecache ]] && config=(--config "$WORK/pagecache.toml")
            [[ $kind == before* ]] && bin=$BEFORE_BIN
            "$bin" broker --data-dir "$dir/data" --listen "127.0.0.1:$port" --http "127.0.0.1:$(free_port)" \
                --schema-registry off "${config[@]}" >"$dir/broker.log" 2>&1 &
            ;;
        tansu)
            # In DIR, so that Tansu's .env lookup finds nothing of ours;
            # without the environment variables that would add a schema
            # registry, a data lake or an OTLP exporter.
            (cd "$dir" && exec env -u SCHEMA_REGISTRY -u DATA_LAKE -u OTEL_EXPORTER_OTLP_ENDPOINT \
                "$TANSU_BIN" broker --storage-engine memory://tansu/ --cluster-id fjord-bench \
                --listener-url "tcp://127.0.0.1:$port" \
                --advertised-listener-url "tcp://127.0.0.1:$port" >"$dir/broker.log" 2>&1) &
            ;;
    esac
    PID=$!
    BROKER=127.0.0.1:$port
    for _ in $(seq 1 300); do
        (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    if ! (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "brokers.sh: $kind did not start listening on $BROKER; its log:" >&2
        tail -n 20 "$dir/broker.log" >&2
        exit 1
    fi
    loopback_only "$PID" || exit 1
    sleep 1
    RSS_IDLE=$(awk '/^VmRSS/{print $2}' "/proc/$PID/status")
}

# step NAME ARGS...: one fjord-bench run against the current broker (or
# the mock), bounded by STEP_SECS; its JSON is in $RUN_DIR/NAME.json.
# Fails (and says why) when fjord-bench does.
step() {
    local name=$1 rc=0
    shift
    local target=(-X test.mock.num.brokers=1)
    [[ -n $PID ]] && target=(-b "$BROKER" --broker-pid "$PID")
    timeout -k 5 "$STEP_SECS" "$BENCH" "$@" -q --json "${target[@]}" \
        >"$RUN_DIR/$name.json" 2>"$RUN_DIR/$name.err" &
    STEP_PID=$!
    wait "$STEP_PID" || rc=$?
    STEP_PID=""
    if ((rc != 0)); then
        FAILED=$((FAILED + 1))
        local why="exit $rc"
        ((rc == 124)) && why="stopped after STEP_SECS=$STEP_SECS s"
        echo "brokers.sh: $RUN_NAME: $name failed ($why); first error: $(fields first_error <"$RUN_DIR/$name.json")" >&2
        tail -n 5 "$RUN_DIR/$name.err" >&2
        return 1
    fi
}

# fields PATH...: the values at these dotted paths of the JSON on stdin,
# space separated, "-" for a missing one (or unreadable JSON); numbers to
# 4 significant digits, or whole from 1000 on.
fields() {
    python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    d = {}
out = []
for path in sys.argv[1:]:
    v = d
    for k in path.split("."):
        v = v.get(k) if isinstance(v, dict) else None
    if isinstance(v, float):
        v = f"{v:.0f}" if abs(v) >= 1000 else f"{v:.4g}"
    out.append("-" if v is None else str(v))
print(" ".join(out))' "$@"
}

RESULTS=$WORK/results.txt
: >"$RESULTS"
echo "kinds: ${KIND_LIST[*]}; $ROUNDS rounds; S1 $S1 x 100 B, S2 $S2 x 1 KiB, fixed rate $RATE/s for $RATE_SECS s"
n=${#KIND_LIST[@]}
for r in $(seq 1 "$ROUNDS"); do
    for i in $(seq 0 $((n - 1))); do
        kind=${KIND_LIST[$(((i + r - 1) % n))]}
        RUN_NAME="round $r $kind"
        RUN_DIR=$WORK/r$r-$kind
        start "$kind" "$RUN_DIR"
        p1=- cpu1s=- cpu1=- p2=- cpu2=- c2=- p3=- l50=- l99=- cpu3=- peak=-
        if step s1 produce -t s1 -p 1 -s 100 -n "$S1" --acks all --linger-ms 5 --batch-size 1048576; then
            read -r p1 cpu1s cpu1 < <(fields msgs_per_sec broker_cpu.cpu_s broker_cpu.us_per_record <"$RUN_DIR/s1.json")
        fi
        if step s2 produce -t s2 -p 16 -s 1024 -n "$S2" --acks all; then
            read -r p2 cpu2 < <(fields mb_per_sec broker_cpu.s_per_gb <"$RUN_DIR/s2.json")
            if [[ $kind != mock ]] && step c2a consume -t s2 && step c2 consume -t s2; then
                read -r c2 < <(fields mb_per_sec <"$RUN_DIR/c2.json")
            fi
        fi
        if step s3 produce -t s3 -p 1 -s 100 --linger-ms 0 --rate "$RATE" -d "$RATE_SECS" -n $((RATE * RATE_SECS)) --acks all; then
            read -r p3 l50 l99 cpu3 < <(fields msgs_per_sec latency.p50_ms latency.p99_ms broker_cpu.us_per_request <"$RUN_DIR/s3.json")
        fi
        if [[ -n $PID ]]; then
            if kill -0 "$PID" 2>/dev/null; then
                peak=$(awk '/^VmHWM/{print $2}' "/proc/$PID/status" 2>/dev/null) || peak=-
            else
                FAILED=$((FAILED + 1))
                echo "brokers.sh: $RUN_NAME: the broker exited during the runs; its log:" >&2
                tail -n 20 "$RUN_DIR/broker.log" >&2
            fi
        fi
        stop_broker
        rm -rf "$RUN_DIR/data"
        echo "$RUN_NAME: 100B-1p $p1 msgs/s (broker $cpu1s CPU-s, $cpu1 CPU-us/record) | 1KiB-16p $p2 MB/s ($cpu2 CPU-s/GB) | consume $c2 MB/s | ${RATE}/s linger 0: $p3/s, p50 $l50 p99 $l99 ms, $cpu3 CPU-us/request | RSS idle $RSS_IDLE kB, peak $peak kB"
        for kv in "p1 ${p1:--}" "cpu1s ${cpu1s:--}" "cpu1 ${cpu1:--}" "p2 ${p2:--}" "cpu2 ${cpu2:--}" "c2 ${c2:--}" \
            "p3 ${p3:--}" "l50 ${l50:--}" "l99 ${l99:--}" "cpu3 ${cpu3:--}" "rss ${RSS_IDLE:--}" "peak ${peak:--}"; do
            echo "$kind $kv" >>"$RESULTS"
        done
    done
done

echo
echo "medians over $ROUNDS rounds (ratio to ${KIND_LIST[0]}); MB = 2^20 B, GB = 10^9 B, - = not measured"
python3 - "$RESULTS" "$RATE" "${KIND_LIST[@]}" <<'PY'
import statistics, sys
path, rate, kinds = sys.argv[1], sys.argv[2], sys.argv[3:]
values = {}
for line in open(path):
    kind, key, v = line.split()
    if v != "-":
        values.setdefault((kind, key), []).append(float(v))
rows = [
    ("p1", "100 B -> 1 partition, msgs/s", 0, 1),
    ("cpu1s", "  broker CPU-s of that run", 2, 1),
    ("cpu1", "  broker CPU-us per record", 3, 1),
    ("p2", "1 KiB -> 16 partitions, MB/s", 1, 1),
    ("cpu2", "  broker CPU-s per GB", 3, 1),
    ("c2", "consume it, 2nd pass, MB/s", 1, 1),
    ("p3", f"{rate}/s linger 0: achieved/s", 0, 1),
    ("l50", "  latency p50, ms", 3, 1),
    ("l99", "  latency p99, ms", 2, 1),
    ("cpu3", "  broker CPU-us per request", 1, 1),
    ("rss", "broker RSS idle, MiB", 1, 1024),
    ("peak", "broker RSS peak, MiB", 1, 1024),
]
def cell(key, kind, digits, div, base):
    vs = values.get((kind, key))
    if not vs:
        return "-"
    m = statistics.median(vs) / div
    text = f"{m:,.{digits}f}"
    if kind != kinds[0] and base:
        text += f" ({m / base:.2f})"
    return text
print("| workload | " + " | ".join(kinds) + " |")
print("|---|" + "---|" * len(kinds))
for key, name, digits, div in rows:
    first = values.get((kinds[0], key))
    base = statistics.median(first) / div if first else None
    print(f"| {name} | " + " | ".join(cell(key, k, digits, div, base) for k in kinds) + " |")
PY
if ((FAILED > 0)); then
    echo "brokers.sh: $FAILED runs failed (see above)" >&2
    exit 1
fi
