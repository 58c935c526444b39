#!/usr/bin/env bash
# The charging station, four figures:
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
# 3. Station operations through the server, each written to the operation log: wrk -c16 on
#    `POST /charging/user/charge/modify` of one waiting request with the DRIVERS cars at the
#    station, next to the minimal axum baseline (bench/baseline) with the same wrk settings.
# 4. A driver reading their request: wrk -c32 on `GET /charging/user/charge/info` with 40
#    requests at the station (after a `--dev` reset), next to the baseline at -c32.
#
# 2-4 run on SQLite and then on a throwaway PostgreSQL database (BACKENDS, PGURL); each wrk
# figure is run three times (all three printed, the best one counted), the baselines too.
#
#   bash bench/charging.sh
#   DRIVERS=2000 BACKENDS=sqlite bash bench/charging.sh
#
# Env: DRIVERS (10000), DURATION (10s), CONNECTIONS (16, modify), INFO_CONNECTIONS (32),
#      INFO_REQUESTS (40), THREADS (2), RUNS (3), BACKENDS ("sqlite postgres"),
#      PGURL (postgres://postgres@127.0.0.1:5432), PORT (18100), BASE_PORT (18101), SKIP_BUILD=1,
#      BIN (another build of utilhall to measure, e.g. an earlier commit's, with SKIP_BUILD=1).
set -euo pipefail

DRIVERS="${DRIVERS:-10000}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16}"
INFO_CONNECTIONS="${INFO_CONNECTIONS:-32}"
INFO_REQUESTS="${INFO_REQUESTS:-40}"
THREADS="${THREADS:-2}"
RUNS="${RUNS:-3}"
BACKENDS="${BACKENDS:-sqlite postgres}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
PORT="${PORT:-18100}"
BASE_PORT="${BASE_PORT:-18101}"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BASELINE_TARGET="$ROOT/target/bench-baseline"
BIN="${BIN:-$ROOT/target/release/utilhall}"
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
PG_DB=""
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    if [[ -n "$PG_DB" ]]; then
        psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
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

# json_field FIELD: a field of the JSON document on stdin.
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# runs NAME WRK-ARGS...: wrk RUNS times, each output in $TMP/NAME-<run>.wrk.
runs() {
    local name="$1"
    shift
    for ((r = 1; r <= RUNS; r++)); do
        wrk -t"$THREADS" -d"$DURATION" --latency "$@" >"$TMP/$name-$r.wrk"
    done
}

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

# --- the baselines ---------------------------------------------------------------------------
"$BASE_BIN" "127.0.0.1:$BASE_PORT" >"$TMP/baseline.log" 2>&1 &
BASE_PID=$!
PIDS+=("$BASE_PID")
wait_for "http://127.0.0.1:$BASE_PORT/heating/api/user/profile"
log "baseline: wrk -c$CONNECTIONS and -c$INFO_CONNECTIONS, $RUNS runs each"
runs "baseline-c$CONNECTIONS" -c"$CONNECTIONS" "http://127.0.0.1:$BASE_PORT/heating/api/user/profile"
runs "baseline-c$INFO_CONNECTIONS" -c"$INFO_CONNECTIONS" "http://127.0.0.1:$BASE_PORT/heating/api/user/profile"
kill "$BASE_PID"; wait "$BASE_PID" 2>/dev/null || true

# Waits (at most $2 tenths of a second) until the load client prints a line starting with $1.
await_load() {
    for ((i = 0; i < $2; i++)); do
        grep -q "^$1" "$TMP/load.out" 2>/dev/null && return 0
        kill -0 "$LOADPID" 2>/dev/null || { cat "$TMP/load.err" >&2; die "the load client stopped"; }
        sleep 0.1
    done
}

for backend in $BACKENDS; do
    case "$backend" in
        sqlite) DB="sqlite://$TMP/bench.db" ;;
        postgres)
            PG_DB="utilhall_charging_bench_$$"
            psql -q "$PGURL/postgres" -c "CREATE DATABASE $PG_DB" >/dev/null || die "cannot create $PG_DB at $PGURL"
            DB="$PGURL/$PG_DB"
            ;;
        *) die "unknown backend $backend (sqlite or postgres)" ;;
    esac
    BASE="http://127.0.0.1:$PORT"

    # --- 2. idle WebSocket sessions ----------------------------------------------------------
    log "$backend: server: release, --dev --demo, simulated clock standing still"
    (
        cd "$TMP"
        # Fast password hashing: the bench creates and logs in thousands of drivers.
        RUST_LOG=warn UTILHALL_AUTH__ARGON2_MEMORY_KIB=1024 UTILHALL_AUTH__ARGON2_ITERATIONS=1 \
            UTILHALL_AUTH__ADMIN_LOGIN_IP_LIMIT=1000 \
            UTILHALL_CONNECTIONS__MAX_CONNECTIONS_PER_IP=0 \
            UTILHALL_CONNECTIONS__MAX_CONNECTIONS=$((DRIVERS + 1000)) \
            exec "$BIN" serve --demo --dev --sim-clock 2026-01-05T02:00:00Z \
            --database-url "$DB" --bind "127.0.0.1:$PORT"
    ) >"$TMP/$backend-server.log" 2>&1 &
    SERVER=$!
    PIDS+=("$SERVER")
    wait_for "$BASE/health"
    RSS_START="$(rss_kib "$SERVER")"
    BASE="$BASE" DRIVERS="$DRIVERS" HOLD_SECS=8 "$LOAD" >"$TMP/load.out" 2>"$TMP/load.err" &
    LOADPID=$!
    PIDS+=("$LOADPID")
    await_load DRIVERS 3000
    sleep 1
    RSS_DRIVERS="$(rss_kib "$SERVER")"
    await_load READY 6000
    sleep 2
    RSS_OPEN="$(rss_kib "$SERVER")"
    OPEN="$(awk '/^READY/ {print $2}' "$TMP/load.out")"
    wait "$LOADPID" || { cat "$TMP/load.err" >&2; die "the load client failed"; }
    cat "$TMP/load.err" >&2
    echo "$RSS_START $RSS_DRIVERS $RSS_OPEN $OPEN" >"$TMP/$backend.rss"

    # --- 3. logged operations per second -----------------------------------------------------
    # The last driver's request is in the waiting area: each call changes its kWh (one logged
    # operation; a snapshot of the whole station every 1,000).
    login() {
        curl -s -H 'content-type: application/json' \
            -d "{\"username\":\"$1\",\"password\":\"123456\"}" "$BASE/charging/login" | json_field token
    }
    TOKEN="$(login "load$((DRIVERS - 1))")"
    cat >"$TMP/modify.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"token":"$TOKEN","quantity":7.5}'
LUA
    log "$backend: station operations with $OPEN cars: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $RUNS runs"
    runs "$backend-modify" -c"$CONNECTIONS" -s "$TMP/modify.lua" "$BASE/charging/user/charge/modify"
    STATUS="$(curl -s -o "$TMP/modify.body" -w '%{http_code}' -H 'content-type: application/json' \
        -d "{\"token\":\"$TOKEN\",\"quantity\":7.5}" "$BASE/charging/user/charge/modify")"
    [[ "$STATUS" == 200 ]] || { cat "$TMP/modify.body" >&2; tail -5 "$TMP/$backend-server.log" >&2
        die "$backend: modify answered $STATUS"; }

    # --- 4. a driver reads their request -----------------------------------------------------
    ADMIN="$(curl -s -H 'content-type: application/json' \
        -d '{"username":"admin","password":"admin123456"}' "$BASE/admin/v1/login" | json_field token)"
    curl -sf -o /dev/null -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' \
        -d '{}' "$BASE/admin/v1/charging/reset" || die "$backend: reset failed"
    for ((i = 0; i < INFO_REQUESTS; i++)); do
        T="$(login "load$i")"
        curl -sf -o /dev/null -H 'content-type: application/json' \
            -d "{\"token\":\"$T\",\"mode\":\"$([[ $((i % 2)) == 0 ]] && echo fast || echo common)\",\"quantity\":20}" \
            "$BASE/charging/user/charge/apply" || die "$backend: apply $i failed"
    done
    INFO_URL="$BASE/charging/user/charge/info?token=$T"
    curl -s "$INFO_URL" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["code"]==200 and r["state"]=="waiting", r' \
        || die "$backend: info is not the waiting request"
    log "$backend: info with $INFO_REQUESTS requests: wrk -t$THREADS -c$INFO_CONNECTIONS -d$DURATION, $RUNS runs"
    runs "$backend-info" -c"$INFO_CONNECTIONS" "$INFO_URL"

    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
    if [[ "$backend" == postgres ]]; then
        psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
        PG_DB=""
    fi
done

python3 - "$TMP" "$RUNS" "$CONNECTIONS" "$INFO_CONNECTIONS" "$INFO_REQUESTS" $BACKENDS <<'PY'
import re, sys
tmp, runs, c_mod, c_info, n_info = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
backends = sys.argv[6:]
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
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return rps, float(m.group(1)) * UNITS[m.group(2)], int(bad.group(1)) if bad else 0

def best(name):
    all_ = [wrk(f"{tmp}/{name}-{r}.wrk") for r in range(1, runs + 1)]
    return max(all_, key=lambda x: x[0]), all_

(e10, n10), (e100, n100) = replay(10000), replay(100000)
print("\nscheduler (charging replay --summary, 100 piles)")
print(f"  10,000 requests  ({n10} events): {e10:>12,.0f} events/s  (baseline)")
print(f"  100,000 requests ({n100} events): {e100:>12,.0f} events/s  ratio {e100 / e10:.3f}")

print("\nidle WebSocket sessions (server VmRSS)")
for b in backends:
    rss0, rss1, rss2, open_ = map(int, open(f"{tmp}/{b}.rss").read().split())
    print(f"  {b:<9} started (demo data):          {rss0 / 1024:>8.1f} MiB")
    print(f"  {b:<9} {open_} drivers created:     {rss1 / 1024:>8.1f} MiB  (baseline)")
    print(f"  {b:<9} {open_} streams open, queued: {rss2 / 1024:>8.1f} MiB  +{(rss2 - rss1) / max(open_, 1):.1f} KiB a session")

def line(label, name, base):
    (rps, p99, bad), all_ = best(name)
    each = " ".join(f"{r:,.0f}" for r, _, _ in all_)
    ratio = f"  ratio {rps / base:.3f}" if base else ""
    warn = f"  NON-2XX {bad}" if bad else ""
    print(f"  {label:<28} {rps:>10,.0f} req/s  p99 {p99:6.2f} ms{ratio}   (runs: {each}){warn}")

print(f"\nstation operations through the server (each logged), wrk -c{c_mod}, best of {runs}")
(base_mod, _, _), _ = best(f"baseline-c{c_mod}")
line("baseline (minimal axum)", f"baseline-c{c_mod}", None)
for b in backends:
    line(f"modify, {b}", f"{b}-modify", base_mod)
print(f"\na driver reads their request ({n_info} requests at the station), wrk -c{c_info}, best of {runs}")
(base_info, _, _), _ = best(f"baseline-c{c_info}")
line("baseline (minimal axum)", f"baseline-c{c_info}", None)
for b in backends:
    line(f"info, {b}", f"{b}-info", base_info)
PY
