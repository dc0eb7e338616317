#!/usr/bin/env bash
# What security costs: TLS against plaintext, and the authorizer on against
# off, with one fjord binary, interleaving the runs so machine noise hits
# both sides alike (issue 13's two benchmarks).
#
#   cargo build --release -p fjord
#   cargo build --release -p fjord-bench --features tls
#   crates/bench/security.sh [ROUNDS]
#
# Every round starts a fresh broker for each of four runs:
#   plain    PLAINTEXT listener
#   tls      SSL listener (a self-signed RSA-2048 certificate made by
#            openssl here; librdkafka negotiates TLS 1.3 with rustls)
#   noauthz  SASL_PLAINTEXT (PLAIN, user bench), no authorizer
#   authz    the same listener and user, StandardAuthorizer on: bench is not
#            a super user (only admin is); its access comes from prefixed
#            topic ACLs (WRITE, READ, CREATE, DESCRIBE on bench-; READ on
#            the group prefix fjord-bench-), with 40 ACLs of other users
#            beside them, so each request takes the authorizer's full
#            decision path
# Each run produces 1 KiB records to 16 partitions (acks=all), then reads
# the topic twice from the beginning (the second pass, hot page cache, is
# the one reported). The order within each pair flips every round. Prints
# per-run lines, medians, and the ratios tls/plain and authz/noauthz, with
# the broker's CPU per GB (user + system, /proc/PID/stat) for produce and
# for the two consume passes.
set -euo pipefail
ROUNDS=${1:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FJORD=${FJORD_BIN:-$ROOT/target/release/fjord}
BENCH=${BENCH_BIN:-$ROOT/target/release/fjord-bench}
COUNT=${COUNT:-300000}
WORK=$(mktemp -d /tmp/fjord-security-bench.XXXXXX)
PID=""
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
field() { python3 -c "import json,sys;print(json.loads(sys.stdin.read())['$1'])"; }
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' /proc/$PID/stat; }

# The TLS keystore: key and self-signed certificate in one PEM file.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
cat "$WORK/key.pem" "$WORK/cert.pem" >"$WORK/keystore.pem"
cat >"$WORK/tls.toml" <<EOF
"ssl.keystore.type" = "PEM"
"ssl.keystore.location" = "$WORK/keystore.pem"
EOF
: >"$WORK/noauthz.toml"
cat >"$WORK/authz.toml" <<EOF
"authorizer.class.name" = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
"super.users" = "User:admin"
EOF
USERS=(--add-scram 'SCRAM-SHA-256=[name=admin,password=admin-secret]'
    --add-scram 'SCRAM-SHA-256=[name=bench,password=bench-secret]')
SASL=(-X security.protocol=sasl_plaintext -X sasl.mechanism=PLAIN
    -X sasl.username=bench -X sasl.password=bench-secret)

# start RUN: a fresh broker for that run; sets BROKER and CLIENT (the
# fjord-bench security flags).
start() {
    local port http proto config args=()
    port=$(free_port); http=$(free_port)
    case $1 in
        plain) proto=PLAINTEXT; config="" ; CLIENT=() ;;
        tls) proto=SSL; config=$WORK/tls.toml
            CLIENT=(-X security.protocol=ssl -X "ssl.ca.location=$WORK/cert.pem") ;;
        noauthz | authz) proto=SASL_PLAINTEXT; config=$WORK/$1.toml; args=("${USERS[@]}")
            CLIENT=("${SASL[@]}") ;;
    esac
    [[ -n $config ]] && args+=(--config "$config")
    rm -rf "$WORK/data-$1"
    "$FJORD" broker --data-dir "$WORK/data-$1" --listen "$proto://127.0.0.1:$port" \
        --advertise "$proto://127.0.0.1:$port" --http 127.0.0.1:$http "${args[@]}" \
        >"$WORK/$1.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 200); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
    BROKER=127.0.0.1:$port
    if [[ $1 == authz ]]; then
        local admin=(-b "$BROKER" --security-protocol SASL_PLAINTEXT --sasl-mechanism PLAIN
            --sasl-username admin --sasl-password admin-secret)
        "$FJORD" acl create "${admin[@]}" --allow-principal User:bench \
            --operation Write --operation Read --operation Create --operation Describe \
            --topic bench- --resource-pattern-type prefixed >/dev/null
        # The consumer's group.id (librdkafka looks up its coordinator).
        "$FJORD" acl create "${admin[@]}" --allow-principal User:bench --operation Read \
            --group fjord-bench- --resource-pattern-type prefixed >/dev/null
        local others=()
        for i in $(seq 1 10); do others+=(--allow-principal "User:other$i"); done
        "$FJORD" acl create "${admin[@]}" "${others[@]}" --operation Write --operation Read \
            --topic other- --topic bench-other --resource-pattern-type prefixed >/dev/null
    fi
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }

RESULTS=$WORK/results.txt
: >"$RESULTS"
run() { # RUN ROUND
    start "$1"
    local t0 t1 t2 p c1 c2 cpu_p cpu_c
    t0=$(cpu_ticks)
    p=$("$BENCH" produce -q --json -b "$BROKER" "${CLIENT[@]}" -t bench-s -p 16 -s 1024 \
        -n "$COUNT" --acks all | field mb_per_sec)
    t1=$(cpu_ticks)
    c1=$("$BENCH" consume -q --json -b "$BROKER" "${CLIENT[@]}" -t bench-s | field mb_per_sec)
    c2=$("$BENCH" consume -q --json -b "$BROKER" "${CLIENT[@]}" -t bench-s | field mb_per_sec)
    t2=$(cpu_ticks)
    stop
    cpu_p=$(python3 -c "print(round(($t1-$t0)/$HZ/($COUNT*1024/1e9), 3))")
    cpu_c=$(python3 -c "print(round(($t2-$t1)/$HZ/(2*$COUNT*1024/1e9), 3))")
    echo "round $2 $1: produce 1KiB x16p ${p} MB/s (${cpu_p} CPU-s/GB) | consume ${c1} / ${c2} MB/s (${cpu_c} CPU-s/GB)"
    printf '%s p %s\n%s c %s\n%s cpu_p %s\n%s cpu_c %s\n' "$1" "$p" "$1" "$c2" "$1" "$cpu_p" "$1" "$cpu_c" >>"$RESULTS"
}

for r in $(seq 1 "$ROUNDS"); do
    if (( r % 2 )); then pairs=("plain tls" "noauthz authz"); else pairs=("tls plain" "authz noauthz"); fi
    for pair in "${pairs[@]}"; do
        for which in $pair; do run "$which" "$r"; done
    done
done
python3 - "$RESULTS" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def med(run, key):
    return statistics.median(float(v) for w, k, v in rows if w == run and k == key)
names = {"p": "produce 1KiB x16p acks=all MB/s", "cpu_p": "  broker CPU-s per GB produced",
         "c": "consume (hot, 2nd pass) MB/s", "cpu_c": "  broker CPU-s per GB consumed"}
for base, other in (("plain", "tls"), ("noauthz", "authz")):
    print(f"{other} vs {base}:")
    for k, name in names.items():
        b, o = med(base, k), med(other, k)
        d = 3 if k.startswith("cpu") else 1
        print(f"  {name:34} {base} median {b:9.{d}f}  {other} median {o:9.{d}f}  {other}/{base} {o / b:.2f}")
PY
