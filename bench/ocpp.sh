#!/usr/bin/env bash
# OCPP 1.6J charge points behind the station's scheduler (issue 18), three figures from one run:
#
# 1. Message lag: PILES (1,000) simulated charge boxes (examples/ocpp_load.rs), one per pile,
#    connected at once, each sending MeterValues every METER_SECS (10) s while a session runs and
#    a Heartbeat every HEARTBEAT_REAL (30) s, answering RemoteStart/RemoteStop like a real box,
#    while DRIVERS drivers keep sessions starting and stopping: the time from a box writing a
#    CALL to reading its CALLRESULT, p50 / p99 / max, per action and over all.
# 2. The server's memory per connected box: VmRSS once the boxes are registered and the drivers
#    exist (the baseline), then with every box connected and booted (and its GetConfiguration
#    answered), before any session.
# 3. The scheduler's events per second (the drivers' stream events: queued, called, charging,
#    finished, cancelled, ...) and sessions per second, with the same driver load on the same
#    station first with simulated piles (the baseline, a fresh server) and then with OCPP piles.
#
# Both servers: release build, `--dev --demo` on a fresh SQLite file, a simulated clock running at
# SIM_SPEED (60: a session asking SESSION_SECS=40 real seconds of a pile's power lasts about
# that long in real time), cheap password hashing. The boxes' heartbeat interval given by the
# server is HEARTBEAT_REAL x SIM_SPEED simulated seconds (HEARTBEAT_REAL real ones).
#
#   bash bench/ocpp.sh
#   PILES=200 DURATION=20 WARMUP=10 bash bench/ocpp.sh      # a short run
#
# Env: PILES (1000), DRIVERS (PILES x 1.2), SIM_SPEED (60), SESSION_SECS (40), METER_SECS (10),
#      HEARTBEAT_REAL (30), WARMUP (20), DURATION (60), CANCEL_PCT (10), THINK_MS (2000),
#      MODES ("sim ocpp"), PORT (18110), SKIP_BUILD=1, BIN (another build of utilhall),
#      KEEP_TMP=1 (keep the servers' logs and the load's output), APPEND=1 (append the table
#      to bench/README.md).
set -euo pipefail

PILES="${PILES:-1000}"
DRIVERS="${DRIVERS:-$((PILES * 6 / 5))}"
SIM_SPEED="${SIM_SPEED:-60}"
SESSION_SECS="${SESSION_SECS:-40}"
METER_SECS="${METER_SECS:-10}"
HEARTBEAT_REAL="${HEARTBEAT_REAL:-30}"
WARMUP="${WARMUP:-20}"
DURATION="${DURATION:-60}"
CANCEL_PCT="${CANCEL_PCT:-10}"
THINK_MS="${THINK_MS:-2000}"
MODES="${MODES:-sim ocpp}"
PORT="${PORT:-18110}"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BIN="${BIN:-$ROOT/target/release/utilhall}"
LOAD="$ROOT/target/release/examples/ocpp_load"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

for tool in curl python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
    log "building utilhall and the load client (release)"
    (cd "$ROOT" && cargo build --release --quiet && cargo build --release --quiet --example ocpp_load)
fi
[[ -x "$BIN" && -x "$LOAD" ]] || die "missing release binaries (run without SKIP_BUILD)"
# One socket per box and per driver stream on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(( $(ulimit -n) > 2 * (PILES + DRIVERS) + 200 )) || die "open files limit $(ulimit -n) is too low"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/utilhall-ocpp.XXXXXX")"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    if [[ -n "${KEEP_TMP:-}" ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
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
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
# CPU time of a process in clock ticks (user + system).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Waits (at most $2 tenths of a second) until the load client prints a line starting with $1.
await_load() {
    for ((i = 0; i < $2; i++)); do
        grep -q "^$1" "$TMP/$MODE.out" 2>/dev/null && return 0
        kill -0 "$LOADPID" 2>/dev/null || { cat "$TMP/$MODE.err" >&2; tail -20 "$TMP/$MODE-server.log" >&2; die "$MODE: the load client stopped"; }
        sleep 0.1
    done
    die "$MODE: no '$1' from the load client in $(($2 / 10)) s"
}

BASE="http://127.0.0.1:$PORT"
HB_SIM=$(python3 -c "print(max(1, round($HEARTBEAT_REAL * $SIM_SPEED)))")
for MODE in $MODES; do
    log "$MODE: server: release, --dev --demo, fresh SQLite, simulated clock x$SIM_SPEED"
    # The heartbeat interval only where there are boxes (an older build has no [ocpp] section).
    OCPP_ENV=()
    [[ "$MODE" == ocpp ]] && OCPP_ENV=(UTILHALL_OCPP__HEARTBEAT_SECS="$HB_SIM")
    (
        cd "$TMP"
        RUST_LOG=warn UTILHALL_AUTH__ARGON2_MEMORY_KIB=1024 UTILHALL_AUTH__ARGON2_ITERATIONS=1 \
            UTILHALL_AUTH__ADMIN_LOGIN_IP_LIMIT=1000 \
            UTILHALL_CONNECTIONS__MAX_CONNECTIONS_PER_IP=0 \
            UTILHALL_CONNECTIONS__MAX_CONNECTIONS=$((2 * (PILES + DRIVERS) + 1000)) \
            exec env "${OCPP_ENV[@]}" "$BIN" serve --demo --dev --sim-clock 2026-01-05T02:00:00Z --sim-speed "$SIM_SPEED" \
            --database-url "sqlite://$TMP/$MODE.db" --bind "127.0.0.1:$PORT"
    ) >"$TMP/$MODE-server.log" 2>&1 &
    SERVER=$!
    PIDS+=("$SERVER")
    wait_for "$BASE/health"
    RSS_START="$(rss_kib "$SERVER")"
    BASE="$BASE" MODE="$MODE" PILES="$PILES" DRIVERS="$DRIVERS" SIM_SPEED="$SIM_SPEED" \
        SESSION_SECS="$SESSION_SECS" METER_SECS="$METER_SECS" WARMUP_SECS="$WARMUP" \
        DURATION_SECS="$DURATION" CANCEL_PCT="$CANCEL_PCT" THINK_MS="$THINK_MS" \
        "$LOAD" >"$TMP/$MODE.out" 2>"$TMP/$MODE.err" &
    LOADPID=$!
    PIDS+=("$LOADPID")
    await_load SETUP 6000
    sleep 1
    RSS_SETUP="$(rss_kib "$SERVER")"
    log "$MODE: set up ($(tail -1 "$TMP/$MODE.err")); connecting the boxes"
    await_load BOXES 6000
    sleep 1
    RSS_BOXES="$(rss_kib "$SERVER")"
    log "$MODE: $(grep -E 'boxes connected' "$TMP/$MODE.err" || echo 'no boxes'); drivers start"
    await_load MEASURING $(( (WARMUP + 60) * 10 ))
    CPU0="$(cpu_ticks "$SERVER")"
    T0="$(date +%s.%N)"
    log "$MODE: measuring $DURATION s"
    await_load MEASURED $(( (DURATION + 60) * 10 ))
    CPU1="$(cpu_ticks "$SERVER")"
    T1="$(date +%s.%N)"
    RSS_LOAD="$(rss_kib "$SERVER")"
    HWM="$(hwm_kib "$SERVER")"
    curl -s "$BASE/metrics" | grep -E '^utilhall_ocpp' >"$TMP/$MODE.metrics" || true
    wait "$LOADPID" || { cat "$TMP/$MODE.err" >&2; die "$MODE: the load client failed"; }
    grep -v '^box ' "$TMP/$MODE.err" | tail -5 >&2 || true
    CPU_PCT=$(python3 -c "print(($CPU1 - $CPU0) / $(getconf CLK_TCK) / ($T1 - $T0) * 100)")
    echo "$RSS_START $RSS_SETUP $RSS_BOXES $RSS_LOAD $HWM $CPU_PCT" >"$TMP/$MODE.rss"
    if grep -qiE 'panic|ERROR' "$TMP/$MODE-server.log"; then
        log "$MODE: the server logged errors (first ones):"
        grep -iE 'panic|ERROR' "$TMP/$MODE-server.log" | head -5 >&2
    fi
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
done

python3 - "$TMP" "$ROOT/bench/README.md" "${APPEND:-0}" $MODES <<'PY' | tee "$TMP/table.txt"
import json, sys, datetime
tmp, readme, append, modes = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4:]
runs = {}
for m in modes:
    line = [l for l in open(f"{tmp}/{m}.out") if l.startswith("SUMMARY ")][-1]
    s = json.loads(line[len("SUMMARY "):])
    rss = open(f"{tmp}/{m}.rss").read().split()
    s["rss"] = dict(zip(["start", "setup", "boxes", "load", "hwm"], map(int, rss[:5])))
    s["cpu_pct"] = float(rss[5])
    runs[m] = s
out = []
any_ = next(iter(runs.values()))
out.append(f"OCPP bench: {any_['piles']} piles, {any_['drivers']} drivers, simulated clock x{any_['sim_speed']:g}, "
           f"sessions ~{any_['session_secs']:g} s, MeterValues every {any_['meter_secs']:g} s, "
           f"{any_['warmup_secs']:g} s warm-up + {any_['measured_secs']:.0f} s measured")
if "ocpp" in runs:
    o = runs["ocpp"]
    r = o["rss"]
    n = o["connect"]["accepted"] if o["connect"] else o["piles"]
    out.append("")
    out.append("server memory (VmRSS)")
    out.append(f"  started (demo data)                      {r['start'] / 1024:8.1f} MiB")
    out.append(f"  {n} boxes registered, drivers created   {r['setup'] / 1024:8.1f} MiB  (baseline)")
    out.append(f"  {n} boxes connected and booted          {r['boxes'] / 1024:8.1f} MiB  +{(r['boxes'] - r['setup']) / max(n, 1):.1f} KiB a box"
               f"  (connected in {o['connect']['secs']:.1f} s)")
    out.append(f"  under load (end of the measured window)  {r['load'] / 1024:8.1f} MiB  peak {r['hwm'] / 1024:.1f} MiB")
    out.append("")
    a = o["lag_ms"]["all"]
    out.append(f"message lag (box CALL -> CALLRESULT), measured window, {o['ocpp_frames_per_sec']['out']:.0f} frames/s out, "
               f"{o['ocpp_frames_per_sec']['in']:.0f} in")
    out.append(f"  {'action':<24}{'count':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    out.append(f"  {'all':<24}{a['count']:>8}{a.get('p50_ms', 0):>9.2f}{a.get('p99_ms', 0):>9.2f}{a.get('max_ms', 0):>9.2f}")
    for k, v in o["lag_ms"]["per_action"].items():
        out.append(f"  {k:<24}{v['count']:>8}{v['p50_ms']:>9.2f}{v['p99_ms']:>9.2f}{v['max_ms']:>9.2f}")
    b = o["lag_ms_boot"]["per_action"].get("BootNotification")
    if b:
        out.append(f"  (boot storm: BootNotification p50 {b['p50_ms']:.2f}  p99 {b['p99_ms']:.2f}  max {b['max_ms']:.2f} ms)")
    errs = {**o["call_errors"], **{f"box: {k}": v for k, v in o["errors"].items()}, **{f"odd: {k}": v for k, v in o["odd_server_calls"].items()}}
    out.append("  errors: " + (", ".join(f"{k} {v}" for k, v in errs.items()) or "none"))
    out.append("  server calls: " + ", ".join(f"{k} {v}" for k, v in o["server_calls"].items()))
out.append("")
out.append("the scheduler: the same driver load, simulated piles (baseline) and OCPP piles")
out.append(f"  {'piles':<11}{'events/s':>9}{'sessions/s':>11}{'ratio':>7}{'server CPU':>11}{'session':>9}   events")
base = runs.get("sim", {}).get("events_per_sec")
for m, s in runs.items():
    ratio = f"{s['events_per_sec'] / base:7.3f}" if base else f"{'':>7}"
    ev = " ".join(f"{k} {v}" for k, v in s["events"].items())
    out.append(f"  {('simulated' if m == 'sim' else 'OCPP'):<11}{s['events_per_sec']:>9.1f}{s['sessions_per_sec']:>11.2f}{ratio}{s['cpu_pct']:>10.0f}%{s.get('charging_to_finished_secs_mean', 0):>8.1f}s   {ev}")
    if s["errors"] and m == "sim":
        out.append("    driver errors: " + ", ".join(f"{k} {v}" for k, v in s["errors"].items()))
out.append("  (server CPU: % of one core over the measured window; session: mean real seconds from a")
out.append("  driver's `charging` event to its `finished`)")
text = "\n".join(out)
print(text)
json.dump(runs, open(f"{tmp}/runs.json", "w"), indent=1)
if append:
    with open(readme, "a") as f:
        f.write(f"\nRun of {datetime.date.today().isoformat()} (`bash bench/ocpp.sh`):\n\n```\n{text}\n```\n")
PY
if [[ -f "$TMP/ocpp.metrics" ]]; then
    echo
    echo "server metrics after the OCPP run:"
    grep -vE '^#' "$TMP/ocpp.metrics" | sed 's/^/  /'
fi
