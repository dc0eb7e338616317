#!/usr/bin/env bash
# A/B of two fjord builds on one workload, in alternating pairs of runs
# (A, B, A, B, ...), a fresh broker and data directory per run, so that a
# small change can be read as a ratio despite a noisy machine:
#
#   crates/bench/pairs.sh OLD_FJORD NEW_FJORD
#
# Environment: PAIRS (6), MODE (pagecache | fsync; default pagecache),
# WORKLOAD (rate: RATE (10000) records/s of 100 B for 5 s, linger 0, one
# record per request; bulk: 1,000,000 x 1 KiB into 16 partitions),
# BENCH_BIN (target/release/fjord-bench), BENCH_TMP (where the data goes).
# Prints one line per run (rate: broker CPU-us per request, p50 and p99
# in ms, records/s; bulk: MB/s and broker CPU-s per GB) and the medians.
# Everything listens on 127.0.0.1; brokers and data are removed on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=${BENCH_BIN:-$ROOT/target/release/fjord-bench}
PAIRS=${PAIRS:-6}
MODE=${MODE:-pagecache}
WORKLOAD=${WORKLOAD:-rate}
RATE=${RATE:-10000}
[[ $# -eq 2 && -x $1 && -x $2 ]] || { echo "usage: $0 OLD_FJORD NEW_FJORD (both executable)" >&2; exit 2; }
[[ -x $BENCH ]] || { echo "$BENCH not found; build it: cargo build --release -p fjord-bench" >&2; exit 2; }
case $MODE in pagecache | fsync) ;; *) echo "MODE is pagecache or fsync" >&2; exit 2 ;; esac
case $WORKLOAD in rate | bulk) ;; *) echo "WORKLOAD is rate or bulk" >&2; exit 2 ;; esac

WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/fjord-pairs.XXXXXX")
PID=""
cleanup() {
    [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
echo '"fjord.log.flush.before.ack" = false' >"$WORK/pagecache.toml"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run LABEL BIN: one broker, one fjord-bench run; appends "LABEL fields" to results.
run() {
    local label=$1 bin=$2 port config=()
    port=$(free_port)
    [[ $MODE == pagecache ]] && config=(--config "$WORK/pagecache.toml")
    rm -rf "$WORK/data"
    "$bin" broker --data-dir "$WORK/data" --listen "127.0.0.1:$port" --http "127.0.0.1:$(free_port)" \
        --schema-registry off "${config[@]}" >"$WORK/broker.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 200); do
        (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.05
    done
    sleep 0.5
    local args=(-t t -p 1 -s 100 --linger-ms 0 --rate "$RATE" -d 5 -n $((RATE * 5)))
    [[ $WORKLOAD == bulk ]] && args=(-t t -p 16 -s 1024 -n 1000000)
    timeout -k 5 300 "$BENCH" produce "${args[@]}" --acks all -q --json \
        -b "127.0.0.1:$port" --broker-pid "$PID" >"$WORK/run.json" 2>"$WORK/run.err" ||
        { echo "$label: fjord-bench failed:" >&2; tail -n 5 "$WORK/run.err" >&2; exit 1; }
    kill "$PID" && wait "$PID" 2>/dev/null || true
    PID=""
    python3 - "$label" "$WORKLOAD" "$WORK/run.json" <<'EOF' | tee -a "$WORK/results"
import json, sys
label, workload, path = sys.argv[1:4]
with open(path) as f:
    d = json.load(f)
cpu = d.get("broker_cpu") or {}
if workload == "rate":
    lat = d["latency"]
    print(label, f'{cpu["us_per_request"]:.2f}', lat["p50_ms"], lat["p99_ms"], round(d["msgs_per_sec"]))
else:
    print(label, f'{d["mb_per_sec"]:.1f}', f'{cpu["s_per_gb"]:.3f}')
EOF
}

if [[ $WORKLOAD == rate ]]; then
    echo "$MODE, $RATE records/s x 5 s, linger 0: label, broker CPU-us/request, p50 ms, p99 ms, records/s"
else
    echo "$MODE, 1,000,000 x 1 KiB into 16 partitions: label, MB/s, broker CPU-s/GB"
fi
for _ in $(seq 1 "$PAIRS"); do
    run A "$1"
    run B "$2"
done
python3 - "$WORK/results" <<'EOF'
import statistics, sys
with open(sys.argv[1]) as f:
    rows = [line.split() for line in f if line.strip()]
for label in ("A", "B"):
    cols = [[float(x) for x in r[1:]] for r in rows if r[0] == label]
    meds = [statistics.median(c) for c in zip(*cols)]
    print("median", label, " ".join(f"{m:g}" for m in meds))
EOF
