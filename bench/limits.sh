#!/usr/bin/env bash
# The cost per request of the limits that hold across instances: the authenticated heating
# profile read (GET /heating/api/user/profile), which the heating document's per-IP limit
# counts, with the limit off, counted in this process's memory, in the database (PostgreSQL,
# the store several instances share by default) and in Redis; next to the minimal axum
# baseline (bench/baseline) measured in the same run with the same wrk settings.
#
# The limit is on (a billion requests per 15 minutes, so none is refused) in every case but
# `off`. All requests come from 127.0.0.1, so every one of them counts on one key (one row,
# one Redis hash): the worst case. A `:spread` case sends each request with an
# X-Forwarded-For of its own out of 65,536 addresses (the server trusting it), as traffic from
# many clients does.
#
#   bash bench/limits.sh
#   CASES="postgres:memory postgres:redis" DURATION=20s bash bench/limits.sh
#
# Each figure is the best of RUNS (3) wrk runs (all are printed): the machine has 2 cores.
#
# Env: DURATION (10s), WARMUP (2s), CONNECTIONS (64), THREADS (2), RUNS (3), PGURL
#      (postgres://postgres@127.0.0.1:5432), REDIS_URL (redis://127.0.0.1:6379), SKIP_BUILD=1,
#      BIN (another build to measure, e.g. main's: its `sqlite:*` and `postgres:off` cases),
#      REAL_PORT (18196), BASE_PORT (18197), CASES (BACKEND:STORE[:spread] ..., STORE one of
#      off memory database redis; default below).
set -euo pipefail

DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
RUNS="${RUNS:-3}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
REAL_PORT="${REAL_PORT:-18196}"
BASE_PORT="${BASE_PORT:-18197}"
CASES="${CASES:-sqlite:off sqlite:memory postgres:off postgres:memory postgres:database postgres:redis postgres:database:spread postgres:redis:spread}"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BASELINE_TARGET="$ROOT/target/bench-baseline"
REAL_BIN="${BIN:-$ROOT/target/release/utilhall}"
BASE_BIN="$BASELINE_TARGET/release/utilhall-bench-baseline"
PROFILE_PATH="/heating/api/user/profile"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    apt-get install -y wrk >/dev/null || { apt-get update >/dev/null; apt-get install -y wrk >/dev/null; }
fi
for tool in curl python3 psql; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
if [[ "$CASES" == *redis* ]] && ! redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
    if command -v redis-server >/dev/null 2>&1; then
        log "starting redis-server"
        redis-server --daemonize yes --save '' --appendonly no >/dev/null
        sleep 0.5
    fi
    redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 || die "Redis does not answer at $REDIS_URL"
fi
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
    log "building utilhall and the baseline (release)"
    (cd "$ROOT" && cargo build --release --quiet)
    (cd "$BENCH_DIR/baseline" && CARGO_TARGET_DIR="$BASELINE_TARGET" cargo build --release --quiet)
fi
[[ -x "$REAL_BIN" && -x "$BASE_BIN" ]] || die "missing release binaries (run without SKIP_BUILD)"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/utilhall-limits.XXXXXX")"
PIDS=()
PG_DB=""
PREFIX="bench$$"
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    if [[ -n "$PG_DB" ]]; then
        psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    if [[ "$CASES" == *redis* ]]; then
        redis-cli -u "$REDIS_URL" --scan --pattern "$PREFIX:*" 2>/dev/null \
            | xargs -r -n 500 redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
    fi
    [[ -n "${KEEP_TMP:-}" ]] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() {
    ! curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" 2>/dev/null
}
port_free "$REAL_PORT" || die "something already listens on 127.0.0.1:$REAL_PORT (set REAL_PORT)"
port_free "$BASE_PORT" || die "something already listens on 127.0.0.1:$BASE_PORT (set BASE_PORT)"

wait_for() {
    for ((i = 0; i < 150; i++)); do
        curl -sf -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.2
    done
    die "nothing answered $1"
}

# The wrk script of the :spread cases: one X-Forwarded-For address per request.
cat >"$TMP/spread.lua" <<'LUA'
local threads = {}
function setup(thread)
    thread:set("id", #threads + 1)
    table.insert(threads, thread)
end
function init(args)
    token = os.getenv("TOKEN")
    counter = id * 7919
end
function request()
    counter = counter + 1
    local n = counter % 65536
    return wrk.format("GET", "/heating/api/user/profile", {
        ["Authorization"] = "Bearer " .. token,
        ["X-Forwarded-For"] = "10.1." .. math.floor(n / 256) .. "." .. (n % 256),
    })
end
LUA

"$BASE_BIN" "127.0.0.1:$BASE_PORT" >"$TMP/baseline.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$BASE_PORT$PROFILE_PATH"
log "baseline: wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "http://127.0.0.1:$BASE_PORT$PROFILE_PATH" >/dev/null
for ((run = 1; run <= RUNS; run++)); do
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        "http://127.0.0.1:$BASE_PORT$PROFILE_PATH" >"$TMP/baseline.$run.wrk"
done
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
PIDS=()

NAMES=()
for case in $CASES; do
    IFS=: read -r backend store spread <<<"$case"
    case "$backend" in
        sqlite) DB="sqlite://$TMP/bench.db" ;;
        postgres)
            if [[ -z "$PG_DB" ]]; then
                PG_DB="utilhall_limits_$$"
                psql -q "$PGURL/postgres" -c "CREATE DATABASE $PG_DB" >/dev/null || die "cannot create $PG_DB at $PGURL"
            fi
            DB="$PGURL/$PG_DB"
            ;;
        *) die "unknown backend $backend (sqlite or postgres)" ;;
    esac
    ENV=(RUST_LOG=warn UTILHALL_HEATING__RATE_LIMIT_REQUESTS=1000000000)
    case "$store" in
        off) ENV=(RUST_LOG=warn UTILHALL_HEATING__RATE_LIMIT_REQUESTS=0) ;;
        # On SQLite the limits are in memory by default (and a build before the shared
        # limits knows no limits.store).
        memory) [[ "$backend" == sqlite ]] || ENV+=(UTILHALL_LIMITS__STORE=memory) ;;
        database) ENV+=(UTILHALL_LIMITS__STORE=database) ;;
        redis) ENV+=(UTILHALL_LIMITS__STORE=redis UTILHALL_REDIS__URL="$REDIS_URL" UTILHALL_REDIS__KEY_PREFIX="$PREFIX") ;;
        *) die "unknown store $store (off, memory, database or redis)" ;;
    esac
    [[ -n "$spread" ]] && ENV+=(UTILHALL_SERVER__TRUST_FORWARDED_FOR=true)
    name="$backend $store${spread:+ spread}"
    log "$name: starting utilhall --demo"
    (
        cd "$TMP"
        exec env "${ENV[@]}" "$REAL_BIN" serve --demo --database-url "$DB" --bind "127.0.0.1:$REAL_PORT"
    ) >"$TMP/server.log" 2>&1 &
    PIDS=($!)
    wait_for "http://127.0.0.1:$REAL_PORT/health"
    LOGIN="$(curl -s --max-time 10 -H 'Content-Type: application/json' \
        -d '{"phone":"13888888888","password":"123456789"}' "http://127.0.0.1:$REAL_PORT/heating/api/auth/login")"
    TOKEN="$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["code"]==200, r; print(r["data"]["token"])' "$LOGIN")" \
        || die "$name: login failed: $LOGIN"
    STORE="$(curl -s "http://127.0.0.1:$REAL_PORT/health" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("limits", {}).get("store", ""))')"
    [[ "$store" == off || -z "$STORE" || "$STORE" == "$store" ]] || die "$name: the server keeps its limits in $STORE"
    file="$TMP/case${#NAMES[@]}"
    if [[ -n "$spread" ]]; then
        ARGS=(-s "$TMP/spread.lua" "http://127.0.0.1:$REAL_PORT")
    else
        ARGS=(-H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$REAL_PORT$PROFILE_PATH")
    fi
    log "$name: warm-up ($WARMUP), then wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
    TOKEN="$TOKEN" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "${ARGS[@]}" >/dev/null
    for ((run = 1; run <= RUNS; run++)); do
        TOKEN="$TOKEN" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${ARGS[@]}" >"$file.$run.wrk"
    done
    echo "$name" >"$file.name"
    NAMES+=("$name")
    kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
    PIDS=()
done

python3 - "$TMP" "${#NAMES[@]}" "$RUNS" "$THREADS" "$CONNECTIONS" "$DURATION" <<'PY'
import re, sys
tmp, n, runs, threads, connections, duration = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:]
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}

def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)
    p99 = float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return rps, p99, int(errors.group(1)) if errors else 0

def best(prefix):
    """The run with the most requests a second, and every run's figure."""
    all_runs = [parse(f"{prefix}.{r}.wrk") for r in range(1, runs + 1)]
    return max(all_runs), " ".join(f"{r[0]:.0f}" for r in all_runs)

base, base_runs = best(f"{tmp}/baseline")
print(f"\nwrk -t{threads} -c{connections} -d{duration} --latency   GET /heating/api/user/profile   (best of {runs})")
print(f"{'':32}{'req/s':>10}{'p99 ms':>10}{'ratio':>8}{'µs/req':>8}{'non-2xx':>9}")
print(f"{'baseline':32}{base[0]:>10.1f}{base[1]:>10.2f}{'1.000':>8}{'':>8}{base[2]:>9}   runs: {base_runs}")
off = {}
for i in range(n):
    name = open(f"{tmp}/case{i}.name").read().strip()
    (rps, p99, errors), runs_text = best(f"{tmp}/case{i}")
    backend = name.split()[0]
    if name.endswith(" off"):
        off[backend] = rps
    # What the limit costs each request, in CPU time of the two cores, next to no limit.
    extra = f"{(1 / rps - 1 / off[backend]) * 2e6:>8.1f}" if backend in off and not name.endswith(" off") else f"{'':>8}"
    print(f"{'profile ' + name:32}{rps:>10.1f}{p99:>10.2f}{rps / base[0]:>8.3f}{extra}{errors:>9}   runs: {runs_text}")
    if errors:
        print(f"  warning: {errors} requests failed; the numbers are suspect")
PY
