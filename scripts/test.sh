#!/usr/bin/env bash
# Runs every test of the repository; this is what CI runs (via .ci/run).
#
#   ./scripts/test.sh                  # everything
#   ./scripts/test.sh -k kcat -x       # extra arguments go to pytest (e2e suite)
#
# Steps, each timed, stopping at the first failure:
#   1. kcat, ip        apt-get install kcat and iproute2 if missing (sudo only when not root)
#   2. python venv     .venv with the pinned packages of tests/e2e/requirements.txt
#                      (skipped when the requirements and interpreter are unchanged)
#   3. build           cargo build --release -p fjord (the broker and CLI binary; the
#                      benchmark crate, which builds librdkafka from C, is not built)
#   4. fmt, clippy     cargo fmt --check; cargo clippy -D warnings on every crate but
#                      fjord-bench; generated protocol code is fresh (cargo xtask codegen
#                      leaves no diff; needs ../shared/kafka-message-specs)
#                      (FJORD_SKIP_LINT=1 skips)
#   5. rust tests      cargo nextest run (or cargo test) --workspace --release
#   6. e2e tests       pytest tests/e2e against $FJORD_BIN (default target/release/fjord)
#
# Environment knobs:
#   FJORD_SKIP_LINT=1        skip cargo fmt / clippy
#   FJORD_SKIP_RUST_TESTS=1  skip the cargo test step
#   FJORD_SKIP_E2E=1         skip the pytest step
#   FJORD_BIN=path           broker binary for the e2e tests
#   PYTHON=python3.11        interpreter used to create .venv (default: python3)
#   FJORD_E2E_LOG=debug      log filter given to the broker in e2e tests (FJORD_LOG)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
REQUIREMENTS="tests/e2e/requirements.txt"
SCRIPT_START=$(date +%s)

# cargo may live in ~/.cargo/bin without being on PATH in non-login shells
if ! command -v cargo >/dev/null 2>&1 && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

log() { printf '%s\n' "$*"; }
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

# step NAME FUNCTION [ARGS...]: run FUNCTION with errexit in a subshell, time it, stop on failure.
step() {
    local name=$1
    shift
    local t0 rc
    t0=$(date +%s)
    log ""
    log "==> [$(( t0 - SCRIPT_START ))s] ${name}"
    set +e
    ( set -e; "$@" )
    rc=$?
    set -e
    local dt=$(( $(date +%s) - t0 ))
    if [ "$rc" -ne 0 ]; then
        printf '\nFAILED: %s (exit code %d, after %ds; %ds in total)\n' "$name" "$rc" "$dt" \
            "$(( $(date +%s) - SCRIPT_START ))" >&2
        exit "$rc"
    fi
    log "<== ${name}: ok (${dt}s)"
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

install_kcat() {
    local missing=()
    command -v kcat >/dev/null 2>&1 || missing+=(kcat)
    # `ip` (iproute2): the cluster fault tests put nodes in network namespaces.
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    if [ "${#missing[@]}" -eq 0 ]; then
        log "kcat already installed: $(command -v kcat); ip: $(command -v ip)"
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || die "${missing[*]} missing and apt-get is not available; install by hand"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    command -v kcat >/dev/null 2>&1 || die "apt-get install kcat did not provide a kcat binary"
    command -v ip >/dev/null 2>&1 || die "apt-get install iproute2 did not provide the ip tool"
    kcat -V | head -n 4
}

pick_python() {
    local cand
    for cand in "${PYTHON:-}" python3 python3.11 python3.12 python; do
        [ -n "$cand" ] || continue
        if command -v "$cand" >/dev/null 2>&1 &&
            "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' 2>/dev/null; then
            command -v "$cand"
            return 0
        fi
    done
    return 1
}

setup_venv() {
    local py stamp want
    py=$(pick_python) || die "no python3 (>= 3.9) found; set PYTHON=/path/to/python3"
    want="$("$py" -c 'import sys; print(sys.version)' | head -n 1) $(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
    stamp="$VENV/.fjord-requirements.stamp"
    if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' 2>/dev/null &&
        [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "venv up to date: $VENV ($("$VENV/bin/python" --version))"
        return 0
    fi
    if ! [ -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
        rm -rf "$VENV"
        log "creating $VENV with $py ($("$py" --version 2>&1))"
        if ! "$py" -m venv "$VENV"; then
            rm -rf "$VENV"
            log "python venv module unavailable; installing python3-venv"
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
            "$py" -m venv "$VENV"
        fi
    fi
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$REQUIREMENTS"
    "$VENV/bin/python" -m pip check
    printf '%s' "$want" >"$stamp"
    "$VENV/bin/python" -m pip freeze --disable-pip-version-check | sed 's/^/    /'
}

cargo_build() {
    cargo build --release -p fjord
}

cargo_fmt() {
    cargo fmt --all -- --check
}

cargo_clippy() {
    cargo clippy --release --workspace --exclude fjord-bench --all-targets -- -D warnings
}

codegen_fresh() {
    local specs="$ROOT/../shared/kafka-message-specs"
    if [ ! -d "$specs" ]; then
        log "no $specs here: skipping the generated-code freshness check"
        return 0
    fi
    cargo run --release -q -p xtask -- codegen --specs "$specs"
    if ! git diff --exit-code --stat -- crates/protocol/src/generated; then
        die "crates/protocol/src/generated is stale: run 'cargo xtask codegen' and commit the result"
    fi
    log "generated protocol code is fresh"
}

rust_tests() {
    if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --workspace --exclude fjord-bench --release --no-tests=warn
    else
        log "cargo-nextest not installed; using cargo test"
        cargo test --workspace --exclude fjord-bench --release
    fi
}

e2e_tests() {
    [ -x "$FJORD_BIN" ] || die "broker binary $FJORD_BIN does not exist or is not executable"
    log "FJORD_BIN=$FJORD_BIN"
    "$VENV/bin/python" -m pytest -q tests/e2e "$@"
}

log "fjord test run: $(date -u '+%Y-%m-%dT%H:%M:%SZ') on $(uname -sm), $(nproc 2>/dev/null || echo '?') cores, CI=${CI:-}"
command -v cargo >/dev/null 2>&1 || die "cargo not found (install Rust via rustup)"

step "install kcat" install_kcat
step "python venv (${REQUIREMENTS})" setup_venv
step "cargo build --release" cargo_build
if [ "${FJORD_SKIP_LINT:-0}" = "1" ]; then
    log ""
    log "--- FJORD_SKIP_LINT=1: skipping cargo fmt and cargo clippy"
else
    step "cargo fmt --check" cargo_fmt
    step "cargo clippy -D warnings" cargo_clippy
    step "generated protocol code is fresh" codegen_fresh
fi
if [ "${FJORD_SKIP_RUST_TESTS:-0}" = "1" ]; then
    log ""
    log "--- FJORD_SKIP_RUST_TESTS=1: skipping Rust tests"
else
    step "rust tests" rust_tests
fi
if [ "${FJORD_SKIP_E2E:-0}" = "1" ]; then
    log ""
    log "--- FJORD_SKIP_E2E=1: skipping e2e tests"
else
    export FJORD_BIN="${FJORD_BIN:-$ROOT/target/release/fjord}"
    case "$FJORD_BIN" in /*) ;; *) FJORD_BIN="$ROOT/$FJORD_BIN" ;; esac
    step "e2e tests (pytest tests/e2e)" e2e_tests "$@"
fi

log ""
log "all steps passed in $(( $(date +%s) - SCRIPT_START ))s"
