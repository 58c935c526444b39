#!/usr/bin/env bash
# The IoT surface (seed 002) under load, next to the minimal axum baseline (bench/baseline)
# measured in the same run with the same wrk settings:
#   1. GET /iot/orders/{oid}: a member reads one of their orders (token, range check, sweep);
#   2. POST /iot/orders: members create orders (ids from the serial, one write transaction);
#   3. GET /iot/orders?limit=20: the vendor lists its orders, with every order of step 2 stored.
# Afterwards `utilhall ledger check` must pass.
#
#   bash bench/iot.sh
#   DURATION=10s bash bench/iot.sh
#
# Env: DURATION (5s), CONNECTIONS (64), THREADS (2), SKIP_BUILD=1, REAL_PORT (18094),
#      BASE_PORT (18095).
set -euo pipefail

DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
REAL_PORT="${REAL_PORT:-18094}"
BASE_PORT="${BASE_PORT:-18095}"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BASELINE_TARGET="$ROOT/target/bench-baseline"
REAL_BIN="${UTILHALL_BIN:-$ROOT/target/release/utilhall}"
BASE_BIN="$BASELINE_TARGET/release/utilhall-bench-baseline"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    apt-get install -y wrk >/dev/null || { apt-get update >/dev/null; apt-get install -y wrk >/dev/null; }
fi
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
    log "building utilhall and the baseline (release)"
    (cd "$ROOT" && cargo build --release --quiet)
    (cd "$BENCH_DIR/baseline" && CARGO_TARGET_DIR="$BASELINE_TARGET" cargo build --release --quiet)
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/utilhall-iot.XXXXXX")"
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
log "starting utilhall --demo --dev"
(cd "$TMP" && RUST_LOG=warn exec "$REAL_BIN" serve --demo --dev --database-url "$DB" --bind "127.0.0.1:$REAL_PORT") >"$TMP/utilhall.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$REAL_PORT/health"
"$BASE_BIN" "127.0.0.1:$BASE_PORT" >"$TMP/baseline.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$BASE_PORT/heating/api/user/profile"

API="http://127.0.0.1:$REAL_PORT/iot"
token() { curl -sf "$API/auth/login" -H 'content-type: application/json' -d "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["token"])'; }
MEMBER="$(token '{"vid":"DOCH000000000001","mobile":"13800000004","pwd":"member123"}')"
VENDOR="$(token '{"user":"dochen","pwd":"dochen123"}')"
ORDERS="$(curl -sf "$API/orders" -H "Authorization: Bearer $MEMBER")"
OID="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"][0]["order_id"])' "$ORDERS")"
PID="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"][0]["content"][0]["product_id"])' "$ORDERS")"

cat >"$TMP/create.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $MEMBER"
wrk.body = '{"content":[{"product_id":"$PID","quantity":1}],"receiver":{"name":"赵四","phone":"13800000004","address":"南方软件园A123"},"memo":"bench"}'
LUA

run() { # name, then wrk arguments
    local name="$1"; shift
    log "$name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" >"$TMP/$name.wrk"
}
wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "http://127.0.0.1:$BASE_PORT/heating/api/user/profile" >/dev/null
run baseline "http://127.0.0.1:$BASE_PORT/heating/api/user/profile"
run read -H "Authorization: Bearer $MEMBER" "$API/orders/$OID"
run create -s "$TMP/create.lua" "$API/orders"
STORED="$(curl -sf "$API/orders?limit=1" -H "Authorization: Bearer $VENDOR" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')"
run list -H "Authorization: Bearer $VENDOR" "$API/orders?limit=20&sort=create_tms&order=desc"

kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
LEDGER="$(cd "$TMP" && "$REAL_BIN" ledger check --database-url "$DB" 2>&1)" || { echo "$LEDGER"; die "ledger check failed"; }

python3 - "$TMP" "$STORED" "$LEDGER" <<'PY'
import re, sys
def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return rps, p99, int(non2xx.group(1)) if non2xx else 0
tmp, stored, ledger = sys.argv[1:4]
rows = [(n, parse(f"{tmp}/{n}.wrk")) for n in ["baseline", "read", "create", "list"]]
base = rows[0][1][0]
print(f"{'':22}{'req/s':>10}{'p99 ms':>10}{'non-2xx':>10}{'ratio':>8}")
labels = {"baseline": "baseline", "read": "GET one order", "create": "POST /orders", "list": f"GET list ({stored})"}
for n, (rps, p99, bad) in rows:
    print(f"{labels[n]:22}{rps:>10.1f}{p99:>10.2f}{bad:>10}{rps / base:>8.3f}")
print(f"orders stored after the create run: {stored}")
print(ledger.strip().splitlines()[-1])
if any(bad for _, (_, _, bad) in rows):
    sys.exit("some requests were refused: see the server log")
PY
