#!/usr/bin/env bash
# One instance against two on the same PostgreSQL database, in one run: meter recharges
# (POST /meter/user/Prestore, each with a distinct out_trade_no, durable) and an authenticated
# read (POST /meter/user/GetUserInfo with the account's token) per second and p99, next to the
# minimal axum baseline (bench/baseline) measured in the same run with the same wrk settings.
# With two instances the load is split over both: two wrk processes at once, each with half the
# threads and connections, one per instance; their rates add up, the p99 is the worse of the two.
#
# Afterwards `utilhall ledger check` must pass, every acknowledged recharge must be stored once,
# and stored recharges, journal entries and the credited sum must agree (exit 4 otherwise).
#
#   bash bench/instances.sh
#   DURATION=20s bash bench/instances.sh
#
# Env: DURATION (10s), WARMUP (2s), CONNECTIONS (64), THREADS (2), PGURL
#      (postgres://postgres@127.0.0.1:5432), SKIP_BUILD=1, PORT_A (18096), PORT_B (18097),
#      BASE_PORT (18098).
set -euo pipefail

DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
PORT_A="${PORT_A:-18096}"
PORT_B="${PORT_B:-18097}"
BASE_PORT="${BASE_PORT:-18098}"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BASELINE_TARGET="$ROOT/target/bench-baseline"
REAL_BIN="${BIN:-$ROOT/target/release/utilhall}"
BASE_BIN="$BASELINE_TARGET/release/utilhall-bench-baseline"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    apt-get install -y wrk >/dev/null || { apt-get update >/dev/null; apt-get install -y wrk >/dev/null; }
fi
for tool in curl python3 psql; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
    log "building utilhall and the baseline (release)"
    (cd "$ROOT" && cargo build --release --quiet -j 2)
    (cd "$BENCH_DIR/baseline" && CARGO_TARGET_DIR="$BASELINE_TARGET" cargo build --release --quiet -j 2)
fi
[[ -x "$REAL_BIN" && -x "$BASE_BIN" ]] || die "missing release binaries (run without SKIP_BUILD)"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/utilhall-instances.XXXXXX")"
PIDS=()
PG_DB="utilhall_instances_$$"
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    [[ -n "${KEEP_TMP:-}" ]] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {
    for ((i = 0; i < 150; i++)); do
        curl -sf -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.2
    done
    die "nothing answered $1"
}

# Recharges: a distinct out_trade_no per request (prefix, thread, counter), 1.00 yuan each,
# alternating the demo's two households. Reads: the first household's info. Both count the
# answers whose envelope says success.
cat >"$TMP/count.lua" <<'LUA'
local threads = {}
function setup(thread)
    thread:set("id", #threads + 1)
    table.insert(threads, thread)
end
function init(args)
    token = os.getenv("METER_TOKEN")
    prefix = os.getenv("RUN_PREFIX") .. id .. "n"
    read = os.getenv("READ") == "1"
    counter = 0
    ok = 0
    refused = 0
end
function request()
    counter = counter + 1
    local body
    local path
    if read then
        path = "/meter/user/GetUserInfo"
        body = "token=" .. token .. "&admin_user_name=khcs&user_code=2022040001"
    else
        path = "/meter/user/Prestore"
        local user = (counter % 2 == 0) and "2022040001" or "2022040002"
        body = "token=" .. token .. "&admin_user_name=khcs&user_code=" .. user ..
            "&out_trade_no=" .. prefix .. counter .. "&total_fee=1.00"
    end
    return wrk.format("POST", path, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
function response(status, headers, body)
    if status == 200 and string.find(body, '"code":200', 1, true) then
        ok = ok + 1
    else
        refused = refused + 1
    end
end
function done(summary, latency, requests)
    local o, r = 0, 0
    for _, t in ipairs(threads) do
        o = o + t:get("ok")
        r = r + t:get("refused")
    end
    io.write(string.format("acknowledged: %d\nrefused: %d\n", o, r))
end
LUA

"$BASE_BIN" "127.0.0.1:$BASE_PORT" >"$TMP/baseline.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$BASE_PORT/heating/api/user/profile"
log "baseline: wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "http://127.0.0.1:$BASE_PORT/heating/api/user/profile" >/dev/null
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
    "http://127.0.0.1:$BASE_PORT/heating/api/user/profile" >"$TMP/baseline.wrk"
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
PIDS=()

psql -q "$PGURL/postgres" -c "CREATE DATABASE $PG_DB" >/dev/null || die "cannot create $PG_DB at $PGURL"
DB="$PGURL/$PG_DB"
count_sql() { psql -qtA "$DB" -c "$1"; }

# start NAME PORT: an instance on the shared database (meter's one-call-per-2-s rule off, so
# that the read can be repeated).
start() {
    (
        cd "$TMP"
        RUST_LOG=warn UTILHALL_METER__RATE_LIMIT_WINDOW_SECONDS=0 \
            exec "$REAL_BIN" serve --demo --database-url "$DB" --bind "127.0.0.1:$2"
    ) >>"$TMP/$1.log" 2>&1 &
    PIDS+=($!)
    wait_for "http://127.0.0.1:$2/health"
}

# load NAME READ PREFIX PORT...: wrk on each port at once, threads and connections split.
load() {
    local name="$1" read="$2" prefix="$3"
    shift 3
    local n=$# i=0 waits=()
    local t=$(( THREADS / n > 0 ? THREADS / n : 1 )) c=$(( CONNECTIONS / n ))
    for port in "$@"; do
        METER_TOKEN="$TOKEN" READ="$read" RUN_PREFIX="${prefix}p${i}t" wrk -t"$t" -c"$c" -d"$WARMUP" \
            -s "$TMP/count.lua" "http://127.0.0.1:$port" >"$TMP/$name.$i.warmup.wrk" &
        waits+=($!)
        i=$((i + 1))
    done
    wait "${waits[@]}"
    i=0 waits=()
    for port in "$@"; do
        METER_TOKEN="$TOKEN" READ="$read" RUN_PREFIX="${prefix}q${i}t" wrk -t"$t" -c"$c" -d"$DURATION" --latency \
            -s "$TMP/count.lua" "http://127.0.0.1:$port" >"$TMP/$name.$i.wrk" &
        waits+=($!)
        i=$((i + 1))
    done
    wait "${waits[@]}"
}

STORED_SQL="SELECT COUNT(*) FROM meter_recharges"
JOURNALED_SQL="SELECT COUNT(*) FROM ledger_entries WHERE kind = 'meter_recharge'"
BALANCE_SQL="SELECT SUM(balance) FROM meter_households"

log "one instance"
start a "$PORT_A"
LOGIN="$(curl -s --max-time 10 -d 'admin_user_name=khcs&api_password=123456' "http://127.0.0.1:$PORT_A/meter/user/login")"
TOKEN="$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["code"]==200, r; print(r["data"])' "$LOGIN")" \
    || die "meter login failed: $LOGIN"
STORED0="$(count_sql "$STORED_SQL")"
JOURNALED0="$(count_sql "$JOURNALED_SQL")"
BALANCE0="$(count_sql "$BALANCE_SQL")"
load one-recharge 0 A "$PORT_A"
load one-read 1 A "$PORT_A"

log "two instances"
start b "$PORT_B"
load two-recharge 0 B "$PORT_A" "$PORT_B"
load two-read 1 B "$PORT_A" "$PORT_B"

for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
PIDS=()
LEDGER="$(cd "$TMP" && "$REAL_BIN" ledger check --database-url "$DB" 2>&1)" \
    || { echo "$LEDGER" >&2; die "ledger check failed"; }
{
    echo "ledger: $(echo "$LEDGER" | tail -n1)"
    echo "stored: $(( $(count_sql "$STORED_SQL") - STORED0 ))"
    echo "journaled: $(( $(count_sql "$JOURNALED_SQL") - JOURNALED0 ))"
    echo "credited_fen: $(( $(count_sql "$BALANCE_SQL") - BALANCE0 ))"
} >"$TMP/check"

python3 - "$TMP" <<'PY' || RC=$?
import glob, re, sys
tmp = sys.argv[1]
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}

def parse(path):
    text = open(path).read()
    found = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not found:
        print(f"FAIL: {path} has no rate:\n{text}")
        sys.exit(5)
    rps = float(found.group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)
    p99 = float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")
    acked = re.search(r"acknowledged: (\d+)", text)
    refused = re.search(r"refused: (\d+)", text)
    return rps, p99, int(acked.group(1)) if acked else 0, int(refused.group(1)) if refused else 0

def run(name):
    parts = [parse(p) for p in sorted(glob.glob(f"{tmp}/{name}.[0-9].wrk"))]
    warm = [parse(p) for p in sorted(glob.glob(f"{tmp}/{name}.[0-9].warmup.wrk"))]
    return (sum(p[0] for p in parts), max(p[1] for p in parts),
            sum(p[2] for p in parts + warm), sum(p[3] for p in parts + warm))

base = parse(f"{tmp}/baseline.wrk")
print(f"\n{'':24}{'req/s':>10}{'p99 ms':>10}{'ratio':>8}{'refused':>9}")
print(f"{'baseline':24}{base[0]:>10.1f}{base[1]:>10.2f}{'1.000':>8}{'':>9}")
acked_all = refused_all = 0
rows = {}
for name, label in [("one-recharge", "recharge, 1 instance"), ("two-recharge", "recharge, 2 instances"),
                    ("one-read", "read, 1 instance"), ("two-read", "read, 2 instances")]:
    rps, p99, acked, refused = run(name)
    rows[name] = rps
    print(f"{label:24}{rps:>10.1f}{p99:>10.2f}{rps / base[0]:>8.3f}{refused:>9}")
    refused_all += refused
    if "recharge" in name:
        acked_all += acked
print(f"two/one: recharges {rows['two-recharge'] / rows['one-recharge']:.2f}, "
      f"reads {rows['two-read'] / rows['one-read']:.2f}")
c = dict(line.split(": ", 1) for line in open(f"{tmp}/check").read().splitlines())
stored, journaled, credited = int(c["stored"]), int(c["journaled"]), int(c["credited_fen"])
print(f"acknowledged {acked_all}, stored {stored}, journaled {journaled}, credited {credited / 100:.2f} yuan; {c['ledger']}")
if refused_all or stored < acked_all or stored != journaled or credited != 100 * stored:
    print("FAIL: acknowledged, stored, journaled and credited recharges disagree (or some were refused)")
    sys.exit(4)
PY
exit "${RC:-0}"
