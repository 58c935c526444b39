#!/usr/bin/env bash
# Throughput/latency benchmark of GET /heating/api/user/profile against a minimal
# axum JSON endpoint (bench/baseline), both measured with the same wrk settings.
#
#   bash bench/run.sh                      # 10 s per run, 64 connections
#   DURATION=30s CONNECTIONS=128 bash bench/run.sh
#
# Environment:
#   DURATION      wrk duration of each measured run      (default 10s)
#   CONNECTIONS   wrk connections                        (default 64)
#   THREADS       wrk threads                            (default 2)
#   WARMUP        wrk duration of each warm-up run       (default 2s)
#   REAL_PORT     port of the real server                (default 18090)
#   BASE_PORT     port of the baseline                   (default 18091)
#   SKIP_BUILD=1  use the binaries already built
#   STRICT=1      exit 1 when a goal does not hold
#
# Goals checked: profile_rps / baseline_rps >= 0.3 and profile p99 < 10 ms.
# The summary is printed and written to bench/results/latest.json.
set -euo pipefail

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
WARMUP="${WARMUP:-2s}"
REAL_PORT="${REAL_PORT:-18090}"
BASE_PORT="${BASE_PORT:-18091}"
MIN_RATIO="0.3"
MAX_P99_MS="10"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
RESULTS_DIR="$BENCH_DIR/results"
BASELINE_TARGET="$ROOT/target/bench-baseline"
REAL_BIN="$ROOT/target/release/utilhall"
BASE_BIN="$BASELINE_TARGET/release/utilhall-bench-baseline"
REAL_URL="http://127.0.0.1:$REAL_PORT"
BASE_URL="http://127.0.0.1:$BASE_PORT"
PROFILE_PATH="/heating/api/user/profile"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# --- tools ---------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    if ! apt-get install -y wrk >/dev/null; then
        apt-get update >/dev/null
        apt-get install -y wrk >/dev/null
    fi
fi
for tool in curl python3 cargo; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done

# --- build ---------------------------------------------------------------------
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
    log "building utilhall (release)"
    (cd "$ROOT" && cargo build --release --quiet)
    log "building the baseline (release)"
    (cd "$BENCH_DIR/baseline" && CARGO_TARGET_DIR="$BASELINE_TARGET" cargo build --release --quiet)
fi
[[ -x "$REAL_BIN" ]] || die "missing $REAL_BIN"
[[ -x "$BASE_BIN" ]] || die "missing $BASE_BIN"

# --- servers -------------------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/utilhall-bench.XXXXXX")"
REAL_PID=""
BASE_PID=""
cleanup() {
    local pid
    for pid in "$REAL_PID" "$BASE_PID"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() {
    ! curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" 2>/dev/null
}
port_free "$REAL_PORT" || die "something already listens on 127.0.0.1:$REAL_PORT (set REAL_PORT)"
port_free "$BASE_PORT" || die "something already listens on 127.0.0.1:$BASE_PORT (set BASE_PORT)"

# wait_for URL PID NAME LOGFILE: poll URL for up to ~30 s while PID lives.
wait_for() {
    local url="$1" pid="$2" name="$3" logfile="$4" i
    for ((i = 0; i < 150; i++)); do
        if curl -sf -o /dev/null --max-time 1 "$url"; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$logfile" >&2 || true
            die "$name exited during start-up"
        fi
        sleep 0.2
    done
    cat "$logfile" >&2 || true
    die "$name did not answer $url within 30 s"
}

log "starting utilhall on 127.0.0.1:$REAL_PORT (temp SQLite, rate limit off)"
(
    cd "$TMP"
    RUST_LOG=warn UTILHALL_HEATING__RATE_LIMIT_REQUESTS=0 exec "$REAL_BIN" serve --dev \
        --dev-outbox "$TMP/outbox.jsonl" \
        --database-url "sqlite://$TMP/bench.db" \
        --bind "127.0.0.1:$REAL_PORT"
) >"$TMP/utilhall.log" 2>&1 &
REAL_PID=$!
wait_for "$REAL_URL/health" "$REAL_PID" utilhall "$TMP/utilhall.log"

log "starting the baseline on 127.0.0.1:$BASE_PORT"
"$BASE_BIN" "127.0.0.1:$BASE_PORT" >"$TMP/baseline.log" 2>&1 &
BASE_PID=$!
wait_for "$BASE_URL$PROFILE_PATH" "$BASE_PID" baseline "$TMP/baseline.log"

# --- a user and its token ------------------------------------------------------
PHONE="13900000001"
PASSWORD="bench123456"

# post PATH JSON: POST to the real server, print the body, fail unless envelope code is 200.
post() {
    local path="$1" body="$2" reply
    reply="$(curl -s --max-time 10 -H 'Content-Type: application/json' -d "$body" "$REAL_URL$path")" \
        || die "POST $path: no answer"
    python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1]).get("code") == 200 else 1)' "$reply" 2>/dev/null \
        || die "POST $path failed: $reply"
    printf '%s' "$reply"
}

log "registering $PHONE and logging in"
post /heating/api/sms/send "{\"phone\":\"$PHONE\",\"type\":\"register\"}" >/dev/null
CODE=""
for ((i = 0; i < 50; i++)); do
    if [[ -f "$TMP/outbox.jsonl" ]]; then
        CODE="$(python3 - "$TMP/outbox.jsonl" "$PHONE" <<'PY'
import json, sys
path, phone = sys.argv[1], sys.argv[2]
code = ""
with open(path, encoding="utf-8") as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("to") == phone and msg.get("purpose") == "register":
            code = str(msg.get("code", ""))
print(code)
PY
)"
    fi
    [[ -n "$CODE" ]] && break
    sleep 0.1
done
[[ "$CODE" =~ ^[0-9]{6}$ ]] || die "no register code for $PHONE in $TMP/outbox.jsonl (got '$CODE')"

post /heating/api/auth/register \
    "{\"phone\":\"$PHONE\",\"code\":\"$CODE\",\"password\":\"$PASSWORD\"}" >/dev/null
LOGIN="$(post /heating/api/auth/login "{\"phone\":\"$PHONE\",\"password\":\"$PASSWORD\"}")"
TOKEN="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"]["token"])' "$LOGIN")"
[[ -n "$TOKEN" ]] || die "login returned no token: $LOGIN"

PROFILE="$(curl -s --max-time 10 -H "Authorization: Bearer $TOKEN" "$REAL_URL$PROFILE_PATH")"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d.get("code")==200 and d["data"]["phone"]==sys.argv[2] else 1)' \
    "$PROFILE" "$PHONE" || die "GET $PROFILE_PATH with the token failed: $PROFILE"
log "profile check ok"

# --- load ----------------------------------------------------------------------
# run_wrk NAME URL [wrk args...]: warm up, then measure; the measured output goes to $TMP/NAME.wrk
run_wrk() {
    local name="$1" url="$2"
    shift 2
    log "$name: warm-up ($WARMUP)"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$@" "$url" >/dev/null
    log "$name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url" | tee "$TMP/$name.wrk" >&2
}

run_wrk baseline "$BASE_URL$PROFILE_PATH"
run_wrk profile "$REAL_URL$PROFILE_PATH" -H "Authorization: Bearer $TOKEN"

# --- summary -------------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
GOALS_RC=0
python3 - "$TMP/baseline.wrk" "$TMP/profile.wrk" "$RESULTS_DIR/latest.json" \
    "$DURATION" "$CONNECTIONS" "$THREADS" "$MIN_RATIO" "$MAX_P99_MS" <<'PY' || GOALS_RC=$?
import datetime, json, re, sys

base_file, prof_file, out_file, duration, connections, threads, min_ratio, max_p99 = sys.argv[1:]
min_ratio, max_p99 = float(min_ratio), float(max_p99)
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}

def parse(path):
    text = open(path, encoding="utf-8").read()
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M)
    total = re.search(r"^\s+(\d+) requests in", text, re.M)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if not rps or not p99:
        sys.exit(f"cannot parse wrk output in {path}:\n{text}")
    return {
        "rps": float(rps.group(1)),
        "p99_ms": float(p99.group(1)) * UNITS[p99.group(2)],
        "requests": int(total.group(1)) if total else None,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0,
    }

base, prof = parse(base_file), parse(prof_file)
ratio = prof["rps"] / base["rps"] if base["rps"] else 0.0
ratio_ok = ratio >= min_ratio
p99_ok = prof["p99_ms"] < max_p99

print()
print(f"wrk -t{threads} -c{connections} -d{duration} --latency   GET /heating/api/user/profile")
print(f"{'':<10}{'req/s':>12}{'p99 ms':>10}{'non-2xx':>10}{'sock err':>10}")
for name, r in (("baseline", base), ("profile", prof)):
    print(f"{name:<10}{r['rps']:>12.1f}{r['p99_ms']:>10.2f}{r['non_2xx']:>10}{r['socket_errors']:>10}")
print()
print(f"ratio profile/baseline: {ratio:.3f}   goal >= {min_ratio}: {'PASS' if ratio_ok else 'FAIL'}")
print(f"profile p99: {prof['p99_ms']:.2f} ms   goal < {max_p99:g} ms: {'PASS' if p99_ok else 'FAIL'}")
if prof["non_2xx"] or prof["socket_errors"] or base["non_2xx"] or base["socket_errors"]:
    print("warning: some requests failed (non-2xx or socket errors); the numbers are suspect")

summary = {
    "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "endpoint": "GET /heating/api/user/profile",
    "wrk": {"threads": int(threads), "connections": int(connections), "duration": duration},
    "baseline": base,
    "profile": prof,
    "ratio": round(ratio, 3),
    "goals": {
        "min_ratio": min_ratio,
        "max_p99_ms": max_p99,
        "ratio_ok": ratio_ok,
        "p99_ok": p99_ok,
    },
}
with open(out_file, "w", encoding="utf-8") as f:
    json.dump(summary, f, indent=2)
    f.write("\n")
print(f"\nwritten to {out_file}")
sys.exit(3 if not (ratio_ok and p99_ok) else 0)
PY

case "$GOALS_RC" in
    0) ;;
    3) if [[ "${STRICT:-0}" == "1" ]]; then exit 1; fi ;;
    *) exit "$GOALS_RC" ;;
esac
