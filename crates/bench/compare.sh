#!/usr/bin/env bash
# Compares two fjord broker binaries in one run, interleaving the same
# scenarios so machine noise hits both alike (the before/after figures a
# hot-path change needs).
#
#   crates/bench/compare.sh OLD_FJORD_BIN NEW_FJORD_BIN [ROUNDS]
#
# Scenarios per round and binary: produce 1 KiB records to 16 partitions
# (acks=all), then consume the whole topic from the beginning twice (hot
# page cache), then produce 100 B records to 1 partition (acks=all), then
# 100 B records one per request (linger 0, acks=all) at a fixed request
# rate. Prints per-run lines and the median ratio NEW/OLD for each
# scenario, with the broker's CPU time (user + system, from
# /proc/PID/stat, measured by `fjord-bench --broker-pid`): CPU-seconds per
# GB of record values for the 1 KiB run, CPU-microseconds per record for
# the 100 B run, CPU-microseconds per produce request and p50/p99 latency
# for the fixed-rate run.
#
# Environment: MODE=fsync (default: fjord's fsync before ack) or
# MODE=pagecache (fjord.log.flush.before.ack=false, Kafka's behaviour);
# RATE (requests/s, default 3000) and RATE_SECS (default 5) for the
# fixed-rate run; S2_COUNT, S1_COUNT record counts.
set -euo pipefail
OLD=${1:?old binary}
NEW=${2:?new binary}
ROUNDS=${3:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=${BENCH_BIN:-$ROOT/target/release/fjord-bench}
S2=${S2_COUNT:-300000}
S1=${S1_COUNT:-1000000}
RATE=${RATE:-3000}
RATE_SECS=${RATE_SECS:-5}
MODE=${MODE:-fsync}
WORK=$(mktemp -d /tmp/fjord-compare.XXXXXX)
CONFIG=()
case $MODE in
    fsync) ;;
    pagecache)
        printf '"fjord.log.flush.before.ack" = false\n' >"$WORK/pagecache.toml"
        CONFIG=(--config "$WORK/pagecache.toml")
        ;;
    *) echo "MODE must be fsync or pagecache" >&2; exit 2 ;;
esac
PID=""
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

start() { # bin name
    local port http
    port=$(free_port); http=$(free_port)
    rm -rf "$WORK/$2"
    "$1" broker --data-dir "$WORK/$2" --listen 127.0.0.1:$port --http 127.0.0.1:$http "${CONFIG[@]}" >"$WORK/$2.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 200); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
    BROKER=127.0.0.1:$port
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }
# A field of fjord-bench's JSON on stdin, by dotted path (broker_cpu.s_per_gb).
field() { python3 -c "import json,sys,functools;print(functools.reduce(lambda d,k:d[k],sys.argv[1].split('.'),json.load(sys.stdin)))" "$1"; }
bench() { "$BENCH" "$@" -q --json -b "$BROKER" --broker-pid "$PID"; }

RESULTS=$WORK/results.txt
: > "$RESULTS"
echo "mode $MODE, fixed-rate run at $RATE requests/s for $RATE_SECS s"
for r in $(seq 1 "$ROUNDS"); do
    for which in old new; do
        bin=$OLD; [[ $which == new ]] && bin=$NEW
        start "$bin" "$which"
        j2=$(bench produce -t s2 -p 16 -s 1024 -n "$S2" --acks all)
        p2=$(field mb_per_sec <<<"$j2"); cpu2=$(field broker_cpu.s_per_gb <<<"$j2")
        bench consume -t s2 >/dev/null
        c2=$(bench consume -t s2 | field mb_per_sec)
        j1=$(bench produce -t s1 -p 1 -s 100 -n "$S1" --acks all)
        p1=$(field msgs_per_sec <<<"$j1"); cpu1=$(field broker_cpu.us_per_record <<<"$j1")
        j3=$(bench produce -t s3 -p 1 -s 100 --linger-ms 0 --rate "$RATE" -d "$RATE_SECS" -n $((RATE * RATE_SECS)) --acks all)
        p3=$(field msgs_per_sec <<<"$j3"); cpu3=$(field broker_cpu.us_per_request <<<"$j3")
        l50=$(field latency.p50_ms <<<"$j3"); l99=$(field latency.p99_ms <<<"$j3")
        rss=$(awk '/VmRSS/{print $2}' /proc/$PID/status)
        stop
        echo "round $r $which: produce-1KiB-16p ${p2} MB/s (${cpu2} CPU-s/GB) | consume ${c2} MB/s | produce-100B-1p ${p1} msgs/s (${cpu1} CPU-us/record) | ${RATE}/s linger 0: ${p3} req/s, ${cpu3} CPU-us/request, p50 ${l50} p99 ${l99} ms | rss ${rss} kB"
        for kv in "p2 $p2" "c $c2" "p1 $p1" "rss $rss" "cpu2 $cpu2" "cpu1 $cpu1" "p3 $p3" "cpu3 $cpu3" "l50 $l50" "l99 $l99"; do
            echo "$which $kv" >>"$RESULTS"
        done
    done
done
python3 - "$RESULTS" <<'PY2'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
names = {"p2": "produce 1KiB x16p MB/s", "cpu2": "  broker CPU-s per GB", "c": "consume hot MB/s (2nd pass)", "p1": "produce 100B x1p msgs/s", "cpu1": "  broker CPU-us per record", "p3": "fixed rate, linger 0: req/s", "cpu3": "  broker CPU-us per request", "l50": "  latency p50 ms", "l99": "  latency p99 ms", "rss": "RSS after runs kB"}
for k, name in names.items():
    o = [float(v) for w, kk, v in rows if w == "old" and kk == k]
    n = [float(v) for w, kk, v in rows if w == "new" and kk == k]
    if o and n:
        d = 3 if k.startswith(("cpu", "l")) else 1
        print(f"{name:28} old median {statistics.median(o):12.{d}f}  new median {statistics.median(n):12.{d}f}  new/old {statistics.median(n) / statistics.median(o):.2f}")
PY2
