#!/usr/bin/env bash
# The charging station, three figures:
#
# 1. The scheduler: `utilhall charging replay --summary` on generated days of 10,000 and 100,000
#    requests (arrivals every second, cancels, kWh changes, a fast and a slow pile failing for a
#    quarter of an hour every hour) on 100 piles (50 fast, 50 slow), events per second, best of
#    three; the 10,000 run is the baseline of the 100,000 one (a scheduler whose cost per event
#    grew with the number of cars would fall far behind). Arrivals outpace the piles on purpose:
#    in the 100,000 run the waiting area grows to tens of thousands of cars.
# 2. Idle WebSocket sessions: the release server's memory (VmRSS) with DRIVERS drivers created,
#    then with one open WebSocket per driver, each queued (examples/charging_load.rs checks that
#    every stream got its opening reply and its `queued` event).
# 3. Station operations through the server, each written to the operation log: wrk on
#    `POST /charging/user/charge/modify` of one waiting request, next to the minimal axum
#    baseline (bench/baseline) with the same wrk settings.
#
#   bash bench/charging.sh
#   DRIVERS=2000 bash bench/charging.sh
#
# Env: DRIVERS (10000), DURATION (10s), CONNECTIONS (16), THREADS (2), PORT (18100),
#      BASE_PORT (18101), SKIP_BUILD=1.
set -euo pipefail

DRIVERS="${DRIVERS:-10000}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
PORT="${PORT:-18100}"
BASE_PORT="${BASE_PORT:-18101}"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BASELINE_TARGET="$ROOT/target/bench-baseline"
BIN="$ROOT/target/release/utilhall"
LOAD="$ROOT/target/release/examples/charging_load"
BASE_BIN="$BASELINE_TARGET/release/utilhall-bench-baseline"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    apt-get install -y wrk >/dev/null || { apt-get update >/dev/null; apt-get install -y wrk >/dev/null; }
fi
for tool in curl python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
    log "building utilhall, the load client and the baseline (release)"
    (cd "$ROOT" && cargo build --release --quiet && cargo build --release --quiet --example charging_load)
    (cd "$BENCH_DIR/baseline" && CARGO_TARGET_DIR="$BASELINE_TARGET" cargo build --release --quiet)
fi
[[ -x "$BIN" && -x "$LOAD" && -x "$BASE_BIN" ]] || die "missing release binaries (run without SKIP_BUILD)"
# One socket per session on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(( $(ulimit -n) > DRIVERS + 200 )) || die "open files limit $(ulimit -n) is too low for $DRIVERS sessions"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/utilhall-charging.XXXXXX")"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
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

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# --- 1. the scheduler ------------------------------------------------------------------------
generate() { # generate N FILE
    python3 - "$1" "$2" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(42)
lines = ["start 2026-01-05"]
t = 0
for i in range(n):
    t += 1  # one arrival a second, from midnight
    stamp = f"{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}"
    mode = "fast" if rng.random() < 0.5 else "slow"
    lines.append(f"{stamp} arrive V{i} {mode} {rng.randint(10, 100) / 10}")
    r = rng.random()
    if i > 0 and r < 0.10:
        lines.append(f"{stamp} cancel V{rng.randrange(i)}")
    elif i > 0 and r < 0.15:
        lines.append(f"{stamp} change V{rng.randrange(i)} kwh {rng.randint(10, 100) / 10}")
    # Every hour a fast and a slow pile fail for a quarter of an hour.
    if i % 3600 == 1800:
        down = (rng.randint(1, 50), rng.randint(1, 50))
        lines.append(f"{stamp} fault F{down[0]}")
        lines.append(f"{stamp} fault T{down[1]}")
    if i % 3600 == 2700:
        lines.append(f"{stamp} recover F{down[0]}")
        lines.append(f"{stamp} recover T{down[1]}")
open(path, "w").write("\n".join(lines) + "\n")
PY
}
for n in 10000 100000; do
    generate "$n" "$TMP/day-$n.txt"
    log "replay: $n requests on 100 piles (best of 3)"
    for r in 1 2 3; do
        "$BIN" charging replay --summary --fast 50 --slow 50 --waiting 1000000 --queue 3 \
            "$TMP/day-$n.txt" >"$TMP/replay-$n-$r.out"
    done
    cat "$TMP/replay-$n-1.out" >&2
done

# --- 2. idle WebSocket sessions --------------------------------------------------------------
log "server: release, SQLite, --dev --demo, simulated clock standing still"
(
    cd "$TMP"
    # Fast password hashing: the bench creates and logs in thousands of drivers.
    RUST_LOG=warn UTILHALL_AUTH__ARGON2_MEMORY_KIB=1024 UTILHALL_AUTH__ARGON2_ITERATIONS=1 \
        UTILHALL_AUTH__ADMIN_LOGIN_IP_LIMIT=1000 \
        UTILHALL_CONNECTIONS__MAX_CONNECTIONS_PER_IP=0 \
        UTILHALL_CONNECTIONS__MAX_CONNECTIONS=$((DRIVERS + 1000)) \
        exec "$BIN" serve --demo --dev --sim-clock 2026-01-05T02:00:00Z \
        --database-url "sqlite://$TMP/bench.db" --bind "127.0.0.1:$PORT"
) >"$TMP/server.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
wait_for "http://127.0.0.1:$PORT/health"
RSS_START="$(rss_kib "$SERVER")"
BASE="http://127.0.0.1:$PORT" DRIVERS="$DRIVERS" HOLD_SECS=8 "$LOAD" >"$TMP/load.out" 2>"$TMP/load.err" &
LOADPID=$!
PIDS+=("$LOADPID")
for ((i = 0; i < 3000; i++)); do
    grep -q '^DRIVERS' "$TMP/load.out" 2>/dev/null && break
    kill -0 "$LOADPID" 2>/dev/null || { cat "$TMP/load.err" >&2; die "the load client stopped"; }
    sleep 0.1
done
sleep 1
RSS_DRIVERS="$(rss_kib "$SERVER")"
for ((i = 0; i < 6000; i++)); do
    grep -q '^READY' "$TMP/load.out" 2>/dev/null && break
    kill -0 "$LOADPID" 2>/dev/null || { cat "$TMP/load.err" >&2; die "the load client stopped"; }
    sleep 0.1
done
sleep 2
RSS_OPEN="$(rss_kib "$SERVER")"
OPEN="$(awk '/^READY/ {print $2}' "$TMP/load.out")"
wait "$LOADPID" || { cat "$TMP/load.err" >&2; die "the load client failed"; }
cat "$TMP/load.err" >&2

# --- 3. logged operations per second ---------------------------------------------------------
# The last driver's request is in the waiting area: each call changes its kWh (one logged
# operation; a snapshot of the whole station every 1,000).
LAST=$((DRIVERS - 1))
TOKEN="$(curl -s -H 'content-type: application/json' \
    -d "{\"username\":\"load$LAST\",\"password\":\"123456\"}" "http://127.0.0.1:$PORT/charging/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
cat >"$TMP/modify.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"token":"$TOKEN","quantity":7.5}'
ok = 0
function response(status) if status == 200 then ok = ok + 1 end end
LUA
log "station operations: wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$TMP/modify.lua" \
    "http://127.0.0.1:$PORT/charging/user/charge/modify" >"$TMP/modify.wrk"
STATUS200="$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
    -d "{\"token\":\"$TOKEN\",\"quantity\":7.5}" "http://127.0.0.1:$PORT/charging/user/charge/modify")"
[[ "$STATUS200" == 200 ]] || { curl -s -H 'content-type: application/json' \
    -d "{\"token\":\"$TOKEN\",\"quantity\":7.5}" "http://127.0.0.1:$PORT/charging/user/charge/modify" >&2
    tail -5 "$TMP/server.log" >&2; cat "$TMP/modify.wrk" >&2; die "modify answered $STATUS200"; }
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true

"$BASE_BIN" "127.0.0.1:$BASE_PORT" >"$TMP/baseline.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$BASE_PORT/heating/api/user/profile"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
    "http://127.0.0.1:$BASE_PORT/heating/api/user/profile" >"$TMP/baseline.wrk"

python3 - "$TMP" "$RSS_START" "$RSS_DRIVERS" "$RSS_OPEN" "$OPEN" <<'PY'
import re, sys
tmp, rss0, rss1, rss2, open_ = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}

def replay(n):
    best = 0.0
    for r in (1, 2, 3):
        text = open(f"{tmp}/replay-{n}-{r}.out").read()
        best = max(best, float(re.search(r"events per second (\d+)", text).group(1)))
    return best, int(re.search(r"^events (\d+)", text).group(1))

def wrk(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)
    return rps, float(m.group(1)) * UNITS[m.group(2)]

(e10, n10), (e100, n100) = replay(10000), replay(100000)
print("\nscheduler (charging replay --summary, 100 piles)")
print(f"  10,000 requests  ({n10} events): {e10:>12,.0f} events/s  (baseline)")
print(f"  100,000 requests ({n100} events): {e100:>12,.0f} events/s  ratio {e100 / e10:.3f}")
print(f"\nidle WebSocket sessions (server VmRSS)")
print(f"  started (demo data):          {rss0 / 1024:>8.1f} MiB")
print(f"  {open_} drivers created:     {rss1 / 1024:>8.1f} MiB  (baseline)")
print(f"  {open_} streams open, queued: {rss2 / 1024:>8.1f} MiB  +{(rss2 - rss1) / max(open_, 1):.1f} KiB a session")
b, m = wrk(f"{tmp}/baseline.wrk"), wrk(f"{tmp}/modify.wrk")
print(f"\nstation operations through the server (each logged)")
print(f"  baseline (minimal axum): {b[0]:>10,.0f} req/s  p99 {b[1]:.2f} ms")
print(f"  modify (logged):         {m[0]:>10,.0f} req/s  p99 {m[1]:.2f} ms  ratio {m[0] / b[0]:.3f}")
PY
