#!/usr/bin/env bash
# WeChat Pay notifications processed per second (POST /heating/api/payment/notify, each a
# signed, encrypted notification for a distinct pending order), next to the minimal axum
# baseline (bench/baseline) measured in the same run with the same wrk settings. Afterwards
# `utilhall ledger check` must pass and every notified order must be paid exactly once.
#
#   bash bench/notify.sh
#   DURATION=5s COUNT=30000 bash bench/notify.sh
#
# Env: DURATION (5s), CONNECTIONS (64), THREADS (2), COUNT (orders prepared; 25000),
#      SKIP_BUILD=1, REAL_PORT (18092), BASE_PORT (18093).
set -euo pipefail

DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
COUNT="${COUNT:-25000}"
REAL_PORT="${REAL_PORT:-18092}"
BASE_PORT="${BASE_PORT:-18093}"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BASELINE_TARGET="$ROOT/target/bench-baseline"
REAL_BIN="$ROOT/target/release/utilhall"
GEN_BIN="$ROOT/target/release/examples/notify_bench_fixtures"
BASE_BIN="$BASELINE_TARGET/release/utilhall-bench-baseline"
FIX="$ROOT/tests/fixtures/wechatpay"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    apt-get install -y wrk >/dev/null || { apt-get update >/dev/null; apt-get install -y wrk >/dev/null; }
fi
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
    log "building utilhall, the fixture generator and the baseline (release)"
    (cd "$ROOT" && cargo build --release --quiet && cargo build --release --quiet --example notify_bench_fixtures)
    (cd "$BENCH_DIR/baseline" && CARGO_TARGET_DIR="$BASELINE_TARGET" cargo build --release --quiet)
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/utilhall-notify.XXXXXX")"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    [[ -n "${KEEP_TMP:-}" ]] || rm -rf "$TMP"
}
trap cleanup EXIT

wait_for() {
    for ((i = 0; i < 150; i++)); do
        curl -sf -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.2
    done
    die "nothing answered $1"
}

DB="sqlite://$TMP/bench.db"
log "preparing $COUNT pending orders and their notifications"
"$GEN_BIN" "$DB" "$COUNT" "$THREADS" "$TMP/notify"

log "starting utilhall with WeChat Pay configured (test keys; no outgoing calls while notified)"
(
    cd "$TMP"
    RUST_LOG=warn UTILHALL_HEATING__RATE_LIMIT_REQUESTS=0 \
    UTILHALL_WECHAT_PAY__MCHID=1900000109 UTILHALL_WECHAT_PAY__APPID=wxd678efh567hg6787 \
    UTILHALL_WECHAT_PAY__MERCHANT_SERIAL=5157F09EFDC096DE15EBE81A47057A7232F1B8E1 \
    UTILHALL_WECHAT_PAY__MERCHANT_KEY_FILE="$FIX/merchant_key.pem" \
    UTILHALL_WECHAT_PAY__APIV3_KEY=0123456789abcdef0123456789ABCDEF \
    UTILHALL_WECHAT_PAY__PUBLIC_KEY_FILE="$FIX/platform_public.pem" \
    UTILHALL_WECHAT_PAY__PUBLIC_KEY_ID=PUB_KEY_ID_0114232134912410000000000000 \
    UTILHALL_WECHAT_PAY__NOTIFY_URL=https://bench.invalid/heating/api/payment/notify \
    UTILHALL_WECHAT_PAY__BASE_URL=http://127.0.0.1:9 \
    exec "$REAL_BIN" serve --database-url "$DB" --bind "127.0.0.1:$REAL_PORT"
) >"$TMP/utilhall.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$REAL_PORT/health"
"$BASE_BIN" "127.0.0.1:$BASE_PORT" >"$TMP/baseline.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$BASE_PORT/heating/api/user/profile"

log "baseline: wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "http://127.0.0.1:$BASE_PORT/heating/api/user/profile" >/dev/null
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$BASE_PORT/heating/api/user/profile" >"$TMP/baseline.wrk"
log "notify: wrk -t$THREADS -c$CONNECTIONS -d$DURATION (distinct orders)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$TMP/notify.lua" "http://127.0.0.1:$REAL_PORT" >"$TMP/notify.wrk"

log "checking the journal"
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
LEDGER="$(cd "$TMP" && "$REAL_BIN" ledger check --database-url "$DB" 2>&1)" || { echo "$LEDGER"; die "ledger check failed"; }
PAID="$(python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(\"select count(*) from heating_orders where status='paid' and order_id like 'OBENCH%'\").fetchone()[0], c.execute(\"select count(*) from ledger_entries where entry_key like 'heating-order:OBENCH%'\").fetchone()[0])" "$TMP/bench.db")"

python3 - "$TMP/baseline.wrk" "$TMP/notify.wrk" "$PAID" "$LEDGER" "$COUNT" <<'PY'
import re, sys
def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return rps, p99, int(non2xx.group(1)) if non2xx else 0
b, n = parse(sys.argv[1]), parse(sys.argv[2])
paid, entries = sys.argv[3].split()
print(f"{'':14}{'req/s':>10}{'p99 ms':>10}{'non-2xx':>10}")
print(f"{'baseline':14}{b[0]:>10.1f}{b[1]:>10.2f}{b[2]:>10}")
print(f"{'notify':14}{n[0]:>10.1f}{n[1]:>10.2f}{n[2]:>10}")
print(f"ratio notify/baseline: {n[0] / b[0]:.3f}")
print(f"orders paid: {paid} of {sys.argv[5]} prepared; journal entries for them: {entries} (must be equal)")
print(sys.argv[4].strip().splitlines()[-1])
if int(paid) == 0 or n[2] > 0:
    sys.exit("notifications were refused: see the server log")
if paid != entries:
    sys.exit("paid orders and journal entries disagree")
PY
