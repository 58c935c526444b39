#!/usr/bin/env bash
# The console's pages with 100,000 rows behind every table (bench/console_pages.py), on SQLite:
# a release build with the demo data, grown to ROWS rows per table by bench/console_seed.py, each
# page (and each list sorted, searched and 2,000 pages deep) requested REPEAT times; the server's
# own time (Server-Timing) and the client's, next to a bare axum server's constant reply
# (bench/baseline) timed the same way in the same run. Goal: every page under 50 ms.
#
#   bash bench/console.sh
#   ROWS=10000 REPEAT=10 SKIP_BUILD=1 bash bench/console.sh
#   STRICT=1 bash bench/console.sh    # exit 1 when a page misses the goal
set -euo pipefail

ROWS="${ROWS:-100000}"
REPEAT="${REPEAT:-30}"
PORT="${PORT:-18097}"
BASE_PORT="${BASE_PORT:-18098}"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BASELINE_TARGET="$ROOT/target/bench-baseline"
REAL_BIN="${UTILHALL_BIN:-$ROOT/target/release/utilhall}"
BASE_BIN="$BASELINE_TARGET/release/utilhall-bench-baseline"

log() { printf '==> %s\n' "$*" >&2; }

if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
    log "building utilhall and the baseline (release)"
    (cd "$ROOT" && cargo build --release --quiet)
    (cd "$BENCH_DIR/baseline" && CARGO_TARGET_DIR="$BASELINE_TARGET" cargo build --release --quiet)
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/utilhall-console.XXXXXX")"
SERVER=""
BASE=""
cleanup() {
    [[ -n "$SERVER" ]] && kill "$SERVER" 2>/dev/null && { wait "$SERVER" 2>/dev/null || true; }
    [[ -n "$BASE" ]] && kill "$BASE" 2>/dev/null && { wait "$BASE" 2>/dev/null || true; }
    rm -rf "$TMP"
}
trap cleanup EXIT

start() {
    UTILHALL_IOT__EMBEDDED_BROKER=off "$REAL_BIN" serve --dev $1 --bind "127.0.0.1:$PORT" --database-url "sqlite://$TMP/db.sqlite" \
        --dev-outbox "$TMP/outbox.jsonl" >"$TMP/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    cat "$TMP/server.log" >&2
    exit 1
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; }

log "demo data, then $ROWS rows per table"
start --demo
stop
python3 "$BENCH_DIR/console_seed.py" "$TMP/db.sqlite" "$ROWS"
start ""
"$BASE_BIN" "127.0.0.1:$BASE_PORT" >/dev/null 2>&1 &
BASE=$!
sleep 0.3
# Wait for the server's start-up sweeps over the grown tables to finish (CPU idle for 1 s).
idle_since=$(date +%s)
for _ in $(seq 1 120); do
    a=$(awk '{print $14+$15}' "/proc/$SERVER/stat"); sleep 1; b=$(awk '{print $14+$15}' "/proc/$SERVER/stat")
    (( b - a < 5 )) && break
done
log "server idle after $(( $(date +%s) - idle_since )) s"
log "timing every page ($REPEAT requests each)"
set +e
python3 -u "$BENCH_DIR/console_pages.py" "http://127.0.0.1:$PORT" \
    "http://127.0.0.1:$BASE_PORT/heating/api/user/profile" "$REPEAT"
rc=$?
set -e
if [[ "${STRICT:-0}" == "1" && $rc -ne 0 ]]; then exit 1; fi
