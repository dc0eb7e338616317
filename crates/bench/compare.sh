#!/usr/bin/env bash
# Compares two fjord broker binaries in one run, interleaving the same
# scenarios so machine noise hits both alike (the before/after figures a
# hot-path change needs).
#
#   crates/bench/compare.sh OLD_FJORD_BIN NEW_FJORD_BIN [ROUNDS]
#
# Scenarios per round and binary: produce 1 KiB records to 16 partitions
# (acks=all), then consume the whole topic from the beginning twice (hot
# page cache), then produce 100 B records to 1 partition (acks=all).
# Prints per-run lines and the median ratio NEW/OLD for each scenario,
# with the broker's CPU time for each produce scenario (user + system, from
# /proc/PID/stat): CPU-seconds per GB of record values for the 1 KiB run,
# CPU-microseconds per record for the 100 B run.
set -euo pipefail
OLD=${1:?old binary}
NEW=${2:?new binary}
ROUNDS=${3:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=${BENCH_BIN:-$ROOT/target/release/fjord-bench}
S2=${S2_COUNT:-300000}
S1=${S1_COUNT:-1000000}
WORK=$(mktemp -d /tmp/fjord-compare.XXXXXX)
PID=""
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

start() { # bin name
    local port http
    port=$(free_port); http=$(free_port)
    rm -rf "$WORK/$2"
    "$1" broker --data-dir "$WORK/$2" --listen 127.0.0.1:$port --http 127.0.0.1:$http >"$WORK/$2.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 200); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
    BROKER=127.0.0.1:$port
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }
HZ=$(getconf CLK_TCK)
# The broker's user + system CPU time so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' /proc/$PID/stat; }
field() { python3 -c "import json,sys;print(json.loads(sys.stdin.read())['$1'])"; }

RESULTS=$WORK/results.txt
: > "$RESULTS"
for r in $(seq 1 "$ROUNDS"); do
    for which in old new; do
        bin=$OLD; [[ $which == new ]] && bin=$NEW
        start "$bin" "$which"
        t0=$(cpu_ticks)
        p2=$("$BENCH" produce -q --json -b "$BROKER" -t s2 -p 16 -s 1024 -n "$S2" --acks all | field mb_per_sec)
        t1=$(cpu_ticks)
        c1=$("$BENCH" consume -q --json -b "$BROKER" -t s2 | field mb_per_sec)
        c2=$("$BENCH" consume -q --json -b "$BROKER" -t s2 | field mb_per_sec)
        t2=$(cpu_ticks)
        p1=$("$BENCH" produce -q --json -b "$BROKER" -t s1 -p 1 -s 100 -n "$S1" --acks all | field msgs_per_sec)
        t3=$(cpu_ticks)
        rss=$(awk '/VmRSS/{print $2}' /proc/$PID/status)
        stop
        # CPU-s per GB (10^9 bytes of values) and CPU-us per record.
        cpu2=$(python3 -c "print(round(($t1-$t0)/$HZ/($S2*1024/1e9), 3))")
        cpu1=$(python3 -c "print(round(($t3-$t2)/$HZ/$S1*1e6, 3))")
        echo "round $r $which: produce-1KiB-16p ${p2} MB/s (${cpu2} CPU-s/GB) | consume ${c1} / ${c2} MB/s | produce-100B-1p ${p1} msgs/s (${cpu1} CPU-us/record) | rss ${rss} kB"
        printf '%s p2 %s\n%s c %s\n%s p1 %s\n%s rss %s\n%s cpu2 %s\n%s cpu1 %s\n' "$which" "$p2" "$which" "$c2" "$which" "$p1" "$which" "$rss" "$which" "$cpu2" "$which" "$cpu1" >>"$RESULTS"
    done
done
python3 - "$RESULTS" <<'PY2'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
names = {"p2": "produce 1KiB x16p MB/s", "cpu2": "  broker CPU-s per GB", "c": "consume hot MB/s (2nd pass)", "p1": "produce 100B x1p msgs/s", "cpu1": "  broker CPU-us per record", "rss": "RSS after runs kB"}
for k, name in names.items():
    o = [float(v) for w, kk, v in rows if w == "old" and kk == k]
    n = [float(v) for w, kk, v in rows if w == "new" and kk == k]
    if o and n:
        d = 3 if k.startswith("cpu") else 1
        print(f"{name:28} old median {statistics.median(o):12.{d}f}  new median {statistics.median(n):12.{d}f}  new/old {statistics.median(n) / statistics.median(o):.2f}")
PY2
